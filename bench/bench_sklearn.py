"""fastnn.sklearn.MLPClassifier against scikit-learn's MLPClassifier, same data and settings (issue 14).

Both estimators train the reference network (784-128-64-10, ReLU, softmax cross-entropy)
by plain per-sample SGD (``solver="sgd"``, ``batch_size=1``, no momentum, no L2,
constant lr 0.01, shuffled) for ``EPOCHS`` epoch(s) of MNIST, through ``fit``; the
summary gives each one's seconds per epoch, its ratio to fastnn's, and the test accuracy.

Run:  FASTNN_DATA=../shared/mnist python -m pytest bench/bench_sklearn.py --benchmark-only
      (60,000 samples by default; --bench-samples N for fewer: scikit-learn's per-sample epoch is slow)
With --benchmark-disable (CI) each fits once on the quick workload (1,000 samples) and checks
the accuracy.
"""
import warnings

import numpy as np
import pytest

from sklearn.exceptions import ConvergenceWarning  # scikit-learn is in the test extra: CI runs this
from sklearn.neural_network import MLPClassifier as SklearnMLP

from fastnn.sklearn import MLPClassifier

EPOCHS = 1
SETTINGS = dict(hidden_layer_sizes=(128, 64), activation="relu", solver="sgd", alpha=0.0, batch_size=1,
                learning_rate="constant", learning_rate_init=0.01, max_iter=EPOCHS, shuffle=True, random_state=0,
                momentum=0.0)
CONTENDERS = {
    "fastnn.sklearn.MLPClassifier": lambda: MLPClassifier(**SETTINGS),
    "sklearn.neural_network.MLPClassifier": lambda: SklearnMLP(**SETTINGS, nesterovs_momentum=False),
}
_SECONDS = {}


@pytest.mark.parametrize("name", list(CONTENDERS))
def test_sklearn_estimator_epoch(benchmark, mnist, n_samples, mnist_test, quick, summary, name):
    benchmark.group = "sklearn estimators, per-sample SGD"
    (X, y), _ = mnist
    X, y = X[:n_samples], y[:n_samples]
    Xt, yt = mnist_test

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the epoch count here
            return CONTENDERS[name]().fit(X, y)

    ours = name.startswith("fastnn")
    # fastnn: 3 rounds after one warm-up (the Numba cache load); scikit-learn: one round (a minute per epoch)
    est = benchmark.pedantic(fit, rounds=3 if ours and not quick else 1, warmup_rounds=int(ours and not quick),
                             iterations=1)
    acc = est.score(Xt, yt)
    assert est.n_iter_ == EPOCHS and np.isfinite(est.loss_curve_[-1])
    assert acc > (0.7 if quick else 0.9)
    if benchmark.stats is not None:
        seconds = benchmark.stats.stats.median / EPOCHS
        _SECONDS[name] = seconds
        ratio = f", {seconds / _SECONDS['fastnn.sklearn.MLPClassifier']:.1f}x fastnn's time" \
            if name != "fastnn.sklearn.MLPClassifier" and "fastnn.sklearn.MLPClassifier" in _SECONDS else ""
        summary("sklearn estimators, per-sample SGD",
                f"{name}: {seconds:.3f} s/epoch on {len(X):,} samples{ratio}, test accuracy {100 * acc:.2f}%")
