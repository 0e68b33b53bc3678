"""``fastnn train``: train an MLP on MNIST or Fashion-MNIST and save it."""
from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import shlex
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..progress import EpochProgress, epoch_line
from .common import (EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, N_CLASSES, N_PIXELS, TITLES, CommandError,
                     check_output, data_option, fraction, load_data, non_negative_float, positive_float, positive_int,
                     say, seed, warnings_as_lines)

if TYPE_CHECKING:
    from ..schedules import Schedule

DEFAULT_LAYERS = "256,128"
DEFAULT_LR = 0.02
DEFAULT_SCHEDULE = "inverse_time:k=1"
DEFAULT_EPOCHS = 5

COMPILE_NOTE_SECONDS = 0.5
"""Compilation before the first epoch is reported when it took longer than this."""


def _layers(text: str) -> list[int]:
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


def _batch_size(text: str) -> int | None:
    if text.lower() == "full":
        return None
    return positive_int(text)


def parse_spec(text: str) -> tuple[str, dict[str, int | float]]:
    """``"name"`` or ``"name:key=value,key=value"`` -> ``(name, {key: value})`` with numbers parsed.

    Examples
    --------
    >>> from fastnn.cli import parse_spec
    >>> parse_spec("step:drop=0.5,every=2")
    ('step', {'drop': 0.5, 'every': 2})
    """
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


def make_optimizer(spec: str) -> tuple[str, dict[str, int | float]]:
    """``(name, hyperparams)`` from ``--optimizer``, checked by building it once.

    Examples
    --------
    >>> from fastnn.cli import make_optimizer
    >>> make_optimizer("momentum:beta=0.5")
    ('momentum', {'beta': 0.5})
    """
    from ..optim import OPTIMIZERS, get_optimizer

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


def default_lr(optimizer: str) -> float:
    """0.02 for SGD (measured: 98% on MNIST in 5 epochs); otherwise the optimizer's own default.

    Examples
    --------
    >>> from fastnn.cli import default_lr
    >>> default_lr("sgd")
    0.02
    """
    from ..optim import OPTIMIZERS

    if optimizer == "sgd":
        return DEFAULT_LR
    return inspect.signature(OPTIMIZERS[optimizer]).parameters["lr"].default


def make_schedule(spec: str, lr: float, epochs: int) -> Schedule:
    """The learning rate per epoch from ``--schedule`` and ``--lr`` (validated for every epoch)."""
    from ..schedules import SCHEDULES

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


def interrupted_path(output: str, tag: str = "interrupted") -> str:
    """Where an interrupted run saves: ``model.npz`` -> ``model.interrupted.npz`` (never an existing file).

    Examples
    --------
    >>> import os, tempfile
    >>> from fastnn.cli import interrupted_path
    >>> os.path.basename(interrupted_path(os.path.join(tempfile.mkdtemp(), "model.npz")))
    'model.interrupted.npz'
    """
    stem, suffix = os.path.splitext(output)
    suffix = suffix or ".npz"
    candidate = f"{stem}.{tag}{suffix}"
    k = 1
    while os.path.lexists(candidate):
        k += 1
        candidate = f"{stem}.{tag}-{k}{suffix}"
    return candidate


def rescue_paths(output: str, tag: str) -> Iterator[str]:
    """Places to try, in order, for trained params that cannot go to ``output``: beside it, in the
    current folder, in the temporary folder (the output's folder may be gone or full)."""
    name = os.path.basename(output) or "model.npz"
    folders = [os.path.dirname(os.path.abspath(output)), os.getcwd(), tempfile.gettempdir()]
    seen = []
    for folder in folders:
        if folder not in seen and os.path.isdir(folder):
            seen.append(folder)
            yield interrupted_path(os.path.join(folder, name), tag)


class _HeldCtrlC:
    """Ctrl-C held back from :meth:`hold` to :meth:`release`: a SIGINT in between is counted, not
    raised, so that the save in between finishes; :meth:`release` puts the previous handler back
    and says whether one came.

    A handler, not a signal mask: Python runs every handler in the main thread, whichever thread the
    kernel hands the signal to (a mask would hold it back from the main thread only). Only the main
    thread can set one; elsewhere nothing is held.
    """

    def __init__(self) -> None:
        self.count = 0
        self.previous: Any = None
        self._holding = False

    def hold(self) -> None:
        if self._holding or threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGINT)
        if previous is None:  # a handler set outside Python: it could not be put back
            return
        signal.signal(signal.SIGINT, self._note)
        self.previous, self._holding = previous, True

    def _note(self, signum: int, frame: Any) -> None:
        self.count += 1

    def release(self) -> bool:
        if self._holding:
            signal.signal(signal.SIGINT, self.previous)
            self._holding = False
        return self.count > 0


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while the block runs: a rescue save must finish. A Ctrl-C that came is passed
    on to a holder outside (which reports it); Python's default handler is not called (the caller
    is about to report the rescue and stop)."""
    held = _HeldCtrlC()
    held.hold()
    try:
        yield
    finally:
        if held.release() and isinstance(getattr(held.previous, "__self__", None), _HeldCtrlC):
            held.previous(signal.SIGINT, None)


def save_rescue(output: str, params: dict, tag: str, **meta: Any) -> str | None:
    """Save ``params`` where :func:`rescue_paths` finds room; return the path, or None if nowhere would do.

    Should the full metadata be refused, the params are saved with their wiring alone: the
    trained weights matter more than their record.
    """
    from ..io import save

    minimal = {k: meta[k] for k in ("wiring",) if k in meta}
    with _sigint_deferred():
        for path in rescue_paths(output, tag):
            for record in (meta, minimal):
                try:
                    return save(path, params, **record)
                except (TypeError, ValueError):
                    continue
                except OSError:
                    break
    return None


def save_final(output: str, params: dict, history: dict, meta: dict) -> int:
    """Save the trained model to ``output``; if that fails (folder gone, disk full, permission,
    Ctrl-C during the write), save it to a rescue file and say where. Returns the exit status
    (the caller announces a successful save)."""
    from ..io import save

    try:
        save(output, params, **_final_record(history, meta))
    except (OSError, TypeError, ValueError, KeyboardInterrupt) as e:
        if isinstance(e, KeyboardInterrupt):
            return rescue_final(output, params, history, meta, f"interrupted while writing {output}", EXIT_INTERRUPTED)
        why = f"cannot write {output}: {getattr(e, 'strerror', None) or e}"
        return rescue_final(output, params, history, meta, why, EXIT_FAILURE)
    return EXIT_OK


def _final_record(history: dict, meta: dict) -> dict:
    return dict(meta, history=history, test_accuracy=history["val_accuracy"][-1])


def rescue_final(output: str, params: dict, history: dict, meta: dict, why: str, status: int) -> int:
    """Save trained params that cannot go to ``output`` (``why``) to a rescue file, say where, return ``status``."""
    rescue = save_rescue(output, params, "rescued", **_final_record(history, meta))
    if rescue is None:
        say(f"fastnn train: error: {why}; no rescue file could be written either: the trained model is lost",
            file=sys.stderr)
    else:
        say(f"fastnn train: error: {why}; the trained model is saved in {rescue} instead", file=sys.stderr)
    return status


def compile_note(history: dict) -> str | None:
    """The line announcing a slow first compilation, or None when there was none worth a word."""
    seconds = history.get("compile_seconds", 0.0) or 0.0
    if seconds > COMPILE_NOTE_SECONDS:
        return f"compiling kernels (first run on this machine) ... {seconds:.1f} s"
    return None


def run(args: argparse.Namespace) -> int:
    from ..augment import Distortion
    from ..initializers import init_params
    from ..losses import check_pairing
    from ..training import DivergenceError, TrainingInterrupted, train

    output = args.output
    check_output(output, args.force)
    try:
        check_pairing(args.output_activation, args.loss)
    except ValueError as e:
        raise CommandError(str(e).replace("output_activation=", "--output-activation ").replace("loss=", "--loss ")) from None
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
    say(f"{TITLES[dataset]}: training on {n:,} images, testing on {len(X_test):,}")
    say(f"network {'-'.join(map(str, sizes))} ({args.activation} hidden, {args.output_activation} output, "
        f"{args.loss} loss), {how}, lr {schedule.describe('epoch')}, seed {args.seed}")

    bar = EpochProgress(args.epochs, enabled=args.progress)
    # From the end of the last epoch to the end of the save, finished work must not be lost: Ctrl-C
    # is held back (and reported after the save), and the last epoch's params are kept here for a
    # rescue should a KeyboardInterrupt come anyway (raised by other means, or off the main thread).
    held = _HeldCtrlC()
    finished: dict[str, Any] = {}

    def report(epoch: int, params: dict, history: dict) -> None:
        if epoch + 1 == args.epochs:  # training is finished (the callback's params are copies)
            held.hold()
            finished.update(params=params, history=history)
        bar.close()
        note = compile_note(history) if epoch == 0 else None
        if note:
            say(note)
        say(epoch_line(history, args.epochs, n, val_label="test"))
        if epoch + 1 < args.epochs:
            bar.begin(n)

    meta = dict(
        wiring={"activation": args.activation, "output_activation": args.output_activation, "loss": args.loss},
        hidden_layers=args.layers,
        dataset=dataset, train_samples=n, epochs=args.epochs, lr=lr, schedule=repr(schedule),
        optimizer=optimizer, optimizer_hyperparams=hyperparams, batch_size=args.batch_size, init=args.init,
        seed=args.seed, l2=args.l2, dropout=args.dropout, augment=args.augment, threads=args.threads,
        command=shlex.join(["fastnn", *args.argv]),
    )
    bar.begin(n)
    try:
        try:
            with warnings_as_lines("fastnn train"):  # e.g. fastnn.diagnostics' scale and collapse warnings
                params, history = train(
                    params, X, y, epochs=args.epochs, lr=schedule, optimizer=(optimizer, hyperparams),
                    batch_size=args.batch_size, seed=args.seed,
                    activation=args.activation, output_activation=args.output_activation, loss=args.loss, l2=args.l2,
                    dropout=args.dropout, augment=Distortion() if args.augment else None, n_threads=args.threads,
                    validation_data=(X_test, y_test), callback=report, progress=bar)
        except TrainingInterrupted as stop:
            bar.close()
            done = len(stop.history["epoch"])
            if done == 0:
                say("interrupted before the first epoch finished; nothing saved", file=sys.stderr)
                return EXIT_INTERRUPTED
            rescue = save_rescue(output, stop.params, "interrupted", history=stop.history, interrupted=True,
                                 epochs_completed=done, test_accuracy=stop.history["val_accuracy"][-1], **meta)
            if rescue is None:
                say(f"interrupted after epoch {done}, and no file could be written to save the model",
                    file=sys.stderr)
            else:
                say(f"interrupted: saved the model after epoch {done} to {rescue}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except DivergenceError as e:
            bar.close()
            say(f"fastnn train: error: training diverged in epoch {e.epoch + 1} with lr={e.lr:g}: {e.reason}; "
                f"try a smaller learning rate (e.g. --lr {e.lr / 10:g}); nothing saved", file=sys.stderr)
            return EXIT_FAILURE
        except (TypeError, ValueError) as e:  # a combination of options that train() refuses
            raise CommandError(str(e), prog="fastnn train") from None
        finally:
            bar.close()
        status = save_final(output, params, history, meta)
    except KeyboardInterrupt:  # not held back (see above), between the last epoch and the save
        if not finished:
            raise
        params, history = finished["params"], finished["history"]
        status = rescue_final(output, params, history, meta, f"interrupted before writing {output}",
                              EXIT_INTERRUPTED)
    finally:
        ctrl_c = held.release()
    if status != EXIT_OK:
        return status
    total = sum(history["seconds"])  # epochs only: compile_seconds is kept apart
    say(f"saved {output} (test accuracy {100 * history['val_accuracy'][-1]:.2f}%, {total:.1f} s of training)")
    if ctrl_c:
        say("fastnn train: interrupted once training had finished; held back until the model was saved",
            file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..activations import HIDDEN, OUTPUTS
    from ..initializers import INITIALIZERS
    from ..losses import LOSSES

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
    t.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, help="(default: %(default)s)")
    t.add_argument("--lr", type=positive_float,
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
    t.add_argument("--l2", type=non_negative_float, default=0.0, help="weight decay (default: %(default)s)")
    t.add_argument("--dropout", type=fraction, default=0.0,
                   help="dropout rate of the hidden units (default: %(default)s)")
    t.add_argument("--seed", type=seed, default=0,
                   help="seed of the initial weights, sample order and dropout (default: %(default)s)")
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="(default: %(default)s)")
    t.add_argument("--augment", action="store_true",
                   help="train each epoch on freshly distorted images (fastnn.augment.Distortion defaults)")
    t.add_argument("--threads", type=positive_int, default=1, metavar="K",
                   help="per-sample SGD on K threads at once: the first hidden layer's units split between "
                        "them (256 units or more), else a parameter copy per thread merged every few hundred "
                        "samples; deterministic for a given K and seed. Dense inputs train in windows on one "
                        "thread whatever K (default: %(default)s)")
    data_option(t)
    t.add_argument("--fashion", action="store_true", help="train on Fashion-MNIST")
    t.add_argument("--limit", type=positive_int, metavar="N", help="train on the first N training images only")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar per epoch on stderr (default: when stderr is a terminal)")
    t.set_defaults(run=run)
