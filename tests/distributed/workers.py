"""Runs one script as two `MultiWorkerMirroredStrategy` workers on loopback.

Two processes form a cluster through `TF_CONFIG` (worker 0 and worker 1,
free ports), as two machines would. Each runs the same script, which prints
a JSON dict on its last line of output.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest


def free_port():
    with socket.socket() as server:
        server.bind(("localhost", 0))
        return server.getsockname()[1]


def run_workers(script, args, out, timeout=900):
    """Starts two workers of one cluster running `script` and returns what each printed last.

    A worker that fails stops the other (which would wait for it forever).

    Args:
        script: str, Python source run with `python -c script *args`.
        args: list of str, the script's command-line arguments.
        out: str, a folder for the workers' stdout and stderr.
        timeout: float, seconds. Defaults to `900`.

    Returns:
        list of two dicts, the JSON last line of each worker's stdout.
    """
    cluster = {"worker": [f"localhost:{free_port()}", f"localhost:{free_port()}"]}
    workers, logs = [], []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env = {**os.environ, "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "3",
               "CUDA_VISIBLE_DEVICES": ""}
        stdout = open(os.path.join(out, f"worker_{index}.out"), "w+")
        stderr = open(os.path.join(out, f"worker_{index}.err"), "w+")
        logs.append((stdout, stderr))
        workers.append(subprocess.Popen([sys.executable, "-c", script, *args], env=env,
                                        text=True, stdout=stdout, stderr=stderr))
    try:
        deadline = time.monotonic() + timeout
        while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
            if any(w.poll() not in (None, 0) for w in workers):
                break
            time.sleep(0.5)
        # The failed worker first (its peer is then stuck), else one still running.
        codes = [w.poll() for w in workers]
        for index in sorted(range(2), key=lambda i: codes[i] in (None, 0)):
            if codes[index] != 0:
                stderr = logs[index][1]
                stderr.seek(0)
                state = "timed out" if codes[index] is None else f"exited with {codes[index]}"
                pytest.fail(f"worker {index} {state}:\n{stderr.read()[-3000:]}")
        results = []
        for stdout, _ in logs:
            stdout.seek(0)
            results.append(json.loads(stdout.read().strip().splitlines()[-1]))
        return results
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        for files in logs:
            for file in files:
                file.close()


def load_weights(path):
    """The arrays of an `np.savez(path, *weights)` file, in order."""
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def max_difference(a, b):
    """The largest absolute difference between two lists of arrays of the same shapes."""
    assert len(a) == len(b)
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))
