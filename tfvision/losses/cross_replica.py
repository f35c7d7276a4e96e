"""Loss normalisers that span the replicas of a `tf.distribute` strategy.

Under `MirroredStrategy` each replica computes the loss of its slice of the
global batch and the optimizer sums the replicas' gradients. A loss divided
by something batch-dependent (SSD divides by the number of positive anchors)
must therefore divide by the count of the *global* batch, so that the
replicas' losses add up to the one-device loss. These helpers give that
count; with one replica they are the identity.
"""

import tensorflow as tf


def num_replicas():
    """Replicas training in sync: 1 outside a distribution strategy.

    Returns:
        int, `num_replicas_in_sync` of the current replica context (1 in a
        cross-replica context or without a strategy).

    Example:
    >>> num_replicas()
    1
    """
    context = tf.distribute.get_replica_context()
    return 1 if context is None else int(context.num_replicas_in_sync)


def replica_sum(value):
    """The sum of `value` over all replicas in sync (`value` itself with one).

    Every replica must call it (it is a collective), in a replica function:
    `model.fit`'s step or `strategy.run`. No gradient flows through it: it
    is meant for counts and normalisers.

    Args:
        value: a float tensor, any shape.

    Returns:
        A tensor of `value`'s shape: the element-wise sum over the replicas.

    Example:
    >>> float(replica_sum(tf.constant(3.0)))
    3.0
    """
    if num_replicas() == 1:
        return value
    # A count, not a function of the weights: no gradient (and no second collective).
    value = tf.stop_gradient(value)
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, value)
