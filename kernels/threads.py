"""Plain per-sample SGD on several threads: units split between them, or replicas merged between rounds.

Threads meet by spinning on counters in ``flags``, one per thread on a cache line of its
own (``flags[8 * t]``), published with release stores and read with acquire loads
(``atomics``); ``flags[8 * k]`` (``k`` threads) non-zero tells every thread to stop: set by
the caller when a thread failed.

- :func:`split_steps`: thread ``t``'s share of the first hidden layer's units; the threads
  meet once per sample to add their shares of the second layer's sum. :func:`touched_rows`
  lists the rows of ``W1`` an epoch on CSR input can touch.
- :func:`merge_round`: thread ``t``'s end of a round of training on per-thread replicas
  (each trained with ``steps.sgd_steps``): merge the replicas' changes and restart them.
"""
import numpy as np
from numba import njit

from .atomics import load_acquire, spin_pause, store_release
from .inputs import read_row
from .prefetch import prefetch
from .sample import (
    FAST,
    KERNEL,
    add_tally,
    backprop_update_rows,
    backward_update_to,
    decay_step,
    forward_from,
    hidden_layer_out,
    layer_views,
    output_step,
    scale_rows,
    sum_active_rows,
)


@njit(cache=True, fastmath=FAST, nogil=True, **KERNEL)
def split_steps(net, own, block, X, T, order, lrs, opts, step0, stats, units, t, partials, flags, tick0, work,
                scale, deep, rows, load, store):
    """Thread ``t``'s part of plain per-sample SGD with the first hidden layer's units split between threads.

    Every thread runs this over the same samples ``order`` of ``X``, at the same time.
    Thread ``t`` owns units ``units[t]:units[t + 1]`` of the first hidden layer: their columns
    of ``W1``, which it trains in ``block`` (its own contiguous (n_in, n_units) array, copied
    from ``net.theta`` by an epoch's first call and back by its last: see ``rows``), their
    entries of ``b1`` and their rows of ``W2``, both in the shared ``theta``. No other thread reads or writes them (columns
    trained in place kept crossing between the cores, slower than one thread). Everything
    after ``W2`` (``b2`` and the later layers) is small: each thread keeps its own copy in
    ``own`` (a ``Packed`` record of the same layout whose ``theta`` is the thread's own
    buffer), copied from ``theta`` on entry, updated identically by every thread, and copied
    back by thread 0.

    Per sample, each thread computes its units and their share of the second layer's sum,
    publishes that share in ``partials[t, tick % 2]`` and its counter ``flags[8 * t] = tick``
    (release), then waits for every other thread's counter (acquire) and adds the shares in
    thread order, so every thread sees the same sum. The rest of the sample (later layers,
    output, backward pass and updates) follows as in ``steps.sgd_steps``, each thread
    updating what it owns. This is exactly per-sample SGD: only the second layer's sum is
    added in another order. Ticks run on from ``tick0`` across calls, so the counters never
    go back.

    ``X``, ``T``, ``order``, ``lrs``, ``opts``, ``step0``, ``work`` and ``scale`` (ones, this
    thread's own) as for ``steps.sgd_steps``; ``stats`` likewise (each thread's are the same).
    Needs a hidden layer. ``deep``: True with more than one hidden layer, ``None`` with
    exactly one; Numba then prunes the deeper layers' code (a branch on an argument typed
    None is dead), which shortens this kernel's first call for a one-hidden-layer network.

    ``rows`` (int64): the rows of ``W1`` that ``block`` holds, those the epoch's samples can
    touch: every row for a dense ``X``, the columns its samples use for CSR
    (:func:`touched_rows`), so that a bag of words does not copy all of ``W1``. With ``load``
    they are copied into ``block`` on entry, with ``store`` back into ``W1`` on exit (after the
    call's samples): the caller loads on an epoch's first call and stores on its last, so
    that the calls in between copy nothing (per call, the copies of a bag of words' touched
    rows took most of an epoch). Between them ``W1``'s columns in ``theta`` are stale. A call
    on no samples with ``store`` only copies them back.

    Returns True, or False if it stopped: at a non-finite loss (the same sample on every
    thread) or because another thread failed.
    """
    h, m, delta, active, n_active = work
    sizes, offsets, theta = net.sizes, net.offsets, net.theta
    L = sizes.size - 1
    k = units.size - 1
    u0, u1 = units[t], units[t + 1]
    n2 = sizes[2]
    tail = offsets[3]
    for i in range(tail, theta.size):
        own.theta[i] = theta[i]
    W1, b1 = layer_views(net, 0)
    if load:
        copy_columns(W1, u0, block, np.int64(0), rows, block.shape[1])
    W2 = layer_views(net, 1)[0]
    W2_own = theta[offsets[2] + u0 * n2 : offsets[2] + u1 * n2].reshape((u1 - u0, n2))
    b2 = layer_views(own, 1)[1]
    tally = (0.0, 0, 0)
    finished = True
    for s in range(order.size):
        i = order[s]
        step, tick = step0 + s, tick0 + s + 1
        x, n_in = read_row(X, i, h[0], active[0], n_active[0], np.int64(-1))
        n_active[0] = n_in
        z1 = delta[1, u0:u1]
        sum_active_rows(block, x, m[0], active[0], n_active[0], z1)
        n_active[1] = hidden_layer_out(z1, b1[u0:u1], scale[0], np.int64(0), h[1, u0:u1], m[1, u0:u1], active[1], opts,
                                       step, u0)
        share = partials[t, tick % 2, :n2]
        sum_active_rows(W2, h[1], m[1], active[1], n_active[1], share)
        store_release(flags, 8 * t, tick)
        for r in range(k):
            while load_acquire(flags, 8 * r) < tick:
                if load_acquire(flags, 8 * k) != 0:
                    finished = False
                    break
                spin_pause()
        if not finished:
            break
        z2 = delta[2, :n2]
        for c in range(n2):
            z2[c] = partials[0, tick % 2, c]
        for r in range(1, k):
            for c in range(n2):
                z2[c] += partials[r, tick % 2, c]
        if deep is not None:
            n_active[2] = hidden_layer_out(z2, b2, scale[1], np.int64(1), h[2, :n2], m[2, :n2], active[2], opts, step,
                                           np.int64(0))
            forward_from(np.int64(2), own, x, h, m, delta, active, n_active, scale, opts, step)
        else:
            for c in range(n2):
                z2[c] = scale[1] * z2[c] + b2[c]
        finished, tally = output_step(sizes, h, delta, T[i], opts, tally)
        if not finished:  # the same sample on every thread: they all stop here
            break
        lr = lrs[s]
        if deep is not None:
            backward_update_to(np.int64(2), own, x, h, m, delta, active, n_active, scale, opts, lr, bool(True))
        d2 = delta[2, :n2]
        back, rate = decay_step(scale, np.int64(1), lr, opts.l2, W2_own, bool(True))
        for c in range(n2):
            b2[c] -= lr * d2[c]
        d1 = delta[1, u0:u1]
        for c in range(d1.size):
            d1[c] = 0.0
        backprop_update_rows(W2, d2, h[1], m[1], active[1], n_active[1], delta[1], back, rate, opts.hidden, bool(True))
        back, rate = decay_step(scale, np.int64(0), lr, opts.l2, block, bool(True))
        for c in range(d1.size):
            b1[u0 + c] -= lr * d1[c]
        backprop_update_rows(block, d1, x, m[0], active[0], n_active[0], delta[0], back, rate, opts.hidden,
                             bool(False))
    if scale[0] != 1.0:
        scale_rows(block, scale[0])
    if store:
        copy_columns(block, np.int64(0), W1, u0, rows, block.shape[1])
    if scale[1] != 1.0:
        scale_rows(W2_own, scale[1])
    for l in range(2, L):
        if scale[l] != 1.0:
            scale_rows(layer_views(own, l)[0], scale[l])
    if t == 0:
        for i in range(tail, theta.size):
            theta[i] = own.theta[i]
    add_tally(stats, tally)
    return finished


COPY_AHEAD = 8
"""Rows ahead whose cache lines :func:`copy_columns` asks for before copying a row."""


@njit(cache=True, nogil=True, inline="always")
def copy_columns(src, s0, dst, d0, rows, width):
    """``dst[j, d0:d0 + width] = src[j, s0:s0 + width]`` for each ``j`` in ``rows``.

    The rows are scattered over a large array in no order the hardware prefetcher can
    follow: asking for the lines of the row ``COPY_AHEAD`` ahead (source and destination)
    made the copy of a bag of words' touched rows several times faster.
    """
    step = max(1, 64 // src.itemsize)  # elements to a 64-byte line
    for r in range(rows.size):
        if r + COPY_AHEAD < rows.size:
            a = rows[r + COPY_AHEAD]
            src_row, dst_row = src[a], dst[a]
            for c in range(0, width, step):
                prefetch(src_row, s0 + c)
                prefetch(dst_row, d0 + c)
        j = rows[r]
        for c in range(width):
            dst[j, d0 + c] = src[j, s0 + c]


@njit(cache=True, nogil=True)
def touched_rows(indptr, indices, order, seen, rows):
    """The columns used by the CSR rows ``order`` (``indptr``, ``indices``), each once, in
    ``rows[:count]`` in ascending order; returns ``count``. ``seen`` (bool, one per column,
    all False) is left all False. The rows of ``W1`` that those samples touch, in the order
    in which :func:`copy_columns` copies them fastest (ascending addresses)."""
    count = 0
    for s in range(order.size):
        i = order[s]
        for a in range(indptr[i], indptr[i + 1]):
            j = indices[a]
            if not seen[j]:
                seen[j] = True
                count += 1
    c = 0
    for j in range(seen.size):
        if seen[j]:
            rows[c] = j
            c += 1
            seen[j] = False
    return count


@njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def merge_replicas(theta, replicas, lo, hi, gain, own):
    """Set ``theta[lo:hi]`` to ``theta + gain * (sum of the replicas' changes)`` and copy it into replica ``own``.

    Replica ``r`` started the round equal to ``theta``. ``gain = 1`` sums the changes (every
    sample keeps its full step); ``gain = 1 / n_replicas`` takes their mean. ``lo``/``hi``
    let threads merge disjoint slices; each thread then copies the rest of ``theta`` into
    its own replica (:func:`copy_outside`), so no core writes a replica another core trains
    on (those lines would then cross between the cores one training miss at a time).
    ``gain`` comes in ``theta``'s dtype. Works through blocks that stay in L1, each loop
    running along contiguous memory.
    """
    block = 2048
    total = np.empty(block, theta.dtype)
    for start in range(lo, hi, block):
        n = min(block, hi - start)
        base = theta[start : start + n]
        for i in range(n):
            total[i] = 0.0
        for r in range(replicas.shape[0]):
            rep = replicas[r, start : start + n]
            for i in range(n):
                total[i] += rep[i] - base[i]
        mine = replicas[own, start : start + n]
        for i in range(n):
            base[i] += gain * total[i]
            mine[i] = base[i]


@njit(cache=True, nogil=True, inline="always")
def copy_outside(theta, replica, lo, hi):
    """``replica[:lo] = theta[:lo]`` and ``replica[hi:] = theta[hi:]``."""
    for i in range(lo):
        replica[i] = theta[i]
    for i in range(hi, theta.size):
        replica[i] = theta[i]


@njit(cache=True, nogil=True, inline="always")
def barrier(flags, t, k, phase):
    """Publish that thread ``t`` reached ``phase`` and wait until all ``k`` threads have.
    Returns False (at once) when ``flags[8 * k]`` is set: a thread stopped."""
    store_release(flags, 8 * t, phase)
    for r in range(k):
        while load_acquire(flags, 8 * r) < phase:
            if load_acquire(flags, 8 * k) != 0:
                return False
            spin_pause()
    return load_acquire(flags, 8 * k) == 0


@njit(cache=True, fastmath=FAST, nogil=True, **KERNEL)
def merge_round(theta, replicas, t, gain, flags, phase0):
    """Thread ``t``'s end of a round of training on per-thread replicas: wait for every
    thread, merge slice ``t`` of the parameters, wait again, copy the other slices into
    replica ``t``. Returns False if a thread stopped.

    Every thread calls it at the same time, after training its replica (``replicas[t]``,
    equal to ``theta`` when the round started) on its share of the round's samples with
    ``steps.sgd_steps``. ``replicas``: (k, theta.size), one per thread. Slice ``t`` of
    ``theta`` becomes ``theta + gain * (sum of the replicas' changes)`` (:func:`merge_replicas`;
    ``gain`` in theta's dtype). The waits spin on ``flags``: thread ``t``'s phase counter,
    set to ``phase0 + 1`` and then ``phase0 + 2``.

    The rounds' loop is in Python (``fastnn.per_sample``), not compiled around
    ``sgd_steps``: Numba links a called function's code into its caller and optimises it
    again, so a compiled loop made the first two-thread call recompile the one-thread
    kernel's code. One function, its steps inlined: as four functions the first two-thread
    call took longer (bench/startup.py)."""
    k = replicas.shape[0]
    lo, hi = theta.size * t // k, theta.size * (t + 1) // k
    if not barrier(flags, t, k, phase0 + 1):
        return False
    merge_replicas(theta, replicas, lo, hi, gain, t)
    if not barrier(flags, t, k, phase0 + 2):
        return False
    copy_outside(theta, replicas[t], lo, hi)
    return True
