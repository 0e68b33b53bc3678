"""fastnn's estimators with every argument at its default against scikit-learn's on small tables (issue 28).

For each table (scikit-learn's bundled data sets and generated ones, split with
``train_test_split(test_size=0.25, random_state=0)``) it fits, alternating the contenders within
each repeat: ``fastnn.sklearn.MLPClassifier()`` / ``MLPRegressor()``, scikit-learn's
``MLPClassifier()`` / ``MLPRegressor()``, and a linear model (``LogisticRegression(max_iter=5000)``
/ ``Ridge()``), all with ``random_state=0`` where they take one, and prints each one's test score
(accuracy or R^2) and median fit time, with the goal of issue 28: a classifier within 0.02 of the
better of scikit-learn's MLP and the linear model, a regressor within 0.05 R^2 of scikit-learn's MLP
and above 0. A first fit before the tables loads fastnn's compiled kernels (from Numba's cache, or
compiles them); its time is reported on its own and is not part of any table's time.

Run on an idle machine (``uptime`` first):

    python bench/tabular.py                 # writes bench/results/tabular.json
    python bench/tabular.py --repeats 5 --mnist   # also 10,000 MNIST rows (FASTNN_DATA or the cache)
"""
import argparse
import json
import os
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import sklearn
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine,
                              make_classification, make_friedman1, make_regression)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier, MLPRegressor as SkMLPRegressor

import fastnn
from fastnn.sklearn import MLPClassifier, MLPRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: the shared results helpers
from results_io import cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tabular.json"


def tables(mnist=False):
    """``{name: (kind, X, y)}``, kind 'classification' or 'regression'."""
    out = {"breast_cancer": ("classification", *load_breast_cancer(return_X_y=True)),
           "iris": ("classification", *load_iris(return_X_y=True)),
           "digits": ("classification", *load_digits(return_X_y=True)),
           "wine": ("classification", *load_wine(return_X_y=True))}
    X, y = make_classification(2000, 20, n_informative=10, random_state=0)
    out["make_classification_x100"] = ("classification", X * 100 + 50, y)
    out["diabetes_unscaled"] = ("regression", *load_diabetes(return_X_y=True, scaled=False))
    X, y = make_regression(1000, 20, noise=10, random_state=0)
    out["make_regression_y1000"] = ("regression", X, y * 1000)
    out["friedman1"] = ("regression", *make_friedman1(2000, noise=1.0, random_state=0))
    if mnist:
        from fastnn.datasets import load_mnist

        (X, y), _ = load_mnist()
        out["mnist_10k"] = ("classification", X[:10_000], y[:10_000])
    return out


def contenders(kind):
    if kind == "classification":
        return {"fastnn": lambda: MLPClassifier(random_state=0), "sklearn_mlp": lambda: SkMLPClassifier(random_state=0),
                "linear": lambda: LogisticRegression(max_iter=5000)}
    return {"fastnn": lambda: MLPRegressor(random_state=0), "sklearn_mlp": lambda: SkMLPRegressor(random_state=0),
            "linear": lambda: Ridge()}


def fit_once(make, X, y):
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - start
    return est, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fits of each contender per table (median time)")
    parser.add_argument("--mnist", action="store_true", help="add 10,000 MNIST rows (a sparse-ish table)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (JSON)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    data = tables(args.mnist)
    X, y = load_iris(return_X_y=True)
    _, first_fit = fit_once(lambda: MLPClassifier(max_iter=1, random_state=0), X, y)  # kernels loaded or compiled
    rows = []
    header = f"{'table':26s} {'contender':12s} {'score':>8s} {'fit s':>8s}  goal"
    print(f"first fastnn fit in this process (kernel loading): {first_fit:.2f} s\n{header}\n{'-' * len(header)}")
    for name, (kind, X, y) in data.items():
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
        makes = contenders(kind)
        times = {c: [] for c in makes}
        scores = {}
        for _ in range(args.repeats):
            for c, make in makes.items():  # alternated, so every contender sees the same moments of the host
                est, seconds = fit_once(make, X_train, y_train)
                times[c].append(seconds)
                scores[c] = float(est.score(X_test, y_test))
        if kind == "classification":
            goal = max(scores["sklearn_mlp"], scores["linear"]) - 0.02
        else:
            goal = max(scores["sklearn_mlp"] - 0.05, 0.0)
        for c in makes:
            row = {"table": name, "kind": kind, "n_train": int(len(X_train)), "n_features": int(X.shape[1]),
                   "contender": c, "score": scores[c], "fit_seconds_median": float(np.median(times[c])),
                   "fit_seconds": times[c]}
            if c == "fastnn":
                meets = scores[c] >= goal and (kind == "classification" or scores[c] > 0)
                row.update(goal=goal, meets_goal=bool(meets))
            rows.append(row)
            mark = ("meets" if row["meets_goal"] else "MISSES") + f" {goal:.3f}" if c == "fastnn" else ""
            print(f"{name:26s} {c:12s} {scores[c]:8.4f} {row['fit_seconds_median']:8.3f}  {mark}", flush=True)
    totals = {c: float(sum(r["fit_seconds_median"] for r in rows if r["contender"] == c))
              for c in ("fastnn", "sklearn_mlp", "linear")}
    print(f"\ntotal median fit seconds: " + ", ".join(f"{c} {t:.2f}" for c, t in totals.items())
          + f" (fastnn's first fit, {first_fit:.2f} s, not included)")
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": {"fastnn": getattr(fastnn, "__version__", "unknown"), "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "repeats": args.repeats, "first_fastnn_fit_seconds": first_fit, "total_fit_seconds": totals, "rows": rows,
    }
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
