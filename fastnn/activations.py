"""Activation functions and their derivatives, as name -> function registries.

Derivatives are written in terms of the activation's *output* ``a`` (as in
scikit-learn's ``neural_network._base``), so the forward pass only has to keep
its outputs for the backward pass.
"""
import numpy as np

from .kernels import elementwise as elementwise_kernels


def relu(z):
    """Rectified linear unit, ``max(z, 0)`` (compiled kernel).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import relu
    >>> relu(np.array([[-1.0, 0.0, 2.0]])).tolist()
    [[0.0, 0.0, 2.0]]
    """
    z = np.ascontiguousarray(z)
    out = np.empty_like(z)
    elementwise_kernels.relu(z.ravel(), out.ravel())
    return out


def relu_numpy(z):
    """NumPy twin of :func:`relu`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import relu_numpy
    >>> relu_numpy(np.array([[-1.0, 0.5]])).tolist()
    [[0.0, 0.5]]
    """
    return np.maximum(z, 0)


def sigmoid(z):
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


def tanh(z):
    """Hyperbolic tangent.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import tanh
    >>> np.round(tanh(np.array([-1.0, 0.0, 1.0])), 4).tolist()
    [-0.7616, 0.0, 0.7616]
    """
    return np.tanh(z)


def identity(z):
    """The identity (a linear layer).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import identity
    >>> identity(np.array([-2.0, 3.0])).tolist()
    [-2.0, 3.0]
    """
    return z


def softmax(z):
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


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "identity": identity, "softmax": softmax}
"""Every activation by name. Hidden layers take relu, sigmoid, tanh or identity."""

HIDDEN = ("relu", "sigmoid", "tanh", "identity")
OUTPUTS = ("softmax", "sigmoid", "tanh", "identity")


def relu_derivative(a, delta):
    """``delta * relu'(z)`` given the ReLU output ``a`` (compiled kernel).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import relu_derivative
    >>> relu_derivative(np.array([[0.0, 2.0]]), np.array([[5.0, 5.0]])).tolist()
    [[0.0, 5.0]]
    """
    delta = np.ascontiguousarray(delta)
    out = np.empty_like(delta)
    elementwise_kernels.relu_mask_grad(delta.ravel(), np.ascontiguousarray(a).ravel(), out.ravel())
    return out


def relu_derivative_numpy(a, delta):
    """NumPy twin of :func:`relu_derivative`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.activations import relu_derivative_numpy
    >>> relu_derivative_numpy(np.array([[0.0, 2.0]]), np.array([[5.0, 5.0]])).tolist()
    [[0.0, 5.0]]
    """
    return delta * (a > 0)


DERIVATIVES = {
    "relu": relu_derivative,
    "sigmoid": lambda a, delta: delta * a * (1 - a),
    "tanh": lambda a, delta: delta * (1 - a * a),
    "identity": lambda a, delta: delta,
}
"""``DERIVATIVES[name](a, delta)`` is ``delta * f'(z)`` written through the output ``a = f(z)``."""
