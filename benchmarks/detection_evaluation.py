"""The cost of validation mAP during detector training, against the epoch it follows.

At `make demo`'s settings (SSDLite-MobileNetV2 alpha 0.35, 128 px, the shapes
backbone, batch 32, 2000 training and 300 validation images, no
augmentation), times one training epoch (`model.fit`, Keras' validation loss
included, as the recipe runs it) and one `DetectionEvaluation` (predict the
validation split, pycocotools and VOC07), each after a first run that traces.
Both phases are timed: frozen backbone (the demo's first 3 epochs) and
fine-tuning (its last 8). The last line gives the evaluation's share of
an epoch; the detector recipe's `--eval-every 1` should not more than double
an epoch (ratio <= 1). Run:

    .venv/bin/python benchmarks/detection_evaluation.py
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from tfvision.data.detection.sources import detection_data  # noqa: E402
from tfvision.training import DetectionEvaluation  # noqa: E402
from tfvision.models.ssd import ssdlite_mobilenet_v2  # noqa: E402
from tfvision.recipes.detector import one_cycle_adam  # noqa: E402


def timed(fn, repeats):
    fn()  # traces
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--valid-images", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    size, batch = args.image_size, args.batch_size
    train = detection_data("shapes", "train", size, batch, training=False,
                           num_images=args.train_images)
    valid = detection_data("shapes", "valid", size, batch, training=False,
                           num_images=args.valid_images)
    model = ssdlite_mobilenet_v2(train.class_names, alpha=0.35, image_size=size,
                                 backbone_weights="shapes", freeze_backbone=True)
    model.compile(optimizer=one_cycle_adam(0.01, 10_000))
    evaluation = DetectionEvaluation(valid.dataset, valid.class_names)
    evaluation.set_model(model)
    evaluation.set_params({"epochs": 1})
    print(f"SSDLite-MobileNetV2 0.35, {size} px, batch {batch}, {train.num_examples} training "
          f"and {valid.num_examples} validation images (keras {keras.__version__})")
    ratios = []
    for phase in ("frozen backbone", "fine-tuning"):
        if phase == "fine-tuning":
            model.set_backbone_trainable(True)
            model.compile(optimizer=one_cycle_adam(0.003, 10_000))
        epoch = timed(lambda: model.fit(train.dataset, validation_data=valid.dataset,
                                        epochs=1, verbose=0), args.repeats)
        evaluate = timed(lambda: evaluation.on_epoch_end(0, {}), args.repeats)
        ratios.append(evaluate / epoch)
        print(f"{phase}: epoch {epoch:.1f} s, validation mAP {evaluate:.1f} s, "
              f"ratio {evaluate / epoch:.2f}")
    print(f"training epoch (peer) vs validation mAP: frozen {ratios[0]:.2f}x, "
          f"fine-tuning {ratios[1]:.2f}x of an epoch's time")


if __name__ == "__main__":
    main()
