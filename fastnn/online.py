"""Per-sample (online) SGD epochs: compiled calls over chunks of samples, on one thread or several.

One epoch visits the samples in ``order`` one at a time, each sample's step done before
the next sample is seen. :class:`OnlineRunner` picks the compiled path once per
``train`` call and runs an epoch as a series of calls of a few thousand samples each, so
a diverging run stops early, Ctrl-C is seen and the progress bar moves:

- plain SGD on sparse inputs (images): ``kernels.sgd.sgd_epoch``, which skips zero
  inputs and inactive units row by row;
- plain SGD on dense inputs (more than ``DENSE_ABOVE`` of the entries non-zero), with any
  ``n_threads``: windows of ``WINDOW`` samples whose first-layer products are matrix
  products (``kernels.sgd.sgd_window``), still exactly per-sample SGD. One Python thread
  runs them; the matrix products use the cores through BLAS, and this measured faster
  than two threads on the row loop for every network tried (:data:`DENSE_ABOVE`);
- any other rule (momentum, Adam, ...): ``kernels.sgd.rule_epoch``, every weight every step.

With ``n_threads > 1`` (plain SGD on sparse inputs) the threads share the work in one of
two ways, by the width of the first hidden layer:

- at least ``SPLIT_FROM`` units: the threads split those units between them
  (``kernels.sgd.sgd_split_epoch``). Each trains its units' columns of ``W1`` in an array
  of its own and their rows of ``W2``, so no cache line of the large first layers is
  written by two cores, and the threads meet once per sample to add their shares of the
  second layer's sum. This is exactly per-sample SGD (the twin's steps, one sum added in
  another order).
- fewer (or no hidden layer): every thread trains its own replica of the parameters on
  its own share of the samples for ``ROUND`` samples (the one-thread kernel,
  ``kernels.sgd.sgd_epoch``, on each round's share; the threads meet between rounds in
  ``kernels.sgd.merge_round``), then the replicas' changes are
  added to the parameters, times a gain that rises from ``1 / n_threads`` (their mean) to
  1 (their sum) over the first ``MERGE_WARMUP`` samples (:func:`merge_gain`), and the
  replicas restart from the result (local SGD with model averaging, then delayed-update
  summing). Splitting a narrow layer leaves each thread rows too short to pay for the
  meeting at every sample.

Either way no cache line is written by two cores between meetings, and for a fixed
``n_threads`` and seed the result is deterministic.
"""
from concurrent.futures import ThreadPoolExecutor, wait
from typing import NamedTuple

import numpy as np

from .kernels import sgd as sgd_kernels
from .packing import unpack_views

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
sample's step for good (as a warm-up of the learning rate does for large batches). Measured
on MNIST, 5 epochs, lr 0.02/(1+epoch), mean test accuracy over seeds (README, Speed)."""

SPLIT_FROM = 256
"""Threads split the first hidden layer's units when it has at least this many, and train
replicas otherwise. Measured on MNIST, two threads (README, Speed): 784-800-10 ran 1.86x
one thread's speed split; 784-128-64-10 ran 0.81x split and 1.37-1.60x on replicas."""

DENSE_ABOVE = 0.5
"""Plain SGD runs in windows when more than this fraction of the inputs is non-zero (1.0:
never), whatever ``n_threads``. On standardised MNIST the windows took 0.97-1.24 s per epoch
against 2.16-3.0 s for the row loop on one thread in the later runs of one session, and tied
with it (0.89-1.05 s against 0.89 s) in an earlier one. Against two threads on the row loop
(2026-11-27, alternated in one process, medians of 6 epochs): 784-128-64-10 0.77 s against
1.05 s (replicas), 784-256-10 1.59 s against 1.98 s and 784-800-10 3.38 s against 4.30 s
(split units); with BLAS held to one thread (``OPENBLAS_NUM_THREADS=1``) 0.94 s against
1.09 s and 4.29 s against 4.46 s. Re-run from an idle machine (load 0.47) on the README's
dense workload: 0.93 s against 1.10 s, 1.00 s against 1.77 s and 3.39 s against 4.63 s."""

WINDOW = 64
"""Samples per window of the dense path."""


def merge_gain(merged, n_threads):
    """The factor on the sum of the replicas' changes at a merge after ``merged`` samples:
    ``1 / n_threads`` (their mean) at the start, rising linearly to 1 (their sum) at
    ``MERGE_WARMUP`` samples."""
    ramp = min(1.0, merged / MERGE_WARMUP) if MERGE_WARMUP > 0 else 1.0
    return 1.0 / n_threads + (1.0 - 1.0 / n_threads) * ramp


def splits_units(sizes):
    """Whether several threads split the first hidden layer (else they train replicas)."""
    return len(sizes) > 2 and sizes[1] >= SPLIT_FROM


def split_units(n_units, n_threads, itemsize):
    """Boundaries (``n_threads + 1`` int64) of each thread's share of ``n_units`` hidden units.

    Shares are as even as possible with their boundaries on whole 64-byte cache lines of
    ``b1`` (``64 / itemsize`` units) when there are enough units, so that no line of ``b1``
    is written by two threads.
    """
    q = 64 // itemsize if n_units >= n_threads * 64 // itemsize else 1
    cuts = [round(n_units * t / n_threads / q) * q for t in range(n_threads)] + [n_units]
    return np.array(cuts, dtype=np.int64)


def _aligned_zeros(shape, dtype):
    """Zeros whose first element starts a 64-byte cache line."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(n + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + n].view(dtype).reshape(shape)


class EpochTally(NamedTuple):
    """What one epoch did: summed loss and hits over ``done`` samples; ``diverged`` if it stopped early."""

    loss_sum: float
    correct: float
    done: int
    diverged: bool


def input_density(X, max_rows=2048):
    """Fraction of non-zero entries in (up to ``max_rows`` evenly spaced rows of) ``X``."""
    rows = X[:: max(1, len(X) // max_rows)]
    return np.count_nonzero(rows) / max(rows.size, 1)


def kernel_work(sizes, dtype):
    """The work arrays one kernel call needs (one set per thread): layer outputs ``h``, dropout
    multipliers ``m`` (ones), deltas, lists of active units and their lengths, each row as
    wide as the widest layer. Allocated here, not in the kernels: compiling NumPy's
    allocation into them took 1.1-1.4 s of a cold start."""
    L, width = len(sizes) - 1, int(max(sizes))
    return (np.zeros((L + 1, width), dtype), np.ones((L + 1, width), dtype), np.zeros((L + 1, width), dtype),
            np.zeros((L + 1, width), np.uint64), np.zeros(L + 1, np.int64))


def use_windows(X, rule):
    """Whether plain SGD (``rule``, a kernel code) on ``X`` takes the windowed path (on one
    thread, whatever ``n_threads``): more than ``DENSE_ABOVE`` of the inputs non-zero."""
    return rule == sgd_kernels.SGD and input_density(X) > DENSE_ABOVE


class OnlineRunner:
    """Runs per-sample epochs on the packed parameters ``theta`` (updated in place).

    Parameters
    ----------
    theta, sizes, offsets : the packed parameters (``fastnn.packing.pack``).
    opts : fastnn.packing.KernelOptions.
    slots : (2, theta.size) optimizer state for a rule other than SGD, else None.
    n_threads : int, threads to train with (more than one: see the module's docstring).
    dense : bool, use the windowed path for plain SGD, on one thread whatever ``n_threads``.
    """

    def __init__(self, theta, sizes, offsets, opts, slots, n_threads, dense):
        self.theta, self.sizes, self.offsets, self.opts, self.slots = theta, sizes, offsets, opts, slots
        dense = dense and opts.rule == sgd_kernels.SGD
        n_threads = 1 if dense else n_threads  # the windows' matrix products use the cores through BLAS
        self.n_threads = n_threads
        if opts.rule != sgd_kernels.SGD:
            self.run_part = self._rule_part
        elif dense:
            self.run_part = self._window_part
        else:
            self.run_part = self._sparse_part
        self.pool = self.replicas = self.units = None
        self.rounds = 0  # merges so far: the first rounds are shorter
        self.merged = 0  # samples trained on the replicas so far
        if n_threads > 1:
            self.pool = ThreadPoolExecutor(n_threads - 1, thread_name_prefix="fastnn-sgd")
        self.flags = _aligned_zeros(8 * (n_threads + 1), np.int64)  # each thread's counter on a line of its own
        self.tick = 0  # where the threads' counters go on from
        if n_threads > 1 and not splits_units(sizes):
            self.replicas = np.tile(theta, (n_threads, 1))
        elif n_threads > 1:
            width = 64 // theta.dtype.itemsize  # each thread's shares on lines of their own
            self.units = split_units(int(sizes[1]), n_threads, theta.dtype.itemsize)
            self.own = np.empty((n_threads, theta.size), theta.dtype)
            self.blocks = [_aligned_zeros((int(sizes[0]), int(b - a)), theta.dtype)
                           for a, b in zip(self.units[:-1], self.units[1:])]
            self.partials = _aligned_zeros((n_threads, 2, -(-int(sizes[2]) // width) * width), theta.dtype)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    @classmethod
    def warm_up(cls, theta, sizes, offsets, opts, slots, n_threads, dense, X, T):
        """Compile, or load from Numba's cache, every kernel that an epoch of this
        configuration calls, by training scratch copies on one sample."""
        scratch = cls(theta.copy(), sizes, offsets, opts, None if slots is None else slots.copy(), n_threads, dense)
        try:
            scratch.epoch(X, T, np.arange(1), np.zeros(1, theta.dtype), 0, np.inf)
        finally:
            scratch.close()

    # -- the three compiled paths, each over one part of an epoch, on one parameter buffer

    def _ones(self, theta):
        """Fresh lazy L2 factors, one per layer, for a kernel call."""
        return np.ones(len(self.sizes) - 1, theta.dtype)

    def _sparse_part(self, theta, X, T, order, lrs, step0, stats):
        sgd_kernels.sgd_epoch(theta, self.sizes, self.offsets, X, T, order, lrs, self.opts, step0, stats,
                              kernel_work(self.sizes, theta.dtype), self._ones(theta))

    def _rule_part(self, theta, X, T, order, lrs, step0, stats):
        sgd_kernels.rule_epoch(theta, self.sizes, self.offsets, X, T, order, lrs, self.opts, step0, self.slots, stats,
                               kernel_work(self.sizes, theta.dtype), self._ones(theta))

    def _window_part(self, theta, X, T, order, lrs, step0, stats):
        W1 = unpack_views(theta, self.sizes, self.offsets)[0][0]
        k = min(WINDOW, len(order))
        Xw, Tw = np.empty((k, X.shape[1]), X.dtype), np.empty((k, T.shape[1]), T.dtype)
        P, D = np.empty((k, W1.shape[1]), X.dtype), np.empty((k, W1.shape[1]), X.dtype)
        # G is cut from a flat buffer so that a short last window's (n, n) block stays
        # C-contiguous: a strided block would compile the kernel a second time (11.7 s, measured)
        G, dW = np.empty(k * k, X.dtype), np.empty_like(W1)
        scale, work = self._ones(theta), kernel_work(self.sizes, theta.dtype)
        stats[:] = 0.0
        for a in range(0, len(order), WINDOW):
            idx = order[a : a + WINDOW]
            n = len(idx)
            xw, tw = np.take(X, idx, axis=0, out=Xw[:n]), np.take(T, idx, axis=0, out=Tw[:n])
            np.matmul(xw, W1, out=P[:n])
            g = G[: n * n].reshape(n, n)
            np.matmul(xw, xw.T, out=g)
            sgd_kernels.sgd_window(theta, self.sizes, self.offsets, xw, tw, lrs[a : a + n], P[:n], g, D[:n],
                                   self.opts, step0 + a, scale, stats, work)
            np.matmul(xw.T, D[:n], out=dW)
            W1 -= dW
            if stats[2] < a + n:
                break
            if scale[0] < sgd_kernels.FOLD_BELOW:  # fold layer 1's factor between windows
                W1 *= scale[0]
                scale[0] = 1.0
        # the lazy L2 factors folded in, as sgd_epoch ends: in NumPy, since calling the
        # kernels' fold_scales from Python compiled it on its own (0.4 s of a first call)
        for l, (W, _) in enumerate(unpack_views(theta, self.sizes, self.offsets)):
            if scale[l] != 1.0:
                W *= scale[l]
                scale[l] = 1.0

    # -- one epoch

    def epoch(self, X, T, order, lrs, step0, limit, progress=None):
        """Train one epoch over ``X[order]`` with the per-step rates ``lrs``.

        Stops early (``diverged``) when a part's mean loss is not finite or exceeds ``limit``.
        ``progress(done, total)`` is called after every part.
        """
        n = len(order)
        loss_sum = correct = 0.0
        done = 0
        start = 0
        while start < n:
            part = order[start : start + self._samples_per_call()]
            stats = self._run(X, T, part, lrs[start : start + len(part)], step0 + start)
            if stats[2] < len(part) or not stats[0] <= limit * len(part):
                return EpochTally(loss_sum, correct, done + int(stats[2]), True)
            loss_sum += stats[0]
            correct += stats[1]
            done += len(part)
            start += len(part)
            if progress is not None:
                progress(done, n)
        return EpochTally(loss_sum, correct, done, False)

    def _samples_per_call(self):
        if self.replicas is None:
            return CHUNK
        total, rounds = 0, self.rounds  # whole rounds, up to CHUNK per thread
        while True:
            size = self._round_size(rounds)
            if total > 0 and total + size > CHUNK * self.n_threads:
                return total
            total, rounds = total + size, rounds + 1

    def _round_size(self, rounds):
        """Samples (all threads) in the round after ``rounds`` rounds: ``FIRST_ROUND`` per
        thread at first, doubling up to ``ROUND``."""
        return min(ROUND, FIRST_ROUND << min(rounds, 30)) * self.n_threads

    def _run(self, X, T, part, lrs, step0):
        """One compiled part: on one thread; or on every thread, their units or rounds of their replicas."""
        if self.n_threads == 1:
            stats = np.zeros(3)
            self.run_part(self.theta, X, T, part, lrs, step0, stats)
            return stats
        self.flags[8 * self.n_threads] = 0
        if self.units is not None:  # every thread sees every sample: its stats are the same as the others'
            return self._on_every_thread(self._split_part, X, T, part, lrs, step0, len(part))[0]
        bounds, gains = self._rounds(len(part))
        stats = self._on_every_thread(self._replica_part, X, T, part, lrs, step0, 2 * (len(bounds) - 1), bounds, gains)
        return np.sum(stats, axis=0)

    def _rounds(self, n):
        """Boundaries and merge gains of the next rounds, over ``n`` samples (the last one
        cut short at the end of an epoch)."""
        bounds, gains = [0], []
        while bounds[-1] < n:
            gains.append(merge_gain(self.merged, self.n_threads))
            bounds.append(min(n, bounds[-1] + self._round_size(self.rounds)))
            self.merged += bounds[-1] - bounds[-2]
            self.rounds += 1
        return np.array(bounds, dtype=np.int64), np.array(gains, dtype=self.theta.dtype)

    def _on_every_thread(self, part_of, X, T, part, lrs, step0, ticks, *extra):
        """Run ``part_of(t, ...)`` on every thread ``t`` at once (this one is thread 0) and
        return each thread's stats. ``ticks``: how far the threads' counters move."""
        stats = [np.zeros(3) for _ in range(self.n_threads)]  # one array each: no cache line shared
        futures = [self.pool.submit(part_of, t, X, T, part, lrs, step0, stats[t], *extra)
                   for t in range(1, self.n_threads)]
        try:
            part_of(0, X, T, part, lrs, step0, stats[0], *extra)
        finally:
            wait(futures)  # a failed thread has stopped the others: they return soon
            self.tick += ticks
        for f in futures:
            f.result()
        return stats

    def _replica_part(self, t, X, T, part, lrs, step0, stats, bounds, gains):
        """Thread ``t``'s rounds over ``part``: train its replica on its share of each round's
        samples, then merge (``kernels.sgd.merge_round``, where the threads wait for each
        other). If it fails or its replica diverges, the other threads stop waiting for it.

        The loop is here rather than compiled around the kernels so that the threads run the
        one-thread kernel's own compilation: Numba links a callee's code into its caller and
        optimises it again, and the compiled loop made the first two-thread call 3.9-4.4 s
        against 1.1-1.9 s now (784-128-64-10, alternated fresh processes). The epochs did
        not slow: medians 0.372 s against 0.370 s (four alternated processes; a round is
        about 2 ms of training)."""
        k, replica, stop = self.n_threads, self.replicas[t], 8 * self.n_threads
        work, scale = kernel_work(self.sizes, self.theta.dtype), self._ones(self.theta)
        try:
            for r in range(len(bounds) - 1):
                a, b = int(bounds[r]), int(bounds[r + 1])
                lo, hi = a + (b - a) * t // k, a + (b - a) * (t + 1) // k
                if not sgd_kernels.sgd_epoch(replica, self.sizes, self.offsets, X, T, part[lo:hi], lrs[lo:hi],
                                             self.opts, step0 + lo, stats, work, scale):
                    self.flags[stop] = 1
                    return
                if not sgd_kernels.merge_round(self.theta, self.replicas, t, gains[r], self.flags,
                                               self.tick + 2 * r):
                    return
        except BaseException:
            self.flags[stop] = 1
            raise

    def _split_part(self, t, X, T, part, lrs, step0, stats):
        """Thread ``t``'s units over ``part``; if it fails, the other threads stop waiting for it."""
        try:
            sgd_kernels.sgd_split_epoch(self.theta, self.own[t], self.blocks[t], self.sizes, self.offsets, X, T, part,
                                        lrs, self.opts, step0, stats, self.units, t, self.partials, self.flags,
                                        self.tick, kernel_work(self.sizes, self.theta.dtype), self._ones(self.theta),
                                        None if self.sizes.size == 3 else True)
        except BaseException:
            self.flags[8 * self.n_threads] = 1
            raise
