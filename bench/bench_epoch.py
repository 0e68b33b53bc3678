"""One epoch of the reference workload, for fastnn and every installed peer (issue 5).

MNIST 60,000, float32, 784-128-64-10, ReLU, softmax cross-entropy, per-sample SGD, lr 0.01.
All implementations start from the same fastnn ``init_params(seed=0)``; all but
``fastnn train()`` and scikit-learn (which shuffle with their own generators) also visit
the samples in the same order, so they must agree with fastnn's kernel: the same weights
after 1,000 samples (quick mode), the same test accuracy and mean loss after a full epoch.
JAX's compile time is excluded and reported apart.

Run:  FASTNN_DATA=../shared/mnist python -m pytest bench/bench_epoch.py
For a side-by-side table in one process, interleaved, see ``python bench/compare.py``.
"""
import numpy as np
import pytest

import peers

ROUNDS = {"fastnn": 5, "kernel": 5, "jax": 5, "torch": 2, "sklearn": 1, "numpy": 1, "numpy-loop": 1}
"""Rounds per implementation: on this 2-core machine one epoch takes ~25 s for the NumPy
twin, ~30 s for PyTorch and ~40 s for scikit-learn (compare.py runs more rounds)."""

SAME_ORDER = ("kernel", "numpy", "numpy-loop", "jax", "torch")
"""Implementations that visit the samples in the workload's order: same weights as the kernel."""

WEIGHT_ATOL = 1e-4
"""Largest weight difference tolerated against the kernel after 1,000 samples (quick mode).
Over a full epoch float32 trajectories that round differently drift apart (max weight
difference ~0.2 after 60,000 steps, the kernel in float64 as far from both), so a full
epoch is held to the kernel's test accuracy and mean loss instead."""


@pytest.fixture(scope="module")
def kernel_reference(workload):
    """The bare kernel's epoch on the workload: the weights the same-order peers must reach."""
    impl = peers.FastnnKernel(workload)
    impl.reset()
    return impl.epoch()


@pytest.mark.parametrize("name", list(peers.IMPLEMENTATIONS))
def test_reference_epoch(benchmark, name, workload, mnist_test, quick, kernel_reference, summary):
    if peers.missing_reason(name):
        pytest.skip(peers.missing_reason(name))
    n = len(workload.order)
    impl = peers.IMPLEMENTATIONS[name](workload)  # converts and compiles: not timed
    benchmark.group = f"epoch: reference workload, {n:,} samples, 784-128-64-10 per-sample SGD"
    benchmark.name = impl.title
    result = benchmark.pedantic(impl.epoch, setup=impl.reset, rounds=1 if quick else ROUNDS[name])

    assert result.steps == n, f"{impl.title} visited {result.steps} of {n} samples"
    assert np.isnan(result.loss) if name == "numpy" else np.isfinite(result.loss)
    for key, value in result.params.items():
        assert value.shape == workload.params[key].shape and np.isfinite(value).all(), key
    acc = peers.evaluate_accuracy(result.params, *mnist_test)
    assert acc > (0.5 if quick else 0.9), f"{impl.title}: test accuracy {acc:.3f} after one epoch"
    if name in SAME_ORDER and quick:
        worst = max(float(np.max(np.abs(result.params[k] - kernel_reference.params[k]))) for k in result.params)
        assert worst < WEIGHT_ATOL, f"{impl.title} ends {worst:.2e} away from fastnn's kernel"
    elif name in SAME_ORDER:
        kernel_acc = peers.evaluate_accuracy(kernel_reference.params, *mnist_test)
        assert abs(acc - kernel_acc) < 0.01, f"{impl.title}: test accuracy {acc:.4f}, kernel's {kernel_acc:.4f}"
        if np.isfinite(result.loss):
            assert abs(result.loss / kernel_reference.loss - 1) < 0.05, (result.loss, kernel_reference.loss)

    benchmark.extra_info.update(samples=n, test_accuracy=acc, compile_seconds=impl.compile_seconds)
    if benchmark.enabled:
        median = benchmark.stats.stats.median
        benchmark.extra_info.update(samples_per_s=n / median)
        compile_note = f", compile {impl.compile_seconds:.2f} s apart" if impl.compile_seconds else ""
        summary(benchmark.group, f"{impl.title:40s} {median:8.3f} s  {n / median:10,.0f} samples/s  "
                                 f"test acc {acc:.4f}{compile_note}")
