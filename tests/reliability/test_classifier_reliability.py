"""The classifier command survives `kill -9`, repeats itself exactly, and refuses code in a model file.

Every training run here is a real `tfvision` process on a generated image folder.
The backbone is the small CNN (`small_cnn`), frozen and loaded from a weights
file as a pretrained MobileNetV2 is (`--weights shapes`): killing, resuming and
repeating a run do not depend on the backbone, and MobileNetV2's tracing and
checkpoint writing took most of these tests' time.
"""

import csv
import os
import signal
import time

import keras
import numpy as np
import pytest

from tests.reliability.commands import finish, history_epochs, tfvision
from tfvision.cli.main import main
from tfvision.data import write_image_folder
from tfvision.models.moco import SmallCNN
from tfvision.training import load_checkpoint, read_checkpoint_state

TRAIN = [
    "classifier", "train", None, "--save-dir", None, "--arch", "small_cnn", "--weights", None,
    "--image-size", "48", "--hidden-units", "8", "--batch-size", "8", "--seed", "0",
    "--patience", "10",
]


def train_args(data, save_dir, *extra):
    args = list(TRAIN)
    args[2], args[4], args[8] = data, save_dir, os.path.join(os.path.dirname(data),
                                                             "small_cnn.weights.h5")
    return args + list(extra)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The image folder, and beside it the backbone's weights file (`--weights`)."""
    root = str(tmp_path_factory.mktemp("reliability") / "shapes")
    write_image_folder(root, {"train": 64, "valid": 16}, image_size=48, seed=11)
    keras.utils.set_random_seed(1)
    SmallCNN((48, 48, 3)).save_weights(os.path.join(os.path.dirname(root),
                                                    "small_cnn.weights.h5"))
    return root


# Two phases (frozen head, then fine-tuning), dropout and augmentation: everything
# random a resumed run must pick up where the killed one was.
DETERMINISTIC = ["--epochs", "3", "--fine-tune-layers", "2", "--fine-tune-epochs", "1",
                 "--dropout", "0.3", "--deterministic"]
EPOCHS = 4  # of both phases


def kill_after_epoch(process, last, epoch):
    """SIGKILLs `process` once `last` records `epoch` epochs."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if os.path.isfile(last) and read_checkpoint_state(last)["epoch"] >= epoch:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """`(uninterrupted, resumed, killed_at)`: the save dirs of two runs of one command.

    The first runs to the end; the second is killed with SIGKILL during an epoch
    of the first phase (after `killed_at` epochs were written) and started again.
    Both tests below read these runs.
    """
    root = tmp_path_factory.mktemp("runs")
    uninterrupted, resumed = str(root / "uninterrupted"), str(root / "resumed")
    finish(tfvision(*train_args(data, uninterrupted, *DETERMINISTIC)))

    last = os.path.join(resumed, "last.keras")
    killed = tfvision(*train_args(data, resumed, *DETERMINISTIC))
    # last.keras is written after the backup: the backup holds an epoch too, so the
    # resumed run goes on from the backup, mid-phase.
    kill_after_epoch(killed, last, 1)
    killed_at = read_checkpoint_state(last)["epoch"]  # epochs fully written before the kill
    finish(tfvision(*train_args(data, resumed, *DETERMINISTIC)))
    return uninterrupted, resumed, killed_at


def test_kill_9_during_an_epoch_then_the_same_command_resumes(data, runs):
    _, save_dir, killed_at = runs
    last = os.path.join(save_dir, "last.keras")
    assert 1 <= killed_at < EPOCHS
    epochs = history_epochs(save_dir)
    # The CSV log may hold the epoch the kill cut short only if it was written:
    # no epoch is lost, and none after the resume point is repeated.
    assert sorted(set(epochs)) == list(range(EPOCHS))
    assert epochs[-(EPOCHS - killed_at):] == list(range(killed_at, EPOCHS))
    assert read_checkpoint_state(last)["epoch"] == EPOCHS
    model, _ = load_checkpoint(last)  # the checkpoint the kill may have cut is whole
    assert model.class_names == sorted(os.listdir(os.path.join(data, "train")))


def test_deterministic_runs_and_a_killed_and_resumed_run_end_with_identical_weights(runs):
    first, second = (load_checkpoint(os.path.join(r, "last.keras"))[0].get_weights()
                     for r in runs[:2])
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    with open(os.path.join(runs[0], "history.csv")) as one, open(
        os.path.join(runs[1], "history.csv")
    ) as two:
        assert list(csv.DictReader(one)) == list(csv.DictReader(two))


def test_deterministic_without_a_seed_is_refused(data, tmp_path, capsys):
    args = train_args(data, str(tmp_path / "run"), "--epochs", "1", "--deterministic")
    seed = args.index("--seed")
    del args[seed : seed + 2]
    # The command's `main` in this process (`python -m tfvision.cli.main` exits with
    # what it returns): it refuses before anything runs, so no process start-up is needed.
    assert main(args) == 2
    assert "Deterministic ops need a seed" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "run")


def test_a_model_file_with_a_lambda_layer_is_refused(tmp_path):
    inputs = keras.Input((2,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    path = str(tmp_path / "lambda.keras")
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ValueError, match="(?i)lambda"):
        load_checkpoint(path)
    model, _ = load_checkpoint(path, allow_unsafe_code=True)  # the user's explicit opt-in
    np.testing.assert_allclose(model.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])
