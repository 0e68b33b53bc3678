"""fastnn: fast, functional neural networks on the CPU.

Parameters are a plain dict of NumPy arrays (``W1, b1, ..., WL, bL``); every step is
a function. The per-sample training loop is compiled with Numba.
"""
from ._numba_cache import ensure_cache_dir as _ensure_cache_dir

_ensure_cache_dir()  # before any kernel is imported

from ._version import __version__  # noqa: E402
from .initializers import init_params
from .io import load, save
from .metrics import accuracy, confusion_matrix
from .network import backward, forward, predict, predict_proba, update
from .training import DivergenceError, TrainingInterrupted, train
from . import augment, datasets, optim, schedules  # noqa: E402  (modules: fastnn.optim.adam(...), ...)

__all__ = [
    "__version__",
    "init_params",
    "forward",
    "backward",
    "update",
    "predict_proba",
    "predict",
    "accuracy",
    "confusion_matrix",
    "save",
    "load",
    "train",
    "DivergenceError",
    "TrainingInterrupted",
    "augment",
    "datasets",
    "optim",
    "schedules",
]
