"""train() and the fused per-sample kernel, held to the composed pure functions."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn.diagnostics import InputScaleWarning
from fastnn.network import forward_layers
from fastnn.optim import get_optimizer
from fastnn.packing import pack, unpack
from fastnn.per_sample import (
    DENSE_ABOVE,
    PerSampleEngine,
    input_density,
    kernel_options,
    kernel_work,
    merge_gain,
    split_units,
    splits_units,
)
from fastnn.training import DivergenceError, train, train_in_place
from fastnn.twin import sgd_steps_numpy
from fastnn.validation import check_params, one_hot

WIRINGS = [("softmax", "cross_entropy"), ("tanh", "mse"), ("identity", "mse")]


def _problem(n=500, n_in=12, n_out=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in))
    X[X < 0.6] = 0  # sparse, like MNIST
    y = rng.integers(0, n_out, n)
    return X.astype(dtype), y


def _run_kernel(params, X, T, order, lrs, activation, output, loss, l2=0.0, keep=None, seed=0, rule="sgd",
                hyper=(), path="sparse", n_threads=1):
    """One epoch through the compiled per-sample path that train() would pick for these options.

    ``path``: "sparse" (rows), "window" (dense windows) or "split" (``n_threads``, at least
    2, split the first hidden layer's units, however narrow).
    """
    net = pack(check_params(params))
    keep = np.ones(len(net.sizes) - 1) if keep is None else keep
    opts = kernel_options(activation, output, loss, l2, keep, seed, get_optimizer((rule, dict(hyper))))
    if rule != "sgd":
        path = "rules"
    elif path == "split":
        n_threads = max(n_threads, 2)
    elif path == "sparse":
        path = "rows" if n_threads == 1 else "replicas"
    elif path == "window":
        path = "windows"
    engine = PerSampleEngine(net, T, opts, path, n_threads)
    assert (engine.units is not None) == (path == "split")
    try:
        tally = engine.epoch(X, order, lrs, 0, np.inf)
    finally:
        engine.close()
    return unpack(*net), tally


def _assert_params_close(got, want, rtol=1e-9, atol=1e-12):
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=atol, err_msg=key)


PATHS = pytest.mark.parametrize("path", ["sparse", "window", "split"])
"""The compiled paths of plain per-sample SGD: rows, dense windows, units split between 2 threads."""


@pytest.mark.parametrize("path,depth", [(p, d) for p in ("sparse", "window", "split") for d in (1, 2, 3, 4)
                                        if not (p == "split" and d == 1)])  # split needs a hidden layer
@pytest.mark.parametrize("output,loss", WIRINGS)
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_kernel_equals_composed_pure_functions(activation, output, loss, depth, path):
    X, y = _problem()
    sizes = [12] + [9, 7, 6][: depth - 1] + [4]
    params = fastnn.init_params(sizes, init="xavier", seed=1, dtype="float64")
    T = one_hot(y, 4, "float64")
    order = np.random.default_rng(2).permutation(len(X))
    lrs = np.full(len(X), 0.05)
    got, tally = _run_kernel(params, X, T, order, lrs, activation, output, loss, path=path)
    # the twin, written out: forward -> backward -> update one sample at a time
    want = params
    for i in order:
        out, cache = fastnn.forward(want, X[i : i + 1], activation=activation, output_activation=output)
        grads = fastnn.backward(want, cache, y[i : i + 1], activation=activation, loss=loss)
        want = fastnn.update(want, grads, 0.05)
    _assert_params_close(got, want)
    assert tally.done == len(X) and not tally.diverged


@PATHS
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("l2,keep", [(1e-2, 1.0), (0.0, 0.7), (1e-3, 0.8)])
def test_kernel_with_l2_and_dropout_equals_twin(activation, l2, keep, path):
    X, y = _problem()
    params = fastnn.init_params([12, 9, 7, 4], init="xavier", seed=1, dtype="float64")
    T = one_hot(y, 4, "float64")
    order = np.random.default_rng(3).permutation(len(X))
    lrs = np.linspace(0.05, 0.01, len(X))  # a per-step schedule
    keeps = np.array([keep, keep, 1.0])
    got, _ = _run_kernel(params, X, T, order, lrs, activation, "softmax", "cross_entropy", l2, keeps, seed=7,
                         path=path)
    want = sgd_steps_numpy(params, X, T, order, lrs, activation=activation, l2=l2, keep=keeps, seed=7)
    _assert_params_close(got, want)


@pytest.mark.parametrize(
    "rule,hyper",
    [("momentum", {"beta": 0.9}), ("nesterov", {"beta": 0.8}), ("adam", {"b1": 0.9, "b2": 0.999, "eps": 1e-8}),
     ("rmsprop", {"decay": 0.9, "eps": 1e-8}), ("adagrad", {"eps": 1e-10})],
)
@pytest.mark.parametrize("l2,keep", [(0.0, 1.0), (1e-3, 0.8)])
def test_kernel_optimizer_rules_equal_fastnn_optim(rule, hyper, l2, keep):
    X, y = _problem(n=300)
    params = fastnn.init_params([12, 9, 7, 4], init="xavier", seed=1, dtype="float64")
    T = one_hot(y, 4, "float64")
    order = np.random.default_rng(3).permutation(len(X))
    lrs = np.linspace(0.01, 0.005, len(X))
    keeps = np.array([keep, keep, 1.0])
    got, _ = _run_kernel(params, X, T, order, lrs, "relu", "softmax", "cross_entropy", l2, keeps, seed=7,
                         rule=rule, hyper=hyper)
    want = sgd_steps_numpy(params, X, T, order, lrs, l2=l2, keep=keeps, seed=7, rule=rule, hyper=hyper)
    _assert_params_close(got, want, rtol=1e-8, atol=1e-11)


@PATHS
def test_lazy_l2_scale_is_folded_before_it_underflows(path):
    # lr * l2 = 0.05 per step shrinks the scale below 1e-4 after ~180 steps
    X, y = _problem(n=400)
    params = fastnn.init_params([12, 8, 4], seed=1, dtype="float64")
    T = one_hot(y, 4, "float64")
    order = np.arange(400)
    lrs = np.full(400, 0.1)
    got, _ = _run_kernel(params, X, T, order, lrs, "relu", "softmax", "cross_entropy", l2=0.5, path=path)
    want = sgd_steps_numpy(params, X, T, order, lrs, l2=0.5)
    _assert_params_close(got, want, rtol=1e-8)


@pytest.mark.parametrize("batch_size", [7, 64, None])
def test_batch_path_equals_composed_pure_functions(batch_size):
    X, y = _problem(n=200)
    params = fastnn.init_params([12, 9, 4], seed=4, dtype="float64")
    got, _ = train(params, X, y, epochs=2, lr=0.1, batch_size=batch_size, shuffle=False)
    want = params
    bs = batch_size or len(X)
    for _ in range(2):
        for start in range(0, len(X), bs):
            out, cache = fastnn.forward(want, X[start : start + bs])
            want = fastnn.update(want, fastnn.backward(want, cache, y[start : start + bs]), 0.1)
    _assert_params_close(got, want)


def test_train_matches_kernel_twin_with_shuffle_and_schedule():
    X, y = _problem(n=300)
    params = fastnn.init_params([12, 9, 4], seed=4, dtype="float64")
    got, history = train(params, X, y, epochs=2, lr=lambda e: 0.05 / (1 + e), seed=9)
    rng = np.random.default_rng(9)
    rng.integers(2**63)  # train draws the dropout seed first
    want = params
    T = one_hot(y, 4, "float64")
    for epoch in range(2):
        order = rng.permutation(len(X))
        want = sgd_steps_numpy(want, X, T, order, np.full(len(X), 0.05 / (1 + epoch)))
    _assert_params_close(got, want)
    assert history["lr"] == [0.05, 0.025]


def test_same_seed_gives_bit_identical_params():
    X, y = _problem(n=300, dtype=np.float32)
    params = fastnn.init_params([12, 9, 4], seed=0)
    a, ha = train(params, X, y, epochs=2, seed=5, dropout=0.2)
    b, hb = train(params, X, y, epochs=2, seed=5, dropout=0.2)
    c, _ = train(params, X, y, epochs=2, seed=6, dropout=0.2)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes()
        assert a[key].dtype == np.float32
    assert ha["loss"] == hb["loss"]
    assert any(not np.array_equal(a[key], c[key]) for key in a)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_train_is_pure(batch_size):
    X, y = _problem(n=100, dtype=np.float32)
    params = fastnn.init_params([12, 9, 4], seed=0)
    before = {key: v.copy() for key, v in params.items()}
    X0, y0 = X.copy(), y.copy()
    new, _ = train(params, X, y, epochs=1, batch_size=batch_size, seed=0)
    for key in params:
        np.testing.assert_array_equal(params[key], before[key])
        assert not np.shares_memory(new[key], params[key])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_history_contents_and_validation():
    X, y = _problem(n=200, dtype=np.float32)
    params = fastnn.init_params([12, 9, 4], seed=0)
    new, h = train(params, X, y, epochs=3, seed=0, validation_data=(X[:50], y[:50]))
    assert h["epoch"] == [1, 2, 3]
    assert set(h) == {"epoch", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "compile_seconds",
                      "wiring", "collapse"}
    assert h["wiring"] == {"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"}
    assert all(len(v) == 3 for key, v in h.items() if key not in ("compile_seconds", "wiring", "collapse"))
    assert h["collapse"] is None  # fastnn.diagnostics found the trained network not collapsed
    assert 0 <= h["compile_seconds"] < 600  # kernels compiled or loaded before epoch 1, timed apart
    assert all(s > 0 for s in h["seconds"])
    assert all(0 <= a <= 1 for a in h["accuracy"] + h["val_accuracy"])
    # the last validation figures are those of the returned params
    assert h["val_accuracy"][-1] == fastnn.accuracy(new, X[:50], y[:50])


def test_callback_can_stop_training():
    X, y = _problem(n=100, dtype=np.float32)
    seen = []

    def stop_after_two(epoch, params, history):
        seen.append((epoch, len(history["loss"]), sorted(params)))
        return epoch < 1

    _, h = train(fastnn.init_params([12, 4], seed=0), X, y, epochs=10, callback=stop_after_two)
    assert len(h["loss"]) == 2
    assert seen == [(0, 1, ["W1", "b1"]), (1, 2, ["W1", "b1"])]


def test_progress_reports_every_chunk(monkeypatch):
    monkeypatch.setattr("fastnn.per_sample.CHUNK", 64)
    X, y = _problem(n=200, dtype=np.float32)
    calls = []
    train(fastnn.init_params([12, 4], seed=0), X, y, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(64, 200), (128, 200), (192, 200), (200, 200)]


@pytest.mark.parametrize("n_threads,split_from", [(1, 256), (2, 10**9), (2, 1)], ids=["one", "replicas", "split"])
def test_divergence_raises_with_last_good_params(monkeypatch, n_threads, split_from):
    monkeypatch.setattr("fastnn.per_sample.SPLIT_FROM", split_from)
    X, y = _problem(n=300, dtype=np.float32)
    params = fastnn.init_params([12, 16, 4], seed=0)
    before = {key: v.copy() for key, v in params.items()}
    with pytest.warns(InputScaleWarning, match="far too large"), \
            pytest.raises(FloatingPointError, match=r"epoch 1 with lr=1000.*smaller learning rate") as info:
        train(params, X, y, lr=1e3, seed=0, n_threads=n_threads)
    assert isinstance(info.value, DivergenceError)
    assert info.value.lr == 1e3 and info.value.epoch == 0 and "loss" in info.value.reason
    for key in params:
        np.testing.assert_array_equal(params[key], before[key])
        np.testing.assert_array_equal(info.value.params[key], before[key])  # good = start of epoch 1


def test_integer_images_get_a_scaling_hint():
    X = np.zeros((10, 12), dtype=np.uint8)
    with pytest.raises(TypeError, match=r"astype\(np.float32\) / 255"):
        train(fastnn.init_params([12, 4]), X, np.zeros(10, dtype=int))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"epochs": 0}, ValueError, "epochs must be >= 1"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"lr": -1.0}, ValueError, "lr must be a finite number > 0"),
        ({"lr": lambda e: float("nan")}, ValueError, r"learning rate lr\(0\) for epoch 0 is nan"),
        ({"dropout": 1.0}, ValueError, r"dropout rates must lie in \[0, 1\)"),
        ({"l2": -0.1}, ValueError, "l2 must be a finite number >= 0"),
        ({"activation": "gelu"}, ValueError, "valid choices are: 'relu', 'sigmoid', 'tanh'"),
        ({"output_activation": "tanh"}, ValueError, "cross_entropy' needs output_activation='softmax'"),
        ({"validation_data": ([1],)}, TypeError, "pair"),
        ({"callback": 3}, TypeError, "callback must be callable"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(kwargs, error, match):
    X, y = _problem(n=20, dtype=np.float32)
    with pytest.raises(error, match=match):
        train(fastnn.init_params([12, 4]), X, y, **kwargs)


def test_mismatched_lengths_and_labels_out_of_range():
    X, y = _problem(n=20, dtype=np.float32)
    params = fastnn.init_params([12, 4])
    with pytest.raises(ValueError, match="y has 19 entries but X has 20 rows"):
        train(params, X, y[:19])
    with pytest.raises(ValueError, match=r"outside \[0, 4\)"):
        train(params, X, y + 4)
    with pytest.raises(ValueError, match="X_val has shape"):
        train(params, X, y, validation_data=(X[:, :5], y))


@pytest.mark.mnist
def test_mnist_per_sample_sgd_reaches_98_percent(mnist):
    (X, y), (Xt, yt) = mnist
    params = fastnn.init_params([784, 256, 128, 10], seed=0)
    trained, history = train(params, X, y, epochs=5, lr=lambda e: 0.02 / (1 + e), seed=0)
    acc = fastnn.accuracy(trained, Xt, yt)
    assert acc >= 0.98, f"test accuracy {acc:.4f}"
    assert history["loss"] == sorted(history["loss"], reverse=True)


@pytest.mark.mnist
@pytest.mark.parametrize("layers", [[784, 128, 64, 10], [784, 256, 10]], ids=["replicas", "split"])
def test_mnist_two_threads_reach_the_accuracy_of_one(mnist, layers):
    (X, y), (Xt, yt) = mnist
    params = fastnn.init_params(layers, seed=0)
    accuracy = {}
    for threads in (1, 2):
        trained, _ = train(params, X, y, epochs=3, lr=lambda e: 0.02 / (1 + e), seed=0, n_threads=threads)
        accuracy[threads] = fastnn.accuracy(trained, Xt, yt)
    assert accuracy[1] >= 0.975 and abs(accuracy[1] - accuracy[2]) <= 0.004, accuracy


@pytest.mark.mnist
def test_mnist_standardised_inputs_train_in_windows_like_per_sample_sgd(mnist):
    (X, y), (Xt, yt) = mnist
    Xs = ((X - X.mean(0)) / (X.std(0) + 0.1)).astype(np.float32)
    Xts = ((Xt - X.mean(0)) / (X.std(0) + 0.1)).astype(np.float32)
    params = fastnn.init_params([784, 128, 64, 10], seed=0)
    windows, _ = train(params, Xs[:20000], y[:20000], lr=0.001, seed=0)  # 91% non-zero: windows (the default)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("fastnn.per_sample.DENSE_ABOVE", 2.0)  # never dense: the row-by-row kernel
        rows, _ = train(params, Xs[:20000], y[:20000], lr=0.001, seed=0)
    assert any(not np.array_equal(windows[k], rows[k]) for k in rows)  # another path was taken
    # the same per-sample SGD in float32, summed in another order: the same model up to rounding
    for key in rows:
        np.testing.assert_allclose(windows[key], rows[key], atol=2e-3, err_msg=key)
    assert abs(fastnn.accuracy(windows, Xts, yt) - fastnn.accuracy(rows, Xts, yt)) <= 0.003


@pytest.mark.mnist
def test_mnist_full_batch_loss_falls_every_iteration(mnist):
    (X, y), _ = mnist
    params = fastnn.init_params([784, 128, 10], seed=0)
    losses = []

    def record(epoch, p, h):
        out = fastnn.predict_proba(p, X[:10000])
        losses.append(fastnn.losses.cross_entropy(out, one_hot(y[:10000], 10)))

    _, h = train(params, X[:10000], y[:10000], epochs=50, lr=0.1, batch_size=None, callback=record)
    assert len(losses) == 50
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * h["loss"][0]


def test_batch_path_with_adam_equals_fastnn_optim():
    from fastnn import optim

    X, y = _problem(n=120)
    params = fastnn.init_params([12, 9, 4], seed=4, dtype="float64")
    got, _ = train(params, X, y, epochs=2, optimizer="adam", lr=0.01, batch_size=32, shuffle=False, l2=1e-3)
    opt = optim.adam(lr=0.01)
    want, state = params, opt.init(params)
    for _ in range(2):
        for start in range(0, 120, 32):
            out, cache = fastnn.forward(want, X[start : start + 32])
            grads = fastnn.backward(want, cache, y[start : start + 32])
            grads = {key: g + 1e-3 * want[key] if key[0] == "W" else g for key, g in grads.items()}
            want, state = opt.update(want, grads, state)
    _assert_params_close(got, want)


def test_optimizer_object_brings_its_own_step_schedule():
    from fastnn import optim, schedules

    X, y = _problem(n=200)
    params = fastnn.init_params([12, 9, 4], seed=4, dtype="float64")
    sched = schedules.inverse_time(0.05, 0.01)
    got, h = train(params, X, y, epochs=2, optimizer=optim.momentum(lr=sched, beta=0.5), seed=1)
    # the same through lr= with schedule_unit='step'
    again, h2 = train(params, X, y, epochs=2, optimizer=("momentum", {"beta": 0.5}), lr=sched,
                      schedule_unit="step", seed=1)
    _assert_params_close(got, again, rtol=0, atol=0)
    assert h["lr"] == [0.05, pytest.approx(0.05 / (1 + 0.01 * 200))]
    with pytest.raises(ValueError, match="not both"):
        train(params, X, y, optimizer=optim.sgd(0.1), lr=0.1)
    with pytest.raises(ValueError, match="valid"):
        train(params, X, y, optimizer="lbfgs")


def test_default_lr_comes_from_the_optimizer():
    X, y = _problem(n=50)
    _, h = train(fastnn.init_params([12, 4], seed=0), X, y, optimizer="adam")
    assert h["lr"] == [0.001]
    _, h = train(fastnn.init_params([12, 4], seed=0), X, y)
    assert h["lr"] == [0.01]


def test_early_stopping_restores_the_best_epoch():
    X, y = _problem(n=300, dtype=np.float32)
    Xv, yv = _problem(n=100, seed=1, dtype=np.float32)  # unrelated labels: validation loss soon rises
    params = fastnn.init_params([12, 32, 4], seed=0)
    snapshots = []
    best, h = train(params, X, y, epochs=40, lr=0.05, seed=0, validation_data=(Xv, yv), early_stopping=True,
                    patience=3, callback=lambda e, p, hist: snapshots.append(p))
    n_run = len(h["val_loss"])
    assert n_run < 40
    b = int(np.argmin(h["val_loss"]))
    assert h["best_epoch"] == b + 1
    assert n_run == b + 1 + 3  # stopped after `patience` epochs without improvement
    for key in best:
        np.testing.assert_array_equal(best[key], snapshots[b][key])


def test_min_delta_and_validation_fraction():
    X, y = _problem(n=400, dtype=np.float32)
    params = fastnn.init_params([12, 16, 4], seed=0)
    _, h = train(params, X, y, epochs=30, seed=0, early_stopping=True, min_delta=10.0, patience=2)
    assert len(h["val_loss"]) == 3  # no epoch improves by 10: stop after 1 + patience
    assert h["best_epoch"] == 1
    _, h = train(params, X, y, epochs=1, seed=0, validation_fraction=0.25)
    assert len(h["val_loss"]) == 1
    with pytest.raises(ValueError, match="not both"):
        train(params, X, y, validation_fraction=0.2, validation_data=(X, y))
    with pytest.raises(ValueError, match=r"validation_fraction must be a float in \(0, 1\)"):
        train(params, X, y, validation_fraction=1.5)


@pytest.mark.mnist
def test_mnist_adam_minibatch_reaches_98_percent_within_10_epochs(mnist):
    (X, y), (Xt, yt) = mnist
    params = fastnn.init_params([784, 256, 128, 10], seed=0)
    reached = []

    def check(epoch, p, history):
        reached.append(fastnn.accuracy(p, Xt, yt))
        return reached[-1] < 0.98

    train(params, X, y, epochs=10, optimizer="adam", lr=1e-3, batch_size=128, seed=0, callback=check)
    assert max(reached) >= 0.98, reached


@pytest.mark.parametrize("chunk", [4096, 60], ids=["one-call", "calls-of-two-rounds"])
def test_threads_equal_replicas_of_the_twin_merged_with_a_rising_gain(monkeypatch, chunk):
    # every round, each thread trains its own copy on its share; then the copies' changes are
    # added to the params times a gain that rises from 1/2 (their mean) to 1 (their sum).
    # A compiled call runs whole rounds: the same rounds however many calls an epoch takes.
    monkeypatch.setattr("fastnn.per_sample.ROUND", 50)
    monkeypatch.setattr("fastnn.per_sample.FIRST_ROUND", 50)
    monkeypatch.setattr("fastnn.per_sample.MERGE_WARMUP", 200)
    monkeypatch.setattr("fastnn.per_sample.CHUNK", chunk)
    X, y = _problem(n=430)
    params = fastnn.init_params([12, 9, 7, 4], init="xavier", seed=1, dtype="float64")
    T = one_hot(y, 4, "float64")
    order = np.random.default_rng(3).permutation(len(X))
    lrs = np.linspace(0.05, 0.01, len(X))
    keeps = np.array([0.8, 0.9, 1.0])
    got, tally = _run_kernel(params, X, T, order, lrs, "relu", "softmax", "cross_entropy", 1e-3, keeps, seed=7,
                             n_threads=2)
    assert tally.done == len(X)
    want = params
    gains = [0.5, 0.75, 1.0, 1.0, 1.0]  # after 0, 100, 200, 300, 400 samples, with a warm-up of 200
    for start, gain in zip(range(0, len(X), 100), gains):  # a round: 50 samples on each of 2 threads
        n = min(100, len(X) - start)
        copies = [sgd_steps_numpy(want, X, T, order[lo:hi], lrs[lo:hi], l2=1e-3, keep=keeps, seed=7, step0=lo)
                  for lo, hi in ((start, start + n // 2), (start + n // 2, start + n))]
        want = {key: want[key] + gain * sum(c[key] - want[key] for c in copies) for key in want}
    _assert_params_close(got, want)


def test_merge_gain_rises_from_the_mean_to_the_sum(monkeypatch):
    monkeypatch.setattr("fastnn.per_sample.MERGE_WARMUP", 1000)
    assert [merge_gain(m, 2) for m in (0, 500, 1000, 5000)] == [0.5, 0.75, 1.0, 1.0]
    assert merge_gain(0, 4) == 0.25
    monkeypatch.setattr("fastnn.per_sample.MERGE_WARMUP", 0)
    assert merge_gain(0, 2) == 1.0


def test_three_threads_splitting_units_on_dense_inputs_equal_the_twin(monkeypatch):
    # the row loop on every thread (windows are a one-thread path), uneven shares of 9 units
    monkeypatch.setattr("fastnn.per_sample.SPLIT_FROM", 1)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(250, 12))
    T = one_hot(rng.integers(0, 4, 250), 4, "float64")
    params = fastnn.init_params([12, 9, 7, 4], init="xavier", seed=2, dtype="float64")
    order = rng.permutation(250)
    lrs = np.linspace(0.05, 0.01, 250)
    keeps = np.array([0.8, 0.9, 1.0])
    got, tally = _run_kernel(params, X, T, order, lrs, "tanh", "softmax", "cross_entropy", 1e-3, keeps, seed=3,
                             path="split", n_threads=3)
    assert tally.done == 250
    want = sgd_steps_numpy(params, X, T, order, lrs, activation="tanh", l2=1e-3, keep=keeps, seed=3)
    _assert_params_close(got, want)


def test_units_are_split_on_cache_lines_and_only_wide_layers_are_split():
    assert split_units(800, 2, 4).tolist() == [0, 400, 800]
    assert split_units(100, 2, 4).tolist() == [0, 48, 100]  # 16 float32 units to a 64-byte line
    assert split_units(300, 3, 8).tolist() == [0, 96, 200, 300]
    assert split_units(9, 2, 8).tolist() == [0, 4, 9]  # too few units for whole lines
    assert splits_units(np.array([784, 256, 10])) and splits_units(np.array([784, 800, 10]))
    assert not splits_units(np.array([784, 128, 64, 10])) and not splits_units(np.array([784, 10]))


@pytest.mark.parametrize("kernel,thread_arg", [("split_steps", 11), ("merge_round", 2)],
                         ids=["split", "replicas"])
def test_a_failing_thread_stops_the_threads_waiting_for_it(monkeypatch, kernel, thread_arg):
    from fastnn.kernels import threads

    real = getattr(threads, kernel)

    def fail_on_thread_1(*args):
        if args[thread_arg] == 1:
            raise MemoryError("thread 1 could not allocate")
        return real(*args)

    monkeypatch.setattr("fastnn.per_sample.SPLIT_FROM", 1 if kernel == "split_steps" else 10**9)
    X, y = _problem(n=200, dtype=np.float32)
    params = fastnn.init_params([12, 9, 4], seed=0)
    train(params, X, y, epochs=1, seed=0, n_threads=2)  # compiled before the failure is injected
    monkeypatch.setattr(threads, kernel, fail_on_thread_1)
    with pytest.raises(MemoryError, match="thread 1"):  # thread 0 stopped waiting: no hang
        train(params, X, y, epochs=1, seed=0, n_threads=2)


def test_threads_are_deterministic_for_a_seed_and_learn_as_well_as_one():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 12)) * 2
    y = rng.integers(0, 4, 12000)
    X = np.maximum(centers[y] + rng.normal(size=(12000, 12)) - 1, 0).astype(np.float32)  # sparse: the threads' path
    assert input_density(X) < DENSE_ABOVE
    params = fastnn.init_params([12, 32, 4], seed=0)
    one, h1 = train(params, X[:10000], y[:10000], epochs=3, lr=0.01, seed=0)
    two, h2 = train(params, X[:10000], y[:10000], epochs=3, lr=0.01, seed=0, n_threads=2)
    again, _ = train(params, X[:10000], y[:10000], epochs=3, lr=0.01, seed=0, n_threads=2)
    for key in two:
        assert two[key].tobytes() == again[key].tobytes()
        assert not np.array_equal(two[key], one[key])
    acc1 = fastnn.accuracy(one, X[10000:], y[10000:])
    acc2 = fastnn.accuracy(two, X[10000:], y[10000:])
    assert acc1 > 0.8
    assert abs(acc1 - acc2) <= 0.02, (acc1, acc2)
    assert len(h2["loss"]) == 3


@pytest.mark.parametrize("n_threads", [1, 2])
def test_threads_compute_trains_own_products_with_blas_on_one_thread(blas_threads, n_threads):
    # a threaded BLAS product leaves OpenBLAS's threads spinning, taking cores from the engine's threads
    import fastnn.training as training

    now, watch = blas_threads
    before = now()
    seen = watch(training, "_evaluate")
    X, y = _problem(n=300, dtype=np.float32)
    train(fastnn.init_params([12, 9, 4], seed=0), X, y, epochs=2, seed=0, n_threads=n_threads,
          validation_fraction=0.2)
    assert len(seen) == 3  # the initial loss and each epoch's validation
    if n_threads > 1:
        assert all(set(threads) == {1} for threads in seen), (before, seen)
    else:  # one thread leaves BLAS alone
        assert all(set(threads) == set(before) for threads in seen), (before, seen)
    assert set(now()) == set(before)  # restored


def test_without_threadpoolctl_two_threads_train_as_before(monkeypatch):
    # threadpoolctl is an optional extra: without it BLAS is left alone and training is unchanged
    import sys

    import fastnn.per_sample as per_sample

    X, y = _problem(n=300, dtype=np.float32)
    params = fastnn.init_params([12, 9, 4], seed=0)
    with_it, _ = train(params, X, y, epochs=2, seed=0, n_threads=2, validation_fraction=0.2)
    monkeypatch.setattr(per_sample, "_blas", None)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    without, history = train(params, X, y, epochs=2, seed=0, n_threads=2, validation_fraction=0.2)
    assert len(history["loss"]) == 2
    for k in with_it:
        np.testing.assert_array_equal(without[k], with_it[k])


def test_one_thread_is_exactly_the_serial_kernel():
    X, y = _problem(n=500, dtype=np.float32)
    params = fastnn.init_params([12, 9, 4], seed=0)
    got, _ = train(params, X, y, lr=0.05, seed=3, l2=1e-3, dropout=0.1)
    rng = np.random.default_rng(3)
    drop_seed = int(rng.integers(2**63))
    net = pack(check_params(params))
    opts = kernel_options("relu", "softmax", "cross_entropy", 1e-3, np.array([0.9, 1.0]), drop_seed,
                          get_optimizer("sgd"))
    from fastnn.kernels import steps

    assert steps.sgd_steps(net, X, one_hot(y, 4, "float32"), rng.permutation(500), np.full(500, 0.05, np.float32),
                           opts, 0, np.zeros(3), kernel_work(net.sizes, net.theta.dtype), np.ones(2, np.float32))
    want = unpack(*net)
    for key in want:
        assert got[key].tobytes() == want[key].tobytes(), key


def test_one_thread_compiles_none_of_the_replicas_merging(tmp_path):
    # One thread calls sgd_steps, which holds none of the merging; two threads on replicas
    # call that same compilation of sgd_steps between their merges (merge_round), and compile
    # only the merging. Only a compilation shows which pieces were compiled, not a load from
    # the cache, hence a fresh process with an empty cache.
    child = """
import json, numpy as np, fastnn
from fastnn.kernels import sample, steps, threads
rng = np.random.default_rng(0)
X = rng.random((64, 12)); X[X < 0.6] = 0
y = rng.integers(0, 4, 64)
kernels = (steps.sgd_steps, threads.merge_round, sample.sum_active_rows)
compiled = lambda: [len(f.signatures) for f in kernels]
counts = []
for threads in (1, 2):
    fastnn.train(fastnn.init_params([12, 9, 4], seed=0), X, y, epochs=1, seed=0, n_threads=threads)
    counts.append(compiled())
print(json.dumps(counts))
"""
    out = subprocess.run([sys.executable, "-c", child], env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)},
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    one, two = json.loads(out.stdout)
    assert one == [1, 0, 1]  # the one-thread kernel, without any of the merging
    assert two == [1, 1, 1]  # the threads' replicas: the merging, and no second sgd_steps or piece


def test_shared_kernel_pieces_are_never_called_with_a_literal():
    # The kernels share the pieces that are compiled functions of their own (not inlined);
    # Numba types an integer, bool or string literal argument (0, 2, True) as a literal type,
    # and would compile one more copy of the piece per value: callers wrap them in int() or
    # bool(). (Float constants are typed as plain floats.)
    import ast
    import inspect

    from fastnn.kernels import rules, sample, steps, threads

    tree = ast.Module([node for module in (sample, steps, threads, rules)
                       for node in ast.parse(inspect.getsource(module)).body], [])

    def inlined(fn):
        return any(k.arg == "inline" for d in fn.decorator_list if isinstance(d, ast.Call) for k in d.keywords)

    kernels = {fn.name: fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.decorator_list}
    shared = {name for name, fn in kernels.items() if not inlined(fn)}
    assert {"sgd_steps", "backprop_update_rows", "hidden_layer_out", "sum_active_rows", "split_steps"} <= shared
    calls = [c for fn in kernels.values() for c in ast.walk(fn)
             if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in shared]
    assert len(calls) > 10
    literal = [f"line {c.lineno}: {c.func.id}" for c in calls
               if any(isinstance(a, ast.Constant) and isinstance(a.value, (bool, int, str))
                      for a in [*c.args, *(k.value for k in c.keywords)])]
    assert not literal, literal


def test_thread_arguments():
    X, y = _problem(n=20, dtype=np.float32)
    with pytest.raises(ValueError, match="per-sample SGD"):
        train(fastnn.init_params([12, 4]), X, y, n_threads=2, batch_size=8)
    with pytest.raises(ValueError, match="NUMBA_NUM_THREADS"):
        train(fastnn.init_params([12, 4]), X, y, n_threads=10_000)
    with pytest.raises(ValueError, match="plain per-sample SGD.*batch_size"):
        train(fastnn.init_params([12, 4]), X, y, n_threads=2, optimizer="adam")


def test_dense_inputs_train_in_windows_and_equal_the_twin(monkeypatch):
    from fastnn.kernels import steps

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12))  # standardised features: no zeros
    y = rng.integers(0, 4, 300)
    assert input_density(X) == 1.0 and input_density(_problem()[0]) < 0.5
    calls = []
    real = steps.window_steps
    monkeypatch.setattr(steps, "window_steps",
                        lambda *a: (calls.append((len(a[1]), a[5].flags.c_contiguous)), real(*a))[1])
    params = fastnn.init_params([12, 9, 4], seed=4, dtype="float64")
    got, _ = train(params, X, y, epochs=2, lr=0.02, seed=9, dropout=0.2, l2=1e-3)
    assert sum(n for n, _ in calls) >= 600  # both epochs went through the windows (plus the warm-up's sample)
    # the short last window (300 = 4 * 64 + 44) too gets a C-contiguous Gram block: a strided
    # one is another Numba signature, compiled in the middle of the first epoch
    assert all(contiguous for _, contiguous in calls)
    rng = np.random.default_rng(9)
    drop_seed = int(rng.integers(2**63))
    want, T = params, one_hot(y, 4, "float64")
    keeps = np.array([0.8, 1.0])
    for epoch in range(2):
        order = rng.permutation(300)
        want = sgd_steps_numpy(want, X, T, order, np.full(300, 0.02), l2=1e-3, keep=keeps, seed=drop_seed,
                               step0=300 * epoch)
    _assert_params_close(got, want)


def test_custom_optimizer_runs_through_its_own_update():
    X, y = _problem(n=200)
    params = fastnn.init_params([12, 9, 4], seed=4, dtype="float64")
    o = fastnn.optim.sgd(lr=0.1)
    mine = fastnn.optim.Optimizer(o.init, o.update, "my_sgd", {}, o.lr)
    got, _ = train(params, X, y, optimizer=mine, batch_size=10, seed=0)
    want, _ = train(params, X, y, optimizer="sgd", lr=0.1, batch_size=10, seed=0)
    _assert_params_close(got, want, rtol=0, atol=0)

    def sign_init(p):  # written from scratch: signSGD with a step counter
        return {"step": np.array(0)}

    def sign_update(p, g, state):
        return {k: p[k] - 0.01 * np.sign(g[k]) for k in p}, {"step": state["step"] + 1}

    sign = fastnn.optim.Optimizer(sign_init, sign_update, "sign_sgd", {}, fastnn.schedules.constant(0.01))
    got, history = train(params, X, y, optimizer=sign, batch_size=20, epochs=3, seed=0)
    assert history["loss"][-1] < history["loss"][0]
    for key in params:
        steps = np.abs(got[key] - params[key]) / 0.01  # every element moved by a whole number of steps
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
    with pytest.raises(ValueError, match="batch_size"):
        train(params, X, y, optimizer=sign)


def test_augment_trains_on_fresh_distortions_each_epoch(monkeypatch):
    from fastnn.augment import Distortion

    rng = np.random.default_rng(0)
    X = rng.random((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    seen = []
    dist = Distortion()
    real_apply = Distortion.apply

    def spy(self, X, seed, *, out=None):
        got = real_apply(self, X, seed, out=out)
        seen.append((seed, got.copy()))
        return got

    monkeypatch.setattr(Distortion, "apply", spy)
    params = fastnn.init_params([784, 16, 10], seed=0)
    a, _ = train(params, X, y, epochs=3, seed=1, augment=dist)
    assert len(seen) == 3
    assert len({s for s, _ in seen}) == 3  # a new seed every epoch
    assert not np.array_equal(seen[0][1], seen[1][1])
    # the same seed gives the same distortions and so the same params
    b, _ = train(params, X, y, epochs=3, seed=1, augment=dist)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes()
    with pytest.raises(ValueError, match="image_shape"):
        train(fastnn.init_params([12, 10]), X[:, :12], y, augment=dist)
    with pytest.raises(TypeError, match="Distortion"):
        train(params, X, y, augment="elastic")


def test_same_seed_same_params_whether_kernels_compile_afresh_or_load_from_cache(tmp_path):
    import subprocess
    import sys

    script = (
        "import numpy as np, fastnn, sys\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.random((500, 64), dtype=np.float32); X[X < 0.7] = 0; y = rng.integers(0, 10, 500)\n"
        "p, _ = fastnn.train(fastnn.init_params([64, 32, 16, 10], seed=0), X, y, epochs=2, seed=0, dropout=0.1)\n"
        "sys.stdout.write(b''.join(p[k].tobytes() for k in sorted(p)).hex())\n"
    )
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]  # the first compiles and writes the cache, the second loads it
    assert runs[0].stdout == runs[1].stdout
    assert len(runs[0].stdout) > 1000


@pytest.mark.parametrize("batch_size", [1, 16])
def test_dropout_is_off_at_prediction(batch_size):
    X, y = _problem(n=200, dtype=np.float32)
    params, _ = train(fastnn.init_params([12, 32, 4], seed=0), X, y, epochs=2, dropout=0.5, seed=0,
                      batch_size=batch_size)
    first = fastnn.predict_proba(params, X)
    np.testing.assert_array_equal(first, fastnn.predict_proba(params, X))
    # the plain forward pass of the trained weights, with every unit kept and unscaled
    hidden = np.maximum(X @ params["W1"] + params["b1"], 0)
    logits = hidden @ params["W2"] + params["b2"]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(first, expected / expected.sum(1, keepdims=True), rtol=1e-5)


def test_batch_dropout_keeps_the_expected_fraction():
    # with lr tiny the weights barely move, so the running loss reflects the masks: compare
    # the training loss with dropout 0.5 to the mean loss of many hand-made masked passes
    X, y = _problem(n=4000, dtype=np.float64)
    params = fastnn.init_params([12, 64, 4], seed=0, dtype="float64")
    _, h = train(params, X, y, epochs=1, lr=1e-12, dropout=0.5, batch_size=4000, seed=0)
    rng = np.random.default_rng(1)
    T = one_hot(y, 4, "float64")
    layers = check_params(params)
    losses = []
    for _ in range(50):
        mask = (rng.random((4000, 64)) < 0.5) / 0.5
        acts = forward_layers(layers, X, "relu", "softmax", [mask])
        losses.append(fastnn.losses.cross_entropy(acts[-1], T))
    assert abs(h["loss"][0] - np.mean(losses)) < 4 * np.std(losses) + 1e-3


def test_dense_inputs_take_the_windows_whatever_n_threads(monkeypatch):
    # the windows' matrix products use the cores through BLAS; two threads on the row loop were slower
    from fastnn.kernels import steps, threads

    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 12)).astype(np.float32)  # every entry non-zero
    y = rng.integers(0, 4, 3000)
    params = fastnn.init_params([12, 16, 8, 4], seed=0)
    one, h1 = train(params, X, y, epochs=2, lr=0.01, seed=0)
    for module, kernel in ((steps, "sgd_steps"), (threads, "merge_round"), (threads, "split_steps")):
        monkeypatch.setattr(module, kernel, None)  # the row loop and the threads' kernels
    two, h2 = train(params, X, y, epochs=2, lr=0.01, seed=0, n_threads=2)
    for key in one:
        assert one[key].tobytes() == two[key].tobytes()
    assert h1["loss"] == h2["loss"]


@pytest.mark.parametrize("kwargs", [{}, {"optimizer": "momentum"}], ids=["rows", "rules"])
def test_train_reaches_the_compiled_kernel_in_three_frames(monkeypatch, kwargs):
    # train -> _run_epochs -> engine.epoch -> the kernel: nothing else of fastnn's in between
    import inspect

    from fastnn.kernels import rules, steps

    module, name = (rules, "rule_steps") if kwargs else (steps, "sgd_steps")
    real, stacks = getattr(module, name), []

    def spy(*args):
        stacks.append([f.function for f in inspect.stack()[1:]
                       if f.filename.startswith(os.path.dirname(fastnn.__file__))])
        return real(*args)

    X, y = _problem(n=50, dtype=np.float32)
    params = fastnn.init_params([12, 8, 4], seed=0)
    train(params, X, y, seed=0, **kwargs)  # compiled (and warmed up) before the spy
    monkeypatch.setattr(module, name, spy)
    train(params, X, y, seed=0, **kwargs)
    assert stacks and stacks[-1][:3] == ["epoch", "_run_epochs", "train"], stacks[-1]


def test_a_later_call_pays_no_warm_up(monkeypatch):
    # the kernels are compiled (or loaded) on a scratch copy once per process and configuration:
    # a later call of the same configuration calls the kernel for its own samples only
    from fastnn.kernels import steps

    monkeypatch.setattr("fastnn.per_sample._warm", set())  # whatever earlier tests warmed up
    X, y = _problem(n=300, dtype=np.float32)
    params = fastnn.init_params([12, 9, 4], seed=0)
    train(params, X, y, seed=0)
    real, calls = steps.sgd_steps, []
    monkeypatch.setattr(steps, "sgd_steps", lambda *a: (calls.append(len(a[3])), real(*a))[1])
    train(params, X, y, epochs=2, seed=1)
    assert calls == [300, 300]
    train(fastnn.init_params([12, 9, 4], seed=0, dtype="float64"), X, y, epochs=1, seed=1)
    assert calls == [300, 300, 1, 300]  # another configuration is warmed up on one sample first


def test_train_in_place_gives_train_s_bits_and_trains_its_own_views_in_place():
    X, y = _problem(n=200, dtype=np.float32)
    params = fastnn.init_params([12, 8, 4], seed=0)
    before = {k: v.copy() for k, v in params.items()}
    want, _ = train(params, X, y, epochs=2, seed=0)
    first, _ = train_in_place(params, X, y, epochs=2, seed=0)  # separate arrays: packed once, a copy
    assert all(params[k].tobytes() == before[k].tobytes() for k in params)
    assert all(first[k].tobytes() == want[k].tobytes() for k in want)
    kept = {k: v.copy() for k, v in first.items()}
    want, _ = train(kept, X, y, epochs=1, seed=1, lr=0.05)
    second, _ = train_in_place(first, X, y, epochs=1, seed=1, lr=0.05)  # views of one buffer: in place
    for k in want:
        assert second[k].tobytes() == want[k].tobytes() == first[k].tobytes(), k
        assert np.shares_memory(second[k], first[k])
    assert first["W1"].tobytes() != kept["W1"].tobytes()
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['epoch'\\]"):
        train_in_place(first, X, y, epoch=2)


def test_train_in_place_leaves_the_check_of_weights_to_the_loss():
    X, y = _problem(n=50, dtype=np.float32)
    first, _ = train_in_place(fastnn.init_params([12, 8, 4], seed=0), X, y, seed=0)
    first["W2"][0, 0] = np.nan  # read by every sample whose first hidden unit is active
    with pytest.raises(ValueError, match="NaN or infinite"):
        train(first, X, y, seed=0)  # train scans the params it is given
    with pytest.raises(DivergenceError, match="non-finite"):
        train_in_place(first, X, y, seed=0)


@pytest.mark.parametrize("n, rows", [(20, 20), (1000, 32), (2048, 64), (3000, 93), (60000, 128)])
def test_the_divergence_yardstick_reads_a_share_of_a_short_calls_rows(monkeypatch, n, rows):
    # the initial loss is a dense forward pass: over 128 rows it cost a 1,000-row call as much as a
    # sixth of its sparse-skipping epoch; it needs a scale, not precision
    import fastnn.training as training

    seen, real = [], training._evaluate

    def spy(net, X, T, *args, **kwargs):
        seen.append((X.shape[0], T.shape[0]))
        return real(net, X, T, *args, **kwargs)

    monkeypatch.setattr(training, "_evaluate", spy)
    X, y = _problem(n=n, dtype=np.float32)
    params = fastnn.init_params([12, 9, 4], seed=0)
    train(params, X, y, seed=0)
    assert seen == [(rows, rows)]
