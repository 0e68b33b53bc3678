"""What every ``fastnn`` command shares: exit codes, errors, argument types, model and data loading.

A command reports bad input by raising :class:`CommandError`; :func:`fastnn.cli.main` prints it
as one line ``PROG: error: MESSAGE`` on stderr and exits with status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import numpy as np

from ..datasets import TITLES

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

N_PIXELS, N_CLASSES = 784, 10

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

__all__ = ["EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_INTERRUPTED", "N_PIXELS", "N_CLASSES", "FASHION_CLASSES",
           "TITLES", "CommandError", "Parser", "positive_int", "positive_float", "fraction", "non_negative_float",
           "seed", "port", "say", "load_model", "load_data", "class_names", "forward_options", "describe_model",
           "check_output", "model_argument", "data_option", "dataset_option", "dataset_of", "scores_of"]


class CommandError(Exception):
    """Bad input: reported as ``PROG: error: MESSAGE`` on stderr, exit status 2."""

    def __init__(self, message: str, prog: str = "fastnn") -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see '{self.prog} --help')", prog=self.prog)


# -- argument types ---------------------------------------------------------------------------


_T = TypeVar("_T", int, float)


def _number(parse: Callable[[str], _T], accept: Callable[[_T], Any], expected: str) -> Callable[[str], _T]:
    """An argparse type: ``parse`` the text, keep it if ``accept(value)``, else say ``expected``."""

    def convert(text: str) -> _T:
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return convert


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
positive_float = _number(float, lambda v: np.isfinite(v) and v > 0, "a positive number")
fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
non_negative_float = _number(float, lambda v: np.isfinite(v) and v >= 0, "a number >= 0")
seed = _number(int, lambda v: v >= 0, "an integer >= 0")
port = _number(int, lambda v: 0 <= v <= 65535, "a port number 0-65535 (0: any free port)")


def model_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by fastnn train")


def data_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR",
                   help="folder with the four IDX files (default: $FASTNN_DATA, the user cache, then a download)")


def dataset_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=tuple(TITLES), help="test set (default: the model's)")


# -- files ------------------------------------------------------------------------------------


def say(*parts: object, **kwargs: Any) -> None:
    print(*parts, flush=True, **kwargs)


def check_output(output: str, force: bool, option: str = "-o/--output") -> None:
    """Refuse an output path that is a folder, exists (without ``force``), lies in a missing folder,
    or is anything but a regular file (a FIFO, device node, socket or symbolic link), before any work."""
    from ..files import NotARegularFileError, check_replaceable

    if os.path.isdir(output):
        raise CommandError(f"{output!r} is a folder; give a file name such as model.npz")
    try:
        check_replaceable(output)
    except NotARegularFileError as e:
        raise CommandError(str(e)) from None
    except OSError as e:  # an empty name
        raise CommandError(f"cannot write {output!r}: {e.strerror or e}") from None
    if os.path.lexists(output) and not force:
        raise CommandError(f"{output} already exists; pass --force to replace it, or choose another {option}")
    if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise CommandError(f"the folder of {output!r} does not exist; create it first")


@contextlib.contextmanager
def warnings_as_lines(prog: str) -> Iterator[None]:
    """Within the block, every warning is printed as it comes, as one ``PROG: warning: ...`` line on
    stderr (the command's own format) instead of Python's file-and-line report."""
    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        say(f"{prog}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def load_model(path: str, *, mnist: bool = True, prog: str = "fastnn") -> tuple[dict, dict]:
    """``(params, meta)`` of a model file, or a CommandError saying why not.

    The model must record its wiring (``meta["wiring"]``); an older file's assumed wiring is
    used with a one-line warning on stderr. ``mnist=True`` also refuses a network that does not
    take 784 pixels to 10 classes, or a data set the command does not know.
    """
    from ..io import load
    from ..validation import check_params, layer_sizes_of

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            params, meta = load(path)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise CommandError(str(e), prog=prog) from None
    for w in caught:
        say(f"{prog}: warning: {w.message}", file=sys.stderr)
    if meta["wiring"] is None:
        raise CommandError(f"{path!r} does not record how its network is wired (it was saved without wiring=); "
                           "save it again with fastnn.save(path, params, wiring={'activation': ..., "
                           "'output_activation': ..., 'loss': ...}) or with the history train() returned", prog=prog)
    meta.setdefault("layer_sizes", list(layer_sizes_of(check_params(params))))  # a file from before it was recorded
    if not mnist:
        return params, meta
    sizes = meta["layer_sizes"]
    if sizes[0] != N_PIXELS or sizes[-1] != N_CLASSES:
        raise CommandError(f"{path!r} is a {'-'.join(map(str, sizes))} network; "
                           f"the fastnn command works with {N_PIXELS} inputs and {N_CLASSES} classes", prog=prog)
    if meta.get("dataset") is not None and meta["dataset"] not in TITLES:
        raise CommandError(f"{path!r} records the data set {meta['dataset']!r}; the fastnn command knows "
                           f"{', '.join(TITLES)}", prog=prog)
    return params, meta


def load_data(path: str | None, dataset: str, dtype: str = "float32"
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(X_train, y_train), (X_test, y_test)`` of MNIST or Fashion-MNIST, or a CommandError."""
    from ..datasets import DatasetNotFoundError, load_mnist

    try:
        return load_mnist(path, fashion=dataset == "fashion-mnist", dtype=dtype)
    except DatasetNotFoundError as e:  # several lines: every place tried, and how to supply the files
        raise CommandError(f"{e}\n  - or give the folder to this command as --data DIR.") from None
    except (OSError, ValueError) as e:  # ChecksumError, bad path, corrupt file
        raise CommandError(str(e)) from None


def dataset_of(args: argparse.Namespace, meta: dict) -> str:
    """The data set a command works on: ``--dataset``, else the model's own."""
    return args.dataset or meta.get("dataset", "mnist")


def class_names(meta: dict) -> tuple[str, ...]:
    return FASHION_CLASSES if meta.get("dataset") == "fashion-mnist" else tuple(str(i) for i in range(N_CLASSES))


def forward_options(meta: dict) -> dict[str, str]:
    """``activation=`` and ``output_activation=`` of the model as its file records it (``meta["wiring"]``
    from :func:`load_model`), for :func:`fastnn.predict` and :func:`fastnn.predict_proba`.

    A hand-made ``meta`` without a wiring record must name both explicitly (``output_activation``,
    or ``output`` as a model file's plain field spells it); nothing is defaulted.
    """
    wiring = meta.get("wiring")
    if not wiring:  # a hand-made meta: its own names, a file's plain "output" field read as output_activation
        wiring = {"output_activation": meta["output"], **meta} if "output" in meta else meta
    missing = [k for k in ("activation", "output_activation") if k not in wiring]
    if missing:
        raise KeyError(f"the model's metadata names no {' and no '.join(missing)}; load it with load_model()")
    return {"activation": wiring["activation"], "output_activation": wiring["output_activation"]}


def scores_of(params: dict, meta: dict, image: np.ndarray) -> np.ndarray:
    """The network's output for one prepared (28, 28) image: a vector of class scores."""
    from ..network import predict_proba

    return predict_proba(params, image.reshape(1, N_PIXELS).astype(params["W1"].dtype), **forward_options(meta))[0]


def describe_model(path: str, meta: dict) -> str:
    sizes = "-".join(map(str, meta.get("layer_sizes", [])))
    wiring = meta["wiring"]
    text = (f"{path}: {sizes} ({wiring['activation']} hidden, {wiring['output_activation']} output, "
            f"{wiring['loss']} loss)")
    history = meta.get("history") or {}
    epochs = len(history.get("epoch", []))
    if epochs:
        n = meta.get("train_samples")
        what = f"{n:,} {TITLES.get(meta.get('dataset') or '', 'training')} images" if n else "its training set"
        text += f", trained {epochs} epoch{'s' * (epochs != 1)} on {what}"
        if meta.get("interrupted"):
            text += " (interrupted)"
    return text
