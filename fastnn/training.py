"""``train``: per-sample SGD in compiled calls over chunks of samples, or mini-/full-batch descent.

``train`` is a pipeline of four named steps: check and prepare the inputs
(:func:`_prepare`); build the optimizer and the learning rates (:func:`_make_optimizer`);
run the epochs (:func:`_run_epochs`, which hands each epoch to an :class:`OnlineRunner`
or to :func:`_batch_epoch`); and after each epoch evaluate, stop early and report.

The caller's params are copied once into a private flat buffer; the compiled kernels
(``fastnn.kernels.sgd``) update that buffer in place. Nothing the caller passed is
ever modified.
"""
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np

from .activations import HIDDEN, OUTPUTS
from .diagnostics import check_sample_weight, warn_collapse, warn_input_scale
from .kernels import sgd as sgd_kernels
from .losses import LOSS_FUNCTIONS, LOSSES, check_pairing, cross_entropy_from_logits
from .network import _forward_layers, _gradients, predict_proba
from .online import EpochTally, OnlineRunner, use_windows
from .optim import OPTIMIZERS, Optimizer, get_optimizer, kernel_rule
from .packing import KernelOptions, pack, unpack, unpack_views
from .progress import epoch_line
from .schedules import lr_values
from .validation import (
    check_choice,
    check_inputs,
    check_params,
    check_positive_float,
    check_positive_int,
    check_targets,
)

HIDDEN_CODES = {"relu": sgd_kernels.RELU, "sigmoid": sgd_kernels.SIGMOID, "tanh": sgd_kernels.TANH,
                "identity": sgd_kernels.IDENTITY}
OUTPUT_CODES = {"softmax": sgd_kernels.SOFTMAX, "sigmoid": sgd_kernels.SIGMOID, "tanh": sgd_kernels.TANH,
                "identity": sgd_kernels.IDENTITY}
LOSS_CODES = {"cross_entropy": sgd_kernels.CROSS_ENTROPY, "mse": sgd_kernels.MSE}

DIVERGENCE_FACTOR = 100.0
"""Training is declared diverged when the mean loss over a chunk of samples exceeds this
many times the loss of the initial params (or is not finite)."""


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
    """

    def __init__(self, params, history, epoch, lr, reason):
        super().__init__(f"training diverged in epoch {epoch + 1} with lr={lr:g}: {reason}; try a smaller learning "
                         f"rate (e.g. lr={lr / 10:g}). The last good params are in the exception's .params")
        self.params, self.history, self.epoch, self.lr, self.reason = params, history, epoch, lr, reason


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train`: ``params`` and ``history`` of the last completed epoch."""

    def __init__(self, params, history):
        super().__init__("training interrupted")
        self.params, self.history = params, history


# -- train -----------------------------------------------------------------------------------


def train(params, X, y, *, epochs=1, lr=None, optimizer="sgd", batch_size=1, shuffle=True, seed=None,
          activation="relu", output="softmax", loss="cross_entropy", schedule_unit="epoch",
          validation_data=None, validation_fraction=None, early_stopping=False, patience=5, min_delta=0.0,
          l2=0.0, dropout=0.0, augment=None, n_threads=1, verbose=False, callback=None, progress=None,
          sample_weight=None):
    """Train a network by gradient descent and return new params with a history.

    Parameters
    ----------
    params : dict
        Initial params (from :func:`fastnn.init_params`); never modified.
    X : ndarray (n_samples, n_features)
        Float inputs; scale images to [0, 1] first (``X.astype(np.float32) / 255``).
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
    activation, output, loss : str
        Hidden activation, output activation and loss (see :func:`fastnn.forward`).
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
        Threads for per-sample plain SGD (``batch_size=1``). With k > 1 and a first hidden
        layer of at least 256 units (``fastnn.online.SPLIT_FROM``), the threads split that
        layer's units, each updating its units' weights in ``W1`` and ``W2``, and add their
        shares of the second layer's sum at every sample: every sample still takes its own
        full step, and the result differs from one thread's only by rounding. With a
        narrower network each thread trains its own copy of the params on its share of the
        samples; every 256 samples per thread the copies' changes are added to the params,
        which all copies then continue from. The changes are averaged at first and summed
        after the first 60,000 samples, the factor rising linearly in between
        (``fastnn.online.merge_gain``): their sum keeps every sample's full step, but early
        on it overshoots. Either way the result is deterministic for a given seed and
        ``n_threads``. On dense inputs (more than half of the entries non-zero) plain SGD
        takes the windowed path whatever ``n_threads``: one thread, whose matrix products
        use the cores through BLAS, measured faster than several threads on the row loop
        (``fastnn.online.DENSE_ABOVE``).
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
        epoch (seconds; not part of any epoch's ``seconds``). ``collapse``: None, or the sentence of
        the :class:`fastnn.diagnostics.CollapseWarning` that the call issued (the trained network
        outputs the same for every input).

    Raises
    ------
    DivergenceError
        (a ``FloatingPointError``) when the loss or the weights become non-finite, or
        the loss over a chunk of samples exceeds ``DIVERGENCE_FACTOR`` (100) times the
        initial loss; it carries the last good params (those of the last completed epoch).
    TrainingInterrupted
        (a ``KeyboardInterrupt``) on Ctrl-C; it carries the last completed epoch's params.
    """
    plan = _prepare(params, X, y, epochs=epochs, lr=lr, batch_size=batch_size, shuffle=shuffle, seed=seed,
                    activation=activation, output=output, loss=loss, schedule_unit=schedule_unit,
                    validation_data=validation_data, validation_fraction=validation_fraction,
                    early_stopping=early_stopping, patience=patience, min_delta=min_delta, l2=l2, dropout=dropout,
                    augment=augment, n_threads=n_threads, verbose=verbose, callback=callback, progress=progress,
                    sample_weight=sample_weight)
    opt = _make_optimizer(optimizer, lr, schedule_unit, plan.steps_per_epoch)
    if plan.batch == 1:  # the compiled per-sample paths know the built-in rules only
        code, _ = kernel_rule(opt)
        if code != sgd_kernels.SGD and n_threads > 1:
            raise ValueError(f"n_threads > 1 runs plain per-sample SGD; optimizer {opt.name!r} updates every weight "
                             "at every sample: use n_threads=1, or a batch_size")
    first_lr = float(_epoch_lrs(opt, lr, schedule_unit, 0, 0, 1)[0])  # refuse a bad rate before any work
    warn_input_scale(plan.X, first_lr, opt.name)  # fastnn.diagnostics: say so, never rescale silently
    trained, history = _run_epochs(plan, opt,
                                   lambda epoch, first, n: _epoch_lrs(opt, lr, schedule_unit, epoch, first, n))
    history["collapse"] = warn_collapse(trained, plan.X, first_lr, activation=activation, output=output,
                                        rule=opt.name, accuracy=(history["accuracy"] or [None])[-1], targets=plan.T)
    return trained, history


class _Plan(NamedTuple):
    """Everything :func:`train` checked and prepared before the first epoch."""

    layers: list  # [(W1, b1), ...], checked
    X: np.ndarray  # training inputs, checked, in the params' dtype
    T: np.ndarray  # training targets (one-hot rows for labels)
    validation: tuple  # (X_val, T_val) or None
    epochs: int
    batch: int  # rows per step: 1 is per-sample
    steps_per_epoch: int
    shuffle: bool
    rng: np.random.Generator  # the sample orders and dropout masks of mini-batches
    wiring: tuple  # (activation, output, loss)
    kernel_options: KernelOptions  # without the rule, which the optimizer fills in
    augment: object  # a fastnn.augment.Distortion or None
    augment_seed: int
    early: tuple  # (patience, min_delta) when stopping early, else None
    n_threads: int
    verbose: bool
    callback: object
    progress: object
    weights: np.ndarray = None  # sample_weight of the training rows (float64), or None


def _prepare(params, X, y, *, epochs, lr, batch_size, shuffle, seed, activation, output, loss, schedule_unit,
             validation_data, validation_fraction, early_stopping, patience, min_delta, l2, dropout, augment,
             n_threads, verbose, callback, progress, sample_weight=None):
    """Check every argument of :func:`train` and return the :class:`_Plan`; no work before this passes."""
    check_choice(activation, HIDDEN, "activation")
    check_choice(output, OUTPUTS, "output")
    check_choice(loss, LOSSES, "loss")
    check_choice(schedule_unit, ("epoch", "step"), "schedule_unit")
    check_pairing(output, loss)
    layers = check_params(params)
    dtype = layers[0][0].dtype
    n_features, n_outputs = layers[0][0].shape[0], layers[-1][0].shape[1]
    X, T = _check_data(X, y, n_features, n_outputs, dtype)
    weights = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
    epochs = check_positive_int(epochs, "epochs")
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
    if n_threads > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"n_threads={n_threads} exceeds the {numba.config.NUMBA_NUM_THREADS} threads Numba may use "
                         "(NUMBA_NUM_THREADS)")
    if augment is not None and not callable(getattr(augment, "apply", None)):
        raise TypeError(f"augment must be a fastnn.augment.Distortion, got {type(augment).__name__}")
    rng = np.random.default_rng(seed)
    drop_seed = int(rng.integers(2**63))
    X, T, validation, weights = _split_validation(X, T, validation_data, validation_fraction, early_stopping, rng,
                                                  n_features, n_outputs, dtype, weights)
    aug_seed = 0
    if augment is not None:
        if int(np.prod(augment.image_shape)) != n_features:
            raise ValueError(f"augment.image_shape={augment.image_shape} does not match the {n_features} input columns")
        aug_seed = int(rng.integers(2**63))
    n = len(X)
    batch = 1 if batch_size == 1 else (n if batch_size is None else min(batch_size, n))
    opts = KernelOptions(HIDDEN_CODES[activation], OUTPUT_CODES[output], LOSS_CODES[loss], l2, keep, drop_seed,
                         sgd_kernels.SGD, np.zeros(0))
    return _Plan(layers, X, T, validation, epochs, batch, -(-n // batch), shuffle, rng, (activation, output, loss),
                 opts, augment, aug_seed, (patience, min_delta) if early_stopping else None, n_threads, verbose,
                 callback, progress, weights)


def _check_data(X, y, n_features, n_outputs, dtype, name=""):
    X = check_inputs(X, n_features, dtype, name=f"X{name}")
    T = check_targets(y, len(X), n_outputs, dtype, name=f"y{name}")
    return X, T


def _check_dropout(dropout, n_hidden):
    """Keep probabilities per layer (length n_hidden + 1; the output layer always keeps)."""
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


def _split_validation(X, T, validation_data, validation_fraction, early_stopping, rng, n_features, n_outputs, dtype,
                      weights=None):
    """``(X, T, (X_val, T_val) or None, weights)``: the given validation data, or a seeded split of ``X``
    (and of the sample weights, when given)."""
    if validation_data is not None:
        if validation_fraction is not None:
            raise ValueError("give validation_data or validation_fraction, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        return X, T, _check_data(*validation_data, n_features, n_outputs, dtype, name="_val"), weights
    if validation_fraction is None and not early_stopping:
        return X, T, None, weights
    fraction = 0.1 if validation_fraction is None else validation_fraction
    if not isinstance(fraction, float) or not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must be a float in (0, 1), got {fraction!r}")
    n_val = int(round(fraction * len(X)))
    if n_val < 1 or n_val >= len(X):
        raise ValueError(f"validation_fraction={fraction} leaves {n_val} of {len(X)} samples for validation")
    split = rng.permutation(len(X))
    kept = None if weights is None else weights[split[n_val:]]
    return X[split[n_val:]], T[split[n_val:]], (X[split[:n_val]], T[split[:n_val]]), kept


def _make_optimizer(optimizer, lr, schedule_unit, steps_per_epoch):
    """The optimizer with its learning rate as a function of the update count."""
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError("give the learning rate either to the Optimizer or as lr=, not both")
        return optimizer
    opt = get_optimizer(optimizer)
    if lr is None:
        return opt
    if callable(lr):
        if schedule_unit == "epoch":
            by_update = lambda t: lr(np.asarray(t) // steps_per_epoch)  # noqa: E731
        else:
            by_update = lr
    else:
        check_positive_float(lr, "lr")
        by_update = lr
    return OPTIMIZERS[opt.name](lr=by_update, **opt.hyperparams)


def _epoch_lrs(opt, lr, schedule_unit, epoch, first_update, n_updates):
    """Learning rate of every update of one epoch (checked finite and > 0)."""
    if callable(lr) and schedule_unit == "epoch":  # one call, not one per sample
        value = float(lr(epoch))
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"the learning rate for epoch {epoch} is {value}; it must be a finite number > 0")
        return np.full(n_updates, value)
    return np.asarray(lr_values(opt.lr, np.arange(first_update, first_update + n_updates)), dtype=np.float64)


# -- the epochs ------------------------------------------------------------------------------


def _run_epochs(plan, opt, epoch_lrs):
    """Run the epochs of ``plan`` with ``opt``; evaluate, stop early and report after each."""
    theta, sizes, offsets = pack(plan.layers)
    good = theta.copy()  # the params at the end of the last completed epoch
    history = {"epoch": [], "lr": [], "loss": [], "accuracy": [], "seconds": []}
    if plan.validation is not None:
        history.update(val_loss=[], val_accuracy=[])
    best = None  # _Best of the best epoch when stopping early
    updates = 0  # updates done so far, the count a schedule in updates reads
    n = len(plan.X)
    started = time.perf_counter()
    initial_loss, _ = _evaluate(unpack(theta, sizes, offsets), plan.X[:1024], plan.T[:1024], plan.wiring)
    limit = DIVERGENCE_FACTOR * max(initial_loss, 1e-3)
    distorted = _Distortions(plan)
    run_epoch = _epoch_runner(plan, opt, theta, sizes, offsets)
    history["compile_seconds"] = time.perf_counter() - started
    try:
        for epoch in range(plan.epochs):
            X = distorted.epoch(epoch)
            lrs = epoch_lrs(epoch, updates, n if plan.batch == 1 else plan.steps_per_epoch)
            order = plan.rng.permutation(n) if plan.shuffle else np.arange(n)
            if plan.weights is not None and plan.batch == 1:  # each sample's step times its weight
                lrs = lrs * plan.weights[order]
            start = time.perf_counter()
            tally = run_epoch(X, order, lrs, updates, limit)
            seconds = time.perf_counter() - start
            updates += n if plan.batch == 1 else plan.steps_per_epoch
            if tally.diverged or not np.isfinite(theta).all():
                reason = (f"the loss became non-finite or exceeded {DIVERGENCE_FACTOR:g}x its initial value "
                          f"({initial_loss:.3g}) by sample {tally.done} of {n}" if tally.diverged
                          else "the weights became non-finite")
                raise DivergenceError(unpack(good, sizes, offsets), history, epoch, float(lrs[0]), reason)
            good[:] = theta
            for key, value in (("epoch", epoch + 1), ("lr", float(lrs[0])), ("loss", float(tally.loss_sum / n)),
                               ("accuracy", float(tally.correct / n)), ("seconds", seconds)):
                history[key].append(value)
            best, stop = _after_epoch(plan, theta, sizes, offsets, epoch, history, best)
            if stop:
                break
    except KeyboardInterrupt:
        raise TrainingInterrupted(unpack(good, sizes, offsets), history) from None
    finally:
        distorted.close()
        getattr(run_epoch, "close", lambda: None)()
    return unpack(theta if best is None else best.theta, sizes, offsets), history


class _Best(NamedTuple):
    """The best epoch so far when stopping early."""

    val_loss: float
    epoch: int
    theta: np.ndarray


def _after_epoch(plan, theta, sizes, offsets, epoch, history, best):
    """Evaluate, track the best epoch, report and call back. Returns ``(best, stop)``."""
    current = unpack(theta, sizes, offsets) if plan.validation is not None or plan.callback is not None else None
    stop = False
    if plan.validation is not None:
        val_loss, val_acc = _evaluate(current, *plan.validation, plan.wiring)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_acc)
        if plan.early is not None:
            patience, min_delta = plan.early
            if best is None or val_loss < best.val_loss - min_delta:
                best = _Best(val_loss, epoch, theta.copy())
            history["best_epoch"] = best.epoch + 1
            stop = epoch - best.epoch >= patience
    if plan.verbose:
        print(epoch_line(history, plan.epochs, len(plan.X)), flush=True)
    if plan.callback is not None and plan.callback(epoch, current, history) is False:
        stop = True
    return best, stop


def _evaluate(params, X, T, wiring):
    activation, output, loss = wiring
    out = predict_proba(params, X, activation=activation, output=output)
    acc = float(np.mean(np.argmax(out, axis=1) == np.argmax(T, axis=1)))
    return LOSS_FUNCTIONS[loss](out, T), acc


class _Distortions:
    """Each epoch's training inputs: ``plan.X``, or a distorted copy made in a background thread."""

    def __init__(self, plan):
        self.plan, self.pool, self.pending = plan, None, None
        if plan.augment is not None:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="fastnn-augment")
            self.buffers = (np.empty_like(plan.X), np.empty_like(plan.X))
            self.pending = self._submit(0)

    def _submit(self, epoch):
        return self.pool.submit(self.plan.augment.apply, self.plan.X, (self.plan.augment_seed, epoch),
                                out=self.buffers[epoch % 2])

    def epoch(self, epoch):
        """This epoch's inputs; starts on the next epoch's."""
        if self.pending is None:
            return self.plan.X
        X = self.pending.result()
        self.pending = self._submit(epoch + 1) if epoch + 1 < self.plan.epochs else None
        return X

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _epoch_runner(plan, opt, theta, sizes, offsets):
    """``run(X, order, lrs, first_update, limit) -> EpochTally`` for the plan's batch size.

    Per-sample training compiles (or loads) its kernels here, on a scratch copy, so the
    first epoch's time is training only.
    """
    if plan.batch == 1:
        code, constants = kernel_rule(opt)
        opts = plan.kernel_options._replace(rule=code, hyper=constants)
        slots = np.zeros((2, theta.size), theta.dtype) if code != sgd_kernels.SGD else None
        dense = use_windows(plan.X, code)
        OnlineRunner.warm_up(theta, sizes, offsets, opts, slots, plan.n_threads, dense, plan.X, plan.T)
        runner = OnlineRunner(theta, sizes, offsets, opts, slots, plan.n_threads, dense)

        def run(X, order, lrs, first_update, limit):
            return runner.epoch(X, plan.T, order, lrs.astype(theta.dtype), first_update, limit, plan.progress)

        run.close = runner.close
        return run
    state = opt.init(dict(_named_views(theta, sizes, offsets)))

    def run(X, order, lrs, first_update, limit):
        nonlocal state
        tally, state = _batch_epoch(theta, sizes, offsets, X, plan.T, order, plan, opt, state, limit)
        return tally

    return run


def _named_views(theta, sizes, offsets):
    """``{"W1": view, "b1": view, ...}`` into ``theta``."""
    return {k: v for l, (W, b) in enumerate(unpack_views(theta, sizes, offsets), 1)
            for k, v in ((f"W{l}", W), (f"b{l}", b))}


def _batch_epoch(theta, sizes, offsets, X, T, order, plan, opt, state, limit):
    """Mini-batch (or full-batch) descent: BLAS products for the batch, ``opt.update`` for the step.

    Any optimizer's ``(init, update)`` pair works here: the step is a call of its update
    on the params and gradients as dicts. Returns ``(EpochTally, state)``.
    """
    activation, output, loss = plan.wiring
    n, bs = len(order), plan.batch
    views = unpack_views(theta, sizes, offsets)
    params = _named_views(theta, sizes, offsets)
    L = len(views)
    keep, l2 = plan.kernel_options.keep, plan.kernel_options.l2
    dropping = bool(np.any(keep[: L - 1] < 1))
    loss_sum = correct = 0.0
    for start in range(0, n, bs):
        idx = order[start : start + bs] if bs < n else order
        Xb, Tb = X[idx], T[idx]
        rows = None  # sample weights as multipliers of the mean gradient: n_b * w_i / sum(w)
        if plan.weights is not None:
            w = plan.weights[idx]
            if not w.sum() > 0:  # a batch of weight 0 contributes nothing
                continue
            rows = (w * (len(idx) / w.sum())).astype(theta.dtype)
        masks = None
        if dropping:
            masks = [((plan.rng.random((len(idx), W.shape[1])) < keep[l]) / keep[l]).astype(theta.dtype)
                     for l, (W, _) in enumerate(views[:-1])]
        acts = _forward_layers(views, Xb, activation, output, masks)
        if loss == "cross_entropy":  # from the logits, as the kernel does: the clipped loss cannot exceed 87
            inputs = acts[-2] if masks is None or L == 1 else acts[-2] * masks[-1]
            batch_loss = cross_entropy_from_logits(inputs @ views[-1][0] + views[-1][1], Tb)
        else:
            batch_loss = LOSS_FUNCTIONS[loss](acts[-1], Tb)
        if not batch_loss <= limit:  # also catches NaN
            return EpochTally(loss_sum, correct, start, True), state
        loss_sum += batch_loss * len(idx)
        correct += np.sum(np.argmax(acts[-1], axis=1) == np.argmax(Tb, axis=1))
        grads = _gradients(views, acts, Tb, activation, output, loss, masks, rows)
        if l2 > 0:
            for l, (W, _) in enumerate(views, 1):
                grads[f"W{l}"] += l2 * W
        new_params, state = opt.update(params, grads, state)
        for key, view in params.items():
            np.copyto(view, new_params[key])
        if plan.progress is not None:
            plan.progress(start + len(idx), n)
    return EpochTally(loss_sum, correct, n, False), state
