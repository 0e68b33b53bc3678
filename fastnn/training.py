"""``train``: per-sample SGD in compiled calls over chunks of samples, or mini-/full-batch descent.

``train`` checks and prepares everything once (:func:`_prepare`: the inputs, the
optimizer, the learning rates, the kernel options and the compiled path), then
:func:`_run_epochs` hands each epoch to an engine with the protocol of
:mod:`fastnn.engine` (``epoch``, ``close``): :class:`fastnn.per_sample.PerSampleEngine`
(``batch_size=1``) or :class:`fastnn.batch.BatchEngine`, and after each epoch evaluates,
stops early and reports.

The caller's params are copied once into a private flat buffer; the compiled kernels
(``fastnn.kernels``) update that buffer in place. Nothing the caller passed is ever
modified.
"""
import inspect
import numbers
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, Union

import numba
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .activations import HIDDEN, OUTPUTS
from .batch import BatchEngine, named_views
from .deprecation import renamed_keywords
from .diagnostics import check_sample_weight, warn_collapse, warn_input_scale
from .losses import LOSS_FUNCTIONS, LOSSES, check_pairing
from .network import PREDICT_CHUNK, forward_layers
from .optim import OPTIMIZERS, Optimizer, get_optimizer
from .packing import KernelOptions, Packed, pack, packed_of, unpack, unpack_views
from .per_sample import PerSampleEngine, blas_on_one_thread, choose_path, kernel_options
from .progress import epoch_line
from .scan import InputScan, scan_inputs
from .engine import Engine
from .schedules import LearningRate, lr_values
from .sparse import check_sparse_path
from .typing import Array, Params
from .validation import (
    all_finite,
    check_choice,
    check_epoch_schedule,
    check_flag,
    check_inputs,
    check_params,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_targets,
    refuse_non_finite_row,
)

if TYPE_CHECKING:  # for the annotations only: training does not import the augmentation module
    from .augment import Distortion

History = dict[str, Any]
"""What :func:`train` returns beside the params: lists with one entry per epoch, and a few scalars."""

OptimizerSpec = Union[str, tuple[str, Mapping[str, Any]], Optimizer]
"""What ``optimizer=`` takes: a name, ``(name, hyperparameters)`` or an :class:`fastnn.optim.Optimizer`."""

Callback = Callable[[int, dict[str, Array], History], object]
"""``callback(epoch, params, history)``; returning ``False`` stops training."""

DIVERGENCE_FACTOR = 100.0
"""Training is declared diverged when the mean loss over a chunk of samples exceeds this
many times the loss of the initial params (or is not finite)."""

INITIAL_LOSS_ROWS = 128
"""The initial params' loss, the yardstick of divergence, is taken over the first this many
training rows, or one in ``INITIAL_LOSS_SHARE`` of them if that is fewer (but at least that
many): enough for a scale, and little next to a short call's training (a dense forward pass,
where the kernel skips zero inputs: bench/overhead.py, ``train_1k``)."""

INITIAL_LOSS_SHARE = 32


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or weights.

    Attributes
    ----------
    params : dict
        The last good params (those at the start of the failing epoch).
    history : dict
        The completed epochs.
    epoch : int
        The failing epoch (0-based).
    lr : float
        The learning rate of the failing epoch's first step.
    reason : str
        What went wrong, e.g. ``"the weights became non-finite"``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4)).astype(np.float32)        # standardised inputs
    >>> y = 100 * rng.normal(size=(50, 1)).astype(np.float32)  # targets left unscaled
    >>> params = fastnn.init_params([4, 8, 1], seed=0)
    >>> try:                                    # a learning rate far too large for targets of order 100
    ...     fastnn.train(params, X, y, epochs=2, lr=0.3, seed=0, output_activation="identity", loss="mse")
    ... except fastnn.DivergenceError as e:
    ...     print(type(e).__name__, e.epoch, sorted(e.params) == sorted(params))
    DivergenceError 0 True
    """

    def __init__(self, params: dict[str, Array], history: History, epoch: int, lr: float, reason: str) -> None:
        super().__init__(f"training diverged in epoch {epoch + 1} with lr={lr:g}: {reason}; try a smaller learning "
                         f"rate (e.g. lr={lr / 10:g}). The last good params are in the exception's .params")
        self.params, self.history, self.epoch, self.lr, self.reason = params, history, epoch, lr, reason


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train`: ``params`` and ``history`` of the last completed epoch.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> X, y = np.eye(4, dtype=np.float32), np.arange(4)
    >>> def stop(epoch, params, history):
    ...     raise KeyboardInterrupt            # what Ctrl-C does during training
    >>> try:
    ...     fastnn.train(fastnn.init_params([4, 4], seed=0), X, y, epochs=3, seed=0, callback=stop)
    ... except fastnn.TrainingInterrupted as e:
    ...     print(len(e.history["loss"]), sorted(e.params))
    1 ['W1', 'b1']
    """

    def __init__(self, params: dict[str, Array], history: History) -> None:
        super().__init__("training interrupted")
        self.params, self.history = params, history


# -- train -----------------------------------------------------------------------------------


@renamed_keywords(output="output_activation")
def train(params: Params, X: Any, y: ArrayLike, *, epochs: int = 1, lr: Optional[LearningRate] = None,
          optimizer: OptimizerSpec = "sgd", batch_size: Optional[int] = 1, shuffle: bool = True,
          seed: Union[int, np.integer, None] = None, activation: str = "relu", output_activation: str = "softmax",
          loss: str = "cross_entropy", schedule_unit: str = "epoch",
          validation_data: Optional[Sequence[Any]] = None, validation_fraction: Optional[float] = None,
          early_stopping: bool = False, patience: int = 5, min_delta: float = 0.0, l2: float = 0.0,
          dropout: Union[float, Sequence[float]] = 0.0, augment: Optional["Distortion"] = None, n_threads: int = 1,
          verbose: bool = False, callback: Optional[Callback] = None,
          progress: Optional[Callable[[int, int], object]] = None,
          sample_weight: Optional[ArrayLike] = None) -> tuple[dict[str, Array], History]:
    """Train a network by gradient descent and return new params with a history.

    Parameters
    ----------
    params : dict
        Initial params (from :func:`fastnn.init_params`); never modified.
    X : ndarray or scipy.sparse matrix (n_samples, n_features)
        Float inputs; scale images to [0, 1] first (``X.astype(np.float32) / 255``). Sparse
        input is made canonical CSR once and never densified (:mod:`fastnn.sparse`).
    y : ndarray
        Integer labels (n_samples,) or targets (n_samples, n_outputs).
    epochs : int
    lr : float, callable or None
        Learning rate, or a function of the 0-based epoch (``schedule_unit='epoch'``) or
        of the 0-based update count (``'step'``), e.g. a :mod:`fastnn.schedules` schedule.
        None: the optimizer's default (0.01 for sgd, 0.001 for adam).
    optimizer : str, (str, dict) or fastnn.optim.Optimizer
        ``'sgd'`` (default), ``'momentum'``, ``'nesterov'``, ``'adam'``, ``'rmsprop'``,
        ``'adagrad'``, optionally with hyperparameters, e.g. ``('adam', {'b1': 0.8})``. An
        Optimizer object brings its own learning rate (then leave ``lr`` as None); one
        built from your own ``init``/``update`` pair needs a ``batch_size``, which calls
        its ``update``. Only plain SGD keeps the per-sample path's sparse speed: the
        others update every weight at every step (see the README's benchmark for the cost).
    batch_size : int or None
        1: online SGD, compiled calls run the epoch sample by sample (the fast path).
        k > 1: mini-batches of k rows. None: full-batch gradient descent.
    shuffle : bool
        Visit the samples in a fresh random order every epoch.
    seed : int or None
        Seeds the order, the validation split and the dropout masks; the same seed gives
        bit-identical params.
    activation, output_activation, loss : str
        Hidden activation, output activation and loss (see :func:`fastnn.forward`). ``output=``,
        the older name of ``output_activation=``, still works with a ``DeprecationWarning``.
    schedule_unit : {'epoch', 'step'}
        What a callable ``lr`` counts.
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch.
    validation_fraction : float, optional
        Hold out this fraction of ``X`` (a seeded random split) as validation data.
        Defaults to 0.1 when ``early_stopping`` is on and no ``validation_data`` is given.
    early_stopping : bool
        Stop when the validation loss has not improved by more than ``min_delta`` for
        ``patience`` epochs, and return the params of the best epoch.
    l2 : float
        Weight decay: every step does ``W <- (1 - lr*l2) W - lr*grad`` (biases are not
        decayed). With plain SGD it costs no pass over the weights; with other optimizers
        ``l2 * W`` is added to the gradient.
    dropout : float or sequence of float
        Inverted-dropout rate of each hidden layer's units during training.
    augment : fastnn.augment.Distortion, optional
        Train every epoch on a freshly distorted copy of ``X`` (seeded), prepared in a
        background thread while the previous epoch trains. Validation data is not distorted.
    n_threads : int
        Threads for per-sample plain SGD (``batch_size=1``) on sparse inputs. Every sample
        still takes its own step: wide first layers are split between the threads (the
        result differs from one thread's only by rounding), narrow ones trained as per-thread
        copies whose changes are merged every few hundred samples. Deterministic for a given
        seed and ``n_threads``; dense inputs run on one thread, whose matrix products use the
        cores through BLAS, and so do inputs so sparse for their width that the threads'
        passes over the whole first layer would cost more than the training (a bag of words).
        How each works: :mod:`fastnn.per_sample`.
    verbose : bool
        Print one line per epoch.
    callback : callable, optional
        ``callback(epoch, params, history)`` after every epoch; returning ``False`` stops.
    progress : callable, optional
        ``progress(done, total)`` during each epoch, every few thousand samples.
    sample_weight : array-like (n_samples,), optional
        Non-negative weight of each sample's loss. Per-sample SGD scales that sample's step
        by its weight; mini-batches take the weighted mean gradient (``sum w_i g_i / sum w_i``
        over the batch, as scikit-learn's MLPs do). The reported losses stay unweighted.

    Returns
    -------
    params : dict
        The trained params (new arrays); with early stopping, the best epoch's.
    history : dict
        Lists with one entry per epoch: ``epoch``, ``lr`` (the first step's), ``loss`` and
        ``accuracy`` (running means over the epoch's samples, each taken before that
        sample's update), ``val_loss`` and ``val_accuracy`` (when validating), ``seconds``;
        with early stopping also ``best_epoch`` (1-based). ``compile_seconds``: the time
        spent compiling the kernels, or loading them from Numba's cache, before the first
        epoch (seconds; not part of any epoch's ``seconds``). ``wiring``: the activation, output
        activation and loss (keys ``activation``, ``output_activation``, ``loss``), which
        :func:`fastnn.save` records. ``collapse``: None, or the sentence of the
        :class:`fastnn.diagnostics.CollapseWarning` that the call issued (the trained network
        outputs the same for every input).

    Raises
    ------
    DivergenceError
        (a ``FloatingPointError``) when the loss or the weights become non-finite, or
        the loss over a chunk of samples exceeds ``DIVERGENCE_FACTOR`` (100) times the
        initial loss; it carries the last good params (those of the last completed epoch).
    TrainingInterrupted
        (a ``KeyboardInterrupt``) on Ctrl-C; it carries the last completed epoch's params.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 8), dtype=np.float32)
    >>> y = (X[:, 0] > X[:, 1]).astype(np.int64)
    >>> params = fastnn.init_params([8, 16, 2], seed=0)
    >>> trained, history = fastnn.train(params, X, y, epochs=3, lr=0.05, seed=0)
    >>> len(history["loss"]), history["loss"][-1] < history["loss"][0]
    (3, True)
    >>> trained["W1"] is params["W1"]            # the caller's params are never modified
    False
    """
    plan = _prepare(params, X, y, owned=False, epochs=epochs, lr=lr, optimizer=optimizer, batch_size=batch_size,
                    shuffle=shuffle, seed=seed, activation=activation, output=output_activation, loss=loss,
                    schedule_unit=schedule_unit, validation_data=validation_data,
                    validation_fraction=validation_fraction, early_stopping=early_stopping, patience=patience,
                    min_delta=min_delta, l2=l2, dropout=dropout, augment=augment, n_threads=n_threads,
                    verbose=verbose, callback=callback, progress=progress, sample_weight=sample_weight)
    first_lr = _warn_input_scale(plan)
    trained, history = _run_epochs(plan)  # called from here: train reaches the kernel in three frames
    return trained, _warn_collapse(plan, trained, history, first_lr)


@renamed_keywords(output="output_activation")
def train_in_place(params: Params, X: Any, y: ArrayLike, **options: Any) -> tuple[dict[str, Array], History]:
    """:func:`train` for a caller that owns ``params`` and hands them over: they are trained in place.

    What the estimators of :mod:`fastnn.sklearn` call (their ``partial_fit`` updates their
    params in place, as scikit-learn's MLPs update ``coefs_``): on a first layer of 2^18 x 256
    every copy or scan of the params costs a sizeable part of an epoch of per-sample training
    (bench/text.py). Takes the arguments of :func:`train`, and differs from it in this only:

    - when ``params`` are the views into one packed buffer that this function or :func:`train`
      returned, that buffer is trained in place, with no copy; otherwise they are packed once
      (a copy), and the returned params are views into that buffer, so the next call trains
      in place. Either way ``params`` must not be used by anyone else during the call;
    - their structure and dtype are checked, not their finiteness (a non-finite weight that a
      sample reads gives a non-finite loss, and the call stops with a ``DivergenceError``), and
      the weights are not scanned after each epoch either: only what the samples read is checked;
    - no copy of the last completed epoch is kept: a ``DivergenceError`` or
      ``TrainingInterrupted`` carries the params as they were when training stopped (views
      into the buffer), and ``callback`` receives views into the buffer, not copies.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn.training import train_in_place
    >>> X, y = np.eye(4, dtype=np.float32), np.arange(4)
    >>> first, _ = train_in_place(fastnn.init_params([4, 8, 4], seed=0), X, y, epochs=2, lr=0.1, seed=0)
    >>> W1 = first["W1"].copy()
    >>> second, history = train_in_place(first, X, y, epochs=2, lr=0.1, seed=1)
    >>> np.shares_memory(second["W1"], first["W1"]), np.array_equal(first["W1"], W1)   # trained in place
    (True, False)
    """
    unknown = sorted(set(options) - set(_TRAIN_DEFAULTS))
    if unknown:
        raise TypeError(f"train_in_place() got unexpected keyword arguments {unknown}")
    settings = {**_TRAIN_DEFAULTS, **options}
    settings["output"] = settings.pop("output_activation")  # _prepare's name for it
    plan = _prepare(params, X, y, owned=True, **settings)
    first_lr = _warn_input_scale(plan)
    trained, history = _run_epochs(plan)
    return trained, _warn_collapse(plan, trained, history, first_lr)


def _warn_input_scale(plan: "_Plan") -> float:
    """Warn, before the epochs of :func:`train` or :func:`train_in_place`, when the inputs are far
    outside the scale the first step size assumes (fastnn.diagnostics: say so, never rescale
    silently); returns that step size. stacklevel 5: the caller of train, past renamed_keywords."""
    first_lr = float(plan.epoch_lrs(0, 0, 1)[0])
    warn_input_scale(plan.X, first_lr, plan.optimizer.name, largest=plan.largest, stacklevel=5)
    return first_lr


def _warn_collapse(plan: "_Plan", trained: dict[str, Array], history: History, first_lr: float) -> History:
    """``history`` with its ``"collapse"`` entry, warned about when training collapsed (as above)."""
    with blas_on_one_thread(plan.path, plan.n_threads):  # no spinning BLAS threads left for a next call's epochs
        history["collapse"] = warn_collapse(trained, plan.X, first_lr, activation=plan.wiring[0],
                                            output_activation=plan.wiring[1], rule=plan.optimizer.name,
                                            accuracy=(history["accuracy"] or [None])[-1], targets=plan.T,
                                            stacklevel=5)
    return history


_TRAIN_DEFAULTS = {name: p.default for name, p in inspect.signature(train).parameters.items()
                   if p.kind is inspect.Parameter.KEYWORD_ONLY}
"""train's keyword arguments and their defaults, which train_in_place shares."""


class _Plan(NamedTuple):
    """Everything :func:`train` checked and prepared before the first epoch."""

    layers: list[tuple[Array, Array]]  # [(W1, b1), ...], checked
    owned: Optional[Packed]  # train_in_place: the buffer trained in place (None: train, on a copy)
    X: Any  # training inputs, checked, in the params' dtype
    T: np.ndarray  # training targets (one-hot rows for labels)
    validation: Optional[tuple[Any, np.ndarray]]  # (X_val, T_val) or None
    epochs: int
    batch: int  # rows per step: 1 is per-sample
    steps_per_epoch: int
    shuffle: bool
    rng: np.random.Generator  # the sample orders and dropout masks of mini-batches
    wiring: tuple[str, str, str]  # (activation, output, loss)
    optimizer: Optimizer  # with its learning rate as a function of the update count
    epoch_lrs: Callable[[int, int, int], np.ndarray]  # (epoch, first_update, n_updates) -> the rate of every update
    l2: float
    keep: np.ndarray  # keep probability of each layer's units (the last 1)
    kernel_options: Optional[KernelOptions]  # per-sample training only
    path: Optional[str]  # the per-sample engine's compiled path (fastnn.per_sample.PATHS)
    augment: Optional["Distortion"]
    augment_seed: int
    early: Optional[tuple[int, float]]  # (patience, min_delta) when stopping early, else None
    n_threads: int
    verbose: bool
    callback: Optional[Callback]
    progress: Optional[Callable[[int, int], object]]
    weights: Optional[np.ndarray]  # sample_weight of the training rows (float64), or None
    largest: Optional[float]  # the largest magnitude in a dense X (fastnn.scan), or None


def _prepare(params: Params, X: Any, y: ArrayLike, *, owned: bool, epochs: int, lr: Optional[LearningRate],
             optimizer: OptimizerSpec, batch_size: Optional[int], shuffle: bool, seed: Union[int, np.integer, None],
             activation: str, output: str, loss: str, schedule_unit: str,
             validation_data: Optional[Sequence[Any]], validation_fraction: Optional[float],
             early_stopping: bool, patience: int, min_delta: float, l2: float, dropout: Union[float, Sequence[float]],
             augment: Optional["Distortion"], n_threads: int, verbose: bool, callback: Optional[Callback],
             progress: Optional[Callable[[int, int], object]], sample_weight: Optional[ArrayLike]) -> _Plan:
    """Check every argument of :func:`train` and return the :class:`_Plan`; no work before this passes."""
    check_choice(activation, HIDDEN, "activation")
    check_choice(output, OUTPUTS, "output_activation")
    check_choice(loss, LOSSES, "loss")
    check_choice(schedule_unit, ("epoch", "step"), "schedule_unit")
    check_pairing(output, loss)
    layers = check_params(params, finite=not owned)
    dtype = layers[0][0].dtype
    n_features, n_outputs = layers[0][0].shape[0], layers[-1][0].shape[1]
    X, scanned = _check_inputs(X, n_features, dtype)
    T = check_targets(y, X.shape[0], n_outputs, dtype)
    weights = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
    epochs = check_positive_int(epochs, "epochs")
    shuffle = check_flag(shuffle, "shuffle")
    early_stopping = check_flag(early_stopping, "early_stopping")
    verbose = check_flag(verbose, "verbose")
    seed = check_seed(seed)
    if callable(lr) and schedule_unit == "epoch":  # every epoch's rate, before the first runs
        check_epoch_schedule(lr, epochs)
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    if lr is not None and not callable(lr):
        check_positive_float(lr, "lr")
    l2 = check_positive_float(l2, "l2", allow_zero=True)
    keep = _check_dropout(dropout, len(layers) - 1)
    patience = check_positive_int(patience, "patience")
    min_delta = check_positive_float(min_delta, "min_delta", allow_zero=True)
    for name, f in (("callback", callback), ("progress", progress)):
        if f is not None and not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    n_threads = check_positive_int(n_threads, "n_threads")
    if n_threads > 1 and batch_size != 1:
        raise ValueError("n_threads > 1 applies to per-sample SGD; use batch_size=1 or n_threads=1")
    # numba.config sets NUMBA_NUM_THREADS through globals() when it reads the environment: mypy cannot see it
    max_threads: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    if n_threads > max_threads:
        raise ValueError(f"n_threads={n_threads} exceeds the {max_threads} threads Numba may use "
                         "(NUMBA_NUM_THREADS)")
    if augment is not None and not callable(getattr(augment, "apply", None)):
        raise TypeError(f"augment must be a fastnn.augment.Distortion, got {type(augment).__name__}")
    rng = np.random.default_rng(seed)
    drop_seed = int(rng.integers(2**63))
    X_all = X
    X, T, validation, weights = _split_validation(X, T, validation_data, validation_fraction, early_stopping, rng,
                                                  n_features, n_outputs, dtype, weights)
    aug_seed = 0
    if augment is not None:
        if int(np.prod(augment.image_shape)) != n_features:
            raise ValueError(f"augment.image_shape={augment.image_shape} does not match the {n_features} input columns")
        aug_seed = int(rng.integers(2**63))
    n = X.shape[0]
    batch = 1 if batch_size == 1 else (n if batch_size is None else min(batch_size, n))
    check_sparse_path(X, augment)
    steps_per_epoch = -(-n // batch)
    opt = _make_optimizer(optimizer, lr, schedule_unit, steps_per_epoch)
    epoch_lrs = partial(_epoch_lrs, opt, lr, schedule_unit)
    epoch_lrs(0, 0, 1)  # refuse a bad rate before any work
    opts = path = None
    if batch == 1:  # the compiled per-sample paths know the built-in rules only
        opts = kernel_options(activation, output, loss, l2, keep, drop_seed, opt)
        density = scanned.density if scanned is not None and X is X_all else None  # else of the rows kept
        path = choose_path(X, opts.rule, n_threads, [layers[0][0].shape[0]] + [W.shape[1] for W, _ in layers],
                           density)
    net = None
    if owned:  # the caller's buffer when params are its views, else a copy made once
        net = packed_of(layers)
        net = pack(layers) if net is None else net
    return _Plan(layers, net, X, T, validation, epochs, batch, steps_per_epoch, shuffle, rng, (activation, output, loss),
                 opt, epoch_lrs, l2, keep, opts, path, augment, aug_seed,
                 (patience, min_delta) if early_stopping else None, n_threads, verbose, callback, progress,
                 weights, None if scanned is None else scanned.largest)


def _check_inputs(X: Any, n_features: int, dtype: DTypeLike) -> tuple[Any, Optional[InputScan]]:
    """The training inputs checked as :func:`fastnn.validation.check_inputs` checks them, and for a
    dense ``X`` what :mod:`fastnn.scan` found in it (the non-finite values check_inputs
    refuses, the density the compiled path is chosen by, the largest magnitude), or None."""
    X = check_inputs(X, n_features, dtype, finite=False)  # a sparse X's stored values are checked
    if not isinstance(X, np.ndarray):
        return X, None
    scanned = scan_inputs(X)
    refuse_non_finite_row(scanned.first_non_finite)
    return X, scanned


def _check_data(X: Any, y: ArrayLike, n_features: int, n_outputs: int, dtype: DTypeLike,
                name: str = "") -> tuple[Any, np.ndarray]:
    X = check_inputs(X, n_features, dtype, name=f"X{name}")
    T = check_targets(y, X.shape[0], n_outputs, dtype, name=f"y{name}")
    return X, T


def _check_dropout(dropout: Union[float, Sequence[float]], n_hidden: int) -> np.ndarray:
    """Keep probabilities per layer (length n_hidden + 1; the output layer always keeps)."""
    if type(dropout) in (float, int) and dropout == 0:  # the default, which every check below passes
        return np.ones(n_hidden + 1)
    try:
        given = np.asarray(dropout, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"dropout must be a number or a sequence of numbers, got {dropout!r}") from None
    if given.ndim > 1 or not np.all((given >= 0) & (given < 1)):
        raise ValueError(f"dropout rates must lie in [0, 1), got {dropout}")
    if given.ndim == 1 and given.size != n_hidden:
        raise ValueError(f"dropout has {given.size} rates but the network has {n_hidden} hidden layers")
    if n_hidden == 0 and np.any(given > 0):
        raise ValueError("dropout applies to hidden layers, and this network has none")
    rates = np.broadcast_to(given, (n_hidden,))
    return np.concatenate([1.0 - rates, [1.0]])


def _split_validation(X: Any, T: np.ndarray, validation_data: Optional[Sequence[Any]],
                      validation_fraction: Optional[float], early_stopping: bool, rng: np.random.Generator,
                      n_features: int, n_outputs: int, dtype: DTypeLike, weights: Optional[np.ndarray] = None
                      ) -> tuple[Any, np.ndarray, Optional[tuple[Any, np.ndarray]], Optional[np.ndarray]]:
    """``(X, T, (X_val, T_val) or None, weights)``: the given validation data, or a seeded split of ``X``
    (and of the sample weights, when given)."""
    if validation_data is not None:
        if validation_fraction is not None:
            raise ValueError("give validation_data or validation_fraction, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        X_val, y_val = validation_data
        return X, T, _check_data(X_val, y_val, n_features, n_outputs, dtype, name="_val"), weights
    if validation_fraction is None and not early_stopping:
        return X, T, None, weights
    fraction = 0.1 if validation_fraction is None else validation_fraction
    if not isinstance(fraction, float) or not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must be a float in (0, 1), got {fraction!r}")
    n = X.shape[0]
    n_val = int(round(fraction * n))
    if n_val < 1 or n_val >= n:
        raise ValueError(f"validation_fraction={fraction} leaves {n_val} of {n} samples for validation")
    split = rng.permutation(n)
    kept = None if weights is None else weights[split[n_val:]]
    return X[split[n_val:]], T[split[n_val:]], (X[split[:n_val]], T[split[:n_val]]), kept


def _make_optimizer(optimizer: OptimizerSpec, lr: Optional[LearningRate],
                    schedule_unit: str, steps_per_epoch: int) -> Optimizer:
    """The optimizer with its learning rate as a function of the update count."""
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError("give the learning rate either to the Optimizer or as lr=, not both")
        return optimizer
    if lr is None:
        return get_optimizer(optimizer)
    by_update: LearningRate
    if callable(lr):
        if schedule_unit == "epoch":
            by_update = lambda t: lr(np.asarray(t) // steps_per_epoch)  # noqa: E731
        else:
            by_update = lr
    else:
        check_positive_float(lr, "lr")
        if isinstance(optimizer, str):  # a name and a number: built once for each pair
            return _named_optimizer(optimizer, lr)
        by_update = lr
    if isinstance(optimizer, str):  # only the name to check: built once
        return get_optimizer(optimizer, lr=by_update)
    opt = get_optimizer(optimizer)  # checks the hyperparameters a (name, dict) spec gives, its lr too
    return OPTIMIZERS[opt.name](lr=by_update, **opt.hyperparams)


@lru_cache(maxsize=64)
def _named_optimizer(name: str, lr: float) -> Optimizer:
    """``get_optimizer(name, lr=lr)``, built once for each name and constant rate: an Optimizer holds
    no state (its update takes and returns it), and building one was a sizeable part of a short
    call's fixed cost. A name it does not know raises, and nothing is kept."""
    return get_optimizer(name, lr=lr)


def _epoch_lrs(opt: Optimizer, lr: Optional[LearningRate], schedule_unit: str, epoch: int, first_update: int,
               n_updates: int) -> np.ndarray:
    """Learning rate of every update of one epoch (checked finite and > 0)."""
    if isinstance(lr, numbers.Real):  # a number, checked by _prepare: the values of the constant schedule
        return np.full(n_updates, float(lr))
    if callable(lr) and schedule_unit == "epoch":  # one call, not one per sample
        value = float(lr(epoch))
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"the learning rate for epoch {epoch} is {value}; it must be a finite number > 0")
        return np.full(n_updates, value)
    return np.asarray(lr_values(opt.lr, np.arange(first_update, first_update + n_updates)), dtype=np.float64)


# -- the epochs ------------------------------------------------------------------------------


def _run_epochs(plan: _Plan) -> tuple[dict[str, Array], History]:
    """Run the epochs of ``plan`` on an engine; evaluate, stop early and report after each."""
    net = pack(plan.layers) if plan.owned is None else plan.owned
    theta = net.theta
    # the params at the end of the last completed epoch: train_in_place keeps no copy, train none until
    # an epoch is followed by another (None: the caller's, which train never modifies)
    good = None if plan.owned is None else theta
    history: History = {"epoch": [], "lr": [], "loss": [], "accuracy": [], "seconds": []}
    history["wiring"] = dict(zip(("activation", "output_activation", "loss"), plan.wiring))  # save() records it
    if plan.validation is not None:
        history.update(val_loss=[], val_accuracy=[])
    best: Optional[_Best] = None  # the best epoch when stopping early
    updates = 0  # updates done so far, the count a schedule in updates reads
    n = plan.X.shape[0]
    started = time.perf_counter()
    with blas_on_one_thread(plan.path, plan.n_threads):  # BLAS threads left spinning would slow the first epoch
        rows = min(INITIAL_LOSS_ROWS, max(INITIAL_LOSS_SHARE, n // INITIAL_LOSS_SHARE))
        initial_loss, _ = _evaluate(net, plan.X[:rows], plan.T[:rows], plan.wiring, accuracy=False)
    limit = DIVERGENCE_FACTOR * max(initial_loss, 1e-3)
    distorted = _Distortions(plan)
    engine = _engine(plan, net)
    history["compile_seconds"] = time.perf_counter() - started
    completed: tuple[int, Optional[int]] = (0, None)  # the epochs whose params are in `good`, and their best_epoch
    try:
        for epoch in range(plan.epochs):
            X = distorted.epoch(epoch)
            lrs = plan.epoch_lrs(epoch, updates, n if plan.batch == 1 else plan.steps_per_epoch)
            order = plan.rng.permutation(n) if plan.shuffle else np.arange(n)
            if plan.weights is not None and plan.batch == 1:  # each sample's step times its weight
                lrs = lrs * plan.weights[order]
            start = time.perf_counter()
            tally = engine.epoch(X, order, lrs, updates, limit)
            seconds = time.perf_counter() - start
            updates += n if plan.batch == 1 else plan.steps_per_epoch
            # in blocks: no bool temporary of theta's size; train_in_place checks what the samples read only
            if tally.diverged or (plan.owned is None and not all_finite(theta)):
                reason = (f"the loss became non-finite or exceeded {DIVERGENCE_FACTOR:g}x its initial value "
                          f"({initial_loss:.3g}) by sample {tally.done} of {n}" if tally.diverged
                          else "the weights became non-finite")
                raise DivergenceError(_last_good(plan, net, good), history, epoch, float(lrs[0]), reason)
            for key, value in (("epoch", epoch + 1), ("lr", float(lrs[0])), ("loss", float(tally.loss_sum / n)),
                               ("accuracy", float(tally.correct / n)), ("seconds", seconds)):
                history[key].append(value)
            best, stop = _validate(plan, net, epoch, history, best)
            best_epoch = history.get("best_epoch")
            # the epoch is complete once validated; no call between good's update and the next line lets
            # Ctrl-C in (one landing after theta.copy() leaves good and completed as they were)
            if good is theta or epoch + 1 == plan.epochs:  # after the last epoch theta stays as it is: no copy
                good = theta
            elif good is None:
                good = theta.copy()
            else:
                good[:] = theta
            completed = (epoch + 1, best_epoch)
            if _report(plan, net, epoch, history) or stop:
                break
    except KeyboardInterrupt:
        raise TrainingInterrupted(_last_good(plan, net, good), _history_of(history, *completed)) from None
    finally:
        distorted.close()
        engine.close()
    # views of the private buffer, not copies: another copy of a large W1 would raise the peak memory
    return named_views(net if best is None else net._replace(theta=best.theta)), history


def _last_good(plan: _Plan, net: Packed, good: Optional[np.ndarray]) -> dict[str, Array]:
    """The params an exception carries: a copy of the last completed epoch's (of the caller's
    params before the first), or for :func:`train_in_place` (which keeps no such copy) views of
    the buffer as it is."""
    if plan.owned is not None:
        return named_views(net)
    return unpack(*pack(plan.layers)) if good is None else unpack(good, net.sizes, net.offsets)


def _engine(plan: _Plan, net: Packed) -> Engine:
    """The engine for the plan's batch size. The per-sample engine compiles (or loads) its
    kernels here, on a scratch copy, so that the first epoch's time is training only."""
    if plan.batch == 1:
        assert plan.kernel_options is not None and plan.path is not None  # _prepare sets both for batch 1
        engine = PerSampleEngine(net, plan.T, plan.kernel_options, plan.path, plan.n_threads, plan.progress)
        try:
            engine.warm_up(plan.X)
        except BaseException:
            engine.close()
            raise
        return engine
    return BatchEngine(net, plan.T, plan.batch, plan.optimizer, plan.wiring, plan.l2, plan.keep, plan.rng,
                       plan.progress, plan.weights)


class _Best(NamedTuple):
    """The best epoch so far when stopping early."""

    val_loss: float
    epoch: int
    theta: np.ndarray


def _history_of(history: History, epochs: int, best_epoch: Optional[int]) -> History:
    """``history`` cut to its first ``epochs`` epochs: what the params of the last completed epoch
    go with when an interruption lands between an epoch's training and the end of its validation."""
    for value in history.values():
        if isinstance(value, list):
            del value[epochs:]
    if best_epoch is None:
        history.pop("best_epoch", None)
    else:
        history["best_epoch"] = best_epoch
    return history


def _validate(plan: _Plan, net: Packed, epoch: int, history: History,
              best: Optional["_Best"]) -> tuple[Optional["_Best"], bool]:
    """Evaluate and track the best epoch. Returns ``(best, stop)``."""
    stop = False
    if plan.validation is not None:
        with blas_on_one_thread(plan.path, plan.n_threads):  # ... or the next epoch
            val_loss, val_acc = _evaluate(net, *plan.validation, plan.wiring)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_acc)
        if plan.early is not None:
            patience, min_delta = plan.early
            if best is None or val_loss < best.val_loss - min_delta:
                best = _Best(val_loss, epoch, net.theta.copy())
            history["best_epoch"] = best.epoch + 1
            stop = epoch - best.epoch >= patience
    return best, stop


def _report(plan: _Plan, net: Packed, epoch: int, history: History) -> bool:
    """Print the epoch's line and call back; True when the callback asks to stop."""
    if plan.verbose:
        print(epoch_line(history, plan.epochs, plan.X.shape[0]), flush=True)
    if plan.callback is None:
        return False
    return plan.callback(epoch, unpack(*net) if plan.owned is None else named_views(net), history) is False


def _evaluate(net: Packed, X: Any, T: np.ndarray, wiring: tuple[str, str, str],
              accuracy: bool = True) -> tuple[float, Optional[float]]:
    """``(loss, accuracy)`` of the packed params on the checked ``(X, T)``, read through views (no
    copy), in chunks of rows as :func:`fastnn.predict_proba` computes them, but with no check of
    the params: on a large first layer that scan cost more than the evaluation. ``accuracy=False``
    (the initial loss, which needs none): ``(loss, None)``."""
    activation, output, loss = wiring
    layers = unpack_views(*net)
    parts = [forward_layers(layers, X[a : a + PREDICT_CHUNK], activation, output)[-1]
             for a in range(0, max(X.shape[0], 1), PREDICT_CHUNK)]
    out = parts[0] if len(parts) == 1 else np.concatenate(parts)
    acc = float(np.mean(np.argmax(out, axis=1) == np.argmax(T, axis=1))) if accuracy else None
    return LOSS_FUNCTIONS[loss](out, T), acc


class _Distortions:
    """Each epoch's training inputs: ``plan.X``, or a distorted copy made in a background thread."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.pool: Optional[ThreadPoolExecutor] = None
        self.pending: Optional[Future[Any]] = None
        if plan.augment is not None:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="fastnn-augment")
            self.buffers = (np.empty_like(plan.X), np.empty_like(plan.X))
            self.pending = self._submit(0)

    def _submit(self, epoch: int) -> "Future[Any]":
        assert self.pool is not None and self.plan.augment is not None  # only with augment: __init__ made the pool
        return self.pool.submit(self.plan.augment.apply, self.plan.X, (self.plan.augment_seed, epoch),
                                out=self.buffers[epoch % 2])

    def epoch(self, epoch: int) -> Any:
        """This epoch's inputs; starts on the next epoch's."""
        if self.pending is None:
            return self.plan.X
        X = self.pending.result()
        self.pending = self._submit(epoch + 1) if epoch + 1 < self.plan.epochs else None
        return X

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
