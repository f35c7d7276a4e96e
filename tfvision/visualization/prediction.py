"""The classifier's sanity-check figure: the image beside its top-K bar chart."""

import numpy as np
from matplotlib.figure import Figure


def plot_top_k(image, scores, names, path, title=None):
    """Writes a PNG with the image on top and a horizontal bar chart of the top K.

    Args:
        image: array `[H, W, 3]`, RGB in 0..255.
        scores: array `[K]` of probabilities, highest first.
        names: list of `K` class names.
        path: str. Destination PNG.
        title: str. Title over the image; defaults to the top class.

    Returns:
        `path`.
    """
    image = np.clip(np.asarray(image, dtype=np.float32), 0, 255).astype(np.uint8)
    figure = Figure(figsize=(4.5, 7))
    image_axis, bar_axis = figure.subplots(2, 1, height_ratios=[3, 2])
    image_axis.imshow(image)
    image_axis.set_title(title or names[0])
    image_axis.axis("off")
    positions = np.arange(len(names))
    bar_axis.barh(positions, scores, color="tab:blue")
    bar_axis.set_yticks(positions, labels=names)
    bar_axis.invert_yaxis()  # Highest probability on top.
    bar_axis.set_xlim(0, 1)
    bar_axis.set_xlabel("probability")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
