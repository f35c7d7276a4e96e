"""Run-wide settings every training command takes: seed, precision, device."""

import keras
import tensorflow as tf

PRECISION_POLICIES = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def configure_run(seed=None, mixed_precision="off", require_gpu=False):
    """Seeds every generator, sets the dtype policy, and checks the device.

    Args:
        seed: int or None. Seeds Python, NumPy and TensorFlow
            (`keras.utils.set_random_seed`). Defaults to `None`.
        mixed_precision: `"off"`, `"float16"` or `"bfloat16"`: the Keras dtype
            policy for the layers; losses and outputs stay float32.
            Defaults to `"off"`.
        require_gpu: bool. Fail unless TensorFlow sees a GPU (the `--gpu`
            flag). Defaults to `False`.
    """
    if mixed_precision not in PRECISION_POLICIES:
        raise ValueError(
            f"`mixed_precision` must be one of {sorted(PRECISION_POLICIES)}. "
            f"Received: mixed_precision={mixed_precision!r}"
        )
    if require_gpu and not tf.config.list_physical_devices("GPU"):
        raise RuntimeError(
            "--gpu was given but TensorFlow sees no GPU. Install the GPU build "
            '(pip install "tfvision[gpu]") on a machine with an NVIDIA GPU, or '
            "train without --gpu on the CPU."
        )
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    keras.mixed_precision.set_global_policy(PRECISION_POLICIES[mixed_precision])
