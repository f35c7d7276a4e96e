"""Channel rounding rule shared by the MobileNet family."""


def make_divisible(value, divisor=8, min_value=None):
    """Round a channel count to the nearest multiple of `divisor`.

    This is the rule of the MobileNet reference code (and of
    `keras.applications`' `_make_divisible`): round `value` to the nearest
    multiple of `divisor`, never below `min_value`, and if rounding went down
    by more than 10% of `value`, add one `divisor`. Width-multiplied
    MobileNets use it so that every layer's channel count stays hardware
    friendly while the weights stay interchangeable with the reference
    models.

    Args:
        value: float or int. The channel count to round, for example
            `32 * alpha`.
        divisor: int. The result is a multiple of it. Defaults to `8`.
        min_value: int or `None`. Lower bound of the result. `None` means
            `divisor`. Defaults to `None`.

    Returns:
        int. The rounded channel count.

    Example:

    ```python
    from tfvision.layers import make_divisible

    make_divisible(32 * 0.35)  # 16
    make_divisible(1280 * 1.3)  # 1664
    ```
    """
    if divisor <= 0:
        raise ValueError(
            f"`divisor` must be a positive integer. Received: divisor={divisor}"
        )
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    # Make sure that rounding down does not remove more than 10%.
    if new_value < 0.9 * value:
        new_value += divisor
    return int(new_value)
