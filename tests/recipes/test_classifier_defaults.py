"""The classifier recipe's defaults follow what the backbone starts from."""

import pytest

from tfvision.data import write_image_folder
from tfvision.recipes import classifier as recipe
from tfvision.recipes.classifier_options import resolve_hidden_units, resolve_learning_rates


def test_auto_learning_rate_and_head_from_random_and_pretrained_weights():
    assert resolve_learning_rates("auto", from_scratch=True) == (3e-3,)
    assert resolve_learning_rates("auto", from_scratch=False) == (1e-3,)
    assert resolve_learning_rates([0.01, "0.02"], from_scratch=True) == (0.01, 0.02)
    assert resolve_hidden_units("auto", True) == () and resolve_hidden_units("auto", False) == (512,)
    with pytest.raises(ValueError, match="learning_rates='fast'"):
        resolve_learning_rates("fast", from_scratch=True)


def test_the_recipe_trains_from_random_weights_at_the_auto_rate(tmp_path):
    data = str(tmp_path / "shapes")
    write_image_folder(data, {"train": 16, "valid": 8}, image_size=48, seed=5)
    # The rate follows the starting weights, not the backbone: the small CNN keeps
    # this whole-backbone run cheap to trace.
    model, _ = recipe.train_classifier(data, str(tmp_path / "run"), arch="small_cnn",
                                       image_size=64, weights=None, train_backbone=True,
                                       epochs=1, batch_size=8, seed=0, verbose=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
