"""Losses and their output-layer deltas.

A loss is paired with the output activation: cross-entropy with softmax (the delta
is then simply ``(p - t) / n``), mean squared error with any output. Both are means
over the batch; MSE is the mean over all ``n * n_outputs`` entries.
"""
import numpy as np

from .activations import DERIVATIVES
from .kernels import elementwise as elementwise_kernels

LOSSES = ("cross_entropy", "mse")


def cross_entropy(p, t):
    """Mean cross-entropy of softmax probabilities ``p`` against target rows ``t``.

    Probabilities are clipped at the dtype's smallest normal number, so a confident
    wrong answer costs a large, finite loss instead of ``inf``.
    """
    tiny = np.finfo(p.dtype).tiny
    return float(-np.sum(t * np.log(np.clip(p, tiny, None))) / len(p))


def cross_entropy_from_logits(z, t):
    """Mean cross-entropy of ``softmax(z)`` against ``t``, by log-sum-exp: exact and
    unbounded, so a diverging network's loss grows instead of stopping at ``-log(tiny)``."""
    zmax = z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
    return float(np.mean(log_norm - np.sum(t * z, axis=1)))


def mse(a, t):
    """Mean squared error, averaged over all entries."""
    return float(np.mean((a - t) ** 2))


LOSS_FUNCTIONS = {"cross_entropy": cross_entropy, "mse": mse}


def check_pairing(output, loss):
    """Refuse the one combination that has no meaning: cross-entropy needs softmax outputs."""
    if loss == "cross_entropy" and output != "softmax":
        raise ValueError(
            f"loss='cross_entropy' needs output='softmax', got output={output!r}; "
            "use loss='mse' with sigmoid, tanh or identity outputs"
        )


def output_delta(a, t, output, loss):
    """Gradient of the mean loss with respect to the output layer's pre-activation.

    Parameters
    ----------
    a : ndarray (n, k)
        Output-layer activations.
    t : ndarray (n, k)
        Targets (one-hot rows for classification).
    output, loss : str
        Names of the output activation and the loss.
    """
    n, k = a.shape
    if loss == "cross_entropy":
        out = np.empty_like(a)
        elementwise_kernels.softmax_xent_grad(a, t, out)
        return out
    g = (a - t) * (2.0 / (n * k))  # dL/da of mean((a - t)^2)
    if output == "softmax":  # softmax's Jacobian is not diagonal
        return a * (g - np.sum(g * a, axis=1, keepdims=True))
    return DERIVATIVES[output](a, g)


def output_delta_numpy(a, t, output, loss):
    """NumPy twin of :func:`output_delta` (the softmax cross-entropy case without the kernel)."""
    if loss == "cross_entropy":
        return (a - t) / len(a)
    return output_delta(a, t, output, loss)
