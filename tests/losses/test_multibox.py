"""The vectorised multibox loss equals a per-image reference loop."""

import numpy as np
import pytest
import tensorflow as tf

from tests.testing import run_serialization_test
from tfvision.losses import MultiboxLoss, multibox_loss, replica_sum, sigmoid_focal_loss

B, N, C = 3, 40, 5


def _batch(seed, num_positive=(4, 0, 9)):
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


def _bce(t, x):
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


def _reference(batch, logits, localization, classification, alpha=0.25, gamma=2.0, ratio=3,
               min_negatives=3):
    """SSD's loss written the obvious way: one image at a time."""
    box_total = cls_total = positives = 0.0
    for b in range(B):
        pos = batch["positive"][b]
        labels = batch["matched_labels"][b]
        positives += pos.sum()
        d = np.abs(batch["pred_deltas"][b][pos] - batch["target_deltas"][b][pos])
        box_total += (np.where(d < 1, 0.5 * d * d, d - 0.5) if localization == "smooth_l1" else d).sum()
        if classification == "softmax":
            x = logits[b]
            log_z = np.log(np.exp(x).sum(-1))
            target = np.where(pos, labels + 1, 0)
            ce = log_z - x[np.arange(N), target]
            negatives = np.sort(ce[~pos])[::-1]
            k = int(min(max(ratio * pos.sum(), min_negatives), (~pos).sum()))
            cls_total += ce[pos].sum() + negatives[:k].sum()
        else:
            t = np.zeros((N, C))
            t[np.where(pos)[0], labels[pos]] = 1
            x = logits[b]
            if classification == "bce":
                cls_total += _bce(t, x).sum()
            else:
                p = 1 / (1 + np.exp(-x))
                p_t = t * p + (1 - t) * (1 - p)
                a_t = t * alpha + (1 - t) * (1 - alpha)
                cls_total += (a_t * (1 - p_t) ** gamma * _bce(t, x)).sum()
    return (box_total + cls_total) / max(positives, 1.0)


@pytest.mark.parametrize("localization", ["smooth_l1", "l1"])
@pytest.mark.parametrize("classification", ["bce", "focal", "softmax"])
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_per_image_reference(localization, classification, seed):
    batch, rng = _batch(seed)
    logits = rng.normal(size=(B, N, C + 1 if classification == "softmax" else C)).astype("float32")
    result = multibox_loss(logits=logits, localization=localization,
                           classification=classification, **batch)
    expected = _reference(batch, logits, localization, classification)
    np.testing.assert_allclose(float(result["loss"]), expected, rtol=1e-5)
    assert float(result["num_positives"]) == 13


def test_hard_negative_mining_keeps_three_negatives_per_positive():
    batch, rng = _batch(2, num_positive=(2, 1, 0))
    logits = rng.normal(size=(B, N, C + 1)).astype("float32")
    with_mining = multibox_loss(logits=logits, classification="softmax", **batch)
    no_mining = multibox_loss(logits=logits, classification="softmax", negative_ratio=0, **batch)
    everything = multibox_loss(logits=logits, classification="softmax", negative_ratio=N, **batch)
    assert float(no_mining["classification"]) < float(with_mining["classification"]) < float(
        everything["classification"])


def test_an_image_without_positives_keeps_its_hardest_negatives_with_softmax():
    # Without a floor on the mined negatives, such an image gave no loss at all.
    batch, rng = _batch(6, num_positive=(0, 0, 0))
    logits = rng.normal(size=(B, N, C + 1)).astype("float32")
    ce = -np.log(_softmax(logits)[..., 0])  # every anchor's loss as background
    hardest = np.sort(ce, axis=-1)[:, ::-1]
    for floor in (3, 7):
        result = multibox_loss(logits=logits, classification="softmax", min_negatives=floor,
                               **batch)
        np.testing.assert_allclose(float(result["classification"]), hardest[:, :floor].sum(),
                                   rtol=1e-5)
    none = multibox_loss(logits=logits, classification="softmax", min_negatives=0, **batch)
    assert float(none["loss"]) == 0.0
    # Where positives ask for more, the ratio rules; the floor only adds to small counts.
    batch, rng = _batch(6, num_positive=(5, 1, 0))
    logits = rng.normal(size=(B, N, C + 1)).astype("float32")
    for floor in (0, 3, 20):
        result = multibox_loss(logits=logits, classification="softmax", min_negatives=floor,
                               **batch)
        expected = _reference(batch, logits, "smooth_l1", "softmax", min_negatives=floor)
        np.testing.assert_allclose(float(result["loss"]), expected, rtol=1e-5)


def test_batch_without_positives_is_finite_and_trains_background():
    batch, rng = _batch(3, num_positive=(0, 0, 0))
    logits = tf.Variable(rng.normal(size=(B, N, C)).astype("float32"))
    with tf.GradientTape() as tape:
        result = multibox_loss(logits=logits, **batch)
    gradient = tape.gradient(result["loss"], logits)
    assert np.isfinite(float(result["loss"])) and float(result["localization"]) == 0.0
    assert np.all(np.isfinite(gradient.numpy())) and np.any(gradient.numpy() != 0)


def test_compiles_under_xla_with_the_same_value():
    batch, rng = _batch(4)
    logits = rng.normal(size=(B, N, C + 1)).astype("float32")
    eager = multibox_loss(logits=logits, classification="softmax", **batch)["loss"]
    compiled = tf.function(
        lambda lg: multibox_loss(logits=lg, classification="softmax", **batch)["loss"],
        jit_compile=True,
    )(logits)
    np.testing.assert_allclose(float(compiled), float(eager), rtol=1e-5)


@pytest.mark.parametrize("classification", ["focal", "softmax"])
def test_slices_divided_by_the_global_positives_sum_to_the_batch_loss(classification):
    # What each replica of a distribution strategy computes on its slice.
    batch, rng = _batch(5)
    logits = rng.normal(size=(B, N, C + 1 if classification == "softmax" else C)).astype("float32")
    whole = multibox_loss(logits=logits, classification=classification, **batch)
    total = replica_sum(whole["num_positives"])  # one replica: the count itself
    parts = [
        multibox_loss(logits=logits[rows], classification=classification, total_positives=total,
                      **{key: value[rows] for key, value in batch.items()})
        for rows in (slice(0, 1), slice(1, B))
    ]
    for key in ("loss", "localization", "classification"):
        np.testing.assert_allclose(sum(float(p[key]) for p in parts), float(whole[key]),
                                   rtol=1e-5)
    # Divided by their own positives instead, the slices do not add up.
    own = [multibox_loss(logits=logits[rows], classification=classification,
                         **{key: value[rows] for key, value in batch.items()})
           for rows in (slice(0, 1), slice(1, B))]
    assert abs(sum(float(p["loss"]) for p in own) - float(whole["loss"])) > 1e-2


def test_focal_loss_reduces_to_half_bce_and_argument_errors():
    rng = np.random.default_rng(5)
    t = (rng.random((10, 3)) > 0.5).astype("float32")
    x = rng.normal(size=(10, 3)).astype("float32")
    np.testing.assert_allclose(sigmoid_focal_loss(t, x, alpha=0.5, gamma=0.0), 0.5 * _bce(t, x), rtol=1e-5)
    batch, _ = _batch(6)
    with pytest.raises(ValueError, match="Received: kind='l2'"):
        multibox_loss(logits=x, localization="l2", **batch)
    with pytest.raises(ValueError, match="Received: kind='hinge'"):
        multibox_loss(logits=np.zeros((B, N, C)), classification="hinge", **batch)


def _targets_and_predictions(batch, logits):
    targets = {"deltas": batch["target_deltas"], "labels": batch["matched_labels"],
               "positive": batch["positive"]}
    return targets, {"boxes": batch["pred_deltas"], "classes": logits}


@pytest.mark.parametrize("classification", ["bce", "focal", "softmax"])
def test_multibox_loss_object_equals_the_reference_and_reads_its_logits(classification):
    batch, rng = _batch(7)
    logits = rng.normal(size=(B, N, C + 1 if classification == "softmax" else C)).astype("float32")
    loss = MultiboxLoss(classification, "l1", focal_alpha=0.4, focal_gamma=1.5, negative_ratio=2)
    targets, predictions = _targets_and_predictions(batch, logits)
    result = loss(targets, predictions)
    expected = _reference(batch, logits, "l1", classification, alpha=0.4, gamma=1.5, ratio=2)
    np.testing.assert_allclose(float(result["loss"]), expected, rtol=1e-5)
    # Over the global batch's positives, as a replica computes it.
    halved = loss(targets, predictions, total_positives=2.0 * float(result["num_positives"]))
    np.testing.assert_allclose(float(halved["loss"]), expected / 2, rtol=1e-5)
    assert loss.num_outputs(C) == logits.shape[-1]
    scores = np.asarray(loss.class_scores(logits))
    assert scores.shape == (B, N, C)
    if classification == "softmax":  # the background column's probability is dropped
        np.testing.assert_allclose(scores.sum(-1), 1 - _softmax(logits)[..., 0], rtol=1e-5)
    else:
        np.testing.assert_allclose(scores, 1 / (1 + np.exp(-logits)), rtol=1e-5)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_multibox_loss_object_config_and_bad_arguments():
    revived = run_serialization_test(
        MultiboxLoss("softmax", "l1", negative_ratio=5, min_negatives=2))
    assert (revived.classification, revived.localization, revived.negative_ratio,
            revived.min_negatives) == ("softmax", "l1", 5, 2)
    default = MultiboxLoss()
    assert (default.classification, default.localization) == ("focal", "smooth_l1")
    with pytest.raises(ValueError, match="Received: classification='hinge'"):
        MultiboxLoss("hinge")
    with pytest.raises(ValueError, match="Received: localization='l2'"):
        MultiboxLoss(localization="l2")
    with pytest.raises(ValueError, match="Received: min_negatives=-1"):
        MultiboxLoss("softmax", min_negatives=-1)
