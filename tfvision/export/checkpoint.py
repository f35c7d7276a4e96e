"""`tfvision export`: any tfvision checkpoint to a TF Serving-ready SavedModel."""

import inspect

from tfvision.data.category_names import display_names_for
from tfvision.export.registry import exportable_classes, exporter_for
from tfvision.training.checkpoints import load_checkpoint


def export_checkpoint(checkpoint, root, name, version, top_k=5, category_names=None):
    """Loads a `.keras` checkpoint and exports it with its task's signatures.

    The exporter is the one registered for the model's class (see
    `tfvision.export.registry`): an `ImageClassifier` goes through
    `export_classifier`, an `SSDDetector` through `export_detector`, a `MoCo`
    model through `export_embedding` (its encoder as an embedding model), a
    `CoTraining` pair through `export_cotraining` (the two-view ensemble).
    `top_k` and the display names go to the exporters that take them.

    Args:
        checkpoint: str. A `.keras` file written by a tfvision training command.
        root: str. The model root (for example `saved_models`).
        name: str. Model name.
        version: int. Version number, >= 1.
        top_k: int. Classes returned per image by a classifier. Defaults to `5`.
        category_names: optional JSON file mapping class names to display
            names, returned in place of the class names. Defaults to `None`.

    Returns:
        The path written, `root/name/version`.
    """
    model, _ = load_checkpoint(checkpoint, compile=False)
    exporter = exporter_for(model)
    if exporter is None:
        classes = exportable_classes()
        raise ValueError(
            f"{checkpoint} holds a {type(model).__name__}; `tfvision export` takes the "
            f"checkpoint of a model with an exporter: {', '.join(classes[:-1])} or "
            f"{classes[-1]}."
        )
    takes = inspect.signature(exporter).parameters
    options = {"top_k": top_k} if "top_k" in takes else {}
    if category_names and "class_names" in takes:
        options["class_names"] = display_names_for(_class_names(model, checkpoint),
                                                   category_names)
    return exporter(model, root, name, version, **options)


def _class_names(model, checkpoint):
    names = getattr(model, "class_names", None)
    if names is None:
        raise ValueError(f"{checkpoint} holds a {type(model).__name__}, which has no class "
                         "names for --category-names to map.")
    return list(names)
