"""The fused per-sample SGD epoch: forward, output gradient, backward and update in one loop.

The network's parameters live in one flat buffer ``theta`` (layer by layer: ``W1`` row
by row, then ``b1``, ``W2``, ``b2``, ...), described by ``sizes`` (the layer widths)
and ``offsets`` (where each ``W`` and ``b`` starts). The kernels update ``theta`` in
place and allocate nothing per sample. The per-call options (activation and loss codes,
L2, dropout, seed, update rule and its constants) come as one record,
``fastnn.packing.KernelOptions``.

Where the speed comes from: a row of ``W`` belongs to one input of its layer. A zero
input (about 81% of MNIST pixels) or an inactive ReLU unit contributes nothing to the
forward sum and receives no gradient, so its row is skipped in the forward pass and in
the backward pass, which is fused with the update: each active row is read once to
backpropagate the error and written once to update it. Rows go four at a time, so one
pass over a layer's outputs (forward) or deltas (backward) serves four rows.

Entry points, each compiled only when first used:

- :func:`sgd_epoch`: plain per-sample SGD, sparse rows (the fast path on images), on one
  thread, or on each thread's replica between two calls of :func:`merge_round`;
- :func:`sgd_window`: plain per-sample SGD over a window of dense inputs whose first-layer
  products come from matrix products done by the caller (see its docstring);
- :func:`rule_epoch`: per-sample steps of a dense optimizer rule (momentum, Adam, ...);
- :func:`optimizer_step`: one rule step on a flat gradient (mini-batch training);
- :func:`sgd_split_epoch`: plain per-sample SGD with the first hidden layer's units split between threads;
"""
import numpy as np
from numba import njit

from .atomics import load_acquire, spin_pause, store_release
from .prefetch import prefetch

RELU, SIGMOID, TANH, IDENTITY, SOFTMAX = 0, 1, 2, 3, 4
CROSS_ENTROPY, MSE = 0, 1
# Dense update rules; plain SGD keeps the sparse speed, the others touch every weight.
SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP, ADAGRAD = 0, 1, 2, 3, 4, 5

# Fused multiply-adds and reassociated sums let LLVM vectorise the row loops and dot
# products. Not 'nnan'/'ninf' (divergence must stay visible) and not 'arcp'/'nsz': with
# those, code compiled afresh and code loaded from the cache gave different float32
# results for the same seed (measured), and the same seed must give the same params.
_FAST = {"contract", "reassoc"}

# The pieces below that only kernels call get no wrappers for Python or for first-class
# function pointers: Numba would otherwise build both for each piece, 0.4-0.8 s of an
# 8-8.5 s cold start (alternated fresh processes), and no Python code calls them.
_PIECE = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}

FOLD_BELOW = 1e-4
"""A lazy L2 factor is multiplied into the stored weights before it falls below this."""


# -- one number at a time -------------------------------------------------------------------


@njit(cache=True, inline="always")
def _activate(z, code):
    if code == RELU:
        return z if z > 0 else 0.0
    if code == SIGMOID:
        if z >= 0:
            return 1.0 / (1.0 + np.exp(-z))
        e = np.exp(z)
        return e / (1.0 + e)
    if code == TANH:
        return np.tanh(z)
    return z


@njit(cache=True, inline="always")
def _derivative(h, code):
    """f'(z) written through the output h = f(z)."""
    if code == RELU:
        return 1.0 if h > 0 else 0.0
    if code == SIGMOID:
        return h * (1.0 - h)
    if code == TANH:
        return 1.0 - h * h
    return 1.0


@njit(cache=True, inline="always")
def keep_unit(seed, step, layer, unit, keep):
    """Deterministic dropout draw: True if ``unit`` of ``layer`` is kept at ``step``.

    A SplitMix64 hash of (seed, step, layer, unit), so no generator state is shared
    and the NumPy twin reproduces the masks exactly.
    """
    x = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    x ^= np.uint64(step) * np.uint64(0xBF58476D1CE4E5B9)
    x ^= np.uint64(layer * 1000003 + unit) * np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)) * (1.0 / 9007199254740992.0) < keep


# -- the pieces of one sample -----------------------------------------------------------------
#
# The layer-level pieces (_sum_active_rows, _hidden_layer_out, _output_loss_delta,
# _backprop_update_rows) are functions of their own, not inlined into the kernels in Numba's
# IR: each is typed and compiled once and shared by every kernel that calls it. Inlined,
# each kernel carried its own copies, and a cold start compiled the split kernel for 22.8 s
# after the one-thread kernel, against 5.1 s then. The small ones that run per sample (one
# number, a view, the L2 factor) stay inlined: as calls they made the reference epoch 7%
# slower (0.592 s against 0.553 s, alternated runs); against the old all-inlined kernel it
# is unchanged (0.555 s against 0.558 s), with bit-identical params. _scale_rows, which never
# runs per sample, is a call. _forward_from and _backward_update_to, the loops over the
# layers that call the pieces, are inlined: as functions of their own each was compiled
# with its own copy of the pieces it calls, and the first one-thread call took 1.3 s longer
# (alternated fresh processes). Callers pass layer indices and flags through int() and
# bool(): a literal 0, 1 or True is typed as a literal type of its own and would compile a
# copy of a piece per value.


@njit(cache=True, nogil=True, inline="always")
def layer_views(theta, sizes, offsets, l):
    """``(W, b)`` of layer ``l`` as views into ``theta``."""
    n_in, n_out = sizes[l], sizes[l + 1]
    w0, b0 = offsets[2 * l], offsets[2 * l + 1]
    return theta[w0 : w0 + n_in * n_out].reshape((n_in, n_out)), theta[b0 : b0 + n_out]


@njit(cache=True, nogil=True, inline="always")
def _scan_nonzero(x, idx):
    """Write the indices of ``x``'s non-zero entries to ``idx``; return how many.

    Branch-free: a mispredicted branch per entry would cost more than the work.
    """
    c = 0
    for j in range(x.size):
        idx[c] = j
        c += x[j] != 0
    return c


@njit(cache=True, nogil=True, inline="always")
def _prefetch_next(X, order, s):
    """Ask for the cache lines of the row that the sample after ``s`` will read: rows come in
    a random order, which the hardware prefetcher cannot foresee. Bit-identical results; on
    784-128-64-10, alternated with the kernel without it chunk by chunk in one process (runs
    started on an idle machine), it took 1-4% off each of 8 epochs in one run, and in
    another nothing in the host's fast phase (0.42 s) and 3-5% in its slow one (0.55 s);
    784-800-10 1-2%."""
    if s + 1 < order.size:
        x = X[order[s + 1]]
        for j in range(0, x.size, 16):  # 16 floats (or 8 doubles: every line twice) to a 64-byte line
            prefetch(x, j)


@njit(cache=True, fastmath=_FAST, nogil=True, **_PIECE)
def _sum_active_rows(W, v, m, active, n_active, z):
    """``z = sum over active j of v[j] * m[j] * W[j]``, four rows per pass over ``z``."""
    for k in range(z.size):
        z[k] = 0.0
    a = 0
    while a + 4 <= n_active:  # a quarter of z's loads and stores
        j0, j1, j2, j3 = active[a], active[a + 1], active[a + 2], active[a + 3]
        v0, v1, v2, v3 = v[j0] * m[j0], v[j1] * m[j1], v[j2] * m[j2], v[j3] * m[j3]
        w0, w1, w2, w3 = W[j0], W[j1], W[j2], W[j3]
        for k in range(z.size):
            z[k] += v0 * w0[k] + v1 * w1[k] + v2 * w2[k] + v3 * w3[k]
        a += 4
    while a < n_active:
        j = active[a]
        vj = v[j] * m[j]
        w = W[j]
        for k in range(z.size):
            z[k] += vj * w[k]
        a += 1


@njit(cache=True, fastmath=_FAST, nogil=True, **_PIECE)
def _hidden_layer_out(z, b, sc, l, h, m, active, opts, step, unit0):
    """Activation, dropout mask and the list of units that pass a signal on, for hidden layer ``l``.

    ``z`` is the input sum of the stored weights (``sc`` their lazy L2 factor) of the layer's
    units ``unit0``, ``unit0 + 1``, ...; ``b``, ``h`` and ``m`` are those units' entries.
    Returns the number of units that pass a signal on and writes their indices in the
    layer (from ``unit0`` on) to ``active``.
    """
    for k in range(z.size):
        h[k] = _activate(sc * z[k] + b[k], opts.hidden)
    keep = opts.keep[l]
    if keep < 1.0:
        for k in range(z.size):
            m[k] = 1.0 / keep if keep_unit(opts.seed, step, l, unit0 + k, keep) else 0.0
    c = 0  # branch-free compaction, as in _scan_nonzero
    for k in range(z.size):
        active[c] = unit0 + k
        c += (m[k] != 0) & ((h[k] != 0) | (opts.hidden != RELU))
    return c


@njit(cache=True, fastmath=_FAST, nogil=True, inline="always")
def _softmax(z, best, out):
    """``out = softmax(z)`` (``z[best]`` is its maximum); returns the log of the normaliser minus z[best]."""
    total = 0.0
    for k in range(z.size):
        e = np.exp(z[k] - z[best])
        out[k] = e
        total += e
    for k in range(z.size):
        out[k] /= total
    return np.log(total)


@njit(cache=True, fastmath=_FAST, nogil=True, inline="always")
def _argmax(v):
    best = 0
    for k in range(v.size):
        if v[k] > v[best]:
            best = k
    return best


@njit(cache=True, fastmath=_FAST, nogil=True, **_PIECE)
def _output_loss_delta(z, t, out, delta, output, loss):
    """Output activations ``out``, the sample's loss and the output delta (dL/dz) from the logits ``z``.

    Returns ``(loss, predicted class)``. Cross-entropy is taken from the logits, so no log(0).
    """
    n = z.size
    best = _argmax(z)
    log_total = 0.0
    if output == SOFTMAX:
        log_total = _softmax(z, best, out)
    else:
        for k in range(n):
            out[k] = _activate(z[k], output)
    if loss == CROSS_ENTROPY:  # softmax output
        sample_loss = log_total + z[best]
        for k in range(n):
            sample_loss -= t[k] * z[k]
        for k in range(n):
            delta[k] = out[k] - t[k]
        return sample_loss, best
    sample_loss = 0.0
    for k in range(n):
        d = out[k] - t[k]
        sample_loss += d * d
    sample_loss /= n
    if output == SOFTMAX:
        dot = 0.0
        for k in range(n):
            dot += (out[k] - t[k]) * out[k]
        for k in range(n):
            delta[k] = 2.0 / n * out[k] * (out[k] - t[k] - dot)
    else:
        for k in range(n):
            delta[k] = 2.0 / n * (out[k] - t[k]) * _derivative(out[k], output)
    return sample_loss, best


@njit(cache=True, fastmath=_FAST, nogil=True, **_PIECE)
def _backprop_update_rows(W, d_out, v, m, active, n_active, d_in, back, rate, hidden, propagate):
    """Backpropagate through, then update, the active rows of ``W`` (four at a time).

    Row ``j`` gets ``W[j] -= rate * v[j] * m[j] * d_out``; before that, when ``propagate``,
    ``d_in[j] = back * (W[j] . d_out) * f'(v[j]) * m[j]`` (the delta of the layer below).
    """
    nz = d_out.size
    a0 = 0
    while a0 + 4 <= n_active:  # four rows per pass over d_out, as in the forward pass
        j0, j1, j2, j3 = active[a0], active[a0 + 1], active[a0 + 2], active[a0 + 3]
        w0, w1, w2, w3 = W[j0], W[j1], W[j2], W[j3]
        if propagate:
            g0 = w0[0] - w0[0]  # zeros of theta's dtype
            g1, g2, g3 = g0, g0, g0
            for k in range(nz):
                dk = d_out[k]
                g0 += w0[k] * dk
                g1 += w1[k] * dk
                g2 += w2[k] * dk
                g3 += w3[k] * dk
            d_in[j0] = back * g0
            d_in[j1] = back * g1
            d_in[j2] = back * g2
            d_in[j3] = back * g3
        u0, u1 = rate * v[j0] * m[j0], rate * v[j1] * m[j1]
        u2, u3 = rate * v[j2] * m[j2], rate * v[j3] * m[j3]
        for k in range(nz):
            dk = d_out[k]
            w0[k] -= u0 * dk
            w1[k] -= u1 * dk
            w2[k] -= u2 * dk
            w3[k] -= u3 * dk
        a0 += 4
    for a in range(a0, n_active):
        j = active[a]
        w = W[j]
        if propagate:
            g = w[0] - w[0]  # a zero of theta's dtype
            for k in range(nz):
                g += w[k] * d_out[k]
            d_in[j] = back * g
        u = rate * v[j] * m[j]
        for k in range(nz):
            w[k] -= u * d_out[k]
    if propagate:  # f'(v) in a pass of its own: one inlined copy of _derivative, not five (~1 s of a cold start)
        for a in range(n_active):
            j = active[a]
            d_in[j] = d_in[j] * _derivative(v[j], hidden) * m[j]


@njit(cache=True, fastmath=_FAST, nogil=True, **_PIECE)
def _scale_rows(W, c):
    """``W *= c`` in place. Loops, not an array expression: those take far longer to compile.

    A call, not inlined: it runs once per call or when a lazy L2 factor is folded, never per
    sample, and five inlined copies made the split kernel's first call 0.8 s longer."""
    for j in range(W.shape[0]):
        for k in range(W.shape[1]):
            W[j, k] *= c


@njit(cache=True, fastmath=_FAST, nogil=True, inline="always")
def _decay_step(scale, l, lr, l2, W, fold):
    """Advance layer ``l``'s lazy L2 factor by one step of ``W <- (1 - lr*l2) W``.

    Returns ``(back, rate)``: the factor before this step (stored W times ``back`` are the
    weights the backward pass must see) and the rate to apply to the stored rows so the
    effective update is ``lr * grad``. With ``fold``, a factor about to underflow is first
    multiplied into the stored weights.
    """
    # Scalars stay in theta's dtype (scale and lrs share it): a float64 factor
    # would turn the float32 row updates into conversions.
    back = scale[l]
    if l2 > 0.0:
        scale[l] = back * (1.0 - lr * l2)
        if fold and scale[l] < FOLD_BELOW:
            _scale_rows(W, scale[l])
            back = back / scale[l]
            scale[l] = 1.0
    return back, lr / scale[l]


# -- the per-sample loops ---------------------------------------------------------------------


@njit(cache=True, fastmath=_FAST, nogil=True, inline="always")
def _forward_from(first, theta, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, step):
    """Forward pass through layers ``first``, ``first + 1``, ... to the output logits in ``delta[L]``."""
    L = sizes.size - 1
    for l in range(first, L):
        W, b = layer_views(theta, sizes, offsets, l)
        z = delta[l + 1, : sizes[l + 1]]  # scratch for the pre-activation, overwritten by backward later
        _sum_active_rows(W, x if l == 0 else h[l], m[l], active[l], n_active[l], z)
        if l < L - 1:
            n_active[l + 1] = _hidden_layer_out(z, b, scale[l], l, h[l + 1], m[l + 1], active[l + 1], opts, step,
                                                int(0))
        else:
            for k in range(z.size):
                z[k] = scale[l] * z[k] + b[k]


@njit(cache=True, fastmath=_FAST, nogil=True, inline="always")
def _backward_update_to(last, theta, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, lr, fold):
    """Backward pass fused with the SGD update, from the output layer down to layer ``last``."""
    L = sizes.size - 1
    for l in range(L - 1, last - 1, -1):
        W, b = layer_views(theta, sizes, offsets, l)
        d_out = delta[l + 1, : sizes[l + 1]]
        back, rate = _decay_step(scale, l, lr, opts.l2, W, fold)
        for k in range(b.size):
            b[k] -= lr * d_out[k]
        if l > 0:
            d_in = delta[l]
            for j in range(sizes[l]):
                d_in[j] = 0.0
        _backprop_update_rows(W, d_out, x if l == 0 else h[l], m[l], active[l], n_active[l], delta[l], back, rate,
                              opts.hidden, l > 0)


@njit(cache=True, fastmath=_FAST, nogil=True)
def sgd_epoch(theta, sizes, offsets, X, T, order, lrs, opts, step0, stats, work, scale):
    """Plain per-sample SGD over ``X[order]`` on one thread, updating ``theta`` in place.

    Parameters
    ----------
    theta : 1-D float array, the packed parameters (updated in place).
    sizes : int64 (L+1,), layer widths. offsets : int64 (2L,), start of W1, b1, W2, b2, ...
    X : (n, sizes[0]) inputs and T : (n, sizes[L]) targets (one-hot rows for classification),
        both C-contiguous and of theta's dtype (X's rows are read in place).
    order : int64, the sample indices in visiting order. lrs : (len(order),), the learning
        rate of every step, in theta's dtype.
    opts : fastnn.packing.KernelOptions: activation and loss codes; ``l2`` (each step does
        ``W <- (1 - lr*l2) W - lr g``; biases are not decayed; kept lazily as one factor
        per layer, so decay costs no pass over the weights); ``keep``, float64 (L,), the keep
        probability of each hidden layer's units (inverted dropout; 1 disables it); ``seed``.
    step0 : dropout draws are keyed on (seed, step0 + s) for the s-th sample of ``order``.
    stats : float64 (3,); [sum of per-sample losses, correct predictions, steps done] are
        added to it, once at the end (a row written per sample would be a cache line that
        threads running side by side pass back and forth). The loss is evaluated before each
        sample's update.
    work : the work arrays, ``fastnn.online.kernel_work(sizes, theta.dtype)``: layer outputs,
        dropout multipliers, deltas, active lists and their lengths. The caller allocates
        them (and ``scale``): NumPy's allocation compiled into the kernels took 1.1-1.4 s of
        a cold start.
    scale : theta's dtype (L,), ones: the lazy L2 factors (weights = scale[l] * stored),
        folded into the weights at the end and so left at one.

    Returns True, or False if it stopped at the first non-finite loss (``stats[2]`` then
    counts the samples before it).
    """
    h, m, delta, active, n_active = work
    L = sizes.size - 1
    loss_sum, correct, done = 0.0, 0, 0
    finished = True
    for s in range(order.size):
        x, target = X[order[s]], T[order[s]]
        _prefetch_next(X, order, s)
        n_active[0] = _scan_nonzero(x, active[0])
        _forward_from(int(0), theta, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, step0 + s)
        z, out = delta[L, : sizes[L]], h[L, : sizes[L]]
        sample_loss, best = _output_loss_delta(z, target, out, z, opts.output, opts.loss)
        if not np.isfinite(sample_loss):
            finished = False
            break
        loss_sum += sample_loss
        correct += best == _argmax(target)
        done += 1
        _backward_update_to(int(0), theta, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, lrs[s],
                            bool(True))
    fold_scales(theta, sizes, offsets, scale)
    stats[0] += loss_sum
    stats[1] += correct
    stats[2] += done
    return finished


@njit(cache=True, fastmath=_FAST, nogil=True)
def sgd_window(theta, sizes, offsets, X, T, lrs, P, G, D, opts, step0, scale, stats, work):
    """Plain per-sample SGD over a window of dense inputs, with the first layer's updates delayed.

    For the window's samples ``X`` (k, n_in), in order, with targets ``T``: the caller
    computed ``P = X @ W1`` (stored weights at the window's start) and ``G = X @ X.T``.
    Sample s sees ``W1 - sum_{r<s} x_r D[r]``, so its first-layer sum is
    ``P[s] - sum_{r<s} G[s, r] D[r]``, exactly what per-sample SGD would compute; ``D[s]``
    receives its own row update (``lr * delta1`` over layer 1's lazy L2 factor). The caller applies the window's
    first-layer update afterwards as one product, ``W1 -= X.T @ D``. Every later layer is
    updated per sample as in :func:`sgd_epoch`.

    ``scale`` holds the lazy L2 factors and persists across windows: layer 1's factor is
    never folded here, since ``P`` refers to the stored weights (the caller folds it
    between windows). ``stats`` accumulates across windows (it is added to, at the end).
    Stops at the first non-finite loss, with ``D`` zero from that sample on. ``work`` as for
    :func:`sgd_epoch` (it may be reused from window to window).
    """
    h, m, delta, active, n_active = work
    L = sizes.size - 1
    loss_sum, correct, done = 0.0, 0, 0
    b1 = layer_views(theta, sizes, offsets, 0)[1]
    for s in range(D.shape[0]):  # rows of samples not reached (after a non-finite loss) stay 0
        for k in range(D.shape[1]):
            D[s, k] = 0.0
    for s in range(X.shape[0]):
        x, t = X[s], T[s]
        z = delta[1, : sizes[1]]
        for k in range(z.size):
            z[k] = P[s, k]
        for r in range(s):
            g = G[s, r]
            for k in range(z.size):
                z[k] -= g * D[r, k]
        if L > 1:
            n_active[1] = _hidden_layer_out(z, b1, scale[0], int(0), h[1], m[1], active[1], opts, step0 + s, int(0))
            _forward_from(int(1), theta, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, step0 + s)
        else:
            for k in range(z.size):
                z[k] = scale[0] * z[k] + b1[k]
        z, out = delta[L, : sizes[L]], h[L, : sizes[L]]
        sample_loss, best = _output_loss_delta(z, t, out, z, opts.output, opts.loss)
        if not np.isfinite(sample_loss):
            break
        loss_sum += sample_loss
        correct += best == _argmax(t)
        done += 1
        lr = lrs[s]
        _backward_update_to(int(1), theta, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, lr,
                            bool(True))
        W1 = layer_views(theta, sizes, offsets, 0)[0]
        rate = _decay_step(scale, int(0), lr, opts.l2, W1, bool(False))[1]
        d1 = delta[1, : sizes[1]]
        for k in range(b1.size):
            b1[k] -= lr * d1[k]
            D[s, k] = rate * d1[k]
    stats[0] += loss_sum
    stats[1] += correct
    stats[2] += done


@njit(cache=True, fastmath=_FAST, nogil=True)
def sgd_split_epoch(theta, own, block, sizes, offsets, X, T, order, lrs, opts, step0, stats, units, t, partials, flags,
                    tick0, work, scale, deep):
    """Thread ``t``'s part of plain per-sample SGD with the first hidden layer's units split between threads.

    Every thread runs this over the same samples ``X[order]``, at the same time. Thread
    ``t`` owns units ``units[t]:units[t + 1]`` of the first hidden layer: their columns of
    ``W1``, which it trains in ``block`` (its own contiguous (n_in, n_units) array, copied
    from ``theta`` on entry and back on exit), their entries of ``b1`` and their rows of
    ``W2``, both in the shared ``theta``. No other thread reads or writes them. (Columns
    trained in place were slower than one thread on two cores: the other thread's half of
    each row of ``W1`` kept crossing between the cores, measured.) Everything after ``W2``
    (``b2`` and the later layers) is small: each thread keeps its own copy in ``own`` (same
    layout as ``theta``), copied from ``theta`` on entry, updated identically by every
    thread, and copied back by thread 0.

    Per sample, each thread computes its units and their share of the second layer's sum,
    publishes that share in ``partials[t, tick % 2]`` and its counter ``flags[8 * t] = tick``
    (release), then waits for every other thread's counter (acquire) and adds the shares in
    thread order, so every thread sees the same sum. The rest of the sample (later layers,
    output, backward pass and updates) follows as in :func:`sgd_epoch`, each thread updating
    what it owns. This is exactly per-sample SGD: only the second layer's sum is added in
    another order. Ticks run on from ``tick0`` across calls, so the counters never go back.
    A non-zero ``flags[8 * k]`` (``k`` threads) tells every thread to stop: set by the caller
    when a thread failed.

    ``stats`` as for :func:`sgd_epoch` (each thread's are the same); ``work`` and ``scale``
    (ones, this thread's own) as there. Needs a hidden layer. ``deep``: True with more than
    one hidden layer, ``None`` with exactly one; Numba then prunes the deeper layers' code
    (a branch on an argument typed None is dead), which shortens this kernel's first call for
    a 784-800-10 network.
    """
    h, m, delta, active, n_active = work
    L = sizes.size - 1
    k = units.size - 1
    u0, u1 = units[t], units[t + 1]
    n1, n2 = sizes[1], sizes[2]
    tail = offsets[3]
    for i in range(tail, theta.size):
        own[i] = theta[i]
    W1, b1 = layer_views(theta, sizes, offsets, 0)
    for j in range(block.shape[0]):
        for c in range(block.shape[1]):
            block[j, c] = W1[j, u0 + c]
    W2 = layer_views(theta, sizes, offsets, 1)[0]
    W2_own = theta[offsets[2] + u0 * n2 : offsets[2] + u1 * n2].reshape((u1 - u0, n2))
    b2 = layer_views(own, sizes, offsets, 1)[1]
    loss_sum, correct, done = 0.0, 0, 0
    stop = False
    for s in range(order.size):
        x, target = X[order[s]], T[order[s]]
        step, tick = step0 + s, tick0 + s + 1
        n_active[0] = _scan_nonzero(x, active[0])
        z1 = delta[1, u0:u1]
        _sum_active_rows(block, x, m[0], active[0], n_active[0], z1)
        n_active[1] = _hidden_layer_out(z1, b1[u0:u1], scale[0], int(0), h[1, u0:u1], m[1, u0:u1], active[1], opts,
                                        step, u0)
        share = partials[t, tick % 2, :n2]
        _sum_active_rows(W2, h[1], m[1], active[1], n_active[1], share)
        store_release(flags, 8 * t, tick)
        for r in range(k):
            while load_acquire(flags, 8 * r) < tick:
                if load_acquire(flags, 8 * k) != 0:
                    stop = True
                    break
                spin_pause()
        if stop:
            break
        z2 = delta[2, :n2]
        for c in range(n2):
            z2[c] = partials[0, tick % 2, c]
        for r in range(1, k):
            for c in range(n2):
                z2[c] += partials[r, tick % 2, c]
        if deep is not None:
            n_active[2] = _hidden_layer_out(z2, b2, scale[1], int(1), h[2, :n2], m[2, :n2], active[2], opts, step,
                                            int(0))
            _forward_from(int(2), own, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, step)
        else:
            for c in range(n2):
                z2[c] = scale[1] * z2[c] + b2[c]
        z, out = delta[L, : sizes[L]], h[L, : sizes[L]]
        sample_loss, best = _output_loss_delta(z, target, out, z, opts.output, opts.loss)
        if not np.isfinite(sample_loss):  # the same sample on every thread: they all stop here
            break
        loss_sum += sample_loss
        correct += best == _argmax(target)
        done += 1
        lr = lrs[s]
        if deep is not None:
            _backward_update_to(int(2), own, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, lr,
                                bool(True))
        d2 = delta[2, :n2]
        back, rate = _decay_step(scale, int(1), lr, opts.l2, W2_own, bool(True))
        for c in range(n2):
            b2[c] -= lr * d2[c]
        d1 = delta[1, u0:u1]
        for c in range(d1.size):
            d1[c] = 0.0
        _backprop_update_rows(W2, d2, h[1], m[1], active[1], n_active[1], delta[1], back, rate, opts.hidden, bool(True))
        back, rate = _decay_step(scale, int(0), lr, opts.l2, block, bool(True))
        for c in range(d1.size):
            b1[u0 + c] -= lr * d1[c]
        _backprop_update_rows(block, d1, x, m[0], active[0], n_active[0], delta[0], back, rate, opts.hidden,
                              bool(False))
    if scale[0] != 1.0:
        _scale_rows(block, scale[0])
    for j in range(block.shape[0]):
        for c in range(block.shape[1]):
            W1[j, u0 + c] = block[j, c]
    if scale[1] != 1.0:
        _scale_rows(W2_own, scale[1])
    for l in range(2, L):
        if scale[l] != 1.0:
            _scale_rows(layer_views(own, sizes, offsets, l)[0], scale[l])
    if t == 0:
        for i in range(tail, theta.size):
            theta[i] = own[i]
    stats[0] += loss_sum
    stats[1] += correct
    stats[2] += done


@njit(cache=True, nogil=True, inline="always")
def fold_scales(theta, sizes, offsets, scale):
    """Multiply the lazy L2 factors into the stored weights (and reset them to 1).

    Inlined into :func:`sgd_epoch`: as a function of its own it added 0.4 s to the first
    one-thread call (alternated fresh processes). A call from Python would compile it on its
    own, so the windowed path (``fastnn.online``) folds in NumPy instead."""
    for l in range(sizes.size - 1):
        if scale[l] != 1.0:
            _scale_rows(layer_views(theta, sizes, offsets, l)[0], scale[l])
            scale[l] = 1.0


@njit(cache=True, fastmath=_FAST, nogil=True, inline="always")
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
def _barrier(flags, t, k, phase):
    """Publish that thread ``t`` reached ``phase`` and wait until all ``k`` threads have.
    Returns False (at once) when ``flags[8 * k]`` is set: a thread stopped."""
    store_release(flags, 8 * t, phase)
    for r in range(k):
        while load_acquire(flags, 8 * r) < phase:
            if load_acquire(flags, 8 * k) != 0:
                return False
            spin_pause()
    return load_acquire(flags, 8 * k) == 0


@njit(cache=True, fastmath=_FAST, nogil=True)
def merge_round(theta, replicas, t, gain, flags, phase0):
    """Thread ``t``'s end of a round of training on per-thread replicas: wait for every
    thread, merge slice ``t`` of the parameters, wait again, copy the other slices into
    replica ``t``. Returns False if a thread stopped.

    Every thread calls it at the same time, after training its replica (``replicas[t]``,
    equal to ``theta`` when the round started) on its share of the round's samples with
    :func:`sgd_epoch`. ``replicas``: (k, theta.size), one per thread. Slice ``t`` of
    ``theta`` becomes ``theta + gain * (sum of the replicas' changes)`` (:func:`merge_replicas`;
    ``gain`` in theta's dtype). The waits spin on ``flags``: thread ``t``'s phase counter
    at ``flags[8 * t]`` (a cache line each), set to ``phase0 + 1`` and then ``phase0 + 2``;
    ``flags[8 * k]`` non-zero stops every thread.

    The rounds' loop is in Python (``fastnn.online``), not compiled around
    :func:`sgd_epoch`: Numba links a called function's code into its caller and optimises
    it again, so a compiled loop made the first two-thread call recompile the one-thread
    kernel's code. One function, its steps inlined: as four functions the first two-thread
    call took about 0.2 s longer (alternated fresh processes; near the host's noise)."""
    k = replicas.shape[0]
    lo, hi = theta.size * t // k, theta.size * (t + 1) // k
    if not _barrier(flags, t, k, phase0 + 1):
        return False
    merge_replicas(theta, replicas, lo, hi, gain, t)
    if not _barrier(flags, t, k, phase0 + 2):
        return False
    copy_outside(theta, replicas[t], lo, hi)
    return True


# -- dense update rules -----------------------------------------------------------------------


@njit(cache=True, fastmath=_FAST, nogil=True)
def _rule_step(p, s0, s1, a, d, l2, lr, rule, hyper, t):
    """One optimizer step on a row ``p`` whose gradient is ``a * d + l2 * p``."""
    n = p.size
    if rule == SGD:
        for k in range(n):
            p[k] -= lr * (a * d[k] + l2 * p[k])
    elif rule == MOMENTUM or rule == NESTEROV:
        beta = hyper[0]
        for k in range(n):
            g = a * d[k] + l2 * p[k]
            v = beta * s0[k] + g
            s0[k] = v
            p[k] -= lr * (g + beta * v) if rule == NESTEROV else lr * v
    elif rule == ADAM:
        b1, b2, eps = hyper[0], hyper[1], hyper[2]
        c1 = 1.0 / (1.0 - b1 ** (t + 1))
        c2 = 1.0 / (1.0 - b2 ** (t + 1))
        for k in range(n):
            g = a * d[k] + l2 * p[k]
            mk = b1 * s0[k] + (1.0 - b1) * g
            vk = b2 * s1[k] + (1.0 - b2) * g * g
            s0[k] = mk
            s1[k] = vk
            p[k] -= lr * (mk * c1) / (np.sqrt(vk * c2) + eps)
    elif rule == RMSPROP:
        decay, eps = hyper[0], hyper[1]
        for k in range(n):
            g = a * d[k] + l2 * p[k]
            sk = decay * s0[k] + (1.0 - decay) * g * g
            s0[k] = sk
            p[k] -= lr * g / (np.sqrt(sk) + eps)
    else:  # ADAGRAD
        eps = hyper[0]
        for k in range(n):
            g = a * d[k] + l2 * p[k]
            sk = s0[k] + g * g
            s0[k] = sk
            p[k] -= lr * g / (np.sqrt(sk) + eps)


@njit(cache=True, fastmath=_FAST, nogil=True)
def optimizer_step(theta, grad, slots, lr, rule, hyper, t):
    """One optimizer step on the flat ``theta`` with the flat gradient ``grad`` (in place).

    ``slots`` as for :func:`rule_epoch`; ``t`` is the 0-based update count.
    """
    _rule_step(theta, slots[0], slots[1], 1.0, grad, 0.0, lr, rule, hyper, t)


@njit(cache=True, fastmath=_FAST, nogil=True)
def _dense_backward_update(theta, sizes, offsets, x, h, m, delta, active, n_active, opts, lr, slots, t):
    """Backward pass and a dense optimizer step (every weight) for one sample.

    ``delta[L]`` holds the output delta on entry. ``t`` is the 0-based update count
    (Adam's bias correction uses ``t + 1``).
    """
    L = sizes.size - 1
    for l in range(L - 1, -1, -1):
        W, b = layer_views(theta, sizes, offsets, l)
        n_in, nz = W.shape
        wo, bo = offsets[2 * l], offsets[2 * l + 1]
        S0 = slots[0, wo : wo + n_in * nz].reshape((n_in, nz))
        S1 = slots[1, wo : wo + n_in * nz].reshape((n_in, nz))
        d_out = delta[l + 1, :nz]
        v = x if l == 0 else h[l]
        if l > 0:  # backpropagate through the weights before they change
            d_in = delta[l]
            for j in range(n_in):
                d_in[j] = 0.0
            for a in range(n_active[l]):
                j = active[l, a]
                g = W[j, 0] - W[j, 0]
                for k in range(nz):
                    g += W[j, k] * d_out[k]
                d_in[j] = g * _derivative(v[j], opts.hidden) * m[l, j]
        for j in range(n_in):
            _rule_step(W[j], S0[j], S1[j], v[j] * m[l, j], d_out, opts.l2, lr, opts.rule, opts.hyper, t)
        _rule_step(b, slots[0, bo : bo + nz], slots[1, bo : bo + nz], 1.0, d_out, 0.0, lr, opts.rule, opts.hyper, t)


@njit(cache=True, fastmath=_FAST, nogil=True)
def rule_epoch(theta, sizes, offsets, X, T, order, lrs, opts, step0, slots, stats, work, scale):
    """Per-sample steps of the dense rule ``opts.rule`` over ``X[order]`` (in place).

    As :func:`sgd_epoch`, but every weight takes a step of ``opts.rule`` (MOMENTUM, ADAM, ...)
    with its constants ``opts.hyper`` (momentum/nesterov: beta; adam: b1, b2, eps; rmsprop:
    decay, eps; adagrad: eps) and L2 added to the gradient. ``slots`` : (2, theta.size),
    the optimizer state in theta's layout (velocity; m and v; the square average or sum),
    updated in place. ``step0 + s`` is the s-th sample's 0-based update count. ``work`` and
    ``scale`` (ones; L2 is part of the rule's gradient here, so they stay one) as for
    :func:`sgd_epoch`.
    """
    h, m, delta, active, n_active = work
    L = sizes.size - 1
    loss_sum, correct, done = 0.0, 0, 0
    for s in range(order.size):
        x, t = X[order[s]], T[order[s]]
        n_active[0] = _scan_nonzero(x, active[0])
        _forward_from(int(0), theta, sizes, offsets, x, h, m, delta, active, n_active, scale, opts, step0 + s)
        z, out = delta[L, : sizes[L]], h[L, : sizes[L]]
        sample_loss, best = _output_loss_delta(z, t, out, z, opts.output, opts.loss)
        if not np.isfinite(sample_loss):
            break
        loss_sum += sample_loss
        correct += best == _argmax(t)
        done += 1
        _dense_backward_update(theta, sizes, offsets, x, h, m, delta, active, n_active, opts, lrs[s], slots, step0 + s)
    stats[0] += loss_sum
    stats[1] += correct
    stats[2] += done
