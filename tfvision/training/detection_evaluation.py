"""Validation mAP while a detector trains: the `DetectionEvaluation` callback.

Keras' validation gives a detector's loss; what a user chooses a detector by is
its mAP. `DetectionEvaluation` runs the model on the validation batches every
`every` epochs (and at the last epoch of each `fit`), evaluates the detections
with pycocotools (`DetectionEvaluator`) and adds `val_map` (COCO AP),
`val_map50`, `val_map75` and `val_voc07_map` to the epoch's logs. Callbacks
after it in the list see them: the progress line, the history CSV,
TensorBoard, the best checkpoint and early stopping (`training_callbacks`).
Epochs without an evaluation have no such keys, so the best checkpoint and
early stopping look only at evaluated epochs.
"""

import json
import os
import time

import keras

from tfvision.metrics.detection_evaluation import evaluate_detections
from tfvision.metrics.detection_report import detection_metrics
from tfvision.training.atomic_write import atomic_write

# Log key -> `DetectionEvaluator.result()` key.
MAP_LOGS = {"val_map": "AP", "val_map50": "AP50", "val_map75": "AP75",
            "val_voc07_map": "voc07_map"}


class DetectionEvaluation(keras.callbacks.Callback):
    """Adds validation mAP to the logs every `every` epochs (see the module doc).

    Put it after `PreciseBatchNorm` (the model is then the one the checkpoint
    saves) and before the callbacks that read the logs.

    Args:
        dataset: the validation batches, `(images, {"boxes", "labels"})`.
            Under multi-worker training pass every worker the whole split, so
            all of them compute the same mAP and agree on early stopping.
        class_names: list of str.
        every: int >= 1, evaluate after every `every`-th epoch (counted from
            epoch 1) and after the last epoch of each `fit`. Defaults to `1`.
        metrics_dir: str or None, write each evaluation's `metrics.json`
            content (see `tfvision.metrics.write_detection_report`) with its
            `epoch` and `seconds` as `epoch-NNNN.json` there. Defaults to `None`.

    Attributes:
        seconds: list of float, the wall time of each evaluation of this run.
        log_keys: the keys it adds to the logs.
    """

    log_keys = tuple(MAP_LOGS)

    def __init__(self, dataset, class_names, every=1, metrics_dir=None):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"`every` must be >= 1. Received: every={every}")
        self.dataset = dataset
        self.class_names = list(class_names)
        self.every = int(every)
        self.metrics_dir = metrics_dir
        self.seconds = []

    def evaluates(self, epoch):
        """Whether the epoch of index `epoch` (0-based) is evaluated."""
        return (epoch + 1) % self.every == 0 or epoch + 1 == self.params.get("epochs")

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self.evaluates(epoch):
            return
        start = time.perf_counter()
        evaluator, _ = evaluate_detections(self.model, self.dataset, self.class_names)
        result = evaluator.result()
        logs.update({key: float(result[name]) for key, name in MAP_LOGS.items()})
        self.seconds.append(time.perf_counter() - start)
        if self.metrics_dir:
            metrics = detection_metrics(result, evaluator.evaluation, evaluator.images,
                                        self.class_names)
            metrics.update(epoch=epoch + 1, seconds=round(self.seconds[-1], 3))
            os.makedirs(self.metrics_dir, exist_ok=True)
            path = os.path.join(self.metrics_dir, f"epoch-{epoch + 1:04d}.json")
            with atomic_write(path) as handle:
                json.dump(metrics, handle, indent=1)
