"""The MoCo notebook runs top to bottom in a fresh kernel."""

import os
import re

import pytest

from tests.testing import run_notebook


@pytest.mark.notebooks  # about 80 s; the MoCo steps are tested in tests/models/moco
def test_moco_notebook_executes(tmp_path):
    printed, outputs, elapsed = run_notebook("moco.ipynb", tmp_path, timeout=300)
    assert "backbone weights transferred: True" in printed
    assert len(re.findall(r"probe accuracy [0-9.]+", printed)) == 3
    assert "kNN accuracy" in printed and "test accuracy" in printed
    assert "curves: " in printed and "knn_accuracy" in printed
    assert os.path.isfile(tmp_path / "moco_curves.png")
    # Timing is reported, not asserted: the machine is shared and noisy.
    print(f"moco.ipynb ran in {elapsed:.0f} s")
