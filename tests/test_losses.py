"""Losses: values worked by hand, output deltas against finite differences, the compiled
softmax cross-entropy gradient against the NumPy one bit for bit, the registry's table."""
import math
import warnings

import numpy as np
import pytest

from fastnn.activations import ACTIVATIONS, OUTPUTS, softmax
from fastnn.kernels import elementwise
from fastnn.losses import (
    LOSS_FUNCTIONS,
    LOSSES,
    Loss,
    check_pairing,
    cross_entropy,
    mse,
    output_delta,
)

PAIRS = [("softmax", "cross_entropy")] + [(out, "mse") for out in OUTPUTS]


def test_cross_entropy_by_hand():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    t = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    # -(ln 0.7 + ln 0.8) / 2
    assert cross_entropy(p, t) == pytest.approx(-(math.log(0.7) + math.log(0.8)) / 2, rel=1e-15)


def test_cross_entropy_with_soft_targets_by_hand():
    p = np.array([[0.5, 0.25, 0.25]])
    t = np.array([[0.5, 0.5, 0.0]])
    # -(0.5 ln 0.5 + 0.5 ln 0.25) = 0.5 ln 2 + ln 2 = 1.5 ln 2
    assert cross_entropy(p, t) == pytest.approx(1.5 * math.log(2), rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_of_a_zero_probability_is_large_but_finite(dtype):
    p = np.array([[1.0, 0.0]], dtype=dtype)
    t = np.array([[0.0, 1.0]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = cross_entropy(p, t)
    assert loss == pytest.approx(-math.log(np.finfo(dtype).tiny), rel=1e-6)


def test_mse_by_hand():
    a = np.array([[0.5, -1.0], [2.0, 0.0]])
    t = np.array([[0.0, 1.0], [1.0, 0.0]])
    # (0.25 + 4 + 1 + 0) / 4 entries
    assert mse(a, t) == pytest.approx(5.25 / 4, rel=1e-15)
    assert LOSS_FUNCTIONS == {"cross_entropy": cross_entropy, "mse": mse}
    assert set(LOSSES) == set(LOSS_FUNCTIONS)


# --- the compiled softmax cross-entropy gradient vs the NumPy one ------------------------------


def softmax_xent_kernel(a, t):
    out = np.empty_like(a)
    elementwise.softmax_xent_grad(a, t, out)
    return out


@pytest.mark.parametrize("n", [1, 3, 7, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_xent_kernel_equals_numpy_bit_for_bit(rng, n, dtype):
    a = softmax(rng.normal(size=(n, 5))).astype(dtype)
    t = np.eye(5, dtype=dtype)[rng.integers(0, 5, n)]
    got = output_delta(a, t, "softmax", "cross_entropy")
    assert got.dtype == dtype
    want = softmax_xent_kernel(a, t)
    assert got.tobytes() == want.tobytes()
    # and both are (p - t) / n, worked out element by element
    manual = [[(float(a[i, j]) - float(t[i, j])) / n for j in range(5)] for i in range(n)]
    np.testing.assert_allclose(got, manual, rtol=4 * np.finfo(dtype).eps, atol=0)


def test_softmax_xent_keeps_the_outputs_dtype_for_float64_targets(rng):
    a = softmax(rng.normal(size=(6, 4))).astype(np.float32)
    t = np.eye(4)[rng.integers(0, 4, 6)]  # float64
    got = output_delta(a, t, "softmax", "cross_entropy")
    assert got.dtype == np.float32
    assert got.tobytes() == softmax_xent_kernel(a, t).tobytes()


# --- deltas against central differences of the loss ------------------------------------------


def _targets(rng, output, shape):
    if output == "softmax":
        return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    if output == "tanh":
        return rng.uniform(-0.9, 0.9, shape)
    if output == "sigmoid":
        return rng.uniform(0, 1, shape)
    return rng.normal(size=shape)


@pytest.mark.parametrize("output,loss", PAIRS)
def test_output_delta_is_the_gradient_wrt_the_pre_activation(rng, output, loss):
    z = rng.normal(size=(4, 3))
    t = _targets(rng, output, z.shape)
    f, L = ACTIVATIONS[output], LOSS_FUNCTIONS[loss]
    delta = output_delta(f(z), t, output, loss)
    h = 1e-5
    numeric = np.empty_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        numeric[idx] = (L(f(zp), t) - L(f(zm), t)) / (2 * h)
    np.testing.assert_allclose(delta, numeric, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("output,loss", PAIRS)
def test_output_delta_does_not_modify_its_inputs(rng, output, loss):
    a = ACTIVATIONS[output](rng.normal(size=(3, 4)))
    t = _targets(rng, output, a.shape)
    a0, t0 = a.copy(), t.copy()
    a.flags.writeable = False
    t.flags.writeable = False
    output_delta(a, t, output, loss)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(t, t0)


@pytest.mark.parametrize("output", ["sigmoid", "tanh", "identity"])
def test_cross_entropy_refuses_non_softmax_outputs(output):
    with pytest.raises(ValueError, match=r"cross_entropy.*needs output_activation='softmax'.*mse"):
        check_pairing(output, "cross_entropy")


@pytest.mark.parametrize("output,loss", PAIRS)
def test_valid_pairings_pass(output, loss):
    assert check_pairing(output, loss) is None


def test_the_table():
    assert all(isinstance(entry, Loss) for entry in LOSSES.values())
    assert list(LOSSES) == ["cross_entropy", "mse"]
    assert LOSSES["cross_entropy"].output_activations == ("softmax",) and LOSSES["mse"].output_activations == OUTPUTS
    assert sorted(entry.kernel_code for entry in LOSSES.values()) == list(range(len(LOSSES)))
    a, t = np.array([[0.5, -1.0]]), np.array([[0.0, 1.0]])
    assert LOSSES["mse"](a, t) == mse(a, t)  # calling an entry calls its function


@pytest.mark.parametrize("output", ["relu", "gelu"])
def test_a_name_no_loss_takes_is_refused_with_what_it_needs(output):
    with pytest.raises(ValueError, match=rf"^loss='cross_entropy' needs output_activation='softmax', got output_activation={output!r}$"):
        check_pairing(output, "cross_entropy")
