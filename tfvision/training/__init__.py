"""What every tfvision training run uses: callbacks, checkpoints, sweeps, set-up."""

from tfvision.training.callbacks import training_callbacks
from tfvision.training.checkpoints import (
    CheckpointCallback,
    load_checkpoint,
    read_checkpoint_state,
    save_checkpoint,
)
from tfvision.training.detection_evaluation import DetectionEvaluation
from tfvision.training.distribution import distribution_strategy, worker_save_dir
from tfvision.training.grouped_optimizer import GroupedOptimizer
from tfvision.training.lr_sweep import SweepResult, learning_rate_sweep
from tfvision.models.multi_worker import MultiWorkerTrainerMixin
from tfvision.training.one_cycle import OneCycleSchedule
from tfvision.training.precise_batch_norm import (
    PreciseBatchNorm,
    recompute_batch_norm_statistics,
)
from tfvision.training.run_options import RunOptions
from tfvision.training.setup import configure_run

__all__ = [
    "CheckpointCallback",
    "DetectionEvaluation",
    "GroupedOptimizer",
    "MultiWorkerTrainerMixin",
    "OneCycleSchedule",
    "PreciseBatchNorm",
    "RunOptions",
    "SweepResult",
    "configure_run",
    "distribution_strategy",
    "learning_rate_sweep",
    "load_checkpoint",
    "read_checkpoint_state",
    "recompute_batch_norm_statistics",
    "save_checkpoint",
    "training_callbacks",
    "worker_save_dir",
]
