"""Per-sample (online) SGD epochs: compiled calls over chunks of samples, on one thread or several.

One epoch visits the samples in ``order`` one at a time, each sample's step done before
the next sample is seen. :class:`OnlineRunner` picks the compiled path once per
``train`` call and runs an epoch as a series of calls of a few thousand samples each, so
a diverging run stops early, Ctrl-C is seen and the progress bar moves:

- plain SGD on sparse inputs (images): ``kernels.sgd.sgd_epoch``, which skips zero
  inputs and inactive units row by row;
- plain SGD on one thread on dense inputs (more than ``DENSE_ABOVE`` of the entries
  non-zero): windows of ``WINDOW`` samples whose first-layer products are matrix products
  (``kernels.sgd.sgd_window``), still exactly per-sample SGD;
- any other rule (momentum, Adam, ...): ``kernels.sgd.rule_epoch``, every weight every step.

With ``n_threads > 1`` every thread trains its own replica of the parameters on its own
share of the samples for ``ROUND`` samples, then the replicas' changes are added to the
parameters, times a gain that rises from ``1 / n_threads`` (their mean) to 1 (their sum)
over the first ``MERGE_WARMUP`` samples (:func:`merge_gain`), and the replicas restart from
the result (local SGD with model averaging, then delayed-update summing). No cache line is
written by two cores between merges, so the threads run at single-core speed; for a
fixed ``n_threads`` and seed the result is deterministic.
"""
import threading
from concurrent.futures import ThreadPoolExecutor
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

DENSE_ABOVE = 0.5
"""Plain SGD on one thread runs in windows when more than this fraction of the inputs is
non-zero (1.0: never). On standardised MNIST the windows took 0.97-1.24 s per epoch against
2.16-3.0 s for the row loop in the later runs of this session, and tied with it (0.89-1.05 s
against 0.89 s) in an earlier one. On two threads the replicas' matrix products compete for
the cores' BLAS threads (1.99 s against 1.67 s for rows), so threads keep the row loop."""

WINDOW = 64
"""Samples per window of the dense path."""


def merge_gain(merged, n_threads):
    """The factor on the sum of the replicas' changes at a merge after ``merged`` samples:
    ``1 / n_threads`` (their mean) at the start, rising linearly to 1 (their sum) at
    ``MERGE_WARMUP`` samples."""
    ramp = min(1.0, merged / MERGE_WARMUP) if MERGE_WARMUP > 0 else 1.0
    return 1.0 / n_threads + (1.0 - 1.0 / n_threads) * ramp


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


def use_windows(X, rule, n_threads):
    """Whether plain SGD (``rule``, a kernel code) on ``X`` takes the windowed path: one
    thread, and more than ``DENSE_ABOVE`` of the inputs non-zero."""
    return rule == sgd_kernels.SGD and n_threads == 1 and input_density(X) > DENSE_ABOVE


class OnlineRunner:
    """Runs per-sample epochs on the packed parameters ``theta`` (updated in place).

    Parameters
    ----------
    theta, sizes, offsets : the packed parameters (``fastnn.packing.pack``).
    opts : fastnn.packing.KernelOptions.
    slots : (2, theta.size) optimizer state for a rule other than SGD, else None.
    n_threads : int, threads (and parameter replicas) to train with.
    dense : bool, use the windowed path for plain SGD.
    """

    def __init__(self, theta, sizes, offsets, opts, slots, n_threads, dense):
        self.theta, self.sizes, self.offsets, self.opts, self.slots = theta, sizes, offsets, opts, slots
        self.n_threads = n_threads
        if opts.rule != sgd_kernels.SGD:
            self.run_part = self._rule_part
        elif dense:
            self.run_part = self._window_part
        else:
            self.run_part = self._sparse_part
        self.replicas = self.pool = None
        self.rounds = 0  # merges so far: the first rounds are shorter
        self.merged = 0  # samples trained on the replicas so far
        if n_threads > 1:
            self.replicas = np.tile(theta, (n_threads, 1))
            self.pool = ThreadPoolExecutor(n_threads - 1, thread_name_prefix="fastnn-sgd")
            self.barrier = threading.Barrier(n_threads)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    @classmethod
    def warm_up(cls, theta, sizes, offsets, opts, slots, n_threads, dense, X, T):
        """Compile, or load from Numba's cache, every kernel that an epoch of this
        configuration calls, by training scratch copies on one sample per thread."""
        scratch = cls(theta.copy(), sizes, offsets, opts, None if slots is None else slots.copy(), n_threads, dense)
        try:
            k = min(n_threads, len(X))
            scratch.epoch(X, T, np.arange(k), np.zeros(k, theta.dtype), 0, np.inf)
        finally:
            scratch.close()

    # -- the three compiled paths, each over one part of an epoch, on one parameter buffer

    def _sparse_part(self, theta, X, T, order, lrs, step0, stats):
        sgd_kernels.sgd_epoch(theta, self.sizes, self.offsets, X, T, order, lrs, self.opts, step0, stats)

    def _rule_part(self, theta, X, T, order, lrs, step0, stats):
        sgd_kernels.rule_epoch(theta, self.sizes, self.offsets, X, T, order, lrs, self.opts, step0, self.slots, stats)

    def _window_part(self, theta, X, T, order, lrs, step0, stats):
        W1 = unpack_views(theta, self.sizes, self.offsets)[0][0]
        k = min(WINDOW, len(order))
        Xw, Tw = np.empty((k, X.shape[1]), X.dtype), np.empty((k, T.shape[1]), T.dtype)
        P, D = np.empty((k, W1.shape[1]), X.dtype), np.empty((k, W1.shape[1]), X.dtype)
        # G is cut from a flat buffer so that a short last window's (n, n) block stays
        # C-contiguous: a strided block would compile the kernel a second time (11.7 s, measured)
        G, dW = np.empty(k * k, X.dtype), np.empty_like(W1)
        scale = np.ones(len(self.sizes) - 1, theta.dtype)
        stats[:] = 0.0
        for a in range(0, len(order), WINDOW):
            idx = order[a : a + WINDOW]
            n = len(idx)
            xw, tw = np.take(X, idx, axis=0, out=Xw[:n]), np.take(T, idx, axis=0, out=Tw[:n])
            np.matmul(xw, W1, out=P[:n])
            g = G[: n * n].reshape(n, n)
            np.matmul(xw, xw.T, out=g)
            sgd_kernels.sgd_window(theta, self.sizes, self.offsets, xw, tw, lrs[a : a + n], P[:n], g, D[:n],
                                   self.opts, step0 + a, scale, stats)
            np.matmul(xw.T, D[:n], out=dW)
            W1 -= dW
            if stats[2] < a + n:
                break
            if scale[0] < sgd_kernels.FOLD_BELOW:  # fold layer 1's factor between windows
                W1 *= scale[0]
                scale[0] = 1.0
        sgd_kernels.fold_scales(theta, self.sizes, self.offsets, scale)

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
        if self.n_threads == 1:
            return CHUNK
        per_thread = min(ROUND, FIRST_ROUND << min(self.rounds, 30))
        self.rounds += 1
        return per_thread * self.n_threads

    def _run(self, X, T, part, lrs, step0):
        """One compiled part on one thread, or one round on every thread followed by a merge."""
        if self.n_threads == 1:
            stats = np.zeros(3)
            self.run_part(self.theta, X, T, part, lrs, step0, stats)
            return stats
        k = self.n_threads
        gain = self.theta.dtype.type(merge_gain(self.merged, k))
        self.merged += len(part)
        stats = [np.zeros(3) for _ in range(k)]  # one array each: no cache line shared between threads
        futures = [self.pool.submit(self._share, t, X, T, part, lrs, step0, stats[t], gain) for t in range(1, k)]
        self._share(0, X, T, part, lrs, step0, stats[0], gain)
        for f in futures:
            f.result()
        return np.sum(stats, axis=0)

    def _share(self, t, X, T, part, lrs, step0, stats, gain):
        """Thread ``t``'s part of a round: train replica ``t`` on its share of ``part``, wait
        for the other threads, merge slice ``t`` of the parameters, wait again, and copy the
        other slices into replica ``t``."""
        k = self.n_threads
        lo, hi = len(part) * t // k, len(part) * (t + 1) // k
        try:
            self.run_part(self.replicas[t], X, T, part[lo:hi], lrs[lo:hi], step0 + lo, stats)
        except BaseException:
            self.barrier.abort()  # the other threads stop waiting
            raise
        self.barrier.wait()
        size = self.theta.size
        lo, hi = size * t // k, size * (t + 1) // k
        sgd_kernels.merge_replicas(self.theta, self.replicas, lo, hi, gain, t)
        self.barrier.wait()
        sgd_kernels.copy_outside(self.theta, self.replicas[t], lo, hi)
