"""`RunOptions`: the options every training run takes, as one value."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Seed, precision, device, determinism, strategy, resume and verbosity of a run.

    Every training recipe (`train_classifier`, `train_detector`,
    `pretrain_moco`, `train_cotraining`) takes these seven as keyword
    arguments of the same names; `keywords()` spreads them into a call, and
    an option left `None` keeps the recipe's default. The `tfvision` training
    commands build one from their flags (`tfvision.cli.options.run_options`);
    a recipe hands them to `prepare_run`, the start of every run.

    Args:
        seed: int or None. Seeds Python, NumPy, TensorFlow and the input
            pipelines; needed by `deterministic` and by multi-worker runs.
            `None` leaves the recipe's default (no seed; `0` for MoCo).
            Defaults to `None`.
        mixed_precision: `"off"`, `"float16"` or `"bfloat16"`, the Keras dtype
            policy (see `configure_run`). Defaults to `"off"`.
        require_gpu: bool. Fail unless TensorFlow sees a GPU. Defaults to `False`.
        deterministic: bool. Deterministic TensorFlow ops (needs `seed`).
            Defaults to `False`.
        strategy: str, one of `tfvision.training.distribution.STRATEGIES`.
            Defaults to `"none"`.
        resume: bool. Continue from the backup in the save directory; `False`
            starts again. Defaults to `True`.
        verbose: int or None. `fit`'s verbosity; `None` leaves the recipe's
            default (`1`; `0` for co-training, whose command shows rounds).
            Defaults to `None`.

    Example:
    >>> run = RunOptions(seed=0, deterministic=True)
    >>> sorted(run.keywords())
    ['deterministic', 'mixed_precision', 'require_gpu', 'resume', 'seed', 'strategy']
    """

    seed: int | None = None
    mixed_precision: str = "off"
    require_gpu: bool = False
    deterministic: bool = False
    strategy: str = "none"
    resume: bool = True
    verbose: int | None = None

    def keywords(self):
        """The options as recipe keyword arguments, without those left `None`.

        Returns:
            dict, e.g. `train_detector("shapes", "runs/d", **run.keywords())`.
        """
        return {key: value for key, value in dataclasses.asdict(self).items()
                if value is not None}
