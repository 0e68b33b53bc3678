"""Create the params dict of a multilayer perceptron."""
from collections.abc import Sequence
from typing import Callable, Optional

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .typing import Array

from .validation import check_choice, check_dtype, check_layer_sizes


def _he(rng: np.random.Generator, fan_in: int, fan_out: int, rows: int) -> NDArray[np.float64]:
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), (rows, fan_out))


def _xavier(rng: np.random.Generator, fan_in: int, fan_out: int, rows: int) -> NDArray[np.float64]:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (rows, fan_out))


def _normal(rng: np.random.Generator, fan_in: int, fan_out: int, rows: int) -> NDArray[np.float64]:
    return rng.normal(0.0, 0.01, (rows, fan_out))


def _uniform(rng: np.random.Generator, fan_in: int, fan_out: int, rows: int) -> NDArray[np.float64]:
    return rng.uniform(-0.5, 0.5, (rows, fan_out))


INITIALIZERS: dict[str, Callable[[np.random.Generator, int, int, int], NDArray[np.float64]]] = {
    "he": _he, "xavier": _xavier, "normal": _normal, "uniform": _uniform}
"""Weight initialisers by name; each maps ``(rng, fan_in, fan_out, rows)`` to the next ``rows`` rows
of a ``(fan_in, fan_out)`` float64 matrix (the generator fills values in order, so blocks of rows
equal one whole draw)."""

FILL_BLOCK_BYTES = 1 << 24
"""Weights are drawn in float64 blocks of about this many bytes and cast into the final array: a
``2**20 x 256`` float32 layer (1 GiB) then never needs its 2 GiB float64 twin."""


def init_params(layer_sizes: Sequence[int], *, init: str = "he", seed: Optional[int] = None,
                dtype: DTypeLike = "float32") -> dict[str, Array]:
    """Random weights and zero biases for a dense network.

    Parameters
    ----------
    layer_sizes : sequence of int
        Input width, hidden widths, output width, e.g. ``[784, 128, 64, 10]``.
    init : {'he', 'xavier', 'normal', 'uniform'}
        ``he``: normal with std ``sqrt(2 / fan_in)`` (for ReLU). ``xavier``: Glorot
        *uniform*, ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` (for tanh and
        sigmoid). ``normal``: std 0.01. ``uniform``: ``U(-0.5, 0.5)``.
    seed : int or None
        Seed of the ``numpy.random.Generator``; the same seed gives identical arrays.
    dtype : {'float32', 'float64'}

    Returns
    -------
    dict
        ``{"W1": (n0, n1), "b1": (n1,), ..., "WL": ..., "bL": ...}``.

    Examples
    --------
    >>> import fastnn
    >>> params = fastnn.init_params([784, 128, 10], seed=0)
    >>> {k: v.shape for k, v in params.items()}
    {'W1': (784, 128), 'b1': (128,), 'W2': (128, 10), 'b2': (10,)}
    >>> params["W1"].dtype
    dtype('float32')
    """
    sizes = check_layer_sizes(layer_sizes)
    fill = INITIALIZERS[check_choice(init, tuple(INITIALIZERS), "init")]
    dt = check_dtype(dtype)
    rng = np.random.default_rng(seed)
    params: dict[str, Array] = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        W = np.empty((fan_in, fan_out), dtype=dt)
        step = max(1, FILL_BLOCK_BYTES // (8 * fan_out))
        for start in range(0, fan_in, step):
            rows = min(step, fan_in - start)
            W[start:start + rows] = fill(rng, fan_in, fan_out, rows)
        params[f"W{l}"] = W
        params[f"b{l}"] = np.zeros(fan_out, dtype=dt)
    return params
