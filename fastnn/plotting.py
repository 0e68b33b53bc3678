"""PNG figures of a trained model: learning curves, confusion matrix, misclassified digits.

Uses matplotlib (the ``cli`` extra) through its object-oriented API with the Agg
renderer: no pyplot, no window, no global state, so it works on servers and in threads.
Each function writes one PNG of a fixed size in pixels (``FIGSIZES[name]`` inches times
``dpi``) and returns its path. Files are written under a temporary name and renamed, so
an existing file is never left half-written.
"""
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np
from numpy.typing import ArrayLike

from .files import atomic_path
from .typing import PathLike
from .validation import is_integer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
"""Default resolution: the PNGs are ``FIGSIZES[...]`` inches times this many pixels."""

FIGSIZES = {
    "learning_curves": (9.0, 3.6),  # 900 x 360 pixels at 100 dpi
    "confusion_matrix": (6.4, 5.6),  # 640 x 560
    "misclassified": (8.0, 8.8),  # 800 x 880
}
"""Figure sizes in inches, ``(width, height)``."""

__all__ = ["DPI", "FIGSIZES", "new_figure", "plot_learning_curves", "plot_confusion_matrix", "plot_misclassified"]


def new_figure(name: str, dpi: float) -> "Figure":
    """An empty matplotlib ``Figure`` of the size ``FIGSIZES[name]`` at ``dpi``.

    Raises ImportError without matplotlib and ValueError for a ``dpi`` outside [10, 1000], so a
    caller can check both before any work.

    Examples
    --------
    >>> from fastnn.plotting import new_figure
    >>> fig = new_figure("learning_curves", dpi=50)
    >>> fig.get_size_inches().tolist(), float(fig.dpi)     # 450 x 180 pixels
    ([9.0, 3.6], 50.0)
    >>> new_figure("learning_curves", dpi=5000)
    Traceback (most recent call last):
        ...
    ValueError: dpi must be a number between 10 and 1000, got 5000
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: python -m pip install -e '.[cli]' "
                          "in the fastnn source folder (or pip install matplotlib)") from None
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 10 <= dpi <= 1000:
        raise ValueError(f"dpi must be a number between 10 and 1000, got {dpi!r}")
    return Figure(figsize=FIGSIZES[name], dpi=dpi, layout="constrained")


def _save(fig: "Figure", path: PathLike) -> str:
    target = os.fspath(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=fig.dpi)
    return target


def plot_learning_curves(history: Mapping[str, Any], path: PathLike, *, title: Optional[str] = None,
                         dpi: float = DPI) -> str:
    """Loss and accuracy per epoch, train beside test, as a PNG.

    Parameters
    ----------
    history : dict of lists
        As returned by :func:`fastnn.training.train`: ``epoch``, ``loss``, ``accuracy``, and
        optionally ``val_loss``, ``val_accuracy`` (drawn as "test").
    path : str or os.PathLike
    title : str, optional
    dpi : float

    Returns
    -------
    str
        The path written (``FIGSIZES['learning_curves']`` inches x ``dpi``: 900 x 360 px at 100 dpi).

    Examples
    --------
    >>> import os, tempfile
    >>> from fastnn.plotting import plot_learning_curves
    >>> history = {"epoch": [1, 2], "loss": [0.5, 0.3], "accuracy": [0.8, 0.9],
    ...            "val_loss": [0.4, 0.35], "val_accuracy": [0.85, 0.88]}
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> plot_learning_curves(history, path)                  # doctest: +ELLIPSIS
    '.../curves.png'
    >>> os.path.getsize(path) > 0
    True
    """
    for key in ("epoch", "loss", "accuracy"):
        if key not in history:
            raise ValueError(f"history has no {key!r}; pass the history returned by fastnn.training.train")
    epochs = list(history["epoch"])
    if not epochs:
        raise ValueError("history is empty: no completed epoch to plot")
    fig = new_figure("learning_curves", dpi)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for ax, key, label in ((loss_ax, "loss", "loss"), (acc_ax, "accuracy", "accuracy (%)")):
        scale = 100.0 if key == "accuracy" else 1.0
        ax.plot(epochs, np.asarray(history[key]) * scale, "o-", label="train (mean over the epoch)")
        if "val_" + key in history and len(history["val_" + key]) == len(epochs):
            ax.plot(epochs, np.asarray(history["val_" + key]) * scale, "s-", label="test (after the epoch)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xticks(epochs if len(epochs) <= 12 else epochs[:: math.ceil(len(epochs) / 12)])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    loss_ax.set_title("loss")
    acc_ax.set_title("accuracy")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion_matrix(cm: ArrayLike, path: PathLike, *, labels: Optional[Sequence[str]] = None,
                          title: Optional[str] = None, dpi: float = DPI) -> str:
    """A confusion matrix as an annotated heatmap PNG.

    Colours follow the counts on a power scale (gamma 0.3), so the few errors off the
    diagonal stay visible beside the thousands of correct predictions on it.

    Parameters
    ----------
    cm : ndarray (k, k)
        Counts, ``cm[i, j]`` = samples of true class ``i`` predicted as ``j``.
    path : str or os.PathLike
    labels : sequence of str, optional
        Class names (default ``0..k-1``).

    Returns
    -------
    str
        The path written (640 x 560 px at 100 dpi).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from fastnn.plotting import plot_confusion_matrix
    >>> path = os.path.join(tempfile.mkdtemp(), "cm.png")
    >>> plot_confusion_matrix(np.array([[5, 1], [0, 4]]), path, labels=["no", "yes"])   # doctest: +ELLIPSIS
    '.../cm.png'
    >>> os.path.getsize(path) > 0
    True
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 1 or cm.dtype.kind not in "iu":
        raise ValueError(f"cm must be a square matrix of integer counts, got shape {cm.shape}, dtype {cm.dtype}")
    k = cm.shape[0]
    labels = [str(i) for i in range(k)] if labels is None else [str(s) for s in labels]
    if len(labels) != k:
        raise ValueError(f"{len(labels)} labels for a {k} x {k} matrix")
    from matplotlib.colors import PowerNorm

    fig = new_figure("confusion_matrix", dpi)
    ax = fig.subplots()
    image = ax.imshow(cm, cmap="Blues", norm=PowerNorm(gamma=0.3, vmin=0, vmax=max(int(cm.max()), 1)))
    fig.colorbar(image, ax=ax, label="count")
    threshold = 0.5 * max(int(cm.max()), 1) ** 0.3
    size = "small" if k <= 12 else "xx-small"
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                dark = cm[i, j] ** 0.3 > threshold
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=size,
                        color="white" if dark else "black")
    long_names = max(map(len, labels)) > 2
    ax.set_xticks(range(k), labels, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"confusion matrix ({int(np.trace(cm))} of {int(cm.sum())} correct)")
    return _save(fig, path)


def plot_misclassified(images: ArrayLike, y_true: ArrayLike, y_pred: ArrayLike, path: PathLike, *,
                       labels: Optional[Sequence[str]] = None, max_images: int = 36, ncols: int = 6,
                       title: Optional[str] = None, dpi: float = DPI) -> str:
    """A grid of the first misclassified images, each titled "true → predicted", as a PNG.

    Parameters
    ----------
    images : ndarray (n, 784) or (n, 28, 28)
        Light ink on dark, in [0, 1] (as MNIST); drawn dark on light.
    y_true, y_pred : ndarray (n,)
        Integer labels.
    path : str or os.PathLike
    labels : sequence of str, optional
        Class names for the titles (default: the class numbers).
    max_images : int
        At most this many are drawn (the first ones in the order given).
    ncols : int
        Images per row.

    Returns
    -------
    str
        The path written (800 x 880 px at 100 dpi).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from fastnn.plotting import plot_misclassified
    >>> images = np.random.default_rng(0).random((4, 784))
    >>> path = os.path.join(tempfile.mkdtemp(), "wrong.png")
    >>> plot_misclassified(images, np.array([1, 2, 3, 4]), np.array([1, 7, 3, 9]), path)  # doctest: +ELLIPSIS
    '.../wrong.png'
    """
    images = np.asarray(images)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(f"rows of {images.shape[1]} pixels are not square images")
        images = images.reshape(len(images), side, side)
    if images.ndim != 3 or not (len(images) == len(y_true) == len(y_pred)):
        raise ValueError(f"need images (n, h, w) or (n, h*w) and n labels each; got {images.shape}, "
                         f"{y_true.shape}, {y_pred.shape}")
    for name, value in (("max_images", max_images), ("ncols", ncols)):
        if not is_integer(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[:max_images]
    class_name: Callable[[int], str] = (lambda c: str(labels[c])) if labels is not None else str

    fig = new_figure("misclassified", dpi)
    heading = title or f"misclassified: {len(wrong)} of {len(y_true)} (first {len(shown)}), true → predicted"
    fig.suptitle(heading)
    ax = fig.subplots()
    ax.set_axis_off()
    if len(shown) == 0:
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center", fontsize="large",
                transform=ax.transAxes)
        return _save(fig, path)
    # One mosaic image in one axes: far faster to lay out and draw than an axes per digit.
    h, w = images.shape[1:]
    band, gap = max(h // 2, 8), max(w // 7, 2)  # room for each label above its image; space between columns
    cols = min(ncols, len(shown))
    rows = math.ceil(len(shown) / cols)
    cell_h, cell_w = band + h + 2, w + 2 + gap  # each image sits in a 1-pixel frame
    mosaic = np.zeros((rows * cell_h, cols * cell_w - gap))
    fontsize = "medium" if labels is None else "x-small"
    for k, i in enumerate(shown):
        top, left = (k // cols) * cell_h + band, (k % cols) * cell_w
        mosaic[top : top + h + 2, left : left + w + 2] = 0.2  # light grey frame: the background is white
        mosaic[top + 1 : top + h + 1, left + 1 : left + w + 1] = np.clip(images[i], 0.0, 1.0)
        ax.text(left + (w + 1) / 2, top - 1, f"{class_name(int(y_true[i]))} → {class_name(int(y_pred[i]))}",
                ha="center", va="bottom", fontsize=fontsize)
    ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    return _save(fig, path)
