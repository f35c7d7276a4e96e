"""MoCo training step time: over a supervised step of the same encoder, and vs PyTorch.

Peers, all in this process on the same batch: tfvision MoCo (asymmetric and
symmetric loss), a supervised step of the same backbone with a linear
classifier (cross-entropy, same SGD), and a plain PyTorch MoCo of the same
architecture (momentum copy, shuffle-BN, InfoNCE, FIFO queue) when
`import torch` works (`pip install torch==2.13.0`, the CPU build). After a
warm-up, timed rounds alternate the peers (the order flips every round);
each line reports the round whose ratio is the median. A MoCo step runs the
encoder forward twice (query and key) and backward once, so about 1.3x a
supervised step is expected; the symmetric loss doubles both. The MoCo v2
head (2048 hidden units) costs extra, as much as MobileNetV2 0.35 itself at
64 px; `--hidden-dim 0` measures MoCo v1's linear head. Run:

    .venv/bin/python benchmarks/moco_step.py --arch small_cnn --image-size 32 --batch-size 128

The last line printed is MoCo (asymmetric) step time over the supervised step.
"""

import argparse
import copy
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfvision.models.moco import MoCo  # noqa: E402
from tfvision.recipes.moco.recipe import build_encoder_backbone  # noqa: E402

CLASSES = 10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("small_cnn", "mobilenet_v2"), default="small_cnn")
    parser.add_argument("--alpha", type=float, default=0.35)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--queue-size", type=int, default=4096)
    parser.add_argument("--hidden-dim", type=int, default=2048,
                        help="MLP head hidden size; 0 for MoCo v1's linear head (default 2048)")
    parser.add_argument("--rounds", type=int, default=11, help="timed rounds per peer")
    parser.add_argument("--steps", type=int, default=2, help="steps per timed round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per peer")
    return parser.parse_args()


def sgd():
    return keras.optimizers.SGD(0.06, momentum=0.9, weight_decay=5e-4)


def moco_step(args, view_1, view_2, symmetric):
    model = MoCo(build_encoder_backbone(args.arch, args.image_size, args.alpha),
                 queue_size=args.queue_size, symmetric=symmetric,
                 hidden_dims=(args.hidden_dim,) if args.hidden_dim else ())
    model.compile(optimizer=sgd())
    view_1, view_2 = keras.ops.convert_to_tensor(view_1), keras.ops.convert_to_tensor(view_2)
    return lambda: model.train_on_batch(view_1, view_2)


def supervised_step(args, images, labels):
    backbone = build_encoder_backbone(args.arch, args.image_size, args.alpha)
    inputs = keras.Input((args.image_size, args.image_size, 3))
    x = keras.layers.Rescaling(1 / 127.5, -1.0)(inputs)
    outputs = keras.layers.Dense(CLASSES)(backbone(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=sgd(),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images, labels = keras.ops.convert_to_tensor(images), keras.ops.convert_to_tensor(labels)
    return lambda: model.train_on_batch(images, labels)


def torch_backbone(args):
    from torch import nn

    if args.arch == "mobilenet_v2":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from mobilenet_train import torch_mobilenet_v2

        return torch_mobilenet_v2(args.alpha, CLASSES)[:-1], 1280
    layers, cin = [], 3
    for cout in (32, 64, 128):
        layers += [nn.Conv2d(cin, cout, 3, bias=False), nn.BatchNorm2d(cout, momentum=0.1),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(1)), 128


def torch_moco_step(args, view_1, view_2):
    """Plain PyTorch MoCo v2 (asymmetric), as the official code and the demo write it."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    backbone, dim = torch_backbone(args)
    hidden = args.hidden_dim
    head = ([nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 128)] if hidden
            else [nn.Linear(dim, 128)])
    encoder_q = nn.Sequential(backbone, *head)
    encoder_k = copy.deepcopy(encoder_q)
    for p in encoder_k.parameters():
        p.requires_grad = False
    queue = F.normalize(torch.randn(args.queue_size, 128), dim=1)
    pointer = [0]
    optimizer = torch.optim.SGD(encoder_q.parameters(), lr=0.06, momentum=0.9,
                                weight_decay=5e-4)
    x_q = torch.from_numpy(view_1 / 127.5 - 1).permute(0, 3, 1, 2).contiguous()
    x_k = torch.from_numpy(view_2 / 127.5 - 1).permute(0, 3, 1, 2).contiguous()

    def step():
        with torch.no_grad():
            for p_q, p_k in zip(encoder_q.parameters(), encoder_k.parameters()):
                p_k.mul_(0.99).add_(p_q.detach(), alpha=0.01)
            shuffle = torch.randperm(len(x_k))
            k = F.normalize(encoder_k(x_k[shuffle]), dim=1)[torch.argsort(shuffle)]
        q = F.normalize(encoder_q(x_q), dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.T], dim=1) / 0.2
        loss = F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            index = (pointer[0] + torch.arange(len(k))) % len(queue)
            queue[index] = k
            pointer[0] = int((pointer[0] + len(k)) % len(queue))

    return step


def step_times(steps, args):
    """Seconds per step of each peer, per timed round; rounds alternate the peers."""
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    times = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            times[name].append((time.perf_counter() - start) / args.steps)
    return times


def summary(ours_name, peer, ours, theirs):
    """One line from the round with the median step-time ratio ours / peer."""
    ratios = [o / t for o, t in zip(ours, theirs)]
    median = ratios.index(statistics.median_low(ratios))
    return (f"{ours_name} vs {peer}: {1000 * ours[median]:.1f} vs {1000 * theirs[median]:.1f} "
            f"ms/step, ratio {ratios[median]:.2f}x")


def main():
    args = parse_args()
    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.image_size, args.image_size, 3)
    view_1 = rng.uniform(0, 255, shape).astype("float32")
    view_2 = rng.uniform(0, 255, shape).astype("float32")
    labels = rng.integers(0, CLASSES, args.batch_size).astype("int32")
    steps = {
        "supervised": supervised_step(args, view_1, labels),
        "moco": moco_step(args, view_1, view_2, symmetric=False),
        "moco symmetric": moco_step(args, view_1, view_2, symmetric=True),
    }
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        steps[f"PyTorch {torch.__version__} moco"] = torch_moco_step(args, view_1, view_2)
    except ImportError:
        torch = None
    print(f"MoCo step, {args.arch}, {args.image_size}px, batch {args.batch_size}, "
          f"head hidden {args.hidden_dim or 'none'}, queue {args.queue_size}, {args.rounds} alternating rounds x {args.steps} steps, "
          "median-ratio round reported")
    times = step_times(steps, args)
    print(summary("tfvision moco symmetric", "supervised step", times["moco symmetric"],
                  times["supervised"]))
    torch_names = [name for name in times if name.startswith("PyTorch")]
    for name in torch_names:
        print(summary("tfvision moco", name, times["moco"], times[name]))
    if not torch_names:
        print("PyTorch comparison skipped: `import torch` failed.")
    print(summary("tfvision moco (asymmetric)", "supervised step", times["moco"],
                  times["supervised"]))


if __name__ == "__main__":
    main()
