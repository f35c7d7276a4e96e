"""Class-balance weights and the multibox loss weighted by them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.testing import run_model_saving_test, run_serialization_test
from tfvision.losses import MultiboxLoss, class_balance_weights, multibox_loss
from tfvision.models.moco import SmallCNN
from tfvision.models.ssd import SSDDetector, ssd_multihead, ssdlite_mobilenet_v2

B, N, C = 2, 30, 4
WEIGHTS = [0.5, 1.0, 3.0, 1.5]


def _batch(seed=0, num_positive=(6, 2)):
    rng = np.random.default_rng(seed)
    positive = np.zeros((B, N), bool)
    for b, k in enumerate(num_positive):
        positive[b, rng.choice(N, k, replace=False)] = True
    return dict(
        pred_deltas=rng.normal(size=(B, N, 4)).astype("float32"),
        target_deltas=rng.normal(size=(B, N, 4)).astype("float32"),
        matched_labels=np.where(positive, rng.integers(0, C, (B, N)), -1).astype("int32"),
        positive=positive,
    ), rng


def _weighted_classification(batch, logits, kind, weights, ratio=3, min_negatives=3):
    """The weighted classification loss, one image and one anchor at a time."""
    total = 0.0
    for b in range(B):
        pos, labels, x = batch["positive"][b], batch["matched_labels"][b], logits[b]
        if kind == "softmax":
            z = x - x.max(-1, keepdims=True)
            ce = np.log(np.exp(z).sum(-1)) - z[np.arange(N), np.where(pos, labels + 1, 0)]
            k = int(min(max(ratio * pos.sum(), min_negatives), (~pos).sum()))
            total += sum(weights[labels[n]] * ce[n] for n in np.flatnonzero(pos))
            total += np.sort(ce[~pos])[::-1][:k].sum()  # mined as without weights
        else:
            for n in range(N):
                t = np.eye(C)[labels[n]] if pos[n] else np.zeros(C)
                p = 1 / (1 + np.exp(-x[n].astype(np.float64)))
                bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
                if kind == "focal":
                    p_t = t * p + (1 - t) * (1 - p)
                    bce = (t * 0.25 + (1 - t) * 0.75) * (1 - p_t) ** 2 * bce
                total += (weights[labels[n]] if pos[n] else 1.0) * bce.sum()
    return total / max(batch["positive"].sum(), 1)


def test_weights_are_inverse_frequency_to_a_power_with_box_weighted_mean_one():
    counts = np.array([1000, 250, 40, 0, 1000])
    for power in (0.5, 1.0):
        weights = np.array(class_balance_weights(counts, power))
        raw = (1000 / counts[:3]) ** power
        raw = np.array([*raw, raw.max(), raw[0]])  # no boxes: the rarest class's weight
        np.testing.assert_allclose(weights, raw * counts.sum() / (counts * raw).sum())
        np.testing.assert_allclose((counts * weights).sum() / counts.sum(), 1.0)
    np.testing.assert_allclose(class_balance_weights([400, 100], 1.0), [0.625, 2.5])
    assert class_balance_weights(counts, 0.0) == [1.0] * 5
    assert class_balance_weights([0, 0], 0.5) == [1.0, 1.0]
    with pytest.raises(ValueError, match="Received: class_counts="):
        class_balance_weights([3, -1])
    with pytest.raises(ValueError, match="Received: power=-1"):
        class_balance_weights([3, 1], power=-1)


@pytest.mark.parametrize("kind", ["bce", "focal", "softmax"])
def test_weighted_loss_equals_a_per_anchor_reference(kind):
    batch, rng = _batch(1)
    logits = rng.normal(size=(B, N, C + 1 if kind == "softmax" else C)).astype("float32")
    result = multibox_loss(logits=logits, classification=kind, class_weights=WEIGHTS, **batch)
    expected = _weighted_classification(batch, logits, kind, WEIGHTS)
    np.testing.assert_allclose(float(result["classification"]), expected, rtol=1e-5)
    plain = multibox_loss(logits=logits, classification=kind, **batch)
    assert float(plain["localization"]) == float(result["localization"])
    np.testing.assert_allclose(float(plain["classification"]),
                               _weighted_classification(batch, logits, kind, [1.0] * C),
                               rtol=1e-5)


@pytest.mark.parametrize("kind", ["bce", "focal", "softmax"])
def test_no_weights_or_unit_weights_give_the_unweighted_loss_bit_for_bit(kind):
    batch, rng = _batch(2)
    logits = rng.normal(size=(B, N, C + 1 if kind == "softmax" else C)).astype("float32")
    targets = {"deltas": batch["target_deltas"], "labels": batch["matched_labels"],
               "positive": batch["positive"]}
    predictions = {"boxes": batch["pred_deltas"], "classes": logits}
    old = MultiboxLoss(kind)(targets, predictions)
    for loss in (MultiboxLoss(kind, class_weights=None), MultiboxLoss(kind, class_weights=[1] * C)):
        new = loss(targets, predictions)
        assert all(np.array_equal(new[key], old[key]) for key in old)


def test_weighted_loss_compiles_under_xla_with_the_same_value():
    batch, rng = _batch(3)
    logits = rng.normal(size=(B, N, C + 1)).astype("float32")
    loss = MultiboxLoss("softmax", class_weights=WEIGHTS)
    targets = {"deltas": batch["target_deltas"], "labels": batch["matched_labels"],
               "positive": batch["positive"]}

    def value(x):
        return loss(targets, {"boxes": batch["pred_deltas"], "classes": x})["loss"]

    compiled = tf.function(value, jit_compile=True)(logits)
    np.testing.assert_allclose(float(compiled), float(value(logits)), rtol=1e-5)


def test_loss_config_round_trips_and_bad_weights_are_refused():
    revived = run_serialization_test(MultiboxLoss("focal", class_weights=WEIGHTS))
    assert revived.class_weights == WEIGHTS
    assert MultiboxLoss.from_config({"classification": "bce"}).class_weights is None  # old configs
    for bad in ([], [1.0, -0.5], [float("nan")]):
        with pytest.raises(ValueError, match="Received: class_weights="):
            MultiboxLoss(class_weights=bad)


def _small_detector(**kwargs):
    # A two-stage CNN keeps saving and XLA compilation quick; the loss is the preset's.
    backbone = SmallCNN((64, 64, 3), filters=(8, 16))
    return SSDDetector(["a", "b", "c"], backbone, feature_names=["final"],
                       anchor_scales=[(0.3, 0.6)], classification="softmax", **kwargs)


def test_detector_with_class_weights_saves_loads_and_trains_under_xla(tmp_path):
    model = _small_detector(class_weights=[1.0, 2.0, 0.5])
    assert model.class_weights == model.detection_loss.class_weights == [1.0, 2.0, 0.5]
    revived = run_serialization_test(model)
    assert revived.detection_loss.class_weights == [1.0, 2.0, 0.5]
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    targets = {"boxes": np.array([[[0.1, 0.1, 0.6, 0.5], [0, 0, 0, 0]],
                                  [[0.2, 0.3, 0.9, 0.8], [0.5, 0.1, 0.9, 0.4]]], "float32"),
               "labels": np.array([[1, -1], [0, 1]], "int32")}
    loaded = run_model_saving_test(model, images, str(tmp_path / "weighted.keras"))
    assert loaded.detection_loss.class_weights == [1.0, 2.0, 0.5]
    expected = float(model.compute_loss(images, targets, model(images)))
    np.testing.assert_allclose(float(loaded.compute_loss(images, targets, loaded(images))),
                               expected, rtol=1e-6)
    unweighted = _small_detector()
    unweighted.set_weights(model.get_weights())
    assert float(unweighted.compute_loss(images, targets, unweighted(images))) != expected
    model.compile(optimizer=keras.optimizers.SGD(0.01), jit_compile=True)
    logs = model.train_on_batch(images, targets, return_dict=True)
    assert np.isfinite(logs["loss"])


def test_presets_pass_class_weights_through_and_the_count_must_match():
    lite = ssdlite_mobilenet_v2(["a", "b"], alpha=0.35, image_size=32, backbone_weights=None,
                                extra_channels=(8, 8, 8, 8), class_weights=[2.0, 0.5])
    assert lite.detection_loss.class_weights == [2.0, 0.5]
    assert lite.get_config()["class_weights"] == [2.0, 0.5]
    multihead = ssd_multihead(["a", "b"], alpha=0.35, image_size=128, backbone_weights=None,
                              filters=8, class_weights=[2.0, 0.5])
    assert multihead.detection_loss.class_weights == [2.0, 0.5]
    assert multihead.detection_loss.classification == "bce"  # the preset's loss, weighted
    with pytest.raises(ValueError, match="one weight per class"):
        SSDDetector(["a", "b"], multihead.backbone, class_weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="not both"):
        SSDDetector(["a", "b"], multihead.backbone, loss=MultiboxLoss(), class_weights=[1, 2])
