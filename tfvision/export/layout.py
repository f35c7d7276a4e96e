"""The TF Serving folder layout: `root/<model name>/<version>/saved_model.pb`."""

import os


def find_saved_models(root):
    """Every model and version under a TF Serving model root.

    A model is a folder of `root` holding at least one version: a folder
    named by a positive integer that contains `saved_model.pb`. Other entries
    (files, hidden folders, versions still being written) are ignored, as TF
    Serving ignores them.

    Args:
        root: str. The model root, for example `saved_models`.

    Returns:
        A dict `{model name: [version, ...]}`, versions ascending, names sorted.

    Example:
    >>> find_saved_models("saved_models")
    {'shapes_classifier': [1, 2]}
    """
    if not os.path.isdir(root):
        raise NotADirectoryError(f"No model root folder at {root}.")
    models = {}
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        versions = sorted(
            int(entry)
            for entry in os.listdir(folder)
            if entry.isdigit()
            and int(entry) > 0
            and os.path.isfile(os.path.join(folder, entry, "saved_model.pb"))
        )
        if versions:
            models[name] = versions
    return models


def version_dir(root, name, version):
    """`root/name/version`, TF Serving's layout; refuses to overwrite a version."""
    if int(version) < 1:
        raise ValueError(f"`version` must be a positive integer. Received: version={version}")
    path = os.path.join(root, name, str(int(version)))
    if os.path.exists(path) and os.listdir(path):
        raise FileExistsError(
            f"{path} already holds a model; TF Serving versions are immutable, "
            "so export a new --version."
        )
    return path
