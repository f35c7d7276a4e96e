"""The classifier recipe's defaults that follow what the backbone starts from, and its optimizer."""

import keras

# From random weights, smaller inputs leave the stride-32 backbones a 1x1 last map
# (digits of `make quality`, 15 epochs: test top-1 0.30 at 32 px, 0.80 at 64 px).
SMALL_FROM_SCRATCH_SIDE = 64


def resolve_hidden_units(hidden_units, from_scratch):
    """The head's hidden layers: `"auto"` is none from random weights, else `(512,)`.

    A backbone trained from random weights ends in its own 1x1 convolution; a
    hidden layer on top slows its start. From random weights on the digits of
    `make quality` (64 px, 15 epochs), the cluttered `hard` variant reached test
    top-1 0.638 with a linear head and 0.09 with `(512,)` (the clean digits:
    0.922 against 0.950).
    """
    if isinstance(hidden_units, str):
        if hidden_units != "auto":
            raise ValueError(f"`hidden_units` must be 'auto' or a tuple of ints. "
                             f"Received: hidden_units={hidden_units!r}")
        return () if from_scratch else (512,)
    return tuple(int(units) for units in hidden_units)


def resolve_learning_rates(learning_rates, from_scratch):
    """The rates to train (or sweep) at: `"auto"` is `(3e-3,)` from random weights, else `(1e-3,)`.

    From random weights on the digits of `make quality` (MobileNetV2 0.35,
    64 px, 15 epochs, plateau schedule), 3e-3 reached test top-1 0.961 on the
    clean digits and 0.694 on the cluttered ones, against 0.928 and 0.610 at
    1e-3. A pretrained backbone keeps Keras' 1e-3.
    """
    if isinstance(learning_rates, str):
        if learning_rates != "auto":
            raise ValueError(f"`learning_rates` must be 'auto' or a list of floats. "
                             f"Received: learning_rates={learning_rates!r}")
        return (3e-3,) if from_scratch else (1e-3,)
    return tuple(float(rate) for rate in learning_rates)


def classifier_optimizer(learning_rate, steps, schedule="cosine", warmup_steps=0,
                         weight_decay=0.0):
    """The optimizer of a classifier run: Adam, or AdamW with `weight_decay`.

    Args:
        learning_rate: float, the peak rate.
        steps: int, the optimizer steps of the whole run (the cosine's length).
        schedule: `"cosine"` (a linear warm-up over `warmup_steps`, then a
            cosine decay to 0 at `steps`) or `"constant"` (for
            `ReduceLROnPlateau`). Defaults to `"cosine"`.
        warmup_steps: int. Defaults to `0`.
        weight_decay: float, AdamW's decoupled weight decay; `0` for Adam.

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"`schedule` must be 'cosine' or 'constant'. Received: {schedule!r}")
    rate = float(learning_rate)
    if schedule == "cosine":
        warmup_steps = min(int(warmup_steps), max(0, int(steps) - 1))
        if warmup_steps:
            rate = keras.optimizers.schedules.CosineDecay(
                0.0, max(1, int(steps) - warmup_steps), warmup_target=rate,
                warmup_steps=warmup_steps)
        else:
            rate = keras.optimizers.schedules.CosineDecay(rate, max(1, int(steps)))
    if weight_decay:
        return keras.optimizers.AdamW(rate, weight_decay=float(weight_decay))
    return keras.optimizers.Adam(rate)
