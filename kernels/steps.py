"""Plain per-sample SGD on one thread: the row loop over any samples, and windows of dense samples.

Each kernel runs the steps of the samples it is given (a chunk of an epoch, or one
thread's share of a round), updates ``net.theta`` in place, adds ``(sum of losses,
correct predictions, samples done)`` to ``stats`` and returns True, or False if it stopped
at the first non-finite loss (``stats`` then counts the samples before it).

- :func:`sgd_steps`: the row loop, skipping zero inputs and inactive units (the fast path
  on images and on CSR input). The threads' replicas run it too, between merges.
- :func:`window_steps`: a window of dense inputs whose first-layer products come from
  matrix products done by the caller (see its docstring).
"""
import numpy as np
from numba import njit

from .inputs import read_row
from .sample import (
    FAST,
    KERNEL,
    add_tally,
    backward_update_to,
    decay_step,
    fold_scales,
    forward_from,
    hidden_layer_out,
    layer_views,
    output_step,
)


@njit(cache=True, fastmath=FAST, nogil=True, **KERNEL)
def sgd_steps(net, X, T, order, lrs, opts, step0, stats, work, scale):
    """Plain per-sample SGD over the samples ``order`` of ``X``, updating ``net.theta`` in place.

    Parameters
    ----------
    net : fastnn.packing.Packed, the packed parameters (``theta`` updated in place), layer
        widths and offsets.
    X : (n, sizes[0]) C-contiguous array of theta's dtype, or a CSR matrix as the tuple
        ``(indptr, indices, data)`` (sorted indices, no stored zeros, ``data`` of theta's
        dtype); its rows are read in place. T : (n, sizes[L]) targets (one-hot rows for
        classification), C-contiguous, theta's dtype.
    order : int64, the sample indices in visiting order. lrs : (len(order),), the learning
        rate of every step, in theta's dtype.
    opts : fastnn.packing.KernelOptions: activation and loss codes; ``l2`` (each step does
        ``W <- (1 - lr*l2) W - lr g``; biases are not decayed; kept lazily as one factor
        per layer, so decay costs no pass over the weights); ``keep``, float64 (L,), the keep
        probability of each hidden layer's units (inverted dropout; 1 disables it); ``seed``.
    step0 : dropout draws are keyed on (seed, step0 + s) for the s-th sample of ``order``.
    stats : float64 (3,); [sum of per-sample losses, correct predictions, steps done] are
        added to it, once at the end. The loss is evaluated before each sample's update.
    work : the work arrays, ``fastnn.per_sample.kernel_work(sizes, theta.dtype)``: layer
        outputs (``h[0]`` holds a CSR row), dropout multipliers, deltas, active lists and
        their lengths. The caller allocates them (and ``scale``): NumPy's allocation
        compiled into the kernels lengthens a cold start.
    scale : theta's dtype (L,), ones: the lazy L2 factors (weights = scale[l] * stored),
        folded into the weights at the end and so left at one.

    Returns True, or False if it stopped at the first non-finite loss.
    """
    h, m, delta, active, n_active = work
    tally = (0.0, 0, 0)
    finished = True
    for s in range(order.size):
        ahead = order[s + 1] if s + 1 < order.size else -1
        i = order[s]
        x, n_active[0] = read_row(X, i, h[0], active[0], n_active[0], ahead)
        forward_from(np.int64(0), net, x, h, m, delta, active, n_active, scale, opts, step0 + s)
        finished, tally = output_step(net.sizes, h, delta, T[i], opts, tally)
        if not finished:
            break
        backward_update_to(np.int64(0), net, x, h, m, delta, active, n_active, scale, opts, lrs[s], bool(True))
    fold_scales(net, scale)
    add_tally(stats, tally)
    return finished


@njit(cache=True, fastmath=FAST, nogil=True, **KERNEL)
def window_steps(net, X, T, lrs, P, G, D, opts, step0, scale, stats, work):
    """Plain per-sample SGD over a window of dense inputs, with the first layer's updates delayed.

    For the window's samples ``X`` (k, n_in), in order, with targets ``T``: the caller
    computed ``P = X @ W1`` (stored weights at the window's start) and ``G = X @ X.T``.
    Sample s sees ``W1 - sum_{r<s} x_r D[r]``, so its first-layer sum is
    ``P[s] - sum_{r<s} G[s, r] D[r]``, exactly what per-sample SGD would compute; ``D[s]``
    receives its own row update (``lr * delta1`` over layer 1's lazy L2 factor). The caller
    applies the window's first-layer update afterwards as one product, ``W1 -= X.T @ D``.
    Every later layer is updated per sample as in :func:`sgd_steps`.

    ``scale`` holds the lazy L2 factors and persists across windows: layer 1's factor is
    never folded here, since ``P`` refers to the stored weights (the caller folds it
    between windows). ``stats`` accumulates across windows (it is added to, at the end).
    Returns False at the first non-finite loss, with ``D`` zero from that sample on.
    ``work`` as for :func:`sgd_steps` (it may be reused from window to window).
    """
    h, m, delta, active, n_active = work
    sizes = net.sizes
    L = sizes.size - 1
    tally = (0.0, 0, 0)
    finished = True
    b1 = layer_views(net, 0)[1]
    for s in range(D.shape[0]):  # rows of samples not reached (after a non-finite loss) stay 0
        for k in range(D.shape[1]):
            D[s, k] = 0.0
    for s in range(X.shape[0]):
        x = X[s]
        z = delta[1, : sizes[1]]
        for k in range(z.size):
            z[k] = P[s, k]
        for r in range(s):
            g = G[s, r]
            for k in range(z.size):
                z[k] -= g * D[r, k]
        if L > 1:
            n_active[1] = hidden_layer_out(z, b1, scale[0], np.int64(0), h[1], m[1], active[1], opts, step0 + s,
                                           np.int64(0))
            forward_from(np.int64(1), net, x, h, m, delta, active, n_active, scale, opts, step0 + s)
        else:
            for k in range(z.size):
                z[k] = scale[0] * z[k] + b1[k]
        finished, tally = output_step(sizes, h, delta, T[s], opts, tally)
        if not finished:
            break
        lr = lrs[s]
        backward_update_to(np.int64(1), net, x, h, m, delta, active, n_active, scale, opts, lr, bool(True))
        W1 = layer_views(net, 0)[0]
        rate = decay_step(scale, np.int64(0), lr, opts.l2, W1, bool(False))[1]
        d1 = delta[1, : sizes[1]]
        for k in range(b1.size):
            b1[k] -= lr * d1[k]
            D[s, k] = rate * d1[k]
    add_tally(stats, tally)
    return finished
