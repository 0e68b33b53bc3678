"""scikit-learn estimators on top of fastnn's functional API (extra ``sklearn``).

:class:`MLPClassifier` and :class:`MLPRegressor` take the hyperparameter names of
scikit-learn's ``sklearn.neural_network`` estimators where the meaning matches, plus
fastnn's own (``dropout``, ``augment``, ``n_threads``, ``dtype``, ``init``), and train
with :func:`fastnn.train`. The default is fastnn's compiled path: plain SGD
(``solver="sgd"``), one sample at a time (``batch_size=1``).

:class:`MLPCommitteeClassifier` trains ``n_members`` such networks, differing in seed,
concurrently (one per core on threads, or on a Dask cluster with ``dask=True``), and
averages their probabilities (:mod:`fastnn.committee`).

An estimator holds its hyperparameters and, once fitted, the fastnn params dict
(``params_``; a committee: ``members_``, a list of them) with what scikit-learn's
conventions require (``classes_``, ``n_features_in_``, ``loss_curve_``, ...). Everything
else is computed from those: ``coefs_`` and ``intercepts_`` are the arrays of ``params_``.
Training updates those arrays in place, as scikit-learn's MLPs update ``coefs_`` (copy them to
keep a snapshot); a ``DivergenceError`` leaves them as training stopped.
The params work with the functional API directly::

    clf = MLPClassifier(hidden_layer_sizes=(128,)).fit(X, y)
    fastnn.predict_proba(clf.params_, X)          # == clf.predict_proba(X), to float32 rounding
    fastnn.train(clf.params_, X, clf.classes_.searchsorted(y), epochs=2)

With every argument at its default they train on tables of any scale (issue 28) and on sparse
text (issue 29): ``fit`` scales the inputs from the training data (``input_scaling='auto'``:
standardised, or for mostly-zero inputs such as images and bags of words never centred: each
column whose largest absolute value exceeds 1 divided by it, then all by the power of two that
brings the rows' mean squared norm nearest ``ROW_NORM2`` = 100, or the number of columns if
smaller) and folds that scaling into the first layer (``W1 / s``, ``b1 - (m / s) @ W1``), so
``params_`` takes raw ``X``. ``bench/tabular.py`` compares them with scikit-learn's MLPs and
linear models on scikit-learn's bundled tables, ``bench/text.py`` on a bag of words.

Differences from scikit-learn's MLP estimators, by design:

- ``solver``: ``"sgd"`` (plain, the fast per-sample path), ``"momentum"``, ``"nesterov"``,
  ``"adam"``, ``"rmsprop"``, ``"adagrad"``; no ``"lbfgs"``. The optimizer's state starts
  afresh at every ``fit``/``partial_fit`` call (``fastnn.train`` does not carry it over).
- ``alpha`` is fastnn's weight decay per update, ``W <- (1 - lr*alpha) W - lr*grad``,
  which equals scikit-learn's L2 penalty for ``batch_size=1``; biases are not decayed.
  ``alpha='auto'`` (the regressor's default) is ``30 / n_samples`` (see ``AUTO_DECAY``).
- The regressor's ``learning_rate_init`` defaults to 0.001 (the classifier's to 0.01): a
  squared error's per-sample gradient is unbounded, and 0.01 diverged on small tables.
- ``fit`` trains on the rows in an order fixed by their contents (with ``shuffle=True``),
  so the fitted model depends on the set of samples, not on the order they came in.
- ``sample_weight``: a sample of weight ``w`` is visited ``ceil(w)`` times an epoch, each
  step scaled by ``w / ceil(w)``: weight 0 removes it, an integer weight ``k`` is exactly
  ``k`` copies of it, and no step is larger than an unweighted one. An epoch's time grows
  with the sum of the weights rounded up.
- Predictions are computed in float64 from the (float32) params, so a row's output does
  not depend on the other rows of the call.
- ``learning_rate``: ``"constant"``, ``"invscaling"`` (``lr0 / (epoch + 1) ** power_t``, by
  epoch), ``"cosine"`` (from ``lr0`` to 0 over ``max_iter`` epochs) or a callable of the
  0-based epoch.
- ``early_stopping`` uses fastnn's rule: stop when the validation *loss* has not improved by
  ``tol`` for ``n_iter_no_change`` epochs, and keep the best epoch's params.
  ``validation_scores_`` records the validation accuracy (regressor: R^2) of every epoch.
- The regressor standardises the targets for training (per-sample SGD on targets in the
  hundreds diverges) and folds the scaling back into the output layer, so ``params_``
  predicts ``y`` itself with ``fastnn.predict_proba(params_, X, output_activation="identity")``.
- Multi-label and multi-output *classification* targets are refused with a ValueError
  (wrap the classifier in ``sklearn.multioutput.MultiOutputClassifier``); the regressor
  supports multi-output targets.
- A diverging run raises :class:`fastnn.DivergenceError` naming a smaller
  ``learning_rate_init``; a run that ends with every hidden unit inactive, or with the same
  output for every input, warns :class:`FitCollapsedWarning` (a ``ConvergenceWarning``).
"""
import functools
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Optional, TypeVar, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

try:  # the one place that says how to get scikit-learn, instead of a bare ModuleNotFoundError
    import sklearn  # noqa: F401
except ImportError as _e:
    raise ImportError("fastnn.sklearn needs scikit-learn: python -m pip install -e '.[sklearn]' in the fastnn "
                      "source folder (or pip install scikit-learn)") from _e
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from . import activations as _activations
from . import committee as _committee
from . import sparse as _sparse
from .activations import SKLEARN_HIDDEN as ACTIVATIONS
from .augment import Distortion, check_image_shape, check_images
from .diagnostics import CollapseWarning, InputScaleWarning, check_sample_weight, input_scale_problem
from .initializers import init_params
from .network import predict_proba as _predict_proba
from .per_sample import quiet_blas
from .schedules import cosine
from .training import DivergenceError, train_in_place
from .typing import Params

__all__ = ["MLPClassifier", "MLPRegressor", "MLPCommitteeClassifier", "FitCollapsedWarning"]


SOLVERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad")
LEARNING_RATES = ("constant", "invscaling", "cosine")
INPUT_SCALINGS = ("auto", "standard", "maxabs", "none")

_Estimator = TypeVar("_Estimator", bound="_BaseMLP")
_Seed = Union[int, np.random.RandomState, None]  # scikit-learn's random_state


class FitCollapsedWarning(ConvergenceWarning, CollapseWarning):
    """``fit`` ended with a network whose output is the same for every input (every hidden unit
    inactive on every sample, or constant outputs). A ``ConvergenceWarning`` and a
    :class:`fastnn.diagnostics.CollapseWarning`.

    Examples
    --------
    Features in the thousands, with the default input scaling turned off, leave every hidden unit dead:

    >>> import warnings
    >>> from sklearn.datasets import load_breast_cancer
    >>> from fastnn.sklearn import FitCollapsedWarning, MLPClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0, input_scaling="none")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     clf = clf.fit(X, y)
    >>> [str(w.message) for w in caught if w.category is FitCollapsedWarning]    # doctest: +ELLIPSIS
    ["training collapsed: in the network, every unit of hidden layer 1 is inactive on all 256 samples checked,
    ...; use input_scaling='auto' (the default), or standardise X"]
    """


def _input_scaling(X, kind, weights=None):
    """``(mean, scale)``, float64 arrays of one value per column: the estimators train on
    ``(X - mean) / scale``. ``kind``: ``'standard'`` (mean and standard deviation), ``'maxabs'``
    (no centring, the largest absolute value: zeros stay zeros, so sparse input stays sparse and
    images in [0, 1] stay as they are), ``'none'``, or ``'auto'``: for scipy.sparse input and for
    arrays with at most ``SPARSE_BELOW`` of their entries non-zero, ``'maxabs'`` for the columns whose
    largest absolute value exceeds 1 (the others are not scaled up one by one: a column seen rarely
    in a first ``partial_fit`` chunk would be scaled up by its tiny maximum), then every column by
    the power of two that brings the rows' mean squared norm nearest ``ROW_NORM2`` (:func:`_row_factor`);
    else ``'standard'``. Columns that are constant (or all zero) get scale 1."""
    n_features = X.shape[1]
    shrink_only = kind == "auto"
    if kind == "auto":
        kind = "maxabs" if sp.issparse(X) or _density(X) <= SPARSE_BELOW else "standard"
    if kind == "none":
        return np.zeros(n_features), np.ones(n_features)
    if kind == "maxabs":
        if sp.issparse(X):
            big = np.asarray(abs(X).max(axis=0).todense()).ravel()
        else:  # two reductions, no |X| temporary
            big = np.maximum(X.max(axis=0), -X.min(axis=0)).astype(np.float64)
        scale = np.where(big > (1.0 if shrink_only else 0.0), big, 1.0)
        return np.zeros(n_features), scale / _row_factor(X, scale) if shrink_only else scale
    mean = np.mean(X, axis=0, dtype=np.float64)
    sq = np.zeros(n_features)
    for a in range(0, X.shape[0], 4096):  # in blocks: no float64 copy of the whole of X
        sq += np.sum((X[a:a + 4096] - mean) ** 2, axis=0)
    std = np.sqrt(sq / X.shape[0])
    return mean, np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)


AUTO_DECAY = 30.0
"""``alpha='auto'`` (the regressor's default) decays the weights by ``AUTO_DECAY / n_samples`` per
update: a penalty ``AUTO_DECAY / 2 * |W|^2`` on the summed loss, the same shrinkage per epoch
whatever the number of samples, so it fades next to the data as the data grow. Per-sample SGD on a
small noisy table overfits without it (load_diabetes: R^2 -0.16 to -0.01 over seeds 0-4 at alpha 0,
0.34 to 0.35 with it; bench/tabular.py)."""

SPARSE_BELOW = 0.5
"""``input_scaling='auto'`` only scales (does not centre) arrays with at most this fraction of
non-zero entries, such as images (MNIST: 19%) and bags of words: centring would make every
entry non-zero and cost the per-sample kernel its skipping of zero inputs."""


ROW_NORM2 = 100.0
"""``input_scaling='auto'`` scales mostly-zero inputs so that their rows' mean squared norm is within a
factor 2 of this, or of their number of columns if smaller, by a power of two (:func:`_row_factor`).
Why: a per-sample SGD step of rate ``lr`` moves a first-layer pre-activation by ``lr * |x|^2`` times its
error, so the rows' norm sets the first layer's effective step: MNIST's pixels in [0, 1] (mean 88, left
as they are) give the step the default rate is set for, L2-normalised text (1) one 100 times smaller
(bench/text.py, docs/text.md). Not above the number of columns: He init assumes inputs of variance 1,
``|x|^2 = n_features`` (as standardised tables have), and larger rows overflow a narrow first layer."""


def _row_factor(X, scale):
    """The power of two ``c`` that brings the mean squared norm of the rows of ``c * X / scale`` nearest
    ``min(ROW_NORM2, n_features)`` (in the ratio), 1 for all-zero ``X``. A power of two, so that folding
    it into ``W1`` and back is exact, and ``X`` times a power of two trains the same network."""
    inv2 = (1.0 / scale) ** 2
    if sp.issparse(X):
        X = X.tocsr()
        total = float(np.dot(X.data.astype(np.float64) ** 2, inv2[X.indices]))
    else:  # in blocks: no float64 copy of the whole of X
        total = 0.0
        for a in range(0, X.shape[0], 4096):
            block = X[a:a + 4096]
            total += float(np.einsum("ij,ij->j", block, block, dtype=np.float64) @ inv2)
    mean = total / max(X.shape[0], 1)
    return 2.0 ** round(0.5 * np.log2(min(ROW_NORM2, X.shape[1]) / mean)) if mean > 0 else 1.0


def _density(X, max_rows=2048):
    rows = X[:: max(1, X.shape[0] // max_rows)]
    return np.count_nonzero(rows) / max(rows.size, 1)


def _fold_inputs(params, mean, scale, sign, in_place=False):
    """A new params dict whose first layer takes raw ``X`` (sign +1: ``W1 / s``, ``b1 - (m / s) @ W1``)
    from one that takes ``(X - m) / s``, or back (sign -1). Computed in float64, on the rows of
    ``W1`` whose scale is not 1 (or not the power of two most rows share, applied in W's dtype) and
    the columns whose mean is not 0 only: on a bag of words with 2^18 columns a copy of W1 in float64
    cost more than an epoch of training. ``in_place``: the same values written into ``params``' own
    ``W1`` and ``b1`` (the estimator's network, trained in place), with no copy of them."""
    W, b = params["W1"], params["b1"]
    if np.all(scale == 1.0) and (mean is None or not mean.any()):  # nothing to fold (e.g. MNIST's pixels)
        return params if in_place else {**params}
    # a power of two most rows share (input_scaling='auto''s row factor) is applied in W's dtype: exact,
    # as the float64 path would be
    common = 2.0 ** np.round(np.log2(np.median(scale))) if scale.size else 1.0
    rows = np.flatnonzero(scale != common)
    if 2 * rows.size > scale.size:  # no power of two shared by most rows (standardised columns)
        common, rows = 1.0, np.flatnonzero(scale != 1.0)
    # every new value is computed from the old W before anything is written (in place, W is the output)
    W_rows = (W[rows].astype(np.float64) / scale[rows, None] if sign > 0
              else W[rows].astype(np.float64) * scale[rows, None]).astype(W.dtype) if rows.size else None
    centred = np.flatnonzero(mean) if mean is not None else np.zeros(0, np.int64)
    b1 = b
    if centred.size:
        shift = ((mean[centred] / scale[centred]) @ W[centred].astype(np.float64) if sign > 0
                 else -(mean[centred] @ W[centred].astype(np.float64)))
        b1 = (b.astype(np.float64) - shift).astype(b.dtype)
    W1 = W if in_place or (common == 1.0 and W_rows is None) else None  # W1 = W: train never writes to it
    if common != 1.0:
        factor = W.dtype.type(1.0 / common if sign > 0 else common)
        W1 = np.multiply(W, factor, out=W1)
    elif W1 is None:
        W1 = W.copy()
    if W_rows is not None:
        W1[rows] = W_rows
    if in_place:
        if b1 is not b:
            b[...] = b1
        return params
    return {**params, "W1": W1, "b1": b1}


def _visits(X, T, weights):
    """The training rows for ``sample_weight``: a sample of weight ``w`` is visited ``ceil(w)`` times
    an epoch with its step scaled by ``w / ceil(w)``, so weight 0 drops it, an integer weight ``k``
    is exactly ``k`` copies of it, and no single step is larger than an unweighted one. Returns
    ``(X, T, step_weights or None)``."""
    if weights is None:
        return X, T, None
    counts = np.ceil(weights).astype(np.int64)
    if np.any(counts != 1):
        rows = np.repeat(np.arange(len(counts)), counts)
        X, T, weights, counts = X[rows], T[rows], weights[rows], counts[rows]
    steps = weights / counts
    return X, T, None if np.all(steps == 1.0) else steps


def _row_keys(X, T):
    """A 64-bit key per row, a function of the row's bytes (inputs and target) only: two sums of
    its 32-bit words times fixed odd multipliers, each modulo 2^32. Equal rows get equal keys;
    distinct rows collide with probability about 2^-64 (then their given order decides)."""
    n = X.shape[0]
    parts = [np.ascontiguousarray(T).reshape(n, -1)]
    rng = np.random.default_rng(0x5EED)

    def words_of(A):  # (rows, k) uint32 view of a 2-D array's bytes, zero-padded to whole words
        A = np.ascontiguousarray(A).view(np.uint8).reshape(A.shape[0], -1)
        return np.pad(A, ((0, 0), (0, -A.shape[1] % 4))).view(np.uint32) if A.shape[1] % 4 else A.view(np.uint32)

    def hashed(words):  # two (rows,) uint32 hashes
        m = rng.integers(0, 2**31, size=(2, words.shape[1]), dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        return np.stack([np.einsum("ij,j->i", words, m[0]), np.einsum("ij,j->i", words, m[1])], axis=1).astype(
            np.uint64)

    h = hashed(np.concatenate([words_of(p) for p in parts], axis=1))
    if sp.issparse(X):  # the dense row's hash from the stored entries alone (zeros add nothing to the sums)
        X = X.tocsr()
        k = X.data.dtype.itemsize // 4  # 32-bit words per value (float32: 1, float64: 2)
        m = rng.integers(0, 2**31, size=(2, X.shape[1] * k), dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        words = np.ascontiguousarray(X.data).view(np.uint32).reshape(-1, k).astype(np.uint64)
        at = X.indices.astype(np.int64)[:, None] * k + np.arange(k)  # each word's place in the dense row
        entries = np.stack([(words * m[0][at]).sum(axis=1), (words * m[1][at]).sum(axis=1)], axis=1)
        entries &= np.uint64(0xFFFFFFFF)
        sums = np.add.reduceat(np.vstack([entries, np.zeros((1, 2), np.uint64)]), X.indptr[:-1], axis=0)
        h += sums * (np.diff(X.indptr) > 0)[:, None]
    else:  # in blocks, each with -0.0 made +0.0 (as the sparse form, which stores neither), no copy of X
        X = X.reshape(n, -1)
        m = None
        for a in range(0, n, 4096):
            words = words_of(X[a : a + 4096] + 0)
            if m is None:
                m = rng.integers(0, 2**31, size=(2, words.shape[1]), dtype=np.uint32) * np.uint32(2) + np.uint32(1)
            h[a : a + 4096] += np.stack([words @ m[0], words @ m[1]], axis=1).astype(np.uint64)
    h &= np.uint64(0xFFFFFFFF)
    return (h[:, 0] << np.uint64(32)) | h[:, 1]


def _canonical_order(X, T, weights):
    """``(X, T, weights)`` with the rows in an order fixed by their contents (:func:`_row_keys`), so that
    training depends on the set of samples, not on the order they came in: that order carries no
    meaning when the samples are shuffled every epoch anyway, and sample_weight=k is then exactly k
    copies of a sample wherever the copies stood. Rows equal in inputs and target are ordered by their
    weight (so uniform weights keep the unweighted order); rows equal in all three are interchangeable."""
    with np.errstate(over="ignore"):
        keys = _row_keys(X, T)
    order = np.argsort(keys, kind="stable") if weights is None else np.lexsort((weights, keys))
    if np.all(order[1:] > order[:-1]):
        return X, T, weights
    return X[order], T[order], None if weights is None else weights[order]


@functools.lru_cache(maxsize=64)
def _base_seed(random_state: int) -> int:
    """``check_random_state(random_state).randint(2**31 - 1)`` for an int ``random_state``: the
    estimators' base seed, remembered (a RandomState is slow to seed for every partial_fit)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _check_number(value, name, *, low=None, high=None, low_open=False, high_open=False, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind) or not np.isfinite(value):
        raise (TypeError if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) else ValueError)(
            f"{name} must be {'an int' if integer else 'a finite number'}, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return value


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _as_dtype(X, dtype):
    """``X`` in ``dtype``: C-contiguous, or a sparse ``X`` as fastnn's canonical CSR (never densified)."""
    return _sparse.check_sparse_inputs(X, X.shape[1], dtype) if sp.issparse(X) else np.ascontiguousarray(X, dtype=dtype)


class _BaseMLP(BaseEstimator):
    """Hyperparameters, validation and the training loop shared by the estimators."""

    _output: str  # set by the subclasses: the output activation's and the loss's names
    _loss: str

    def __init__(self, hidden_layer_sizes: Union[int, Sequence[int]] = (100,), activation: str = "relu", *,
                 solver: str = "sgd", alpha: Union[float, str] = 0.0, batch_size: Union[int, str, None] = 1,
                 learning_rate: Union[str, Callable[[int], float]] = "constant", learning_rate_init: float = 0.01,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True, random_state: _Seed = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 dropout: Union[float, Sequence[float]] = 0.0, augment: Optional[Distortion] = None, n_threads: int = 1,
                 dtype: DTypeLike = "float32", init: str = "he", input_scaling: str = "auto") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.augment = augment
        self.n_threads = n_threads
        self.dtype = dtype
        self.init = init
        self.input_scaling = input_scaling

    # -- hyperparameters ---------------------------------------------------------------------

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}") from None
        for s in sizes:
            _check_number(s, "hidden_layer_sizes entries", low=1, integer=True)
        return [int(s) for s in sizes]

    def _check_hyperparameters(self):
        """Validate every hyperparameter (before any work) and return fastnn.train's options."""
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in SOLVERS:
            hint = " (lbfgs is not offered: fastnn trains by gradient descent)" if self.solver == "lbfgs" else ""
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}{hint}")
        if not (callable(self.learning_rate) or self.learning_rate in LEARNING_RATES):
            raise ValueError(f"learning_rate must be one of {LEARNING_RATES} or a function of the epoch, "
                             f"got {self.learning_rate!r}")
        _check_number(self.learning_rate_init, "learning_rate_init", low=0, low_open=True)
        _check_number(self.power_t, "power_t", low=0)
        if not (isinstance(self.alpha, str) and self.alpha == "auto"):
            _check_number(self.alpha, "alpha", low=0)
        _check_number(self.max_iter, "max_iter", low=1, integer=True)
        _check_number(self.tol, "tol", low=0)
        _check_number(self.n_iter_no_change, "n_iter_no_change", low=1, integer=True)
        _check_number(self.validation_fraction, "validation_fraction", low=0, high=1, low_open=True, high_open=True)
        _check_number(self.momentum, "momentum", low=0, high=1, high_open=True)
        _check_number(self.beta_1, "beta_1", low=0, high=1, high_open=True)
        _check_number(self.beta_2, "beta_2", low=0, high=1, high_open=True)
        _check_number(self.epsilon, "epsilon", low=0, low_open=True)
        _check_number(self.n_threads, "n_threads", low=1, integer=True)
        for name in ("shuffle", "verbose", "warm_start", "early_stopping"):
            _check_flag(getattr(self, name), name)
        if self.batch_size is not None and self.batch_size != "auto":
            _check_number(self.batch_size, "batch_size", low=1, integer=True)
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}, got {self.input_scaling!r}")
        if self.input_scaling not in ("auto", "none") and (self.augment is not None or self._test_views()):
            raise ValueError(f"input_scaling={self.input_scaling!r} cannot be combined with augment or test_shifts, "
                             f"which move the pixels of images in [0, 1]: use input_scaling='auto' (which leaves "
                             f"such images as they are) or 'none'")
        if self.dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        hyper = {"momentum": {"beta": self.momentum}, "nesterov": {"beta": self.momentum},
                 "adam": {"b1": self.beta_1, "b2": self.beta_2, "eps": self.epsilon},
                 "rmsprop": {"eps": self.epsilon}, "adagrad": {"eps": self.epsilon}}.get(self.solver)
        return {"optimizer": (self.solver, hyper) if hyper else self.solver, "shuffle": bool(self.shuffle),
                "activation": ACTIVATIONS[self.activation], "output_activation": self._output, "loss": self._loss,
                "dropout": self.dropout, "augment": self.augment,
                "n_threads": int(self.n_threads), "verbose": bool(self.verbose)}

    def _lr(self, first_epoch):
        """The learning rate as a function of the 0-based epoch of a train() call starting at ``first_epoch``."""
        lr0, kind, last = float(self.learning_rate_init), self.learning_rate, int(self.max_iter) - 1
        if callable(kind):
            return lambda e: kind(first_epoch + e)
        if kind == "constant":
            return lr0
        if kind == "invscaling":
            return lambda e: lr0 / (first_epoch + e + 1.0) ** self.power_t
        schedule = cosine(lr0, total=int(self.max_iter))
        return lambda e: schedule(min(first_epoch + e, last))

    def _batch(self, n):
        return min(200, n) if self.batch_size == "auto" else self.batch_size

    def _seeds(self, k, purpose):
        """``k`` seeds for one purpose (0: init, 1: training, 2: validation split) of this call, from
        ``random_state`` and the epochs run so far."""
        state = self.random_state
        if isinstance(state, numbers.Integral) and not isinstance(state, (bool, np.bool_)):
            base = _base_seed(int(state))  # the same draw, without a fresh RandomState per call
        else:
            base = int(check_random_state(state).randint(np.iinfo(np.int32).max))
        sequence = np.random.SeedSequence([base, getattr(self, "n_iter_", 0), purpose])
        return [int(s) for s in sequence.generate_state(k)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse X is taken as CSR, never densified
        return tags

    # -- data --------------------------------------------------------------------------------

    def _dt(self):
        return np.dtype(self.dtype)

    def _validate_X(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32], accept_sparse=("csr", "csc", "coo"))
        return _as_dtype(X, self._dt())

    def _validate_Xy(self, X, y, reset):
        if (not reset and type(X) is np.ndarray and type(y) is np.ndarray and X.ndim == 2 and y.ndim == 1
                and X.dtype in (np.float32, np.float64) and y.dtype.kind in "iu" and 0 < X.shape[0] == y.shape[0]
                and X.shape[1] == self.n_features_in_ and not hasattr(self, "feature_names_in_")
                and np.isfinite(X).all()):
            # what validate_data would check and return for these (a fitted estimator's next chunk of
            # plain float rows and integer labels), at a fraction of its fixed cost (bench/overhead.py,
            # estimator_chunks); any other input, or a failing check, takes validate_data for its errors
            return _as_dtype(X, self._dt()), y
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], multi_output=True,
                             accept_sparse=("csr", "csc", "coo"),
                             y_numeric=self._loss == "mse")
        return _as_dtype(X, self._dt()), y

    # -- training ----------------------------------------------------------------------------

    def _n_members(self):
        return 1

    def _fit(self, X, y, *, incremental, classes=None, sample_weight=None):
        options = self._check_hyperparameters()
        fresh = not hasattr(self, "n_iter_") or (not incremental and not self.warm_start)
        X, y = self._prepare(X, y, fresh=fresh, classes=classes)
        weights = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
        if self._test_views():  # images that the test-time shifts can move, checked before training
            check_images(X, self.image_shape, "X")
        given = X
        X, y, weights = _visits(X, y, weights)
        if self.shuffle and not incremental:  # fit: a function of the set of samples (partial_fit: kept cheap)
            X, y, weights = _canonical_order(X, y, weights)
        if fresh:
            for name in ("n_iter_", "t_", "loss_curve_", "validation_scores_", "best_loss_",
                         "best_validation_score_"):
                self.__dict__.pop(name, None)
            self._set_scaling(X, y)
            sizes = [X.shape[1], *self._hidden_sizes(), self.n_outputs_]
            members = _committee.init_committee(sizes, seeds=self._seeds(self._n_members(), 0), init=self.init,
                                                dtype=self._dt().name)
        else:
            # the estimator's own network is trained in place (train_in_place): its first layer is moved
            # to the scaled inputs in place just before, and back whatever happens (below)
            members = self._fitted_members() if self._folds_in_place() else self._get_members()
        X, T = self._scaled_inputs(X, owned=X is not given), self._targets(y)
        epochs = 1 if incremental else int(self.max_iter)
        Xv = Tv = None
        if self._early_stopping() and not incremental:
            strat = T if self._output == "softmax" and np.min(np.bincount(T)) >= 2 else None
            split_seed = self._seeds(1, 2)[0]
            parts = (X, T) if weights is None else (X, T, weights)
            try:
                parts = train_test_split(*parts, test_size=self.validation_fraction, random_state=split_seed,
                                         stratify=strat)
            except ValueError as e:
                raise ValueError(f"early_stopping: cannot hold out validation_fraction={self.validation_fraction} "
                                 f"of {X.shape[0]} samples: {e}") from None
            X, Xv, T, Tv = parts[:4]
            weights = None if weights is None else parts[4]
        first = getattr(self, "n_iter_", 0)
        lr = self._lr(first)
        try:
            with warnings.catch_warnings():  # the estimator words these in its own parameters (below)
                warnings.simplefilter("ignore", CollapseWarning)
                warnings.simplefilter("ignore", InputScaleWarning)
                shared = dict(epochs=epochs, lr=lr, batch_size=self._batch(X.shape[0]),
                              validation_data=None if Xv is None else (Xv, Tv), early_stopping=Xv is not None,
                              patience=int(self.n_iter_no_change), min_delta=float(self.tol), sample_weight=weights,
                              l2=self._l2(X.shape[0] + (getattr(self, "t_", 0) if incremental else 0)), **options)
                seeds = self._seeds(len(members), 1)
                if self._trains_own_network():
                    # the estimator's own network, trained in place (as scikit-learn's MLPs update coefs_):
                    # no copy or scan of a large first layer per call (see train_in_place)
                    moved = not fresh and self._folds_in_place()
                    if moved:
                        self._fold(members[0], -1, in_place=True)
                    try:
                        trained, history = train_in_place(members[0], X, T, seed=seeds[0],
                                                          callback=self._member_callback(Xv, Tv, epochs), **shared)
                    except BaseException:
                        if moved:  # params_ take raw X again, where training stopped
                            self._fold(members[0], +1, in_place=True)
                        raise
                    trained, histories = [trained], [history]
                else:
                    trained, histories = _committee.train_committee(
                        members, X, T, seeds=seeds, n_jobs=self._jobs(), client=self._client(),
                        member_options=[{"callback": self._member_callback(Xv, Tv, epochs)} for _ in members],
                        **shared)
        except DivergenceError as e:
            raise self._divergence(e) from None
        self._set_members(trained)
        self._record(histories, X.shape[0], warn=not incremental and Xv is None and epochs > 1)
        self._check_collapse(histories, X)
        return self

    def _l2(self, n_samples):
        """The weight decay per update: ``alpha``, or for ``'auto'`` ``AUTO_DECAY / n_samples`` (fit: its
        training rows; partial_fit: the samples processed so far, this chunk's included, so that a
        stream of chunks is not shrunk once per chunk as a whole data set would be)."""
        return AUTO_DECAY / n_samples if isinstance(self.alpha, str) else float(self.alpha)

    def _early_stopping(self):
        return bool(self.early_stopping)

    def _divergence(self, error):
        """The DivergenceError of ``train``, its advice in the estimator's own parameter."""
        lr = float(self.learning_rate_init)
        advice = min(lr / 10, 0.001)
        error.args = (f"{type(self).__name__} diverged in epoch {error.epoch + 1} with learning rate {error.lr:g} "
                      f"(learning_rate_init={lr:g}): {error.reason}. Use a smaller learning_rate_init, e.g. "
                      f"learning_rate_init={advice:g}",)
        return error

    def _check_collapse(self, histories, X):
        """Warn (FitCollapsedWarning) when a trained network outputs the same for every input (as train found:
        its history's ``collapse``, which travels back from Dask workers too)."""
        for i, history in enumerate(histories):
            problem = history.get("collapse")
            if problem is None:
                continue
            who = f"member {i} of the committee" if len(histories) > 1 else "the network"
            scale = input_scale_problem(X, float(self.learning_rate_init), self.solver)
            if scale is not None and scale.startswith("features"):
                cause = f"{scale}; use input_scaling='auto' (the default), or standardise X"
            else:
                cause = (f"try a smaller learning_rate_init than {self.learning_rate_init:g} (e.g. "
                         f"{float(self.learning_rate_init) / 10:g})")
            warnings.warn(f"training collapsed: in {who}, {problem}; {cause}", FitCollapsedWarning, stacklevel=4)
            return

    # -- input and target scaling: fixed by the first fit, folded into params_

    def _set_scaling(self, X, y):
        kind = "none" if self.augment is not None or self._test_views() else self.input_scaling
        self.x_mean_, self.x_scale_ = _input_scaling(X, kind)

    def _scaled_inputs(self, X, owned=False):
        """``(X - x_mean_) / x_scale_`` in the estimator's dtype (sparse input stays sparse), computed as
        ``X * (1 / s) - m / s`` in X's dtype, in place when ``owned`` (X is fit's own copy)."""
        if sp.issparse(X):
            if np.all(self.x_scale_ == 1.0):  # X is canonical CSR of the dtype already (_as_dtype)
                return X
            # each stored value times its column's factor, in float64 as scipy's multiply computes it: X's
            # structure is kept (read, never written), not rebuilt by a sparse product
            data = (X.data.astype(np.float64) * (1.0 / self.x_scale_)[X.indices]).astype(self._dt())
            if data.all():
                return sp.csr_matrix((data, X.indices, X.indptr), shape=X.shape)
            scaled = sp.csr_matrix((data, X.indices.copy(), X.indptr.copy()), shape=X.shape)
            scaled.eliminate_zeros()  # values a factor flushed to zero are not stored (canonical CSR)
            return scaled
        if not self.x_mean_.any() and np.all(self.x_scale_ == 1.0):
            return X
        out = X if owned and X.dtype == self._dt() and X.flags.c_contiguous else np.empty(X.shape, self._dt())
        np.multiply(X, (1.0 / self.x_scale_).astype(self._dt()), out=out)
        if self.x_mean_.any():
            out -= (self.x_mean_ / self.x_scale_).astype(self._dt())
        return out

    def _targets(self, y):
        return y

    def _fold(self, params, sign, in_place=False):
        """params that take raw X (sign +1) from params that take scaled X, or back (-1): a new dict, or
        with ``in_place`` the same arrays, rewritten."""
        return _fold_inputs(params, getattr(self, "x_mean_", None), self.x_scale_, sign, in_place) if hasattr(
            self, "x_scale_") else (params if in_place else dict(params))

    def _get_members(self, in_place=False):
        return [self._fold(p, -1, in_place) for p in self._fitted_members()]

    def _set_members(self, members):
        self._store_members([self._fold(p, +1, self._folds_in_place()) for p in members])

    def _trains_own_network(self):
        """Whether ``fit`` trains the estimator's one network in place here (no committee, no Dask)."""
        return self._n_members() == 1 and self._client() is None

    def _folds_in_place(self):
        """Whether the network trained in place also has its first layer moved between raw and scaled
        inputs in place (no copy of it per call)."""
        return self._trains_own_network()

    def _jobs(self):
        return 1

    def _client(self):
        return None

    def _member_callback(self, Xv, Tv, epochs):
        """A train() callback: with validation data it adds the epoch's validation score to the history
        (``history["val_score"]``, so it travels back from a Dask worker too); without, it stops training on a
        training-loss plateau (scikit-learn's ``tol`` rule)."""
        state = {"best": np.inf if getattr(self, "best_loss_", None) is None else self.best_loss_, "bad": 0}
        tol, patience = self.tol, self.n_iter_no_change

        def callback(epoch, params, history):
            if Xv is not None:
                history.setdefault("val_score", []).append(self._val_score(params, Xv, Tv))
                return True
            loss = history["loss"][-1]
            state["bad"] = state["bad"] + 1 if loss > state["best"] - tol else 0
            state["best"] = min(state["best"], loss)
            return state["bad"] < patience or epochs == 1

        return callback

    def _record(self, histories, n_samples, warn):
        ran = min(len(h["loss"]) for h in histories)
        losses = np.mean([h["loss"][:ran] for h in histories], axis=0).tolist()
        self.loss_curve_ = getattr(self, "loss_curve_", []) + losses
        self.n_iter_ = getattr(self, "n_iter_", 0) + max(len(h["loss"]) for h in histories)
        self.t_ = getattr(self, "t_", 0) + n_samples * max(len(h["loss"]) for h in histories)
        if "val_score" in histories[0]:
            ran = min(len(h["val_score"]) for h in histories)
            self.validation_scores_ = np.mean([h["val_score"][:ran] for h in histories], axis=0).tolist()
            self.best_validation_score_ = float(max(self.validation_scores_))
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = float(min(self.loss_curve_))
        if warn and max(len(h["loss"]) for h in histories) == self.max_iter:  # the tol rule never stopped it
            warnings.warn(f"Maximum iterations ({self.max_iter}) reached and the optimization hasn't converged yet.",
                          ConvergenceWarning, stacklevel=4)

    # -- the fitted network -------------------------------------------------------------------

    def _fitted_members(self):
        return [self.params_]

    def _store_members(self, members):
        self.params_ = members[0]

    def _raw_output(self, X):
        """The network's (a committee's: the mean) output for validated X, in float64.

        Computed in float64 from the (exactly widened) params: a float32 matrix product's rounding
        depends on the rows computed with it (measured: 2e-7 in a probability), float64's stays far
        below what float32 params resolve, so a row's prediction does not depend on the batch it is in.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        members = self._fitted_members()
        if sp.issparse(X):  # only the rows of W1 that X's columns meet are widened (text: a fraction of 2^18)
            X = sp.csr_matrix(X)
            cols, inverse = np.unique(X.indices, return_inverse=True)
            if 2 * cols.size < X.shape[1]:
                X = sp.csr_matrix((X.data, inverse.reshape(-1), X.indptr), shape=(X.shape[0], cols.size))
                members = [{**p, "W1": p["W1"][cols]} for p in members]
        members = [{k: v.astype(np.float64) for k, v in p.items()} for p in members]
        X = X.astype(np.float64)
        views = self._test_views()
        with quiet_blas(int(self.n_threads)):  # no BLAS threads left spinning into the next partial_fit
            if len(members) == 1 and not views:
                out = _predict_proba(members[0], X, activation=ACTIVATIONS[self.activation],
                                     output_activation=self._output)
            else:
                out = _committee.committee_predict_proba(members, X, activation=ACTIVATIONS[self.activation],
                                                         output_activation=self._output, **views)
        return np.asarray(out, dtype=np.float64)

    def _test_views(self):
        """Keyword arguments of committee_predict_proba for test-time views (none for one network)."""
        return {}

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices ``[W1, W2, ...]`` of ``params_`` (each (fan_in, fan_out), as in scikit-learn)."""
        return [self.params_[f"W{i}"] for i in range(1, len(self.params_) // 2 + 1)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors ``[b1, b2, ...]`` of ``params_``."""
        return [self.params_[f"b{i}"] for i in range(1, len(self.params_) // 2 + 1)]

    @property
    def n_layers_(self) -> int:
        """Layers including input and output, as in scikit-learn."""
        return len(self._fitted_members()[0]) // 2 + 1

    @property
    def out_activation_(self) -> str:
        """scikit-learn's name of the output activation (``'softmax'``, ``'identity'``, ``'logistic'``)."""
        return _activations.ACTIVATIONS[self._output].sklearn_name


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer-perceptron classifier trained with :func:`fastnn.train` (softmax output, cross-entropy).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Widths of the hidden layers.
    activation : {'relu', 'logistic', 'tanh', 'identity'}, default 'relu'
        Hidden activation (``'sigmoid'`` is accepted for ``'logistic'``).
    solver : {'sgd', 'momentum', 'nesterov', 'adam', 'rmsprop', 'adagrad'}, default 'sgd'
        Only plain ``'sgd'`` with ``batch_size=1`` runs fastnn's sparse per-sample kernel at full speed.
    alpha : float or 'auto', default 0.0 (regressor: 'auto')
        Weight decay per update (equals scikit-learn's L2 penalty at ``batch_size=1``); ``'auto'``:
        ``AUTO_DECAY / n_samples`` (30 / n_samples), the same shrinkage per epoch for any data size
        (``partial_fit``: n_samples processed so far, this chunk's included).
    batch_size : int, 'auto' or None, default 1
        1: per-sample SGD (the compiled path); k: mini-batches; 'auto': ``min(200, n)``; None: full batch.
    learning_rate : {'constant', 'invscaling', 'cosine'} or callable, default 'constant'
        The rate per epoch: constant, ``learning_rate_init / (epoch + 1) ** power_t``, a half cosine
        from ``learning_rate_init`` to 0 over ``max_iter`` epochs, or ``f(epoch)``.
    learning_rate_init : float, default 0.01 (regressor: 0.001)
    power_t : float, default 0.5
    max_iter : int, default 200
        Epochs (``partial_fit`` runs one per call).
    shuffle : bool, default True
    random_state : int, RandomState or None
        Seeds the initial weights, sample order, validation split, dropout and distortions; an
        int gives bit-identical results with ``n_threads=1``.
    tol : float, default 1e-4
        Training stops when the loss (with ``early_stopping``: the validation loss) has not
        improved by ``tol`` for ``n_iter_no_change`` consecutive epochs.
    verbose : bool, default False
        One line per epoch (``fastnn.train(verbose=True)``).
    warm_start : bool, default False
        ``fit`` continues from the fitted params instead of starting afresh.
    momentum : float, default 0.9
        For ``solver='momentum'`` and ``'nesterov'``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` (stratified), stop when its loss stops improving, keep the best epoch.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float
        Adam's constants (``epsilon`` also for rmsprop and adagrad).
    n_iter_no_change : int, default 10
    dropout : float or sequence of float, default 0.0
        Inverted-dropout rate of the hidden units during training.
    augment : fastnn.augment.Distortion or None
        Train every epoch on freshly distorted images (X's rows must be images of
        ``augment.image_shape``).
    n_threads : int, default 1
        Threads for per-sample plain SGD (see :func:`fastnn.train`); the result is
        deterministic for a given ``n_threads`` and ``random_state``. Dense inputs take the
        windowed path on one thread whatever ``n_threads``. With ``n_threads > 1``, predictions
        run BLAS on one thread: the helper threads it leaves spinning after a product would take
        cores from the next ``partial_fit``'s threads.
    dtype : {'float32', 'float64'}, default 'float32'
        The params' and the training data's dtype.
    init : {'he', 'xavier', 'normal', 'uniform'}, default 'he'
        Weight initialisation (:func:`fastnn.init_params`).
    input_scaling : {'auto', 'standard', 'maxabs', 'none'}, default 'auto'
        How ``fit`` scales the inputs before training (fixed by the first fit, folded into
        ``params_``): ``'standard'`` subtracts each column's mean and divides by its standard
        deviation; ``'maxabs'`` divides by its largest absolute value (zeros stay zeros);
        ``'auto'``, for inputs with at most half their entries non-zero (images, bags of words),
        divides the columns whose largest absolute value exceeds 1 by it, then every column by
        the power of two that brings the rows' mean squared norm within a factor 2 of 100 (or
        of the number of columns if smaller; MNIST's pixels in [0, 1] stay as they are, rows of
        unit length are multiplied by 8), since a per-sample step changes a first-layer
        pre-activation by ``learning_rate_init * |x|^2``; it is ``'standard'`` otherwise. It
        leaves images alone with ``augment`` or test-time shifts, which move their pixels.

    Attributes
    ----------
    params_ : dict
        The fastnn params (``W1, b1, ...``) for the functional API; output column ``j`` is ``classes_[j]``.
    classes_ : ndarray
        The class labels (any sortable labels: strings, non-contiguous integers).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (a DataFrame).
    n_outputs_ : int
        Output units (``len(classes_)``).
    loss_curve_ : list of float
        Training loss of every epoch run (mean per-sample loss over the epoch).
    validation_scores_ : list of float or None
        Validation accuracy of every epoch (``early_stopping`` only).
    best_validation_score_, best_loss_ : float or None
    n_iter_ : int
        Epochs run (cumulative over ``partial_fit`` and warm starts).
    t_ : int
        Training samples processed.
    coefs_, intercepts_ : list of ndarray
        The weight matrices and bias vectors of ``params_`` (views of the same arrays).
    x_mean_, x_scale_ : ndarray (n_features,)
        The input scaling fixed by the first fit (training ran on ``(X - x_mean_) / x_scale_``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnn.sklearn import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=5, tol=0, random_state=0)
    >>> import warnings
    >>> with warnings.catch_warnings():             # max_iter stops it on purpose
    ...     warnings.simplefilter("ignore")
    ...     score = clf.fit(X / 16, y).score(X / 16, y)
    >>> score > 0.9
    True
    >>> clf.get_params()["hidden_layer_sizes"]
    (32,)
    """

    _output, _loss = "softmax", "cross_entropy"

    def _prepare(self, X, y, *, fresh, classes):
        X, y = self._validate_Xy(X, y, reset=fresh)
        # integer labels in one column are binary or multiclass targets: type_of_target and
        # check_classification_targets, which would say so, are a large part of a small partial_fit
        # chunk's fixed cost (bench/overhead.py, estimator_chunks); they run on other labels, and
        # on these when most labels are distinct (the latter warns then)
        ints = isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu"
        # so are NumPy strings in one column (a text data set's labels), where both checks sort them
        plain = ints or (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "US")
        if not plain:
            kind = type_of_target(y)
            if kind in ("multilabel-indicator", "multiclass-multioutput"):
                raise ValueError(f"{type(self).__name__} supports single-output targets (binary or multiclass), "
                                 f"got {kind} y of shape {np.shape(y)}; wrap it in "
                                 f"sklearn.multioutput.MultiOutputClassifier for several outputs")
            check_classification_targets(y)
            y = column_or_1d(y, warn=True)
        if fresh:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if classes is not None and not np.isin(y, labels).all():
                raise ValueError(f"y holds labels not in classes={list(labels)}: {sorted(set(np.unique(y)) - set(labels))}")
            if len(labels) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes, got 1 class "
                                 f"({labels[0]!r}); Classifier can't train when only one class is present")
            self.classes_ = labels
            self.n_outputs_ = len(labels)
            index = np.searchsorted(labels, y)
        else:
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ValueError(f"classes={list(classes)} differs from the classes of the first call, "
                                 f"{list(self.classes_)}")
            same_kind = self.classes_.dtype.kind in "iu" if ints else self.classes_.dtype.kind == y.dtype.kind
            if plain and same_kind:  # one search finds each label's class, or none
                index = np.searchsorted(self.classes_, y)
                known = index < len(self.classes_)
                known[known] = self.classes_[index[known]] == y[known]
                unseen = np.unique(y[~known])
            else:
                unseen = np.setdiff1d(np.unique(y), self.classes_)
                index = np.searchsorted(self.classes_, y)
            if len(unseen):
                raise ValueError(f"y holds labels {list(unseen)} not in classes_ {list(self.classes_)}; the classes "
                                 f"are fixed by the first fit (or partial_fit(classes=...))")
        # y's labels are among the classes_: fewer classes than half the rows need no count
        if ints and y.size > 20 and len(self.classes_) > round(0.5 * y.size) and (
                np.unique(y).size > round(0.5 * y.size)):
            check_classification_targets(y)  # scikit-learn's warning that y may be a regression target
        return X, index.astype(np.int64)

    def _val_score(self, params, Xv, Tv):
        out = _predict_proba(params, Xv, activation=ACTIVATIONS[self.activation], output_activation=self._output)
        return float(accuracy_score(Tv, np.argmax(out, axis=1)))

    def fit(self: _Estimator, X: Any, y: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> _Estimator:
        """Train on ``(X, y)`` for up to ``max_iter`` epochs (from the current params with ``warm_start``).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
            Any numeric array-like (ints, lists, float64, a DataFrame); converted to ``dtype``. A
            scipy.sparse matrix (e.g. from a vectorizer) is taken as CSR, never densified.
        y : array-like (n_samples,)
            Class labels of any sortable kind.
        sample_weight : array-like (n_samples,), optional
            Non-negative weight of each sample's loss: an epoch visits a sample of weight ``w``
            ``ceil(w)`` times, each step scaled by ``w / ceil(w)``. Weight 0 leaves the sample out,
            an integer weight ``k`` is exactly ``k`` copies of it.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self: _Estimator, X: Any, y: ArrayLike, classes: Optional[ArrayLike] = None,
                    sample_weight: Optional[ArrayLike] = None) -> _Estimator:
        """One epoch over ``(X, y)``, starting from the current params (or fresh ones on the first call).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,)
        classes : array-like, optional
            Every label the estimator will see; required on the first call, since a chunk
            may lack some classes.
        sample_weight : array-like (n_samples,), optional
            As for :meth:`fit`.

        Returns
        -------
        self
        """
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit (every label the estimator "
                             "will see, since a chunk may lack some)")
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_`` (float64)."""
        return self._raw_output(X)

    def predict_log_proba(self, X: Any) -> NDArray[np.float64]:
        """``log(predict_proba(X))``; ``-inf`` where a probability underflowed to 0."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every row of ``X``, as a label from ``classes_``."""
        proba = self.predict_proba(X)  # checks that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer-perceptron regressor trained with :func:`fastnn.train` (identity output, squared error).

    The parameters are those of :class:`MLPClassifier`. Targets are standardised per output for
    training and the scaling is folded back into the output layer, so ``params_`` predicts ``y``
    with ``fastnn.predict_proba(params_, X, output_activation="identity")``. Multi-output targets
    (n_samples, n_outputs) are supported.

    Attributes
    ----------
    params_ : dict
    n_features_in_, feature_names_in_, n_outputs_, loss_curve_, validation_scores_, n_iter_, t_,
    coefs_, intercepts_ : as for :class:`MLPClassifier` (``validation_scores_`` holds R^2; the loss
    is on the standardised targets)
    y_mean_, y_scale_ : ndarray (n_outputs,)
        The target standardisation fixed by the first fit.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.sklearn import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5])
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=20, learning_rate_init=0.005, tol=0,
    ...                    random_state=0)
    >>> import warnings
    >>> with warnings.catch_warnings():             # max_iter stops it on purpose
    ...     warnings.simplefilter("ignore")
    ...     score = reg.fit(X, y).score(X, y)
    >>> score > 0.9
    True
    """

    _output, _loss = "identity", "mse"

    def __init__(self, hidden_layer_sizes: Union[int, Sequence[int]] = (100,), activation: str = "relu", *,
                 solver: str = "sgd", alpha: Union[float, str] = "auto", batch_size: Union[int, str, None] = 1,
                 learning_rate: Union[str, Callable[[int], float]] = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True, random_state: _Seed = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 dropout: Union[float, Sequence[float]] = 0.0, augment: Optional[Distortion] = None, n_threads: int = 1,
                 dtype: DTypeLike = "float32", init: str = "he", input_scaling: str = "auto") -> None:
        # Its own defaults (alpha, learning_rate_init), measured on small tables: a squared error's
        # per-sample gradient is unbounded, and 0.01 over 100 hidden units of order 1 diverged
        # on load_diabetes for some seeds; without weight decay per-sample SGD overfitted it.
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, dropout=dropout, augment=augment, n_threads=n_threads,
                         dtype=dtype, init=init, input_scaling=input_scaling)

    def _prepare(self, X, y, *, fresh, classes=None):
        X, y = self._validate_Xy(X, y, reset=fresh)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        T = y.reshape(len(y), -1)
        if fresh:
            self._y_2d = y.ndim == 2
            self.n_outputs_ = T.shape[1]
        elif T.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {T.shape[1]} outputs but the estimator was fitted with {self.n_outputs_}")
        return X, T

    def _set_scaling(self, X, y):
        super()._set_scaling(X, y)
        self.y_mean_ = y.mean(axis=0)
        std = y.std(axis=0)
        self.y_scale_ = np.where(std > 1e-12 * np.maximum(np.abs(self.y_mean_), 1.0), std, 1.0)

    def _targets(self, y):
        return np.ascontiguousarray((y - self.y_mean_) / self.y_scale_, dtype=self._dt())

    def _folds_in_place(self):
        return False  # its fold makes new output-layer arrays anyway: train_in_place packs a copy per call

    def _fold(self, params, sign, in_place=False):
        """params that predict raw y from raw X (sign +1) from those that predict the standardised targets
        from the scaled inputs, or back (-1): the target scaling folded into the output layer, the input
        scaling into the first; a new dict (``in_place`` is ignored)."""
        L = len(params) // 2
        W, b = params[f"W{L}"].astype(np.float64), params[f"b{L}"].astype(np.float64)
        s, m = self.y_scale_, self.y_mean_
        if sign < 0:
            params = super()._fold(params, -1)
            W, b = params[f"W{L}"].astype(np.float64), params[f"b{L}"].astype(np.float64)
            return {**params, f"W{L}": (W / s).astype(params[f"W{L}"].dtype),
                    f"b{L}": ((b - m) / s).astype(params[f"b{L}"].dtype)}
        out = {**params, f"W{L}": (W * s).astype(params[f"W{L}"].dtype),
               f"b{L}": (b * s + m).astype(params[f"b{L}"].dtype)}
        return super()._fold(out, +1)

    def _val_score(self, params, Xv, Tv):
        out = _predict_proba(params, Xv, activation=ACTIVATIONS[self.activation], output_activation=self._output)
        return float(r2_score(Tv, out))

    def fit(self: _Estimator, X: Any, y: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> _Estimator:
        """Train on ``(X, y)`` for up to ``max_iter`` epochs (from the current params with ``warm_start``).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like (n_samples,), optional
            As for :meth:`MLPClassifier.fit`.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self: _Estimator, X: Any, y: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> _Estimator:
        """One epoch over ``(X, y)`` from the current params (fresh ones on the first call); returns self."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets: (n_samples,) if ``y`` was 1-D at fit, else (n_samples, n_outputs)."""
        out = self._raw_output(X)
        return out if self._y_2d else out[:, 0]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class MLPCommitteeClassifier(MLPClassifier):
    """A committee of ``n_members`` :class:`MLPClassifier` networks that averages their probabilities.

    The members share every hyperparameter and differ in seed (initial weights, sample order,
    distortions, dropout). They train concurrently with :func:`fastnn.committee.train_committee`:
    on ``n_jobs`` local threads (one member per core; the per-sample kernel releases the GIL), or,
    with ``dask=True``, as one task per member on the Dask cluster of the current
    ``dask.distributed`` client (``Client(...)`` made beforehand). For the same ``random_state``
    both give identical members.

    Parameters
    ----------
    n_members : int, default 5
    n_jobs : int or None, default None
        Members training at once on threads (None: the number of CPUs).
    dask : bool, default False
        Train the members on the current Dask client's workers.
    test_shifts : sequence of (dx, dy) pairs or None, default None
        Test-time shifts of image inputs, in pixels: each member's probabilities are first
        averaged over its input moved by every shift (see
        :func:`fastnn.committee.committee_predict_proba`), e.g. ``[(0, 0), (0.5, 0), (-0.5, 0),
        (0, 0.5), (0, -0.5)]``. Needs rows of ``image_shape`` pixels in [0, 1].
    image_shape : (height, width), default (28, 28)
        The images' shape, with ``test_shifts``.
    **kwargs
        The hyperparameters of :class:`MLPClassifier`.

    Attributes
    ----------
    members_ : list of dict
        The members' fastnn params (use them with :func:`fastnn.committee.committee_predict_proba`).
    loss_curve_, validation_scores_ : list of float
        The members' mean per epoch (over the epochs every member ran).
    n_iter_ : int
        The most epochs any member ran.
    classes_, n_features_in_, feature_names_in_, n_outputs_, t_ : as for :class:`MLPClassifier`

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnn.sklearn import MLPCommitteeClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> com = MLPCommitteeClassifier(n_members=2, hidden_layer_sizes=(32,), max_iter=3, tol=0, random_state=0)
    >>> import warnings
    >>> with warnings.catch_warnings():             # max_iter stops it on purpose
    ...     warnings.simplefilter("ignore")
    ...     com = com.fit(X / 16, y)
    >>> len(com.members_), com.predict_proba(X[:2] / 16).shape
    (2, (2, 10))
    """

    def __init__(self, hidden_layer_sizes: Union[int, Sequence[int]] = (100,), activation: str = "relu", *,
                 n_members: int = 5, n_jobs: Optional[int] = None, dask: bool = False,
                 test_shifts: Optional[Sequence[tuple[float, float]]] = None, image_shape: Sequence[int] = (28, 28),
                 solver: str = "sgd", alpha: Union[float, str] = 0.0, batch_size: Union[int, str, None] = 1,
                 learning_rate: Union[str, Callable[[int], float]] = "constant", learning_rate_init: float = 0.01,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True, random_state: _Seed = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 dropout: Union[float, Sequence[float]] = 0.0, augment: Optional[Distortion] = None, n_threads: int = 1,
                 dtype: DTypeLike = "float32", init: str = "he", input_scaling: str = "auto") -> None:
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, dropout=dropout, augment=augment, n_threads=n_threads,
                         dtype=dtype, init=init, input_scaling=input_scaling)
        self.n_members = n_members
        self.n_jobs = n_jobs
        self.dask = dask
        self.test_shifts = test_shifts
        self.image_shape = image_shape

    def _check_hyperparameters(self):
        _check_number(self.n_members, "n_members", low=1, integer=True)
        if self.n_jobs is not None:
            _check_number(self.n_jobs, "n_jobs", low=1, integer=True)
        _check_flag(self.dask, "dask")
        _committee.check_shifts(self.test_shifts)
        check_image_shape(self.image_shape)
        return super()._check_hyperparameters()

    def _test_views(self):
        if self.test_shifts is None:
            return {}
        return {"shifts": self.test_shifts, "image_shape": self.image_shape}

    def _n_members(self):
        return int(self.n_members)

    def _jobs(self):
        return self.n_jobs

    def _client(self):
        if not self.dask:
            return None
        from distributed import get_client

        try:
            return get_client()
        except ValueError:
            raise ValueError("dask=True needs a running dask.distributed Client (e.g. Client('tcp://scheduler:8786') "
                             "or Client(LocalCluster())) created before fit") from None

    def _fitted_members(self):
        return list(self.members_)

    def _store_members(self, members):
        self.members_ = list(members)

    @property
    def coefs_(self) -> list[np.ndarray]:
        raise AttributeError("a committee has one set of weights per member: use members_ (a list of params dicts)")

    intercepts_ = coefs_
