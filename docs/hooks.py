"""MkDocs hooks: the pages written at build time from the code and the notebooks.

- `api/<package>.md`: one page per package of tfvision, a mkdocstrings block for each of its
  modules, so every module with a public docstring is in the reference, and a new module is
  without anyone editing a page.
- `gallery.md`: the pictures the recipes draw, taken from the committed outputs of the
  notebooks (`make notebooks` writes them) and from `make demo`'s evaluation
  (`docs/images/demo_*.png`).

A notebook without pictures is a warning, and `make docs` builds in strict mode: the gallery
never goes quietly empty.
"""

import base64
import logging
import os
import re

import nbformat
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.plugins.tfvision")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "tfvision")

# Package: what its page says it holds (in the order of the navigation).
API_PACKAGES = {
    "models": "The Keras models: MobileNetV1 and V2, the classifier, SSD, MoCo, co-training, "
              "and the backbone registry.",
    "layers": "The custom Keras layers the models are built from.",
    "ops": "Box formats, IoU, anchor matching, box coding and NMS as TensorFlow ops.",
    "losses": "The detection, contrastive and cross-replica losses.",
    "data": "tf.data input pipelines, the data formats, the built-in shapes.",
    "training": "Callbacks, checkpoints and resume, schedules, distribution, batch norm tools.",
    "recipes": "One recipe per task: data, model, `model.fit`, outputs (what the commands run).",
    "metrics": "COCO and VOC07 mAP with pycocotools, PR curves, confusion matrix.",
    "export": "SavedModel, LiteRT and ONNX export with the pre- and post-processing inside.",
    "serving": "The local TF Serving-compatible server (REST and gRPC) and its client.",
    "visualization": "Plots: detections, top-K predictions, training curves, co-training rounds.",
}

# Notebook: (task page, the gallery's heading).
NOTEBOOKS = {
    "detection": ("detection.md", "Object detection"),
    "classifier": ("classifier.md", "Classifier"),
    "moco": ("moco.md", "MoCo v2"),
    "cotraining": ("cotraining.md", "Co-training"),
}

# `make demo`'s pictures, copied from runs/ssdlite_shapes/ (the run behind the README's table).
DEMO_IMAGES = (
    ("demo_training_curves.png", "Training curves of `make demo`'s detector: loss and "
                                 "validation mAP per epoch"),
    ("demo_pr_curves.png", "Precision-recall curves per class at IoU 0.5, on the 300 test "
                           "images"),
    ("demo_confusion_matrix.png", "Confusion matrix of the matched detections"),
    ("demo_f1_curve.png", "F1 against the score threshold"),
    ("demo_prediction.png", "`tfvision detector predict` on a test scene"),
)


def _modules(package):
    """Dotted names of the package's modules (its own `__init__` first), private ones left out."""
    names = [f"tfvision.{package}"]
    for folder, subfolders, files in os.walk(os.path.join(PACKAGE, package)):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(("_", "."))
                               and os.path.isfile(os.path.join(folder, d, "__init__.py")))
        relative = os.path.relpath(folder, PACKAGE).replace(os.sep, ".")
        if folder != os.path.join(PACKAGE, package):
            names.append(f"tfvision.{relative}")
        for name in sorted(files):
            if name.endswith(".py") and not name.startswith("_"):
                names.append(f"tfvision.{relative}.{name[:-3]}")
    return names


def api_page(package):
    """The markdown of `api/<package>.md`."""
    lines = [f"# tfvision.{package}", "", API_PACKAGES[package], ""]
    for module in _modules(package):
        is_package = os.path.isfile(os.path.join(ROOT, *module.split("."), "__init__.py"))
        lines.append(f"::: {module}")
        if is_package:
            # A package's page entry is its docstring; its members are documented where
            # they are defined, in the modules below.
            lines += ["    options:", "      members: false"]
        lines.append("")
    return "\n".join(lines)


def api_index():
    lines = ["# API reference", "",
             "Generated from the docstrings at every `make docs`. Every `Example:` in them runs "
             "as a test in `make test`.", "",
             "| package | what it holds |", "|---|---|"]
    lines += [f"| [tfvision.{name}]({name}.md) | {text} |" for name, text in API_PACKAGES.items()]
    return "\n".join(lines) + "\n"


def notebook_pictures(path):
    """`[(heading, png_bytes)]`: every PNG output of the notebook, under the heading of the
    markdown section that holds it."""
    notebook = nbformat.read(path, as_version=4)
    heading, pictures = os.path.basename(path), []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found = re.findall(r"^#+\s+(.+)$", cell.source, flags=re.MULTILINE)
            if found:
                heading = found[-1].strip()
        elif cell.cell_type == "code":
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "image/png" in data:
                    pictures.append((heading, base64.b64decode(data["image/png"])))
    return pictures


def picture_path(notebook, index):
    """Where `make notebooks` keeps a notebook's picture, relative to docs/."""
    return f"images/notebooks/{notebook}_{index}.png"


def write_notebook_pictures():
    """Writes every notebook's pictures to docs/images/notebooks/ (`make notebooks` runs this
    after executing them), so the README and the gallery show the committed outputs."""
    folder = os.path.join(ROOT, "docs", "images", "notebooks")
    os.makedirs(folder, exist_ok=True)
    for stale in os.listdir(folder):
        os.remove(os.path.join(folder, stale))
    for name in NOTEBOOKS:
        pictures = notebook_pictures(os.path.join(ROOT, "notebooks", f"{name}.ipynb"))
        for index, (_, png) in enumerate(pictures):
            with open(os.path.join(ROOT, "docs", picture_path(name, index)), "wb") as handle:
                handle.write(png)
        print(f"notebooks/{name}.ipynb: {len(pictures)} pictures in docs/images/notebooks/")


def gallery(config):
    """The gallery page's markdown. A notebook without pictures, or whose pictures differ from
    those in docs/images/notebooks/, is a warning (an error under `strict`)."""
    docs = config["docs_dir"]
    lines = ["# Gallery", "",
             "The pictures tfvision's recipes draw, as the notebooks and `make demo` drew them. "
             "Each notebook's are its committed outputs (`make notebooks` runs them with fixed "
             "seeds); the demo's are from the run whose figures the README shows.", ""]
    lines += ["## Detection: `make demo`", ""]
    for name, caption in DEMO_IMAGES:
        if not os.path.isfile(os.path.join(docs, "images", name)):
            log.warning("gallery: docs/images/%s is missing", name)
            continue
        lines += [f"![{caption}](images/{name})", "", f"*{caption}.*", ""]
    for name, (task_page, title) in NOTEBOOKS.items():
        pictures = notebook_pictures(os.path.join(ROOT, "notebooks", f"{name}.ipynb"))
        if not pictures:
            log.warning("gallery: notebooks/%s.ipynb has no pictures; run `make notebooks`", name)
            continue
        lines += [f"## {title}: the notebook", "",
                  f"From [the {title.lower()} notebook](notebooks/{name}.ipynb); the guide is "
                  f"[{title}]({task_page}).", ""]
        for index, (heading, png) in enumerate(pictures):
            path = picture_path(name, index)
            try:
                with open(os.path.join(docs, path), "rb") as handle:
                    current = handle.read() == png
            except FileNotFoundError:
                current = False
            if not current:
                log.warning("gallery: docs/%s is not notebooks/%s.ipynb's picture %d; run "
                            "`make notebooks`", path, name, index)
            lines += [f"![{name}: {heading}]({path})", "", f"*{heading}.*", ""]
    return "\n".join(lines)


def on_files(files, config):
    for package in API_PACKAGES:
        files.append(File.generated(config, f"api/{package}.md", content=api_page(package)))
    files.append(File.generated(config, "api/index.md", content=api_index()))
    files.append(File.generated(config, "gallery.md", content=gallery(config)))
    return files


if __name__ == "__main__":
    write_notebook_pictures()
