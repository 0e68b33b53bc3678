"""``fastnn plot``: PNGs of the learning curves, the confusion matrix and misclassified digits."""
from __future__ import annotations

import argparse
import os
import sys

from .common import (EXIT_OK, FASHION_CLASSES, N_CLASSES, TITLES, CommandError, data_option,
                     dataset_of, dataset_option, load_data, load_model, model_argument, positive_float,
                     positive_int, say, forward_options)


def run(args: argparse.Namespace) -> int:
    from ..metrics import confusion_matrix
    from ..network import predict

    try:
        from .. import plotting

        plotting.new_figure("learning_curves", args.dpi)  # fails early without matplotlib or with a bad dpi
    except (ImportError, ValueError) as e:
        raise CommandError(str(e)) from None
    params, meta = load_model(args.model, prog="fastnn plot")
    dataset = dataset_of(args, meta)
    _, (X_test, y_test) = load_data(args.data, dataset, meta.get("dtype", "float32"))
    try:
        os.makedirs(args.output_dir, exist_ok=True)
    except OSError as e:
        raise CommandError(f"cannot create the output folder {args.output_dir!r}: {e.strerror}") from None
    names = FASHION_CLASSES if dataset == "fashion-mnist" else None
    pred = predict(params, X_test, **forward_options(meta))
    name = os.path.basename(args.model)
    history = meta.get("history") or {}
    out = args.output_dir
    try:
        if history.get("epoch"):
            path = plotting.plot_learning_curves(
                history, os.path.join(out, "learning_curves.png"), dpi=args.dpi,
                title=f"{name}: {'-'.join(map(str, meta['layer_sizes']))} on {TITLES[dataset]}")
            say(f"wrote {path}")
        else:
            say(f"{args.model} has no training history; skipping the learning curves", file=sys.stderr)
        path = plotting.plot_confusion_matrix(confusion_matrix(y_test, pred, N_CLASSES),
                                              os.path.join(out, "confusion_matrix.png"), labels=names, dpi=args.dpi)
        say(f"wrote {path}")
        path = plotting.plot_misclassified(X_test, y_test, pred, os.path.join(out, "misclassified.png"),
                                           labels=names, max_images=args.max_images, dpi=args.dpi)
        say(f"wrote {path}")
    except (ValueError, TypeError) as e:  # e.g. a history that is not train()'s
        raise CommandError(f"cannot plot {args.model!r}: {e}") from None
    except OSError as e:
        raise CommandError(f"cannot write to {out!r}: {e.strerror or e}") from None
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = sub.add_parser("plot", help="PNGs of learning curves, confusion matrix and misclassified digits")
    model_argument(g)
    g.add_argument("-o", "--output-dir", default=".", metavar="DIR",
                   help="folder for learning_curves.png, confusion_matrix.png, misclassified.png, replaced if present "
                        "(default: the current folder)")
    data_option(g)
    dataset_option(g)
    g.add_argument("--max-images", type=positive_int, default=36,
                   help="misclassified digits to show (default: %(default)s)")
    g.add_argument("--dpi", type=positive_float, default=100.0, help="resolution of the PNGs (default: %(default)s)")
    g.set_defaults(run=run)
