"""MobileNetV2 training throughput: tfvision vs keras.applications (vs PyTorch).

All peers train the same architecture on the same synthetic batch, with the
same optimizer (SGD, momentum 0.9) and loss (sparse categorical
cross-entropy), in this process. After a warm-up, timed rounds alternate
between the peers so that machine noise hits all of them; each line reports
the round whose tfvision / peer ratio is the median (see `summary`). Keras
runs with `jit_compile=False` (XLA is slower on CPU). PyTorch (CPU autocast
for bfloat16) joins when `import torch` works. PyTorch's OpenMP threads slow
down far more than TensorFlow's when other processes load the cores, so
compare with PyTorch on an otherwise idle machine. Run:

    .venv/bin/python benchmarks/mobilenet_train.py --image-size 160 --batch-size 32

The last line printed is the float32 tfvision / keras.applications summary.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfvision.models.mobilenet_v2 import MobileNetV2  # noqa: E402

CLASSES = 1000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=11, help="timed rounds per peer")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per peer")
    return parser.parse_args()


def synthetic_batch(args, seed=0):
    rng = np.random.default_rng(seed)
    shape = (args.batch_size, args.image_size, args.image_size, 3)
    images = rng.uniform(-1.0, 1.0, shape).astype("float32")
    labels = rng.integers(0, CLASSES, args.batch_size).astype("int32")
    return images, labels


def keras_step(model, images, labels):
    """A callable running one Keras training step on fixed tensors."""
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=False,
    )
    images = keras.ops.convert_to_tensor(images)
    labels = keras.ops.convert_to_tensor(labels)
    return lambda: model.train_on_batch(images, labels)


def torch_step(args, images, labels, autocast_dtype=None):
    """A callable running one PyTorch training step."""
    import torch

    model = torch_mobilenet_v2(args.alpha, CLASSES)
    model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(
        memory_format=torch.channels_last
    )
    y = torch.from_numpy(labels).long()

    def step():
        optimizer.zero_grad(set_to_none=True)
        # mixed_bfloat16's PyTorch counterpart is CPU autocast to bfloat16.
        enabled = autocast_dtype is not None
        dtype = autocast_dtype or torch.float32
        with torch.autocast("cpu", dtype=dtype, enabled=enabled):
            loss = loss_fn(model(x).float(), y)
        loss.backward()
        optimizer.step()

    return step


def torch_mobilenet_v2(alpha, classes):
    """Plain PyTorch MobileNetV2, the same architecture as tfvision's."""
    from torch import nn

    from tfvision.layers import make_divisible

    def conv_bn(cin, cout, kernel=1, stride=1, groups=1, act=True):
        layers = [
            nn.Conv2d(
                cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False
            ),
            # Keras momentum 0.999 is PyTorch momentum 0.001.
            nn.BatchNorm2d(cout, eps=1e-3, momentum=0.001),
        ]
        return nn.Sequential(*layers, *([nn.ReLU6(inplace=True)] if act else []))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, t, stride):
            super().__init__()
            hidden = cin * t
            self.use_residual = stride == 1 and cin == cout
            self.block = nn.Sequential(
                *([conv_bn(cin, hidden)] if t != 1 else []),  # pw
                conv_bn(hidden, hidden, 3, stride, groups=hidden),  # dw
                conv_bn(hidden, cout, act=False),  # pw-linear
            )

        def forward(self, x):
            return x + self.block(x) if self.use_residual else self.block(x)

    cin = make_divisible(32 * alpha)
    layers = [conv_bn(3, cin, 3, 2)]
    for t, c, n, s in MobileNetV2.ARCHITECTURE:
        cout = make_divisible(int(c * alpha))
        for i in range(n):
            layers.append(InvertedResidual(cin, cout, t, s if i == 0 else 1))
            cin = cout
    last = make_divisible(1280 * alpha) if alpha > 1.0 else 1280
    layers += [conv_bn(cin, last), nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
    return nn.Sequential(*layers, nn.Linear(last, classes))


def throughput(steps, args):
    """Per-peer images/s of each timed round; rounds alternate the peers."""
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    rates = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(args.rounds):
        # Alternate who goes first, so a slow spell does not favour one peer.
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            elapsed = time.perf_counter() - start
            rates[name].append(args.steps * args.batch_size / elapsed)
    return rates


def summary(peer, label, ours, theirs):
    """One comparison line, from the round with the median ratio.

    The ratio is taken round by round (the two peers ran back to back, under
    the same machine load); the round with the median ratio is reported, so
    the two figures printed and their ratio come from the same round.
    """
    ratios = [o / t for o, t in zip(ours, theirs)]
    median = ratios.index(statistics.median_low(ratios))
    return (
        f"tfvision vs {peer} MobileNetV2 ({label}): {ours[median]:.1f} vs "
        f"{theirs[median]:.1f} images/s, ratio {ratios[median]:.2f}x"
    )


def compare(args, images, labels, policy):
    """Interleaved rounds of tfvision, keras.applications and PyTorch."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        shape = (args.image_size, args.image_size, 3)
        ours = MobileNetV2(alpha=args.alpha, input_shape=shape, classes=CLASSES)
        reference = keras.applications.MobileNetV2(
            input_shape=shape, alpha=args.alpha, weights=None, classes=CLASSES
        )
        steps = {
            "tfvision": keras_step(ours, images, labels),
            "keras.applications": keras_step(reference, images, labels),
        }
        torch_version = torch_available()
        if torch_version:
            import torch

            autocast = torch.bfloat16 if policy == "mixed_bfloat16" else None
            step = torch_step(args, images, labels, autocast)
            steps[f"PyTorch {torch_version}"] = step
        rates = throughput(steps, args)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    lines = [
        summary(peer, policy, rates["tfvision"], rate)
        for peer, rate in rates.items()
        if peer != "tfvision"
    ]
    if not torch_version:
        lines.append(f"PyTorch comparison ({policy}) skipped: `import torch` failed.")
    return lines


def torch_available():
    """The torch version string, or None when `import torch` fails."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.__version__


def main():
    args = parse_args()
    images, labels = synthetic_batch(args)
    print(
        f"MobileNetV2 training, alpha {args.alpha}, {args.image_size}px, "
        f"batch {args.batch_size}, {args.rounds} alternating rounds x "
        f"{args.steps} step(s) per peer, median-ratio round reported"
    )
    float32_lines = compare(args, images, labels, "float32")
    print("\n".join(float32_lines), flush=True)
    print("\n".join(compare(args, images, labels, "mixed_bfloat16")), flush=True)
    # The float32 tfvision / keras.applications summary comes last.
    print(float32_lines[0])


if __name__ == "__main__":
    main()
