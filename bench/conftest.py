"""Benchmark fixtures: MNIST, the reference workload, quick mode, peers, and a summary.

Quick mode: with ``--benchmark-disable`` (as in CI) every benchmark body runs once, as a
test, on a small workload (``QUICK_SAMPLES``) so the run stays fast; the bodies assert
what they computed (every sample visited, finite loss, accuracy above chance, agreement
with fastnn's kernel). Full mode: the reference workload on 60,000 samples, or
``--bench-samples N``.
"""
import fnmatch
import os
import pathlib

import pytest

import peers

BENCH_DIR = pathlib.Path(__file__).resolve().parent
FULL_SAMPLES = 60_000
QUICK_SAMPLES = 1_000


def pytest_addoption(parser):
    group = parser.getgroup("fastnn benchmarks")
    group.addoption("--bench-samples", type=int, default=None, metavar="N",
                    help=f"training samples per epoch in the epoch benchmarks (default {FULL_SAMPLES:,}; "
                         f"{QUICK_SAMPLES:,} with --benchmark-disable)")


def pytest_collect_file(file_path, parent):
    """Collect bench/bench_*.py even when pyproject's ``python_files`` does not name them.

    Does nothing for a file pytest collects by itself (named on the command line, or
    matched by ``python_files``), so a file is never collected twice.
    """
    if file_path.suffix != ".py" or not file_path.name.startswith("bench_") or file_path.parent != BENCH_DIR:
        return None
    patterns = parent.config.getini("python_files")
    if parent.session.isinitpath(file_path) or any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
        return None
    return pytest.Module.from_parent(parent, path=file_path)


def is_quick(config):
    """True when benchmarks are disabled: bodies run once, as tests, on a small workload."""
    return bool(config.getoption("benchmark_disable", False)) and not config.getoption("benchmark_enable", False)


@pytest.fixture(scope="session")
def quick(request):
    return is_quick(request.config)


@pytest.fixture(scope="session")
def n_samples(request, quick):
    given = request.config.getoption("bench_samples")
    return given if given is not None else (QUICK_SAMPLES if quick else FULL_SAMPLES)


def _data_required():
    return os.environ.get("FASTNN_REQUIRE_DATA", "") not in ("", "0") or os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def mnist():
    """``(X_train, y_train), (X_test, y_test)`` from ``$FASTNN_DATA``.

    Skips when unavailable on a developer machine; fails in CI (``CI=true``) or with
    ``FASTNN_REQUIRE_DATA=1``, like the tests' fixture.
    """
    try:
        return peers.load_mnist_arrays()
    except (ImportError, OSError, ValueError) as exc:
        msg = (f"MNIST not available ({type(exc).__name__}: {exc}); "
               "set FASTNN_DATA to the folder of the four MNIST .gz files")
        if _data_required():
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def workload(mnist, n_samples):
    """The reference workload (784-128-64-10, lr 0.01, seed 0) on ``n_samples`` training rows."""
    (X, y), _ = mnist
    return peers.make_workload(X, y, n_samples=n_samples)


@pytest.fixture(scope="session")
def mnist_test(mnist, quick):
    """Test images and labels for accuracy checks (the first 2,000 in quick mode)."""
    _, (Xt, yt) = mnist
    return (Xt[:2000], yt[:2000]) if quick else (Xt, yt)


# -- one summary of what the benchmarks measured, after pytest-benchmark's tables ------------

_LINES = {}


@pytest.fixture(scope="session")
def summary():
    """``summary(group, line)``: a line printed under ``group`` at the end of the run."""
    return lambda group, line: _LINES.setdefault(group, []).append(line)


def pytest_terminal_summary(terminalreporter):
    if not _LINES:
        return
    tr = terminalreporter
    tr.section("fastnn benchmark summary")
    for group, lines in _LINES.items():
        tr.write_line(group)
        for line in lines:
            tr.write_line(f"  {line}")
