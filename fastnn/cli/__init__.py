"""The ``fastnn`` command (also ``python -m fastnn``): train, evaluate, predict, plot, export, serve.

Each command is a module of this package with ``add_parser(subparsers)`` and ``run(args)``;
what they share (exit codes, :class:`~fastnn.cli.common.CommandError`, argument types, loading
models and data) is in :mod:`fastnn.cli.common`.

Exit status: 0 success; 1 training diverged; 2 bad input (a one-line message on
stderr, no traceback); 130 interrupted by Ctrl-C.
"""
from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from ..progress import EpochProgress, epoch_line
from .common import EXIT_INTERRUPTED, EXIT_USAGE, EXIT_FAILURE, CommandError, Parser, load_data, say
from .predict import format_probability
from .train import default_lr, interrupted_path, make_optimizer, make_schedule, parse_spec

COMMANDS = ("train", "evaluate", "predict", "plot", "export", "serve")
"""The subcommands, each a module of this package, in the order ``fastnn --help`` lists them."""

__all__ = ["main", "build_parser", "COMMANDS", "CommandError", "EpochProgress", "epoch_line", "load_data",
           "default_lr", "interrupted_path", "make_optimizer", "make_schedule", "parse_spec"]


def build_parser() -> Parser:
    """The ``fastnn`` argument parser, with one subparser per module in :data:`COMMANDS`.

    Examples
    --------
    >>> from fastnn.cli import build_parser
    >>> args = build_parser().parse_args(["train", "--layers", "128", "--epochs", "2"])
    >>> args.command, args.layers, args.epochs
    ('train', [128], 2)
    """
    from .._version import __version__

    parser = Parser(prog="fastnn", description="Train, evaluate and use MNIST classifiers with fastnn.")
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int | str | None:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Examples
    --------
    >>> from fastnn.cli import main
    >>> main(["--version"])                          # doctest: +ELLIPSIS
    fastnn ...
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # name the subcommand, whose --help lists its options
            prog = f"fastnn {args.command}"
            raise CommandError(f"unrecognized arguments: {' '.join(extra)} (see '{prog} --help')", prog=prog)
        args.argv = argv
        return args.run(args)
    except CommandError as e:
        say(f"{e.prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help, --version
        return e.code
    except KeyboardInterrupt:
        say("fastnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. fastnn evaluate m.npz | head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
