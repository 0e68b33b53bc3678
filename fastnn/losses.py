"""Losses: one registry, :data:`LOSSES`, with each loss's function, output-layer delta,
kernel code and the output activations it pairs with.

A loss is paired with the output activation: cross-entropy with softmax (the delta
is then simply ``(p - t) / n``), mean squared error with any output. Both are means
over the batch; MSE is the mean over all ``n * n_outputs`` entries.

Adding a loss means one entry in :data:`LOSSES` plus its case in the compiled kernels
(``fastnn.kernels``), whose codes a test holds to the table. This module is the readable
NumPy reference: it imports no compiled code.
"""
import warnings
from typing import Callable, NamedTuple

import numpy as np

from .activations import ACTIVATIONS, OUTPUTS
from .deprecation import renamed_keywords
from .typing import Array

__all__ = ["Loss", "LOSSES", "LOSS_FUNCTIONS", "cross_entropy", "cross_entropy_from_logits", "mse",
           "softmax_cross_entropy_delta", "mse_delta", "check_pairing", "output_delta"]



def cross_entropy(p: Array, t: Array) -> float:
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


def cross_entropy_from_logits(z: Array, t: Array) -> float:
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


def mse(a: Array, t: Array) -> float:
    """Mean squared error, averaged over all entries.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import mse
    >>> float(mse(np.array([[1.0, 3.0]]), np.array([[1.0, 1.0]])))
    2.0
    """
    return float(np.mean((a - t) ** 2))


@renamed_keywords(output="output_activation")
def softmax_cross_entropy_delta(a: Array, t: Array, output_activation: str) -> Array:
    """Gradient of the mean cross-entropy of softmax outputs ``a`` w.r.t. the logits: ``(a - t) / n``.

    Scaled by ``1 / n`` in float64 and rounded once to ``a``'s dtype, as the compiled kernels
    do, so both give the same bits. ``output_activation`` is always ``'softmax'`` (see :func:`check_pairing`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import softmax_cross_entropy_delta
    >>> a = np.array([[0.75, 0.25], [0.5, 0.5]])
    >>> t = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> softmax_cross_entropy_delta(a, t, "softmax").tolist()   # (a - t) / 2 rows
    [[-0.125, 0.125], [0.25, -0.25]]
    """
    diff = a - t
    return (diff.astype(np.float64, copy=False) * (1.0 / len(a))).astype(a.dtype, copy=False)


@renamed_keywords(output="output_activation")
def mse_delta(a: Array, t: Array, output_activation: str) -> Array:
    """Gradient of the mean squared error w.r.t. the output layer's pre-activation.

    ``dL/da = 2 (a - t) / (n k)`` passed through the output activation's derivative.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import mse_delta
    >>> a, t = np.array([[3.0, 1.0]]), np.array([[1.0, 1.0]])
    >>> mse_delta(a, t, "identity").tolist()       # 2 (a - t) / (1 * 2)
    [[2.0, 0.0]]
    >>> mse_delta(np.array([[0.5]]), np.array([[0.0]]), "sigmoid").tolist()   # times a (1 - a)
    [[0.25]]
    """
    n, k = a.shape
    g = (a - t) * (2.0 / (n * k))
    return ACTIVATIONS[output_activation].derivative(a, g)


class Loss(NamedTuple):
    """Everything fastnn knows about one loss; an entry of :data:`LOSSES`.

    Calling an entry calls its ``function``, so ``LOSSES["mse"](a, t)`` is ``mse(a, t)``.

    Attributes
    ----------
    function : callable
        ``function(a, t) -> float``, the mean loss of outputs ``a`` against targets ``t``.
    delta : callable
        ``delta(a, t, output_activation) -> ndarray``, the gradient of the mean loss w.r.t. the
        output layer's pre-activation, given the outputs ``a`` of the output activation named
        ``output_activation``.
    kernel_code : int
        The integer the compiled kernels switch on (``fastnn.kernels.sample.CROSS_ENTROPY``, ...).
    output_activations : tuple of str
        The output activations it pairs with (also readable as ``outputs``, its deprecated name).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import LOSSES
    >>> mse = LOSSES["mse"]
    >>> mse(np.array([[1.0, 3.0]]), np.array([[1.0, 1.0]])), LOSSES["cross_entropy"].output_activations
    (2.0, ('softmax',))
    """

    function: Callable[[Array, Array], float]
    delta: Callable[[Array, Array, str], Array]
    kernel_code: int
    output_activations: tuple[str, ...]

    @property
    def outputs(self) -> tuple[str, ...]:
        """Deprecated name of :attr:`output_activations`."""
        warnings.warn("Loss.outputs is deprecated; use Loss.output_activations (it means the same)",
                      DeprecationWarning, stacklevel=2)
        return self.output_activations

    def __call__(self, a: Array, t: Array) -> float:
        """``self.function(a, t)``."""
        return self.function(a, t)


LOSSES: dict[str, Loss] = {
    "cross_entropy": Loss(cross_entropy, softmax_cross_entropy_delta, kernel_code=0, output_activations=("softmax",)),
    "mse": Loss(mse, mse_delta, kernel_code=1, output_activations=OUTPUTS),
}
"""Every loss by name (see :class:`Loss`). The kernel codes must match ``fastnn.kernels``."""

LOSS_FUNCTIONS: dict[str, Callable[[Array, Array], float]] = {name: loss.function for name, loss in LOSSES.items()}
"""``LOSS_FUNCTIONS[name](a, t)``: each loss's function, derived from :data:`LOSSES`."""


@renamed_keywords(output="output_activation")
def check_pairing(output_activation: str, loss: str) -> None:
    """Refuse an output activation the loss has no meaning for: cross-entropy needs softmax outputs.

    Raises
    ------
    ValueError
        Naming the output activations the loss pairs with, and the losses that pair with
        ``output_activation``.

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
    entry = LOSSES.get(loss)
    if entry is None or output_activation in entry.output_activations:
        return
    message = (f"loss={loss!r} needs output_activation={' or '.join(map(repr, entry.output_activations))}, "
               f"got output_activation={output_activation!r}")
    others = [name for name, other in LOSSES.items() if output_activation in other.output_activations]
    if others:
        fits = [name for name in OUTPUTS if name not in entry.output_activations]
        message += f"; use loss={others[0]!r} with {_or_list(fits)} outputs"
    raise ValueError(message)


def _or_list(names: list[str]) -> str:
    """``'a, b or c'``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@renamed_keywords(output="output_activation")
def output_delta(a: Array, t: Array, output_activation: str, loss: str) -> Array:
    """Gradient of the mean loss with respect to the output layer's pre-activation.

    Parameters
    ----------
    a : ndarray (n, k)
        Output-layer activations.
    t : ndarray (n, k)
        Targets (one-hot rows for classification).
    output_activation : str
        Name of the output layer's activation (``output=`` is its deprecated name).
    loss : str
        Name of the loss.

    Returns
    -------
    ndarray (n, k)
        A new array (``a`` and ``t`` are not modified).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.losses import output_delta
    >>> a, t = np.array([[0.75, 0.25]]), np.array([[1.0, 0.0]])
    >>> output_delta(a, t, "softmax", "cross_entropy").tolist()          # (a - t) / n
    [[-0.25, 0.25]]
    """
    return LOSSES[loss].delta(a, t, output_activation)
