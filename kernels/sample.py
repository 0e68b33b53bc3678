"""The pieces of one per-sample step: read the input, forward, output loss and delta, backward fused with the update.

The network's parameters live in one flat buffer ``net.theta`` (layer by layer: ``W1`` row
by row, then ``b1``, ``W2``, ``b2``, ...), described by ``net.sizes`` (the layer widths) and
``net.offsets`` (where each ``W`` and ``b`` starts): ``net`` is one record,
``fastnn.packing.Packed``. The kernels update ``theta`` in place and allocate nothing per
sample. The per-call options (activation and loss codes, L2, dropout, seed, update rule and
its constants) come as one record too, ``fastnn.packing.KernelOptions``.

Where the speed comes from: a row of ``W`` belongs to one input of its layer. A zero input
(about 81% of MNIST pixels) or an inactive ReLU unit contributes nothing to the forward sum
and receives no gradient, so its row is skipped in the forward pass and in the backward
pass, which is fused with the update: each active row is read once to backpropagate the
error and written once to update it. Rows go four at a time, so one pass over a layer's
outputs (forward) or deltas (backward) serves four rows.

The input row comes from ``inputs`` (a dense array or CSR). The loops over samples that use
these pieces are in ``steps`` (one thread), ``threads`` (several) and ``rules`` (the dense
optimizer rules).
"""
import numpy as np
from numba import njit


RELU, SIGMOID, TANH, IDENTITY, SOFTMAX = 0, 1, 2, 3, 4
CROSS_ENTROPY, MSE = 0, 1

# Fused multiply-adds and reassociated sums let LLVM vectorise the row loops and dot
# products. Not 'nnan'/'ninf' (divergence must stay visible) and not 'arcp'/'nsz': with
# those, code compiled afresh and code loaded from the cache gave different float32
# results for the same seed, and the same seed must give the same params.
FAST = {"contract", "reassoc"}

# The pieces that only kernels call get no wrappers for Python or for first-class function
# pointers: Numba would otherwise build both for each piece, a measurable share of a cold
# start (bench/startup.py), and no Python code calls them.
PIECE = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}
# The kernels, which Python calls, get no wrapper for first-class function pointers either.
KERNEL = {"no_cfunc_wrapper": True}

FOLD_BELOW = 1e-4
"""A lazy L2 factor is multiplied into the stored weights before it falls below this."""


# -- one number at a time -------------------------------------------------------------------


@njit(cache=True, inline="always")
def activate(z, code):
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
def derivative(h, code):
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


# -- the layer-level pieces -----------------------------------------------------------------
#
# The layer-level pieces (sum_active_rows, hidden_layer_out, output_loss_delta,
# backprop_update_rows) are functions of their own, not inlined into the kernels in Numba's
# IR: each is typed and compiled once and shared by every kernel that calls it; inlined,
# every kernel carried its own copies and a cold start took several times longer
# (bench/compile_variants.py, "all inlined"). The small ones that run per sample (one number,
# a view, the L2 factor) stay inlined: as calls they made the reference epoch slower.
# scale_rows, which never runs per sample, is a call. forward_from and backward_update_to,
# the loops over the layers that call the pieces, are inlined: as functions of their own
# each was compiled with its own copy of the pieces it calls (a longer first call,
# bench/startup.py). Callers pass layer indices and flags through np.int64() and bool(): a
# literal 0, 1 or True is typed as a literal type of its own and would compile a copy of a
# piece per value (np.int64, not int: Numba's int() is an overload, one more compilation).


@njit(cache=True, nogil=True, inline="always")
def layer_views(net, l):
    """``(W, b)`` of layer ``l`` as views into ``net.theta``."""
    n_in, n_out = net.sizes[l], net.sizes[l + 1]
    w0, b0 = net.offsets[2 * l], net.offsets[2 * l + 1]
    return net.theta[w0 : w0 + n_in * n_out].reshape((n_in, n_out)), net.theta[b0 : b0 + n_out]


@njit(cache=True, fastmath=FAST, nogil=True, **PIECE)
def sum_active_rows(W, v, m, active, n_active, z):
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


@njit(cache=True, fastmath=FAST, nogil=True, **PIECE)
def hidden_layer_out(z, b, sc, l, h, m, active, opts, step, unit0):
    """Activation, dropout mask and the list of units that pass a signal on, for hidden layer ``l``.

    ``z`` is the input sum of the stored weights (``sc`` their lazy L2 factor) of the layer's
    units ``unit0``, ``unit0 + 1``, ...; ``b``, ``h`` and ``m`` are those units' entries.
    Returns the number of units that pass a signal on and writes their indices in the
    layer (from ``unit0`` on) to ``active``.
    """
    for k in range(z.size):
        h[k] = activate(sc * z[k] + b[k], opts.hidden)
    keep = opts.keep[l]
    if keep < 1.0:
        for k in range(z.size):
            m[k] = 1.0 / keep if keep_unit(opts.seed, step, l, unit0 + k, keep) else 0.0
    c = 0  # branch-free compaction, as in inputs.scan_nonzero
    for k in range(z.size):
        active[c] = unit0 + k
        c += (m[k] != 0) & ((h[k] != 0) | (opts.hidden != RELU))
    return c


@njit(cache=True, fastmath=FAST, nogil=True, inline="always")
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


@njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def argmax(v):
    best = 0
    for k in range(v.size):
        if v[k] > v[best]:
            best = k
    return best


@njit(cache=True, fastmath=FAST, nogil=True, **PIECE)
def output_loss_delta(z, t, out, delta, output, loss):
    """Output activations ``out``, the sample's loss and the output delta (dL/dz) from the logits ``z``.

    Returns ``(loss, predicted class)``. Cross-entropy is taken from the logits, so no log(0).
    """
    n = z.size
    best = argmax(z)
    log_total = 0.0
    if output == SOFTMAX:
        log_total = _softmax(z, best, out)
    else:
        for k in range(n):
            out[k] = activate(z[k], output)
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
            delta[k] = 2.0 / n * (out[k] - t[k]) * derivative(out[k], output)
    return sample_loss, best


@njit(cache=True, fastmath=FAST, nogil=True, **PIECE)
def backprop_update_rows(W, d_out, v, m, active, n_active, d_in, back, rate, hidden, propagate):
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
    if propagate:  # f'(v) in a pass of its own: one inlined copy of derivative, not five (a shorter cold start)
        for a in range(n_active):
            j = active[a]
            d_in[j] = d_in[j] * derivative(v[j], hidden) * m[j]


@njit(cache=True, fastmath=FAST, nogil=True, **PIECE)
def scale_rows(W, c):
    """``W *= c`` in place. Loops, not an array expression: those take far longer to compile.

    A call, not inlined: it runs once per call or when a lazy L2 factor is folded, never per
    sample, and inlined copies lengthened the split kernel's first call."""
    for j in range(W.shape[0]):
        for k in range(W.shape[1]):
            W[j, k] *= c


@njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def decay_step(scale, l, lr, l2, W, fold):
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
            scale_rows(W, scale[l])
            back = back / scale[l]
            scale[l] = 1.0
    return back, lr / scale[l]


@njit(cache=True, nogil=True, inline="always")
def fold_scales(net, scale):
    """Multiply the lazy L2 factors into the stored weights (and reset them to 1).

    Inlined into the kernels that end with it: as a function of its own it lengthened the
    first one-thread call (bench/startup.py). The windowed path folds in NumPy instead."""
    for l in range(net.sizes.size - 1):
        if scale[l] != 1.0:
            scale_rows(layer_views(net, l)[0], scale[l])
            scale[l] = 1.0


# -- a sample's passes through the layers ---------------------------------------------------


@njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def forward_from(first, net, x, h, m, delta, active, n_active, scale, opts, step):
    """Forward pass through layers ``first``, ``first + 1``, ... to the output logits in ``delta[L]``.

    A kernel's step calls ``read_row``, this and :func:`output_step` itself, with no
    inlined function around the three: Numba's inlining pass processes an inlined body
    again at every level of nesting, which lengthened a cold start (bench/startup.py).
    """
    sizes = net.sizes
    L = sizes.size - 1
    for l in range(first, L):
        W, b = layer_views(net, l)
        z = delta[l + 1, : sizes[l + 1]]  # scratch for the pre-activation, overwritten by backward later
        sum_active_rows(W, x if l == 0 else h[l], m[l], active[l], n_active[l], z)
        if l < L - 1:
            n_active[l + 1] = hidden_layer_out(z, b, scale[l], l, h[l + 1], m[l + 1], active[l + 1], opts, step,
                                               np.int64(0))
        else:
            for k in range(z.size):
                z[k] = scale[l] * z[k] + b[k]


@njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def output_step(sizes, h, delta, target, opts, tally):
    """The output layer of one sample: activations, loss and delta (into ``delta[L]``), counted.

    ``tally`` is ``(sum of losses, correct predictions, samples done)``. Returns
    ``(finite, tally)``: a non-finite loss is not counted, and the caller stops there.
    """
    L = sizes.size - 1
    z, out = delta[L, : sizes[L]], h[L, : sizes[L]]
    sample_loss, best = output_loss_delta(z, target, out, z, opts.output, opts.loss)
    if not np.isfinite(sample_loss):
        return False, tally
    return True, (tally[0] + sample_loss, tally[1] + (best == argmax(target)), tally[2] + 1)


@njit(cache=True, nogil=True, inline="always")
def add_tally(stats, tally):
    """Add a call's tally to ``stats`` once, at its end: a row written per sample would be a
    cache line that threads running side by side pass back and forth."""
    stats[0] += tally[0]
    stats[1] += tally[1]
    stats[2] += tally[2]


@njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def backward_update_to(last, net, x, h, m, delta, active, n_active, scale, opts, lr, fold):
    """Backward pass fused with the SGD update, from the output layer down to layer ``last``."""
    sizes = net.sizes
    L = sizes.size - 1
    for l in range(L - 1, last - 1, -1):
        W, b = layer_views(net, l)
        d_out = delta[l + 1, : sizes[l + 1]]
        back, rate = decay_step(scale, l, lr, opts.l2, W, fold)
        for k in range(b.size):
            b[k] -= lr * d_out[k]
        if l > 0:
            d_in = delta[l]
            for j in range(sizes[l]):
                d_in[j] = 0.0
        backprop_update_rows(W, d_out, x if l == 0 else h[l], m[l], active[l], n_active[l], delta[l], back, rate,
                             opts.hidden, l > 0)
