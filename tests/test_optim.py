"""Optimizers: hand-worked first two steps, purity, state layout, validation, a quadratic."""
import math

import numpy as np
import pytest

from fastnn import optim
from fastnn.schedules import constant

# One 2x2 layer. Two fixed gradients, so the expected steps can be worked out by hand.
P0 = {"W1": np.array([[1.0, -2.0], [0.5, 0.0]]), "b1": np.array([0.0, 1.0])}
G1 = {"W1": np.array([[1.0, 2.0], [-1.0, 0.0]]), "b1": np.array([0.5, -0.5])}
G2 = {"W1": np.array([[1.0, -2.0], [0.0, 4.0]]), "b1": np.array([0.5, 1.0])}

SLOTS = {"sgd": (), "momentum": ("velocity",), "nesterov": ("velocity",),
         "adam": ("m", "v"), "rmsprop": ("sq_avg",), "adagrad": ("sq_sum",)}


def two_steps(opt, p0=P0, g1=G1, g2=G2):
    state = opt.init(p0)
    p1, state = opt.update(p0, g1, state)
    p2, state = opt.update(p1, g2, state)
    return p1, p2, state


def assert_params(actual, expected, **tol):
    assert actual.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], **tol, err_msg=key)


def test_sgd_two_steps_by_hand():
    p1, p2, state = two_steps(optim.sgd(lr=0.1))
    # p1 = p0 - 0.1 g1
    assert_params(p1, {"W1": [[0.9, -2.2], [0.6, 0.0]], "b1": [-0.05, 1.05]}, rtol=1e-12)
    # p2 = p1 - 0.1 g2: W1 [[0.9-0.1, -2.2+0.2], [0.6-0, 0-0.4]], b1 [-0.05-0.05, 1.05-0.1]
    assert_params(p2, {"W1": [[0.8, -2.0], [0.6, -0.4]], "b1": [-0.1, 0.95]}, rtol=1e-12)
    assert state["step"] == 2


def test_momentum_two_steps_by_hand():
    p1, p2, state = two_steps(optim.momentum(lr=0.1, beta=0.5))
    # v1 = g1, p1 = p0 - 0.1 g1 (same as sgd)
    assert_params(p1, {"W1": [[0.9, -2.2], [0.6, 0.0]], "b1": [-0.05, 1.05]}, rtol=1e-12)
    # v2 = 0.5 g1 + g2 = W1 [[0.5+1, 1-2], [-0.5+0, 0+4]] = [[1.5, -1], [-0.5, 4]], b1 [0.75, 0.75]
    # p2 = p1 - 0.1 v2 = W1 [[0.9-0.15, -2.2+0.1], [0.6+0.05, -0.4]], b1 [-0.05-0.075, 1.05-0.075]
    assert_params(p2, {"W1": [[0.75, -2.1], [0.65, -0.4]], "b1": [-0.125, 0.975]}, rtol=1e-12)
    assert_params({k: v for k, v in state.items() if k != "step"},
                  {"velocity/W1": [[1.5, -1.0], [-0.5, 4.0]], "velocity/b1": [0.75, 0.75]}, rtol=1e-12)


def test_nesterov_two_steps_by_hand():
    p1, p2, _ = two_steps(optim.nesterov(lr=0.1, beta=0.5))
    # v1 = g1, p1 = p0 - 0.1 (g1 + 0.5 v1) = p0 - 0.15 g1
    assert_params(p1, {"W1": [[0.85, -2.3], [0.65, 0.0]], "b1": [-0.075, 1.075]}, rtol=1e-12)
    # v2 = 0.5 g1 + g2 = [[1.5, -1], [-0.5, 4]], b1 [0.75, 0.75]
    # g2 + 0.5 v2 = W1 [[1.75, -2.5], [-0.25, 6]], b1 [0.875, 1.375]
    # p2 = p1 - 0.1 (g2 + 0.5 v2) = W1 [[0.85-0.175, -2.3+0.25], [0.65+0.025, -0.6]],
    #      b1 [-0.075-0.0875, 1.075-0.1375]
    assert_params(p2, {"W1": [[0.675, -2.05], [0.675, -0.6]], "b1": [-0.1625, 0.9375]}, rtol=1e-12)


def test_adagrad_two_steps_by_hand():
    p1, p2, _ = two_steps(optim.adagrad(lr=0.1))
    # s1 = g1**2, so p1 = p0 - 0.1 g1 / |g1| = p0 - 0.1 sign(g1) (eps = 1e-10 is negligible)
    assert_params(p1, {"W1": [[0.9, -2.1], [0.6, 0.0]], "b1": [-0.1, 1.1]}, rtol=1e-9)
    # s2 = g1**2 + g2**2 = W1 [[2, 8], [1, 16]], b1 [0.5, 1.25]; p2 = p1 - 0.1 g2 / sqrt(s2)
    expected = {"W1": [[0.9 - 0.1 / math.sqrt(2), -2.1 + 0.2 / math.sqrt(8)], [0.6 - 0.0, 0.0 - 0.4 / 4]],
                "b1": [-0.1 - 0.05 / math.sqrt(0.5), 1.1 - 0.1 / math.sqrt(1.25)]}
    assert_params(p2, expected, rtol=1e-9)


def reference_steps(p0, grads, rule):
    """Independent plain-Python loop: each scalar entry through ``rule(p, g, mem, t) -> p``."""
    out = [{} for _ in grads]
    for key in p0:
        for i, p in enumerate(p0[key].ravel().tolist()):
            mem = {}
            for t, g in enumerate(gs[key].ravel()[i] for gs in grads):
                p = rule(p, float(g), mem, t)
                out[t].setdefault(key, []).append(p)
    return [{k: np.reshape(v, p0[k].shape) for k, v in step.items()} for step in out]


def test_adam_two_steps_match_plain_python_loop():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8

    def adam_scalar(p, g, mem, t):
        mem["m"] = b1 * mem.get("m", 0.0) + (1 - b1) * g
        mem["v"] = b2 * mem.get("v", 0.0) + (1 - b2) * g * g
        m_hat = mem["m"] / (1 - b1 ** (t + 1))
        v_hat = mem["v"] / (1 - b2 ** (t + 1))
        return p - lr * m_hat / (math.sqrt(v_hat) + eps)

    p1, p2, state = two_steps(optim.adam(lr=lr, b1=b1, b2=b2, eps=eps))
    ref1, ref2 = reference_steps(P0, [G1, G2], adam_scalar)
    assert_params(p1, ref1, rtol=1e-13)
    assert_params(p2, ref2, rtol=1e-13)
    # By hand: bias correction makes the first step lr * sign(g): m_hat = g, v_hat = g**2.
    assert_params(p1, {"W1": [[0.9, -2.1], [0.6, 0.0]], "b1": [-0.1, 1.1]}, atol=1e-8)
    # W1[0, 0] saw g = 1 twice, so m_hat = v_hat = 1 and it moves by 0.1 again.
    assert p2["W1"][0, 0] == pytest.approx(0.8, abs=1e-8)
    # m2 = 0.9 * 0.1 g1 + 0.1 g2 at W1[0, 1]: 0.9 * 0.2 - 0.2 = -0.02
    assert state["m/W1"][0, 1] == pytest.approx(-0.02, rel=1e-12)


def test_rmsprop_two_steps_match_plain_python_loop():
    lr, decay, eps = 0.1, 0.9, 1e-8

    def rmsprop_scalar(p, g, mem, t):
        mem["s"] = decay * mem.get("s", 0.0) + (1 - decay) * g * g
        return p - lr * g / (math.sqrt(mem["s"]) + eps)

    p1, p2, _ = two_steps(optim.rmsprop(lr=lr, decay=decay, eps=eps))
    ref1, ref2 = reference_steps(P0, [G1, G2], rmsprop_scalar)
    assert_params(p1, ref1, rtol=1e-13)
    assert_params(p2, ref2, rtol=1e-13)
    # By hand: s1 = 0.1 g**2, so the first step is 0.1 / sqrt(0.1) = sqrt(0.1) = 0.31623 times sign(g).
    r = math.sqrt(0.1)
    assert_params(p1, {"W1": [[1 - r, -2 - r], [0.5 + r, 0.0]], "b1": [-r, 1 + r]}, atol=1e-7)
    # W1[0, 0]: s2 = 0.9 * 0.1 + 0.1 * 1 = 0.19, p2 = p1 - 0.1 / sqrt(0.19)
    assert p2["W1"][0, 0] == pytest.approx(1 - r - 0.1 / math.sqrt(0.19), rel=1e-7)


def test_update_evaluates_lr_schedule_at_the_step_count():
    halving = lambda t: 0.1 * 0.5 ** t  # 0.1 for the first update (t=0), 0.05 for the second
    _, p2, _ = two_steps(optim.sgd(lr=halving))
    # p2 = p0 - 0.1 g1 - 0.05 g2
    assert_params(p2, {"W1": [[0.85, -2.1], [0.6, -0.2]], "b1": [-0.075, 1.0]}, rtol=1e-12)


def test_momentum_scales_whole_velocity_by_current_lr():
    _, p2, _ = two_steps(optim.momentum(lr=lambda t: [0.1, 0.05][t], beta=0.5))
    # p1 = p0 - 0.1 g1; p2 = p1 - 0.05 (0.5 g1 + g2), the PyTorch form. (The classical form
    # u = 0.5 u - lr g would give W1[0, 0] = 0.9 - 0.05 - 0.05 = 0.8 instead of 0.825.)
    assert_params(p2, {"W1": [[0.825, -2.15], [0.625, -0.2]], "b1": [-0.0875, 1.0125]}, rtol=1e-12)


def test_update_rejects_a_bad_scheduled_lr_naming_the_step():
    opt = optim.sgd(lr=lambda t: 0.1 if t < 1 else 0.0)
    p1, state = opt.update(P0, G1, opt.init(P0))
    with pytest.raises(ValueError, match="t=1"):
        opt.update(p1, G2, state)


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_update_is_pure(name):
    copies = [{k: v.copy() for k, v in d.items()} for d in (P0, G1)]
    opt = optim.get_optimizer(name, lr=0.1)
    state = opt.init(P0)
    p1, state1 = opt.update(P0, G1, state)
    state1_before = {k: v.copy() for k, v in state1.items()}
    p2, state2 = opt.update(p1, G2, state1)
    for original, copy in zip((P0, G1), copies):
        for key in original:
            assert original[key].tobytes() == copy[key].tobytes()
    for key in state1:
        assert state1[key].tobytes() == state1_before[key].tobytes()
    assert state["step"] == 0 and all(not v.any() for v in state.values())
    for new, old in [(p1, P0), (p2, p1), (state1, state), (state2, state1)]:
        for key in new:
            assert not np.shares_memory(new[key], old[key]), key


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_state_key_scheme_and_npz_round_trip(name, tmp_path):
    opt = optim.get_optimizer(name, lr=0.1)
    _, p2, state = two_steps(opt)
    assert set(state) == {"step"} | {f"{slot}/{key}" for slot in SLOTS[name] for key in P0}
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert state["step"].shape == () and state["step"].dtype == np.int64 and state["step"] == 2
    np.savez(tmp_path / "state.npz", **state)
    with np.load(tmp_path / "state.npz") as f:
        loaded = {k: f[k] for k in f.files}
    assert loaded.keys() == state.keys()
    for key in state:
        assert loaded[key].dtype == state[key].dtype and np.array_equal(loaded[key], state[key])
    # Training resumes from the loaded state exactly as from the one in memory.
    a, _ = opt.update(p2, G1, state)
    b, _ = opt.update(p2, G1, loaded)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes()


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_float32_stays_float32(name):
    p32 = {k: v.astype(np.float32) for k, v in P0.items()}
    g32 = {k: v.astype(np.float32) for k, v in G1.items()}
    opt = optim.get_optimizer(name, lr=0.1)
    p1, state = opt.update(p32, g32, opt.init(p32))
    assert all(v.dtype == np.float32 for v in p1.values())
    assert all(v.dtype == np.float32 for k, v in state.items() if k != "step")


@pytest.mark.parametrize("name, kwargs, lr", [
    ("sgd", {}, 0.3), ("momentum", {"beta": 0.9}, 0.1), ("nesterov", {"beta": 0.9}, 0.1),
    ("adam", {}, 0.05), ("rmsprop", {}, 0.01), ("adagrad", {}, 0.5)])
def test_minimises_a_quadratic(name, kwargs, lr):
    # f(p) = sum(a * (p - c)**2) / 2 per array, gradient a * (p - c), minimum at c.
    a = {"W1": np.array([[1.0, 3.0], [0.5, 2.0]]), "b1": np.array([1.5, 0.8])}
    c = {"W1": np.array([[1.0, -2.0], [0.5, 3.0]]), "b1": np.array([-1.0, 2.0])}
    opt = optim.get_optimizer(name, lr=lr, **kwargs)
    p = {k: np.zeros_like(v) for k, v in c.items()}
    state = opt.init(p)
    for _ in range(500):
        p, state = opt.update(p, {k: a[k] * (p[k] - c[k]) for k in p}, state)
    assert_params(p, c, atol=1e-6)


@pytest.mark.parametrize("factory, kwargs, error", [
    (optim.sgd, {"lr": 0.0}, ValueError), (optim.sgd, {"lr": -0.1}, ValueError),
    (optim.sgd, {"lr": float("nan")}, ValueError), (optim.sgd, {"lr": "0.1"}, TypeError),
    (optim.sgd, {"lr": True}, TypeError), (optim.momentum, {"beta": 1.0}, ValueError),
    (optim.nesterov, {"beta": -0.1}, ValueError), (optim.adam, {"b2": 1.0}, ValueError),
    (optim.adam, {"eps": 0.0}, ValueError), (optim.rmsprop, {"decay": 1.5}, ValueError),
    (optim.adagrad, {"eps": -1e-10}, ValueError)])
def test_bad_hyperparameters_raise(factory, kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        factory(**kwargs)


def _state_for(name):
    return optim.get_optimizer(name).init(P0)


@pytest.mark.parametrize("params, grads, state, error, match", [
    (P0, {"W1": G1["W1"]}, _state_for("sgd"), ValueError, r"missing \['b1'\]"),
    (P0, {**G1, "W2": G1["W1"]}, _state_for("sgd"), ValueError, r"unexpected \['W2'\]"),
    (P0, {**G1, "W1": np.zeros((3, 2))}, _state_for("sgd"), ValueError, r"grads\['W1'\].*shape \(2, 2\)"),
    (P0, {**G1, "b1": G1["b1"].astype(np.float32)}, _state_for("sgd"), ValueError, "dtype float64"),
    (P0, G1, _state_for("adam"), ValueError, "state does not fit"),
    (P0, G1, {**_state_for("sgd"), "step": np.array(-1)}, ValueError, "step"),
    (P0, G1, {**_state_for("sgd"), "step": np.array(0.5)}, ValueError, "step"),
    ([P0["W1"]], G1, _state_for("sgd"), TypeError, "params must be a dict"),
    ({**P0, "b1": np.array([0, 1])}, G1, _state_for("sgd"), TypeError, "floating-point"),
])
def test_update_rejects_mismatched_inputs(params, grads, state, error, match):
    with pytest.raises(error, match=match):
        optim.sgd().update(params, grads, state)


def test_update_rejects_a_state_slot_of_the_wrong_shape():
    opt = optim.momentum()
    state = {**opt.init(P0), "velocity/b1": np.zeros(3)}
    with pytest.raises(ValueError, match=r"state\['velocity/b1'\]"):
        opt.update(P0, G1, state)


def test_registry_and_get_optimizer():
    assert set(optim.OPTIMIZERS) == set(SLOTS)
    for name in optim.OPTIMIZERS:
        opt = optim.get_optimizer(name)
        assert isinstance(opt, optim.Optimizer) and opt.name == name
    adam = optim.get_optimizer("adam", lr=0.01, b2=0.99)
    assert adam.hyperparams == {"b1": 0.9, "b2": 0.99, "eps": 1e-8} and adam.lr(7) == 0.01
    assert optim.get_optimizer(("momentum", {"beta": 0.5})).hyperparams == {"beta": 0.5}
    assert optim.get_optimizer(adam) is adam
    # name + hyperparams + lr rebuild the same optimizer
    again = optim.OPTIMIZERS[adam.name](lr=adam.lr, **adam.hyperparams)
    assert_params(two_steps(again)[1], two_steps(adam)[1], rtol=0)
    assert optim.sgd(lr=constant(0.1)).lr(0) == 0.1


def test_get_optimizer_errors():
    with pytest.raises(ValueError, match="adagrad, adam, momentum, nesterov, rmsprop, sgd"):
        optim.get_optimizer("adm")
    with pytest.raises(TypeError, match=r"adam takes no argument\(s\) \['beta'\]"):
        optim.get_optimizer("adam", beta=0.9)
    with pytest.raises(TypeError, match="Optimizer"):
        optim.get_optimizer(optim.sgd(), lr=0.1)
    with pytest.raises(TypeError, match="name"):
        optim.get_optimizer(3)
