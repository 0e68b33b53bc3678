"""forward/backward/update/predict: gradients against finite differences, one SGD step
worked by hand, purity, and the checks on bad input."""
import copy
import itertools

import numpy as np
import pytest

import fastnn
from fastnn import network
from fastnn.losses import LOSS_FUNCTIONS
from fastnn.network import Cache, backward, forward, predict, predict_proba, update

# ---------------------------------------------------------------------------------------------
# Finite-difference gradient check (float64)
#
# Every parameter entry of a small network (5 inputs, hidden widths from 6-4-5, 3 outputs,
# 7 samples) is perturbed by +-h and +-2h and the loss L = LOSS_FUNCTIONS[loss](forward(...), T)
# is differentiated with the fourth-order central difference
#     n = (8 (L(+h) - L(-h)) - (L(+2h) - L(-2h))) / (12 h),      h = 1e-3,
# whose truncation error is O(h^4) ~ 1e-13 and rounding error ~ 18 eps L / (12 h) ~ 2e-13.
# (The plain two-point difference cannot do better than ~1e-10 absolute, too coarse for
# small entries at 1e-6 relative.) Each entry is then scored by the symmetric relative error
#     err = |g - n| / max(|g| + |n|, 1e-8)
# (g from backward): a true relative error for any entry above 1e-8, and an absolute error
# scaled by 1e8 for entries that are exactly zero on both sides (dead ReLU units).
# ReLU's kink is not differentiable: an entry whose perturbations flip the sign of any hidden
# pre-activation (seen as a changed `H > 0` pattern in the cache) is skipped, and the test
# asserts that such skips stay rare, so it cannot pass by skipping.
# ---------------------------------------------------------------------------------------------

WIRINGS = [
    ("softmax", "cross_entropy"),
    ("tanh", "mse"),
    ("identity", "mse"),
    ("softmax", "mse"),
    ("sigmoid", "mse"),
]
HIDDEN_WIDTHS = [6, 4, 5]
H = 1e-3
TOLERANCE = 1e-6


def _gradcheck_problem(output, loss, depth, seed):
    rng = np.random.default_rng(seed)
    sizes = [5] + HIDDEN_WIDTHS[: depth - 1] + [3]
    params = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        params[f"W{l}"] = rng.normal(0, 1.2 / np.sqrt(fan_in), (fan_in, fan_out))
        params[f"b{l}"] = rng.normal(0, 0.3, fan_out)  # non-zero, so db is not trivial
    X = rng.uniform(-1, 1, (7, 5))
    if loss == "cross_entropy":
        y = rng.integers(0, 3, 7)
        return params, X, y, np.eye(3)[y]
    T = {"tanh": rng.uniform(-0.9, 0.9, (7, 3)), "identity": rng.normal(size=(7, 3))}.get(
        output, rng.uniform(0, 1, (7, 3))
    )
    return params, X, T, T


def gradient_check(params, X, y, T, activation, output, loss):
    """Max relative error over all entries, and the numbers of entries skipped and checked."""
    out, cache = forward(params, X, activation=activation, output_activation=output)
    grads = backward(params, cache, y, activation=activation, loss=loss)
    assert list(grads) == list(params)
    # The perturbed losses go through the same layer loop that forward runs after its
    # checks (checked equal here), so thousands of evaluations stay fast.
    work = {k: v.copy() for k, v in params.items()}
    layers = [(work[f"W{l}"], work[f"b{l}"]) for l in range(1, len(params) // 2 + 1)]

    def loss_and_pattern():
        acts = network.forward_layers(layers, X, activation, output)
        return LOSS_FUNCTIONS[loss](acts[-1], T), [h > 0 for h in acts[1:-1]]

    base, pattern = loss_and_pattern()
    assert base == LOSS_FUNCTIONS[loss](out, T)
    worst, skipped, n = 0.0, 0, 0
    for key, P in work.items():
        assert grads[key].shape == P.shape and grads[key].dtype == np.float64
        for idx in np.ndindex(P.shape):
            L, kink, original = {}, False, P[idx]
            for step in (1, -1, 2, -2):
                P[idx] = original + step * H
                L[step], pat = loss_and_pattern()
                kink |= any((a != b).any() for a, b in zip(pat, pattern))
            P[idx] = original
            if kink:
                skipped += 1
                continue
            numeric = (8 * (L[1] - L[-1]) - (L[2] - L[-2])) / (12 * H)
            g = grads[key][idx]
            worst = max(worst, abs(g - numeric) / max(abs(g) + abs(numeric), 1e-8))
            n += 1
    return worst, skipped, n


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("output,loss", WIRINGS)
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_gradients_match_finite_differences(activation, output, loss, depth):
    params, X, y, T = _gradcheck_problem(output, loss, depth, seed=depth)
    worst, skipped, checked = gradient_check(params, X, y, T, activation, output, loss)
    assert skipped <= 0.1 * (checked + skipped), f"{skipped} entries at a ReLU kink"
    assert worst < TOLERANCE, f"max relative error {worst:.3g}"


def test_gradients_match_finite_differences_identity_hidden():
    params, X, y, T = _gradcheck_problem("softmax", "cross_entropy", 3, seed=5)
    worst, skipped, _ = gradient_check(params, X, y, T, "identity", "softmax", "cross_entropy")
    assert skipped == 0 and worst < TOLERANCE


def test_gradient_check_detects_a_wrong_gradient(monkeypatch):
    """The check above can fail: a derivative off by 1% in one layer is caught."""
    params, X, y, T = _gradcheck_problem("softmax", "cross_entropy", 2, seed=0)
    original = network.DERIVATIVES["tanh"]
    monkeypatch.setitem(network.DERIVATIVES, "tanh", lambda a, d: 1.01 * original(a, d))
    worst, _, _ = gradient_check(params, X, y, T, "tanh", "softmax", "cross_entropy")
    assert worst > 1e-3


def test_gradients_are_the_mean_over_the_batch():
    params, X, y, _ = _gradcheck_problem("softmax", "cross_entropy", 3, seed=1)
    grads = backward(params, forward(params, X, activation="tanh")[1], y, activation="tanh")
    per_sample = [
        backward(params, forward(params, X[i : i + 1], activation="tanh")[1], y[i : i + 1], activation="tanh")
        for i in range(len(X))
    ]
    for key in grads:
        np.testing.assert_allclose(grads[key], np.mean([g[key] for g in per_sample], axis=0), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# One SGD step on a 2-3-2 network, worked by hand
#
# ReLU hidden layer, softmax + cross-entropy, two samples, lr = 0.5. The numbers below were
# computed once with plain Python floats and `math.exp` (no NumPy, no fastnn), following the
# arithmetic written in the comments, and pasted here.
# ---------------------------------------------------------------------------------------------

HAND_X = np.array([[1.0, 2.0], [0.5, -1.0]])
HAND_Y = np.array([1, 0])
HAND_PARAMS = {
    "W1": np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]),
    "b1": np.array([0.1, 0.0, -0.1]),
    "W2": np.array([[0.2, -0.1], [0.3, 0.4], [-0.5, 0.6]]),
    "b2": np.array([0.05, -0.05]),
}
HAND_LR = 0.5
# Hidden pre-activations Z1 = X W1 + b1:
#   sample 1: [0.1 + 0.8 + 0.1, -0.2 + 1.0 + 0, 0.3 - 1.2 - 0.1] = [1.0, 0.8, -1.0]
#   sample 2: [0.05 - 0.4 + 0.1, -0.1 - 0.5 + 0, 0.15 + 0.6 - 0.1] = [-0.25, -0.6, 0.65]
# ReLU: H = [[1.0, 0.8, 0], [0, 0, 0.65]]
HAND_H = [[1.0, 0.8, 0.0], [0.0, 0.0, 0.65]]
# Output pre-activations Z2 = H W2 + b2:
#   sample 1: [0.2 + 0.24 + 0.05, -0.1 + 0.32 - 0.05] = [0.49, 0.17]
#   sample 2: [-0.325 + 0.05, 0.39 - 0.05] = [-0.275, 0.34]
# With two classes softmax(z) = [s(z0 - z1), s(z1 - z0)], s the logistic function:
#   a = s(0.32) = 0.5793242521487495,  c = s(0.615) = 0.6490805242445733
HAND_PROBA = [[0.5793242521487495, 0.4206757478512506], [0.35091947575542665, 0.6490805242445733]]
# loss = -(ln(1 - a) + ln c) / 2
HAND_LOSS = 0.9565457164089606
# Output delta D2 = (P - onehot(y)) / 2: sample 1 (y=1) [a/2, -a/2], sample 2 (y=0) [-c/2, c/2].
# dW2 = H^T D2: row j = H1[j] [a/2, -a/2] + H2[j] [-c/2, c/2]  -> rows 1*(a/2), 0.8*(a/2), 0.65*(c/2)
# db2 = [a/2 - c/2, c/2 - a/2]
# Hidden delta D1 = (D2 W2^T) * (Z1 > 0):
#   sample 1: (a/2) (W2[:,0] - W2[:,1]) = (a/2) [0.3, -0.1, -1.1], mask [1, 1, 0] -> [0.3 a/2, -0.1 a/2, 0]
#   sample 2: (c/2) (W2[:,1] - W2[:,0]) = (c/2) [-0.3, 0.1, 1.1], mask [0, 0, 1] -> [0, 0, 1.1 c/2]
# dW1 = X^T D1: row 1 = 1 * D1[0] + 0.5 * D1[1], row 2 = 2 * D1[0] - 1 * D1[1];  db1 = D1[0] + D1[1]
HAND_GRADS = {
    "W1": [[0.08689863782231243, -0.028966212607437453, 0.17849714416725765],
           [0.17379727564462485, -0.057932425214874905, -0.3569942883345153]],
    "b1": [0.08689863782231243, -0.028966212607437453, 0.3569942883345153],
    "W2": [[0.28966212607437475, -0.2896621260743747],
           [0.23172970085949982, -0.23172970085949976],
           [-0.21095117037948635, 0.21095117037948632]],
    "b2": [-0.034878136047911956, 0.034878136047911956],
}
# Updated params p - 0.5 g, e.g. W1[0, 0] = 0.1 - 0.5 * 0.0868986378... = 0.0565506810...
HAND_UPDATED = {
    "W1": [[0.05655068108884379, -0.18551689369628127, 0.21075142791637116],
           [0.3131013621776876, 0.5289662126074375, -0.42150285583274233]],
    "b1": [0.05655068108884379, 0.014483106303718726, -0.2784971441672577],
    "W2": [[0.05516893696281264, 0.04483106303718734],
           [0.18413514957025007, 0.5158648504297499],
           [-0.3945244148102568, 0.49452441481025683]],
    "b2": [0.06743906802395598, -0.06743906802395598],
}


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 2e-6)])
def test_one_sgd_step_worked_by_hand(dtype, rtol):
    params = {k: v.astype(dtype) for k, v in HAND_PARAMS.items()}
    X = HAND_X.astype(dtype)
    out, cache = forward(params, X, activation="relu", output_activation="softmax")
    assert out.dtype == dtype
    np.testing.assert_allclose(cache.activations[1], HAND_H, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(out, HAND_PROBA, rtol=rtol)
    assert LOSS_FUNCTIONS["cross_entropy"](out, np.eye(2)[HAND_Y]) == pytest.approx(HAND_LOSS, rel=rtol)
    grads = backward(params, cache, HAND_Y, activation="relu", loss="cross_entropy")
    assert list(grads) == ["W1", "b1", "W2", "b2"]
    for key, want in HAND_GRADS.items():
        assert grads[key].dtype == dtype
        np.testing.assert_allclose(grads[key], want, rtol=rtol, atol=1e-15, err_msg=key)
    new = update(params, grads, HAND_LR)
    for key, want in HAND_UPDATED.items():
        assert new[key].dtype == dtype
        np.testing.assert_allclose(new[key], want, rtol=rtol, err_msg=key)


def test_predict_on_the_hand_worked_network():
    np.testing.assert_allclose(predict_proba(HAND_PARAMS, HAND_X), HAND_PROBA, rtol=1e-12)
    # sample 1: 0.579 > 0.421 -> class 0; sample 2: 0.351 < 0.649 -> class 1
    np.testing.assert_array_equal(predict(HAND_PARAMS, HAND_X), [0, 1])
    assert predict(HAND_PARAMS, HAND_X).dtype == np.int64


# ---------------------------------------------------------------------------------------------
# Forward and predict
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[4, 3], [4, 6, 3], [4, 6, 5, 2, 3]])
def test_forward_shapes_and_cache(rng, sizes):
    params = fastnn.init_params(sizes, seed=0)
    X = rng.random((9, 4), dtype=np.float32)
    out, cache = forward(params, X)
    assert out.shape == (9, sizes[-1]) and out.dtype == np.float32
    assert isinstance(cache, Cache) and (cache.activation, cache.output_activation) == ("relu", "softmax")
    assert [a.shape for a in cache.activations] == [(9, s) for s in sizes]
    np.testing.assert_array_equal(cache.activations[0], X)
    assert cache.activations[-1] is out


def test_forward_equals_a_plain_numpy_pass(rng):
    params = fastnn.init_params([4, 6, 5, 3], seed=3, dtype="float64")
    for name in ("b1", "b2", "b3"):
        params[name] = rng.normal(size=params[name].shape)
    X = rng.normal(size=(8, 4))
    out, _ = forward(params, X, activation="tanh", output_activation="sigmoid")
    A = np.tanh(X @ params["W1"] + params["b1"])
    A = np.tanh(A @ params["W2"] + params["b2"])
    want = 1 / (1 + np.exp(-(A @ params["W3"] + params["b3"])))
    np.testing.assert_allclose(out, want, rtol=1e-14)


def test_float64_inputs_are_cast_to_float32_params(rng):
    params = fastnn.init_params([4, 3], seed=0)
    X = rng.random((5, 4))
    out, cache = forward(params, X)
    assert out.dtype == np.float32 and cache.activations[0].dtype == np.float32
    np.testing.assert_array_equal(out, forward(params, X.astype(np.float32))[0])


def test_predict_proba_in_chunks_equals_one_pass(rng, monkeypatch):
    params = fastnn.init_params([4, 6, 3], seed=0, dtype="float64")
    X = rng.random((23, 4))
    whole = forward(params, X)[0]
    monkeypatch.setattr(network, "PREDICT_CHUNK", 5)
    np.testing.assert_allclose(predict_proba(params, X), whole, rtol=1e-15)
    np.testing.assert_array_equal(predict(params, X), np.argmax(whole, axis=1))


def test_predict_proba_chunks_report_the_row_of_a_nan(rng, monkeypatch):
    params = fastnn.init_params([4, 3], seed=0)
    X = rng.random((23, 4), dtype=np.float32)
    X[17, 2] = np.nan
    monkeypatch.setattr(network, "PREDICT_CHUNK", 5)
    with pytest.raises(ValueError, match=r"NaN or infinite.*row 17\b"):
        predict_proba(params, X)
    with pytest.raises(ValueError, match=r"X has shape \(23, 3\) but the network's W1 has shape \(4, 3\)"):
        predict_proba(params, X[:, :3])


# ---------------------------------------------------------------------------------------------
# Purity: nothing passed in changes, bit for bit
# ---------------------------------------------------------------------------------------------


def _frozen_copy(d):
    """A deep copy of ``d``, and ``d``'s arrays made read-only so a write would raise."""
    before = copy.deepcopy(d)
    for v in d.values():
        v.flags.writeable = False
    return before


def _assert_bit_identical(after, before):
    assert list(after) == list(before)
    for k in before:
        assert after[k].dtype == before[k].dtype and after[k].shape == before[k].shape
        assert after[k].tobytes() == before[k].tobytes(), k


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_functions_do_not_modify_their_arguments(tmp_path, rng, activation, dtype):
    params = fastnn.init_params([5, 6, 4, 3], seed=0, dtype=dtype)
    X = rng.random((8, 5)).astype(dtype)
    y = rng.integers(0, 3, 8)
    p0, x0, y0 = _frozen_copy(params), X.copy(), y.copy()
    X.flags.writeable = False
    y.flags.writeable = False

    out, cache = forward(params, X, activation=activation)
    cache0 = [a.copy() for a in cache.activations]
    grads = backward(params, cache, y, activation=activation)
    g0 = _frozen_copy(grads)
    new = update(params, grads, 0.1)
    predict(params, X, activation=activation)
    predict_proba(params, X, activation=activation)
    fastnn.accuracy(params, X, y, activation=activation)
    fastnn.save(tmp_path / "m.npz", params,
                wiring={"activation": activation, "output_activation": "softmax", "loss": "cross_entropy"})

    _assert_bit_identical(params, p0)
    _assert_bit_identical(grads, g0)
    assert X.tobytes() == x0.tobytes() and y.tobytes() == y0.tobytes()
    for a, b in zip(cache.activations, cache0):
        assert a.tobytes() == b.tobytes()
    # results are new arrays: changing them cannot reach back into the inputs
    for k in params:
        assert not np.shares_memory(new[k], params[k]) and not np.shares_memory(new[k], grads[k])
        assert not np.shares_memory(grads[k], params[k])
    assert not any(np.shares_memory(out, v) for v in params.values())


def test_update_by_hand_and_dtype():
    params = {"W1": np.array([[1.0, 2.0]], dtype=np.float32), "b1": np.array([0.5, -0.5], dtype=np.float32)}
    grads = {"W1": np.array([[0.5, -1.0]]), "b1": np.array([1.0, 0.0])}  # float64 grads
    new = update(params, grads, 0.1)
    np.testing.assert_allclose(new["W1"], [[0.95, 2.1]], rtol=1e-7)
    np.testing.assert_allclose(new["b1"], [0.4, -0.5], rtol=1e-7)
    assert new["W1"].dtype == np.float32 and new["b1"].dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Bad input: raised before any work, with a message that says what was wrong
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def small():
    params = fastnn.init_params([3, 4, 2], seed=0)
    X = np.random.default_rng(0).random((5, 3), dtype=np.float32)
    return params, X


@pytest.fixture
def no_work(monkeypatch):
    """Make the computing parts of network explode, so a check that comes too late shows."""

    def boom(*args, **kwargs):
        raise AssertionError("work started before the input was checked")

    monkeypatch.setattr(network, "forward_layers", boom)
    monkeypatch.setattr(network, "backward_layers", boom)


@pytest.mark.parametrize("func", [forward, predict, predict_proba])
@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"activation": "softmax"}, r"unknown activation 'softmax'.*'relu', 'sigmoid', 'tanh', 'identity'"),
        ({"activation": "ReLU"}, r"unknown activation 'ReLU'.*'relu'"),
        ({"output_activation": "relu"}, r"unknown output_activation 'relu'.*'softmax', 'sigmoid', 'tanh', 'identity'"),
    ],
)
def test_unknown_names_list_the_valid_ones(small, no_work, func, kwargs, match):
    params, X = small
    with pytest.raises(ValueError, match=match):
        func(params, X, **kwargs)


@pytest.mark.parametrize("func", [forward, predict, predict_proba])
def test_bad_X(small, no_work, func):
    params, X = small
    with pytest.raises(ValueError, match=r"2-D.*shape \(3,\).*X\[None, :\]"):
        func(params, X[0])
    with pytest.raises(ValueError, match=r"2-D.*shape \(5, 3, 1\).*reshape"):
        func(params, X[:, :, None])
    with pytest.raises(ValueError, match=r"X has shape \(5, 4\).*W1 has shape \(3, 4\)"):
        func(params, np.ones((5, 4), np.float32))
    with pytest.raises(TypeError, match=r"integer dtype uint8.*/ 255"):
        func(params, (X * 255).astype(np.uint8))
    with pytest.raises(TypeError, match=r"X must be a NumPy array, got str"):
        func(params, "X")
    with pytest.raises(ValueError, match=r"X is empty"):
        func(params, X[:0])
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[3, 1] = bad
        with pytest.raises(ValueError, match=r"NaN or infinite.*row 3"):
            func(params, Xb)


def _without(d, key):
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize(
    "change,error,match",
    [
        (lambda p: _without(p, "b2"), ValueError, r"missing b2.*W1\.\.W2 and b1\.\.b2"),
        (lambda p: _without(p, "W1"), ValueError, r"missing W1"),
        (lambda p: {**p, "W3": np.ones((2, 2), np.float32)}, ValueError, r"missing b3"),
        (lambda p: {**p, "bias": np.ones(2, np.float32)}, ValueError, r"unexpected key 'bias'"),
        (lambda p: {**p, "W0": np.ones((2, 2), np.float32)}, ValueError, r"unexpected key 'W0'"),
        (lambda p: {**p, "b1": np.zeros(3, np.float32)}, ValueError, r"b1.*shape \(3,\).*4 columns"),
        (lambda p: {**p, "W2": np.zeros((5, 2), np.float32)}, ValueError, r"W2.*\(5, 2\).*W1.*\(3, 4\).*needs 4 rows"),
        (lambda p: {**p, "W1": p["W1"][0]}, ValueError, r"W1.*must be 2-D"),
        (lambda p: {**p, "W2": p["W2"].astype(np.float64)}, TypeError, r"mixes dtypes.*float32.*float64"),
        (lambda p: {**p, "W1": p["W1"].astype(np.int32)}, TypeError, r"W1.*float32 or float64.*int32"),
        (lambda p: {**p, "W1": p["W1"].tolist()}, TypeError, r"W1.*NumPy array.*list"),
        (lambda p: {**p, "b2": np.array([0, np.nan], np.float32)}, ValueError, r"NaN or infinite.*diverged"),
        (lambda p: {}, ValueError, r"params is empty.*init_params"),
        (lambda p: list(p.values()), TypeError, r"params must be a dict"),
    ],
)
def test_bad_params(small, no_work, change, error, match):
    params, X = small
    bad = change(params)
    for call in (
        lambda: forward(bad, X),
        lambda: predict(bad, X),
        lambda: backward(bad, _cache(X), [0, 1, 0, 1, 0]),
        lambda: update(bad, params, 0.1),
    ):
        with pytest.raises(error, match=match):
            call()


def _cache(X):
    # a well-formed cache for the 3-4-2 network (never reached: params are checked first)
    return Cache((X, np.ones((5, 4), np.float32), np.full((5, 2), 0.5, np.float32)), "relu", "softmax")


def test_backward_refuses_a_cache_from_another_activation(small, no_work):
    params, X = small
    other_cache = _cache(X)._replace(activation="sigmoid")
    with pytest.raises(ValueError, match=r"activation='relu' but forward used 'sigmoid'; pass the same one"):
        backward(params, other_cache, [0, 1, 0, 1, 0], activation="relu")


def test_backward_refuses_cross_entropy_without_softmax(small):
    params, X = small
    _, cache = forward(params, X, output_activation="sigmoid")
    with pytest.raises(ValueError, match=r"cross_entropy.*needs output_activation='softmax'.*'sigmoid'"):
        backward(params, cache, [0, 1, 0, 1, 0], loss="cross_entropy")
    assert backward(params, cache, [0, 1, 0, 1, 0], loss="mse")["W1"].shape == (3, 4)


def test_backward_checks_its_other_arguments(small, no_work):
    params, X = small
    cache = _cache(X)
    y = np.array([0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*'cross_entropy', 'mse'"):
        backward(params, cache, y, loss="hinge")
    with pytest.raises(TypeError, match=r"second value returned by fastnn.forward"):
        backward(params, tuple(cache.activations), y)
    other = fastnn.init_params([3, 5, 2], seed=0)
    with pytest.raises(ValueError, match=r"cache does not belong to this params"):
        backward(other, cache, y)
    with pytest.raises(ValueError, match=r"labels from 0 to 2, outside \[0, 2\)"):
        backward(params, cache, np.array([0, 1, 2, 1, 0]))
    with pytest.raises(ValueError, match=r"labels from -1 to 1"):
        backward(params, cache, np.array([0, 1, -1, 1, 0]))
    with pytest.raises(TypeError, match=r"integer class labels.*non-integer floats"):
        backward(params, cache, np.array([0, 0.5, 1, 1, 0]))
    with pytest.raises(TypeError, match=r"integer class labels.*<U1"):
        backward(params, cache, np.array(list("01010")))
    with pytest.raises(ValueError, match=r"y has 4 entries but X has 5 rows"):
        backward(params, cache, y[:4])
    with pytest.raises(ValueError, match=r"shape \(5, 3\).*2 outputs"):
        backward(params, cache, np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"y holds NaN"):
        backward(params, cache, np.full((5, 2), np.nan))


def test_update_refuses_mismatched_grads_and_bad_rates(small):
    params, _ = small
    grads = {k: np.ones_like(v) for k, v in params.items()}
    with pytest.raises(ValueError, match=r"grads has keys \['W1', 'W2', 'b1'\] but params has"):
        update(params, _without(grads, "b2"), 0.1)
    with pytest.raises(ValueError, match=r"grads has keys.*'W3'"):
        update(params, {**grads, "W3": np.ones((2, 2))}, 0.1)
    with pytest.raises(ValueError, match=r"grads\['W1'\] has shape \(4, 3\), params\['W1'\] has \(3, 4\)"):
        update(params, {**grads, "W1": grads["W1"].T}, 0.1)
    with pytest.raises(ValueError, match=r"grads\['b1'\] has shape None"):
        update(params, {**grads, "b1": [1.0] * 4}, 0.1)
    for lr in (0, -0.1, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"lr must be a finite number > 0"):
            update(params, grads, lr)
    for lr in ("0.1", None, True):
        with pytest.raises(TypeError, match=r"lr must be a number"):
            update(params, grads, lr)


def test_every_hidden_and_output_combination_runs(small):
    params, X = small
    for activation, output in itertools.product(network.HIDDEN, network.OUTPUTS):
        out, cache = forward(params, X, activation=activation, output_activation=output)
        assert out.shape == (5, 2) and np.isfinite(out).all()
        grads = backward(params, cache, np.zeros((5, 2), np.float32), activation=activation, loss="mse")
        assert all(np.isfinite(g).all() for g in grads.values())
