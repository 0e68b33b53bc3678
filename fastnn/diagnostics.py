"""Checks that say when training cannot work, or did not: inputs far off the scale that a
per-sample step size assumes, and a network that collapsed to a constant output.

:func:`fastnn.train` calls :func:`warn_input_scale` before its first epoch and
:func:`warn_collapse` after its last; the scikit-learn estimators call the
``*_problem`` functions and word the advice in their own parameters. Both look at a few
hundred evenly spaced rows only (``CHECK_ROWS``), so they cost a small part of one epoch.
"""
import warnings
from typing import Any

import numpy as np

from .deprecation import renamed_keywords
from .network import forward_layers
from .sparse import is_sparse  # scipy stays optional for dense input
from .typing import Array, Params
from .validation import check_params

CHECK_ROWS = 256
"""Rows (evenly spaced) that the checks look at."""

STEP_SCALE_LIMIT = 100.0
"""A step of plain SGD on one sample moves the first layer's pre-activations by about
``lr * |x|^2`` times the error signal (for a linear unit, per-sample SGD is stable only
for ``lr * |x|^2 < 2``). :func:`input_scale_problem` reports inputs whose mean ``|x|^2``
times the learning rate exceeds this limit: fifty times that bound. MNIST scaled to
[0, 1] at lr 0.01 gives about 1; raw breast-cancer features at lr 0.01, about 10^5."""

SCALE_SENSITIVE = ("sgd", "momentum", "nesterov")
"""Update rules whose step grows with the inputs' scale (Adam, RMSprop and Adagrad divide
the gradient by its own running size)."""


BEATS_CONSTANT = 0.01
"""See :func:`warn_collapse`."""


class InputScaleWarning(UserWarning):
    """The inputs are far outside the scale that the step size assumes.

    Examples
    --------
    >>> import warnings
    >>> from fastnn.diagnostics import InputScaleWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("features range up to 1e+04", InputScaleWarning)
    >>> issubclass(caught[0].category, UserWarning)
    True
    """


class CollapseWarning(UserWarning):
    """Training ended with a network whose output is the same for every input.

    Examples
    --------
    >>> import warnings
    >>> from fastnn.diagnostics import CollapseWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", CollapseWarning)  # make a collapse stop the script
    ...     try:
    ...         warnings.warn("training collapsed", CollapseWarning)
    ...     except CollapseWarning as e:
    ...         print(e)
    training collapsed
    """


def _rows(X: Any) -> Any:
    step = max(1, X.shape[0] // CHECK_ROWS)
    return X[::step][:CHECK_ROWS]


def _largest_feature(X: Any) -> tuple[int, float]:
    """``(column, largest |value|)`` over ``X`` (dense or scipy.sparse)."""
    col_max = np.asarray(abs(X).max(axis=0).todense()).ravel() if is_sparse(X) else np.abs(X).max(axis=0)
    j = int(np.argmax(col_max))
    return j, float(col_max[j])


FEATURES_ABOVE = 10.0
"""When the steps are too large for the inputs, the features are blamed if one of them exceeds this
in absolute value (far from order 1), and the learning rate otherwise."""


def input_scale_problem(X: Any, lr: float, rule: str = "sgd", largest: float | None = None) -> str | None:
    """A sentence describing why ``X`` is too large for steps of ``lr``, or None when it is not.

    The sentence starts with ``"features range up to"`` when the features are far from order 1
    (the fix: standardise them), and with ``"steps of lr="`` when they are not (the fix: a smaller
    learning rate).

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix (n_samples, n_features)
    lr : float
        The first step's learning rate.
    rule : str
        The update rule's name; only those in ``SCALE_SENSITIVE`` are checked.
    largest : float, optional
        The largest magnitude in ``X``, when the caller knows it (``fastnn.train`` does:
        :mod:`fastnn.scan`). A mean squared row norm is at most ``n_features * largest**2``;
        when that bounds the step below half the limit (room for the rounding of the sums),
        there is no problem to find, and the rows are not read.

    Returns
    -------
    str or None

    Examples
    --------
    >>> from fastnn.diagnostics import input_scale_problem
    >>> print(input_scale_problem(np.full((4, 3), 0.5), lr=0.01))
    None
    >>> input_scale_problem(np.full((4, 3), 1000.0), lr=0.01)[:20]
    'features range up to'
    """
    if rule not in SCALE_SENSITIVE:
        return None
    if largest is not None and float(lr) * X.shape[1] * largest * largest <= STEP_SCALE_LIMIT / 2:
        return None
    rows = _rows(X)
    if is_sparse(rows):
        sq = np.asarray(rows.multiply(rows).sum(axis=1)).ravel()
    else:  # floats summed in their own dtype, a few times faster than einsum in float64; that if they overflow
        sq = np.einsum("ij,ij->i", rows, rows).astype(np.float64) if rows.dtype.kind == "f" else np.full(1, np.inf)
        if not np.all(np.isfinite(sq)):
            sq = np.einsum("ij,ij->i", rows, rows, dtype=np.float64)
    step = float(lr) * float(np.mean(sq))
    if not step > STEP_SCALE_LIMIT:
        return None
    j, big = _largest_feature(X)
    if big > FEATURES_ABOVE:
        return (f"features range up to {big:,.4g} (column {j}; mean squared row norm {np.mean(sq):,.4g}), far "
                f"outside the scale that per-sample steps of lr={lr:g} assume (inputs of order 1)")
    return (f"steps of lr={lr:g} are far too large for these inputs: lr times their mean squared row norm is "
            f"{step:,.4g} (per-sample SGD is stable below about 2; try lr={1 / np.mean(sq):.2g} or smaller)")


@renamed_keywords(output="output_activation")
def collapse_problem(params: Params, X: Any, *, activation: str = "relu",
                     output_activation: str = "softmax") -> str | None:
    """A sentence describing how the network collapsed on ``X``, or None when it did not.

    Collapsed: every unit of a hidden layer is inactive (exactly 0) on every row checked, or
    every output is the same for every row checked while the inputs differ.

    Parameters
    ----------
    params : dict
    X : ndarray or scipy.sparse matrix
        Inputs as the network sees them.
    activation, output_activation : str
        The wiring, as for :func:`fastnn.forward` (``output=`` is the deprecated name of
        ``output_activation=``).

    Returns
    -------
    str or None

    Examples
    --------
    A network whose hidden ReLU units are all off outputs the same for every input:

    >>> from fastnn.diagnostics import collapse_problem
    >>> params = {"W1": -np.ones((2, 3)), "b1": np.zeros(3), "W2": np.ones((3, 2)), "b2": np.zeros(2)}
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> collapse_problem(params, X)
    'every unit of hidden layer 1 is inactive on all 2 samples checked, so the network outputs the same for every input'
    >>> params["W1"] = np.ones((2, 3))
    >>> print(collapse_problem(params, X, output_activation="identity"))
    None
    """
    layers = check_params(params)
    rows = _rows(X)
    if rows.shape[0] < 2:
        return None
    rows = rows.astype(layers[0][0].dtype)
    acts = forward_layers(layers, rows, activation, output_activation)
    n = rows.shape[0]
    for l, H in enumerate(acts[1:-1], 1):
        if not np.any(H):
            return (f"every unit of hidden layer {l} is inactive on all {n} samples checked, so the network "
                    f"outputs the same for every input")
    dense = rows.toarray() if is_sparse(rows) else rows
    out = acts[-1].astype(np.float64)
    spread = np.max(out, axis=0) - np.min(out, axis=0)
    if np.ptp(dense, axis=0).max() > 0 and spread.max() <= 1e-6 * (1.0 + np.abs(out).max()):
        return f"the network's outputs are the same for all {n} different samples checked"
    return None


def warn_input_scale(X: Any, lr: float, rule: str = "sgd", *, largest: float | None = None,
                     stacklevel: int = 3) -> str | None:
    """Warn (:class:`InputScaleWarning`) when :func:`input_scale_problem` finds one (``largest`` as
    there); returns the sentence or None.

    Examples
    --------
    >>> import warnings
    >>> from fastnn.diagnostics import InputScaleWarning, warn_input_scale
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     problem = warn_input_scale(np.full((4, 3), 1000.0), lr=0.01)
    >>> caught[0].category is InputScaleWarning, problem.startswith("features")
    (True, True)
    """
    problem = input_scale_problem(X, lr, rule, largest)
    if problem is not None:
        fix = (". Standardise the features (e.g. sklearn.preprocessing.StandardScaler), or use the fastnn.sklearn "
               "estimators, which do" if problem.startswith("features") else "")
        warnings.warn(f"{problem}: training is likely to diverge or collapse{fix}", InputScaleWarning,
                      stacklevel=stacklevel)
    return problem


@renamed_keywords(output="output_activation")
def warn_collapse(params: Params, X: Any, lr: float, *, activation: str = "relu", output_activation: str = "softmax",
                  rule: str = "sgd", accuracy: float | None = None, targets: Array | None = None,
                  stacklevel: int = 3) -> str | None:
    """Warn (:class:`CollapseWarning`) when :func:`collapse_problem` finds one, naming the likely cause and fix;
    returns the sentence or None.

    With a softmax output, the last epoch's running ``accuracy`` and the one-hot ``targets`` skip
    the check (a forward pass over ``CHECK_ROWS`` rows, a sizeable part of a short call's time)
    when the network beat the best constant guess, the most frequent class's share, by more
    than ``BEATS_CONSTANT``: a network with one output for every input cannot.

    Examples
    --------
    >>> import warnings
    >>> from fastnn.diagnostics import CollapseWarning, warn_collapse
    >>> params = {"W1": -np.ones((2, 3)), "b1": np.zeros(3), "W2": np.ones((3, 2)), "b2": np.zeros(2)}
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     problem = warn_collapse(params, X, lr=0.1)
    >>> caught[0].category is CollapseWarning
    True
    >>> str(caught[0].message)[:42]
    'training collapsed: every unit of hidden l'
    """
    if output_activation == "softmax" and accuracy is not None and targets is not None and len(targets):
        if accuracy > float(np.max(np.mean(targets, axis=0))) + BEATS_CONSTANT:
            return None
    problem = collapse_problem(params, X, activation=activation, output_activation=output_activation)
    if problem is None:
        return None
    scale = input_scale_problem(X, lr, rule)
    if scale is not None and scale.startswith("features"):
        cause = f"the likely cause: {scale}; standardise the features, or use the fastnn.sklearn estimators, which do"
    elif scale is not None:
        cause = f"the likely cause: {scale}"
    else:
        cause = (f"try a smaller learning rate than lr={lr:g} (e.g. {lr / 10:g}), or check that the features are "
                 f"of order 1")
    # + 1: the renamed_keywords wrapper's frame, so that stacklevel counts from the caller as before
    warnings.warn(f"training collapsed: {problem}; {cause}", CollapseWarning, stacklevel=stacklevel + 1)
    return problem


def check_sample_weight(sample_weight: Any, n_samples: int, name: str = "sample_weight") -> np.ndarray:
    """Return ``sample_weight`` as a float64 array of ``n_samples`` finite, non-negative weights.

    Raises
    ------
    TypeError
        For weights that are not numbers.
    ValueError
        For a wrong length or shape, NaN, infinite or negative weights, or weights that are all zero.

    Examples
    --------
    >>> from fastnn.diagnostics import check_sample_weight
    >>> check_sample_weight([1, 0, 2], 3)
    array([1., 0., 2.])
    >>> check_sample_weight([1, -1], 2)
    Traceback (most recent call last):
    ...
    ValueError: sample_weight must be non-negative, got -1 at index 1
    """
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(sample_weight).__name__}") from None
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},), one weight per sample, got shape {w.shape}")
    if not np.isfinite(w).all():
        first = int(np.flatnonzero(~np.isfinite(w))[0])
        raise ValueError(f"{name} holds NaN or infinite values (first at index {first})")
    if (w < 0).any():
        raise ValueError(f"{name} must be non-negative, got {w[w < 0][0]:g} at index {int(np.flatnonzero(w < 0)[0])}")
    if not w.any():
        raise ValueError(f"{name} is zero for every sample: sample weights must contain at least one non-zero weight")
    return w
