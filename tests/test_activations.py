"""Activations: the compiled element-wise kernels held to the NumPy functions bit for bit,
derivatives to finite differences, softmax and sigmoid finite at +-1e4 with every
floating-point warning an error, and the registry's derived lists to the table."""
import math
import warnings

import numpy as np
import pytest

from fastnn.activations import (
    ACTIVATIONS,
    DERIVATIVES,
    HIDDEN,
    OUTPUTS,
    SKLEARN_HIDDEN,
    Activation,
    identity,
    relu,
    relu_derivative,
    sigmoid,
    softmax,
    softmax_derivative,
    tanh,
)
from fastnn.kernels import elementwise


def relu_kernel(z):
    """The compiled ReLU, called the way the library called it."""
    z = np.ascontiguousarray(z)
    out = np.empty_like(z)
    elementwise.relu(z.ravel(), out.ravel())
    return out


def relu_derivative_kernel(a, delta):
    """The compiled ReLU derivative, called the way the library called it."""
    delta = np.ascontiguousarray(delta)
    out = np.empty_like(delta)
    elementwise.relu_mask_grad(delta.ravel(), np.ascontiguousarray(a).ravel(), out.ravel())
    return out


def assert_same_bits(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()

FLOATS = [np.float32, np.float64]


@pytest.fixture
def strict():
    """Every warning and every NumPy overflow, invalid or divide-by-zero raises."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        yield


def _mixed_signs(rng, shape, dtype=np.float64):
    """Normal values with exact zeros and negative zeros mixed in."""
    z = rng.normal(size=shape)
    flat = z.reshape(-1)
    flat[::7] = 0.0
    flat[3::11] = -0.0
    return z.astype(dtype)


# --- compiled relu kernels vs the NumPy functions ------------------------------------------


@pytest.mark.parametrize("shape", [(1,), (17,), (7, 5), (3, 4, 6)])
@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_kernel_equals_numpy_bit_for_bit(rng, shape, dtype):
    z = _mixed_signs(rng, shape, dtype)
    got = relu(z)
    assert got.dtype == dtype and got.shape == shape
    assert_same_bits(relu_kernel(z), got)
    # and both equal the definition, written independently
    np.testing.assert_array_equal(got, np.where(z > 0, z, 0.0))


def test_relu_kernel_equals_numpy_at_nan_inf_and_signed_zeros():
    z = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 1.5, -1.5])
    got = relu(z)
    assert_same_bits(relu_kernel(z), got)
    assert_same_bits(got, np.array([0.0, 0.0, 0.0, np.inf, 0.0, 1.5, 0.0]))  # +0.0 for -0.0, 0 for NaN


def test_relu_of_a_non_contiguous_view(rng):
    z = _mixed_signs(rng, (8, 10))
    view = z[::2, ::3]
    assert not view.flags.c_contiguous
    assert_same_bits(relu(view), relu_kernel(view))


def test_relu_does_not_write_into_its_input(rng):
    z = _mixed_signs(rng, (6, 5))
    before = z.copy()
    z.flags.writeable = False
    out = relu(z)
    np.testing.assert_array_equal(z, before)
    assert not np.shares_memory(out, z)


@pytest.mark.parametrize("shape", [(13,), (7, 5), (2, 3, 4)])
@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_derivative_kernel_equals_numpy_bit_for_bit(rng, shape, dtype):
    a = relu(_mixed_signs(rng, shape, dtype))
    assert (a == 0).any() and (a > 0).any()
    delta = rng.normal(size=shape).astype(dtype)
    got = relu_derivative(a, delta)
    assert_same_bits(relu_derivative_kernel(a, delta), got)
    np.testing.assert_array_equal(got, np.where(a > 0, delta, 0.0))


def test_relu_derivative_kernel_equals_numpy_at_nan_and_inf():
    a = np.array([0.0, 0.0, 1.0, 2.0, 0.0, 3.0])
    delta = np.array([np.inf, -1.0, np.nan, -0.0, np.nan, -np.inf])
    got = relu_derivative(a, delta)
    assert_same_bits(relu_derivative_kernel(a, delta), got)
    np.testing.assert_array_equal(got, [0.0, 0.0, np.nan, 0.0, 0.0, -np.inf])  # an inactive unit passes 0


def test_relu_derivative_float32_and_purity(rng):
    a = relu(_mixed_signs(rng, (5, 6), np.float32))
    delta = rng.normal(size=(5, 6)).astype(np.float32)
    a0, d0 = a.copy(), delta.copy()
    a.flags.writeable = False
    delta.flags.writeable = False
    got = relu_derivative(a, delta)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(delta, d0)


# --- values against independent scalar formulas --------------------------------------------


def test_sigmoid_matches_the_scalar_formula():
    z = np.linspace(-30, 30, 61)
    want = [1 / (1 + math.exp(-v)) for v in z]
    np.testing.assert_allclose(sigmoid(z), want, rtol=1e-15, atol=0)


def test_tanh_and_identity():
    z = np.linspace(-4, 4, 33)
    np.testing.assert_allclose(tanh(z), [math.tanh(v) for v in z], rtol=1e-15)
    np.testing.assert_array_equal(identity(z), z)


def test_softmax_matches_the_scalar_formula(rng):
    z = rng.normal(scale=3, size=(6, 4))
    want = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in z]
    got = softmax(z)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-15)


def test_softmax_is_shift_invariant_per_row(rng):
    z = rng.normal(size=(5, 3))
    shift = np.array([[-50.0], [0.0], [3.0], [700.0], [-900.0]])
    np.testing.assert_allclose(softmax(z + shift), softmax(z), rtol=1e-12)


# --- extremes: finite, no warning -----------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_finite_at_plus_minus_1e4(strict, dtype):
    z = np.array([[1e4, -1e4, 0.0, 80.0, -80.0, 1e-3]], dtype=dtype)
    s = sigmoid(z)
    assert s.dtype == dtype
    assert np.isfinite(s).all()
    assert s[0, 0] == 1.0 and s[0, 1] == 0.0 and s[0, 2] == 0.5
    assert 0 <= s.min() and s.max() <= 1


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_finite_at_plus_minus_1e4(strict, dtype):
    z = np.array(
        [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [-1e4, 0.0, 1e4], [1.0, 2.0, 3.0]],
        dtype=dtype,
    )
    p = softmax(z)
    assert p.dtype == dtype
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=2 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(p[0], [1, 0, 0])
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=np.finfo(dtype).eps)
    np.testing.assert_array_equal(p[2], [0.5, 0.5, 0])
    np.testing.assert_array_equal(p[3], [0, 0, 1])


@pytest.mark.parametrize("dtype", FLOATS)
def test_hidden_activations_finite_at_plus_minus_1e4(strict, dtype):
    z = np.array([[1e4, -1e4, 0.5]], dtype=dtype)
    for name in HIDDEN:
        out = ACTIVATIONS[name](z)
        assert np.isfinite(out).all(), name
        assert out.dtype == dtype, name


# --- derivatives against finite differences of the activations -------------------------------


@pytest.mark.parametrize("name", HIDDEN)
def test_derivative_equals_central_difference(rng, name):
    z = rng.uniform(-3, 3, size=(8, 5))
    z[np.abs(z) < 1e-3] = 0.5  # keep relu's kink out of the stencil
    delta = rng.normal(size=z.shape)
    f = ACTIVATIONS[name]
    h = 1e-6
    numeric = delta * (f(z + h) - f(z - h)) / (2 * h)
    analytic = DERIVATIVES[name](f(z), delta)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)


def test_softmax_derivative_is_the_jacobian_product(rng):
    z = rng.normal(size=(3, 4))
    delta = rng.normal(size=(3, 4))
    a = softmax(z)
    want = np.stack([(np.diag(row) - np.outer(row, row)) @ d for row, d in zip(a, delta)])  # J is symmetric
    np.testing.assert_allclose(softmax_derivative(a, delta), want, rtol=1e-13, atol=1e-15)


def test_registries_are_consistent():
    assert set(HIDDEN) <= set(ACTIVATIONS) and set(OUTPUTS) <= set(ACTIVATIONS)
    assert set(DERIVATIVES) == set(HIDDEN)
    assert "softmax" not in HIDDEN


def test_the_derived_lists_follow_the_table():
    assert all(isinstance(entry, Activation) for entry in ACTIVATIONS.values())
    assert HIDDEN == ("relu", "sigmoid", "tanh", "identity")  # the default first: error messages list them so
    assert OUTPUTS == ("softmax", "sigmoid", "tanh", "identity")
    assert all(DERIVATIVES[name] is ACTIVATIONS[name].derivative for name in HIDDEN)
    assert SKLEARN_HIDDEN == {"relu": "relu", "logistic": "sigmoid", "sigmoid": "sigmoid", "tanh": "tanh",
                              "identity": "identity"}
    codes = [entry.kernel_code for entry in ACTIVATIONS.values()]
    assert sorted(codes) == list(range(len(ACTIVATIONS)))  # distinct codes


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_calling_an_entry_calls_its_function(rng, name):
    z = rng.normal(size=(3, 4))
    assert_same_bits(ACTIVATIONS[name](z), ACTIVATIONS[name].function(z))
