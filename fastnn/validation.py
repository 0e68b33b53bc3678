"""The one place where fastnn checks what callers hand it.

Every public function validates through these helpers before doing any work, so
errors read the same everywhere and say what was wrong and how to fix it. None of
them modifies its input; arrays are copied only when a copy is needed (another
dtype, or not C-contiguous).
"""
import numbers
import re
from collections.abc import Collection, Mapping
from typing import Any, TypeGuard

import numpy as np
from numpy.typing import DTypeLike

from .sparse import check_sparse_inputs, is_sparse
from .typing import Array

FLOAT_DTYPES = ("float32", "float64")
_FLOAT_TYPES = (np.float32, np.float64)


def _is_float_dtype(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is named in ``FLOAT_DTYPES``: its scalar type is asked first, as
    ``dtype.name`` is computed in Python at every read (a sizeable part of checking params)."""
    return dtype.type in _FLOAT_TYPES or dtype.name in FLOAT_DTYPES


def check_choice(value: Any, choices: Collection[str], what: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_choice("relu", ("relu", "tanh"), "activation")
    'relu'
    >>> v.check_choice("gelu", ("relu", "tanh"), "activation")
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'gelu'; valid choices are: 'relu', 'tanh'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid choices are: {', '.join(map(repr, choices))}")
    return value


def check_dtype(dtype: Any) -> np.dtype:
    """Return a NumPy float dtype for ``dtype`` ('float32' or 'float64').

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_dtype("float32"), v.check_dtype(np.float64)
    (dtype('float32'), dtype('float64'))
    """
    try:
        dt = None if dtype is None else np.dtype(dtype)  # np.dtype(None) is float64, not our default
    except TypeError:
        dt = None
    if dt is None or dt.name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


def is_integer(value: object) -> TypeGuard[numbers.Integral]:
    """True for an integer, Python's or NumPy's, that is not a bool (``True`` is no count).

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.is_integer(3), v.is_integer(np.int64(3)), v.is_integer(True), v.is_integer(3.0)
    (True, True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_flag(value: object, what: str) -> bool:
    """Return ``value`` as a bool if it is True or False (NumPy's bool too); 1, "yes" and None are refused.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_flag(np.True_, "shuffle")
    True
    >>> v.check_flag(1, "shuffle")
    Traceback (most recent call last):
    ...
    TypeError: shuffle must be True or False, got 1 (int)
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_positive_int(value: Any, what: str, minimum: int = 1) -> int:
    """Return ``value`` as int if it is an integer >= ``minimum``.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_positive_int(np.int32(5), "epochs")
    5
    >>> v.check_positive_int(0, "epochs")
    Traceback (most recent call last):
    ...
    ValueError: epochs must be >= 1, got 0
    """
    if not is_integer(value):
        raise TypeError(f"{what} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value: Any, what: str, *, low: float = 0.0, low_open: bool = True, high: float | None = None,
               high_open: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number within the bounds.

    Above ``low`` (or equal to it when not ``low_open``) and, if ``high`` is given, below
    it (or equal when not ``high_open``). Booleans are refused: ``True`` is no rate.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_real(0.5, "dropout", low=0.0, low_open=False, high=1.0, high_open=True)
    0.5
    >>> v.check_real(1, "dropout", low=0.0, low_open=False, high=1.0, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: dropout must be a finite number >= 0 and < 1, got 1.0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    ok = bool(np.isfinite(value)) and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        bounds = f"{'>' if low_open else '>='} {low:g}"
        if high is not None:
            bounds += f" and {'<' if high_open else '<='} {high:g}"
        raise ValueError(f"{what} must be a finite number {bounds}, got {value}")
    return value


def check_positive_float(value: Any, what: str, allow_zero: bool = False) -> float:
    """Return ``value`` as float if it is a finite number > 0 (or >= 0).

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_positive_float(0, "l2", allow_zero=True), v.check_positive_float(3, "lr")
    (0.0, 3.0)
    """
    return check_real(value, what, low=0.0, low_open=not allow_zero)


def check_real_array(value: Any, what: str, shape: tuple[int, ...], *, broadcast: bool = False,
                     low: float | None = None, expected: str = "") -> np.ndarray:
    """Return ``value`` as a float64 array of ``shape``, every entry finite (and > ``low`` if given).

    With ``broadcast``, a value that broadcasts to ``shape`` (a number for a row of them, a pair
    for an (n, 2) array) is accepted and returned broadcast, read-only. ``expected`` says in words
    what the shape means (", one row per image"); the message about a wrong shape carries it.
    The result is a new array or a view; ``value`` itself is never modified.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_real_array(2, "shift", (2, 2), broadcast=True)
    array([[2., 2.],
           [2., 2.]])
    >>> v.check_real_array([1, 2, 3], "scale", (2,), expected=", one per image")
    Traceback (most recent call last):
    ...
    ValueError: scale must have shape (2,), one per image, got shape (3,)
    """
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be numbers of shape {shape}{expected}, got {type(value).__name__}") from None
    if arr.shape != shape:
        try:
            if not broadcast:
                raise ValueError
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            verb = "broadcast to" if broadcast else "have"
            raise ValueError(f"{what} must {verb} shape {shape}{expected}, got shape {arr.shape}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    if low is not None and arr.size and not (arr > low).all():
        raise ValueError(f"{what} must hold numbers > {low:g}, found {arr.min():g}")
    return arr


def check_layer_sizes(layer_sizes: Any) -> tuple[int, ...]:
    """Return ``layer_sizes`` as a tuple of ints (input width, hidden widths..., outputs).

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_layer_sizes([784, np.int64(64), 10])
    (784, 64, 10)
    >>> v.check_layer_sizes([784])
    Traceback (most recent call last):
    ...
    ValueError: layer_sizes needs at least two entries (inputs and outputs), got [784]; ...
    """
    try:
        sizes = list(layer_sizes)
    except TypeError:
        raise TypeError(f"layer_sizes must be a sequence of ints such as [784, 128, 10], got {layer_sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least two entries (inputs and outputs), got {sizes}; e.g. [784, 10] or [784, 128, 10]"
        )
    for s in sizes:
        if not is_integer(s):
            raise TypeError(f"layer_sizes must hold integers, got {s!r} in {sizes}")
        if s <= 0:
            raise ValueError(f"layer sizes must be positive, got {s} in {sizes}")
    return tuple(int(s) for s in sizes)


_KEY = re.compile(r"^([Wb])([1-9][0-9]*)$")


def check_params(params: Any, finite: bool = True) -> list[tuple[Array, Array]]:
    """Check a params dict and return its ``[(W1, b1), ..., (WL, bL)]`` in layer order.

    Keys must be exactly W1..WL and b1..bL, with ``Wl`` of shape (fan_in, fan_out),
    ``bl`` of shape (fan_out,), consecutive layers chained, one float dtype, all finite
    (unless ``finite`` is False: a pass over every weight, which ``fastnn.training.train_in_place``
    leaves to the training it does).

    Examples
    --------
    >>> from fastnn import init_params
    >>> from fastnn import validation as v
    >>> [(W.shape, b.shape) for W, b in v.check_params(init_params([4, 3, 2]))]
    [((4, 3), (3,)), ((3, 2), (2,))]
    >>> v.check_params({"W1": np.zeros((4, 3))})
    Traceback (most recent call last):
    ...
    ValueError: params is missing b1; a network of 1 layers needs W1..W1 and b1..b1
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays such as init_params() returns, got {type(params).__name__}")
    layers: dict[int, dict[str, Any]] = {}
    for key in params:
        m = _KEY.match(key) if isinstance(key, str) else None
        if not m:
            raise ValueError(f"params has an unexpected key {key!r}; expected only W1..WL and b1..bL")
        layers.setdefault(int(m.group(2)), {})[m.group(1)] = params[key]
    n = len(layers)
    if n == 0:
        raise ValueError("params is empty; create it with fastnn.init_params(layer_sizes)")
    for l in range(1, n + 1):
        for kind in "Wb":
            if kind not in layers.get(l, {}):
                raise ValueError(f"params is missing {kind}{l}; a network of {n} layers needs W1..W{n} and b1..b{n}")
    out: list[tuple[Array, Array]] = []
    dtype = None
    for l in range(1, n + 1):
        W, b = layers[l]["W"], layers[l]["b"]
        for name, arr, ndim in ((f"W{l}", W, 2), (f"b{l}", b, 1)):
            if not isinstance(arr, np.ndarray):
                raise TypeError(f"params[{name!r}] must be a NumPy array, got {type(arr).__name__}")
            if arr.ndim != ndim:
                raise ValueError(f"params[{name!r}] must be {ndim}-D, got shape {arr.shape}")
            if not _is_float_dtype(arr.dtype):
                raise TypeError(f"params[{name!r}] must be float32 or float64, got {arr.dtype}")
            if dtype is None:
                dtype = arr.dtype
            elif arr.dtype != dtype:
                raise TypeError(f"params mixes dtypes ({dtype} and {arr.dtype} in {name}); convert all to one")
            if arr.size == 0:
                raise ValueError(f"params[{name!r}] is empty (shape {arr.shape})")
        if b.shape[0] != W.shape[1]:
            raise ValueError(f"params['b{l}'] has shape {b.shape} but W{l} has {W.shape[1]} columns; they must match")
        if l > 1 and W.shape[0] != out[-1][0].shape[1]:
            raise ValueError(
                f"params['W{l}'] has shape {W.shape} but W{l - 1} has shape {out[-1][0].shape}; "
                f"W{l} needs {out[-1][0].shape[1]} rows"
            )
        out.append((W, b))
    for l, (W, b) in enumerate(out, 1):
        if finite and not (all_finite(W) and all_finite(b)):
            raise ValueError(f"params W{l}/b{l} hold NaN or infinite values; the network has diverged or is corrupt")
    return out


def all_finite(arr: np.ndarray, block: int = 1 << 20) -> bool:
    """Whether every entry of ``arr`` is finite, checked ``block`` entries at a time: a whole-array
    ``np.isfinite`` would add a bool temporary a quarter of a float32 W1's size (256 MiB for 2^20 x 256).

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.all_finite(np.ones((3, 3))), v.all_finite(np.array([1.0, np.inf]))
    (True, False)
    """
    flat = arr.reshape(-1)  # a view for the C-contiguous arrays params hold
    if flat.size <= block:  # one block: no generator to run
        return bool(np.isfinite(flat).all())
    return all(np.isfinite(flat[i : i + block]).all() for i in range(0, flat.size, block))


def check_float_arrays(arrays: object, what: str) -> None:
    """Refuse anything but a mapping of floating-point NumPy arrays (an optimizer's params, grads).

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_float_arrays({"W1": np.zeros(2)}, "grads")  # fine
    >>> v.check_float_arrays({"W1": [0.0, 0.0]}, "grads")
    Traceback (most recent call last):
    ...
    TypeError: grads['W1'] must be a floating-point NumPy array, got list
    """
    if not isinstance(arrays, Mapping):
        raise TypeError(f"{what} must be a dict of NumPy arrays, got {type(arrays).__name__}")
    for key, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise TypeError(f"{what}[{key!r}] must be a floating-point NumPy array, got {got}")


def check_grads(grads: Any, params: Mapping[str, np.ndarray]) -> dict[str, Array]:
    """Return ``grads`` if it has the keys of ``params``, each a finite float array of its param's shape.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> params = {"W1": np.zeros((2, 2)), "b1": np.zeros(2)}
    >>> sorted(v.check_grads({"W1": np.ones((2, 2)), "b1": np.ones(2)}, params))
    ['W1', 'b1']
    >>> v.check_grads({"W1": np.ones((2, 2))}, params)
    Traceback (most recent call last):
    ...
    ValueError: grads has keys ['W1'] but params has ['W1', 'b1']; they must match
    """
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict of arrays with the keys of params (as backward() returns), "
                        f"got {type(grads).__name__}")
    if set(grads) != set(params):
        raise ValueError(f"grads has keys {sorted(grads, key=str)} but params has {sorted(params, key=str)}; "
                         "they must match")
    for k, p in params.items():
        g = grads[k]
        if not isinstance(g, np.ndarray) or g.shape != p.shape:
            raise ValueError(f"grads[{k!r}] has shape {getattr(g, 'shape', None)}, params[{k!r}] has {p.shape}; "
                             "pass arrays of the params' shapes")
        if g.dtype.kind != "f":
            raise TypeError(f"grads[{k!r}] must hold floats, got dtype {g.dtype}")
        if not np.isfinite(g).all():
            raise ValueError(f"grads[{k!r}] holds NaN or infinite values; the gradients have diverged")
    return grads


def check_state(state: Any) -> dict[str, np.ndarray]:
    """Return an optimizer ``state`` (None, or a dict of numeric arrays under string keys) as a dict of arrays.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_state(None), v.check_state({"t": 3})
    ({}, {'t': array(3)})
    """
    if state is None:
        return {}
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict of arrays such as an optimizer's init(params) returns, "
                        f"got {type(state).__name__}")
    out = {}
    for k, v in state.items():
        if not isinstance(k, str):
            raise TypeError(f"state keys must be strings, got {k!r}")
        out[k] = np.asarray(v)
        if out[k].dtype.kind not in "biuf":
            raise TypeError(f"state[{k!r}] must be a numeric array, got dtype {out[k].dtype}")
    return out


def layer_sizes_of(layers: Any) -> tuple[int, ...]:
    """The layer sizes of a checked ``[(W, b), ...]`` list.

    Examples
    --------
    >>> from fastnn import init_params
    >>> from fastnn import validation as v
    >>> v.layer_sizes_of(v.check_params(init_params([5, 4, 3])))
    (5, 4, 3)
    """
    return (layers[0][0].shape[0],) + tuple(W.shape[1] for W, _ in layers)


def check_rows(X: np.ndarray, name: str, layout: str, row: str = "sample") -> None:
    """Raise a ValueError unless the array ``X`` is 2-D, one ``row`` a row, with a hint to reshape it.

    ``layout`` names the two axes in the message ("n_samples, n_features"). A 1-D array is not
    guessed at (one row or one column?): the hint says how to pass one row; a stack of images
    gets the hint to flatten them.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_rows(np.zeros((2, 3)), "X", "n_samples, n_features")  # fine
    >>> v.check_rows(np.zeros(3), "X", "n_samples, n_features")
    Traceback (most recent call last):
    ...
    ValueError: X must be 2-D (n_samples, n_features), got shape (3,); for one sample use X[None, :]
    """
    if X.ndim != 2:
        hint = ""
        if X.ndim == 1:
            hint = f"; for one {row} use {name}[None, :]"
        elif X.ndim > 2:
            hint = f"; flatten images with {name}.reshape(len({name}), -1)"
        raise ValueError(f"{name} must be 2-D ({layout}), got shape {X.shape}{hint}")


def check_inputs(X: Any, n_features: int, dtype: DTypeLike, name: str = "X", first_row: int = 0,
                 w1_shape: tuple[int, ...] | None = None, finite: bool = True) -> Any:
    """Return ``X`` as a C-contiguous 2-D array of ``dtype`` with ``n_features`` columns.

    Integer images are refused with a hint to scale them; NaN and infinities are refused.
    A 1-D array of ``n_features`` values is not guessed at: pass ``X[None, :]`` for one row.
    ``first_row`` is the index of ``X``'s first row in the caller's array (for a chunk of it),
    so that messages give the caller's row numbers. ``w1_shape``, when given, is named in
    the message about a wrong number of columns. ``finite=False`` leaves a dense ``X``'s
    NaN and infinities to the caller, who checks them next with :func:`refuse_non_finite_row`
    (``fastnn.train`` does, from :mod:`fastnn.scan`, which also measures ``X``).

    A scipy.sparse ``X`` (any format, matrix or array) is returned as a canonical
    ``scipy.sparse.csr_matrix`` instead, never densified (:func:`fastnn.sparse.check_sparse_inputs`).

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_inputs(np.array([[0.5, 1.0]]), 2, np.float32)
    array([[0.5, 1. ]], dtype=float32)
    >>> v.check_inputs(np.array([[0.5, 1.0], [np.nan, 0.0]]), 2, np.float32, first_row=100)
    Traceback (most recent call last):
    ...
    ValueError: X holds NaN or infinite values (first in row 101); clean or impute them first
    """
    if is_sparse(X):
        return check_sparse_inputs(X, n_features, dtype, name=name, first_row=first_row, w1_shape=w1_shape)
    if not isinstance(X, np.ndarray):
        if isinstance(X, (list, tuple)):
            try:
                X = np.asarray(X)
            except ValueError:  # rows of different lengths, or (X, y) passed as one argument
                raise ValueError(f"{name} must be rows of numbers of one length (n_samples, n_features); got a "
                                 f"{type(X).__name__} of {len(X)} items that do not form such a table. Pass the "
                                 "inputs and the labels as two arguments: train(params, X, y)") from None
        else:
            raise TypeError(f"{name} must be a NumPy array, got {type(X).__name__} (a scipy.sparse matrix is "
                            "taken too)")
    check_rows(X, name, "n_samples, n_features")
    if X.shape[1] != n_features:
        w1 = f"has shape {tuple(w1_shape)}" if w1_shape is not None else f"has {n_features} rows"
        raise ValueError(
            f"{name} has shape {X.shape} but the network's W1 {w1}; "
            f"{name} needs {n_features} columns"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); pass at least one sample")
    refuse_integer_images(X, name)
    if X.dtype.kind != "f":
        raise TypeError(f"{name} must hold floats, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=dtype)
    if finite:
        refuse_non_finite_row(first_non_finite_row(X), name, first_row)
    return X


def refuse_non_finite_row(row: int | None, name: str = "X", first_row: int = 0) -> None:
    """Raise :func:`check_inputs`'s ValueError about ``row``, the first row of ``name`` that holds a
    NaN or an infinity (``first_row``: as for :func:`check_inputs`); None, no such row: nothing.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.refuse_non_finite_row(None)  # fine
    >>> v.refuse_non_finite_row(3, first_row=10)
    Traceback (most recent call last):
    ...
    ValueError: X holds NaN or infinite values (first in row 13); clean or impute them first
    """
    if row is not None:
        raise ValueError(f"{name} holds NaN or infinite values (first in row {first_row + row}); "
                         "clean or impute them first")


def refuse_integer_images(X: np.ndarray, name: str, scaled_to: str = "floats") -> None:
    """Raise a TypeError saying how to scale ``X`` if it holds integers (or booleans), as 8-bit images do.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.refuse_integer_images(np.zeros((1, 4), np.uint8), "X")
    Traceback (most recent call last):
    ...
    TypeError: X has integer dtype uint8; scale images to floats first, for example X.astype(np.float32) / 255
    """
    if X.dtype.kind in "iub":
        raise TypeError(
            f"{name} has integer dtype {X.dtype}; scale images to {scaled_to} first, "
            f"for example {name}.astype(np.float32) / 255"
        )


def first_non_finite_row(X: np.ndarray, block: int = 1 << 20) -> int | None:
    """Index of the first row of 2-D ``X`` holding a NaN or an infinity, or None.

    Checked a block of about ``block`` elements at a time, so the temporary stays small
    however large ``X`` is (a whole-array ``np.isfinite`` would add a quarter of a float32 X).

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.first_non_finite_row(np.array([[0.0, 1.0], [2.0, np.nan]])), v.first_non_finite_row(np.ones((2, 2)))
    (1, None)
    """
    step = max(1, block // max(1, X.shape[1]))
    for start in range(0, len(X), step):
        flags = np.isfinite(X[start : start + step])
        if flags.all():  # the usual case, checked faster than row by row
            continue
        finite = flags.all(axis=1)
        if not finite.all():
            return start + int(np.flatnonzero(~finite)[0])
    return None


def check_targets(y: Any, n_samples: int, n_classes: int, dtype: DTypeLike, name: str = "y") -> np.ndarray:
    """Return targets as an (n_samples, n_classes) float array of ``dtype``.

    ``y`` is either integer class labels in ``[0, n_classes)`` (turned into one-hot rows)
    or a 2-D float array of targets of shape (n_samples, n_classes).

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_targets([2, 0], 2, 3, np.float32)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    if not isinstance(y, np.ndarray):
        if isinstance(y, (list, tuple)):
            y = np.asarray(y)
        else:
            raise TypeError(f"{name} must be a NumPy array, got {type(y).__name__}")
    if y.ndim not in (1, 2):  # before len(), which a 0-d array does not have
        raise ValueError(f"{name} must be 1-D labels or 2-D (n_samples, n_classes) targets, got shape {y.shape}")
    if len(y) != n_samples:
        raise ValueError(f"{name} has {len(y)} entries but X has {n_samples} rows; they must match")
    if y.ndim == 1:
        return one_hot(check_labels(y, n_classes, name), n_classes, dtype)
    if y.shape[1] != n_classes:
        raise ValueError(f"{name} has shape {y.shape} but the network has {n_classes} outputs; they must match")
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be numeric, got dtype {y.dtype}")
    T = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(T).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return T


def check_labels(y: Any, n_classes: int | None = None, name: str = "y") -> np.ndarray:
    """Return integer labels as an int64 array, checked against ``[0, n_classes)``.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_labels(np.array([1.0, 0.0]), 2)
    array([1, 0])
    >>> v.check_labels([0, 3], 3)
    Traceback (most recent call last):
    ...
    ValueError: y holds labels from 0 to 3, outside [0, 3)
    """
    if not isinstance(y, np.ndarray):
        y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integer labels, got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name} is empty; pass at least one label")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise TypeError(f"{name} must hold integer class labels, got non-integer floats ({y.dtype})")
    elif y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    check_label_range(y, n_classes, name)  # before the cast, which would wrap 1e20 around
    return y.astype(np.int64, copy=False)


def one_hot(labels: Any, n_classes: int, dtype: DTypeLike = "float32") -> np.ndarray:
    """One-hot rows (n, n_classes) for integer ``labels``.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.one_hot(np.array([1, 0]), 3)
    array([[0., 1., 0.],
           [1., 0., 0.]], dtype=float32)
    """
    T = np.zeros((len(labels), n_classes), dtype=dtype)
    T[np.arange(len(labels)), labels] = 1
    return T


# -- strict checks added for issue 32 (seeds, label ranges before any cast, epoch schedules) ------

from collections.abc import Callable  # noqa: E402 - beside the one check that uses it


def check_seed(seed: object, what: str = "seed") -> int | None:
    """Return ``seed`` as an int if it is None or an integer >= 0 (Python's or NumPy's, not a bool).

    A negative seed, a float or a string is refused with a message naming ``what``, instead of
    failing inside NumPy's random generator.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_seed(np.uint8(7)), v.check_seed(None)
    (7, None)
    >>> v.check_seed(-1, "random_state")
    Traceback (most recent call last):
    ...
    ValueError: random_state must be an integer >= 0, got -1
    """
    if seed is None:
        return None
    if not is_integer(seed):
        raise TypeError(f"{what} must be None or an integer >= 0, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {seed}")
    return int(seed)


def check_label_range(y: np.ndarray, n_classes: int | None = None, name: str = "y") -> None:
    """Raise a ValueError unless every label of the integer-valued array ``y`` lies in ``[0, n_classes)``.

    Checked on ``y``'s own dtype, before any cast: a float label of 1e20 or a uint64 label above
    2**63 is reported as the caller wrote it, not as the wrapped-around value an int64 cast makes.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_label_range(np.array([0.0, 1e20]), 10)
    Traceback (most recent call last):
    ...
    ValueError: y holds labels from 0 to 1e+20, outside [0, 10)
    """
    lo, hi = y.min(), y.max()
    if lo < 0 or (n_classes is not None and hi >= n_classes):
        bound = f"[0, {n_classes})" if n_classes is not None else ">= 0"
        show = (lambda v: f"{v:g}") if y.dtype.kind == "f" else (lambda v: f"{int(v)}")
        raise ValueError(f"{name} holds labels from {show(lo)} to {show(hi)}, outside {bound}")


def check_epoch_schedule(lr: Callable[[int], float], epochs: int, what: str = "lr") -> None:
    """Call the learning-rate schedule ``lr(epoch)`` for every epoch before any work is done.

    Raises a ValueError naming the first epoch whose rate is not a finite number > 0 (or a
    TypeError for a rate that is no number), so a schedule that fails at epoch 7 fails at once,
    not after seven epochs of training.

    Examples
    --------
    >>> from fastnn import validation as v
    >>> v.check_epoch_schedule(lambda epoch: 0.1 / (1 + epoch), epochs=10)  # fine
    >>> v.check_epoch_schedule(lambda epoch: 0.1 - 0.02 * epoch, epochs=10)
    Traceback (most recent call last):
    ...
    ValueError: the learning rate lr(5) for epoch 5 is ...; a schedule must give a finite number > 0 for every epoch
    """
    for epoch in range(epochs):
        value = lr(epoch)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray)) or np.ndim(value):
            raise TypeError(f"{what}({epoch}) must return a number, got {value!r} ({type(value).__name__})")
        value = float(value)
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"the learning rate {what}({epoch}) for epoch {epoch} is {value}; "
                             "a schedule must give a finite number > 0 for every epoch")
