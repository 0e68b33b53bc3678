"""Shared fixtures: where the MNIST files are, and whether their absence is a failure."""
import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _data_required():
    return os.environ.get("FASTNN_REQUIRE_DATA", "") not in ("", "0") or os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def mnist_dir():
    """Folder holding the four MNIST IDX files, from $FASTNN_DATA.

    Skips when absent on a developer machine; fails in CI (``CI=true``) or with
    ``FASTNN_REQUIRE_DATA=1``, because a missing data set must not pass silently there.
    """
    folder = os.environ.get("FASTNN_DATA")
    if folder:
        folder = pathlib.Path(folder)
        if not folder.is_absolute():
            folder = (REPO / folder).resolve() if (REPO / folder).exists() else folder.resolve()
    if not folder or not (folder / "train-images-idx3-ubyte.gz").exists() and not (folder / "train-images-idx3-ubyte").exists():
        msg = f"MNIST not found (FASTNN_DATA={os.environ.get('FASTNN_DATA')!r}); set FASTNN_DATA=../shared/mnist"
        if _data_required():
            pytest.fail(msg)
        pytest.skip(msg)
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """``(X_train, y_train), (X_test, y_test)`` as float32 in [0, 1] and int64, loaded once."""
    from fastnn.datasets import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _no_real_mirrors(monkeypatch):
    """No test may reach the internet: every download mirror points at a closed local port."""
    import fastnn.datasets

    closed = "http://127.0.0.1:9/"
    monkeypatch.setattr(fastnn.datasets, "MIRRORS", {name: [closed] for name in fastnn.datasets.MIRRORS})


def _hypothesis_profiles():
    """In CI, hypothesis replays the same examples every run (derandomize), so a run is red
    only for a change in the code; locally it explores new examples each time."""
    try:
        from hypothesis import settings
    except ImportError:
        return
    settings.register_profile("ci", derandomize=True)
    if os.environ.get("CI") == "true":
        settings.load_profile("ci")


_hypothesis_profiles()


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def blas_threads(monkeypatch):
    """``(now, watch)``: ``now()`` lists the BLAS libraries' thread counts; ``watch(module, name)``
    wraps ``module.name`` so that each call records ``now()`` first, and returns the list it fills.
    Skips where BLAS runs on one thread anyway (nothing to limit)."""
    if max(_blas_threads() or [1]) < 2:
        pytest.skip("BLAS runs on one thread here anyway")

    def watch(module, name):
        seen, real = [], getattr(module, name)

        def spy(*args, **kwargs):
            seen.append(_blas_threads())
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
        return seen

    return _blas_threads, watch
