"""The docs site's build hooks: the API reference's pages, the gallery, doctest fences."""

import base64
import importlib.util
import logging
import os

import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "docs", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytest.importorskip("mkdocs", reason="the docs extra is not installed (make test installs it)")
hooks = _load("hooks")
griffe_doctest = _load("griffe_doctest")


def test_api_pages_hold_every_public_module():
    page = hooks.api_page("layers")
    expected = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "tfvision", "layers"))
                      if name.endswith(".py") and not name.startswith("_"))
    documented = [line.split("::: tfvision.layers.")[1] for line in page.splitlines()
                  if line.startswith("::: tfvision.layers.")]
    assert documented == expected
    models = hooks.api_page("models")
    assert "::: tfvision.models.ssd.ssd_detector" in models
    # Subpackages are documented; a data folder without __init__.py is not a module.
    assert "::: tfvision.models.mobilenet_v2\n    options:\n      members: false" in models
    assert "tfvision.models.mobilenet_v2.weights" not in models
    assert set(hooks.API_PACKAGES) == {
        name for name in os.listdir(os.path.join(ROOT, "tfvision"))
        if os.path.isfile(os.path.join(ROOT, "tfvision", name, "__init__.py")) and name != "cli"}


def test_doctest_examples_are_fenced():
    text = ("Adds one.\n\nExample:\n>>> add_one(1)\n2\n>>> [add_one(i) for i in (1, 2)]\n[2, 3]\n"
            "\nMore prose.\n    >>> indented(\n    ...     1)\n    1")
    fenced = griffe_doctest.fence_doctests(text).splitlines()
    assert fenced == ["Adds one.", "", "Example:", "```pycon", ">>> add_one(1)", "2",
                      ">>> [add_one(i) for i in (1, 2)]", "[2, 3]", "```", "", "More prose.",
                      "    ```pycon", "    >>> indented(", "    ...     1)", "    1", "    ```"]
    assert griffe_doctest.fence_doctests("No example.") == "No example."


def _notebook(path, pngs):
    cells = [nbformat.v4.new_markdown_cell("# Title\n\n## Plots")]
    for png in pngs:
        cell = nbformat.v4.new_code_cell("plot()")
        cell.outputs = [nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(png).decode()})]
        cells.append(cell)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def test_gallery_warns_when_a_picture_is_missing_or_stale(tmp_path, monkeypatch, caplog):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "docs" / "images" / "notebooks").mkdir(parents=True)
    for name in hooks.NOTEBOOKS:
        _notebook(tmp_path / "notebooks" / f"{name}.ipynb", [b"png-0-" + name.encode()])
    assert hooks.notebook_pictures(tmp_path / "notebooks" / "moco.ipynb") == [
        ("Plots", b"png-0-moco")]
    monkeypatch.setattr(hooks, "ROOT", str(tmp_path))
    hooks.write_notebook_pictures()
    assert (tmp_path / "docs" / "images" / "notebooks" / "moco_0.png").read_bytes() == b"png-0-moco"
    config = {"docs_dir": str(tmp_path / "docs")}
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.tfvision"):
        page = hooks.gallery(config)
    notebook_warnings = [r for r in caplog.records if "notebooks/" in r.getMessage()]
    assert not notebook_warnings
    assert "![moco: Plots](images/notebooks/moco_0.png)" in page
    # The demo's pictures are missing in this folder: each is a warning (strict fails).
    assert len(caplog.records) == len(hooks.DEMO_IMAGES)

    caplog.clear()
    _notebook(tmp_path / "notebooks" / "moco.ipynb", [b"rerun"])
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.tfvision"):
        hooks.gallery(config)
    assert any("moco_0.png is not notebooks/moco.ipynb's picture 0" in r.getMessage()
               for r in caplog.records)
