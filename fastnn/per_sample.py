"""The per-sample engine: compiled per-sample SGD steps over chunks of samples, on one thread or several.

One epoch visits the samples in ``order`` one at a time, each sample's step done before the
next sample is seen. :func:`choose_path` decides once per ``train`` call which compiled path
runs, and :class:`PerSampleEngine` runs an epoch as a series of compiled calls of a few
thousand samples each, so a diverging run stops early, Ctrl-C is seen and the progress bar
moves. The paths:

- ``"rows"``: plain SGD, one thread (``kernels.steps.sgd_steps``), skipping zero inputs and
  inactive units row by row; a CSR matrix is read row by row the same way, never densified;
- ``"windows"``: plain SGD on a dense array with more than ``DENSE_ABOVE`` of its entries
  non-zero, with any ``n_threads``: windows of ``WINDOW`` samples whose first-layer products
  are matrix products (``kernels.steps.window_steps``), still exactly per-sample SGD. One
  Python thread runs them; the matrix products use the cores through BLAS;
- ``"rules"``: any other rule (momentum, Adam, ...), one thread (``kernels.rules.rule_steps``),
  every weight every step;
- ``"split"`` (``n_threads > 1``, a first hidden layer of at least ``SPLIT_FROM`` units, and
  inputs dense enough that a compiled call's samples touch every row of ``W1`` about once or more:
  else ``"rows"``, see :func:`choose_path`): the
  threads split those units between them (``kernels.threads.split_steps``). Each trains its
  units' columns of ``W1`` in an array of its own and their rows of ``W2``, so no cache line
  of the large first layers is written by two cores, and the threads meet once per sample
  to add their shares of the second layer's sum: exactly per-sample SGD (the twin's steps,
  one sum added in another order);
- ``"replicas"`` (``n_threads > 1``, a narrower first layer or none, inputs as for
  ``"split"``): every thread trains its
  own replica of the parameters on its own share of the samples for ``ROUND`` samples (the
  one-thread kernel on each round's share), then the threads meet
  (``kernels.threads.merge_round``) and add the replicas' changes to the parameters, times
  a gain that rises from ``1 / n_threads`` (their mean) to 1 (their sum) over the first
  ``MERGE_WARMUP`` samples (:func:`merge_gain`); the replicas restart from the result
  (local SGD with model averaging, then delayed-update summing). Splitting a narrow layer
  leaves each thread rows too short to pay for the meeting at every sample.

Either way no cache line is written by two cores between meetings, and for a fixed
``n_threads`` and seed the result is deterministic.
"""
import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Callable, Optional, Union, cast

import numpy as np
from numpy.typing import DTypeLike

from .engine import EpochTally, over_limit
from .kernels import rules, sample, steps, threads
from .kernel_codes import kernel_rule, wiring_codes
from .optim import Optimizer
from .packing import KernelOptions, Packed, unpack_views

CHUNK = 4096
"""Samples per compiled call on one thread: small enough for a responsive Ctrl-C and
progress bar, large enough that the call overhead stays below 0.1% of the work."""

ROUND = 256
"""Samples each thread trains on its replica between two merges (``n_threads > 1``)..."""

FIRST_ROUND = 16
"""...after the first rounds, which start at this many samples and double up to ``ROUND``."""

MERGE_WARMUP = 60_000
"""Samples (all threads together) over which a merge goes from the replicas' mean to the
sum of their changes. The sum keeps every sample's full step, but early in training the
replicas step the same way and their sum overshoots; the mean is safe there but halves each
sample's step for good (as a warm-up of the learning rate does for large batches). Chosen
by test accuracy on MNIST (bench/threads.py)."""

SPLIT_FROM = 256
"""Threads split the first hidden layer's units when it has at least this many, and train
replicas otherwise: splitting pays on wide layers, replicas on narrow ones (bench/threads.py)."""

DENSE_ABOVE = 0.5
"""Plain SGD on a dense array runs in windows when more than this fraction of its entries is
non-zero (1.0: never), whatever ``n_threads``: on dense inputs the windows beat the row loop
on one thread and on two (bench/compare.py, the dense workload; ``--dense-above 2`` times
the row loop)."""

WINDOW = 64
"""Samples per window of the dense path."""

PATHS = ("rows", "windows", "rules", "split", "replicas")


def kernel_options(activation: str, output: str, loss: str, l2: float, keep: np.ndarray, seed: int,
                   optimizer: Optimizer) -> KernelOptions:
    """The kernels' options for one ``train`` call: the names mapped to the kernels' codes.

    The one place where activations, losses and update rules become kernel codes.

    Raises
    ------
    ValueError
        For an optimizer that is not one of the built-in rules (the kernels know no other).

    Examples
    --------
    >>> from fastnn import optim
    >>> from fastnn.per_sample import kernel_options
    >>> opts = kernel_options("relu", "softmax", "cross_entropy", 0, np.ones(2), 0, optim.momentum(0.1, beta=0.9))
    >>> type(opts.l2), opts.hyper
    (<class 'float'>, array([0.9]))
    """
    hidden, out, loss_code = wiring_codes(activation, output, loss)
    rule, constants = kernel_rule(optimizer)
    # plain Python numbers: an int l2 would be another Numba signature, compiled apart
    return KernelOptions(hidden, out, loss_code, float(l2),
                         np.asarray(keep, dtype=np.float64), int(seed), rule, constants)


def merge_gain(merged: int, n_threads: int) -> float:
    """The factor on the sum of the replicas' changes at a merge after ``merged`` samples:
    ``1 / n_threads`` (their mean) at the start, rising linearly to 1 (their sum) at
    ``MERGE_WARMUP`` samples.

    Examples
    --------
    >>> from fastnn.per_sample import MERGE_WARMUP, merge_gain
    >>> merge_gain(0, 4), merge_gain(MERGE_WARMUP // 2, 4), merge_gain(MERGE_WARMUP, 4)
    (0.25, 0.625, 1.0)
    """
    ramp = min(1.0, merged / MERGE_WARMUP) if MERGE_WARMUP > 0 else 1.0
    return 1.0 / n_threads + (1.0 - 1.0 / n_threads) * ramp


def splits_units(sizes: Sequence[int] | np.ndarray) -> bool:
    """Whether several threads split the first hidden layer (else they train replicas).

    Examples
    --------
    >>> from fastnn.per_sample import splits_units
    >>> splits_units([784, 512, 10]), splits_units([784, 64, 10]), splits_units([784, 10])
    (True, False, False)
    """
    return len(sizes) > 2 and sizes[1] >= SPLIT_FROM


def split_units(n_units: int, n_threads: int, itemsize: int) -> np.ndarray:
    """Boundaries (``n_threads + 1`` int64) of each thread's share of ``n_units`` hidden units.

    Shares are as even as possible with their boundaries on whole 64-byte cache lines of
    ``b1`` (``64 / itemsize`` units) when there are enough units, so that no line of ``b1``
    is written by two threads.

    Examples
    --------
    >>> from fastnn.per_sample import split_units
    >>> split_units(512, 3, 4)  # float32: 16 units a cache line
    array([  0, 176, 336, 512])
    >>> split_units(10, 3, 4)  # too few units for whole lines
    array([ 0,  3,  7, 10])
    """
    q = 64 // itemsize if n_units >= n_threads * 64 // itemsize else 1
    cuts = [round(n_units * t / n_threads / q) * q for t in range(n_threads)] + [n_units]
    return np.array(cuts, dtype=np.int64)


DENSITY_ROWS = 2048
""":func:`input_density` counts the non-zero entries of about this many evenly spaced rows."""


def input_density(X: np.ndarray, max_rows: int = DENSITY_ROWS) -> float:
    """Fraction of non-zero entries in (up to ``max_rows`` evenly spaced rows of) ``X``.

    Examples
    --------
    >>> from fastnn.per_sample import input_density
    >>> float(input_density(np.array([[0.0, 1.0], [2.0, 3.0]])))
    0.75
    """
    rows = X[:: max(1, X.shape[0] // max_rows)]
    # ``rows != 0`` counted is several times faster than counting a float array's non-zeros
    # (the same count: NaN is non-zero, -0.0 zero), in blocks of about a million entries
    block = max(1, (1 << 20) // max(1, rows.shape[1]))
    nonzero = sum(int(np.count_nonzero(rows[a : a + block] != 0)) for a in range(0, rows.shape[0], block))
    return nonzero / max(rows.size, 1)


def choose_path(X: Any, rule: int, n_threads: int, sizes: Sequence[int] | np.ndarray,
                density: Optional[float] = None) -> str:
    """The compiled path (one of :data:`PATHS`) for inputs ``X``, the rule's kernel code,
    ``n_threads`` and the layer ``sizes``: the one place where dense or sparse and the
    threads are decided (see the module's docstring). ``density``: a dense ``X``'s
    :func:`input_density` when the caller has it already (:func:`fastnn.scan.scan_inputs`).

    Raises
    ------
    ValueError
        For ``n_threads > 1`` with a rule other than plain SGD.

    Examples
    --------
    >>> from fastnn.kernel_codes import KERNEL_RULES
    >>> from fastnn.per_sample import choose_path
    >>> sgd, adam = KERNEL_RULES["sgd"][0], KERNEL_RULES["adam"][0]
    >>> sparse_rows, dense_rows = np.eye(4), np.ones((4, 4))
    >>> choose_path(sparse_rows, sgd, 1, [4, 8, 2]), choose_path(dense_rows, sgd, 1, [4, 8, 2])
    ('rows', 'windows')
    >>> choose_path(sparse_rows, sgd, 2, [4, 8, 2]), choose_path(sparse_rows, sgd, 2, [4, 512, 2])
    ('replicas', 'split')
    >>> choose_path(sparse_rows, adam, 1, [4, 8, 2])
    'rules'
    >>> words = np.zeros((4, 2**18)); words[:, :27] = 1.0  # 27 non-zeros in 2^18 columns
    >>> choose_path(words, sgd, 2, [2**18, 256, 58])  # the split's copies of W1 would cost more
    'rows'
    """
    if rule != rules.SGD:
        if n_threads > 1:
            raise ValueError("n_threads > 1 runs plain per-sample SGD, and this optimizer updates every weight at "
                             "every sample: use n_threads=1, or a batch_size")
        return "rules"
    dense = isinstance(X, np.ndarray)
    if density is None:
        density = input_density(X) if dense else X.nnz / max(X.shape[0] * X.shape[1], 1)
    if dense and density > DENSE_ABOVE:
        return "windows"  # one thread: the windows' matrix products use the cores through BLAS
    if n_threads == 1:
        return "rows"
    path = "split" if splits_units(sizes) else "replicas"
    # Each round of "replicas" merges the whole of W1; an epoch of "split" copies the rows of W1
    # its samples touch in and out once (all of them on dense input) and the threads meet at
    # every sample. Where the samples of a compiled call (a round) touch W1's rows less than
    # once on average (density * samples < 1: a bag of words, 2^18 columns and ~27 non-zeros a
    # row), one thread is as good: on the Debian text task the split, copying once per epoch,
    # was not clearly faster than one thread and a stalled thread stalls both (bench/text.py,
    # contender fastnn-2t-split).
    samples = CHUNK if path == "split" else ROUND * n_threads
    return "rows" if density * samples < 1.0 else path


def kernel_work(sizes: Sequence[int] | np.ndarray, dtype: DTypeLike) -> tuple[np.ndarray, ...]:
    """The work arrays of one thread's kernel calls: layer outputs ``h`` (``h[0]``: the
    current CSR row, scattered), dropout multipliers ``m`` (ones), deltas, lists of active
    units and their lengths, each row as wide as the widest layer. Allocated here, not in
    the kernels: NumPy's allocation compiled into them lengthens a cold start. The rows'
    arrays start on a cache line, as the packed params do: rows that straddle lines slow the kernel.

    Examples
    --------
    >>> from fastnn.per_sample import kernel_work
    >>> [(a.shape, a.dtype.name) for a in kernel_work([4, 8, 2], np.float32)]  # doctest: +NORMALIZE_WHITESPACE
    [((3, 8), 'float32'), ((3, 8), 'float32'), ((3, 8), 'float32'), ((3, 8), 'uint64'), ((3,), 'int64')]
    """
    L, width = len(sizes) - 1, int(max(sizes))
    n = (L + 1) * width
    line = 64 // np.dtype(dtype).itemsize  # entries of a cache line
    stride = -(-n // line) * line
    floats = _aligned_zeros(3 * stride, dtype)  # one allocation for three: each of them took as long
    h, m, delta = (floats[k * stride : k * stride + n].reshape(L + 1, width) for k in range(3))
    m.fill(1)
    return h, m, delta, _aligned_zeros((L + 1, width), np.uint64), np.zeros(L + 1, np.int64)


def _aligned_zeros(shape: Union[int, tuple[int, ...]], dtype: DTypeLike, touch: bool = True) -> np.ndarray:
    """Zeros whose first element starts a 64-byte cache line, their pages touched now rather
    than in the first epoch; or, with ``touch`` False, when first written (for arrays of which
    a call may write a small part: the split's copies of a bag of words' first layer)."""
    shape = shape if isinstance(shape, tuple) else (shape,)
    n = math.prod(shape) * np.dtype(dtype).itemsize
    if touch:
        raw = np.empty(n + 64, np.uint8)
        raw.fill(0)
    else:
        raw = np.zeros(n + 64, np.uint8)  # fresh pages from the system, zero until written
    start = -raw.ctypes.data % 64
    return raw[start : start + n].view(dtype).reshape(shape)


def as_kernel_input(X: Any) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``X`` as the kernels read it: a C-contiguous array as it is, a ``scipy.sparse``
    CSR matrix (canonical: sorted indices, no stored zeros) as ``(indptr, indices, data)``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from fastnn.per_sample import as_kernel_input
    >>> indptr, indices, data = as_kernel_input(sp.csr_matrix(np.array([[0.0, 2.0], [3.0, 0.0]])))
    >>> indptr, indices, data
    (array([0, 1, 2], dtype=int32), array([1, 0], dtype=int32), array([2., 3.]))
    """
    if isinstance(X, np.ndarray):
        return X
    return (X.indptr, X.indices, X.data)


_blas: Any = None  # a threadpoolctl.ThreadpoolController of the BLAS libraries loaded, made on first use


def blas_on_one_thread(path: Optional[str], n_threads: int) -> AbstractContextManager[object]:
    """A context in which BLAS (NumPy's matrix products) runs on one thread when the engine's
    ``path`` (:func:`choose_path`; None: not the per-sample engine) trains on ``n_threads > 1``
    threads (``"split"``, ``"replicas"``); otherwise one that changes nothing.

    For the products ``train`` computes before and between such epochs (the initial loss,
    validation, the collapse check): see :func:`quiet_blas`.

    Examples
    --------
    >>> from fastnn.per_sample import blas_on_one_thread
    >>> with blas_on_one_thread("replicas", 2):
    ...     product = np.ones((64, 64)) @ np.ones((64, 64))
    >>> float(product[0, 0])
    64.0
    """
    return quiet_blas(n_threads if path in ("split", "replicas") else 1)


def quiet_blas(n_threads: int) -> AbstractContextManager[object]:
    """A context in which BLAS runs on one thread when ``n_threads > 1``; otherwise one that
    changes nothing. For the products computed around training on ``n_threads`` threads.

    A multi-threaded BLAS product leaves its helper threads spinning for a while after it
    returns (OpenBLAS), taking cores from the engine's threads, which wait for each other at
    every sample or round: the first epoch ran markedly slower than the later ones
    (bench/overhead.py, ``threads_first_epoch``). An estimator's ``score`` between two
    ``partial_fit`` calls left them burning about 0.1 s of CPU after it returned
    (``threads_scored_loop``). Limiting BLAS afterwards does not stop threads already
    spinning. Needs threadpoolctl (the ``threads`` extra; scikit-learn brings it too); without
    it this changes nothing.

    Examples
    --------
    >>> from fastnn.per_sample import quiet_blas
    >>> with quiet_blas(2):
    ...     product = np.ones((64, 64)) @ np.ones((64, 64))
    >>> float(product[0, 0])
    64.0
    """
    if n_threads <= 1:
        return nullcontext()
    global _blas
    if _blas is None:
        try:  # imported here: most calls never need it
            from threadpoolctl import ThreadpoolController
        except ImportError:  # an optional extra (``threads``): without it, BLAS keeps its own threads
            return nullcontext()
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


_warm: set[tuple[Any, ...]] = set()  # the configurations whose kernels this process has compiled or loaded


class PerSampleEngine:
    """Runs per-sample epochs on the packed parameters ``net`` (its ``theta`` updated in place).

    Parameters
    ----------
    net : fastnn.packing.Packed
    T : ndarray (n, n_outputs), the targets of every sample, in theta's dtype.
    opts : fastnn.packing.KernelOptions (:func:`kernel_options`).
    path : one of :data:`PATHS` (:func:`choose_path`).
    n_threads : int, threads for ``"split"`` and ``"replicas"``.
    progress : callable, optional: ``progress(done, total)`` after every compiled call.

    Examples
    --------
    Two epochs of per-sample SGD on two samples, on one thread:

    >>> from fastnn import init_params, optim
    >>> from fastnn.packing import pack
    >>> from fastnn.per_sample import PerSampleEngine, choose_path, kernel_options
    >>> from fastnn.validation import check_params
    >>> net = pack(check_params(init_params([2, 4, 2], seed=0)))
    >>> X, T = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32), np.eye(2, dtype=np.float32)
    >>> opts = kernel_options("relu", "softmax", "cross_entropy", 0.0, np.ones(2), 0, optim.sgd(0.1))
    >>> path = choose_path(X, opts.rule, 1, net.sizes)
    >>> engine = PerSampleEngine(net, T, opts, path)
    >>> lrs = np.full(2, 0.1)
    >>> first, second = (engine.epoch(X, np.arange(2), lrs, first_update=0, limit=1e6) for _ in range(2))
    >>> path, bool(second.loss_sum < first.loss_sum), second.done, second.diverged
    ('rows', True, 2, False)
    >>> engine.close()
    """

    def __init__(self, net: Packed, T: np.ndarray, opts: KernelOptions, path: str, n_threads: int = 1,
                 progress: Optional[Callable[[int, int], object]] = None) -> None:
        if path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {path!r}")
        self.net, self.T, self.opts, self.path, self.progress = net, T, opts, path, progress
        theta, sizes = net.theta, net.sizes
        self.n_threads = n_threads if path in ("split", "replicas") else 1
        self.slots = np.zeros((2, theta.size), theta.dtype) if path == "rules" else None
        self.work = [kernel_work(sizes, theta.dtype) for _ in range(self.n_threads)]
        self.pool: Optional[ThreadPoolExecutor] = None
        self.replicas: Optional[np.ndarray] = None
        self.units: Optional[np.ndarray] = None
        self.rounds = 0  # merges so far: the first rounds are shorter
        self.merged = 0  # samples trained on the replicas so far
        self.tick = 0  # where the threads' counters go on from
        self.futures: list[Future[bool]] = []  # the other threads' part of the last call
        self.holding: list[bool] = []  # "split": whether block t holds W1's columns (from an epoch's first call)
        if self.n_threads > 1:
            k = self.n_threads
            self.pool = ThreadPoolExecutor(k - 1, thread_name_prefix="fastnn-sgd")
            wait([self.pool.submit(int) for _ in range(k - 1)])  # the threads start now, not in the first epoch
            self.flags = _aligned_zeros(8 * (k + 1), np.int64)  # each thread's counter on a line of its own
        if path == "replicas":
            self.replicas = np.tile(theta, (self.n_threads, 1))
        elif path == "split":
            width = 64 // theta.dtype.itemsize  # each thread's shares on lines of their own
            self.units = split_units(int(sizes[1]), self.n_threads, theta.dtype.itemsize)
            # of these, a thread writes its own copy of the layers after W2 (own) and the rows of
            # W1 its samples touch (blocks): on a large first layer that is a small part of them
            self.own = [Packed(_aligned_zeros(theta.size, theta.dtype, touch=False), net.sizes, net.offsets)
                        for _ in range(self.n_threads)]
            self.blocks = [_aligned_zeros((int(sizes[0]), int(b - a)), theta.dtype, touch=False)
                           for a, b in zip(self.units[:-1], self.units[1:])]
            self.all_rows = np.arange(int(sizes[0]), dtype=np.int64)  # the rows a dense epoch copies
            self.seen = np.zeros(int(sizes[0]), np.bool_)  # touched_rows' marks (CSR)
            self.rows = self.all_rows  # the rows of W1 the blocks hold during an epoch
            self.holding = [False] * self.n_threads
            self.partials = _aligned_zeros((self.n_threads, 2, -(-int(sizes[2]) // width) * width), theta.dtype)

    def close(self) -> None:
        """Shut the engine's threads down (a no-op on one thread)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def warm_up(self, X: Any) -> None:
        """Compile, or load from Numba's cache, every kernel this engine's epochs call on
        inputs like ``X``, by training scratch copies on one sample; once per process for
        each configuration, so that later calls pay nothing for it."""
        net = self.net
        Xk = as_kernel_input(X)
        inputs = tuple(a.dtype.str for a in Xk) if isinstance(Xk, tuple) else (Xk.dtype.str, Xk.flags.c_contiguous)
        key = (self.path, net.theta.dtype.str, self.path == "split" and net.sizes.size == 3, inputs)
        if key in _warm:
            return
        scratch = PerSampleEngine(Packed(net.theta.copy(), net.sizes, net.offsets), self.T, self.opts, self.path,
                                  self.n_threads)
        try:
            scratch.epoch(X, np.arange(1), np.zeros(1, net.theta.dtype), 0, np.inf)
        finally:
            scratch.close()
        _warm.add(key)

    def epoch(self, X: Any, order: np.ndarray, lrs: np.ndarray, first_update: int, limit: float) -> EpochTally:
        """Train one epoch over the samples ``order`` of ``X`` with the per-step rates ``lrs``.

        Stops early (``diverged``) when a compiled call stops at a non-finite loss or its
        mean loss exceeds ``limit``.
        """
        net, T, opts = self.net, self.T, self.opts
        Xk = as_kernel_input(X)
        lrs = lrs.astype(net.theta.dtype)
        n = len(order)
        loss_sum = correct = 0.0
        done = 0
        if self.path == "split":
            self.rows = self._epoch_rows(Xk, order)
        try:
            while done < n:
                part = order[done : done + self._samples_per_call()]
                rates, step0 = lrs[done : done + len(part)], first_update + done
                stats = np.zeros(3)
                if self.path == "rows":
                    finished = steps.sgd_steps(net, Xk, T, part, rates, opts, step0, stats, self.work[0],
                                               np.ones(net.sizes.size - 1, net.theta.dtype))
                elif self.path == "rules":
                    finished = rules.rule_steps(net, Xk, T, part, rates, opts, step0, self.slots, stats, self.work[0],
                                                np.ones(net.sizes.size - 1, net.theta.dtype))
                elif self.path == "windows":
                    finished = self._windows(cast(np.ndarray, Xk), part, rates, step0, stats)  # dense: choose_path
                else:
                    finished = self._on_every_thread(Xk, part, rates, step0, stats, done + len(part) == n)
                if not finished or over_limit(stats[0], len(part), limit):
                    return EpochTally(loss_sum, correct, done + int(stats[2]), True)
                loss_sum += stats[0]
                correct += stats[1]
                done += len(part)
                if self.progress is not None:
                    self.progress(done, n)
        finally:  # "split": an epoch that stopped early or was interrupted leaves W1's columns in the blocks
            self._store_columns(Xk)
        return EpochTally(loss_sum, correct, done, False)

    def _samples_per_call(self) -> int:
        if self.replicas is None:
            return CHUNK
        total, rounds = 0, self.rounds  # whole rounds, up to CHUNK per thread
        while True:
            size = self._round_size(rounds)
            if total > 0 and total + size > CHUNK * self.n_threads:
                return total
            total, rounds = total + size, rounds + 1

    def _round_size(self, rounds: int) -> int:
        """Samples (all threads) in the round after ``rounds`` rounds: ``FIRST_ROUND`` per
        thread at first, doubling up to ``ROUND``."""
        return min(ROUND, FIRST_ROUND << min(rounds, 30)) * self.n_threads

    # -- windows of dense samples

    def _windows(self, X: np.ndarray, order: np.ndarray, lrs: np.ndarray, step0: int, stats: np.ndarray) -> bool:
        """Plain SGD over ``X[order]`` in windows (``kernels.steps.window_steps``)."""
        net = self.net
        W1 = unpack_views(*net)[0][0]
        k = min(WINDOW, len(order))
        Xw, Tw = np.empty((k, X.shape[1]), X.dtype), np.empty((k, self.T.shape[1]), self.T.dtype)
        P, D = np.empty((k, W1.shape[1]), X.dtype), np.empty((k, W1.shape[1]), X.dtype)
        # G is cut from a flat buffer so that a short last window's (n, n) block stays
        # C-contiguous: a strided block would compile the kernel a second time
        G, dW = np.empty(k * k, X.dtype), np.empty_like(W1)
        scale, work = np.ones(net.sizes.size - 1, net.theta.dtype), self.work[0]
        finished = True
        for a in range(0, len(order), WINDOW):
            idx = order[a : a + WINDOW]
            n = len(idx)
            xw, tw = np.take(X, idx, axis=0, out=Xw[:n]), np.take(self.T, idx, axis=0, out=Tw[:n])
            np.matmul(xw, W1, out=P[:n])
            g = G[: n * n].reshape(n, n)
            np.matmul(xw, xw.T, out=g)
            finished = steps.window_steps(net, xw, tw, lrs[a : a + n], P[:n], g, D[:n], self.opts, step0 + a, scale,
                                          stats, work)
            np.matmul(xw.T, D[:n], out=dW)
            W1 -= dW
            if not finished:
                break
            if scale[0] < sample.FOLD_BELOW:  # fold layer 1's factor between windows
                W1 *= scale[0]
                scale[0] = 1.0
        # the lazy L2 factors folded in, as sgd_steps ends: in NumPy, since calling the
        # kernels' fold_scales from Python would compile it on its own
        for l, (W, _) in enumerate(unpack_views(*net)):
            if scale[l] != 1.0:
                W *= scale[l]
                scale[l] = 1.0
        return finished

    # -- several threads

    def _on_every_thread(self, X: Any, part: np.ndarray, lrs: np.ndarray, step0: int, stats: np.ndarray,
                         last: bool) -> bool:
        """Run this compiled call on every thread at once (this one is thread 0): their units
        (``"split"``; ``last``: the epoch's last call, which stores the blocks) or rounds of
        their replicas (``"replicas"``). Adds to ``stats`` and returns whether every thread
        finished."""
        k = self.n_threads
        assert self.pool is not None  # n_threads > 1: __init__ started the threads
        self.flags[8 * k] = 0
        run: Callable[..., bool]
        extra: tuple[Any, ...]
        if self.path == "split":
            run, ticks, extra = self._split_part, len(part), (self.rows, last)
        else:
            bounds, gains = self._rounds(len(part))
            run, ticks, extra = self._replica_part, 2 * (len(bounds) - 1), (bounds, gains)
        each = [np.zeros(3) for _ in range(k)]  # one array each: no cache line shared
        futures = self.futures = [self.pool.submit(run, t, X, part, lrs, step0, each[t], *extra) for t in range(1, k)]
        try:
            finished = run(0, X, part, lrs, step0, each[0], *extra)
        finally:
            wait(futures)  # a failed thread has stopped the others: they return soon
            self.tick += ticks
        finished = all([f.result() for f in futures]) and finished
        # split: every thread sees every sample, so each thread's stats are the same
        stats += each[0] if self.path == "split" else np.sum(each, axis=0)
        return finished

    def _rounds(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Boundaries and merge gains of the next rounds, over ``n`` samples (the last one
        cut short at the end of an epoch)."""
        bounds, gains = [0], []
        while bounds[-1] < n:
            gains.append(merge_gain(self.merged, self.n_threads))
            bounds.append(min(n, bounds[-1] + self._round_size(self.rounds)))
            self.merged += bounds[-1] - bounds[-2]
            self.rounds += 1
        return np.array(bounds, dtype=np.int64), np.array(gains, dtype=self.net.theta.dtype)

    def _replica_part(self, t: int, X: Any, part: np.ndarray, lrs: np.ndarray, step0: int, stats: np.ndarray,
                      bounds: np.ndarray, gains: np.ndarray) -> bool:
        """Thread ``t``'s rounds over ``part``: train its replica on its share of each round's
        samples, then merge (``kernels.threads.merge_round``, where the threads wait for each
        other). If it fails or its replica diverges, the other threads stop waiting for it.

        The loop is here rather than compiled around the kernels so that the threads run the
        one-thread kernel's own compilation: Numba links a callee's code into its caller and
        optimises it again, and the compiled loop made the first two-thread call several times
        longer (bench/startup.py) for no faster epochs."""
        k, stop = self.n_threads, 8 * self.n_threads
        assert self.replicas is not None  # the "replicas" path: __init__ made them
        replica = Packed(self.replicas[t], self.net.sizes, self.net.offsets)
        work, scale = self.work[t], np.ones(self.net.sizes.size - 1, self.net.theta.dtype)
        try:
            for r in range(len(bounds) - 1):
                a, b = int(bounds[r]), int(bounds[r + 1])
                lo, hi = a + (b - a) * t // k, a + (b - a) * (t + 1) // k
                if not steps.sgd_steps(replica, X, self.T, part[lo:hi], lrs[lo:hi], self.opts, step0 + lo, stats,
                                       work, scale):
                    self.flags[stop] = 1
                    return False
                if not threads.merge_round(self.net.theta, self.replicas, t, gains[r], self.flags, self.tick + 2 * r):
                    return False
            return True
        except BaseException:
            self.flags[stop] = 1
            raise

    def _split_part(self, t: int, X: Any, part: np.ndarray, lrs: np.ndarray, step0: int, stats: np.ndarray,
                    rows: np.ndarray, store: bool) -> bool:
        """Thread ``t``'s units over ``part``: ``rows``, the rows of W1 its block holds, are
        copied in if the block does not hold them yet, and back with ``store``. If it fails,
        the other threads stop waiting for it (and its block is taken to hold nothing)."""
        net = self.net
        try:
            finished = threads.split_steps(net, self.own[t], self.blocks[t], X, self.T, part, lrs, self.opts, step0,
                                           stats, self.units, t, self.partials, self.flags, self.tick, self.work[t],
                                           np.ones(net.sizes.size - 1, net.theta.dtype),
                                           None if net.sizes.size == 3 else True, rows, not self.holding[t], store)
        except BaseException:
            self.flags[8 * self.n_threads] = 1
            raise
        self.holding[t] = not store
        return bool(finished)

    def _epoch_rows(self, X: Any, order: np.ndarray) -> np.ndarray:
        """The rows of W1 that the samples ``order`` can touch (``"split"``): every row for a
        dense ``X``, the columns its samples use for CSR (``kernels.threads.touched_rows``)."""
        if not isinstance(X, tuple):
            return self.all_rows
        rows = np.empty(min(int(self.seen.size), int(np.sum(np.diff(X[0])[order]))), np.int64)
        return rows[: threads.touched_rows(X[0], X[1], order, self.seen, rows)]

    def _store_columns(self, X: Any) -> None:
        """Copy W1's columns that the blocks still hold back into ``theta`` (``"split"``, after
        an epoch that stopped before its last call), each block by a call on no samples."""
        if not any(self.holding):
            return
        wait(self.futures)  # a Ctrl-C in _on_every_thread's wait can leave a thread running
        no_samples, dtype = np.zeros(0, np.int64), self.net.theta.dtype
        for t in range(self.n_threads):
            if self.holding[t]:
                self._split_part(t, X, no_samples, np.zeros(0, dtype), 0, np.zeros(3), self.rows, True)
