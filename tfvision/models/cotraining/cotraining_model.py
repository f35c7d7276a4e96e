"""`CoTraining`: two models, one per view, trained side by side in one `fit`."""

import keras
import tensorflow as tf

from tfvision.losses.cross_replica import num_replicas
from tfvision.models.multi_worker import MultiWorkerTrainerMixin


@keras.saving.register_keras_serializable(package="tfvision")
class CoTraining(MultiWorkerTrainerMixin, keras.Model):
    """Two classifiers over two aligned views of the same samples.

    Model 0 sees view 0 and model 1 sees view 1. A training batch holds one
    labelled batch per view, `((images0, images1), (labels0, labels1))`: the
    two training sets differ once pseudo-labels are exchanged (model 0 learns
    from model 1's picks and the reverse), so the two halves of a training
    batch are *not* the same samples. Each model has its own optimizer and
    loss; the step follows Keras' order (unpack, tape, forward, loss,
    gradients, apply, metrics) once per model. An evaluation batch holds
    aligned samples, `((images0, images1), labels)`, and reports both models'
    loss and accuracy and the accuracy of their averaged prediction (the
    ensemble). The step traces under `tf.function` and compiles under XLA.
    Under a `tf.distribute` strategy each replica's loss is divided by the
    number of replicas, so the summed gradients are those of the global batch.

    `fit_rounds` (see `rounds.py`) wraps `fit` in co-training rounds.

    Args:
        model0: a `keras.Model` mapping view-0 images to class probabilities
            `[B, C]` (for example an `ImageClassifier`).
        model1: a `keras.Model` for view 1 with the same `C` classes.

    Returns (call):
        `{"view0": [B, C], "view1": [B, C], "ensemble": [B, C]}` probabilities,
        float32; the ensemble is the mean of the two.

    References:
        Blum & Mitchell, "Combining labeled and unlabeled data with
        co-training", COLT 1998.

    Example:

    >>> import numpy as np
    >>> from tfvision.models.classifier import ImageClassifier
    >>> make = lambda: ImageClassifier(["a", "b"], image_size=32, alpha=0.35,
    ...     backbone_weights=None, hidden_units=(8,), freeze_backbone=False)
    >>> cotraining = CoTraining(make(), make())
    >>> cotraining.compile(learning_rate=1e-3)
    >>> images = np.zeros((4, 32, 32, 3), "float32")
    >>> cotraining.predict((images, images), verbose=0)["ensemble"].shape
    (4, 2)
    """

    def __init__(self, model0, model1, **kwargs):
        super().__init__(**kwargs)
        # === Models ===
        self.model0 = model0
        self.model1 = model1
        # === Metrics ===
        self.loss_trackers = [keras.metrics.Mean(name=f"loss{i}") for i in range(2)]
        self.accuracies = [keras.metrics.SparseCategoricalAccuracy(name=f"accuracy{i}")
                           for i in range(2)]
        self.ensemble_accuracy = keras.metrics.SparseCategoricalAccuracy(
            name="ensemble_accuracy")
        # Two functional models come built: so is the pair (export needs it).
        self.built = bool(model0.built and model1.built)

    @property
    def models(self):
        """`(model0, model1)`."""
        return (self.model0, self.model1)

    @property
    def metrics(self):
        return [*self.loss_trackers, *self.accuracies, self.ensemble_accuracy]

    def call(self, inputs, training=False):
        view0, view1 = inputs
        p0 = keras.ops.cast(self.model0(view0, training=training), "float32")  # [B, C]
        p1 = keras.ops.cast(self.model1(view1, training=training), "float32")  # [B, C]
        return {"view0": p0, "view1": p1, "ensemble": (p0 + p1) / 2.0}

    def compile(self, optimizer0=None, optimizer1=None, learning_rate=1e-3, loss=None,
                **kwargs):
        """Gives each model its own optimizer; both share the loss function.

        Under the `mixed_float16` policy each optimizer is wrapped in a
        `LossScaleOptimizer`.

        Args:
            optimizer0: a Keras optimizer for model 0. Defaults to
                `Adam(learning_rate)`.
            optimizer1: a Keras optimizer for model 1. Defaults to
                `Adam(learning_rate)`.
            learning_rate: float. For the default optimizers. Defaults to `1e-3`.
            loss: a Keras loss on `(labels, probabilities)`. Defaults to
                `SparseCategoricalCrossentropy()`.
            **kwargs: passed to `keras.Model.compile` (for example `jit_compile`).
        """
        super().compile(optimizer=None, **kwargs)
        optimizers = []
        for optimizer in (optimizer0, optimizer1):
            if optimizer is None:
                optimizer = keras.optimizers.Adam(float(learning_rate))
            optimizer = keras.optimizers.get(optimizer)
            if (keras.mixed_precision.global_policy().name == "mixed_float16"
                    and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizers.append(optimizer)
        self.optimizer0, self.optimizer1 = optimizers
        self.loss_fn = keras.losses.get(loss) if loss is not None else (
            keras.losses.SparseCategoricalCrossentropy())
        if self.built:
            # Optimizer variables now, in the caller's `strategy.scope()`: built
            # lazily inside a distributed step they would be per-replica.
            self.build()

    @property
    def optimizers(self):
        """`(optimizer0, optimizer1)`."""
        return (self.optimizer0, self.optimizer1)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {
            "optimizer0": keras.saving.serialize_keras_object(self.optimizer0),
            "optimizer1": keras.saving.serialize_keras_object(self.optimizer1),
            "loss": keras.saving.serialize_keras_object(self.loss_fn),
        }

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            for model, optimizer in zip(self.models, self.optimizers):
                optimizer.build(model.trainable_variables)

    def build(self, input_shape=None):
        # Both models are built by their own constructors (functional models).
        for model, optimizer in zip(self.models, getattr(self, "optimizers", (None, None))):
            if optimizer is not None and not optimizer.built:
                optimizer.build(model.trainable_variables)
        self.built = True

    def train_step(self, data):
        (view0, view1), (labels0, labels1) = data
        for i, (model, optimizer, images, labels) in enumerate(
                zip(self.models, self.optimizers, (view0, view1), (labels0, labels1))):
            with tf.GradientTape() as tape:
                probabilities = model(images, training=True)  # [B, C]
                loss = self._batch_loss(labels, probabilities)
                # Gradients are summed over replicas: average the loss instead.
                scaled = optimizer.scale_loss(loss / num_replicas())
            gradients = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            # Weighted by the batch: replicas' batches may differ in size.
            self.loss_trackers[i].update_state(loss, sample_weight=tf.shape(labels)[0])
            self.accuracies[i].update_state(labels, probabilities)
        return {m.name: m.result() for m in (*self.loss_trackers, *self.accuracies)}

    def _batch_loss(self, labels, probabilities):
        """Mean loss over this replica's batch.

        A Keras `Loss` comes divided by the replica count (Keras sums the
        replicas' gradients); that is undone here so metrics see the mean.
        """
        loss = self.loss_fn(labels, probabilities)
        if isinstance(self.loss_fn, keras.losses.Loss):
            return loss * num_replicas()
        return keras.ops.mean(loss)

    def test_step(self, data):
        (view0, view1), labels = data
        outputs = self((view0, view1), training=False)
        for i, key in enumerate(("view0", "view1")):
            self.loss_trackers[i].update_state(self._batch_loss(labels, outputs[key]),
                                               sample_weight=tf.shape(labels)[0])
            self.accuracies[i].update_state(labels, outputs[key])
        self.ensemble_accuracy.update_state(labels, outputs["ensemble"])
        return {m.name: m.result() for m in self.metrics}

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def get_config(self):
        config = super().get_config()
        config.update({
            "model0": keras.saving.serialize_keras_object(self.model0),
            "model1": keras.saving.serialize_keras_object(self.model1),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("model0", "model1"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
