"""``train``: per-sample SGD in one compiled call per chunk, or mini-/full-batch descent.

The caller's params are copied once into a private flat buffer; the compiled kernel
(``fastnn.kernels.sgd``) updates that buffer in place. Nothing the caller passed is
ever modified.
"""
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .activations import HIDDEN, OUTPUTS
from .kernels import sgd as _k
from .losses import LOSS_FUNCTIONS, LOSSES, check_pairing, cross_entropy_from_logits
from .network import _forward_layers, _gradients, predict_proba
from .optim import OPTIMIZERS, Optimizer, get_optimizer
from .schedules import lr_values
from .packing import pack, unpack, unpack_views
from .validation import (
    check_choice,
    check_inputs,
    check_params,
    check_positive_float,
    check_positive_int,
    check_targets,
)

HIDDEN_CODES = {"relu": _k.RELU, "sigmoid": _k.SIGMOID, "tanh": _k.TANH, "identity": _k.IDENTITY}
OUTPUT_CODES = {"softmax": _k.SOFTMAX, "sigmoid": _k.SIGMOID, "tanh": _k.TANH, "identity": _k.IDENTITY}
LOSS_CODES = {"cross_entropy": _k.CROSS_ENTROPY, "mse": _k.MSE}

DIVERGENCE_FACTOR = 100.0
"""Training is declared diverged when the mean loss over a chunk of samples exceeds this
many times the loss of the initial params (or is not finite)."""

CHUNK = 4096
"""Samples per compiled call: small enough for a responsive Ctrl-C and progress bar,
large enough that the call overhead stays below 0.1% of the work."""


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


RULE_CODES = {"sgd": _k.SGD, "momentum": _k.MOMENTUM, "nesterov": _k.NESTEROV, "adam": _k.ADAM,
              "rmsprop": _k.RMSPROP, "adagrad": _k.ADAGRAD}
_HYPER_ORDER = {"sgd": (), "momentum": ("beta",), "nesterov": ("beta",), "adam": ("b1", "b2", "eps"),
                "rmsprop": ("decay", "eps"), "adagrad": ("eps",)}


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
            by_step = lambda t: lr(np.asarray(t) // steps_per_epoch)  # noqa: E731
        else:
            by_step = lr
    else:
        check_positive_float(lr, "lr")
        by_step = lr
    return OPTIMIZERS[opt.name](lr=by_step, **opt.hyperparams)


def _epoch_lrs(opt, lr, schedule_unit, epoch, step, n_steps):
    """Learning rate of every update of one epoch (checked finite and > 0)."""
    if callable(lr) and schedule_unit == "epoch":  # one call, not one per sample
        value = float(lr(epoch))
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"the learning rate for epoch {epoch} is {value}; it must be a finite number > 0")
        return np.full(n_steps, value)
    return np.asarray(lr_values(opt.lr, np.arange(step, step + n_steps)), dtype=np.float64)


def _check_data(X, y, n_features, n_outputs, dtype, name=""):
    X = check_inputs(X, n_features, dtype, name=f"X{name}")
    T = check_targets(y, len(X), n_outputs, dtype, name=f"y{name}")
    return X, T


def _evaluate(params, X, T, activation, output, loss):
    out = predict_proba(params, X, activation=activation, output=output)
    acc = float(np.mean(np.argmax(out, axis=1) == np.argmax(T, axis=1)))
    return LOSS_FUNCTIONS[loss](out, T), acc


def train(params, X, y, *, epochs=1, lr=None, optimizer="sgd", batch_size=1, shuffle=True, seed=None,
          activation="relu", output="softmax", loss="cross_entropy", schedule_unit="epoch",
          validation_data=None, validation_fraction=None, early_stopping=False, patience=5, min_delta=0.0,
          l2=0.0, dropout=0.0, augment=None, n_threads=1, verbose=False, callback=None, progress=None):
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
        Optimizer object brings its own learning rate (then leave ``lr`` as None). Only
        plain SGD keeps the per-sample path's sparse speed: the others update every weight
        at every step (see the README's benchmark for the cost).
    batch_size : int or None
        1: online SGD, one compiled call runs the epoch sample by sample (the fast path).
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
        Threads for per-sample SGD (``batch_size=1``). 1 (the default) is bit-deterministic.
        k > 1 runs Hogwild! (Recht et al., 2011): k threads train on disjoint slices of
        each epoch's order and update the shared weights without locks, so results vary
        slightly from run to run even with a seed.
    verbose : bool
        Print one line per epoch.
    callback : callable, optional
        ``callback(epoch, params, history)`` after every epoch; returning ``False`` stops.
    progress : callable, optional
        ``progress(done, total)`` during each epoch, every few thousand samples.

    Returns
    -------
    params : dict
        The trained params (new arrays); with early stopping, the best epoch's.
    history : dict
        Lists with one entry per epoch: ``epoch``, ``lr`` (the first step's), ``loss`` and
        ``accuracy`` (running means over the epoch's samples, each taken before that
        sample's update), ``val_loss`` and ``val_accuracy`` (when validating), ``seconds``;
        with early stopping also ``best_epoch`` (1-based).

    Raises
    ------
    DivergenceError
        (a ``FloatingPointError``) when the loss or the weights become non-finite, or
        the loss over a chunk of samples exceeds ``DIVERGENCE_FACTOR`` (100) times the
        initial loss; it carries the last good params (those of the last completed epoch).
    TrainingInterrupted
        (a ``KeyboardInterrupt``) on Ctrl-C; it carries the last completed epoch's params.
    """
    check_choice(activation, HIDDEN, "activation")
    check_choice(output, OUTPUTS, "output")
    check_choice(loss, LOSSES, "loss")
    check_choice(schedule_unit, ("epoch", "step"), "schedule_unit")
    check_pairing(output, loss)
    layers = check_params(params)
    dtype = layers[0][0].dtype
    n_features, n_outputs = layers[0][0].shape[0], layers[-1][0].shape[1]
    X, T = _check_data(X, y, n_features, n_outputs, dtype)
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
        raise ValueError("n_threads > 1 (Hogwild!) applies to per-sample SGD; use batch_size=1 or n_threads=1")
    if n_threads > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"n_threads={n_threads} exceeds the {numba.config.NUMBA_NUM_THREADS} threads Numba may use "
                         "(NUMBA_NUM_THREADS)")
    if augment is not None and not callable(getattr(augment, "apply", None)):
        raise TypeError(f"augment must be a fastnn.augment.Distortion, got {type(augment).__name__}")
    rng = np.random.default_rng(seed)
    drop_seed = int(rng.integers(2**63))
    Xv = Tv = None
    if validation_data is not None:
        if validation_fraction is not None:
            raise ValueError("give validation_data or validation_fraction, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        Xv, Tv = _check_data(*validation_data, n_features, n_outputs, dtype, name="_val")
    elif validation_fraction is not None or early_stopping:
        fraction = 0.1 if validation_fraction is None else validation_fraction
        if not isinstance(fraction, float) or not 0 < fraction < 1:
            raise ValueError(f"validation_fraction must be a float in (0, 1), got {fraction!r}")
        n_val = int(round(fraction * len(X)))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(f"validation_fraction={fraction} leaves {n_val} of {len(X)} samples for validation")
        split = rng.permutation(len(X))
        Xv, Tv = X[split[:n_val]], T[split[:n_val]]
        X, T = X[split[n_val:]], T[split[n_val:]]
    if augment is not None:
        if int(np.prod(augment.image_shape)) != n_features:
            raise ValueError(f"augment.image_shape={augment.image_shape} does not match the {n_features} input columns")
        aug_seed = int(rng.integers(2**63))
    n = len(X)
    bs = 1 if batch_size == 1 else (n if batch_size is None else min(batch_size, n))
    steps_per_epoch = -(-n // bs)
    opt = _make_optimizer(optimizer, lr, schedule_unit, steps_per_epoch)
    _epoch_lrs(opt, lr, schedule_unit, 0, 0, 1)  # refuse a bad rate before any work

    theta, sizes, offsets = pack(layers)
    codes = (HIDDEN_CODES[activation], OUTPUT_CODES[output], LOSS_CODES[loss])
    rule = (RULE_CODES[opt.name], _hyper_array(opt))
    slots = np.zeros((2, theta.size if opt.name != "sgd" else 1), dtype=dtype)
    history = {"epoch": [], "lr": [], "loss": [], "accuracy": [], "seconds": []}
    if Xv is not None:
        history.update(val_loss=[], val_accuracy=[])
    good = theta.copy()
    best = None  # (val_loss, epoch, theta) of the best epoch when early stopping
    step = 0
    initial_loss, _ = _evaluate(params, X[:1024], T[:1024], activation, output, loss)
    limit = DIVERGENCE_FACTOR * max(initial_loss, 1e-3)
    pool = pending = None
    if augment is not None:
        pool = ThreadPoolExecutor(1, thread_name_prefix="fastnn-augment")
        buffers = (np.empty_like(X), np.empty_like(X))
        pending = pool.submit(augment.apply, X, (aug_seed, 0), out=buffers[0])
    X_train = X
    try:
        for epoch in range(epochs):
            if pending is not None:  # this epoch's distorted copy; start the next one's
                X_train = pending.result()
                pending = None
                if epoch + 1 < epochs:
                    pending = pool.submit(augment.apply, X, (aug_seed, epoch + 1), out=buffers[(epoch + 1) % 2])
            lrs = _epoch_lrs(opt, lr, schedule_unit, epoch, step, n if bs == 1 else steps_per_epoch)
            lr_e = float(lrs[0])
            lrs = lrs.astype(dtype)
            order = rng.permutation(n) if shuffle else np.arange(n)
            start = time.perf_counter()
            if bs == 1:
                loss_sum, correct, done, diverged = _online_epoch(theta, sizes, offsets, X_train, T, order, lrs, codes,
                                                                  l2, keep, drop_seed, step, rule, slots, n_threads,
                                                                  limit, progress)
            else:
                loss_sum, correct, done, diverged = _batch_epoch(theta, sizes, offsets, X_train, T, order, bs, opt,
                                                                 slots,
                                                                 step, activation, output, loss, l2, keep, rng,
                                                                 limit, progress)
            seconds = time.perf_counter() - start
            step += n if bs == 1 else steps_per_epoch
            if diverged or not np.isfinite(theta).all():
                what = (f"the loss became non-finite or exceeded {DIVERGENCE_FACTOR:g}x its initial value "
                        f"({initial_loss:.3g}) by sample {done} of {n}" if diverged else "the weights became non-finite")
                raise DivergenceError(unpack(good, sizes, offsets), history, epoch, lr_e, what)
            good[:] = theta
            history["epoch"].append(epoch + 1)
            history["lr"].append(lr_e)
            history["loss"].append(float(loss_sum / n))
            history["accuracy"].append(float(correct / n))
            history["seconds"].append(seconds)
            current = unpack(theta, sizes, offsets) if Xv is not None or callback is not None else None
            stop = False
            if Xv is not None:
                vl, va = _evaluate(current, Xv, Tv, activation, output, loss)
                history["val_loss"].append(vl)
                history["val_accuracy"].append(va)
                if early_stopping:
                    if best is None or vl < best[0] - min_delta:
                        best = (vl, epoch, theta.copy())
                    history["best_epoch"] = best[1] + 1
                    stop = epoch - best[1] >= patience
            if verbose:
                print(_epoch_line(history), flush=True)
            if callback is not None and callback(epoch, current, history) is False:
                break
            if stop:
                break
    except KeyboardInterrupt:
        raise TrainingInterrupted(unpack(good, sizes, offsets), history) from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if best is not None:
        theta = best[2]
    return unpack(theta, sizes, offsets), history


def _epoch_line(history):
    parts = [f"epoch {history['epoch'][-1]}", f"loss {history['loss'][-1]:.4f}", f"acc {history['accuracy'][-1]:.4f}"]
    if "val_loss" in history:
        parts += [f"val_loss {history['val_loss'][-1]:.4f}", f"val_acc {history['val_accuracy'][-1]:.4f}"]
    parts.append(f"{history['seconds'][-1]:.2f}s")
    return "  ".join(parts)


def _online_epoch(theta, sizes, offsets, X, T, order, lrs, codes, l2, keep, drop_seed, step0, rule, slots, n_threads,
                  limit, progress):
    n = len(order)
    stats = np.zeros(3)
    loss_sum = correct = done = 0.0
    chunk = CHUNK * n_threads
    for start in range(0, n, chunk):
        part = order[start : start + chunk]
        args = (theta, sizes, offsets, X, T, part, lrs[start : start + chunk], *codes, l2, keep, drop_seed,
                step0 + start, rule[0], rule[1], slots)
        if n_threads == 1:
            _k.sgd_epoch(*args, stats)
        else:
            _k.sgd_epoch_hogwild(*args, n_threads, stats)
        if stats[2] < len(part) or not stats[0] <= limit * len(part):
            return loss_sum, correct, int(done + stats[2]), True
        loss_sum += stats[0]
        correct += stats[1]
        done += stats[2]
        if progress is not None:
            progress(start + len(part), n)
    return loss_sum, correct, int(done), False


def _batch_epoch(theta, sizes, offsets, X, T, order, bs, opt, slots, step0, activation, output, loss, l2, keep, rng,
                 limit, progress):
    """Mini-batch (or full-batch) descent: BLAS products for the batch, kernels for the rest.

    The gradients are gathered into one flat buffer laid out like ``theta``, so one
    compiled call applies the optimizer's rule to every parameter in place.
    """
    n = len(order)
    views = unpack_views(theta, sizes, offsets)
    grad = np.empty_like(theta)
    grad_views = unpack_views(grad, sizes, offsets)
    L = len(views)
    dropping = bool(np.any(keep[: L - 1] < 1))
    rule, hyper = RULE_CODES[opt.name], _hyper_array(opt)
    loss_sum = correct = 0.0
    for step, start in enumerate(range(0, n, bs), step0):
        idx = order[start : start + bs] if bs < n else order
        Xb, Tb = X[idx], T[idx]
        masks = None
        if dropping:
            masks = [((rng.random((len(idx), W.shape[1])) < keep[l]) / keep[l]).astype(theta.dtype)
                     for l, (W, _) in enumerate(views[:-1])]
        acts = _forward_layers(views, Xb, activation, output, masks)
        if loss == "cross_entropy":  # from the logits, as the kernel does: the clipped loss cannot exceed 87
            inputs = acts[-2] if masks is None or L == 1 else acts[-2] * masks[-1]
            batch_loss = cross_entropy_from_logits(inputs @ views[-1][0] + views[-1][1], Tb)
        else:
            batch_loss = LOSS_FUNCTIONS[loss](acts[-1], Tb)
        if not batch_loss <= limit:  # also catches NaN
            return loss_sum, correct, start, True
        loss_sum += batch_loss * len(idx)
        correct += np.sum(np.argmax(acts[-1], axis=1) == np.argmax(Tb, axis=1))
        grads = _gradients(views, acts, Tb, activation, output, loss, masks)
        for l, ((W, _), (gW, gb)) in enumerate(zip(views, grad_views), 1):
            np.copyto(gW, grads[f"W{l}"])
            np.copyto(gb, grads[f"b{l}"])
            if l2 > 0:
                gW += l2 * W
        _k.optimizer_step(theta, grad, slots, float(opt.lr(step)), rule, hyper, step)
        if progress is not None:
            progress(start + len(idx), n)
    return loss_sum, correct, n, False


def _hyper_array(opt):
    return np.array([opt.hyperparams[k] for k in _HYPER_ORDER[opt.name]] + [0.0] * 4)[:4]
