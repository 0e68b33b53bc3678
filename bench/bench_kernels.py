"""fastnn's kernels against their NumPy twins, one group per kernel (issue 5).

- ReLU mask (the backward step ``delta * (a > 0)``) and the softmax cross-entropy gradient
  ``(p - t) / n``, on a mini-batch of 128 rows;
- the batched forward pass of 784-128-64-10 on 1,000 rows, with MNIST's sparse rows
  (about 81% zeros) and with dense rows (BLAS does not care: the times should match);
- the fused per-sample SGD epoch on 1,000 samples, sparse and dense input, against the
  pure-NumPy per-sample loop: the kernel skips zero pixels and inactive ReLU units.

Each body also checks its result against an independent computation.
Run:  FASTNN_DATA=../shared/mnist python -m pytest bench/bench_kernels.py
"""
import numpy as np
import pytest

import peers
from fastnn import forward
from fastnn.activations import relu_derivative
from fastnn.kernels import elementwise

BATCH, UNITS, CLASSES = 128, 256, 10
EPOCH_SAMPLES = 1_000


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


# -- ReLU mask ------------------------------------------------------------------------------

RELU_GROUP = f"kernel: ReLU mask, {BATCH}x{UNITS} float32"


@pytest.fixture(scope="module")
def relu_arrays(rng):
    a = np.maximum(rng.standard_normal((BATCH, UNITS)), 0).astype(np.float32)  # a ReLU output: half zeros
    delta = rng.standard_normal((BATCH, UNITS)).astype(np.float32)
    return a, delta, np.where(a > 0, delta, 0).astype(np.float32)


def test_relu_mask_kernel(benchmark, relu_arrays):
    a, delta, expected = relu_arrays
    out = np.empty_like(delta)
    elementwise.relu_mask_grad(delta.ravel(), a.ravel(), out.ravel())  # compiled (or cached) before timing
    benchmark.group = RELU_GROUP
    benchmark(elementwise.relu_mask_grad, delta.ravel(), a.ravel(), out.ravel())
    np.testing.assert_array_equal(out, expected)


def test_relu_mask_numpy(benchmark, relu_arrays):
    a, delta, expected = relu_arrays
    benchmark.group = RELU_GROUP
    np.testing.assert_array_equal(benchmark(relu_derivative, a, delta), expected)


# -- softmax cross-entropy gradient -----------------------------------------------------------

XENT_GROUP = f"kernel: softmax cross-entropy gradient, {BATCH}x{CLASSES} float32"


@pytest.fixture(scope="module")
def xent_arrays(rng):
    z = rng.standard_normal((BATCH, CLASSES))
    p = (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)).astype(np.float32)
    t = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, BATCH)]
    expected = np.array([[(p[i, j] - t[i, j]) / BATCH for j in range(CLASSES)] for i in range(BATCH)])
    return p, t, expected


def test_softmax_xent_grad_kernel(benchmark, xent_arrays):
    p, t, expected = xent_arrays
    out = np.empty_like(p)
    elementwise.softmax_xent_grad(p, t, out)
    benchmark.group = XENT_GROUP
    benchmark(elementwise.softmax_xent_grad, p, t, out)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-9)


def test_softmax_xent_grad_numpy(benchmark, xent_arrays):
    p, t, expected = xent_arrays
    benchmark.group = XENT_GROUP
    np.testing.assert_allclose(benchmark(lambda: (p - t) / len(p)), expected, rtol=1e-6, atol=1e-9)


# -- batched forward, sparse and dense rows -------------------------------------------------------

FORWARD_GROUP = f"kernel: forward 784-128-64-10, {EPOCH_SAMPLES:,} rows"


@pytest.fixture(scope="module")
def inputs(mnist, rng):
    """``{"sparse": MNIST rows, "dense": uniform rows}``, float32, with MNIST's labels."""
    (X, y), _ = mnist
    X = np.ascontiguousarray(X[:EPOCH_SAMPLES])
    dense = rng.uniform(0.0, 1.0, X.shape).astype(np.float32)
    return {"sparse": X, "dense": dense}, np.ascontiguousarray(y[:EPOCH_SAMPLES])


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_forward(benchmark, inputs, kind):
    X = inputs[0][kind]
    params = peers.make_workload(X, inputs[1]).params
    benchmark.group = FORWARD_GROUP
    benchmark.name = f"forward, {kind} input ({np.mean(X == 0):.0%} zeros)"
    out, _ = benchmark(forward, params, X)
    h = X
    for l in (1, 2):  # an independent forward in float64
        h = np.maximum(h @ params[f"W{l}"].astype(np.float64) + params[f"b{l}"], 0)
    z = h @ params["W3"].astype(np.float64) + params["b3"]
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(out, expected / expected.sum(axis=1, keepdims=True), atol=1e-5)


# -- the fused per-sample epoch --------------------------------------------------------------------

EPOCH_GROUP = f"kernel: fused per-sample SGD epoch, {EPOCH_SAMPLES:,} samples, 784-128-64-10"


@pytest.fixture(scope="module")
def epoch_workloads(inputs):
    (Xs, y) = inputs
    return {kind: peers.make_workload(X, y) for kind, X in Xs.items()}


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_fused_epoch_kernel(benchmark, epoch_workloads, kind):
    w = epoch_workloads[kind]
    impl = peers.FastnnKernel(w)
    benchmark.group = EPOCH_GROUP
    benchmark.name = f"fused kernel, {kind} input ({np.mean(w.X == 0):.0%} zeros)"
    result = benchmark.pedantic(impl.epoch, setup=impl.reset, rounds=20, warmup_rounds=1)
    assert result.steps == EPOCH_SAMPLES and np.isfinite(result.loss)
    reference = peers.NumpyTwin(w).epoch().params
    for key in reference:
        np.testing.assert_allclose(result.params[key], reference[key], atol=1e-4, err_msg=key)


def test_fused_epoch_numpy_twin(benchmark, epoch_workloads):
    w = epoch_workloads["sparse"]
    impl = peers.NumpyTwin(w)
    benchmark.group = EPOCH_GROUP
    benchmark.name = "NumPy per-sample twin, sparse input"
    params = benchmark.pedantic(impl.epoch, rounds=3).params
    assert set(params) == set(w.params)
    assert all(np.isfinite(v).all() and not np.array_equal(v, w.params[k]) for k, v in params.items())
