"""Element-wise kernels of the batched forward and backward passes."""
from numba import njit


@njit(cache=True)
def relu_mask_grad(delta, a, out):
    """``out = delta * (a > 0)`` over flat arrays: the ReLU derivative applied to ``delta``.

    ``a`` is the ReLU *output*; a unit whose output is 0 passes no gradient.
    """
    for i in range(delta.size):
        out[i] = delta[i] if a[i] > 0 else 0.0


@njit(cache=True)
def relu(z, out):
    """``out = max(z, 0)`` over flat arrays (``out`` may be ``z``)."""
    for i in range(z.size):
        out[i] = z[i] if z[i] > 0 else 0.0


@njit(cache=True)
def softmax_xent_grad(p, t, out):
    """``out = (p - t) / n``: gradient of the mean cross-entropy w.r.t. the softmax logits.

    ``p`` holds softmax probabilities, ``t`` the target distributions (one-hot rows).
    """
    n, k = p.shape
    scale = 1.0 / n
    for i in range(n):
        for j in range(k):
            out[i, j] = (p[i, j] - t[i, j]) * scale
