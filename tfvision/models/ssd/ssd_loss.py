"""The detector's training loss under a distribution strategy: one replica's share."""

from keras import ops

from tfvision.losses.cross_replica import num_replicas, replica_sum


def replica_loss(loss, targets, predictions, layer_losses=()):
    """One replica's share of the detection loss of the global batch.

    Under a distribution strategy (`model.fit` in `strategy.scope()`), each
    replica divides its slice's sum by the positive anchors of the whole
    global batch, and its share of the layers' own losses by the number of
    replicas: the optimizer sums the replicas' gradients, so they equal one
    device's gradient of the global batch. Keras reports the loss multiplied
    by the number of replicas, and the two parts returned for logging are
    multiplied the same way, so the logged figures are the global batch's.
    Without a strategy the number of replicas is 1 and this is plain `loss`.

    Args:
        loss: a `MultiboxLoss`, or an object with its call signature.
        targets: `{"deltas", "labels", "positive"}` of this replica's slice
            (`tfvision.ops.assign_targets`).
        predictions: `{"boxes", "classes"}`, the head's outputs.
        layer_losses: list of scalars, the model's own losses (`model.losses`).
            Defaults to `()`.

    Returns:
        Dict of float32 scalars: `"loss"` (what `compute_loss` returns:
        localisation + classification over the global batch's positives,
        finite with none, plus the layer losses' share), and the global
        batch's `"localization"` and `"classification"` parts, to track.
    """
    replicas = num_replicas()
    total_positives = replica_sum(ops.sum(ops.cast(targets["positive"], "float32")))
    losses = loss(targets, predictions, total_positives=total_positives)
    total = losses["loss"]
    if layer_losses:
        total = total + ops.cast(ops.sum(layer_losses), "float32") / replicas
    # A replica's parts sum to the global batch's: the mean over replicas, times R.
    return {
        "loss": total,
        "localization": losses["localization"] * replicas,
        "classification": losses["classification"] * replicas,
    }
