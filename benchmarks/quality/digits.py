"""The quality benchmark's data: scikit-learn's handwritten digits, as files tfvision reads.

`sklearn.datasets.load_digits` ships 1,797 scans of handwritten digits (8x8,
values 0..16) inside the package: nothing is downloaded. A fixed stratified
split of the *scans* (70 % train, 10 % valid, 20 % test) feeds every set, so
no test image is ever drawn from a scan a model trained on:

- `clean/`: each scan upscaled to 24 px in a 32 px square, grey ink on black, as RGB PNG in an
  image folder `{train,valid,test}/<digit>/*.png` (`tfvision classifier train`).
- `hard/`: the same scans at 48 px, made hard for raw pixels: a textured or
  gradient background, fragments of other scans of the same split, rotation
  (±30°), scale (0.6–1.0), position jitter, colours, noise. `copies` renderings
  of each training scan, one of each valid and test scan.
- `hard_10pct/`: `hard` with the training images of a stratified 10 % of the
  training scans (valid and test unchanged): the few-label row.
- `detection/`: 128 px textured canvases holding 1–4 digits (20–60 px high,
  ink as alpha, turned up to ±15°) as COCO JSON, `{split}.json` + `{split}/`
  (`tfvision detector train --data "coco:DIR/{split}.json:DIR/{split}"`).
- `two_view/`: every scan as two aligned views, its left and its right five
  columns of eight, each drawn at 40 px on its own textured background (no
  fragments, turned up to ±10°; `VIEW`), and `manifest.csv`
  (`view0_path,view1_path,label`) for `tfvision cotrain`. Every sample carries
  its label; `cotrain --labelled-fraction` hides most of them (the pool), which
  lets the run report how often pseudo-labels are right.

Every file name starts with its scan id (`s0123_...`); `scans.json` in each
set lists the scan ids of every split. Run:

    python benchmarks/quality/digits.py OUT [--seed 0] [--quick]
"""

import argparse
import json
import os
import shutil

import numpy as np
from PIL import Image

try:
    import digit_rendering as draw
except ImportError:  # imported as a module of the benchmarks.quality package (tests)
    from benchmarks.quality import digit_rendering as draw

SPLITS = ("train", "valid", "test")
CLASS_NAMES = [str(digit) for digit in range(10)]
SPLIT_FRACTIONS = {"valid": 0.1, "test": 0.2}
HARD = draw.Clutter(size=48)
# Lighter than `HARD`: with fragments and 20 degree turns, an RBF SVC on the
# grey pixels of the 288 labelled samples of `make quality`'s co-training row
# scored 0.17 / 0.19 per view (chance is 0.10), too close to chance for any learner
# to show a co-training gain; with these, 0.32 / 0.32, where the held-out
# photographs' views started (0.29 / 0.36 labelled-only).
VIEW = draw.Clutter(size=40, rotation=10.0, scale=(0.8, 1.0), jitter=0.05, fragments=(0, 0),
                    noise=8.0)
DETECTION_COUNTS = {"train": 1200, "valid": 150, "test": 300}
_SPLIT_IDS = {name: i for i, name in enumerate(SPLITS)}


def load_scans():
    """`(scans float32 [1797, 8, 8] in 0..16, labels int64 [1797])`."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.float32), digits.target.astype(np.int64)


def split_scans(labels, seed=0):
    """Scan ids of each split: stratified, fixed by `seed`.

    Args:
        labels: int `[N]`, the digit of each scan.
        seed: int. Defaults to `0`.

    Returns:
        `{"train": int64 [n], "valid": ..., "test": ...}`, sorted.
    """
    rng = np.random.default_rng(seed)
    splits = {name: [] for name in SPLITS}
    for digit in np.unique(labels):
        ids = rng.permutation(np.flatnonzero(labels == digit))
        num_test = int(round(SPLIT_FRACTIONS["test"] * len(ids)))
        num_valid = int(round(SPLIT_FRACTIONS["valid"] * len(ids)))
        parts = {"test": ids[:num_test], "valid": ids[num_test : num_test + num_valid],
                 "train": ids[num_test + num_valid :]}
        for name, part in parts.items():
            splits[name].extend(part)
    return {name: np.sort(np.asarray(ids, np.int64)) for name, ids in splits.items()}


def _first_per_class(ids, labels, count):
    return np.sort(np.concatenate([ids[labels[ids] == digit][:count] for digit in range(10)]))


def _rng(seed, *keys):
    return np.random.default_rng([seed, *keys])


def _save(path, pixels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(pixels, np.uint8), mode="RGB").save(path)


def _write_scans_json(out, splits, **extra):
    with open(os.path.join(out, "scans.json"), "w") as handle:
        json.dump({**{name: ids.tolist() for name, ids in splits.items()}, **extra}, handle)


def write_clean(out, scans, labels, splits, size=32, margin=4):
    """`out/{split}/<digit>/s<id>.png`: each scan upscaled, grey on black, `margin` px around."""
    for split, ids in splits.items():
        for i in ids:
            grey = np.pad(np.round(draw.ink(scans[i], size - 2 * margin) * 255.0), margin)
            _save(os.path.join(out, split, CLASS_NAMES[labels[i]], f"s{i:04d}.png"),
                  np.repeat(grey[..., None], 3, axis=-1))
    _write_scans_json(out, splits)


def write_hard(out, scans, labels, splits, seed=0, copies=4, style=HARD):
    """`out/{split}/<digit>/s<id>_c<copy>.png`: `copies` cluttered renderings per training scan."""
    for split, ids in splits.items():
        others = scans[ids]  # fragments come from the same split
        for i in ids:
            for copy in range(copies if split == "train" else 1):
                pixels = draw.cluttered_digit(_rng(seed, 1, _SPLIT_IDS[split], i, copy), scans[i],
                                         others, style)
                _save(os.path.join(out, split, CLASS_NAMES[labels[i]], f"s{i:04d}_c{copy}.png"),
                      pixels)
    _write_scans_json(out, splits, copies=copies)


def write_label_subset(source, out, labels, splits, fraction=0.1, seed=0):
    """A copy of the image folder `source` whose train split keeps `fraction` of its scans."""
    rng = np.random.default_rng([seed, 2])
    kept = []
    for digit in np.unique(labels[splits["train"]]):
        ids = rng.permutation(splits["train"][labels[splits["train"]] == digit])
        kept.extend(ids[: max(1, int(round(fraction * len(ids))))])
    kept = set(int(i) for i in kept)
    if os.path.isdir(out):
        shutil.rmtree(out)
    for split in SPLITS:
        for name in CLASS_NAMES:
            folder = os.path.join(source, split, name)
            if not os.path.isdir(folder):
                continue
            for file in sorted(os.listdir(folder)):
                if split != "train" or int(file[1:5]) in kept:
                    os.makedirs(os.path.join(out, split, name), exist_ok=True)
                    shutil.copyfile(os.path.join(folder, file),
                                    os.path.join(out, split, name, file))
    _write_scans_json(out, {**splits, "train": np.array(sorted(kept), np.int64)})


def _overlaps(box, boxes, limit=0.1):
    for other in boxes:
        width = min(box[2], other[2]) - max(box[0], other[0])
        height = min(box[3], other[3]) - max(box[1], other[1])
        if width > 0 and height > 0:
            inter = width * height
            union = ((box[2] - box[0]) * (box[3] - box[1])
                     + (other[2] - other[0]) * (other[3] - other[1]) - inter)
            if inter / union > limit:
                return True
    return False


def detection_canvas(rng, scans, labels, ids, size=128):
    """One canvas: `(uint8 [size, size, 3], [[x, y, w, h], ...] pixels, [digit, ...])`."""
    canvas = draw.background(rng, size)
    boxes, digits = [], []
    for _ in range(rng.integers(1, 5)):
        i = ids[rng.integers(len(ids))]
        alpha = draw.ink(scans[i], int(rng.integers(20, 61)))
        alpha = draw.tight(draw.rotate(alpha, rng.uniform(-15, 15)))
        height, width = alpha.shape
        for _ in range(20):  # a place that overlaps no earlier digit much
            top = int(rng.integers(0, size - height + 1))
            left = int(rng.integers(0, size - width + 1))
            box = (left, top, left + width, top + height)
            if not _overlaps(box, boxes):
                break
        else:
            continue
        behind = canvas[top : top + height, left : left + width]
        draw.paste(canvas, alpha, draw.contrasting_colour(rng, behind), top, left)
        boxes.append(box)
        digits.append(int(labels[i]))
    pixels = draw.finish(rng, canvas, 12.0)
    return pixels, [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in boxes], digits


def write_detection(out, scans, labels, splits, seed=0, counts=None, size=128):
    """`out/{split}.json` (COCO) and `out/{split}/<n>.png`, drawn from the split's own scans."""
    counts = counts or DETECTION_COUNTS
    categories = [{"id": digit + 1, "name": name} for digit, name in enumerate(CLASS_NAMES)]
    for split, ids in splits.items():
        images, annotations = [], []
        for n in range(counts[split]):
            pixels, boxes, digits = detection_canvas(_rng(seed, 3, _SPLIT_IDS[split], n), scans,
                                                     labels, ids, size)
            file_name = f"{n:05d}.png"
            _save(os.path.join(out, split, file_name), pixels)
            images.append({"id": n + 1, "file_name": file_name, "width": size, "height": size})
            for box, digit in zip(boxes, digits):
                annotations.append({"id": len(annotations) + 1, "image_id": n + 1,
                                    "category_id": digit + 1, "bbox": [float(v) for v in box],
                                    "area": float(box[2] * box[3]), "iscrowd": 0})
        with open(os.path.join(out, f"{split}.json"), "w") as handle:
            json.dump({"images": images, "annotations": annotations, "categories": categories},
                      handle)
    _write_scans_json(out, splits)


def write_two_view(out, scans, labels, ids, seed=0, style=VIEW):
    """`out/view0/s<id>.png` (left 5 of 8 columns), `out/view1/s<id>.png` (right 5), `manifest.csv`.

    Each view is drawn on its own textured background (`style`).
    """
    halves = (slice(0, 5), slice(3, 8))
    rows = ["view0_path,view1_path,label"]
    for i in ids:
        paths = []
        for view, columns in enumerate(halves):
            path = f"view{view}/s{i:04d}.png"
            pixels = draw.cluttered_digit(_rng(seed, 4, view, i), scans[i][:, columns], scans[ids],
                                          style)
            _save(os.path.join(out, path), pixels)
            paths.append(path)
        rows.append(f"{paths[0]},{paths[1]},{CLASS_NAMES[labels[i]]}")
    with open(os.path.join(out, "manifest.csv"), "w") as handle:
        handle.write("\n".join(rows) + "\n")
    _write_scans_json(out, {"all": np.asarray(ids, np.int64)})


def write_all(out, seed=0, quick=False):
    """Writes every set under `out` (see the module docstring); returns `{set: folder}`.

    `quick` keeps 12 training and 4 valid / test scans per digit, one hard
    copy, 60 / 20 / 30 canvases: a smoke test of every row.
    """
    scans, labels = load_scans()
    splits = split_scans(labels, seed)
    if quick:
        splits = {name: _first_per_class(ids, labels, 12 if name == "train" else 4)
                  for name, ids in splits.items()}
    folders = {name: os.path.join(out, name)
               for name in ("clean", "hard", "hard_10pct", "detection", "two_view")}
    for folder in folders.values():
        if os.path.isdir(folder):
            shutil.rmtree(folder)
    write_clean(folders["clean"], scans, labels, splits)
    write_hard(folders["hard"], scans, labels, splits, seed, copies=1 if quick else 4)
    write_label_subset(folders["hard"], folders["hard_10pct"], labels, splits,
                       fraction=0.5 if quick else 0.1, seed=seed)
    write_detection(folders["detection"], scans, labels, splits, seed,
                    counts={"train": 60, "valid": 20, "test": 30} if quick else None)
    everything = np.sort(np.concatenate(list(splits.values())))
    write_two_view(folders["two_view"], scans, labels, everything, seed)
    with open(os.path.join(out, "digits.json"), "w") as handle:
        json.dump({"seed": seed, "quick": quick, "folders": folders}, handle)
    return folders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="split and drawing seed (default 0)")
    parser.add_argument("--quick", action="store_true", help="a small version for smoke tests")
    args = parser.parse_args(argv)
    for name, folder in write_all(args.out, args.seed, args.quick).items():
        print(f"{name}: {folder}")


if __name__ == "__main__":
    main()
