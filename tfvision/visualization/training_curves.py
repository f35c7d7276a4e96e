"""Plot of the training curves kept in a Keras CSV history."""

import csv

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def read_history(csv_path):
    """Reads a `keras.callbacks.CSVLogger` file into `{metric: [values]}`."""
    return {key: values for key, (_, values) in read_history_epochs(csv_path).items()}


def read_history_epochs(csv_path):
    """Reads a CSV history into `{metric: (epochs, values)}`, epochs counted from 1.

    Keras writes "NA" for a metric missing from an epoch (the `val_*` columns
    of a run without validation data; validation mAP computed every N
    epochs): those epochs are left out of that metric's lists.
    """
    history = {}
    with open(csv_path, newline="") as handle:
        for row in csv.DictReader(handle):
            epoch = int(row["epoch"]) + 1
            for key, value in row.items():
                if key == "epoch" or value in ("", None, "NA"):
                    continue
                epochs, values = history.setdefault(key, ([], []))
                epochs.append(epoch)
                values.append(float(value))
    return history


def plot_training_curves(csv_path, png_path):
    """Draws one panel per metric, training beside validation, into a PNG.

    Validation metrics without a training counterpart (a detector's
    validation mAP) share one more panel, each point at its epoch.

    Args:
        csv_path: str. A CSV history with an `epoch` column.
        png_path: str. Where to write the figure.

    Returns:
        The metrics plotted, as `{name: [values]}`.
    """
    columns = read_history_epochs(csv_path)
    history = {key: values for key, (_, values) in columns.items()}
    names = sorted(k for k in history if not k.startswith("val_") and k != "learning_rate")
    validation_only = sorted(k for k in history if k.startswith("val_") and k[4:] not in history)
    if not names:
        return history
    panels = len(names) + bool(validation_only)
    # A bare Figure draws without pyplot, so no GUI backend is touched.
    figure = Figure(figsize=(5 * panels, 3.5))
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for axis, name in zip(axes, names):
        axis.plot(*columns[name], marker="o", label=f"train {name}")
        if f"val_{name}" in columns:
            axis.plot(*columns[f"val_{name}"], marker="o", label=f"validation {name}")
        axis.set_title(name)
    if validation_only:
        for name in validation_only:
            axes[-1].plot(*columns[name], marker="o", label=name[4:])
        axes[-1].set_title("validation")
    for axis in axes:
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    return history
