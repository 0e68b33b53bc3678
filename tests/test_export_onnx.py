"""fastnn.export_onnx and `fastnn export`: ONNX Runtime computes what predict_proba computes.

Every hidden activation x output pair in both dtypes, on random MNIST-like inputs (values in
[0, 1], about 19% non-zero, as MNIST's pixels) and on the MNIST test set with a trained network.
"""
import itertools
import os

import numpy as np
import onnx  # the onnx extra, which the test extra includes
import onnxruntime as ort
import pytest

import fastnn
from fastnn import cli
from fastnn.activations import HIDDEN, OUTPUTS
from fastnn.export_onnx import INPUT_NAME, OPERATORS, OUTPUT_NAME, export_onnx, to_onnx

TOLERANCE = {"float32": 1e-6, "float64": 1e-12}
"""|ONNX Runtime - predict_proba| <= TOLERANCE * (1 + |predict_proba|): float32 sums taken in another order
differ by a few units in the last place (2.4e-7 at 2.0), which an identity output above 1 shows."""


def session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def assert_matches_fastnn(got, params, X, activation="relu", output="softmax", tolerance=None):
    """``got`` equals predict_proba within ``tolerance`` (default TOLERANCE), and in float32 is as near the
    exact result as fastnn is."""
    dtype = params["W1"].dtype.name
    tolerance = TOLERANCE[dtype] if tolerance is None else tolerance
    expected = fastnn.predict_proba(params, X, activation=activation, output_activation=output)
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    if dtype == "float32":
        exact = fastnn.predict_proba({k: v.astype(np.float64) for k, v in params.items()}, X.astype(np.float64),
                                     activation=activation, output_activation=output)
        scale = np.maximum(1, np.abs(exact))
        assert np.max(np.abs(got - exact) / scale) <= 2 * np.max(np.abs(expected - exact) / scale) + 1e-15
    return expected


def mnist_like(rng, n, dtype):
    return (rng.random((n, 784)) * (rng.random((n, 784)) < 0.19)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation, output", list(itertools.product(HIDDEN, OUTPUTS)))
def test_onnx_runtime_equals_predict_proba(activation, output, dtype):
    rng = np.random.default_rng(3)
    params = fastnn.init_params([784, 48, 24, 10], seed=5, dtype=dtype)
    model = to_onnx(params, activation=activation, output_activation=output)
    onnx.checker.check_model(model, full_check=True)
    X = mnist_like(rng, 300, dtype)
    got = session(model).run(None, {INPUT_NAME: X})[0]
    assert got.dtype == np.dtype(dtype) and got.shape == (300, 10)
    assert_matches_fastnn(got, params, X, activation, output)


@pytest.mark.parametrize("activation, output", list(itertools.product(HIDDEN, OUTPUTS)))
def test_graph_is_gemm_and_the_activation_operators(activation, output):
    """Gemm + the activation's operator per layer, and nothing else but the Identity that names the output."""
    model = to_onnx(fastnn.init_params([6, 5, 4, 3], seed=0), activation=activation, output_activation=output)
    ops = [node.op_type for node in model.graph.node]
    per_layer = [["Gemm"] + [OPERATORS[kind]] * (OPERATORS[kind] is not None)
                 for kind in (activation, activation, output)]
    assert ops == [op for layer in per_layer for op in layer] + ["Identity"]


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_the_batch_is_dynamic_and_the_names_are_documented(batch):
    params = fastnn.init_params([784, 16, 10], seed=0)
    model = to_onnx(params)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == INPUT_NAME and out.name == OUTPUT_NAME
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 784
    assert out.type.tensor_type.shape.dim[1].dim_value == 10
    X = mnist_like(np.random.default_rng(batch), batch, "float32")
    assert_matches_fastnn(session(model).run(None, {INPUT_NAME: X})[0], params, X)


def test_no_hidden_layer_and_metadata():
    params = fastnn.init_params([5, 3], seed=0, dtype="float64")
    model = to_onnx(params, output_activation="sigmoid")
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Sigmoid", "Identity"]
    props = {p.key: p.value for p in model.metadata_props}
    assert props == {"layer_sizes": "5,3", "activation": "relu", "output": "sigmoid", "dtype": "float64"}
    assert model.producer_name == "fastnn"


@pytest.mark.mnist
def test_trained_network_on_the_mnist_test_set(mnist, tmp_path):
    (X, y), (X_test, y_test) = mnist
    params, _ = fastnn.train(fastnn.init_params([784, 64, 10], seed=0), X[:5000], y[:5000], epochs=2, lr=0.02, seed=0)
    path = export_onnx(params, tmp_path / "net.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {INPUT_NAME: X_test})[0]
    # A trained network's larger logits put two correct float32 computations up to ~2e-6 apart on a few of
    # the 100,000 probabilities (1.6e-6 seen): hold both to the float64 result instead (the second check).
    expected = assert_matches_fastnn(got, params, X_test, tolerance=5e-6)
    assert np.array_equal(got.argmax(1), expected.argmax(1))
    assert np.mean(got.argmax(1) == y_test) > 0.85


@pytest.mark.mnist
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_wiring_on_the_mnist_test_set(mnist, dtype):
    _, (X_test, _) = mnist
    X = X_test.astype(dtype)
    params = fastnn.init_params([784, 64, 10], seed=2, dtype=dtype)
    for activation, output in itertools.product(HIDDEN, OUTPUTS):
        got = session(to_onnx(params, activation=activation, output_activation=output)).run(None, {INPUT_NAME: X})[0]
        assert_matches_fastnn(got, params, X, activation, output)


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    params = fastnn.init_params([4, 3], seed=0)
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match="activation"):
        export_onnx(params, tmp_path / "a.onnx", activation="gelu")
    with pytest.raises(ValueError, match="output_activation"):
        to_onnx(params, output_activation="relu")
    with pytest.raises(ValueError, match="missing W2"):
        to_onnx({"W1": params["W1"], "b1": params["b1"], "b2": params["b1"]})
    with pytest.raises(TypeError):
        to_onnx([params["W1"]])
    assert not (tmp_path / "a.onnx").exists()
    assert all(np.array_equal(params[k], before[k]) for k in params)


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "net.onnx"
    target.write_bytes(b"old")

    def broken(self):
        raise OSError("disk full")

    monkeypatch.setattr(onnx.ModelProto, "SerializeToString", broken)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(fastnn.init_params([4, 3], seed=0), target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["net.onnx"]


# -- fastnn export --------------------------------------------------------------------------------


def run(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def model_file(tmp_path):
    params = fastnn.init_params([784, 32, 10], seed=1, dtype="float64")
    fastnn.save(tmp_path / "model.npz", params, wiring={"activation": "tanh", "output_activation": "sigmoid", "loss": "mse"})
    return tmp_path / "model.npz", params


def test_export_command_writes_the_model_as_trained(model_file, capsys):
    path, params = model_file
    target = path.parent / "model.onnx"
    rc, out, err = run(capsys, "export", path, target)
    assert rc == 0, err
    assert out.startswith(f"wrote {target}: 784-32-10 (tanh hidden, sigmoid output), float64")
    X = mnist_like(np.random.default_rng(0), 50, "float64")
    got = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"]).run(None, {"input": X})[0]
    assert_matches_fastnn(got, params, X, "tanh", "sigmoid")


def test_export_command_replaces_only_with_force(model_file, capsys):
    path, _ = model_file
    target = path.parent / "model.onnx"
    target.write_bytes(b"precious")
    rc, out, err = run(capsys, "export", path, target)
    assert rc == 2 and out == "" and len(err.splitlines()) == 1
    assert "already exists; pass --force" in err and target.read_bytes() == b"precious"
    rc, out, err = run(capsys, "export", path, target, "--force")
    assert rc == 0, err
    onnx.checker.check_model(str(target))


@pytest.mark.parametrize("content, fragment", [
    (b"PK\x03\x04 this is not a zip archive at all", "not a readable fastnn model"),
    (None, "no fastnn metadata"),
    (b"", "not a readable fastnn model"),
    ("truncated", "not a readable fastnn model"),
])
def test_export_command_refuses_damaged_or_foreign_files(tmp_path, capsys, content, fragment):
    source = tmp_path / "bad.npz"
    if content is None:
        np.savez(source, W1=np.zeros((784, 10)))
    elif content == "truncated":  # a real model cut short
        fastnn.save(source, fastnn.init_params([784, 16, 10], seed=0),
                    wiring={"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"})
        source.write_bytes(source.read_bytes()[:-200])
    else:
        source.write_bytes(content)
    rc, out, err = run(capsys, "export", source, tmp_path / "out.onnx")
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("fastnn") and "Traceback" not in err
    assert fragment in err
    assert sorted(os.listdir(tmp_path)) == ["bad.npz"]  # nothing written, not even a temporary file


def test_export_command_names_a_missing_model(tmp_path, capsys):
    rc, _, err = run(capsys, "export", tmp_path / "nothere.npz", tmp_path / "out.onnx")
    assert rc == 2 and "no model file" in err
