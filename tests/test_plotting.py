"""fastnn.plotting: the PNG files are valid, of the documented pixel sizes, and show their data."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from fastnn import plotting  # noqa: E402

HISTORY = {
    "epoch": [1, 2, 3],
    "lr": [0.02, 0.01, 0.0067],
    "loss": [0.23, 0.08, 0.04],
    "accuracy": [0.93, 0.977, 0.987],
    "val_loss": [0.13, 0.096, 0.072],
    "val_accuracy": [0.96, 0.971, 0.979],
    "seconds": [1.8, 1.7, 1.7],
}


def pixels(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.load()
        return im.size, np.asarray(im.convert("L"), dtype=float)


@pytest.mark.parametrize("dpi, size", [(100, (900, 360)), (50, (450, 180))])
def test_learning_curves_png_has_the_documented_size(tmp_path, dpi, size):
    path = plotting.plot_learning_curves(HISTORY, tmp_path / "curves.png", dpi=dpi, title="t")
    got, gray = pixels(path)
    assert got == size == tuple(round(inches * dpi) for inches in plotting.FIGSIZES["learning_curves"])
    assert gray.std() > 10  # not a blank canvas


def test_learning_curves_draw_the_history(tmp_path):
    shorter = {k: v[:2] for k, v in HISTORY.items()}
    _, a = pixels(plotting.plot_learning_curves(HISTORY, tmp_path / "a.png"))
    _, b = pixels(plotting.plot_learning_curves(shorter, tmp_path / "b.png"))
    assert np.abs(a - b).mean() > 1
    train_only = {k: v for k, v in HISTORY.items() if not k.startswith("val_")}
    assert pixels(plotting.plot_learning_curves(train_only, tmp_path / "c.png"))[0] == (900, 360)


@pytest.mark.parametrize("history, match", [
    ({**HISTORY, "epoch": [], "loss": [], "accuracy": []}, "empty"),
    ({"epoch": [1], "loss": [0.1]}, "accuracy"),
])
def test_learning_curves_reject_unusable_history(tmp_path, history, match):
    with pytest.raises(ValueError, match=match):
        plotting.plot_learning_curves(history, tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_confusion_matrix_png(tmp_path):
    rng = np.random.default_rng(0)
    cm = np.diag(rng.integers(900, 1100, 10)) + rng.integers(0, 5, (10, 10))
    size, gray = pixels(plotting.plot_confusion_matrix(cm, tmp_path / "cm.png"))
    assert size == (640, 560)
    assert gray.std() > 10
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert pixels(plotting.plot_confusion_matrix(cm, tmp_path / "named.png", labels=names))[0] == (640, 560)


@pytest.mark.parametrize("cm, labels", [
    (np.ones((3, 4), dtype=int), None),
    (np.ones((3, 3)), None),  # floats are not counts
    (np.ones((3, 3), dtype=int), ["a", "b"]),
])
def test_confusion_matrix_rejects_bad_input(tmp_path, cm, labels):
    with pytest.raises(ValueError):
        plotting.plot_confusion_matrix(cm, tmp_path / "cm.png", labels=labels)


def test_misclassified_grid_png(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((100, 784)).astype(np.float32)
    y = rng.integers(0, 10, 100)
    pred = np.where(rng.random(100) < 0.3, (y + 1) % 10, y)
    size, gray = pixels(plotting.plot_misclassified(X, y, pred, tmp_path / "wrong.png"))
    assert size == (800, 880)
    assert gray.std() > 10
    # 28x28 input, fewer images than the grid holds, and a grid with nothing wrong
    few = plotting.plot_misclassified(X.reshape(-1, 28, 28)[:10], y[:10], (y[:10] + 1) % 10, tmp_path / "few.png",
                                      max_images=4, ncols=2)
    assert pixels(few)[0] == (800, 880)
    _, none = pixels(plotting.plot_misclassified(X, y, y, tmp_path / "none.png"))
    assert np.abs(none - gray).mean() > 1


@pytest.mark.parametrize("kwargs", [{"max_images": 0}, {"ncols": 1.5}, {"dpi": 0}])
def test_misclassified_rejects_bad_options(tmp_path, kwargs):
    X, y = np.zeros((3, 784)), np.array([1, 2, 3])
    with pytest.raises(ValueError):
        plotting.plot_misclassified(X, y, y, tmp_path / "x.png", **kwargs)


def test_mismatched_lengths_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_misclassified(np.zeros((3, 784)), np.zeros(2, int), np.zeros(3, int), tmp_path / "x.png")


def test_existing_file_is_replaced_whole_and_no_temporary_file_is_left(tmp_path):
    target = tmp_path / "curves.png"
    target.write_bytes(b"old")
    plotting.plot_learning_curves(HISTORY, target)
    assert pixels(target)[0] == (900, 360)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]
