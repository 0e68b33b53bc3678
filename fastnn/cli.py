"""The ``fastnn`` command (also ``python -m fastnn``): train, evaluate, predict, plot.

Exit status: 0 success; 1 training diverged; 2 bad input (a one-line message on
stderr, no traceback); 130 interrupted by Ctrl-C.
"""
import argparse
import os
import shlex
import sys
import time

import numpy as np

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

N_PIXELS, N_CLASSES = 784, 10

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

DEFAULT_LAYERS = "256,128"
DEFAULT_LR = 0.02
DEFAULT_SCHEDULE = "inverse_time:k=1"
DEFAULT_EPOCHS = 5


class CommandError(Exception):
    """Bad input: reported as ``PROG: error: MESSAGE`` on stderr, exit status 2."""

    def __init__(self, message, prog="fastnn"):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and exit status 2."""

    def error(self, message):
        raise CommandError(f"{message} (see '{self.prog} --help')", prog=self.prog)


# -- argument types ---------------------------------------------------------------------------


def _number(parse, accept, expected):
    """An argparse type: ``parse`` the text, keep it if ``accept(value)``, else say ``expected``."""

    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return convert


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_positive_float = _number(float, lambda v: np.isfinite(v) and v > 0, "a positive number")
_fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
_non_negative_float = _number(float, lambda v: np.isfinite(v) and v >= 0, "a number >= 0")
_seed = _number(int, lambda v: v >= 0, "an integer >= 0")


def _layers(text):
    """``"256,128"`` -> ``[256, 128]``; ``""`` or ``"none"`` -> ``[]`` (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected hidden layer widths such as 256,128, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return sizes


def _batch_size(text):
    if text.lower() == "full":
        return None
    return _positive_int(text)


def parse_spec(text):
    """``"name"`` or ``"name:key=value,key=value"`` -> ``(name, {key: value})`` with numbers parsed."""
    name, _, rest = text.partition(":")
    kwargs = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise CommandError(f"cannot read {item!r} in {text!r}; write name:key=value,key=value")
        try:
            number = float(value)
        except ValueError:
            raise CommandError(f"{key.strip()}={value!r} in {text!r} is not a number") from None
        integral = number.is_integer() and not any(c in value.lower() for c in ".e")
        kwargs[key.strip()] = int(number) if integral else number
    return name.strip(), kwargs


def make_optimizer(spec):
    """``(name, hyperparams)`` from ``--optimizer``, checked by building it once."""
    from .optim import OPTIMIZERS, get_optimizer

    name, kwargs = parse_spec(spec)
    if name not in OPTIMIZERS:
        raise CommandError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if "lr" in kwargs:
        raise CommandError("give the learning rate with --lr, not in --optimizer (lr=...)")
    try:
        get_optimizer(name, **kwargs)
    except (TypeError, ValueError) as e:
        raise CommandError(f"bad --optimizer {spec!r}: {e}") from None
    return name, kwargs


def default_lr(optimizer):
    """0.02 for SGD (measured: 98% on MNIST in 5 epochs); otherwise the optimizer's own default."""
    import inspect

    from .optim import OPTIMIZERS

    if optimizer == "sgd":
        return DEFAULT_LR
    return inspect.signature(OPTIMIZERS[optimizer]).parameters["lr"].default


def describe_schedule(schedule):
    """The learning rate per epoch as a formula, e.g. ``0.02/(1+epoch)``."""
    p = schedule.params
    if schedule.name == "constant":
        return f"{p['lr']:g}"
    if schedule.name == "inverse_time":
        return f"{p['lr0']:g}/(1+epoch)" if p["k"] == 1 else f"{p['lr0']:g}/(1+{p['k']:g}*epoch)"
    if schedule.name == "exponential":
        return f"{p['lr0']:g}*{p['gamma']:g}^epoch"
    if schedule.name == "step":
        return f"{p['lr0']:g}*{p['drop']:g}^(epoch//{p['every']})"
    if schedule.name == "cosine":
        return f"cosine from {p['lr0']:g} to {p['lr_min']:g} over {p['total']} epochs"
    return repr(schedule)


def make_schedule(spec, lr, epochs):
    """The learning rate per epoch from ``--schedule`` and ``--lr`` (validated for every epoch)."""
    from .schedules import SCHEDULES

    name, kwargs = parse_spec(spec)
    if name not in SCHEDULES:
        raise CommandError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    first = "lr" if name == "constant" else "lr0"
    if first in kwargs:
        raise CommandError(f"give the initial learning rate with --lr, not in --schedule ({first}=...)")
    kwargs = {first: lr, **kwargs}
    if name == "cosine":
        kwargs.setdefault("total", epochs)
    try:
        schedule = SCHEDULES[name](**kwargs)
        rates = [float(schedule(e)) for e in range(epochs)]
    except (TypeError, ValueError) as e:
        raise CommandError(f"bad --schedule {spec!r}: {e}") from None
    if not all(np.isfinite(r) and r > 0 for r in rates):
        raise CommandError(f"--schedule {spec!r} gives a learning rate <= 0 within {epochs} epochs")
    return schedule


# -- shared helpers ---------------------------------------------------------------------------


def _say(*parts, **kwargs):
    print(*parts, flush=True, **kwargs)


def load_model(path):
    """``(params, meta)`` of a model file, or a CommandError saying why not."""
    from .io import load

    try:
        params, meta = load(path)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise CommandError(str(e)) from None
    sizes = meta.get("layer_sizes") or []
    if len(sizes) < 2 or sizes[0] != N_PIXELS or sizes[-1] != N_CLASSES:
        raise CommandError(f"{path!r} is a {'-'.join(map(str, sizes))} network; "
                           f"the fastnn command works with {N_PIXELS} inputs and {N_CLASSES} classes")
    return params, meta


def load_data(path, dataset, dtype="float32"):
    """``(X_train, y_train), (X_test, y_test)`` of MNIST or Fashion-MNIST, or a CommandError."""
    from .datasets import DatasetNotFoundError, load_mnist

    try:
        return load_mnist(path, fashion=dataset == "fashion-mnist", dtype=dtype)
    except DatasetNotFoundError as e:  # several lines: every place tried, and how to supply the files
        raise CommandError(f"{e}\n  - or give the folder to this command as --data DIR.") from None
    except (OSError, ValueError) as e:  # ChecksumError, bad path, corrupt file
        raise CommandError(str(e)) from None


def class_names(meta):
    return FASHION_CLASSES if meta.get("dataset") == "fashion-mnist" else tuple(str(i) for i in range(N_CLASSES))


def wiring(meta):
    return {"activation": meta.get("activation", "relu"), "output": meta.get("output", "softmax")}


def describe_model(path, meta):
    sizes = "-".join(map(str, meta.get("layer_sizes", [])))
    text = f"{path}: {sizes} ({meta.get('activation', 'relu')} hidden, {meta.get('output', 'softmax')} output)"
    history = meta.get("history") or {}
    epochs = len(history.get("epoch", []))
    if epochs:
        n = meta.get("train_samples")
        what = f"{n:,} {TITLES.get(meta.get('dataset'), 'training')} images" if n else "its training set"
        text += f", trained {epochs} epoch{'s' * (epochs != 1)} on {what}"
        if meta.get("interrupted"):
            text += " (interrupted)"
    return text


def interrupted_path(output):
    """Where an interrupted run saves: ``model.npz`` -> ``model.interrupted.npz`` (never an existing file)."""
    stem, suffix = os.path.splitext(output)
    suffix = suffix or ".npz"
    candidate = f"{stem}.interrupted{suffix}"
    k = 1
    while os.path.exists(candidate):
        k += 1
        candidate = f"{stem}.interrupted-{k}{suffix}"
    return candidate


# -- progress ----------------------------------------------------------------------------------


def _load_tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class EpochProgress:
    """A progress bar per epoch on stderr, fed by ``train``'s ``progress(done, total)`` hook.

    tqdm when installed (and ``use_tqdm``); otherwise a plain line rewritten in place.
    ``enabled=None`` shows it only when the stream (default stderr) is a terminal.
    """

    def __init__(self, epochs, enabled=None, stream=None, use_tqdm=True):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.epochs = epochs
        self.epoch = 0
        self.tqdm = _load_tqdm() if use_tqdm else None
        self.bar = None
        self.done = 0
        self.start = self.last = 0.0

    def begin(self, total):
        """Start the bar of the next epoch (``total`` samples)."""
        self.close()
        self.epoch += 1
        self.done, self.start, self.last = 0, time.perf_counter(), 0.0
        if not self.enabled:
            return
        desc = f"epoch {self.epoch}/{self.epochs}"
        if self.tqdm is not None:
            self.bar = self.tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=False,
                                 file=self.stream, dynamic_ncols=True)
        else:
            self.bar = _PlainBar(desc, total, self.stream)

    def __call__(self, done, total):
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _PlainBar:
    """``epoch 1/5:  40,960/60,000 img  68%  31,200 img/s``, rewritten in place at most 10 times a second."""

    def __init__(self, desc, total, stream):
        self.desc, self.total, self.stream = desc, total, stream
        self.n, self.start, self.last, self.width = 0, time.perf_counter(), 0.0, 0

    def update(self, k):
        self.n += k
        now = time.perf_counter()
        if now - self.last >= 0.1 or self.n >= self.total:
            self.last = now
            rate = self.n / max(now - self.start, 1e-9)
            text = f"{self.desc}: {self.n:,}/{self.total:,} img  {100 * self.n / self.total:3.0f}%  {rate:,.0f} img/s"
            self.stream.write("\r" + text.ljust(self.width))
            self.stream.flush()
            self.width = len(text)

    def close(self):
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


# -- fastnn train -----------------------------------------------------------------------------


def epoch_line(history, epochs, n):
    """One summary line of the last epoch in ``history``."""
    e = history["epoch"][-1]
    seconds = history["seconds"][-1]
    parts = [f"epoch {e:>{len(str(epochs))}}/{epochs}", f"loss {history['loss'][-1]:.4f}",
             f"train {100 * history['accuracy'][-1]:6.2f}%"]
    if "val_accuracy" in history:
        parts.append(f"test {100 * history['val_accuracy'][-1]:6.2f}%")
    parts += [f"lr {history['lr'][-1]:<8.4g}", f"{seconds:5.2f} s", f"{n / max(seconds, 1e-9):>7,.0f} img/s"]
    return "  ".join(parts)


def cmd_train(args):
    from .initializers import init_params
    from .io import save
    from .losses import check_pairing
    from .augment import Distortion
    from .training import DivergenceError, TrainingInterrupted, train

    output = args.output
    if os.path.isdir(output):
        raise CommandError(f"{output!r} is a folder; give a file name such as model.npz")
    if os.path.exists(output) and not args.force:
        raise CommandError(f"{output} already exists; pass --force to replace it, or choose another -o/--output")
    if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise CommandError(f"the folder of {output!r} does not exist; create it first")
    try:
        check_pairing(args.output_activation, args.loss)
    except ValueError as e:
        raise CommandError(str(e).replace("output=", "--output-activation ").replace("loss=", "--loss ")) from None
    if args.dropout and not args.layers:
        raise CommandError("--dropout applies to hidden layers, and --layers gives none")
    optimizer, hyperparams = make_optimizer(args.optimizer)
    lr = args.lr if args.lr is not None else default_lr(optimizer)
    schedule = make_schedule(args.schedule, lr, args.epochs)

    dataset = "fashion-mnist" if args.fashion else "mnist"
    (X, y), (X_test, y_test) = load_data(args.data, dataset, args.dtype)
    if args.limit is not None:
        X, y = X[: args.limit], y[: args.limit]
    n = len(X)
    sizes = [N_PIXELS, *args.layers, N_CLASSES]
    params = init_params(sizes, init=args.init, seed=args.seed, dtype=args.dtype)
    how = "per-sample" if args.batch_size == 1 else (
        "full-batch" if args.batch_size is None else f"mini-batch ({args.batch_size})")
    how += " " + ("SGD" if optimizer == "sgd" else args.optimizer)
    _say(f"{TITLES[dataset]}: training on {n:,} images, testing on {len(X_test):,}")
    _say(f"network {'-'.join(map(str, sizes))} ({args.activation} hidden, {args.output_activation} output, "
         f"{args.loss} loss), {how}, lr {describe_schedule(schedule)}, seed {args.seed}")

    bar = EpochProgress(args.epochs, enabled=args.progress)

    def report(epoch, params, history):
        bar.close()
        _say(epoch_line(history, args.epochs, n))
        if epoch + 1 < args.epochs:
            bar.begin(n)

    meta = dict(
        activation=args.activation, output=args.output_activation, loss=args.loss, hidden_layers=args.layers,
        dataset=dataset, train_samples=n, epochs=args.epochs, lr=lr, schedule=repr(schedule),
        optimizer=optimizer, optimizer_hyperparams=hyperparams, batch_size=args.batch_size, init=args.init,
        seed=args.seed, l2=args.l2, dropout=args.dropout, augment=args.augment, threads=args.threads,
        command=shlex.join(["fastnn", *args.argv]),
    )
    bar.begin(n)
    try:
        params, history = train(
            params, X, y, epochs=args.epochs, lr=schedule, optimizer=(optimizer, hyperparams),
            batch_size=args.batch_size, seed=args.seed,
            activation=args.activation, output=args.output_activation, loss=args.loss, l2=args.l2,
            dropout=args.dropout, augment=Distortion() if args.augment else None, n_threads=args.threads,
            validation_data=(X_test, y_test), callback=report, progress=bar)
    except TrainingInterrupted as stop:
        bar.close()
        done = len(stop.history["epoch"])
        if done == 0:
            _say("interrupted before the first epoch finished; nothing saved", file=sys.stderr)
            return EXIT_INTERRUPTED
        rescue = interrupted_path(output)
        save(rescue, stop.params, history=stop.history, interrupted=True, epochs_completed=done,
             test_accuracy=stop.history["val_accuracy"][-1], **meta)
        _say(f"interrupted: saved the model after epoch {done} to {rescue}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DivergenceError as e:
        bar.close()
        _say(f"fastnn train: error: training diverged in epoch {e.epoch + 1} with lr={e.lr:g}: {e.reason}; "
             f"try a smaller learning rate (e.g. --lr {e.lr / 10:g}); nothing saved", file=sys.stderr)
        return EXIT_FAILURE
    except (TypeError, ValueError) as e:  # a combination of options that train() refuses
        raise CommandError(str(e), prog="fastnn train") from None
    finally:
        bar.close()
    save(output, params, history=history, test_accuracy=history["val_accuracy"][-1], **meta)
    total = sum(history["seconds"])
    _say(f"saved {output} (test accuracy {100 * history['val_accuracy'][-1]:.2f}%, {total:.1f} s of training)")
    return EXIT_OK


# -- fastnn evaluate --------------------------------------------------------------------------


def _percent(num, den):
    return f"{100 * num / den:.2f}%" if den else "-"


def class_report(cm, names):
    """Lines of a per-class precision / recall / F1 table from a confusion matrix."""
    width = max(5, max(map(len, names)))
    lines = [f"{'class':>{width}}  {'precision':>9}  {'recall':>7}  {'f1':>7}  {'support':>7}"]
    for k, name in enumerate(names):
        tp, predicted, support = cm[k, k], cm[:, k].sum(), cm[k, :].sum()
        f1 = _percent(2 * tp, predicted + support)
        precision, recall = _percent(tp, predicted), _percent(tp, support)
        lines.append(f"{name:>{width}}  {precision:>9}  {recall:>7}  {f1:>7}  {support:>7,}")
    return lines


def confusion_lines(cm, names):
    """Lines of the confusion matrix, columns right-aligned (rows: true class, columns: predicted)."""
    short = [str(i) for i in range(len(names))]
    cell = max(len(f"{cm.max():,}"), 2)
    row_label = max(map(len, names))
    lines = [" " * row_label + "  " + " ".join(f"{s:>{cell}}" for s in short)]
    for k, name in enumerate(names):
        lines.append(f"{name:>{row_label}}  " + " ".join(f"{v:>{cell},}" for v in cm[k]))
    return lines


def _dataset_of(args, meta):
    return args.dataset or meta.get("dataset", "mnist")


def cmd_evaluate(args):
    from .metrics import confusion_matrix
    from .network import predict

    params, meta = load_model(args.model)
    dataset = _dataset_of(args, meta)
    _, (X_test, y_test) = load_data(args.data, dataset, meta.get("dtype", "float32"))
    pred = predict(params, X_test, **wiring(meta))
    cm = confusion_matrix(y_test, pred, N_CLASSES)
    correct = int(np.trace(cm))
    names = FASHION_CLASSES if dataset == "fashion-mnist" else tuple(map(str, range(N_CLASSES)))
    _say(describe_model(args.model, meta))
    _say(f"{TITLES[dataset]} test set: accuracy {_percent(correct, len(y_test))} "
         f"({correct:,} of {len(y_test):,}; {len(y_test) - correct:,} errors)")
    _say()
    _say("\n".join(class_report(cm, names)))
    _say()
    _say("confusion matrix (rows: true class, columns: predicted class)")
    if dataset == "fashion-mnist":
        _say("columns: " + ", ".join(f"{i} {s}" for i, s in enumerate(names)))
    _say("\n".join(confusion_lines(cm, names)))
    return EXIT_OK


# -- fastnn predict ---------------------------------------------------------------------------


def ascii_art(image):
    """A 28 x 28 image as 28 lines of characters, two per pixel (light ink drawn dense)."""
    ramp = " .:-=+*#%@"
    idx = np.minimum((np.asarray(image) * len(ramp)).astype(int), len(ramp) - 1)
    return ["".join(ramp[i] * 2 for i in row) for row in idx]


def _probability(p):
    """``p`` as a percentage with two decimals; ``<0.01%`` rather than a misleading ``0.00%``."""
    return f"{100 * p:.2f}%" if p >= 5e-5 or p == 0 else "<0.01%"


def cmd_predict(args):
    from .images import load_digit
    from .network import predict_proba

    params, meta = load_model(args.model)
    names = class_names(meta)
    word = "p" if meta.get("output", "softmax") == "softmax" else "score"
    width = max(len(p) for p in args.images)
    failed = 0
    for path in args.images:
        try:
            image = load_digit(path, background=args.background)
        except ImportError as e:
            raise CommandError(str(e)) from None
        except (OSError, ValueError, TypeError) as e:
            _say(f"fastnn: error: {e}", file=sys.stderr)
            failed += 1
            continue
        scores = predict_proba(params, image.reshape(1, N_PIXELS).astype(params["W1"].dtype), **wiring(meta))[0]
        top = np.argsort(-scores, kind="stable")[: args.top]
        ranked = ", ".join(f"{names[k]} {_probability(scores[k])}" if word == "p" else f"{names[k]} {scores[k]:.3f}"
                           for k in top)
        _say(f"{path:<{width}}  {names[top[0]]}   ({ranked})")
        if args.show:
            _say("\n".join(ascii_art(image)))
    return EXIT_USAGE if failed else EXIT_OK


# -- fastnn plot ------------------------------------------------------------------------------


def cmd_plot(args):
    from .metrics import confusion_matrix
    from .network import predict

    try:
        from . import plotting

        plotting._figure("learning_curves", args.dpi)  # fails early without matplotlib or with a bad dpi
    except (ImportError, ValueError) as e:
        raise CommandError(str(e)) from None
    params, meta = load_model(args.model)
    dataset = _dataset_of(args, meta)
    _, (X_test, y_test) = load_data(args.data, dataset, meta.get("dtype", "float32"))
    try:
        os.makedirs(args.output_dir, exist_ok=True)
    except OSError as e:
        raise CommandError(f"cannot create the output folder {args.output_dir!r}: {e.strerror}") from None
    names = FASHION_CLASSES if dataset == "fashion-mnist" else None
    pred = predict(params, X_test, **wiring(meta))
    name = os.path.basename(args.model)
    history = meta.get("history") or {}
    out = args.output_dir
    try:
        if history.get("epoch"):
            path = plotting.plot_learning_curves(
                history, os.path.join(out, "learning_curves.png"), dpi=args.dpi,
                title=f"{name}: {'-'.join(map(str, meta['layer_sizes']))} on {TITLES[dataset]}")
            _say(f"wrote {path}")
        else:
            _say(f"{args.model} has no training history; skipping the learning curves", file=sys.stderr)
        path = plotting.plot_confusion_matrix(confusion_matrix(y_test, pred, N_CLASSES),
                                              os.path.join(out, "confusion_matrix.png"), labels=names, dpi=args.dpi)
        _say(f"wrote {path}")
        path = plotting.plot_misclassified(X_test, y_test, pred, os.path.join(out, "misclassified.png"),
                                           labels=names, max_images=args.max_images, dpi=args.dpi)
        _say(f"wrote {path}")
    except (ValueError, TypeError) as e:  # e.g. a history that is not train()'s
        raise CommandError(f"cannot plot {args.model!r}: {e}") from None
    except OSError as e:
        raise CommandError(f"cannot write to {out!r}: {e.strerror or e}") from None
    return EXIT_OK


# -- the parser -------------------------------------------------------------------------------


def build_parser():
    from ._version import __version__
    from .activations import HIDDEN, OUTPUTS
    from .initializers import INITIALIZERS
    from .losses import LOSSES

    parser = _Parser(prog="fastnn", description="Train, evaluate and use MNIST classifiers with fastnn.")
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_option(p):
        p.add_argument("--data", metavar="DIR",
                       help="folder with the four IDX files (default: $FASTNN_DATA, the user cache, then a download)")

    t = sub.add_parser("train", help="train a network on MNIST and save it",
                       description="Train an MLP on MNIST (or Fashion-MNIST) and save it. The defaults reach "
                                   "about 98% test accuracy in a few seconds.")
    t.add_argument("-o", "--output", default="model.npz", help="model file to write (default: %(default)s)")
    t.add_argument("--force", action="store_true", help="replace the output file if it exists")
    t.add_argument("--layers", type=_layers, default=_layers(DEFAULT_LAYERS), metavar="W1,W2,...",
                   help=f"hidden layer widths; '' or none for no hidden layer (default: {DEFAULT_LAYERS})")
    t.add_argument("--activation", choices=HIDDEN, default="relu", help="hidden activation (default: %(default)s)")
    t.add_argument("--output-activation", choices=OUTPUTS, default="softmax",
                   help="output activation (default: %(default)s)")
    t.add_argument("--loss", choices=LOSSES, default="cross_entropy",
                   help="loss; cross_entropy needs softmax (default: %(default)s)")
    t.add_argument("--init", choices=tuple(INITIALIZERS), default="he",
                   help="weight initialisation (default: %(default)s)")
    t.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS, help="(default: %(default)s)")
    t.add_argument("--lr", type=_positive_float,
                   help=f"learning rate of the first epoch (default: {DEFAULT_LR} for sgd, "
                        "else the optimizer's default)")
    t.add_argument("--schedule", default=DEFAULT_SCHEDULE, metavar="NAME[:K=V,...]",
                   help="learning rate per epoch e: constant; inverse_time:k=K (lr/(1+K e)); exponential:gamma=G; "
                        "step:drop=D,every=N; cosine[:lr_min=M] (default: %(default)s)")
    t.add_argument("--optimizer", default="sgd", metavar="NAME[:K=V,...]",
                   help="sgd, momentum[:beta=B], nesterov[:beta=B], adam[:b1=..,b2=..,eps=..], rmsprop[:decay=D], "
                        "adagrad; only sgd keeps the sparse per-sample speed: give the others a --batch-size "
                        "(default: %(default)s)")
    t.add_argument("--batch-size", type=_batch_size, default=1, metavar="N",
                   help="1: per-sample (fastest); N: mini-batches of N; full: full-batch (default: %(default)s)")
    t.add_argument("--l2", type=_non_negative_float, default=0.0, help="weight decay (default: %(default)s)")
    t.add_argument("--dropout", type=_fraction, default=0.0,
                   help="dropout rate of the hidden units (default: %(default)s)")
    t.add_argument("--seed", type=_seed, default=0,
                   help="seed of the initial weights, sample order and dropout (default: %(default)s)")
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="(default: %(default)s)")
    t.add_argument("--augment", action="store_true",
                   help="train each epoch on freshly distorted images (fastnn.augment.Distortion defaults)")
    t.add_argument("--threads", type=_positive_int, default=1, metavar="K",
                   help="per-sample SGD on K threads at once (Hogwild!; K > 1 is not bit-reproducible) "
                        "(default: %(default)s)")
    data_option(t)
    t.add_argument("--fashion", action="store_true", help="train on Fashion-MNIST")
    t.add_argument("--limit", type=_positive_int, metavar="N", help="train on the first N training images only")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar per epoch on stderr (default: when stderr is a terminal)")
    t.set_defaults(run=cmd_train)

    e = sub.add_parser("evaluate", help="test accuracy, per-class table and confusion matrix")
    e.add_argument("model", help="model file written by fastnn train")
    data_option(e)
    e.add_argument("--dataset", choices=tuple(TITLES), help="test set (default: the model's)")
    e.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("predict", help="classify PNG/JPEG images or .npy arrays",
                       description="Classify images of single digits. PNG/JPEG of any size, dark on light or light "
                                   "on dark, are prepared as MNIST was (grayscale, cropped, scaled to fit 20x20, "
                                   "centred by centre of mass in 28x28). .npy arrays must already be MNIST-like: "
                                   "28x28 or 784, uint8 0-255 or float 0-1, light on dark.")
    p.add_argument("model", help="model file written by fastnn train")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG or .npy files")
    p.add_argument("--top", type=_positive_int, default=3, help="how many classes to list (default: %(default)s)")
    p.add_argument("--background", choices=("auto", "light", "dark"), default="auto",
                   help="light: dark ink on a light background (inverted); auto: judged from the border "
                        "(default: %(default)s)")
    p.add_argument("--show", action="store_true", help="also print the 28x28 image the network sees")
    p.set_defaults(run=cmd_predict)

    g = sub.add_parser("plot", help="PNGs of learning curves, confusion matrix and misclassified digits")
    g.add_argument("model", help="model file written by fastnn train")
    g.add_argument("-o", "--output-dir", default=".", metavar="DIR",
                   help="folder for learning_curves.png, confusion_matrix.png, misclassified.png, replaced if present "
                        "(default: the current folder)")
    data_option(g)
    g.add_argument("--dataset", choices=tuple(TITLES), help="test set (default: the model's)")
    g.add_argument("--max-images", type=_positive_int, default=36,
                   help="misclassified digits to show (default: %(default)s)")
    g.add_argument("--dpi", type=_positive_float, default=100.0, help="resolution of the PNGs (default: %(default)s)")
    g.set_defaults(run=cmd_plot)
    return parser


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # name the subcommand, whose --help lists its options
            prog = f"fastnn {args.command}"
            raise CommandError(f"unrecognized arguments: {' '.join(extra)} (see '{prog} --help')", prog=prog)
        args.argv = argv
        return args.run(args)
    except CommandError as e:
        _say(f"{e.prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help, --version
        return e.code
    except KeyboardInterrupt:
        _say("fastnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. fastnn evaluate m.npz | head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
