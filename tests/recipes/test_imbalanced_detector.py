"""The detector recipe with `balance_classes=True` learns the rare class of `shapes-imbalanced`.

`shapes-imbalanced` has rings at 5 % of the boxes. The settings are `make demo`'s
(SSDLite-MobileNetV2, alpha 0.35, 128 px, the built-in `shapes` backbone, learning
rate 0.01, batch 32, no augmentation, seed 0) with a shorter fine-tuning. Measured
on 2 CPU cores (EPOCHS_FINE_TUNE below): ring AP50 RING_AP50 on 1000 test images,
every other class at least OTHERS_AP50, in about RUNTIME.
"""

import json

import pytest

from tfvision.data.detection.sources import IMBALANCED_SHAPES_RARE_CLASS
from tfvision.recipes.detector import evaluate_detector, train_detector


@pytest.mark.slow
def test_balanced_classes_detect_the_rare_class(tmp_path):
    model, _ = train_detector(
        "shapes-imbalanced", str(tmp_path / "run"), image_size=128, alpha=0.35,
        backbone_weights="shapes", epochs=3, fine_tune_epochs=5, learning_rate=0.01,
        batch_size=32, augment=False, balance_classes=True, monitor="loss", eval_every=0,
        seed=0, deterministic=True, verbose=0,
    )
    weights = model.detection_loss.class_weights
    rare = model.class_names.index(IMBALANCED_SHAPES_RARE_CLASS)
    # About 4x fewer boxes: sqrt(4) = 2x the weight of the others, the mean weight per box 1.
    assert max(weights) == weights[rare] > 1.8 * max(w for i, w in enumerate(weights) if i != rare)
    evaluate_detector("shapes-imbalanced", None, split="test", batch_size=50, num_images=1000,
                      model=model, report_dir=str(tmp_path / "test"))
    with open(tmp_path / "test" / "metrics.json", encoding="utf-8") as handle:
        per_class = json.load(handle)["per_class"]
    ap50 = {name: per_class[name]["AP50"] for name in model.class_names}
    assert per_class[IMBALANCED_SHAPES_RARE_CLASS]["ground_truth"] > 80, per_class
    assert ap50[IMBALANCED_SHAPES_RARE_CLASS] >= 0.5, ap50
    assert min(ap50.values()) >= 0.4, ap50
