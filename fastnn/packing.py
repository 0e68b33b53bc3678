"""The params dict packed into one flat buffer, as the compiled kernels take it.

Layer by layer: ``W1`` row by row, then ``b1``, ``W2``, ``b2``, ... ``sizes`` holds the
layer widths and ``offsets`` where each ``W`` and ``b`` starts. One buffer is what the
per-thread replicas copy, what optimizer slots mirror and what a lazy L2 scale folds into.
The buffer, widths and offsets travel as one record, :class:`Packed`, and the
per-call options beside it as another, :class:`KernelOptions`.
"""
from typing import NamedTuple, Optional

import numpy as np
from numpy.typing import DTypeLike

from .typing import Array, Layers
from .validation import layer_sizes_of


class Packed(NamedTuple):
    """The packed parameters as one record, as the kernels take them (fields read by name).

    ``theta`` is the flat buffer, ``sizes`` (int64, L + 1) the layer widths and ``offsets``
    (int64, 2L) where ``W1``, ``b1``, ``W2``, ... start in it. A plain tuple too:
    ``theta, sizes, offsets = pack(layers)``.

    Examples
    --------
    >>> from fastnn.packing import pack
    >>> net = pack([(np.ones((2, 3)), np.zeros(3)), (np.ones((3, 1)), np.zeros(1))])
    >>> net.theta.size, net.sizes, net.offsets
    (13, array([2, 3, 1]), array([ 0,  6,  9, 12]))
    """

    theta: np.ndarray
    sizes: np.ndarray
    offsets: np.ndarray


def pack(layers: Layers) -> Packed:
    """Flat copy of ``[(W1, b1), ...]``: the :class:`Packed` buffer, layer ``sizes`` and ``offsets``.

    Examples
    --------
    >>> from fastnn.packing import pack
    >>> W1, b1 = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([5.0, 6.0])
    >>> theta, sizes, offsets = pack([(W1, b1)])
    >>> theta, theta.ctypes.data % 64  # W1 row by row, then b1; on a cache line
    (array([1., 2., 3., 4., 5., 6.]), 0)
    """
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


def packed_of(layers: Layers) -> Optional[Packed]:
    """The :class:`Packed` record whose views ``layers`` are, when they are: the arrays lie
    one after the other in memory in :func:`pack`'s layout (as :func:`unpack_views` of one
    buffer gives them), all C-contiguous, of one dtype and parts of one array. None otherwise.

    ``fastnn.training.train_in_place`` trains such params where they are, with no copy.

    Examples
    --------
    >>> from fastnn.packing import pack, packed_of, unpack, unpack_views
    >>> net = pack([(np.ones((2, 3)), np.zeros(3)), (np.ones((3, 1)), np.zeros(1))])
    >>> found = packed_of(unpack_views(*net))
    >>> np.shares_memory(found.theta, net.theta), found.theta.size, found.offsets
    (True, 13, array([ 0,  6,  9, 12]))
    >>> params = unpack(*net)  # copies: separate arrays
    >>> print(packed_of([(params["W1"], params["b1"]), (params["W2"], params["b2"])]))
    None
    """
    arrays = [a for pair in layers for a in pair]
    first, dtype = arrays[0], arrays[0].dtype
    owner = first.base if first.base is not None else first
    if not all(isinstance(a, np.ndarray) and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
               and (a.base is owner or a is owner) for a in arrays):
        return None
    start = first.ctypes.data
    offsets, pos = [], 0
    for a in arrays:
        if a.ctypes.data != start + pos * dtype.itemsize:
            return None
        offsets.append(pos)
        pos += a.size
    if start % 64:
        return None
    # one array over them all: a view of the first, widened; they are parts of one array (one base)
    # that lie back to back, so the widened view stays inside that array's memory
    theta = np.lib.stride_tricks.as_strided(first.reshape(-1), shape=(pos,), strides=(dtype.itemsize,),
                                            writeable=True)
    return Packed(theta, np.array(layer_sizes_of(layers), dtype=np.int64), np.array(offsets, dtype=np.int64))


def _aligned_empty(n: int, dtype: DTypeLike) -> np.ndarray:
    """A 1-D array whose first element starts a 64-byte cache line, so that threads that
    split ``W1``'s columns on line boundaries (``fastnn.per_sample.split_units``) share none."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(n * itemsize + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + n * itemsize].view(dtype)


def unpack(theta: np.ndarray, sizes: np.ndarray, offsets: np.ndarray) -> dict[str, Array]:
    """The params dict of a flat buffer made by :func:`pack` (fresh copies).

    Examples
    --------
    >>> from fastnn.packing import pack, unpack
    >>> params = unpack(*pack([(np.eye(2), np.array([0.5, -0.5]))]))
    >>> sorted(params), params["b1"]
    (['W1', 'b1'], array([ 0.5, -0.5]))
    """
    params = {}
    for l, (W, b) in enumerate(unpack_views(theta, sizes, offsets), 1):
        params[f"W{l}"], params[f"b{l}"] = W.copy(), b.copy()
    return params


def unpack_views(theta: np.ndarray, sizes: np.ndarray, offsets: np.ndarray) -> list[tuple[Array, Array]]:
    """``[(W1, b1), ...]`` as views into ``theta`` (writing to them writes ``theta``).

    Examples
    --------
    >>> from fastnn.packing import pack, unpack_views
    >>> net = pack([(np.zeros((2, 2)), np.zeros(2))])
    >>> [(W, b)] = unpack_views(*net)
    >>> W[0, 1] = 7.0
    >>> net.theta
    array([0., 7., 0., 0., 0., 0.])
    """
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

    Examples
    --------
    >>> from fastnn.kernel_codes import kernel_rule, wiring_codes
    >>> from fastnn.optim import sgd
    >>> from fastnn.packing import KernelOptions
    >>> hidden, output, loss = wiring_codes("relu", "softmax", "cross_entropy")
    >>> rule, hyper = kernel_rule(sgd(0.1))
    >>> opts = KernelOptions(hidden, output, loss, l2=0.0, keep=np.ones(2), seed=0, rule=rule, hyper=hyper)
    >>> opts.keep, opts.hyper.size
    (array([1., 1.]), 0)
    """

    hidden: int
    output: int
    loss: int
    l2: float
    keep: np.ndarray
    seed: int
    rule: int
    hyper: np.ndarray
