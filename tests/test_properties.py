"""Properties of the public functions over random networks and random input.

Valid input (any depth, widths, dtype, wiring, memory layout): forward, backward, update,
train and predict return finite arrays of the right shapes and dtype, and never modify what
they were given. Invalid input (one thing wrong in an otherwise valid call, or an arbitrary
object in place of an argument): only a ValueError or TypeError, with a message naming what
was wrong, and the caller's arrays untouched. A learning rate far too large always raises
FloatingPointError with the caller's params intact and the last good params attached.

Kept small (widths <= 8, <= 16 rows) so that the many examples stay fast; the first call of a
kernel per dtype loads it from Numba's cache.
"""
import copy
import math
import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import network
from fastnn.activations import HIDDEN
from fastnn.diagnostics import CollapseWarning, InputScaleWarning
from fastnn.training import DivergenceError

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WIRINGS = [("softmax", "cross_entropy"), ("softmax", "mse"), ("sigmoid", "mse"), ("tanh", "mse"), ("identity", "mse")]
DTYPES = ("float32", "float64")


class Net:
    """A random valid network and its wiring."""

    def __init__(self, sizes, dtype, activation, output, loss, init, seed):
        self.sizes, self.dtype = sizes, np.dtype(dtype)
        self.wiring = {"activation": activation, "output_activation": output}
        self.loss = loss
        self.params = fastnn.init_params(sizes, init=init, seed=seed, dtype=dtype)

    def __repr__(self):
        return f"Net({self.sizes}, {self.dtype}, {self.wiring}, {self.loss})"


@st.composite
def nets(draw, max_depth=4):
    depth = draw(st.integers(1, max_depth))
    sizes = draw(st.lists(st.integers(1, 8), min_size=depth + 1, max_size=depth + 1))
    output, loss = draw(st.sampled_from(WIRINGS))
    return Net(sizes, draw(st.sampled_from(DTYPES)), draw(st.sampled_from(HIDDEN)), output, loss,
               draw(st.sampled_from(["he", "xavier", "normal", "uniform"])), draw(st.integers(0, 2**32 - 1)))


@st.composite
def inputs(draw, n_features, max_rows=16, low=-3.0, high=3.0):
    """Rows of floats in any dtype and memory layout: C, Fortran, strided, or a negative stride."""
    n = draw(st.integers(1, max_rows))
    dtype = draw(st.sampled_from(["float32", "float64", "float16"]))
    X = draw(hnp.arrays(np.float64, (n, n_features), elements=st.floats(low, high))).astype(dtype)
    layout = draw(st.sampled_from(["C", "F", "strided", "reversed"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((n, 2 * n_features), dtype=dtype)
        wide[:, ::2] = X
        X = wide[:, ::2]
    elif layout == "reversed":
        X = X[::-1].copy()[::-1]
    return X


def labels(draw, n, n_classes):
    return np.array(draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)), dtype=np.int64)


def snapshot(obj):
    return copy.deepcopy(obj)


def assert_unchanged(obj, before):
    """``obj`` (arrays, dicts, lists, tuples of them) holds the same values, dtypes and shapes."""
    if isinstance(obj, np.ndarray):
        assert isinstance(before, np.ndarray) and obj.dtype == before.dtype and obj.shape == before.shape
        np.testing.assert_array_equal(obj, before)
    elif isinstance(obj, dict):
        assert obj.keys() == before.keys()
        for k in obj:
            assert_unchanged(obj[k], before[k])
    elif isinstance(obj, (list, tuple)):
        assert len(obj) == len(before)
        for a, b in zip(obj, before):
            assert_unchanged(a, b)


def assert_params_like(got, params, dtype):
    assert list(got) == list(params)
    for k in params:
        assert got[k].shape == params[k].shape and got[k].dtype == dtype, k
        assert np.isfinite(got[k]).all(), k


# --- valid input --------------------------------------------------------------------------------------


@PROPS
@given(data=st.data(), net=nets())
def test_forward_gives_finite_outputs_of_the_right_shape(data, net):
    X = data.draw(inputs(net.sizes[0]))
    before = snapshot((net.params, X))
    out, cache = fastnn.forward(net.params, X, **net.wiring)
    assert_unchanged((net.params, X), before)
    assert out.shape == (len(X), net.sizes[-1]) and out.dtype == net.dtype
    assert np.isfinite(out).all()
    assert [a.shape for a in cache.activations] == [(len(X), s) for s in net.sizes]
    lo, hi = {"softmax": (0, 1), "sigmoid": (0, 1), "tanh": (-1, 1), "identity": (-np.inf, np.inf)}[net.wiring["output_activation"]]
    assert ((out >= lo) & (out <= hi)).all()
    if net.wiring["output_activation"] == "softmax":
        np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)
    # a non-contiguous X is copied, not refused: the same numbers as a C-contiguous copy
    same, _ = fastnn.forward(net.params, np.ascontiguousarray(X), **net.wiring)
    np.testing.assert_array_equal(out, same)


@PROPS
@given(data=st.data(), net=nets())
def test_backward_gives_finite_gradients_shaped_like_the_params(data, net):
    X = data.draw(inputs(net.sizes[0]))
    y = labels(data.draw, len(X), net.sizes[-1])
    out, cache = fastnn.forward(net.params, X, **net.wiring)
    before = snapshot((net.params, y, cache.activations))
    grads = fastnn.backward(net.params, cache, y, activation=net.wiring["activation"], loss=net.loss)
    assert_unchanged((net.params, y, cache.activations), before)
    assert_params_like(grads, net.params, net.dtype)
    # one-hot float targets give the same gradients as the labels
    T = np.eye(net.sizes[-1])[y]
    same = fastnn.backward(net.params, cache, T, activation=net.wiring["activation"], loss=net.loss)
    for k in grads:
        np.testing.assert_array_equal(grads[k], same[k])


@PROPS
@given(data=st.data(), net=nets(), lr=st.floats(1e-4, 1.0))
def test_update_gives_new_finite_params(data, net, lr):
    X = data.draw(inputs(net.sizes[0]))
    y = labels(data.draw, len(X), net.sizes[-1])
    grads = fastnn.backward(net.params, fastnn.forward(net.params, X, **net.wiring)[1], y,
                            activation=net.wiring["activation"], loss=net.loss)
    before = snapshot((net.params, grads))
    new = fastnn.update(net.params, grads, lr)
    assert_unchanged((net.params, grads), before)
    assert_params_like(new, net.params, net.dtype)
    for k in new:
        np.testing.assert_allclose(new[k], net.params[k] - lr * grads[k], rtol=1e-6, atol=1e-7)


@settings(PROPS, max_examples=30)
@given(data=st.data(), net=nets(max_depth=3), batch_size=st.sampled_from([1, 1, 3, None]),
       optimizer=st.sampled_from(["sgd", "sgd", "momentum", "adam"]), epochs=st.integers(1, 2),
       regularise=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_train_returns_finite_params_and_a_history(data, net, batch_size, optimizer, epochs, regularise, seed):
    X = data.draw(inputs(net.sizes[0], low=0.0, high=1.0))
    y = labels(data.draw, len(X), net.sizes[-1])
    extra = {}
    if regularise:
        extra = {"l2": 1e-3, "dropout": 0.2 if len(net.sizes) > 2 else 0.0}
    before = snapshot((net.params, X, y))
    with warnings.catch_warnings():
        # a drawn network may collapse on a handful of drawn samples (every relu unit dead, or
        # equal outputs), which train() rightly reports; what is checked here holds either way
        warnings.filterwarnings("ignore", category=CollapseWarning)
        params, history = fastnn.train(net.params, X, y, epochs=epochs, lr=0.01, batch_size=batch_size,
                                       optimizer=optimizer, seed=seed, loss=net.loss, **net.wiring, **extra)
    assert_unchanged((net.params, X, y), before)
    assert_params_like(params, net.params, net.dtype)
    assert history["epoch"] == list(range(1, epochs + 1))
    assert all(math.isfinite(v) and v >= 0 for v in history["loss"])
    assert all(0 <= a <= 1 for a in history["accuracy"])


@settings(PROPS, max_examples=20)
@given(data=st.data(), net=nets(max_depth=3), chunk=st.integers(1, 7))
def test_predict_in_chunks_equals_one_forward_pass(data, net, chunk):
    X = data.draw(inputs(net.sizes[0], max_rows=30))
    want = fastnn.forward(net.params, X, **net.wiring)[0]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(network, "PREDICT_CHUNK", chunk)
        proba = fastnn.predict_proba(net.params, X, **net.wiring)
        pred = fastnn.predict(net.params, X, **net.wiring)
    np.testing.assert_allclose(proba, want, rtol=1e-5, atol=1e-6)
    assert pred.dtype == np.int64 and pred.shape == (len(X),)
    np.testing.assert_array_equal(pred, np.argmax(proba, axis=1))


@settings(PROPS, max_examples=20)
@given(net=nets(max_depth=3))
def test_save_and_load_round_trip_any_network(net):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.npz")
        fastnn.save(path, net.params, wiring={**net.wiring, "loss": net.loss})
        got, meta = fastnn.load(path)
    for k in net.params:
        assert got[k].dtype == net.dtype and got[k].tobytes() == net.params[k].tobytes()
    assert meta["layer_sizes"] == net.sizes and meta["activation"] == net.wiring["activation"]


# --- invalid input: one thing wrong in a valid call ------------------------------------------------

REFUSED = (ValueError, TypeError)


def refused(call, *args, **kwargs):
    """Call and return the exception, which must be a ValueError or TypeError with a message."""
    try:
        call(*args, **kwargs)
    except REFUSED as e:
        assert len(str(e)) > 15, f"{type(e).__name__} with too short a message: {e!r}"
        return e
    raise AssertionError(f"{call.__name__} accepted invalid input")


def _nan_at(draw, X):
    X = np.array(X, dtype=np.float64)
    X.flat[draw(st.integers(0, X.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return X


X_MUTATIONS = {
    "integer": lambda draw, X: (X * 255).astype(np.uint8),
    "bool": lambda draw, X: X > 0,
    "complex": lambda draw, X: X.astype(np.complex64),
    "strings": lambda draw, X: X.astype(str),
    "object": lambda draw, X: X.astype(object),
    "extra column": lambda draw, X: np.hstack([X, X[:, :1]]),
    "1-D": lambda draw, X: np.ascontiguousarray(X[0]),
    "3-D": lambda draw, X: X[None],
    "0-D": lambda draw, X: np.float32(1.0),
    "empty": lambda draw, X: X[:0],
    "non-finite": _nan_at,
    "None": lambda draw, X: None,
    "a string": lambda draw, X: "X.csv",
    "a dict": lambda draw, X: {"X": X},
}


def _other_label(draw, y, n_classes):
    y = y.copy()
    y[draw(st.integers(0, len(y) - 1))] = draw(st.sampled_from([-1, n_classes, n_classes + 7, -(2**40)]))
    return y


Y_MUTATIONS = {
    "out of range": _other_label,
    "one short": lambda draw, y, k: y[:-1],
    "one too many": lambda draw, y, k: np.append(y, 0),
    "fractional": lambda draw, y, k: y + 0.5,
    "non-finite": lambda draw, y, k: np.where(np.arange(len(y)) == 0, np.nan, y),
    "strings": lambda draw, y, k: y.astype(str),
    "bool": lambda draw, y, k: y > 0,
    "2-D, wrong width": lambda draw, y, k: np.zeros((len(y), k + 1)),
    "2-D, non-finite": lambda draw, y, k: np.full((len(y), k), np.nan),
    "3-D": lambda draw, y, k: y[:, None, None],
    "0-D": lambda draw, y, k: np.array(1),
    "None": lambda draw, y, k: None,
}


def _without(d, key):
    return {k: v for k, v in d.items() if k != key}


P_MUTATIONS = {
    "not a dict": lambda draw, p: list(p.values()),
    "empty": lambda draw, p: {},
    "a missing array": lambda draw, p: _without(p, draw(st.sampled_from(sorted(p)))),
    "an extra key": lambda draw, p: {**p, draw(st.sampled_from(["W0", "c1", "W01", "w1", "bias", 1])): p["b1"]},
    "a skipped layer": lambda draw, p: {**p, f"W{len(p) // 2 + 2}": p["W1"], f"b{len(p) // 2 + 2}": p["b1"]},
    "a list for an array": lambda draw, p: {**p, "W1": p["W1"].tolist()},
    "integer weights": lambda draw, p: {**p, "W1": p["W1"].astype(np.int32)},
    "a float16 bias": lambda draw, p: {**p, "b1": p["b1"].astype(np.float16)},
    "mixed dtypes": lambda draw, p: {**p, "W1": p["W1"].astype(np.float64 if p["W1"].dtype == np.float32 else np.float32)},
    "a non-finite weight": lambda draw, p: {**p, "W1": _nan_at(draw, p["W1"]).astype(p["W1"].dtype)},
    "a bias of the wrong length": lambda draw, p: {**p, "b1": np.append(p["b1"], p["b1"][:1])},
    "a 1-D weight": lambda draw, p: {**p, "W1": p["W1"].ravel()},
    "unchained layers": lambda draw, p: {**p, "W1": np.hstack([p["W1"], p["W1"][:, :1]]),
                                         "b1": np.append(p["b1"], p["b1"][:1])} if len(p) > 2 else {},
    "an empty array": lambda draw, p: {**p, "W1": p["W1"][:0]},
}

G_MUTATIONS = {
    "not a dict": lambda draw, g: list(g.values()),
    "None": lambda draw, g: None,
    "a missing array": lambda draw, g: _without(g, draw(st.sampled_from(sorted(g)))),
    "an extra key": lambda draw, g: {**g, "W0": g["b1"]},
    "a wrong shape": lambda draw, g: {**g, "b1": np.append(g["b1"], 0)},
    "a non-finite value": lambda draw, g: {**g, "W1": _nan_at(draw, g["W1"]).astype(g["W1"].dtype)},
    "strings": lambda draw, g: {**g, "W1": g["W1"].astype(str)},
    "objects": lambda draw, g: {**g, "W1": g["W1"].astype(object)},
    "integers": lambda draw, g: {**g, "W1": g["W1"].astype(np.int64)},
    "a list for an array": lambda draw, g: {**g, "W1": g["W1"].tolist()},
}

S_MUTATIONS = {
    "not a dict": lambda draw: 3,
    "a list": lambda draw: [np.zeros(2)],
    "objects": lambda draw: {"m/W1": np.array([None, 1.0], dtype=object)},
    "strings": lambda draw: {"m/W1": np.array(["a"])},
    "a non-string key": lambda draw: {1: np.zeros(2)},
}

WORDS = {"activation": ["gelu", "ReLU", "", 3, None], "output_activation": ["softmaxx", "linear", 0],
         "loss": ["hinge", "ce", None]}
LRS = [0, -0.1, float("nan"), float("inf"), "0.1", [0.1], True]


def _names_the_argument(e, *names):
    text = str(e)
    assert any(name in text for name in names), f"message does not name {names}: {text}"


USES = {  # which arguments each function takes (a mutation of another one is not a mistake)
    "forward": {"params", "X", "word"}, "predict": {"params", "X", "word"}, "predict_proba": {"params", "X", "word"},
    "accuracy": {"params", "X", "y", "word"}, "backward": {"params", "y", "word"}, "update": {"params", "grads", "lr"},
    "train": {"params", "X", "y", "word", "lr"}, "save": {"params", "word", "state"},
}


@st.composite
def broken_calls(draw):
    """A valid call with one thing made wrong: (function, target, what, args, kwargs, names, net).

    ``names`` are the words one of which the refusal's message must contain; ``args["X0"]`` is
    the valid X, for backward's cache."""
    net = draw(nets(max_depth=3))
    X = draw(inputs(net.sizes[0], max_rows=6, low=0.0, high=1.0))
    y = labels(draw, len(X), net.sizes[-1])
    fn = draw(st.sampled_from(["forward", "backward", "update", "train", "predict", "predict_proba", "accuracy",
                               "save"]))
    target = draw(st.sampled_from(sorted(USES[fn])))
    grads = {k: np.full_like(v, 0.5) for k, v in net.params.items()}
    args = {"params": net.params, "X": X, "y": y, "lr": 0.01, "grads": grads, "state": None, "X0": X}
    kwargs = dict(net.wiring)
    if fn in ("backward", "train", "save"):
        kwargs["loss"] = net.loss
    if fn == "backward":
        del kwargs["output_activation"]
    if target == "word":
        word = draw(st.sampled_from(sorted(set(kwargs) & set(WORDS))))
        kwargs[word] = draw(st.sampled_from(WORDS[word]))
        names = (word,)
        what = f"{word}={kwargs[word]!r}"
    elif target == "lr":
        args["lr"] = draw(st.sampled_from(LRS))
        names, what = ("lr",), f"lr={args['lr']!r}"
    elif target == "params":
        what = draw(st.sampled_from(sorted(P_MUTATIONS)))
        args["params"] = P_MUTATIONS[what](draw, net.params)
        names = ("params", "W1", "b1")
    elif target == "grads":
        what = draw(st.sampled_from(sorted(G_MUTATIONS)))
        args["grads"] = G_MUTATIONS[what](draw, grads)
        names = ("grads",)
    elif target == "state":
        what = draw(st.sampled_from(sorted(S_MUTATIONS)))
        args["state"] = S_MUTATIONS[what](draw)
        names = ("state",)
    elif target == "X":
        what = draw(st.sampled_from(sorted(X_MUTATIONS)))
        args["X"] = X_MUTATIONS[what](draw, X)
        names = ("X",)
    else:
        what = draw(st.sampled_from(sorted(Y_MUTATIONS)))
        args["y"] = Y_MUTATIONS[what](draw, y, net.sizes[-1])
        names = ("y",)
    return fn, target, what, args, kwargs, names, net


def _call(fn, args, kwargs, net, folder):
    p, X, y, lr = args["params"], args["X"], args["y"], args["lr"]
    if fn == "forward":
        return fastnn.forward(p, X, **kwargs)
    if fn in ("predict", "predict_proba", "accuracy"):
        kwargs = {k: v for k, v in kwargs.items() if k in ("activation", "output_activation")}
        if fn == "accuracy":
            return fastnn.accuracy(p, X, y, **kwargs)
        return getattr(fastnn, fn)(p, X, **kwargs)
    if fn == "backward":
        # the cache comes from a valid forward pass; backward gets the (possibly broken) rest
        cache = fastnn.forward(net.params, args["X0"], activation=net.wiring["activation"],
                               output_activation=net.wiring["output_activation"])[1]
        return fastnn.backward(p, cache, y, **kwargs)
    if fn == "update":
        return fastnn.update(p, args["grads"], lr)
    if fn == "save":
        return fastnn.save(os.path.join(folder, "m.npz"), p, state=args["state"], wiring=kwargs)
    return fastnn.train(p, X, y, lr=lr, **kwargs)


@settings(PROPS, max_examples=200)
@given(call=broken_calls())
def test_one_invalid_argument_is_refused_with_a_message_naming_it(call):
    fn, target, what, args, kwargs, names, net = call
    before = snapshot(args)
    with tempfile.TemporaryDirectory() as folder:
        e = refused(_call, fn, args, kwargs, net, folder)
        assert os.listdir(folder) == []  # nothing written by a refused save
    _names_the_argument(e, *names)
    assert_unchanged(args, before)


@pytest.mark.parametrize("X", [None, np.float32(1.0), 3])
def test_accuracy_names_x_when_it_is_not_an_array(X):
    e = refused(fastnn.accuracy, fastnn.init_params([4, 3], seed=0), X, np.array([0, 1]))
    _names_the_argument(e, "X")


# --- invalid input: arbitrary objects in place of an argument ---------------------------------------

ODD_DTYPES = ["float64", "float32", "float16", "int64", "int8", "uint8", "bool", "complex128", "datetime64[s]",
              "<U4", "object"]


@st.composite
def odd_arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(ODD_DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    if dtype.kind == "f":
        elements = st.one_of(st.floats(-100, 100, width=16), st.sampled_from([np.nan, np.inf, -np.inf]))
    elif dtype.kind in "iu":
        elements = st.integers(-5, 20) if dtype.kind == "i" else st.integers(0, 20)
    elif dtype.kind == "O":
        elements = st.one_of(st.none(), st.floats(-1, 1), st.text(max_size=2))
    else:
        elements = None
    return draw(hnp.arrays(dtype, shape, elements=elements))


ANYTHING = st.one_of(
    odd_arrays(), st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.lists(st.floats(-1, 1), max_size=5), st.lists(st.lists(st.floats(-1, 1), max_size=4), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)


@settings(PROPS, max_examples=200)
@given(net=nets(max_depth=2), fn=st.sampled_from(["forward", "predict", "backward", "train", "accuracy", "update"]),
       position=st.sampled_from(["params", "X", "y", "params value", "lr"]), thing=ANYTHING)
def test_anything_in_place_of_an_argument_is_refused_or_works(net, fn, position, thing):
    """Whatever is passed, the answer is a result, a ValueError or a TypeError with a message,
    never another exception (an IndexError, an AttributeError, a crash inside a kernel)."""
    X = np.linspace(0, 1, 3 * net.sizes[0], dtype=net.dtype).reshape(3, net.sizes[0])
    y = np.arange(3) % net.sizes[-1]
    params, lr = net.params, 0.01
    if position == "params":
        params = thing
    elif position == "params value":
        params = {**net.params, "W1": thing}
    elif position == "X":
        X = thing
    elif position == "y":
        y = thing
    else:
        lr = thing
    wiring = net.wiring
    try:
        if fn == "forward":
            out = fastnn.forward(params, X, **wiring)[0]
        elif fn == "predict":
            out = fastnn.predict_proba(params, X, **wiring)
        elif fn == "accuracy":
            out = np.array(fastnn.accuracy(params, X, y, **wiring))
        elif fn == "update":
            out = fastnn.update(net.params, {k: v if k != "W1" or position != "X" else thing
                                             for k, v in net.params.items()}, lr)
            out = np.concatenate([v.ravel() for v in out.values()])
        elif fn == "backward":
            cache = fastnn.forward(net.params, np.zeros((3, net.sizes[0]), net.dtype), **wiring)[1]
            grads = fastnn.backward(params, cache, y, activation=wiring["activation"], loss=net.loss)
            out = np.concatenate([v.ravel() for v in grads.values()])
        else:
            try:
                params2, _ = fastnn.train(params, X, y, lr=lr, loss=net.loss, **wiring)
            except DivergenceError as e:  # possible with X of magnitude 100 and identity units
                params2 = e.params
            out = np.concatenate([v.ravel() for v in params2.values()])
    except REFUSED as e:
        assert len(str(e)) > 15, f"{type(e).__name__} with too short a message: {e!r}"
        return
    assert np.isfinite(out).all()


@settings(PROPS, max_examples=100)
@given(position=st.sampled_from(["layer_sizes", "init", "seed", "dtype"]), thing=ANYTHING)
def test_init_params_refuses_anything_odd(position, thing):
    kwargs = {"layer_sizes": [3, 2], "init": "he", "seed": 0, "dtype": "float32", position: thing}
    try:
        params = fastnn.init_params(**kwargs)
    except REFUSED as e:
        assert len(str(e)) > 15, f"{type(e).__name__} with too short a message: {e!r}"
        return
    # accepted: then it was a valid value, e.g. layer sizes given as a NumPy integer array
    sizes = [int(s) for s in thing] if position == "layer_sizes" else [3, 2]
    assert_params_like(params, fastnn.init_params(sizes), params["W1"].dtype)


def test_init_params_dtype_none_is_refused_not_float64():
    """The default is float32; dtype=None (NumPy's spelling of its own default, float64) must
    not silently give float64."""
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64', got None"):
        fastnn.init_params([3, 2], dtype=None)


# --- a learning rate far too large ---------------------------------------------------------------------


def _assert_divergence(info, params, before, lr):
    e = info.value
    assert isinstance(e, DivergenceError)
    assert f"lr={lr:g}" in str(e) and "epoch 1" in str(e) and "smaller learning rate" in str(e)
    assert_unchanged(params, before)  # the caller's params are untouched
    assert_params_like(e.params, params, params["W1"].dtype)  # the last good params are attached
    assert e.epoch == 0 and e.history["loss"] == []


@settings(PROPS, max_examples=15)
@given(net=nets(max_depth=3), batch_size=st.sampled_from([1, 32]), seed=st.integers(0, 100))
def test_a_huge_learning_rate_always_raises_with_params_intact(net, batch_size, seed):
    assume(net.loss == "cross_entropy" or net.wiring["output_activation"] == "identity")  # bounded losses cannot blow up
    assume(net.sizes[-1] > 1 or net.wiring["output_activation"] != "softmax")  # a softmax of one output is always 1
    rng = np.random.default_rng(seed)
    X = rng.random((200, net.sizes[0])).astype(net.dtype)
    y = rng.integers(0, net.sizes[-1], 200)
    before = snapshot(net.params)
    # inputs in [0, 1) with lr=1000 are warned about before training starts, then diverge
    with pytest.warns(InputScaleWarning, match="far too large"), pytest.raises(FloatingPointError) as info:
        fastnn.train(net.params, X, y, lr=1e3, batch_size=batch_size, seed=seed, loss=net.loss, **net.wiring,
                     epochs=3)
    _assert_divergence(info, net.params, before, 1e3)


@pytest.fixture(scope="module")
def mnist_10k(mnist):
    (X, y), _ = mnist
    return X[:10_000], y[:10_000]


@pytest.mark.mnist
@pytest.mark.parametrize("activation,batch_size", [
    ("relu", 1), ("sigmoid", 1), ("tanh", 1),
    ("relu", 32),
])
def test_lr_1000_on_mnist_raises_with_params_intact(mnist_10k, activation, batch_size):
    X, y = mnist_10k
    params = fastnn.init_params([784, 64, 10], seed=0, init="he" if activation == "relu" else "xavier")
    before = snapshot(params)
    with pytest.warns(InputScaleWarning, match="far too large"), pytest.raises(FloatingPointError) as info:
        fastnn.train(params, X, y, lr=1e3, batch_size=batch_size, activation=activation, seed=0)
    _assert_divergence(info, params, before, 1e3)
    np.testing.assert_array_equal(info.value.params["W1"], params["W1"])  # good = before epoch 1


# --- a path that cannot name a file ---------------------------------------------------------------------


@pytest.mark.parametrize("name,error", [("folder", IsADirectoryError), ("folder/", IsADirectoryError),
                                        ("missing/", IsADirectoryError), ("", FileNotFoundError)])
def test_save_to_a_path_that_names_no_file_creates_nothing(tmp_path, monkeypatch, name, error):
    """Refused as open(path, 'w') would refuse it, naming the path the caller gave, before any
    temporary file is created (not in the parent folder either)."""
    (tmp_path / "work" / "folder").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    created = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *a, **k: created.append(path) or real_open(path, *a, **k))
    with pytest.raises(error) as info:
        fastnn.save(name, fastnn.init_params([3, 2], seed=0),
                    wiring={"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"})
    assert created == [] and ".part" not in str(info.value) and repr(name) in str(info.value)
