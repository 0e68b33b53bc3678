"""accuracy and confusion_matrix against hand counts and a plain double loop."""
import numpy as np
import pytest

import fastnn
from fastnn import accuracy, confusion_matrix

# A one-layer identity network (W = I, b = 0): its prediction is the argmax of each row of X.
EYE = {"W1": np.eye(3), "b1": np.zeros(3)}
X_HAND = np.array(
    [
        [0.9, 0.1, 0.0],  # predicted 0
        [0.0, 1.0, 0.0],  # predicted 1
        [0.2, 0.3, 0.5],  # predicted 2
        [1.0, 0.0, 0.0],  # predicted 0
        [0.0, 0.0, 2.0],  # predicted 2
    ]
)


def test_accuracy_against_a_hand_count():
    y = np.array([0, 1, 1, 0, 0])
    # right, right, wrong (2 vs 1), right, wrong (2 vs 0): 3 of 5
    assert accuracy(EYE, X_HAND, y, output_activation="identity") == 0.6
    assert accuracy(EYE, X_HAND, [0, 1, 2, 0, 2], output_activation="identity") == 1.0
    assert accuracy(EYE, X_HAND, [1, 0, 0, 1, 1], output_activation="identity") == 0.0


def test_accuracy_equals_the_fraction_of_matching_predictions(rng):
    params = fastnn.init_params([6, 8, 4], seed=0)
    X = rng.random((200, 6), dtype=np.float32)
    y = rng.integers(0, 4, 200)
    pred = np.argmax(fastnn.forward(params, X)[0], axis=1)
    want = sum(int(p == t) for p, t in zip(pred, y)) / 200
    assert accuracy(params, X, y) == want
    assert isinstance(accuracy(params, X, y), float)


def test_accuracy_checks_the_labels(rng):
    with pytest.raises(ValueError, match=r"y has 4 labels but X has 5 rows"):
        accuracy(EYE, X_HAND, [0, 1, 2, 0], output_activation="identity")
    with pytest.raises(TypeError, match=r"integer class labels"):
        accuracy(EYE, X_HAND, [0, 1, 2, 0.5, 1], output_activation="identity")
    with pytest.raises(ValueError, match=r"labels from -1 to 2"):
        accuracy(EYE, X_HAND, [0, 1, 2, -1, 1], output_activation="identity")
    # a label the network cannot output (3 outputs: classes 0, 1, 2) is a mistake, not a miss
    with pytest.raises(ValueError, match=r"labels from 1 to 3, outside \[0, 3\)"):
        accuracy(EYE, X_HAND, [1, 2, 3, 1, 3], output_activation="identity")


# --- confusion matrix ----------------------------------------------------------------------------


def test_confusion_matrix_against_a_hand_built_one():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    # rows: true class, columns: predicted class
    want = [
        [1, 1, 0],  # true 0: once right, once taken for 1
        [0, 1, 0],  # true 1: right
        [1, 0, 2],  # true 2: once taken for 0, twice right
    ]
    C = confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(C, want)
    assert C.dtype == np.int64


def test_confusion_matrix_n_classes():
    # default: max label over both arrays + 1 (the 3 appears only among the predictions)
    np.testing.assert_array_equal(confusion_matrix([0, 1], [3, 1]), [[0, 0, 0, 1], [0, 1, 0, 0], [0] * 4, [0] * 4])
    # more classes than seen: zero rows and columns
    C = confusion_matrix([0, 1, 1], [1, 1, 0], n_classes=4)
    np.testing.assert_array_equal(C, [[0, 1, 0, 0], [1, 1, 0, 0], [0] * 4, [0] * 4])
    np.testing.assert_array_equal(confusion_matrix([0, 1, 1], [1, 1, 0], n_classes=np.int64(2)), [[0, 1], [1, 1]])
    # fewer classes than the labels need
    with pytest.raises(ValueError, match=r"y_true holds labels from 0 to 2, outside \[0, 2\)"):
        confusion_matrix([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match=r"y_pred holds labels from 0 to 5, outside \[0, 3\)"):
        confusion_matrix([0, 2], [5, 0], n_classes=3)


@pytest.mark.parametrize("n_classes,error,match", [
    (0, ValueError, r"n_classes must be >= 1, got 0"),
    (-2, ValueError, r"n_classes must be >= 1, got -2"),
    (2.5, TypeError, r"n_classes must be an integer, got 2\.5"),
    (3.0, TypeError, r"n_classes must be an integer, got 3\.0"),
    (True, TypeError, r"n_classes must be an integer, got True"),
    ("3", TypeError, r"n_classes must be an integer, got '3'"),
])
def test_confusion_matrix_bad_n_classes(n_classes, error, match):
    with pytest.raises(error, match=match):
        confusion_matrix([0, 1], [1, 0], n_classes=n_classes)


def test_confusion_matrix_equals_a_double_loop(rng):
    k, n = 7, 500
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    want = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        want[t, p] += 1
    C = confusion_matrix(y_true, y_pred, n_classes=k)
    np.testing.assert_array_equal(C, want)
    np.testing.assert_array_equal(C.sum(axis=1), np.bincount(y_true, minlength=k))
    assert np.trace(C) == np.sum(y_true == y_pred)


def test_confusion_matrix_of_a_networks_predictions_matches_accuracy(rng):
    params = fastnn.init_params([6, 8, 4], seed=0)
    X = rng.random((100, 6), dtype=np.float32)
    y = rng.integers(0, 4, 100)
    C = confusion_matrix(y, fastnn.predict(params, X), n_classes=4)
    assert np.trace(C) / C.sum() == accuracy(params, X, y)


def test_confusion_matrix_bad_labels():
    with pytest.raises(ValueError, match=r"y_true has 3 labels, y_pred has 2"):
        confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"y_true is empty"):
        confusion_matrix([], [])
    with pytest.raises(ValueError, match=r"y_pred must be a 1-D array"):
        confusion_matrix([0, 1], [[0, 1]])
    with pytest.raises(TypeError, match=r"y_true must hold integer class labels"):
        confusion_matrix([0.5, 1], [0, 1])
    with pytest.raises(ValueError, match=r"y_true holds labels from -1 to 1"):
        confusion_matrix([-1, 1], [0, 1])


def test_metrics_do_not_modify_their_arguments():
    y_true = np.array([0, 2, 1, 2])
    y_pred = np.array([0, 1, 1, 2])
    X = X_HAND.copy()
    for a in (y_true, y_pred, X):
        a.flags.writeable = False
    confusion_matrix(y_true, y_pred)
    accuracy(EYE, X, [0, 1, 2, 0, 2], output_activation="identity")
    np.testing.assert_array_equal(y_true, [0, 2, 1, 2])
    np.testing.assert_array_equal(y_pred, [0, 1, 1, 2])
    np.testing.assert_array_equal(X, X_HAND)
