"""TF Serving's `models.config` and `batching_parameters.txt` for a model root."""

import os

from tfvision.export.layout import find_saved_models

MODEL_CONFIG_FILE = "models.config"
BATCHING_FILE = "batching_parameters.txt"
VERSION_POLICIES = ("all", "latest")

# TF Serving's BatchingParameters, tuned for small CPU image models: up to 32
# images per batch, waiting at most 2 ms for a batch to fill.
DEFAULT_BATCHING = {
    "max_batch_size": 32,
    "batch_timeout_micros": 2000,
    "max_enqueued_batches": 100,
    "num_batch_threads": 4,
}


def model_server_config(models, base_path="/models", version_policy="all"):
    """A `ModelServerConfig` proto listing models (see `write_model_config`)."""
    from tensorflow_serving.config import model_server_config_pb2

    if version_policy not in VERSION_POLICIES:
        raise ValueError(
            f"`version_policy` must be one of {VERSION_POLICIES}. "
            f"Received: version_policy={version_policy!r}"
        )
    config = model_server_config_pb2.ModelServerConfig()
    for name in models:
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = f"{base_path.rstrip('/')}/{name}"
        entry.model_platform = "tensorflow"
        if version_policy == "all":
            entry.model_version_policy.all.SetInParent()
        else:
            entry.model_version_policy.latest.num_versions = 1
    return config


def write_model_config(saved_models_root, base_path="/models", version_policy="all",
                       batching=None):
    """Writes `models.config` and `batching_parameters.txt` into a model root.

    `models.config` is a text-format `ModelServerConfig` whose
    `model_config_list` names every model folder found under the root (see
    `find_saved_models`), with `base_path` as TF Serving will see it (inside
    the container, `/models/<name>`). With `version_policy="all"` (the
    default) TF Serving loads every version, as `tfvision serve` does, and a
    request without a version goes to the highest one; `"latest"` loads only
    the highest version (TF Serving's own default), so older versions cannot
    be requested.

    `batching_parameters.txt` is a text-format `BatchingParameters` for
    `--enable_batching --batching_parameters_file=...`. TF Serving then
    concatenates concurrent requests along the batch dimension: encoded-image
    signatures (`image_bytes: [N]`) batch freely, while tensor signatures
    taking images of any size (`[N, H, W, 3]`) batch only requests of equal
    `H` and `W`.

    Args:
        saved_models_root: str. The model root, for example `saved_models`.
        base_path: str. Where the root is mounted for TF Serving. Defaults to
            `"/models"`.
        version_policy: str. `"all"` or `"latest"`. Defaults to `"all"`.
        batching: dict. `BatchingParameters` fields (int values). Defaults to
            `DEFAULT_BATCHING`.

    Returns:
        `(models_config_path, batching_parameters_path)`.

    References:
        TF Serving, "TensorFlow Serving Configuration":
        https://www.tensorflow.org/tfx/serving/serving_config

    Example:
    >>> write_model_config("saved_models")
    ('saved_models/models.config', 'saved_models/batching_parameters.txt')
    """
    from google.protobuf import text_format

    models = find_saved_models(saved_models_root)
    if not models:
        raise ValueError(
            f"No SavedModel under {saved_models_root}: expected "
            f"{saved_models_root}/<name>/<version>/saved_model.pb."
        )
    config = model_server_config(models, base_path, version_policy)
    config_path = os.path.join(saved_models_root, MODEL_CONFIG_FILE)
    with open(config_path, "w") as f:
        f.write(text_format.MessageToString(config))
    batching_path = os.path.join(saved_models_root, BATCHING_FILE)
    with open(batching_path, "w") as f:
        f.write(batching_parameters_text(batching or DEFAULT_BATCHING))
    return config_path, batching_path


def batching_parameters_text(batching):
    """Text-format `BatchingParameters`: each field an `Int64Value` wrapper."""
    lines = []
    for key, value in batching.items():
        if key not in DEFAULT_BATCHING or int(value) < 1:
            raise ValueError(
                f"Batching fields are {sorted(DEFAULT_BATCHING)}, each a positive integer. "
                f"Received: {key}={value!r}"
            )
        lines.append(f"{key} {{ value: {int(value)} }}\n")
    return "".join(lines)
