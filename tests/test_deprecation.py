"""Renamed names (fastnn.deprecation): ``output=`` became ``output_activation=`` (issue 30.6).

Every public function that took ``output=`` still takes it, warns with a DeprecationWarning that
names the new keyword and points at the caller, and gives the same result as
``output_activation=``; giving both is a TypeError.
"""
import importlib
import inspect
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import committee, diagnostics, losses, network, twin
from fastnn.deprecation import renamed_keys, renamed_keywords

NEW = r"output= is deprecated; use output_activation="
BOTH = r"got both output_activation= and its deprecated name output="

# the modules of the API reference (docs/api/index.rst) and the top level
MODULES = ["fastnn", "fastnn.network", "fastnn.metrics", "fastnn.training", "fastnn.io", "fastnn.losses",
           "fastnn.committee", "fastnn.diagnostics", "fastnn.export_onnx", "fastnn.twin", "fastnn.server",
           "fastnn.sklearn", "fastnn.activations", "fastnn.optim", "fastnn.augment", "fastnn.plotting"]


def _old_and_new(fn, *args, **kwargs):
    """``(result with output=, result with output_activation=, the warnings of the old call)``."""
    value = kwargs.pop("output_activation")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = fn(*args, output=value, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the new name is not deprecated
        new = fn(*args, output_activation=value, **kwargs)
    return old, new, caught


def _assert_same(a, b):
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    else:
        assert a == b


def _assert_one_warning_here(caught, name):
    rename = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(rename) == 1, [str(w.message) for w in caught]
    assert f"{name}(): the keyword {NEW}" in str(rename[0].message)
    assert rename[0].filename == __file__  # it points at the call, not inside fastnn


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(0)
    X = rng.random((40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    return fastnn.init_params([6, 5, 3], seed=0), X, y


CALLS = {  # name: (function, arguments before the keywords, other keywords) -- the arguments from the fixture
    "forward": lambda p, X, y: (fastnn.forward, (p, X), {}),
    "predict_proba": lambda p, X, y: (fastnn.predict_proba, (p, X), {}),
    "predict": lambda p, X, y: (fastnn.predict, (p, X), {}),
    "accuracy": lambda p, X, y: (fastnn.accuracy, (p, X, y), {}),
    "train": lambda p, X, y: (fastnn.train, (p, X, np.eye(3, dtype=np.float32)[y]), dict(epochs=1, lr=0.05, seed=0,
                                                                                          loss="mse")),
    "forward_layers": lambda p, X, y: (network.forward_layers, ([(p["W1"], p["b1"]), (p["W2"], p["b2"])], X, "relu"),
                                       {}),
    "committee_predict_proba": lambda p, X, y: (committee.committee_predict_proba, ([p, p], X), {}),
    "committee_predict": lambda p, X, y: (committee.committee_predict, ([p, p], X), {}),
    "train_committee": lambda p, X, y: (committee.train_committee, ([p, p], X, np.eye(3, dtype=np.float32)[y]),
                                        dict(epochs=1, lr=0.05, seed=0, loss="mse", n_jobs=1)),
    "collapse_problem": lambda p, X, y: (diagnostics.collapse_problem, (p, X), {}),
    "warn_collapse": lambda p, X, y: (diagnostics.warn_collapse, (p, X, 0.1), {}),
    "sgd_steps_numpy": lambda p, X, y: (twin.sgd_steps_numpy, ({k: v.astype(np.float64) for k, v in p.items()},
                                                               X[:8].astype(np.float64), np.eye(3)[y[:8]],
                                                               np.arange(8), np.full(8, 0.05)), dict(loss="mse")),
    "check_pairing": lambda p, X, y: (losses.check_pairing, (), dict(loss="mse")),
    "output_delta": lambda p, X, y: (losses.output_delta, (np.full((2, 3), 0.25), np.eye(3)[:2]), dict(loss="mse")),
    "mse_delta": lambda p, X, y: (losses.mse_delta, (np.full((2, 3), 0.25), np.eye(3)[:2]), {}),
    "softmax_cross_entropy_delta": lambda p, X, y: (losses.softmax_cross_entropy_delta,
                                                    (np.full((2, 3), 1 / 3), np.eye(3)[:2]), {}),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("value", ["sigmoid", "softmax"])
def test_the_old_keyword_warns_and_gives_the_same_result(net, name, value):
    if name == "softmax_cross_entropy_delta" and value != "softmax":
        pytest.skip("cross-entropy's delta is for softmax outputs only")
    fn, args, kwargs = CALLS[name](*net)
    old, new, caught = _old_and_new(fn, *args, output_activation=value, **kwargs)
    _assert_one_warning_here(caught, fn.__name__)
    if name in ("train", "train_committee"):  # (params, history): the seconds differ from run to run
        _assert_same(old[0], new[0])
        histories = (old[1], new[1]) if name == "train_committee" else ([old[1]], [new[1]])
        assert [h["wiring"] for h in histories[0]] == [h["wiring"] for h in histories[1]]
        assert histories[0][0]["wiring"]["output_activation"] == value
        return
    if name == "forward":
        assert old[1].output_activation == new[1].output_activation == value
        old, new = old[0], new[0]
    _assert_same(old, new)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_both_names_are_a_type_error(net, name):
    fn, args, kwargs = CALLS[name](*net)
    with pytest.raises(TypeError, match=BOTH):
        fn(*args, output="softmax", output_activation="softmax", **kwargs)


def test_train_s_history_names_the_output_activation(net):
    params, X, y = net
    with pytest.warns(DeprecationWarning, match=NEW):
        _, history = fastnn.train(params, X, np.eye(3, dtype=np.float32)[y], epochs=1, lr=0.05, seed=0,
                                  output="sigmoid", loss="mse")
    assert history["wiring"] == {"activation": "relu", "output_activation": "sigmoid", "loss": "mse"}


def test_the_old_keyword_in_member_options_warns(net):
    params, X, y = net
    T = np.eye(3, dtype=np.float32)[y]
    with pytest.warns(DeprecationWarning, match=r"member_options\[1\]: the key 'output' is deprecated") as caught:
        _, old = committee.train_committee([params, params], X, T, epochs=1, lr=0.05, seed=0, loss="mse", n_jobs=1,
                                           member_options=[{}, {"output": "sigmoid"}])
    assert caught[0].filename == __file__
    assert [h["wiring"]["output_activation"] for h in old] == ["softmax", "sigmoid"]


def test_backward_layers_takes_the_old_keyword(net):
    params, X, y = net
    layers = [(params["W1"], params["b1"]), (params["W2"], params["b2"])]
    acts = network.forward_layers(layers, X, "relu", "sigmoid")
    T = np.eye(3, dtype=np.float32)[y]
    with pytest.warns(DeprecationWarning, match=NEW):
        old = network.backward_layers(layers, acts, T, "relu", output="sigmoid", loss="mse")
    _assert_same(old, network.backward_layers(layers, acts, T, "relu", output_activation="sigmoid", loss="mse"))


def test_the_export_functions_take_the_old_keyword(net, tmp_path):
    pytest.importorskip("onnx")
    from fastnn.export_onnx import export_onnx, to_onnx

    params = net[0]
    old, new, caught = _old_and_new(to_onnx, params, output_activation="sigmoid")
    _assert_one_warning_here(caught, "to_onnx")
    assert old.SerializeToString() == new.SerializeToString()
    with pytest.warns(DeprecationWarning, match=r"export_onnx\(\): the keyword " + NEW) as caught:
        export_onnx(params, tmp_path / "old.onnx", output="sigmoid")
    assert len(caught) == 1 and caught[0].filename == __file__
    export_onnx(params, tmp_path / "new.onnx", output_activation="sigmoid")
    assert (tmp_path / "old.onnx").read_bytes() == (tmp_path / "new.onnx").read_bytes()


def test_the_renamed_fields_still_read_with_a_warning(net):
    params, X, _ = net
    _, cache = fastnn.forward(params, X, output_activation="sigmoid")
    with pytest.warns(DeprecationWarning, match=r"Cache\.output is deprecated; use Cache\.output_activation"):
        assert cache.output == "sigmoid"
    with pytest.warns(DeprecationWarning, match=r"Loss\.outputs is deprecated; use Loss\.output_activations"):
        assert losses.LOSSES["cross_entropy"].outputs == ("softmax",)


def test_the_server_takes_the_old_wiring_key():
    pytest.importorskip("starlette")
    from fastnn.server import make_app, make_server

    params = fastnn.init_params([784, 10], seed=0)
    names = [str(d) for d in range(10)]
    with pytest.warns(DeprecationWarning, match="wiring: the key 'output' is deprecated") as caught:
        make_app(params, names, wiring={"activation": "relu", "output": "sigmoid"})
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match="wiring: the key 'output' is deprecated") as caught:
        server = make_server(params, names, wiring={"activation": "relu", "output": "sigmoid"}, port=0)
    server.server_close()
    assert len(caught) == 1 and caught[0].filename == __file__
    with pytest.raises(TypeError, match="both 'output_activation' and its deprecated name 'output'"):
        make_app(params, names, wiring={"activation": "relu", "output": "sigmoid", "output_activation": "sigmoid"})


def test_every_public_function_with_the_new_keyword_takes_the_old_one():
    """No public function takes output_activation= without also taking output= (the shared helper)."""
    seen = set()
    for module in MODULES:
        mod = importlib.import_module(module)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            if not inspect.isfunction(obj) or obj in seen:
                continue
            seen.add(obj)
            parameters = inspect.signature(obj).parameters
            assert "output" not in parameters, f"{module}.{name} still names the keyword output"
            if "output_activation" in parameters:
                assert hasattr(obj, "__wrapped__"), f"{module}.{name} takes output_activation= but not output="
    assert {"forward", "train", "predict", "to_onnx", "check_pairing"} <= {f.__name__ for f in seen
                                                                          if hasattr(f, "__wrapped__")}


def test_the_helper_keeps_order_and_refuses_both():
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert list(renamed_keys({"a": 1, "output": 2, "b": 3}, {"output": "output_activation"}, "f()")) == \
            ["a", "output_activation", "b"]
    with pytest.raises(TypeError, match=r"^f\(\) got both 'new' and its deprecated name 'old'; give 'new' only$"):
        renamed_keys({"old": 1, "new": 1}, {"old": "new"}, "f()", kind="key")

    @renamed_keywords(old="new")
    def f(*, new=0):
        return new

    assert inspect.signature(f) == inspect.signature(f.__wrapped__) and f(new=3) == 3


def test_the_helper_s_examples_run():
    import doctest

    import fastnn.deprecation

    failed, attempted = doctest.testmod(fastnn.deprecation, optionflags=doctest.ELLIPSIS)
    assert attempted >= 8 and failed == 0


def test_the_twin_s_old_name_still_imports_with_a_warning():
    with pytest.warns(DeprecationWarning, match=r"fastnn\.twin\.sgd_epoch_numpy is deprecated; use "
                                                r"fastnn\.twin\.sgd_steps_numpy") as caught:
        from fastnn.twin import sgd_epoch_numpy
    assert sgd_epoch_numpy is twin.sgd_steps_numpy and caught[0].filename == __file__
    with pytest.warns(DeprecationWarning):
        assert twin.sgd_epoch_numpy is twin.sgd_steps_numpy
    with pytest.raises(AttributeError, match="has no attribute 'sgd_epoch'"):
        twin.sgd_epoch


def test_train_s_own_warnings_still_point_at_the_caller():
    """The wrapper adds a frame above train: its scale and collapse warnings allow for it."""
    X = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32) * 1000  # far from order 1
    y = np.arange(200) % 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fastnn.train(fastnn.init_params([4, 3, 2], seed=0), X, y, seed=0, lr=0.01)
        except fastnn.DivergenceError:
            pass
    ours = [w for w in caught if issubclass(w.category, (diagnostics.InputScaleWarning, diagnostics.CollapseWarning))]
    assert ours and all(w.filename == __file__ for w in ours), [(w.category, w.filename) for w in ours]
