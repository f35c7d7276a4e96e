"""Running `tfvision` commands as real processes, for the reliability tests."""

import csv
import json
import os
import subprocess
import sys


def tfvision(*args):
    """Starts `tfvision ARGS` in a new process; its output (stdout and stderr) is piped."""
    command = [sys.executable, "-m", "tfvision.cli.main", *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(process, timeout=600):
    """Waits for `process`, asserts it succeeded, and returns its output."""
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def history_epochs(save_dir):
    """The epoch column of `save_dir/history.csv`, row by row."""
    with open(os.path.join(save_dir, "history.csv")) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def run_script(code, *args, timeout=900):
    """Runs Python `code` in a new process and returns the JSON its last line printed.

    For the multi-device tests: logical devices must be set before TensorFlow
    starts, which this pytest process already did.
    """
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
