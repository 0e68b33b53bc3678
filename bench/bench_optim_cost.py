"""What L2 decay, dropout and the dense optimizers cost in the per-sample path (issue 6).

One epoch of the reference workload (784-128-64-10, per-sample, lr 0.01) with plain SGD,
SGD + L2 (a lazy per-layer scale: no pass over the weights), SGD + dropout 0.2, and the
rules that must touch every weight at every step (momentum, Adam). Each is a benchmark in
the group "per-sample options"; the summary prints each one's ratio to plain SGD.

Run:  FASTNN_DATA=../shared/mnist python -m pytest bench/bench_optim_cost.py --benchmark-only
      (add --bench-samples 6000 for the dense rules, which take seconds per epoch)
With --benchmark-disable (CI) each trains once on the quick workload and checks the result.
"""
import numpy as np
import pytest

import fastnn

VARIANTS = {
    "sgd": {},
    "sgd+l2": {"l2": 1e-4},
    "sgd+dropout": {"dropout": 0.2},
    "momentum": {"optimizer": "momentum"},
    "adam": {"optimizer": "adam", "lr": 1e-3},
}
_MEDIANS = {}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_per_sample_option_cost(benchmark, workload, quick, summary, name):
    benchmark.group = "per-sample options"
    kwargs = {"lr": workload.lr, **VARIANTS[name]}

    def epoch():
        return fastnn.train(workload.params, workload.X, workload.y, epochs=1, seed=workload.seed, **kwargs)

    params, history = benchmark.pedantic(epoch, rounds=1 if quick else 3, iterations=1)
    assert all(np.isfinite(v).all() for v in params.values())
    assert history["accuracy"][0] > 0.3
    if benchmark.stats is not None:
        _MEDIANS[name] = benchmark.stats.stats.median
        if "sgd" in _MEDIANS and name != "sgd":
            summary("per-sample options", f"{name}: {_MEDIANS[name] / _MEDIANS['sgd']:.2f}x plain SGD's epoch")
