"""A detector's mAP on a dataset of batches: `evaluate_detections` (run during training by
`tfvision.training.detection_evaluation.DetectionEvaluation`)."""

from tfvision.metrics.coco_map import DetectionEvaluator


def evaluate_detections(model, dataset, class_names=None):
    """Runs a detector over `(images, targets)` batches into a `DetectionEvaluator`.

    Args:
        model: an `SSDDetector` (anything whose `predict_on_batch` returns
            `{"boxes", "scores", "classes", "num_detections"}`).
        dataset: iterable of `(images [B, S, S, 3], {"boxes", "labels"})`, as
            `detection_data` yields them.
        class_names: list of str. Defaults to `model.class_names`.

    Returns:
        `(evaluator, num_images)`; `evaluator.result()` evaluates.
    """
    class_names = model.class_names if class_names is None else class_names
    evaluator = DetectionEvaluator(class_names, (model.image_size, model.image_size))
    count = 0
    for batch, targets in dataset:
        detections = model.predict_on_batch(batch)
        evaluator.update(targets["boxes"], targets["labels"], detections["boxes"],
                         detections["scores"], detections["classes"],
                         detections["num_detections"])
        count += int(batch.shape[0])
    return evaluator, count
