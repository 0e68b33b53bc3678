"""The fastnn command: end to end through ``python -m fastnn``, and main() in-process for bad input.

Subprocess runs cost 1-2 s each (imports, Numba cache), so the model trained by the
command is shared by the tests of evaluate, predict and plot.
"""
import errno
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import cli
from fastnn.cli import train as cli_train
from fastnn.images import load_digit
from fastnn.training import train

Image = pytest.importorskip("PIL.Image")

RELU = {"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"}
FILE_RELU = {"activation": "relu", "output": "softmax", "loss": "cross_entropy"}  # as model files spell it

EPOCH_LINE = re.compile(r"^epoch +(\d+)/(\d+) +loss ([\d.]+) +train +([\d.]+)% +test +([\d.]+)%")


def run(*args, cwd=None, timeout=180):
    """``python -m fastnn ARGS`` -> CompletedProcess with text stdout/stderr."""
    return subprocess.run([sys.executable, "-m", "fastnn", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def start(*args, cwd=None):
    """``python -m fastnn ARGS`` started in the background; finish it with :func:`finish`."""
    return subprocess.Popen([sys.executable, "-m", "fastnn", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)


def finish(proc, timeout=180):
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_one_line_error(rc, err, fragment):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fastnn") and "error:" in lines[0]
    assert re.search(fragment, lines[0]), lines[0]


def reference_train(X, y, epochs, layers=(256, 128), seed=0):
    """What `fastnn train` should compute with its defaults, done in-process."""
    params = fastnn.init_params([784, *layers, 10], seed=seed)
    return train(params, X, y, epochs=epochs, lr=lambda e: 0.02 / (1 + e), seed=seed)


# -- train, evaluate, predict, plot through subprocesses ---------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    """`fastnn train` on the first 3000 training images for one epoch, with the progress bar on."""
    folder = tmp_path_factory.mktemp("cli")
    result = run("train", "--data", mnist_dir, "--limit", 3000, "--epochs", 1, "--progress", "-o", "model.npz",
                 cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "model.npz", result


@pytest.fixture(scope="module")
def commands(trained, mnist, mnist_dir):
    """evaluate, predict and plot on the trained model, run at the same time (each is mostly start-up)."""
    path, _ = trained
    folder = path.parent
    _, (X_test, _) = mnist
    digits = (X_test[:3] * 255).round().astype(np.uint8)
    np.save(folder / "a.npy", digits[0].reshape(28, 28))  # uint8 28x28
    np.save(folder / "b.npy", X_test[1])  # float 784
    Image.fromarray(digits[2].reshape(28, 28)).save(folder / "c.png")  # light on dark, MNIST size
    procs = {
        "evaluate": start("evaluate", path, "--data", mnist_dir),
        "predict": start("predict", path, "a.npy", "b.npy", "c.png", cwd=folder),
        "plot": start("plot", path, "--data", mnist_dir, "-o", folder / "figs"),
    }
    return {name: finish(proc) for name, proc in procs.items()}


@pytest.mark.mnist
def test_train_saves_the_model_it_reports(trained, mnist):
    path, result = trained
    (X, y), (X_test, y_test) = mnist
    params, meta = fastnn.load(path)
    assert meta["layer_sizes"] == [784, 256, 128, 10]
    assert (meta["activation"], meta["output"], meta["loss"]) == ("relu", "softmax", "cross_entropy")
    assert meta["dataset"] == "mnist" and meta["train_samples"] == 3000 and meta["hidden_layers"] == [256, 128]
    assert meta["history"]["epoch"] == [1]
    # the very params of an in-process run with the defaults: the command passes its settings through
    expected, history = reference_train(X[:3000], y[:3000], epochs=1)
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])
    # the summary line reports this model's numbers
    lines = [m for m in map(EPOCH_LINE.match, result.stdout.splitlines()) if m]
    assert len(lines) == 1 and lines[0].group(1, 2) == ("1", "1")
    test_acc = fastnn.accuracy(params, X_test, y_test)
    assert float(lines[0].group(5)) == pytest.approx(100 * test_acc, abs=0.006)
    assert float(lines[0].group(4)) == pytest.approx(100 * history["accuracy"][0], abs=0.006)
    assert float(lines[0].group(3)) == pytest.approx(history["loss"][0], abs=6e-5)
    assert meta["test_accuracy"] == pytest.approx(test_acc)
    assert "saved model.npz" in result.stdout
    assert "img/s" in result.stderr and "epoch 1/1" in result.stderr  # the tqdm bar


@pytest.mark.mnist
def test_evaluate_prints_accuracy_table_and_confusion_matrix(trained, commands, mnist):
    path, _ = trained
    _, (X_test, y_test) = mnist
    result = commands["evaluate"]
    assert result.returncode == 0, result.stderr
    params, _ = fastnn.load(path)
    pred = fastnn.predict(params, X_test)
    cm = fastnn.confusion_matrix(y_test, pred, 10)
    lines = result.stdout.splitlines()
    acc = re.search(r"accuracy ([\d.]+)% \(([\d,]+) of 10,000", result.stdout)
    assert float(acc.group(1)) == pytest.approx(100 * np.mean(pred == y_test), abs=0.006)
    assert int(acc.group(2).replace(",", "")) == np.trace(cm)
    # per-class table: precision = TP / predicted, recall = TP / true, support = true count
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["class", "precision"])
    for k in range(10):
        name, precision, recall, _f1, support = lines[start + 1 + k].split()
        assert name == str(k)
        assert float(precision.rstrip("%")) == pytest.approx(100 * cm[k, k] / cm[:, k].sum(), abs=0.006)
        assert float(recall.rstrip("%")) == pytest.approx(100 * cm[k, k] / cm[k].sum(), abs=0.006)
        assert int(support.replace(",", "")) == np.sum(y_test == k)
    # confusion matrix: 10 rows of right-aligned counts, all of one width
    start = next(i for i, line in enumerate(lines) if line.startswith("confusion matrix")) + 1
    block = lines[start : start + 11]
    assert block[0].split() == [str(k) for k in range(10)]
    printed = np.array([[int(v.replace(",", "")) for v in row.split()[1:]] for row in block[1:]])
    np.testing.assert_array_equal(printed, cm)
    assert len({len(row) for row in block}) == 1


@pytest.mark.mnist
def test_predict_npy_and_png(trained, commands, mnist):
    path, _ = trained
    _, (X_test, _) = mnist
    result = commands["predict"]
    assert result.returncode == 0, result.stderr
    params, _ = fastnn.load(path)
    digits = (X_test[:3] * 255).round().astype(np.uint8)
    inputs = np.stack([digits[0] / np.float32(255), X_test[1],
                       load_digit(path.parent / "c.png").ravel()]).astype(np.float32)
    proba = fastnn.predict_proba(params, inputs)
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    for line, name, p in zip(lines, ["a.npy", "b.npy", "c.png"], proba):
        m = re.match(r"^(\S+) +(\d)   \((.*)\)$", line)
        assert m and m.group(1) == name and int(m.group(2)) == p.argmax()
        top3 = re.findall(r"(\d) (<?)([\d.]+)%", m.group(3))
        assert [int(c) for c, _, _ in top3] == list(np.argsort(-p, kind="stable")[:3])
        for (_, below, value), q in zip(top3, np.sort(p)[::-1]):
            if below:
                assert value == "0.01" and 0 < 100 * q < 0.005
            else:
                assert float(value) == pytest.approx(100 * q, abs=0.0051)


@pytest.mark.mnist
def test_plot_writes_three_pngs_of_the_documented_sizes(trained, commands):
    path, _ = trained
    tmp_path = path.parent
    result = commands["plot"]
    assert result.returncode == 0, result.stderr
    sizes = {"learning_curves.png": (900, 360), "confusion_matrix.png": (640, 560), "misclassified.png": (800, 880)}
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(sizes)
    for name, size in sizes.items():
        with Image.open(tmp_path / "figs" / name) as im:
            assert im.format == "PNG" and im.size == size
            im.load()
            assert np.asarray(im.convert("L")).std() > 10
        assert f"wrote {tmp_path / 'figs' / name}" in result.stdout


# -- predict on photos-like images, with a model trained well enough ------------------------


@pytest.fixture(scope="module")
def good_model(mnist, tmp_path_factory):
    """784-256-128-10 trained for one epoch on all 60,000 images (about 96% test accuracy)."""
    (X, y), (X_test, y_test) = mnist
    params, history = reference_train(X, y, epochs=1)
    path = tmp_path_factory.mktemp("good") / "good.npz"
    fastnn.save(path, params, history=history, dataset="mnist")
    return path, params


@pytest.mark.mnist
def test_predict_reads_scaled_inverted_off_centre_digits(good_model, mnist, tmp_path):
    path, params = good_model
    _, (X_test, y_test) = mnist
    right = fastnn.predict(params, X_test) == y_test
    chosen = [int(np.flatnonzero(right & (y_test == d))[0]) for d in range(10)]  # one per digit, read right as-is
    rng = np.random.default_rng(7)
    names = []
    for d, i in enumerate(chosen):
        digit = 255 - (X_test[i].reshape(28, 28) * 255).round().astype(np.uint8)  # dark ink on white
        side = int(28 * rng.uniform(2.5, 9))
        big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
        canvas = Image.new("L", (side + int(rng.integers(30, 300)), side + int(rng.integers(30, 300))), 255)
        canvas.paste(big, (int(rng.integers(0, canvas.width - side)), int(rng.integers(0, canvas.height - side))))
        names.append(f"digit{d}.png")
        canvas.save(tmp_path / names[-1])
    result = run("predict", path, *names, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    said = {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()}
    assert sorted(said) == sorted(names)
    correct = sum(said[f"digit{d}.png"] == d for d in range(10))
    assert correct >= 9, result.stdout


# -- Ctrl-C -----------------------------------------------------------------------------------


@pytest.mark.mnist
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_saves_the_last_completed_epoch_and_exits_130(mnist, mnist_dir, tmp_path):
    (X, y), (X_test, y_test) = mnist
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastnn", "train", "--data", str(mnist_dir), "--limit", "5000", "--epochs", "500",
         "-o", "model.npz"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a shell may start background jobs with SIGINT ignored; this child must see it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if EPOCH_LINE.match(line):
            proc.send_signal(signal.SIGINT)
            break
    result = finish(proc, timeout=120)
    out, err = result.stdout, result.stderr
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    rescue = tmp_path / "model.interrupted.npz"
    assert "saved the model after epoch" in err and str(rescue.name) in err
    assert not (tmp_path / "model.npz").exists()
    params, meta = fastnn.load(rescue)
    epochs = meta["epochs_completed"]
    assert meta["interrupted"] is True and epochs >= 1 and meta["history"]["epoch"] == list(range(1, epochs + 1))
    assert epochs <= len([s for s in seen + out.splitlines() if EPOCH_LINE.match(s)]) <= epochs + 1
    # exactly the params after `epochs` epochs of the same run
    expected, _ = reference_train(X[:5000], y[:5000], epochs=epochs)
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])
    assert fastnn.accuracy(params, X_test, y_test) == pytest.approx(meta["history"]["val_accuracy"][-1])


# -- bad input: one line on stderr, exit status 2, no traceback ----------------------------


@pytest.fixture
def files(tmp_path):
    """A valid (untrained) model, a corrupt one, a foreign .npz, a wrong-shaped model, a junk image."""
    fastnn.save(tmp_path / "model.npz", fastnn.init_params([784, 16, 10], seed=0), wiring=RELU)
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive at all")
    np.savez(tmp_path / "foreign.npz", W1=np.zeros((784, 10)))
    fastnn.save(tmp_path / "small.npz", fastnn.init_params([4, 3], seed=0), wiring=RELU)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    np.save(tmp_path / "ok.npy", np.zeros((28, 28), dtype=np.uint8))
    return tmp_path


def main(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("argv, fragment", [
    (["evaluate", "{d}/missing.npz"], "no model file"),
    (["evaluate", "{d}/corrupt.npz"], "not a readable fastnn model"),
    (["predict", "{d}/foreign.npz", "{d}/ok.npy"], "no fastnn metadata"),
    (["plot", "{d}/small.npz"], "4-3 network"),
    (["predict", "{d}/model.npz", "{d}/junk.png"], "junk.png.*not a readable image"),
    (["predict", "{d}/model.npz", "{d}/nothere.png"], "no image file"),
    (["train", "--bogus"], "fastnn train: error: unrecognized arguments: --bogus"),
    (["evaluate", "{d}/model.npz", "--bogus", "3"], "unrecognized arguments: --bogus 3"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--layers", "12,x"], "--layers"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--batch-size", "some"], "--batch-size"),
    (["train", "--schedule", "nosuch"], "unknown schedule"),
    (["train", "--schedule", "step:drop=2"], "bad --schedule"),
    (["train", "--schedule", "inverse_time:k"], "key=value"),
    (["train", "--optimizer", "foo"], "unknown optimizer"),
    (["train", "--optimizer", "adam:gamma=1"], "bad --optimizer"),
    (["train", "--output-activation", "sigmoid"], "needs --output-activation 'softmax'"),
    (["train", "--layers", "none", "--dropout", "0.5"], "--dropout"),
    (["train", "--data", "{d}/no-such-folder"], "does not exist"),
    (["train", "-o", "{d}/no-such-folder/model.npz"], "does not exist"),
    (["train", "-o", "{d}"], "is a folder"),
])
def test_bad_input_is_one_line_and_exit_2(files, capsys, monkeypatch, argv, fragment):
    (files / "cwd").mkdir()
    monkeypatch.chdir(files / "cwd")  # where the default output model.npz does not exist
    rc, _, err = main(capsys, *[a.format(d=files) for a in argv])
    assert_one_line_error(rc, err, fragment)


def test_predict_reports_bad_images_and_still_reads_the_good_ones(files, capsys):
    rc, out, err = main(capsys, "predict", files / "model.npz", files / "ok.npy", files / "junk.png")
    assert rc == 2
    assert len(out.splitlines()) == 1 and out.split()[0].endswith("ok.npy")
    assert_one_line_error(rc, err, "junk.png")


def test_existing_output_needs_force_and_is_refused_before_loading_data(files, capsys, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("the data must not be loaded when the output would be refused")

    monkeypatch.setattr(cli_train, "load_data", no_data)
    before = (files / "model.npz").read_bytes()
    rc, out, err = main(capsys, "train", "-o", files / "model.npz")
    assert_one_line_error(rc, err, "already exists; pass --force")
    assert out == ""
    assert (files / "model.npz").read_bytes() == before


@pytest.mark.mnist
def test_force_replaces_an_existing_model(files, capsys, mnist_dir):
    rc, out, err = main(capsys, "train", "-o", files / "model.npz", "--force", "--data", mnist_dir,
                        "--limit", 500, "--epochs", 1, "--layers", 32)
    assert rc == 0, err
    params, meta = fastnn.load(files / "model.npz")
    assert meta["layer_sizes"] == [784, 32, 10] and meta["train_samples"] == 500
    assert "--force" in meta["command"]


@pytest.mark.mnist
def test_divergence_is_one_line_exit_1_and_saves_nothing(files, capsys, mnist_dir):
    rc, out, err = main(capsys, "train", "-o", files / "diverged.npz", "--data", mnist_dir, "--limit", 2000,
                        "--lr", 50)
    assert rc == 1
    warning, error = err.strip().splitlines()  # the scale warning, said before training starts, then the error
    assert warning.startswith("fastnn train: warning: ") and "lr=50 are far too large" in warning
    assert "diverged in epoch 1" in error and "--lr 5" in error
    assert "Traceback" not in err
    assert not (files / "diverged.npz").exists()


@pytest.mark.mnist
def test_plot_without_history_skips_the_curves_and_a_bad_history_is_refused(files, capsys, mnist_dir):
    rc, out, err = main(capsys, "plot", files / "model.npz", "--data", mnist_dir, "-o", files / "figs", "--dpi", 30)
    assert rc == 0, err
    assert "no training history" in err
    assert sorted(p.name for p in (files / "figs").iterdir()) == ["confusion_matrix.png", "misclassified.png"]
    fastnn.save(files / "odd.npz", fastnn.init_params([784, 10], seed=0), history={"epoch": [1]}, wiring=RELU)
    rc, _, err = main(capsys, "plot", files / "odd.npz", "--data", mnist_dir, "-o", files / "figs")
    assert_one_line_error(rc, err, "cannot plot .*odd.npz.*'loss'")


def test_real_process_exit_status_and_stderr(files):
    """The same contract through the interpreter: `python -m fastnn` passes main()'s status on."""
    corrupt = run("evaluate", files / "corrupt.npz")
    assert_one_line_error(corrupt.returncode, corrupt.stderr, "not a readable fastnn model")
    assert corrupt.stdout == ""


# -- pieces of the command --------------------------------------------------------------------


def test_interrupted_path_never_overwrites(tmp_path):
    target = str(tmp_path / "model.npz")
    assert cli.interrupted_path(target) == str(tmp_path / "model.interrupted.npz")
    (tmp_path / "model.interrupted.npz").write_bytes(b"x")
    assert cli.interrupted_path(target) == str(tmp_path / "model.interrupted-2.npz")
    assert cli.interrupted_path(str(tmp_path / "net")) == str(tmp_path / "net.interrupted.npz")


@pytest.mark.parametrize("spec, formula", [
    ("inverse_time:k=1", lambda e: 0.02 / (1 + e)),
    ("inverse_time:k=0.5", lambda e: 0.02 / (1 + 0.5 * e)),
    ("constant", lambda e: 0.02),
    ("exponential:gamma=0.5", lambda e: 0.02 * 0.5**e),
    ("step:drop=0.1,every=2", lambda e: 0.02 * 0.1 ** (e // 2)),
    ("cosine:lr_min=0.001", lambda e: 0.001 + (0.02 - 0.001) * (1 + np.cos(np.pi * e / 4)) / 2),
])
def test_schedule_option_gives_the_rate_of_each_epoch(spec, formula):
    schedule = cli.make_schedule(spec, 0.02, 4)
    np.testing.assert_allclose([schedule(e) for e in range(4)], [formula(e) for e in range(4)], rtol=1e-12)


def test_default_learning_rates():
    assert cli.default_lr("sgd") == 0.02
    assert cli.default_lr("adam") == 0.001


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_progress_line_when_tqdm_is_missing():
    stream = FakeTerminal()
    bar = cli.EpochProgress(3, stream=stream, use_tqdm=False)
    assert bar.enabled  # a terminal: shown by default
    bar.begin(8192)
    bar(4096, 8192)
    bar(8192, 8192)
    bar.close()
    text = stream.getvalue()
    assert "epoch 1/3: 8,192/8,192 img  100%" in text and "img/s" in text
    assert text.endswith("\r")  # the line is cleared for the summary line
    quiet = io.StringIO()  # not a terminal: nothing by default
    bar = cli.EpochProgress(3, stream=quiet, use_tqdm=False)
    bar.begin(10)
    bar(10, 10)
    bar.close()
    assert quiet.getvalue() == ""


def test_version_and_help(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fastnn {fastnn.__version__}"
    for command in cli.COMMANDS:
        assert cli.main([command, "--help"]) == 0
        assert f"usage: fastnn {command}" in capsys.readouterr().out


def test_probability_format():
    assert [cli.format_probability(p) for p in (0.5, 0.99996, 1e-3, 4e-5, 0.0)] == [
        "50.00%", "100.00%", "0.10%", "<0.01%", "0.00%"]


@pytest.mark.mnist
def test_train_with_augment_and_threads(mnist_dir, tmp_path):
    from fastnn.cli import main

    out = tmp_path / "aug.npz"
    status = main(["train", "--data", str(mnist_dir), "--limit", "2000", "--epochs", "1", "--layers", "32",
                   "--augment", "--threads", "2", "--no-progress", "-o", str(out)])
    assert status == 0
    params, meta = fastnn.load(out)
    assert meta["augment"] is True and meta["threads"] == 2
    assert meta["history"]["val_accuracy"][-1] > 0.5


# -- the compile note before the first epoch line ----------------------------------------------


def fake_training(monkeypatch, compile_seconds):
    """Make `fastnn train` run a stand-in for train() that reports 2 epochs of 0.5 s and ``compile_seconds``."""
    import fastnn.training

    rng = np.random.default_rng(0)
    X, y = rng.random((20, 784), dtype=np.float32), np.arange(20) % 10
    monkeypatch.setattr(cli_train, "load_data", lambda *args: ((X, y), (X[:10], y[:10])))

    def train(params, X, y, *, epochs, callback, progress, **kwargs):
        history = {"epoch": [], "lr": [], "loss": [], "accuracy": [], "seconds": [], "val_loss": [],
                   "val_accuracy": []}
        if compile_seconds is not None:
            history["compile_seconds"] = compile_seconds
        for epoch in range(epochs):
            for key, value in zip(history, (epoch + 1, 0.02, 0.5, 0.8, 0.5, 0.6, 0.75)):
                history[key].append(value)
            callback(epoch, params, history)
        return params, history

    monkeypatch.setattr(fastnn.training, "train", train)


@pytest.mark.parametrize("compile_seconds, noted", [(3.21, True), (0.4, False), (0.0, False), (None, False)])
def test_slow_compilation_is_announced_once_and_kept_out_of_the_training_time(
        monkeypatch, tmp_path, capsys, compile_seconds, noted):
    fake_training(monkeypatch, compile_seconds)
    rc, out, err = main(capsys, "train", "--epochs", 2, "--no-progress", "-o", tmp_path / "m.npz")
    assert rc == 0, err
    lines = out.splitlines()
    epochs = [i for i, line in enumerate(lines) if EPOCH_LINE.match(line)]
    assert len(epochs) == 2
    notes = [i for i, line in enumerate(lines) if line.startswith("compiling kernels")]
    if noted:
        assert notes == [epochs[0] - 1]  # right before the first epoch line, and only there
        assert lines[notes[0]] == "compiling kernels (first run on this machine) ... 3.2 s"
    else:
        assert notes == []
    assert "1.0 s of training" in lines[-1]  # the two 0.5 s epochs, without the compilation
    assert fastnn.load(tmp_path / "m.npz")[1]["history"]["seconds"] == [0.5, 0.5]


def test_network_line_describes_the_schedule(monkeypatch, tmp_path, capsys):
    fake_training(monkeypatch, None)
    rc, out, err = main(capsys, "train", "--epochs", 1, "--no-progress", "--schedule", "step:drop=0.5,every=2",
                        "-o", tmp_path / "m.npz")
    assert rc == 0, err
    assert "lr 0.02*0.5^(epoch//2), seed 0" in out.splitlines()[1]


# -- the wiring travels with the model through every command (issue 30) ------------------------

TANH = {"activation": "tanh", "output_activation": "sigmoid", "loss": "mse"}


@pytest.fixture(scope="module")
def tanh_model(mnist, tmp_path_factory):
    """A 784-32-10 tanh / sigmoid-output / MSE network trained in-process and saved the README's way."""
    (X, y), _ = mnist
    params, history = train(fastnn.init_params([784, 32, 10], seed=0), X[:2000], y[:2000], epochs=2, lr=0.2,
                            seed=0, **TANH)
    path = tmp_path_factory.mktemp("tanh") / "tanh.npz"
    fastnn.save(path, params, history=history, dataset="mnist")
    return path, params


def _in_memory(params, X):
    return fastnn.predict_proba(params, X, activation="tanh", output_activation="sigmoid")


@pytest.mark.mnist
def test_evaluate_and_plot_use_the_recorded_wiring(tanh_model, mnist, mnist_dir, capsys, monkeypatch, tmp_path):
    path, params = tanh_model
    _, (X_test, y_test) = mnist
    want = _in_memory(params, X_test).argmax(axis=1)
    correct = int((want == y_test).sum())
    assert correct != int((fastnn.predict(params, X_test) == y_test).sum())  # relu would answer otherwise
    rc, out, err = main(capsys, "evaluate", path, "--data", mnist_dir)
    assert rc == 0 and err == "", err
    assert "(tanh hidden, sigmoid output, mse loss)" in out.splitlines()[0]
    assert f"({correct:,} of {len(y_test):,};" in out
    from fastnn import plotting

    seen = {}
    real = plotting.plot_confusion_matrix
    monkeypatch.setattr(plotting, "plot_confusion_matrix", lambda cm, *a, **k: seen.setdefault("cm", cm) is None
                        or real(cm, *a, **k))
    rc, _, err = main(capsys, "plot", path, "--data", mnist_dir, "-o", tmp_path, "--dpi", 20, "--max-images", 4)
    assert rc == 0, err
    np.testing.assert_array_equal(seen["cm"], fastnn.confusion_matrix(y_test, want, 10))


@pytest.mark.mnist
def test_predict_prints_the_recorded_wiring_s_scores(tanh_model, mnist, capsys, tmp_path):
    path, params = tanh_model
    _, (X_test, _) = mnist
    for i in range(3):
        np.save(tmp_path / f"{i}.npy", X_test[i])
    rc, out, err = main(capsys, "predict", path, *(tmp_path / f"{i}.npy" for i in range(3)), "--top", "10")
    assert rc == 0, err
    scores = _in_memory(params, X_test[:3])
    for line, s in zip(out.splitlines(), scores):
        shown = {int(k): float(v) for k, v in re.findall(r"(\d) (-?[\d.]+)", line.split("(", 1)[1])}
        assert int(line.split()[1]) == s.argmax()
        assert shown == {k: pytest.approx(s[k], abs=5e-4) for k in range(10)}


@pytest.mark.mnist
def test_serve_classifies_with_the_recorded_wiring(tanh_model, mnist, capsys, monkeypatch):
    path, params = tanh_model
    _, (X_test, _) = mnist
    pytest.importorskip("PIL")
    import fastnn.server

    passed = {}

    class Stopped:
        server_address = ("127.0.0.1", 8123)

        def serve_forever(self):
            pass

        def server_close(self):
            pass

    def make_server(classify, class_names, **options):
        passed.update(classify=classify, options=options)
        return Stopped()

    monkeypatch.setattr(fastnn.server, "make_server", make_server)
    rc, out, err = main(capsys, "serve", path, "--port", 0)
    assert rc == 0, err
    assert passed["options"]["kind"] == "score"  # sigmoid outputs are scores, not probabilities
    for i in range(3):
        got = passed["classify"](X_test[i].reshape(28, 28))
        np.testing.assert_array_equal(got, _in_memory(params, X_test[i : i + 1])[0])


@pytest.mark.mnist
def test_export_writes_the_recorded_wiring(tanh_model, mnist, capsys, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path, params = tanh_model
    _, (X_test, _) = mnist
    rc, out, err = main(capsys, "export", path, tmp_path / "m.onnx")
    assert rc == 0, err
    assert "(tanh hidden, sigmoid output)" in out
    got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"input": X_test[:200]})[0]
    np.testing.assert_allclose(got, _in_memory(params, X_test[:200]), rtol=1e-5, atol=1e-6)


def test_a_model_without_wiring_is_refused_and_an_older_one_is_used_with_a_warning(tmp_path, capsys):
    params = fastnn.init_params([784, 16, 10], seed=0)
    with pytest.warns(UserWarning):
        fastnn.save(tmp_path / "bare.npz", params)
    np.save(tmp_path / "x.npy", np.zeros((28, 28), np.uint8))
    rc, _, err = main(capsys, "predict", tmp_path / "bare.npz", tmp_path / "x.npy")
    assert_one_line_error(rc, err, "does not record how its network is wired.*wiring=")
    # a file from before the wiring was recorded: its plain fields are used, and the command says so
    blob = json.dumps({"activation": "tanh", "output": "softmax", "loss": "cross_entropy",
                       "layer_sizes": [784, 16, 10], "dtype": "float32"}).encode()
    np.savez(tmp_path / "old.npz", **params, __fastnn_meta__=np.frombuffer(blob, np.uint8))
    rc, out, err = main(capsys, "predict", tmp_path / "old.npz", tmp_path / "x.npy")
    assert rc == 0 and len(err.splitlines()) == 1 and err.startswith("fastnn predict: warning: ")
    assert "assuming tanh/softmax/cross_entropy" in err
    scores = fastnn.predict_proba(params, np.zeros((1, 784), np.float32), activation="tanh")[0]
    assert out.split()[1] == str(scores.argmax())


# -- metadata and special files: one line, exit 2 (issue 32) ----------------------------------


@pytest.mark.parametrize("field, value", [
    ("wiring", {"activation": "swish", "output": "softmax", "loss": "cross_entropy"}),
    ("activation", "swish"),
    ("output", "softmin"),
    ("dataset", ["mnist"]),
    ("history", {"epoch": [1, 2], "loss": [0.3]}),
    ("history", "long"),
    ("train_samples", "60000"),
    ("layer_sizes", [784, "16", 10]),
])
@pytest.mark.parametrize("command", ["evaluate", "predict", "serve", "export", "plot"])
def test_bad_metadata_is_one_line_and_exit_2(tmp_path, capsys, command, field, value):
    params = fastnn.init_params([784, 16, 10], seed=0)
    meta = {"wiring": FILE_RELU, "layer_sizes": [784, 16, 10], "dtype": "float32", field: value}
    np.savez(tmp_path / "bad.npz", **params, __fastnn_meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    extra = {"predict": [tmp_path / "x.npy"], "export": [tmp_path / "x.onnx"]}.get(command, [])
    np.save(tmp_path / "x.npy", np.zeros((28, 28), np.uint8))
    rc, out, err = main(capsys, command, tmp_path / "bad.npz", *extra)
    assert_one_line_error(rc, err, rf"bad\.npz' has bad metadata: .*{field}")
    assert out == "" and not (tmp_path / "x.onnx").exists()


def test_a_model_dataset_the_command_does_not_know_is_one_line(tmp_path, capsys):
    fastnn.save(tmp_path / "m.npz", fastnn.init_params([784, 10], seed=0), wiring=RELU, dataset="cifar")
    rc, _, err = main(capsys, "evaluate", tmp_path / "m.npz")
    assert_one_line_error(rc, err, "records the data set 'cifar'; the fastnn command knows mnist, fashion-mnist")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("command", ["evaluate", "predict", "export", "serve", "plot"])
def test_a_fifo_given_as_the_model_fails_at_once(tmp_path, capsys, command):
    import threading

    os.mkfifo(tmp_path / "pipe.npz")
    extra = {"predict": [tmp_path / "x.npy"], "export": [tmp_path / "x.onnx"]}.get(command, [])
    result = []
    runner = threading.Thread(target=lambda: result.append(cli.main([command, str(tmp_path / "pipe.npz"),
                                                                      *map(str, extra)])), daemon=True)
    runner.start()
    runner.join(20)
    if runner.is_alive():
        os.close(os.open(tmp_path / "pipe.npz", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"fastnn {command} blocked on a FIFO")
    _, err = capsys.readouterr()
    assert_one_line_error(result[0], err, "pipe.npz' is a FIFO")


def _special_output(kind, folder):
    path = folder / "out.npz"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except (PermissionError, OSError) as e:
            pytest.skip(f"cannot create a device node here: {e}")
    else:
        (folder / "target.npz").write_bytes(b"keep")
        path.symlink_to(folder / "target.npz")
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX special files")
@pytest.mark.parametrize("kind", ["fifo", "device", "symlink"])
@pytest.mark.parametrize("command", ["train", "export"])
def test_an_output_that_is_not_a_regular_file_is_refused_before_any_work(tmp_path, capsys, monkeypatch, kind,
                                                                          command):
    out = _special_output(kind, tmp_path)
    before = os.lstat(out)
    monkeypatch.setattr(cli_train, "load_data", lambda *a, **k: pytest.fail("data loaded"))
    fastnn.save(tmp_path / "m.npz", fastnn.init_params([784, 10], seed=0), wiring=RELU)
    argv = ["train", "-o", out, "--force"] if command == "train" else ["export", tmp_path / "m.npz", out, "--force"]
    rc, _, err = main(capsys, *argv)
    assert_one_line_error(rc, err, "out.npz' is a .*; fastnn replaces only regular files")
    assert os.lstat(out).st_ino == before.st_ino and os.lstat(out).st_mode == before.st_mode


# -- finished training is never lost (issue 32) -------------------------------------------------

SMALL = ["--limit", "300", "--layers", "16", "--epochs", "2", "--no-progress"]


def _train_small(capsys, mnist_dir, output, *extra):
    return main(capsys, "train", "--data", mnist_dir, "-o", output, *SMALL, *extra)


def _savez_failing_once(monkeypatch, exc):
    from fastnn import io as fio

    real = fio.np.savez
    calls = []

    def savez(file, **arrays):
        calls.append(file)
        if len(calls) == 1:
            file.write(b"PK\x03\x04 half")
            raise exc
        return real(file, **arrays)

    monkeypatch.setattr(fio.np, "savez", savez)
    return calls


def _trained_in_process(mnist, epochs=2):
    (X, y), _ = mnist
    return train(fastnn.init_params([784, 16, 10], seed=0), X[:300], y[:300], epochs=epochs,
                 lr=lambda e: 0.02 / (1 + e), seed=0)[0]


@pytest.mark.mnist
@pytest.mark.parametrize("exc, status, words", [
    (OSError(errno.ENOSPC, "No space left on device"), 1, "cannot write .*model.npz: No space left on device"),
    (PermissionError(errno.EACCES, "Permission denied"), 1, "cannot write .*model.npz: Permission denied"),
    (KeyboardInterrupt(), 130, "interrupted while writing .*model.npz"),
])
def test_a_failed_final_save_leaves_the_params_in_a_rescue_file(mnist, mnist_dir, tmp_path, capsys, monkeypatch,
                                                                 exc, status, words):
    _savez_failing_once(monkeypatch, exc)
    rc, out, err = _train_small(capsys, mnist_dir, tmp_path / "model.npz")
    assert rc == status, err
    rescue = tmp_path / "model.rescued.npz"
    assert re.search(words + f".*the trained model is saved in {re.escape(str(rescue))} instead", err), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["model.rescued.npz"]
    params, meta = fastnn.load(rescue)
    expected = _trained_in_process(mnist)
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])
    assert meta["wiring"] == RELU and meta["history"]["epoch"] == [1, 2]


@pytest.mark.mnist
def test_a_vanished_output_folder_rescues_to_the_current_folder(mnist, mnist_dir, tmp_path, capsys, monkeypatch):
    gone, here = tmp_path / "gone", tmp_path / "here"
    gone.mkdir()
    here.mkdir()
    monkeypatch.chdir(here)
    real_train = fastnn.training.train

    def train_then_remove_the_folder(*args, **kwargs):
        result = real_train(*args, **kwargs)
        gone.rmdir()
        return result

    monkeypatch.setattr(fastnn.training, "train", train_then_remove_the_folder)
    rc, out, err = _train_small(capsys, mnist_dir, gone / "model.npz")
    assert rc == 1, err
    assert "cannot write" in err and f"saved in {here / 'model.rescued.npz'} instead" in err
    params, _ = fastnn.load(here / "model.rescued.npz")
    expected = _trained_in_process(mnist)
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])


def _interrupt_after_training(monkeypatch, where):
    """Make a KeyboardInterrupt land after ``train`` has finished and before the final save starts."""
    import contextlib

    import fastnn.training

    real_train, trained = fastnn.training.train, []

    def train_then(*args, **kwargs):
        result = real_train(*args, **kwargs)
        trained.append(1)
        if where == "as train returns":  # between train's last line and the assignment of its result
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(fastnn.training, "train", train_then)
    if where == "leaving the warnings block":
        real_block = cli_train.warnings_as_lines

        @contextlib.contextmanager
        def block(prog):
            with real_block(prog):
                yield
            raise KeyboardInterrupt

        monkeypatch.setattr(cli_train, "warnings_as_lines", block)
    if where == "closing the progress bar":
        real_close = cli_train.EpochProgress.close

        def close(self):
            real_close(self)
            if trained:
                raise KeyboardInterrupt

        monkeypatch.setattr(cli_train.EpochProgress, "close", close)
    if where == "building the record to save":
        real_record, calls = cli_train._final_record, []

        def record(history, meta):
            calls.append(1)
            if len(calls) == 1:
                raise KeyboardInterrupt
            return real_record(history, meta)

        monkeypatch.setattr(cli_train, "_final_record", record)


@pytest.mark.mnist
@pytest.mark.parametrize("where", ["as train returns", "leaving the warnings block", "closing the progress bar",
                                   "building the record to save"])
def test_an_interruption_between_training_and_the_save_leaves_the_params_in_a_rescue_file(
        mnist, mnist_dir, tmp_path, capsys, monkeypatch, where):
    """Ctrl-C after the last epoch but before the final save began used to lose the trained params."""
    _interrupt_after_training(monkeypatch, where)
    rc, out, err = _train_small(capsys, mnist_dir, tmp_path / "model.npz")
    assert rc == 130, err
    rescue = tmp_path / "model.rescued.npz"
    assert re.search(f"interrupted (before|while) writing .*model.npz; the trained model is saved in "
                     f"{re.escape(str(rescue))} instead", err), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["model.rescued.npz"]
    params, meta = fastnn.load(rescue)
    expected = _trained_in_process(mnist)
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])
    history = meta["history"]
    assert meta["wiring"] == RELU and history["epoch"] == [1, 2] and len(history["val_accuracy"]) == 2
    assert meta["test_accuracy"] == history["val_accuracy"][-1]


@pytest.mark.mnist
@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="needs POSIX signals")
def test_a_ctrl_c_after_training_is_held_back_until_the_model_is_saved(mnist, mnist_dir, tmp_path, capsys,
                                                                         monkeypatch):
    """A real SIGINT right after the last epoch: the save to the output still happens, then the run
    reports the interruption (exit 130)."""
    import threading

    import fastnn.training

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Python sets signal handlers in the main thread only")
    real_train, saves = fastnn.training.train, []

    def train_then_ctrl_c(*args, **kwargs):
        result = real_train(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # its handler runs at once, in this (the main) thread
        return result

    from fastnn import io as fio

    real_save = fio.save

    def save(path, params, **meta):
        saves.append(signal.getsignal(signal.SIGINT))
        os.kill(os.getpid(), signal.SIGINT)  # and one more during the write
        return real_save(path, params, **meta)

    monkeypatch.setattr(fastnn.training, "train", train_then_ctrl_c)
    monkeypatch.setattr(fio, "save", save)
    before = signal.getsignal(signal.SIGINT)
    rc, out, err = _train_small(capsys, mnist_dir, tmp_path / "model.npz")
    assert rc == 130, err
    assert f"saved {tmp_path / 'model.npz'}" in out
    assert "interrupted once training had finished" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["model.npz"] and len(saves) == 1
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    params, meta = fastnn.load(tmp_path / "model.npz")
    expected = _trained_in_process(mnist)
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])
    assert meta["history"]["epoch"] == [1, 2]


@pytest.mark.mnist
def test_an_interruption_during_validation_saves_a_consistent_model(mnist, mnist_dir, tmp_path, capsys,
                                                                      monkeypatch):
    """Ctrl-C while epoch 2 is being validated: the model of epoch 1 is saved, with one entry in every
    history list and the test accuracy of the weights saved (not epoch 1's with epoch 2's weights)."""
    import fastnn.training

    real, calls = fastnn.training._evaluate, []

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the initial loss, epoch 1's validation, then epoch 2's
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fastnn.training, "_evaluate", evaluate)
    rc, out, err = _train_small(capsys, mnist_dir, tmp_path / "model.npz")
    assert rc == 130, err
    assert "saved the model after epoch 1 to" in err
    params, meta = fastnn.load(tmp_path / "model.interrupted.npz")
    history = meta["history"]
    assert meta["epochs_completed"] == 1 and history["epoch"] == [1]
    assert {len(v) for v in history.values() if isinstance(v, list)} == {1}
    expected = _trained_in_process(mnist, epochs=1)
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])
    _, (X_test, y_test) = mnist
    assert meta["test_accuracy"] == history["val_accuracy"][0] == pytest.approx(fastnn.accuracy(params, X_test, y_test))


def test_train_s_interruption_in_validation_returns_the_previous_epoch(monkeypatch):
    """The library side: TrainingInterrupted carries params and history of the same epoch."""
    import fastnn.training

    rng = np.random.default_rng(0)
    X, y = rng.random((60, 5), dtype=np.float32), rng.integers(0, 3, 60)
    p0 = fastnn.init_params([5, 4, 3], seed=0)
    real, calls = fastnn.training._evaluate, []

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # epoch 3's validation
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fastnn.training, "_evaluate", evaluate)
    with pytest.raises(fastnn.training.TrainingInterrupted) as info:
        train(p0, X, y, epochs=5, lr=0.1, seed=1, validation_data=(X, y), early_stopping=True)
    monkeypatch.undo()
    history = info.value.history
    assert history["epoch"] == [1, 2] and len(history["val_loss"]) == len(history["val_accuracy"]) == 2
    assert history["best_epoch"] in (1, 2)
    want, _ = train(p0, X, y, epochs=2, lr=0.1, seed=1, validation_data=(X, y))
    for key in want:
        np.testing.assert_array_equal(info.value.params[key], want[key])


def test_rescue_paths_fall_back_to_the_current_and_temporary_folders(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.rescued.npz").write_bytes(b"taken")
    got = list(cli_train.rescue_paths(str(tmp_path / "gone" / "model.npz"), "rescued"))
    assert len(got) == 2 and got[0] == str(tmp_path / "model.rescued-2.npz")
    assert os.path.dirname(got[1]) == tempfile.gettempdir() and os.path.basename(got[1]).startswith("model.rescued")
