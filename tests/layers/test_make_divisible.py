import pytest
from keras.src.applications.mobilenet_v2 import _make_divisible

from tfvision.layers import make_divisible


@pytest.mark.parametrize(
    "value, expected",
    [
        (32 * 0.35, 16),  # 11.2 would round to 8, more than 10% down
        (32 * 0.5, 16),
        (32 * 0.75, 24),
        (32 * 1.3, 40),
        (32 * 1.4, 48),
        (1280 * 1.3, 1664),
        (1280 * 1.4, 1792),
        (3, 8),  # never below min_value (= divisor)
        (12, 16),  # 12 + 4 = 16 rounds up to the nearest multiple
    ],
)
def test_table_values(value, expected):
    assert make_divisible(value) == expected


def test_min_value_and_ten_percent_rule():
    assert make_divisible(10, 8, min_value=16) == 16
    # 23 rounds down to 16, 30% below: one divisor is added back.
    assert make_divisible(23, 16) == 32


def test_equals_keras_applications_rule():
    for alpha in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
        for channels in (16, 24, 32, 64, 96, 160, 320, 1280):
            value = channels * alpha
            assert make_divisible(value) == _make_divisible(value, 8)
            assert make_divisible(int(value)) == _make_divisible(int(value), 8)


def test_invalid_divisor():
    with pytest.raises(ValueError, match="Received: divisor=0"):
        make_divisible(10, 0)
