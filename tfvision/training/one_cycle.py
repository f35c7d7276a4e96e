"""One-cycle learning rate: cosine warm-up to a peak, then cosine annealing."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfvision")
class OneCycleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The fast.ai one-cycle schedule (the lecture's `use_clr_beta`).

    The rate starts at `max_learning_rate / ratio`, rises along a half cosine
    to `max_learning_rate` over the first `warmup_fraction` of `total_steps`,
    then falls along a half cosine back to `max_learning_rate / ratio` at
    `total_steps`, and stays there:

    ```
    low = max / ratio;  w = warmup_fraction * total_steps
    t < w:  low + (max - low) * (1 - cos(pi * t / w)) / 2
    t >= w: low + (max - low) * (1 + cos(pi * (t - w) / (total - w))) / 2
    ```

    Args:
        max_learning_rate: float, the peak rate.
        total_steps: int, length of the cycle in optimizer steps.
        ratio: float >= 1, max / min rate (the lecture's `div`).
            Defaults to `20.0` (`use_clr=(20, ...)`).
        warmup_fraction: float in [0, 1), fraction of the cycle spent rising
            (the lecture's `1 / cut_div`). Defaults to `0.125` (`cut_div=8`).

    References:
        - [Smith, 2018. A disciplined approach to neural network
          hyper-parameters](https://arxiv.org/abs/1803.09820)
        - fast.ai, Deep Learning Part 2 (2018), lesson 9 (`use_clr_beta`).

    Example:
    >>> schedule = OneCycleSchedule(1e-3, total_steps=100)
    >>> [round(float(schedule(step)), 6) for step in (0, 12.5, 100)]
    [5e-05, 0.001, 5e-05]
    """

    def __init__(self, max_learning_rate, total_steps, ratio=20.0, warmup_fraction=0.125):
        if not max_learning_rate > 0:
            raise ValueError(
                f"`max_learning_rate` must be > 0. Received: max_learning_rate={max_learning_rate}"
            )
        if int(total_steps) < 1:
            raise ValueError(f"`total_steps` must be >= 1. Received: total_steps={total_steps}")
        if ratio < 1:
            raise ValueError(f"`ratio` must be >= 1. Received: ratio={ratio}")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(
                f"`warmup_fraction` must be in [0, 1). Received: warmup_fraction={warmup_fraction}"
            )
        self.max_learning_rate = float(max_learning_rate)
        self.total_steps = int(total_steps)
        self.ratio = float(ratio)
        self.warmup_fraction = float(warmup_fraction)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        high, low = self.max_learning_rate, self.max_learning_rate / self.ratio
        warmup = self.warmup_fraction * self.total_steps
        anneal = self.total_steps - warmup
        rise = (1.0 - ops.cos(math.pi * ops.minimum(step / max(warmup, 1e-12), 1.0))) / 2.0
        fall = (1.0 + ops.cos(math.pi * ops.clip((step - warmup) / anneal, 0.0, 1.0))) / 2.0
        shape = ops.where(step < warmup, rise, fall)
        return low + (high - low) * shape

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "ratio": self.ratio,
            "warmup_fraction": self.warmup_fraction,
        }
