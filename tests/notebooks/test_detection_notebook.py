"""The detection notebook runs top to bottom in a fresh kernel."""

import os
import re

import pytest

from tests.testing import run_notebook


@pytest.mark.notebooks  # about 140 s; tests/models/ssd/test_learning.py is the learning test
def test_detection_notebook_executes(tmp_path):
    printed, outputs, elapsed = run_notebook("detection.ipynb", tmp_path, timeout=600)
    assert "63 anchors, 3 per cell" in printed
    # Each ground-truth box of the plotted image got an anchor, or lost its best
    # anchor to another box (the lecture's matching; the notebook asserts which).
    boxes = re.findall(r"box \d+ \(\w+\): (\d+) anchor.*", printed)
    assert boxes, printed
    for line in re.findall(r"box \d+ \(\w+\): \d+ anchor.*", printed):
        assert not line.startswith(" ") and (" 0 anchor" not in line or "shares its best" in line)
    assert sum(int(n) > 0 for n in boxes) >= 1
    map50 = re.search(r"mAP@0\.5 \(VOC07\): ([0-9.]+)", printed)
    assert map50, printed
    assert float(map50.group(1)) > 0.2
    assert os.path.isfile(tmp_path / "detections.png")
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 3  # data, anchors and matching, predictions
    # Timing is reported, not asserted: the machine is shared and noisy.
    print(f"detection.ipynb ran in {elapsed:.0f} s, mAP@0.5 (VOC07) {map50.group(1)}")
