"""`RunOptions`: the seven run options of every recipe and training command."""

import dataclasses
import inspect

import pytest

from tfvision.cli.main import build_parser
from tfvision.cli.options import run_options
from tfvision.recipes.classifier import train_classifier
from tfvision.recipes.cotraining.recipe import train_cotraining
from tfvision.recipes.detector import train_detector
from tfvision.recipes.moco.recipe import pretrain_moco
from tfvision.training import RunOptions

FIELDS = [field.name for field in dataclasses.fields(RunOptions)]


@pytest.mark.parametrize("recipe", [train_classifier, train_detector, pretrain_moco,
                                    train_cotraining])
def test_every_recipe_takes_the_run_options_with_their_defaults(recipe):
    parameters = inspect.signature(recipe).parameters
    assert set(FIELDS) <= set(parameters)
    defaults = RunOptions()
    for name in FIELDS:
        if getattr(defaults, name) is not None:  # None: the recipe keeps its own default
            assert parameters[name].default == getattr(defaults, name), name


def test_keywords_leave_out_what_is_left_to_the_recipe():
    assert RunOptions().keywords() == {"mixed_precision": "off", "require_gpu": False,
                                       "deterministic": False, "strategy": "none",
                                       "resume": True}
    assert RunOptions(seed=0, verbose=0).keywords()["seed"] == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunOptions().seed = 1


@pytest.mark.parametrize("command", [["classifier", "train", "data"],
                                     ["detector", "train"],
                                     ["moco", "pretrain", "shapes"],
                                     ["cotrain", "shapes"]])
def test_every_training_command_gives_the_same_run_options(command):
    args = build_parser().parse_args([*command, "--save-dir", "run"])
    assert run_options(args) == RunOptions()
    args = build_parser().parse_args([
        *command, "--save-dir", "run", "--seed", "3", "--mixed-precision", "bfloat16",
        "--deterministic", "--gpu", "--strategy", "mirrored", "--no-resume",
    ])
    assert run_options(args) == RunOptions(seed=3, mixed_precision="bfloat16", require_gpu=True,
                                           deterministic=True, strategy="mirrored",
                                           resume=False)
