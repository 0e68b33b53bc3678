"""Per-sample steps of the dense optimizer rules (momentum, Nesterov, Adam, RMSProp, AdaGrad).

Plain SGD keeps the sparse speed (``steps``); these rules keep state for every weight, so
every weight takes a step at every sample. The forward pass and the output are the same
pieces as plain SGD's (``sample``).
"""
import numpy as np
from numba import njit

from .inputs import read_row
from .sample import FAST, KERNEL, add_tally, derivative, forward_from, layer_views, output_step

SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP, ADAGRAD = 0, 1, 2, 3, 4, 5


@njit(cache=True, fastmath=FAST, nogil=True, **KERNEL)
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


@njit(cache=True, fastmath=FAST, nogil=True, **KERNEL)
def _dense_backward_update(net, x, h, m, delta, active, n_active, opts, lr, slots, t):
    """Backward pass and a dense optimizer step (every weight) for one sample.

    ``delta[L]`` holds the output delta on entry. ``t`` is the 0-based update count
    (Adam's bias correction uses ``t + 1``).
    """
    L = net.sizes.size - 1
    for l in range(L - 1, -1, -1):
        W, b = layer_views(net, l)
        n_in, nz = W.shape
        wo, bo = net.offsets[2 * l], net.offsets[2 * l + 1]
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
                d_in[j] = g * derivative(v[j], opts.hidden) * m[l, j]
        for j in range(n_in):
            _rule_step(W[j], S0[j], S1[j], v[j] * m[l, j], d_out, opts.l2, lr, opts.rule, opts.hyper, t)
        _rule_step(b, slots[0, bo : bo + nz], slots[1, bo : bo + nz], 1.0, d_out, 0.0, lr, opts.rule, opts.hyper, t)


@njit(cache=True, fastmath=FAST, nogil=True, **KERNEL)
def rule_steps(net, X, T, order, lrs, opts, step0, slots, stats, work, scale):
    """Per-sample steps of the dense rule ``opts.rule`` over the samples ``order`` of ``X`` (in place).

    As ``steps.sgd_steps`` (dense or CSR ``X``), but every weight takes a step of
    ``opts.rule`` (MOMENTUM, ADAM, ...) with its constants ``opts.hyper`` (momentum/nesterov:
    beta; adam: b1, b2, eps; rmsprop: decay, eps; adagrad: eps) and L2 added to the gradient.
    ``slots`` : (2, theta.size), the optimizer state in theta's layout (velocity; m and v;
    the square average or sum), updated in place. ``step0 + s`` is the s-th sample's 0-based
    update count. ``work`` and ``scale`` (ones; L2 is part of the rule's gradient here, so
    they stay one) as for ``sgd_steps``. Returns True, or False if it stopped at the first
    non-finite loss.
    """
    h, m, delta, active, n_active = work
    tally = (0.0, 0, 0)
    finished = True
    for s in range(order.size):
        i = order[s]
        x, n_active[0] = read_row(X, i, h[0], active[0], n_active[0], np.int64(-1))
        forward_from(np.int64(0), net, x, h, m, delta, active, n_active, scale, opts, step0 + s)
        finished, tally = output_step(net.sizes, h, delta, T[i], opts, tally)
        if not finished:
            break
        _dense_backward_update(net, x, h, m, delta, active, n_active, opts, lrs[s], slots, step0 + s)
    add_tally(stats, tally)
    return finished
