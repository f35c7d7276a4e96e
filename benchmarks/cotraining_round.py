"""One co-training round's pseudo-labelling: tfvision's batched step against peers.

1. The whole pseudo-labelling step (predict the pool with both models, pick
   the top k per model, drop conflicts, move the picks, rebuild the training
   pipelines and draw their first batch): tfvision's `predict_pool` +
   `exchange_pseudo_labels` + `training_dataset` against the reference
   notebook's structure written as a per-sample Python loop (one model call
   per image and view, Python sorting, list bookkeeping).
2. Pool prediction alone: `predict_pool` (both models in one `predict` over
   the aligned two-view pipeline) against plain `model.predict` on each view's
   pipeline, one model after the other.

Peers alternate round by round; each line reports the median round; the last
line holds both ratios (>1 means tfvision is faster). Run:

    .venv/bin/python benchmarks/cotraining_round.py
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfvision.data import aligned_splits, shapes_two_views  # noqa: E402
from tfvision.models.classifier import ImageClassifier  # noqa: E402
from tfvision.models.cotraining import CoTraining  # noqa: E402
from tfvision.recipes.cotraining.pseudo_labels import exchange_pseudo_labels  # noqa: E402
from tfvision.recipes.cotraining.rounds import predict_pool, training_dataset  # noqa: E402


def tfvision_round(cotraining, samples, pool, train_sets, k, size, batch_size):
    p0, p1 = predict_pool(cotraining, samples, pool, size, batch_size)
    new_sets, new_pool, _ = exchange_pseudo_labels(p0, p1, pool, train_sets, k, samples.labels)
    next(iter(training_dataset(samples, new_sets, size, batch_size, seed=0)))
    return new_sets, new_pool


def per_sample_round(cotraining, samples, pool, train_sets, k, size, batch_size):
    """The notebook's structure: per-sample predictions, Python sorting and list edits."""
    predictions = ([], [])
    for index in pool:
        for view, model in enumerate(cotraining.models):
            image = samples.decode_fns[view](tf.constant(index))
            image = tf.image.resize(image, (size, size), antialias=True)[None]
            predictions[view].append(model(image, training=False).numpy()[0])
    picks = []
    for view in (0, 1):
        ranked = sorted(range(len(pool)), key=lambda i: -max(predictions[view][i]))[:k]
        picks.append([(i, int(np.argmax(predictions[view][i]))) for i in ranked])
    label0, label1 = dict(picks[0]), dict(picks[1])
    conflicts = {i for i in label0 if i in label1 and label0[i] != label1[i]}
    picks = [[(i, label) for i, label in p if i not in conflicts] for p in picks]
    new_sets = [(list(indices), list(labels)) for indices, labels in train_sets]
    for view, (i, label) in [(1, pick) for pick in picks[0]] + [(0, pick) for pick in picks[1]]:
        new_sets[view][0].append(int(pool[i]))
        new_sets[view][1].append(label)
    taken = {i for p in picks for i, _ in p}
    new_pool = np.array([index for i, index in enumerate(pool) if i not in taken])
    new_sets = tuple((np.array(a), np.array(b)) for a, b in new_sets)
    next(iter(training_dataset(samples, new_sets, size, batch_size, seed=0)))
    return new_sets, new_pool


def plain_predict(cotraining, samples, pool, size, batch_size):
    return tuple(
        model.predict(samples.view_dataset(view, pool, image_size=size, batch_size=batch_size)
                      .map(lambda x, y: x), verbose=0)
        for view, model in enumerate(cotraining.models)
    )


def compare(name, ours, peer, rounds, count, warm_up=True):
    if warm_up:  # trace and warm up
        ours(), peer()
    ours_times, peer_times = [], []
    for _ in range(rounds):  # alternate so machine noise hits both
        for fn, times in ((ours, ours_times), (peer, peer_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    a, b = count / statistics.median(ours_times), count / statistics.median(peer_times)
    line = f"tfvision vs {name}: {a:.0f} vs {b:.0f} samples/s, ratio {a / b:.2f}x"
    print(line)
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=256, help="unlabelled pool size")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the step comparison")
    parser.add_argument("--predict-rounds", type=int, default=15,
                        help="rounds of the pool-prediction comparison")
    args = parser.parse_args()
    samples = shapes_two_views(args.pool + 40, image_size=96, seed=0)
    splits = aligned_splits(samples.labels, labelled_fraction=40 / (args.pool + 40),
                            test_fraction=0.25, valid_fraction=0.34, seed=0)
    keras.utils.set_random_seed(0)
    make = lambda: ImageClassifier(samples.class_names, image_size=args.image_size,  # noqa: E731
                                   alpha=0.35, backbone_weights="shapes", hidden_units=(64,))
    cotraining = CoTraining(make(), make())
    cotraining.compile()
    pool, size, batch = splits.unlabelled, args.image_size, args.batch_size
    train_sets = tuple((splits.train, samples.labels[splits.train]) for _ in range(2))
    # The first call of each also warms it up (tracing, pipeline set-up).
    ours_sets, _ = tfvision_round(cotraining, samples, pool, train_sets, args.k, size, batch)
    peer_sets, _ = per_sample_round(cotraining, samples, pool, train_sets, args.k, size, batch)
    for ours, peer in zip(ours_sets, peer_sets):  # same picks (predictions agree to ~1e-6)
        assert len(ours[0]) == len(peer[0]), (len(ours[0]), len(peer[0]))
    print(f"pool {len(pool)}, image {size}px, k {args.k}, MobileNetV2 0.35 ({keras.__version__})")
    predict = compare("plain model.predict per view (pool prediction)",
                      lambda: predict_pool(cotraining, samples, pool, size, batch),
                      lambda: plain_predict(cotraining, samples, pool, size, batch),
                      args.predict_rounds, len(pool))
    step = compare("a per-sample Python loop (pseudo-labelling step)",
                   lambda: tfvision_round(cotraining, samples, pool, train_sets, args.k, size, batch),
                   lambda: per_sample_round(cotraining, samples, pool, train_sets, args.k, size,
                                            batch),
                   args.rounds, len(pool), warm_up=False)
    print(f"{step.split(': ', 1)[1]} against a per-sample loop; "
          f"{predict.split(': ', 1)[1]} against plain model.predict")


if __name__ == "__main__":
    main()
