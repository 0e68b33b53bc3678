"""fastnn.twin: the NumPy twin of the per-sample kernel and its dropout masks.

The kernel is held to the twin in tests/test_training.py; here the twin is held to the
pure functions and its masks to the kernel's draws.
"""
import numpy as np

import fastnn
from fastnn.kernels import sample as k
from fastnn.twin import dropout_multipliers, sgd_steps_numpy
from fastnn.validation import one_hot


def test_dropout_masks_match_kernel_draws_and_rate():
    m = dropout_multipliers(seed=11, step=5, layer=0, width=20000, keep=0.75)
    assert set(np.unique(m)) == {0.0, 1 / 0.75}
    assert abs(np.mean(m > 0) - 0.75) < 0.01
    assert abs(m.mean() - 1.0) < 0.015  # inverted dropout keeps the expected activation
    kernel = np.array([k.keep_unit(11, 5, 0, u, 0.75) for u in range(200)])
    np.testing.assert_array_equal(kernel, m[:200] > 0)
    assert not np.array_equal(m, dropout_multipliers(seed=11, step=6, layer=0, width=20000, keep=0.75))


def test_keep_one_means_no_dropout():
    np.testing.assert_array_equal(dropout_multipliers(seed=3, step=0, layer=1, width=50, keep=1.0), np.ones(50))


def test_twin_composes_forward_backward_update_and_leaves_params_alone():
    rng = np.random.default_rng(0)
    X = rng.random((30, 6))
    y = rng.integers(0, 3, 30)
    params = fastnn.init_params([6, 5, 3], seed=2, dtype="float64")
    before = {key: v.copy() for key, v in params.items()}
    order = rng.permutation(30)
    lrs = np.linspace(0.1, 0.05, 30)
    got = sgd_steps_numpy(params, X, one_hot(y, 3, "float64"), order, lrs, activation="tanh")
    want = params
    for s, i in enumerate(order):
        _, cache = fastnn.forward(want, X[i : i + 1], activation="tanh")
        want = fastnn.update(want, fastnn.backward(want, cache, y[i : i + 1], activation="tanh"), lrs[s])
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-15, err_msg=key)
        np.testing.assert_array_equal(params[key], before[key])
