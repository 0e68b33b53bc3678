"""Activation functions: one registry, :data:`ACTIVATIONS`, with everything fastnn knows about each.

An entry holds the NumPy function, its derivative, the integer code the compiled kernels
switch on, the ONNX operator, the scikit-learn name, and whether the activation may serve
in hidden layers and/or the output layer. Every other list of activations in fastnn
(:data:`HIDDEN`, :data:`OUTPUTS`, :data:`DERIVATIVES`, the ONNX operators, the estimators'
names) is derived from this table, so adding an activation means one entry here plus its
case in the compiled kernels (``fastnn.kernels``), whose codes a test holds to the table.

Derivatives are written in terms of the activation's *output* ``a`` (as in
scikit-learn's ``neural_network._base``), so the forward pass only has to keep
its outputs for the backward pass.

This module is the readable NumPy reference: it imports no compiled code. The functions
give the same numbers, bit for bit, as the compiled element-wise kernels
(``fastnn.kernels.elementwise``), which ``tests/test_activations.py`` checks.
"""
from typing import Callable, NamedTuple, Optional

import numpy as np

from .typing import Array

__all__ = ["Activation", "ACTIVATIONS", "HIDDEN", "OUTPUTS", "DERIVATIVES", "SKLEARN_HIDDEN",
           "relu", "sigmoid", "tanh", "identity", "softmax",
           "relu_derivative", "sigmoid_derivative", "tanh_derivative", "identity_derivative", "softmax_derivative"]



def relu(z: Array) -> Array:
    """Rectified linear unit, ``z`` where ``z > 0``, else 0 (a NaN gives 0, ``-0.0`` gives ``+0.0``).

    The compiled kernels' bits, not ``np.maximum``'s: ``np.fmax`` gives 0 for a NaN, and adding
    ``+0.0`` turns the ``-0.0`` it may keep into ``+0.0`` and changes nothing else. Two passes, and
    still faster than the select ``np.where(z > 0, z, 0)``, which gives the same bits.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import relu
    >>> relu(np.array([[-1.0, 0.0, 2.0]])).tolist()
    [[0.0, 0.0, 2.0]]
    """
    out = np.fmax(z, 0.0)
    out += 0.0
    return out


def sigmoid(z: Array) -> Array:
    """Logistic function ``1 / (1 + exp(-z))``, free of overflow for any finite ``z``.

    ``exp`` is only ever taken of ``-|z|``, so inputs of +-1e4 give exactly 1 and 0
    without a warning.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import sigmoid
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()      # no overflow warning at the extremes
    [0.0, 0.5, 1.0]
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(z, np.float32), copy=False)


def tanh(z: Array) -> Array:
    """Hyperbolic tangent.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import tanh
    >>> np.round(tanh(np.array([-1.0, 0.0, 1.0])), 4).tolist()
    [-0.7616, 0.0, 0.7616]
    """
    return np.tanh(z)


def identity(z: Array) -> Array:
    """The identity (a linear layer).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import identity
    >>> identity(np.array([-2.0, 3.0])).tolist()
    [-2.0, 3.0]
    """
    return z


def softmax(z: Array) -> Array:
    """Row-wise softmax, shifted by the row maximum so that ``exp`` never overflows.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import softmax
    >>> p = softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    >>> np.round(p, 4).tolist()
    [[0.5, 0.5], [0.25, 0.75]]
    """
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def relu_derivative(a: Array, delta: Array) -> Array:
    """``delta * relu'(z)`` given the ReLU output ``a``: ``delta`` where ``a > 0``, else 0.

    A select rather than ``delta * (a > 0)``, so that an infinite ``delta`` at an inactive unit
    gives 0 (not NaN), as in the compiled kernels.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import relu_derivative
    >>> relu_derivative(np.array([[0.0, 2.0]]), np.array([[5.0, 5.0]])).tolist()
    [[0.0, 5.0]]
    """
    return np.where(a > 0, delta, 0)


def sigmoid_derivative(a: Array, delta: Array) -> Array:
    """``delta * sigmoid'(z)`` given the sigmoid output ``a``: ``delta * a * (1 - a)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import sigmoid_derivative
    >>> sigmoid_derivative(np.array([[0.5, 0.75]]), np.array([[1.0, 2.0]])).tolist()
    [[0.25, 0.375]]
    """
    return delta * a * (1 - a)


def tanh_derivative(a: Array, delta: Array) -> Array:
    """``delta * tanh'(z)`` given the tanh output ``a``: ``delta * (1 - a**2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import tanh_derivative
    >>> tanh_derivative(np.array([[0.0, 0.5]]), np.array([[1.0, 2.0]])).tolist()
    [[1.0, 1.5]]
    """
    return delta * (1 - a * a)


def identity_derivative(a: Array, delta: Array) -> Array:
    """``delta`` itself (the identity's derivative is 1); ``a`` is not used.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import identity_derivative
    >>> identity_derivative(np.array([[7.0, -1.0]]), np.array([[1.0, 2.0]])).tolist()
    [[1.0, 2.0]]
    """
    return delta


def softmax_derivative(a: Array, delta: Array) -> Array:
    """The softmax Jacobian (not diagonal: each output depends on the whole row) applied to ``delta``.

    ``a * (delta - sum(delta * a))`` row by row, given the softmax output ``a``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import softmax_derivative
    >>> a = np.array([[0.5, 0.25, 0.25]])
    >>> softmax_derivative(a, np.array([[1.0, 0.0, 0.0]])).tolist()   # the first column of the Jacobian
    [[0.25, -0.125, -0.125]]
    >>> softmax_derivative(a, np.array([[3.0, 3.0, 3.0]])).tolist()  # the outputs sum to 1 whatever z
    [[0.0, 0.0, 0.0]]
    """
    return a * (delta - np.sum(delta * a, axis=1, keepdims=True))


class Activation(NamedTuple):
    """Everything fastnn knows about one activation; an entry of :data:`ACTIVATIONS`.

    Calling an entry calls its ``function``, so ``ACTIVATIONS["tanh"](z)`` is ``tanh(z)``.

    Attributes
    ----------
    function : callable
        ``function(z) -> a``, element-wise (row-wise for softmax), a new array of ``z``'s dtype.
    derivative : callable
        ``derivative(a, delta) -> delta * f'(z)``, written through the output ``a = f(z)``
        (for softmax, the Jacobian-vector product).
    kernel_code : int
        The integer the compiled kernels switch on (``fastnn.kernels.sample.RELU``, ...).
    onnx_op : str or None
        The ONNX operator that computes it; None when there is nothing to compute (identity).
    sklearn_name : str
        Its name in scikit-learn's ``MLPClassifier``/``MLPRegressor`` (``'logistic'`` for sigmoid).
    may_be_hidden : bool
        Whether it may be a hidden layer's activation.
    may_be_output : bool
        Whether it may be the output layer's activation.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import ACTIVATIONS
    >>> tanh = ACTIVATIONS["tanh"]
    >>> tanh(np.array([[0.0]])).tolist(), tanh.sklearn_name, tanh.may_be_hidden, tanh.onnx_op
    ([[0.0]], 'tanh', True, 'Tanh')
    >>> ACTIVATIONS["sigmoid"].sklearn_name, ACTIVATIONS["softmax"].may_be_hidden
    ('logistic', False)
    """

    function: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]
    kernel_code: int
    onnx_op: Optional[str]
    sklearn_name: str
    may_be_hidden: bool
    may_be_output: bool

    def __call__(self, z: Array) -> Array:
        """``self.function(z)``."""
        return self.function(z)


ACTIVATIONS: dict[str, Activation] = {
    # The defaults first (relu hidden, softmax output): the derived lists keep this order.
    "relu": Activation(relu, relu_derivative, kernel_code=0, onnx_op="Relu", sklearn_name="relu",
                       may_be_hidden=True, may_be_output=False),
    "softmax": Activation(softmax, softmax_derivative, kernel_code=4, onnx_op="Softmax", sklearn_name="softmax",
                          may_be_hidden=False, may_be_output=True),
    "sigmoid": Activation(sigmoid, sigmoid_derivative, kernel_code=1, onnx_op="Sigmoid", sklearn_name="logistic",
                          may_be_hidden=True, may_be_output=True),
    "tanh": Activation(tanh, tanh_derivative, kernel_code=2, onnx_op="Tanh", sklearn_name="tanh",
                       may_be_hidden=True, may_be_output=True),
    "identity": Activation(identity, identity_derivative, kernel_code=3, onnx_op=None, sklearn_name="identity",
                           may_be_hidden=True, may_be_output=True),
}
"""Every activation by name (see :class:`Activation`). The kernel codes must match ``fastnn.kernels``."""

HIDDEN: tuple[str, ...] = tuple(name for name, a in ACTIVATIONS.items() if a.may_be_hidden)
"""The names a hidden layer may take (``relu`` first, the default)."""

OUTPUTS: tuple[str, ...] = tuple(name for name, a in ACTIVATIONS.items() if a.may_be_output)
"""The names the output layer may take (``softmax`` first, the default)."""

DERIVATIVES: dict[str, Callable[[Array, Array], Array]] = {
    name: ACTIVATIONS[name].derivative for name in HIDDEN}
"""``DERIVATIVES[name](a, delta)`` is ``delta * f'(z)`` written through the output ``a = f(z)``,
for the hidden activations: the lookup the backward pass makes, derived from :data:`ACTIVATIONS`."""

SKLEARN_HIDDEN: dict[str, str] = {**{ACTIVATIONS[name].sklearn_name: name for name in HIDDEN},
                                  **{name: name for name in HIDDEN}}
"""The hidden activations by scikit-learn name (``'logistic'``) and by fastnn name (``'sigmoid'``),
each mapped to its fastnn name: what the estimators accept for ``activation``."""
