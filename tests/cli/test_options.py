"""The CLI's spelled-out option choices agree with the library's."""

from tfvision.cli.options import STRATEGIES as CLI_STRATEGIES
from tfvision.training.distribution import STRATEGIES


def test_the_strategy_choices_are_the_library_strategies():
    assert CLI_STRATEGIES == STRATEGIES
