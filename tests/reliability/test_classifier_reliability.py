"""The classifier command survives `kill -9`, repeats itself exactly, and refuses code in a model file.

Every run here is a real `tfvision` process on a generated image folder.
"""

import csv
import os
import signal
import time

import keras
import numpy as np
import pytest

from tests.reliability.commands import history_epochs, tfvision
from tfvision.data import write_image_folder
from tfvision.training import load_checkpoint, read_checkpoint_state
from tfvision.training.backup import read_backup_epoch

TRAIN = [
    "classifier", "train", None, "--save-dir", None, "--alpha", "0.35", "--weights", "shapes",
    "--image-size", "48", "--hidden-units", "8", "--batch-size", "8", "--seed", "0",
    "--patience", "10",
]

def train_args(data, save_dir, *extra):
    args = list(TRAIN)
    args[2], args[4] = data, save_dir
    return args + list(extra)

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("reliability") / "shapes")
    write_image_folder(root, {"train": 96, "valid": 16}, image_size=48, seed=11)
    return root


def test_kill_9_during_an_epoch_then_the_same_command_resumes(data, tmp_path):
    save_dir = str(tmp_path / "run")
    last = os.path.join(save_dir, "last.keras")
    process = tfvision(*train_args(data, save_dir, "--epochs", "6"))
    kill_after_epoch(process, last, 2)
    killed_at = read_checkpoint_state(last)["epoch"]  # epochs fully written before the kill
    assert 2 <= killed_at < 6

    rerun = tfvision(*train_args(data, save_dir, "--epochs", "6"))
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output[-3000:]
    epochs = history_epochs(save_dir)
    # The CSV log may hold the epoch the kill cut short only if it was written:
    # no epoch is lost, and none after the resume point is repeated.
    assert sorted(set(epochs)) == list(range(6))
    assert epochs[-(6 - killed_at):] == list(range(killed_at, 6))
    assert read_checkpoint_state(last)["epoch"] == 6
    model, _ = load_checkpoint(last)  # the checkpoint the kill may have cut is whole
    assert model.class_names == sorted(os.listdir(os.path.join(data, "train")))


def kill_after_epoch(process, last, epoch, backup_dir=None):
    """SIGKILLs `process` once `last` (or the backup in `backup_dir`) records `epoch` epochs."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if backup_dir is not None:
            if read_backup_epoch(backup_dir) >= epoch:
                break
        elif os.path.isfile(last) and read_checkpoint_state(last)["epoch"] >= epoch:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_deterministic_runs_and_a_killed_and_resumed_run_end_with_identical_weights(
    data, tmp_path
):
    # Two phases (frozen head, then fine-tuning), dropout and augmentation:
    # everything random a resumed run must pick up where the killed one was.
    extra = ["--epochs", "3", "--fine-tune-layers", "2", "--fine-tune-epochs", "1",
             "--dropout", "0.3", "--deterministic"]
    runs = [str(tmp_path / f"run{i}") for i in range(2)]
    process = tfvision(*train_args(data, runs[0], *extra))
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]

    killed = tfvision(*train_args(data, runs[1], *extra))
    # Killed inside the first phase: it resumes from the backup, mid-phase.
    kill_after_epoch(killed, None, 1, backup_dir=os.path.join(runs[1], "backup"))
    resumed = tfvision(*train_args(data, runs[1], *extra))
    output, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, output[-3000:]

    first, second = (load_checkpoint(os.path.join(r, "last.keras"))[0] for r in runs)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    with open(os.path.join(runs[0], "history.csv")) as one, open(
        os.path.join(runs[1], "history.csv")
    ) as two:
        assert list(csv.DictReader(one)) == list(csv.DictReader(two))


def test_deterministic_without_a_seed_is_refused(data, tmp_path):
    args = train_args(data, str(tmp_path / "run"), "--epochs", "1", "--deterministic")
    seed = args.index("--seed")
    del args[seed : seed + 2]
    process = tfvision(*args)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 2
    assert "Deterministic ops need a seed" in output


def test_a_model_file_with_a_lambda_layer_is_refused(tmp_path):
    inputs = keras.Input((2,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    path = str(tmp_path / "lambda.keras")
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ValueError, match="(?i)lambda"):
        load_checkpoint(path)
    model, _ = load_checkpoint(path, allow_unsafe_code=True)  # the user's explicit opt-in
    np.testing.assert_allclose(model.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])
