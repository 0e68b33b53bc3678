"""Distortion throughput (issue 9): images per second on 10,000 MNIST-shaped images.

Run:  python -m pytest bench/bench_augment.py --benchmark-only
Real MNIST digits are used when fastnn.datasets and $FASTNN_DATA are available, else synthetic
digit-like strokes. Each result's extra_info holds images_per_s (from the median); the NumPy
twin runs on fewer images, for the ratio. With --benchmark-disable (CI) each body runs once on
N_QUICK images and checks what it computed instead of timing it.
"""
import os

import numpy as np
import pytest

from fastnn.augment import Distortion, distort_numpy

N = 10_000
N_TWIN = 500
N_QUICK = 200


def synthetic_digits(n, seed=0):
    """Two or three thick anti-aliased strokes per image inside the central 20x20 box."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    X = np.zeros((n, 28, 28), np.float32)
    for _ in range(3):
        a = rng.uniform(5, 22, size=(n, 2, 1, 1)).astype(np.float32)
        b = rng.uniform(5, 22, size=(n, 2, 1, 1)).astype(np.float32)
        ab = b - a
        t = ((xx - a[:, 0]) * ab[:, 0] + (yy - a[:, 1]) * ab[:, 1]) / ((ab**2).sum(axis=1) + 1e-6)
        t = np.clip(t, 0, 1)
        dist = np.hypot(xx - a[:, 0] - t * ab[:, 0], yy - a[:, 1] - t * ab[:, 1])
        X = np.maximum(X, np.clip(1.8 - dist, 0, 1))
    return X.reshape(n, 784)


@pytest.fixture(scope="module")
def images():
    if os.environ.get("FASTNN_DATA"):
        try:
            from fastnn.datasets import load_mnist

            (X, _), _ = load_mnist(os.environ["FASTNN_DATA"])
            return "mnist", np.ascontiguousarray(X[:N], dtype=np.float32)
        except ImportError:
            pass
    return "synthetic", synthetic_digits(N)


CASES = {
    "affine": Distortion(elastic_alpha=0.0),
    "elastic": Distortion(rotation=0, scale=0, shear=0, translate=0),
    "affine+elastic": Distortion(),
}


def _record(benchmark, n, source):
    if benchmark.disabled:
        return
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(images=n, data=source, median_s=median, images_per_s=n / median)
    print(f"\n{benchmark.name}: {n / median:,.0f} images/s (median {median * 1e3:.1f} ms, {source})")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_distortion_throughput(benchmark, images, case, dtype):
    source, X = images
    X = X[:N_QUICK] if benchmark.disabled else X
    X = X.astype(dtype)
    dist = CASES[case]
    out = np.empty_like(X)
    dist.apply(X[:10], 0)  # compile (or load from the cache) outside the timing
    seeds = []

    def one_epoch():  # a fresh seed each call, as a trainer would pass (seed, epoch)
        seeds.append(len(seeds))
        return dist.apply(X, seeds[-1], out=out)

    benchmark.group = f"distort {dtype}"
    Y = benchmark.pedantic(one_epoch, rounds=7, warmup_rounds=1)
    _record(benchmark, len(X), source)
    # what was timed did the work: every image moved, values in range, reproducible
    assert Y is out and Y.dtype == X.dtype
    assert 0 <= Y.min() and Y.max() <= 1
    assert (np.abs(Y - X).max(axis=1) > 0).all()
    np.testing.assert_array_equal(Y[:20], dist.apply(X[:20], seeds[-1]))


@pytest.mark.parametrize("case", ["affine", "affine+elastic"])
def test_numpy_twin_throughput(benchmark, images, case):
    source, X = images
    X = X[:N_QUICK if benchmark.disabled else N_TWIN].astype(np.float64)
    dist = CASES[case]
    transforms = dist.draw(len(X), 0)
    benchmark.group = "distort float64"
    Y = benchmark.pedantic(
        lambda: distort_numpy(X, transforms, 0, alpha=dist.elastic_alpha, sigma=dist.elastic_sigma), rounds=3
    )
    _record(benchmark, len(X), source)
    np.testing.assert_allclose(Y, dist.apply(X, 0), rtol=0, atol=1e-12)  # the twin agrees with the kernel
