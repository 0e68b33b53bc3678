"""The params dict packed into one flat buffer, as the compiled kernels take it.

Layer by layer: ``W1`` row by row, then ``b1``, ``W2``, ``b2``, ... ``sizes`` holds the
layer widths and ``offsets`` where each ``W`` and ``b`` starts. One buffer is what the
per-thread replicas copy, what optimizer slots mirror and what a lazy L2 scale folds into.
The buffer, widths and offsets travel as one record, :class:`Packed`, and the
per-call options beside it as another, :class:`KernelOptions`.
"""
from typing import NamedTuple

import numpy as np

from .validation import layer_sizes_of


class Packed(NamedTuple):
    """The packed parameters as one record, as the kernels take them (fields read by name).

    ``theta`` is the flat buffer, ``sizes`` (int64, L + 1) the layer widths and ``offsets``
    (int64, 2L) where ``W1``, ``b1``, ``W2``, ... start in it. A plain tuple too:
    ``theta, sizes, offsets = pack(layers)``.
    """

    theta: np.ndarray
    sizes: np.ndarray
    offsets: np.ndarray


def pack(layers) -> Packed:
    """Flat copy of ``[(W1, b1), ...]``: the :class:`Packed` buffer, layer ``sizes`` and ``offsets``."""
    sizes = np.array(layer_sizes_of(layers), dtype=np.int64)
    offsets = np.zeros(2 * len(layers), dtype=np.int64)
    pos = 0
    for l, (W, b) in enumerate(layers):
        offsets[2 * l], offsets[2 * l + 1] = pos, pos + W.size
        pos += W.size + b.size
    theta = _aligned_empty(pos, layers[0][0].dtype)
    for l, (W, b) in enumerate(layers):
        theta[offsets[2 * l] : offsets[2 * l] + W.size] = W.ravel()
        theta[offsets[2 * l + 1] : offsets[2 * l + 1] + b.size] = b
    return Packed(theta, sizes, offsets)


def _aligned_empty(n, dtype):
    """A 1-D array whose first element starts a 64-byte cache line, so that threads that
    split ``W1``'s columns on line boundaries (``fastnn.per_sample.split_units``) share none."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(n * itemsize + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + n * itemsize].view(dtype)


def unpack(theta, sizes, offsets):
    """The params dict of a flat buffer made by :func:`pack` (fresh copies)."""
    params = {}
    for l, (W, b) in enumerate(unpack_views(theta, sizes, offsets), 1):
        params[f"W{l}"], params[f"b{l}"] = W.copy(), b.copy()
    return params


def unpack_views(theta, sizes, offsets):
    """``[(W1, b1), ...]`` as views into ``theta`` (writing to them writes ``theta``)."""
    out = []
    for l in range(len(sizes) - 1):
        n_in, n_out = int(sizes[l]), int(sizes[l + 1])
        w, b = int(offsets[2 * l]), int(offsets[2 * l + 1])
        out.append((theta[w : w + n_in * n_out].reshape(n_in, n_out), theta[b : b + n_out]))
    return out


class KernelOptions(NamedTuple):
    """The options of one kernel call, as one record Numba accepts (fields are read by name).

    ``hidden``, ``output``, ``loss`` and ``rule`` are the kernels' codes (constants of
    ``fastnn.kernels.sample`` and ``fastnn.kernels.rules``); ``l2`` the weight decay;
    ``keep`` (float64, one per layer, the last 1) the keep probability of each hidden
    layer's units; ``seed`` keys the dropout draws; ``hyper`` (float64) the rule's
    constants in the order of ``fastnn.kernel_codes.KERNEL_RULES``.
    """

    hidden: int
    output: int
    loss: int
    l2: float
    keep: np.ndarray
    seed: int
    rule: int
    hyper: np.ndarray
