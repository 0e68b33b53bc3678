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

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import cross_entropy
    >>> round(float(cross_entropy(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]))), 4)
    0.6931
    """
    tiny = np.finfo(p.dtype).tiny
    return float(-np.sum(t * np.log(np.clip(p, tiny, None))) / len(p))


def cross_entropy_from_logits(z, t):
    """Mean cross-entropy of ``softmax(z)`` against ``t``, by log-sum-exp: exact and
    unbounded, so a diverging network's loss grows instead of stopping at ``-log(tiny)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import cross_entropy_from_logits
    >>> round(float(cross_entropy_from_logits(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))), 4)
    0.6931
    """
    zmax = z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
    return float(np.mean(log_norm - np.sum(t * z, axis=1)))


def mse(a, t):
    """Mean squared error, averaged over all entries.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import mse
    >>> float(mse(np.array([[1.0, 3.0]]), np.array([[1.0, 1.0]])))
    2.0
    """
    return float(np.mean((a - t) ** 2))


LOSS_FUNCTIONS = {"cross_entropy": cross_entropy, "mse": mse}


def check_pairing(output, loss):
    """Refuse the one combination that has no meaning: cross-entropy needs softmax outputs.

    Examples
    --------
    >>> from fastnn.losses import check_pairing
    >>> check_pairing("softmax", "cross_entropy")
    >>> try:
    ...     check_pairing("sigmoid", "cross_entropy")
    ... except ValueError as e:
    ...     print("ValueError")
    ValueError
    """
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

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import output_delta
    >>> a, t = np.array([[0.75, 0.25]]), np.array([[1.0, 0.0]])
    >>> output_delta(a, t, "softmax", "cross_entropy").tolist()          # (a - t) / n
    [[-0.25, 0.25]]
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
    """NumPy twin of :func:`output_delta` (the softmax cross-entropy case without the kernel).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import output_delta_numpy
    >>> a, t = np.array([[0.75, 0.25]]), np.array([[1.0, 0.0]])
    >>> output_delta_numpy(a, t, "softmax", "cross_entropy").tolist()
    [[-0.25, 0.25]]
    """
    if loss == "cross_entropy":
        return (a - t) / len(a)
    return output_delta(a, t, output, loss)
