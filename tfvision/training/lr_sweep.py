"""Learning-rate sweep: the same initial model trained at several rates."""

import dataclasses

import keras


@dataclasses.dataclass
class SweepResult:
    """What a sweep found.

    Attributes:
        best_learning_rate: float. The rate with the best `monitor` value.
        scores: dict. `{learning_rate: best monitor value of that run}`.
        histories: dict. `{learning_rate: keras History.history}`.
    """

    best_learning_rate: float
    scores: dict
    histories: dict


def learning_rate_sweep(
    model,
    train_data,
    validation_data,
    learning_rates,
    epochs=1,
    monitor="val_accuracy",
    mode="max",
    compile_fn=None,
    verbose=0,
):
    """Trains `model` once per learning rate, each run from the same weights.

    Every run starts from the weights `model` has when the sweep starts (the
    same initial head), with a fresh optimizer. The model ends with the
    weights of the best run, so training can go on from there.

    Args:
        model: a `keras.Model`.
        train_data: a `tf.data.Dataset` of `(inputs, targets)`.
        validation_data: a `tf.data.Dataset` for `monitor`.
        learning_rates: list of float, each > 0.
        epochs: int. Epochs per run. Defaults to `1`.
        monitor: str. Defaults to `"val_accuracy"`.
        mode: `"max"` or `"min"`. Defaults to `"max"`.
        compile_fn: callable `(model, learning_rate)` that compiles the model.
            Defaults to `model.compile(optimizer=Adam(learning_rate))`, which
            suits tfvision tasks (their loss and metrics default sensibly).
        verbose: int. `model.fit` verbosity. Defaults to `0`.

    Returns:
        A `SweepResult`.
    """
    learning_rates = [float(rate) for rate in learning_rates]
    if not learning_rates or min(learning_rates) <= 0:
        raise ValueError(
            f"`learning_rates` must be positive numbers. Received: {learning_rates}"
        )
    if mode not in ("max", "min"):
        raise ValueError(f"`mode` must be 'max' or 'min'. Received: mode={mode!r}")
    if compile_fn is None:

        def compile_fn(model, learning_rate):
            model.compile(optimizer=keras.optimizers.Adam(learning_rate))

    pick = max if mode == "max" else min
    initial = model.get_weights()
    scores, histories = {}, {}
    best_rate, best_weights = None, None
    for rate in learning_rates:
        model.set_weights(initial)
        compile_fn(model, rate)
        history = model.fit(
            train_data, validation_data=validation_data, epochs=epochs, verbose=verbose
        ).history
        if monitor not in history:
            raise ValueError(
                f"`monitor` is not among the metrics {sorted(history)}. "
                f"Received: monitor={monitor!r}"
            )
        histories[rate] = history
        scores[rate] = pick(history[monitor])
        if best_rate is None or pick(scores[rate], scores[best_rate]) != scores[best_rate]:
            best_rate, best_weights = rate, model.get_weights()
    model.set_weights(best_weights)
    return SweepResult(best_rate, scores, histories)
