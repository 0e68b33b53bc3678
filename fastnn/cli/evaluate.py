"""``fastnn evaluate``: test accuracy, a per-class table and the confusion matrix of a saved model."""
from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from .common import (EXIT_OK, FASHION_CLASSES, N_CLASSES, TITLES, data_option, dataset_of,
                     dataset_option, describe_model, forward_options, load_data, load_model, model_argument,
                     say)


def _percent(num: float, den: float) -> str:
    return f"{100 * num / den:.2f}%" if den else "-"


def class_report(cm: np.ndarray, names: Sequence[str]) -> list[str]:
    """Lines of a per-class precision / recall / F1 table from a confusion matrix."""
    width = max(5, max(map(len, names)))
    lines = [f"{'class':>{width}}  {'precision':>9}  {'recall':>7}  {'f1':>7}  {'support':>7}"]
    for k, name in enumerate(names):
        tp, predicted, support = cm[k, k], cm[:, k].sum(), cm[k, :].sum()
        f1 = _percent(2 * tp, predicted + support)
        precision, recall = _percent(tp, predicted), _percent(tp, support)
        lines.append(f"{name:>{width}}  {precision:>9}  {recall:>7}  {f1:>7}  {support:>7,}")
    return lines


def confusion_lines(cm: np.ndarray, names: Sequence[str]) -> list[str]:
    """Lines of the confusion matrix, columns right-aligned (rows: true class, columns: predicted)."""
    short = [str(i) for i in range(len(names))]
    cell = max(len(f"{cm.max():,}"), 2)
    row_label = max(map(len, names))
    lines = [" " * row_label + "  " + " ".join(f"{s:>{cell}}" for s in short)]
    for k, name in enumerate(names):
        lines.append(f"{name:>{row_label}}  " + " ".join(f"{v:>{cell},}" for v in cm[k]))
    return lines


def run(args: argparse.Namespace) -> int:
    from ..metrics import confusion_matrix
    from ..network import predict

    params, meta = load_model(args.model, prog="fastnn evaluate")
    dataset = dataset_of(args, meta)
    _, (X_test, y_test) = load_data(args.data, dataset, meta.get("dtype", "float32"))
    pred = predict(params, X_test, **forward_options(meta))
    cm = confusion_matrix(y_test, pred, N_CLASSES)
    correct = int(np.trace(cm))
    names = FASHION_CLASSES if dataset == "fashion-mnist" else tuple(map(str, range(N_CLASSES)))
    say(describe_model(args.model, meta))
    say(f"{TITLES[dataset]} test set: accuracy {_percent(correct, len(y_test))} "
        f"({correct:,} of {len(y_test):,}; {len(y_test) - correct:,} errors)")
    say()
    say("\n".join(class_report(cm, names)))
    say()
    say("confusion matrix (rows: true class, columns: predicted class)")
    if dataset == "fashion-mnist":
        say("columns: " + ", ".join(f"{i} {s}" for i, s in enumerate(names)))
    say("\n".join(confusion_lines(cm, names)))
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    e = sub.add_parser("evaluate", help="test accuracy, per-class table and confusion matrix")
    model_argument(e)
    data_option(e)
    dataset_option(e)
    e.set_defaults(run=run)
