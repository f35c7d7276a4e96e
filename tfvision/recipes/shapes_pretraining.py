"""Pretrains the built-in `shapes` MobileNetV2 weights on generated scenes.

ImageNet weights cannot be downloaded everywhere tfvision runs (CI machines,
air-gapped servers), yet a transfer-learning recipe needs a pretrained
backbone. tfvision therefore ships one small backbone, MobileNetV2 alpha 0.35
(`weights="shapes"`), trained by this module on 20,000 generated shapes scenes
whose seed (1000) none of the demo, notebook or test splits use. The tasks are
the dominant shape (softmax) and the set of shapes present (sigmoid); the
classifier recipe then trains a new head on top, as it would on ImageNet
features.

Reproduce the shipped file (12 minutes on 2 CPU cores; the shipped run ended
at 99.4% validation accuracy on the dominant shape and 81.8% binary accuracy
on the shapes present):

    python -m tfvision.recipes.shapes_pretraining --out FILE
"""

import argparse
import time

import keras
import tensorflow as tf

from tfvision.data.synthetic.scenes import generate_shapes
from tfvision.models.mobilenet_v2.mobilenet_v2_backbone import MobileNetV2

PRETRAINING_SEED = 1000
VALIDATION_SEED = 2000


def pretrain_shapes_backbone(out, num_images=20000, image_size=64, epochs=12,
                             batch_size=64, learning_rate=2e-3, seed=0):
    """Trains MobileNetV2 alpha 0.35 on the shapes tasks; saves the backbone weights.

    Returns:
        The final validation logs, `{metric: value}`.
    """
    keras.utils.set_random_seed(seed)
    train = generate_shapes(num_images, image_size=image_size, seed=PRETRAINING_SEED)
    valid = generate_shapes(500, image_size=image_size, seed=VALIDATION_SEED)
    backbone = MobileNetV2(alpha=0.35, input_shape=(None, None, 3), include_top=False,
                           pooling="avg", bn_momentum=0.99)
    inputs = keras.Input((image_size, image_size, 3))
    features = backbone(MobileNetV2.preprocess(inputs))
    outputs = {
        "present": keras.layers.Dense(6, activation="sigmoid", name="present")(features),
        "dominant": keras.layers.Dense(6, activation="softmax", name="dominant")(features),
    }
    model = keras.Model(inputs, outputs)
    steps = epochs * (num_images // batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
        loss={"present": "binary_crossentropy", "dominant": "sparse_categorical_crossentropy"},
        metrics={"present": [keras.metrics.BinaryAccuracy(name="accuracy")],
                 "dominant": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
    )

    def augment(image, targets):
        image = tf.image.random_flip_left_right(image)
        image = tf.image.rot90(image, tf.random.uniform([], 0, 4, tf.int32))
        return tf.cast(image, tf.float32), targets

    def targets(data):
        return {"present": data["multi_hot"], "dominant": data["class_label"]}

    train_ds = (
        tf.data.Dataset.from_tensor_slices((train["images"], targets(train)))
        .shuffle(num_images, seed=seed)
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    valid_ds = tf.data.Dataset.from_tensor_slices(
        (tf.cast(valid["images"], tf.float32), targets(valid))
    ).batch(100)
    start = time.monotonic()
    history = model.fit(train_ds, validation_data=valid_ds, epochs=epochs, verbose=2)
    print(f"pretraining took {time.monotonic() - start:.0f} s")
    backbone.save_weights(out)
    return {key: values[-1] for key, values in history.history.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="destination .weights.h5 file")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--num-images", type=int, default=20000)
    args = parser.parse_args(argv)
    logs = pretrain_shapes_backbone(args.out, num_images=args.num_images, epochs=args.epochs)
    print({key: round(value, 4) for key, value in logs.items()})


if __name__ == "__main__":
    main()
