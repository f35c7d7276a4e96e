import numpy as np

from tfvision.ops import BACKGROUND, decode_ssd, match_anchors
from tfvision.ops.targets import assign_targets


def test_targets_decode_back_to_the_matched_ground_truth():
    rng = np.random.default_rng(0)
    centers = rng.uniform(0.2, 0.8, (30, 2))
    sizes = rng.uniform(0.1, 0.3, (30, 2))
    anchors = np.concatenate([centers - sizes / 2, centers + sizes / 2], -1).astype("float32")
    gt = np.array([[[0.1, 0.1, 0.4, 0.5], [0.5, 0.4, 0.9, 0.8], [0, 0, 0, 0]]], "float32")
    labels = np.array([[2, 0, -1]], "int32")

    targets = assign_targets(anchors, gt, labels)
    match = match_anchors(anchors, gt, labels)
    positive = np.asarray(targets["positive"])
    np.testing.assert_array_equal(positive, np.asarray(match["positive"]))
    assert positive.sum() >= 2
    decoded = np.asarray(decode_ssd(targets["deltas"], anchors))
    np.testing.assert_allclose(decoded[positive], np.asarray(match["matched_boxes"])[positive], atol=1e-5)
    assert np.all(np.asarray(targets["deltas"])[~positive] == 0)
    assert set(np.asarray(targets["labels"])[~positive]) <= {BACKGROUND}
    assert set(np.asarray(targets["labels"])[positive]) <= {0, 2}
