"""fastnn.scan: what train reads from a dense X before its epochs, against the checks it stands for."""
import numpy as np
import pytest

import fastnn
from fastnn.diagnostics import input_scale_problem
from fastnn.per_sample import DENSITY_ROWS, choose_path, input_density
from fastnn.scan import InputScan, scan_inputs
from fastnn.validation import first_non_finite_row


def _inputs(rng, n, d, dtype, zeros=0.8, scale=1.0):
    X = (scale * rng.normal(size=(n, d))).astype(dtype)
    X[rng.random((n, d)) < zeros] = 0.0
    X[rng.random((n, d)) < 0.05] = -0.0  # zero, however its sign bit is set
    return X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, d", [(1, 1), (7, 3), (1000, 784), (2 * DENSITY_ROWS + 5, 9), (5 * DENSITY_ROWS - 1, 4)])
def test_scan_finds_what_the_separate_checks_find(dtype, n, d):
    rng = np.random.default_rng(n * d)
    for zeros, scale in ((0.0, 1.0), (0.8, 1.0), (0.5, 3e4), (1.0, 1.0), (0.9, 1e-30)):
        X = _inputs(rng, n, d, dtype, zeros, scale)
        got = scan_inputs(X)
        assert got == InputScan(first_non_finite_row(X), input_density(X), float(np.abs(X).max()))
        assert got.first_non_finite is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -np.nan])
def test_scan_finds_the_first_non_finite_row(dtype, bad):
    rng = np.random.default_rng(0)
    for n, d in ((1, 1), (5, 3), (3000, 17)):
        for rows in ([0], [n - 1], sorted({n // 2, n - 1})):
            X = _inputs(rng, n, d, dtype)
            for i in rows:
                X[i, rng.integers(d)] = bad
            assert scan_inputs(X).first_non_finite == first_non_finite_row(X) == rows[0]


def test_scan_reads_the_largest_finite_magnitudes():
    for dtype in (np.float32, np.float64):
        info = np.finfo(dtype)
        X = np.array([[0.0, -info.max], [info.tiny, -0.0]], dtype)
        assert scan_inputs(X) == InputScan(None, 0.5, float(info.max))
        assert scan_inputs(np.zeros((3, 2), dtype)) == InputScan(None, 0.0, 0.0)
        assert scan_inputs(np.array([[info.smallest_subnormal]], dtype)).largest == float(info.smallest_subnormal)


def test_the_largest_magnitude_spares_the_scale_check_only_where_it_finds_nothing():
    # the bound n_features * largest**2 decides as the rows' own mean would, at every scale and rate
    rng = np.random.default_rng(1)
    for scale in (1e-3, 0.3, 1.0, 3.0, 10.0, 100.0, 1e4, 1e20):
        X = _inputs(rng, 300, 20, np.float32, zeros=0.3, scale=scale)
        largest = scan_inputs(X).largest
        for lr in (1e-6, 1e-3, 0.01, 0.1, 1.0):
            assert input_scale_problem(X, lr, largest=largest) == input_scale_problem(X, lr)


def test_choose_path_with_the_scans_density_chooses_as_without():
    from fastnn.kernel_codes import KERNEL_RULES

    sgd = KERNEL_RULES["sgd"][0]
    rng = np.random.default_rng(2)
    for zeros in (0.0, 0.45, 0.5, 0.55, 0.99):
        X = _inputs(rng, 5000, 12, np.float32, zeros)
        for threads, sizes in ((1, [12, 8, 3]), (2, [12, 8, 3]), (2, [12, 512, 3])):
            assert choose_path(X, sgd, threads, sizes, scan_inputs(X).density) == choose_path(X, sgd, threads, sizes)


def test_train_refuses_a_non_finite_input_before_any_work_with_check_inputs_message(monkeypatch):
    from fastnn.kernels import steps
    from fastnn.validation import check_inputs

    X = np.random.default_rng(3).random((50, 4), dtype=np.float32)
    X[17, 2] = np.nan
    params = fastnn.init_params([4, 3], seed=0)
    with pytest.raises(ValueError) as expected:
        check_inputs(X, 4, np.float32)
    monkeypatch.setattr(steps, "sgd_steps", None)  # any training would fail otherwise
    with pytest.raises(ValueError) as got:
        fastnn.train(params, X, np.zeros(50, np.int64), seed=0)
    assert str(got.value) == str(expected.value) == (
        "X holds NaN or infinite values (first in row 17); clean or impute them first")
