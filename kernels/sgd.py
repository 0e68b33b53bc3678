"""The fused per-sample SGD epoch: forward, output gradient, backward and update in one loop.

The network's parameters live in one flat buffer ``theta`` (layer by layer: ``W1`` row
by row, then ``b1``, ``W2``, ``b2``, ...), described by ``sizes`` (the layer widths)
and ``offsets`` (where each ``W`` and ``b`` starts). The kernel updates ``theta`` in
place and allocates nothing per sample.

Where the speed comes from: a row of ``W`` belongs to one input of its layer. A zero
input (about 81% of MNIST pixels) or an inactive ReLU unit contributes nothing to the
forward sum and receives no gradient, so its row is skipped in the forward pass and in
the backward pass, which is fused with the update: each active row is read once to
backpropagate the error and written once to update it. Rows go four at a time, so one
pass over a layer's outputs (forward) or deltas (backward) serves four rows.
"""
import numpy as np
from numba import njit, prange

RELU, SIGMOID, TANH, IDENTITY, SOFTMAX = 0, 1, 2, 3, 4
CROSS_ENTROPY, MSE = 0, 1
# Dense update rules; plain SGD keeps the sparse speed, the others touch every weight.
SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP, ADAGRAD = 0, 1, 2, 3, 4, 5

# Fused multiply-adds and reassociated sums let LLVM vectorise the row loops and dot
# products. Not 'nnan'/'ninf' (divergence must stay visible) and not 'arcp'/'nsz': with
# those, code compiled afresh and code loaded from the cache gave different float32
# results for the same seed (measured), and the same seed must give the same params.
_FAST = {"contract", "reassoc"}


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


@njit(cache=True, fastmath=_FAST)
def _dense_backward_update(theta, sizes, offsets, h, m, delta, active, n_active, hidden, lr, l2, rule, hyper, slots, t):
    """Backward pass and a dense optimizer step (every weight) for one sample.

    ``delta[L]`` holds the output delta on entry. ``t`` is the 0-based update count
    (Adam's bias correction uses ``t + 1``).
    """
    L = sizes.size - 1
    for l in range(L - 1, -1, -1):
        n_in = sizes[l]
        nz = sizes[l + 1]
        wo = offsets[2 * l]
        bo = offsets[2 * l + 1]
        W = theta[wo : wo + n_in * nz].reshape((n_in, nz))
        S0 = slots[0, wo : wo + n_in * nz].reshape((n_in, nz))
        S1 = slots[1, wo : wo + n_in * nz].reshape((n_in, nz))
        d_out = delta[l + 1]
        if l > 0:  # backpropagate through the weights before they change
            d_in = delta[l]
            for j in range(n_in):
                d_in[j] = 0.0
            for a in range(n_active[l]):
                j = active[l, a]
                w = W[j]
                g = w[0] - w[0]
                for k in range(nz):
                    g += w[k] * d_out[k]
                d_in[j] = g * _derivative(h[l, j], hidden) * m[l, j]
        for j in range(n_in):
            _rule_step(W[j], S0[j], S1[j], h[l, j] * m[l, j], d_out, l2, lr, rule, hyper, t)
        _rule_step(theta[bo : bo + nz], slots[0, bo : bo + nz], slots[1, bo : bo + nz], 1.0, d_out, 0.0, lr, rule,
                   hyper, t)


@njit(cache=True, fastmath=_FAST)
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
        rho, eps = hyper[0], hyper[1]
        for k in range(n):
            g = a * d[k] + l2 * p[k]
            sk = rho * s0[k] + (1.0 - rho) * g * g
            s0[k] = sk
            p[k] -= lr * g / (np.sqrt(sk) + eps)
    else:  # ADAGRAD
        eps = hyper[0]
        for k in range(n):
            g = a * d[k] + l2 * p[k]
            sk = s0[k] + g * g
            s0[k] = sk
            p[k] -= lr * g / (np.sqrt(sk) + eps)


@njit(cache=True, fastmath=_FAST)
def optimizer_step(theta, grad, slots, lr, rule, hyper, t):
    """One optimizer step on the flat ``theta`` with the flat gradient ``grad`` (in place).

    ``slots`` as for :func:`sgd_epoch`; ``t`` is the 0-based update count.
    """
    _rule_step(theta, slots[0], slots[1], 1.0, grad, 0.0, lr, rule, hyper, t)


@njit(cache=True, fastmath=_FAST, nogil=True)
def sgd_epoch(theta, sizes, offsets, X, T, order, lrs, hidden, output, loss, l2, keep, seed, step0, rule, hyper, slots,
              stats):
    """Run per-sample SGD over ``X[order]``, updating ``theta`` in place.

    Parameters
    ----------
    theta : 1-D float array, the packed parameters (updated in place).
    sizes : int64 (L+1,), layer widths. offsets : int64 (2L,), start of W1, b1, W2, b2, ...
    X : (n, sizes[0]) inputs and T : (n, sizes[L]) targets (one-hot rows for classification),
        both C-contiguous and of theta's dtype (X's rows are read in place).
    order : int64, the sample indices in visiting order. lrs : float64 (len(order),), the
    learning rate of every step, in theta's dtype.
    hidden, output, loss : activation and loss codes (module constants).
    l2 : weight decay; each step does ``W <- (1 - lr*l2) W - lr g`` (biases are not decayed).
        Kept lazily as one scale factor per layer, so decay costs no pass over the weights.
    keep : float64 (L,), keep probability of each hidden layer's units (inverted dropout;
        1 disables it). seed, step0 : dropout draws are keyed on (seed, step0 + step).
    rule : update rule code (SGD, MOMENTUM, ...). hyper : float64 (4,), its constants:
        momentum/nesterov (beta, -, -, -), adam (b1, b2, eps, -), rmsprop (decay, eps, -, -),
        adagrad (eps, -, -, -). slots : (2, theta.size) optimizer state in theta's layout
        (velocity; m and v; the square average or sum), updated in place. Every rule but
        SGD updates every weight at every step, so only SGD keeps the sparse speed; with
        them L2 is added to the gradient.
    stats : float64 (3,), receives [sum of per-sample losses, correct predictions,
        steps done]. The loss is evaluated before each sample's update.

    Stops early, leaving ``stats[2]`` below ``len(order)``, at the first non-finite loss.
    """
    scale = np.ones(sizes.size - 1, theta.dtype)
    _run_samples(theta, sizes, offsets, X, T, order, lrs, hidden, output, loss, l2, keep, seed, step0, rule, hyper,
                 slots, scale, stats)
    _fold_scales(theta, sizes, offsets, scale)


@njit(cache=True, nogil=True)
def _fold_scales(theta, sizes, offsets, scale):
    """Multiply the lazy L2 factors into the stored weights."""
    for l in range(sizes.size - 1):
        if scale[l] != 1.0:
            theta[offsets[2 * l] : offsets[2 * l] + sizes[l] * sizes[l + 1]] *= scale[l]


@njit(cache=True, fastmath=_FAST, nogil=True, parallel=True)
def sgd_epoch_hogwild(theta, sizes, offsets, X, T, order, lrs, hidden, output, loss, l2, keep, seed, step0, rule,
                      hyper, slots, n_threads, stats):
    """:func:`sgd_epoch` on ``n_threads`` threads at once (Hogwild!, Recht et al. 2011).

    Each thread runs the per-sample loop over its own contiguous slice of ``order``,
    and all of them update the one shared ``theta`` without locks. Updates of different
    samples mostly touch different rows, so collisions are rare and harmless to
    convergence; the result is not bit-reproducible. ``stats`` sums the threads'.
    """
    n = order.size
    parts = np.zeros((n_threads, 3))
    scales = np.ones((n_threads, sizes.size - 1), theta.dtype)  # each thread's lazy L2 factors
    for t in prange(n_threads):
        lo = t * n // n_threads
        hi = (t + 1) * n // n_threads
        _run_samples(theta, sizes, offsets, X, T, order[lo:hi], lrs[lo:hi], hidden, output, loss, l2, keep, seed,
                     step0 + lo, rule, hyper, slots, scales[t], parts[t])
    for t in range(n_threads):  # one after the other: the threads' decays multiply
        _fold_scales(theta, sizes, offsets, scales[t])
    stats[0] = 0.0
    stats[1] = 0.0
    stats[2] = 0.0
    for t in range(n_threads):
        stats[0] += parts[t, 0]
        stats[1] += parts[t, 1]
        stats[2] += parts[t, 2]


@njit(cache=True, fastmath=_FAST, nogil=True)
def _run_samples(theta, sizes, offsets, X, T, order, lrs, hidden, output, loss, l2, keep, seed, step0, rule, hyper,
                 slots, scale, stats):
    """The per-sample loop. ``scale`` (L,), ones on entry, keeps the lazy L2 factors:
    layer l's weights are ``scale[l]`` times the stored ones until :func:`_fold_scales`."""
    L = sizes.size - 1
    width = 0
    for l in range(L + 1):
        width = max(width, sizes[l])
    dt = theta.dtype
    h = np.zeros((L + 1, width), dt)  # layer outputs f(z) (row 0: the input)
    m = np.ones((L + 1, width), dt)  # dropout multipliers (0 or 1/keep)
    delta = np.zeros((L + 1, width), dt)  # dL/dz per layer
    active = np.zeros((L + 1, width), np.uint64)  # indices of non-zero inputs of each layer
    n_active = np.zeros(L + 1, np.int64)
    use_dropout = False
    for l in range(L):
        if keep[l] < 1.0:
            use_dropout = True
    loss_sum = 0.0
    correct = 0
    done = 0
    n_out = sizes[L]
    for s in range(order.size):
        i = order[s]
        lr = lrs[s]
        x = X[i]
        # input layer: the non-zero pixels
        # branch-free compaction: a mispredicted branch per pixel would cost more than the work
        c = 0
        act0 = active[0]
        for j in range(sizes[0]):
            act0[c] = j
            c += x[j] != 0
        n_active[0] = c
        # forward
        for l in range(L):
            n_in = sizes[l]
            nz = sizes[l + 1]
            W = theta[offsets[2 * l] : offsets[2 * l] + n_in * nz].reshape((n_in, nz))
            b = theta[offsets[2 * l + 1] : offsets[2 * l + 1] + nz]
            z = delta[l + 1]  # scratch for the pre-activation, overwritten by backward later
            for k in range(nz):
                z[k] = 0.0
            hl = x if l == 0 else h[l]  # the input is read in place, not copied into h[0]
            ml = m[l]
            al = active[l]
            na = n_active[l]
            a = 0
            while a + 4 <= na:  # four rows per pass over z: a quarter of z's loads and stores
                j0, j1, j2, j3 = al[a], al[a + 1], al[a + 2], al[a + 3]
                v0, v1, v2, v3 = hl[j0] * ml[j0], hl[j1] * ml[j1], hl[j2] * ml[j2], hl[j3] * ml[j3]
                w0, w1, w2, w3 = W[j0], W[j1], W[j2], W[j3]
                for k in range(nz):
                    z[k] += v0 * w0[k] + v1 * w1[k] + v2 * w2[k] + v3 * w3[k]
                a += 4
            while a < na:
                j = al[a]
                v = hl[j] * ml[j]
                w = W[j]
                for k in range(nz):
                    z[k] += v * w[k]
                a += 1
            sc = scale[l]
            if l < L - 1:
                hn = h[l + 1]
                for k in range(nz):
                    hn[k] = _activate(sc * z[k] + b[k], hidden)
                mn = m[l + 1]
                if use_dropout:
                    for k in range(nz):
                        if keep[l] < 1.0 and not keep_unit(seed, step0 + s, l, k, keep[l]):
                            mn[k] = 0.0
                        else:
                            mn[k] = 1.0 / keep[l]
                # branch-free compaction of the units that pass a signal on (see the input scan)
                an = active[l + 1]
                c = 0
                for k in range(nz):
                    an[c] = k
                    c += (mn[k] != 0) & ((hn[k] != 0) | (hidden != RELU))
                n_active[l + 1] = c
            else:
                for k in range(nz):
                    z[k] = sc * z[k] + b[k]
        # output layer, loss and its delta
        z = delta[L]
        t = T[i]
        best = 0
        for k in range(n_out):
            if z[k] > z[best]:
                best = k
        if loss == CROSS_ENTROPY:  # softmax output; loss from the logits, no log(0)
            total = 0.0
            for k in range(n_out):
                e = np.exp(z[k] - z[best])
                h[L, k] = e
                total += e
            sample_loss = np.log(total) + z[best]
            for k in range(n_out):
                h[L, k] /= total
                sample_loss -= t[k] * z[k]
            for k in range(n_out):
                delta[L, k] = h[L, k] - t[k]
        else:
            if output == SOFTMAX:
                total = 0.0
                for k in range(n_out):
                    e = np.exp(z[k] - z[best])
                    h[L, k] = e
                    total += e
                for k in range(n_out):
                    h[L, k] /= total
            else:
                for k in range(n_out):
                    h[L, k] = _activate(z[k], output)
            sample_loss = 0.0
            for k in range(n_out):
                d = h[L, k] - t[k]
                sample_loss += d * d
            sample_loss /= n_out
            if output == SOFTMAX:
                dot = 0.0
                for k in range(n_out):
                    dot += (h[L, k] - t[k]) * h[L, k]
                for k in range(n_out):
                    delta[L, k] = 2.0 / n_out * h[L, k] * (h[L, k] - t[k] - dot)
            else:
                for k in range(n_out):
                    delta[L, k] = 2.0 / n_out * (h[L, k] - t[k]) * _derivative(h[L, k], output)
        if not np.isfinite(sample_loss):
            break
        loss_sum += sample_loss
        tbest = 0
        for k in range(n_out):
            if t[k] > t[tbest]:
                tbest = k
        if best == tbest:
            correct += 1
        if rule != SGD:
            h[0, : sizes[0]] = x
            _dense_backward_update(theta, sizes, offsets, h, m, delta, active, n_active, hidden, lr, l2, rule,
                                   hyper, slots, step0 + s)
        else:  # plain SGD: sparse, fused with the backward pass, last layer first
            for l in range(L - 1, -1, -1):
                n_in = sizes[l]
                nz = sizes[l + 1]
                W = theta[offsets[2 * l] : offsets[2 * l] + n_in * nz].reshape((n_in, nz))
                b = theta[offsets[2 * l + 1] : offsets[2 * l + 1] + nz]
                d_out = delta[l + 1]
                # Scalars stay in theta's dtype (scale and lrs share it): a float64 factor
                # would turn the float32 row updates below into conversions.
                back = scale[l]  # stored W times back = this layer's weights before this step
                if l2 > 0.0:
                    scale[l] = back * (1.0 - lr * l2)
                    if scale[l] < 1e-4:  # fold the scale into the stored weights before it underflows
                        W *= scale[l]
                        back = back / scale[l]
                        scale[l] = 1.0
                sc = scale[l]
                step = lr / sc
                for k in range(nz):
                    b[k] -= lr * d_out[k]
                d_in = delta[l]
                if l > 0:
                    for j in range(n_in):
                        d_in[j] = 0.0
                hl = x if l == 0 else h[l]
                ml = m[l]
                al = active[l]
                a0 = 0
                while a0 + 4 <= n_active[l]:  # four rows per pass over d_out, as in the forward pass
                    j0, j1, j2, j3 = al[a0], al[a0 + 1], al[a0 + 2], al[a0 + 3]
                    w0, w1, w2, w3 = W[j0], W[j1], W[j2], W[j3]
                    if l > 0:
                        g0 = w0[0] - w0[0]  # zeros of theta's dtype
                        g1, g2, g3 = g0, g0, g0
                        for k in range(nz):
                            dk = d_out[k]
                            g0 += w0[k] * dk
                            g1 += w1[k] * dk
                            g2 += w2[k] * dk
                            g3 += w3[k] * dk
                        d_in[j0] = back * g0 * _derivative(hl[j0], hidden) * ml[j0]
                        d_in[j1] = back * g1 * _derivative(hl[j1], hidden) * ml[j1]
                        d_in[j2] = back * g2 * _derivative(hl[j2], hidden) * ml[j2]
                        d_in[j3] = back * g3 * _derivative(hl[j3], hidden) * ml[j3]
                    u0, u1 = step * hl[j0] * ml[j0], step * hl[j1] * ml[j1]
                    u2, u3 = step * hl[j2] * ml[j2], step * hl[j3] * ml[j3]
                    for k in range(nz):
                        dk = d_out[k]
                        w0[k] -= u0 * dk
                        w1[k] -= u1 * dk
                        w2[k] -= u2 * dk
                        w3[k] -= u3 * dk
                    a0 += 4
                for a in range(a0, n_active[l]):
                    j = active[l, a]
                    w = W[j]
                    if l > 0:
                        g = w[0] - w[0]  # a zero of theta's dtype
                        for k in range(nz):
                            g += w[k] * d_out[k]
                        d_in[j] = back * g * _derivative(hl[j], hidden) * ml[j]
                    u = step * hl[j] * ml[j]
                    for k in range(nz):
                        w[k] -= u * d_out[k]
        done += 1
    stats[0] = loss_sum
    stats[1] = correct
    stats[2] = done
