"""The validation helpers: what they accept and return, what they refuse and how they say it,
and that they never change what they are given."""
import re

import numpy as np
import pytest

import fastnn
from fastnn.validation import (
    check_choice,
    check_dtype,
    check_epoch_schedule,
    check_flag,
    check_inputs,
    check_label_range,
    check_labels,
    check_layer_sizes,
    check_params,
    check_positive_float,
    check_positive_int,
    check_real_array,
    check_rows,
    check_seed,
    check_targets,
    is_integer,
    layer_sizes_of,
    one_hot,
    refuse_integer_images,
)


def _readonly(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


# --- scalars and names ---------------------------------------------------------------------------


def test_check_choice():
    assert check_choice("b", ("a", "b"), "thing") == "b"
    for bad in ("c", "B", None, 1, ("a",)):
        with pytest.raises(ValueError, match=r"unknown thing .*; valid choices are: 'a', 'b'$"):
            check_choice(bad, ("a", "b"), "thing")


@pytest.mark.parametrize("dtype,want", [
    ("float32", np.float32), ("float64", np.float64), (np.float32, np.float32), (np.dtype("f8"), np.float64),
    ("f4", np.float32), (float, np.float64),
])
def test_check_dtype_accepts(dtype, want):
    assert check_dtype(dtype) == np.dtype(want)


@pytest.mark.parametrize("dtype", ["float16", "int64", np.int32, "complex64", "bogus", bool])
def test_check_dtype_refuses(dtype):
    with pytest.raises(ValueError, match=r"dtype must be 'float32' or 'float64', got"):
        check_dtype(dtype)


def test_is_integer():
    assert is_integer(3) and is_integer(np.int64(-2)) and is_integer(np.uint8(0))
    for bad in (True, np.bool_(False), 3.0, "3", None, np.array(3)):
        assert not is_integer(bad)


def test_check_real_array():
    got = check_real_array([[1, 2], [3, 4]], "a", (2, 2))
    assert got.dtype == np.float64 and got.flags.c_contiguous and got.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    src = np.ones((2, 2))
    assert not np.shares_memory(check_real_array(src, "a", (2, 2)), src)
    np.testing.assert_array_equal(check_real_array(2.5, "a", (3,), broadcast=True), [2.5, 2.5, 2.5])
    np.testing.assert_array_equal(check_real_array((1, 2), "a", (2, 2), broadcast=True), [[1, 2], [1, 2]])
    with pytest.raises(ValueError, match=r"a must have shape \(3, 6\), one row per image, got shape \(3, 5\)"):
        check_real_array(np.zeros((3, 5)), "a", (3, 6), expected=", one row per image")
    with pytest.raises(ValueError, match=r"a must broadcast to shape \(3,\), got shape \(2,\)"):
        check_real_array([1, 2], "a", (3,), broadcast=True)
    with pytest.raises(TypeError, match=r"a must be numbers of shape \(2,\), got dict"):
        check_real_array({}, "a", (2,))
    with pytest.raises(ValueError, match=r"a holds NaN or infinite values"):
        check_real_array([1.0, np.inf], "a", (2,))
    with pytest.raises(ValueError, match=r"a must hold numbers > 0, found -1"):
        check_real_array([1.0, -1.0], "a", (2,), low=0.0)
    assert check_real_array(np.zeros((0, 2)), "a", (0, 2), low=0.0).shape == (0, 2)


def test_refuse_integer_images():
    refuse_integer_images(np.zeros(3, np.float32), "X")
    for dtype in (np.uint8, np.int64, bool):
        with pytest.raises(TypeError, match=r"Z has integer dtype .*; scale images to floats in \[0, 1\] first, "
                                            r"for example Z\.astype\(np\.float32\) / 255"):
            refuse_integer_images(np.zeros(3, dtype), "Z", "floats in [0, 1]")


def test_check_flag():
    assert check_flag(True, "flatten") is True
    assert check_flag(np.bool_(False), "flatten") is False
    for bad in (1, 0, "yes", None, np.array([True])):
        with pytest.raises(TypeError, match=r"flatten must be True or False, got .* \("):
            check_flag(bad, "flatten")


def test_check_positive_int():
    assert check_positive_int(3, "n") == 3
    assert type(check_positive_int(np.int64(3), "n")) is int
    assert check_positive_int(0, "n", minimum=0) == 0
    for bad in (1.0, "3", None, True, np.bool_(True)):
        with pytest.raises(TypeError, match=r"n must be an integer, got"):
            check_positive_int(bad, "n")
    with pytest.raises(ValueError, match=r"n must be >= 1, got 0"):
        check_positive_int(0, "n")
    with pytest.raises(ValueError, match=r"n must be >= 2, got 1"):
        check_positive_int(1, "n", minimum=2)


def test_check_positive_float():
    assert check_positive_float(0.5, "lr") == 0.5
    assert type(check_positive_float(2, "lr")) is float
    assert check_positive_float(np.float32(0.25), "lr") == 0.25
    assert check_positive_float(0, "l2", allow_zero=True) == 0.0
    for bad in ("0.1", None, True, [0.1], 1j):
        with pytest.raises(TypeError, match=r"lr must be a number, got"):
            check_positive_float(bad, "lr")
    for bad in (0, -1e-9, np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got"):
            check_positive_float(bad, "lr")
    with pytest.raises(ValueError, match=r"l2 must be a finite number >= 0, got -0.5"):
        check_positive_float(-0.5, "l2", allow_zero=True)


def test_check_layer_sizes():
    assert check_layer_sizes([784, 128, 10]) == (784, 128, 10)
    assert check_layer_sizes(np.array([4, 2])) == (4, 2)
    assert check_layer_sizes(s for s in (3, 2)) == (3, 2)
    assert all(type(s) is int for s in check_layer_sizes(np.array([4, 2])))
    with pytest.raises(ValueError, match=r"at least two entries.*got \[10\].*e\.g\. \[784, 10\]"):
        check_layer_sizes((10,))
    with pytest.raises(TypeError, match=r"sequence of ints such as \[784, 128, 10\], got None"):
        check_layer_sizes(None)
    with pytest.raises(TypeError, match=r"must hold integers, got 1\.5 in \[4, 1\.5\]"):
        check_layer_sizes([4, 1.5])
    with pytest.raises(ValueError, match=r"must be positive, got -1 in \[4, -1\]"):
        check_layer_sizes([4, -1])


# --- params ----------------------------------------------------------------------------------------


def _params(sizes, dtype=np.float64):
    p = {}
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        p[f"W{l}"] = np.full((a, b), 0.1 * l, dtype=dtype)
        p[f"b{l}"] = np.zeros(b, dtype=dtype)
    return p


def test_check_params_returns_layers_in_numeric_order():
    sizes = list(range(2, 14))  # 11 layers: W10 and W11 must come after W9, not after W1
    p = _params(sizes)
    shuffled = {k: p[k] for k in sorted(p, reverse=True)}
    layers = check_params(shuffled)
    assert len(layers) == 11
    for l, (W, b) in enumerate(layers, 1):
        assert W is p[f"W{l}"] and b is p[f"b{l}"]
    assert layer_sizes_of(layers) == tuple(sizes)


@pytest.mark.parametrize("key", [1, "w1", "W", "W01", "b1x", "layer1"])
def test_check_params_refuses_unknown_keys(key):
    p = {**_params([3, 2]), key: np.zeros(2)}
    with pytest.raises(ValueError, match=r"unexpected key .*expected only W1\.\.WL and b1\.\.bL"):
        check_params(p)


def test_check_params_refuses_bad_arrays():
    p = _params([3, 4, 2])
    with pytest.raises(ValueError, match=r"params\['b2'\] has shape \(3,\) but W2 has 2 columns"):
        check_params({**p, "b2": np.zeros(3)})
    with pytest.raises(ValueError, match=r"params\['b1'\] must be 1-D, got shape \(1, 4\)"):
        check_params({**p, "b1": np.zeros((1, 4))})
    with pytest.raises(ValueError, match=r"params\['W2'\] is empty"):
        check_params({**p, "W2": np.zeros((4, 0)), "b2": np.zeros(0)})
    with pytest.raises(TypeError, match=r"params mixes dtypes \(float64 and float32 in b2\)"):
        check_params({**p, "b2": np.zeros(2, np.float32)})
    with pytest.raises(TypeError, match=r"params\['W1'\] must be float32 or float64, got float16"):
        check_params({**p, "W1": p["W1"].astype(np.float16)})
    with pytest.raises(ValueError, match=r"W2/b2 hold NaN or infinite"):
        check_params({**p, "W2": np.full((4, 2), np.inf)})
    with pytest.raises(TypeError, match=r"params must be a dict.*got tuple"):
        check_params(tuple(p.items()))


def test_check_params_leaves_the_dict_alone():
    p = _params([3, 4, 2])
    before = dict(p)
    check_params(p)
    assert p == before  # same keys, same array objects


# --- inputs ----------------------------------------------------------------------------------------


def test_check_inputs_copies_only_when_needed():
    X = np.random.default_rng(0).random((4, 3))
    assert check_inputs(X, 3, np.float64) is X
    X32 = check_inputs(X, 3, np.float32)
    assert X32.dtype == np.float32 and X32.flags.c_contiguous
    np.testing.assert_array_equal(X32, X.astype(np.float32))
    F = np.asfortranarray(X)
    C = check_inputs(F, 3, np.float64)
    assert C.flags.c_contiguous and not np.shares_memory(C, F)
    np.testing.assert_array_equal(C, X)
    np.testing.assert_array_equal(check_inputs([[0.5, 1.0, 0.0]], 3, np.float32), [[0.5, 1.0, 0.0]])


def test_check_inputs_refusals_name_the_argument():
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"X_val has shape \(4, 3\) but the network's W1 has shape \(5, 7\); "
                                         r"X_val needs 5 columns"):
        check_inputs(X, 5, np.float32, name="X_val", w1_shape=(5, 7))
    with pytest.raises(ValueError, match=r"X has shape \(4, 3\) but the network's W1 has 5 rows"):
        check_inputs(X, 5, np.float32)
    with pytest.raises(TypeError, match=r"integer dtype bool.*X\.astype\(np\.float32\) / 255"):
        check_inputs(X.astype(bool), 3, np.float32)
    with pytest.raises(TypeError, match=r"integer dtype int64.*/ 255"):
        check_inputs(X.astype(np.int64), 3, np.float32)
    for dtype in (complex, object):
        with pytest.raises(TypeError, match=r"X must hold floats"):
            check_inputs(X.astype(dtype), 3, np.float32)
    with pytest.raises(TypeError, match=r"X must be a NumPy array, got dict"):
        check_inputs({}, 3, np.float32)


def test_ragged_rows_or_x_and_y_in_one_argument_are_refused_with_the_fix():
    assert check_inputs([[0.5, 1.0], [0.0, 2.0]], 2, np.float32).shape == (2, 2)  # a list of rows is taken
    want = r"X must be rows of numbers of one length .* two arguments: train\(params, X, y\)"
    with pytest.raises(ValueError, match=want):
        check_inputs([[0.5, 1.0], [0.0]], 2, np.float32)
    X, y = np.zeros((5, 3), np.float32), np.zeros(5, np.int64)
    params = fastnn.init_params([3, 2], seed=0)
    with pytest.raises(ValueError, match=want):
        fastnn.train(params, (np.zeros((6, 3), np.float32), y), y)  # (X, y) passed as X
    with pytest.raises(ValueError, match=r"X .* 2 items"):
        fastnn.predict(params, [X, y])


def test_check_rows_hints_how_to_reshape():
    check_rows(np.zeros((2, 3)), "X", "n_samples, n_features")
    one_image = r"^Z must be 2-D \(n_images, 4\), got shape \(4,\); for one image use Z\[None, :\]$"
    with pytest.raises(ValueError, match=one_image):
        check_rows(np.zeros(4), "Z", "n_images, 4", row="image")
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2\); flatten images with Z\.reshape\(len\(Z\), -1\)$"):
        check_rows(np.zeros((2, 2, 2)), "Z", "n_samples, n_features")
    with pytest.raises(ValueError, match=r"^X must be 2-D \(n_samples, n_features\), got shape \(\)$"):
        check_rows(np.zeros(()), "X", "n_samples, n_features")


def test_check_inputs_reports_the_first_bad_row():
    X = np.zeros((6, 3))
    X[4, 0] = np.inf
    X[2, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(first in row 2\)"):
        check_inputs(X, 3, np.float64)
    with pytest.raises(ValueError, match=r"\(first in row 102\)"):
        check_inputs(X, 3, np.float64, first_row=100)


# --- targets and labels ----------------------------------------------------------------------------


def test_one_hot_by_hand():
    T = one_hot(np.array([2, 0, 1, 2]), 3)
    np.testing.assert_array_equal(T, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert T.dtype == np.float32
    assert one_hot(np.array([1]), 2, "float64").dtype == np.float64


def test_check_targets_turns_labels_into_one_hot_rows():
    T = check_targets(_readonly([1, 0, 2]), 3, 4, np.float64)
    np.testing.assert_array_equal(T, [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]])
    assert T.dtype == np.float64
    T2 = check_targets(_readonly([[0.25, 0.75], [1, 0]]), 2, 2, np.float32)
    assert T2.dtype == np.float32 and T2.flags.c_contiguous
    np.testing.assert_array_equal(T2, [[0.25, 0.75], [1, 0]])


def test_check_targets_refusals():
    with pytest.raises(ValueError, match=r"y has 2 entries but X has 3 rows"):
        check_targets(np.array([0, 1]), 3, 2, np.float32)
    with pytest.raises(ValueError, match=r"y has shape \(2, 3\) but the network has 2 outputs"):
        check_targets(np.zeros((2, 3)), 2, 2, np.float32)
    with pytest.raises(ValueError, match=r"1-D labels or 2-D.*got shape \(2, 2, 1\)"):
        check_targets(np.zeros((2, 2, 1)), 2, 2, np.float32)
    with pytest.raises(ValueError, match=r"1-D labels or 2-D.*got shape \(\)"):
        check_targets(np.array(1), 1, 2, np.float32)
    with pytest.raises(TypeError, match=r"y must be numeric, got dtype <U1"):
        check_targets(np.array([["a", "b"]]), 1, 2, np.float32)
    with pytest.raises(ValueError, match=r"y holds NaN or infinite"):
        check_targets(np.array([[0.0, np.inf]]), 1, 2, np.float32)
    with pytest.raises(TypeError, match=r"y must be a NumPy array, got int"):
        check_targets(3, 1, 2, np.float32)


def test_check_labels():
    y = check_labels(_readonly([0.0, 2.0, 1.0]), 3)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [0, 2, 1])
    np.testing.assert_array_equal(check_labels(np.array([5, 9], np.uint8)), [5, 9])  # no n_classes: only >= 0
    with pytest.raises(TypeError, match=r"non-integer floats"):
        check_labels(np.array([0.0, 1.5]))
    with pytest.raises(TypeError, match=r"non-integer floats"):
        check_labels(np.array([0.0, np.nan]))
    with pytest.raises(TypeError, match=r"integer class labels, got dtype bool"):
        check_labels(np.array([True, False]))
    with pytest.raises(ValueError, match=r"y holds labels from -3 to 1, outside >= 0"):
        check_labels(np.array([1, -3]))
    with pytest.raises(ValueError, match=r"labels from 0 to 10, outside \[0, 10\)"):
        check_labels(np.array([0, 10]), 10)
    with pytest.raises(ValueError, match=r"must be a 1-D array of integer labels, got shape \(2, 1\)"):
        check_labels(np.array([[0], [1]]))
    with pytest.raises(ValueError, match=r"labels is empty"):
        check_labels(np.array([], dtype=np.int64), 3, name="labels")


# --- arguments checked strictly (issue 32) -------------------------------------------------------


def test_check_seed():
    assert check_seed(None) is None
    for ok in (0, 7, np.int64(3), np.uint32(5), 2**70):
        assert check_seed(ok) == int(ok) and type(check_seed(ok)) is int
    with pytest.raises(ValueError, match=r"^seed must be an integer >= 0, got -1$"):
        check_seed(-1)
    with pytest.raises(ValueError, match=r"^random_state must be an integer >= 0, got -5$"):
        check_seed(np.int8(-5), "random_state")
    for bad in (1.5, 2.0, "1", True, np.bool_(False), [1], np.array([1, 2])):
        with pytest.raises(TypeError, match=r"^seed must be None or an integer >= 0, got "):
            check_seed(bad)


@pytest.mark.parametrize("y, shown", [
    (np.full(300, 1e20), "from 1e+20 to 1e+20"),
    (np.array([0.0, -1e30]), "from -1e+30 to 0"),
    (np.array([0, 2**64 - 1], dtype=np.uint64), f"from 0 to {2**64 - 1}"),
    (np.array([1, 2**63], dtype=np.uint64), f"from 1 to {2**63}"),
])
def test_labels_are_checked_before_any_cast(y, shown):
    """A cast to int64 first turned 1e20 into -9223372036854775808 and 2**64-1 into -1 in the message."""
    with pytest.raises(ValueError, match=rf"^y holds labels {re.escape(shown)}, outside \[0, 10\)$"):
        check_labels(y, 10)
    with pytest.raises(ValueError, match=re.escape(shown)):
        check_targets(y, len(y), 10, np.float32)


def test_check_label_range_leaves_good_labels_alone():
    y = _readonly([0.0, 9.0])
    assert check_label_range(y, 10) is None and y.dtype == np.float64


def test_check_epoch_schedule_calls_the_schedule_for_every_epoch():
    seen = []
    check_epoch_schedule(lambda e: seen.append(e) or 0.1 / (1 + e), 5)
    assert seen == [0, 1, 2, 3, 4]
    check_epoch_schedule(lambda e: np.float32(0.5), 2)
    check_epoch_schedule(lambda e: np.array(0.5), 2)
    for f, fragment in ((lambda e: float("nan") if e == 3 else 0.1, r"lr\(3\) for epoch 3 is nan"),
                        (lambda e: 0.1 - 0.05 * e, r"lr\(2\) for epoch 2 is 0.0"),
                        (lambda e: np.inf, r"lr\(0\) for epoch 0 is inf")):
        with pytest.raises(ValueError, match=fragment + "; a schedule must give a finite number > 0 for every epoch"):
            check_epoch_schedule(f, 4)
    for value in ("0.1", None, True, [0.1], np.array([0.1, 0.2])):
        with pytest.raises(TypeError, match=r"lr\(0\) must return a number"):
            check_epoch_schedule(lambda e, v=value: v, 2)


# --- the same checks in train(), before any work -----------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    X = rng.random((40, 4), dtype=np.float32)
    return fastnn.init_params([4, 3, 2], seed=0), X, rng.integers(0, 2, 40)


@pytest.mark.parametrize("name", ["early_stopping", "shuffle", "verbose"])
@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, np.array([True])])
def test_train_refuses_loose_flags(tiny, name, value):
    """early_stopping="no" used to turn early stopping on; shuffle="no" and verbose="no" passed."""
    params, X, y = tiny
    with pytest.raises(TypeError, match=rf"^{name} must be True or False, got "):
        fastnn.train(params, X, y, epochs=1, **{name: value})


def test_train_accepts_numpy_bools(tiny):
    params, X, y = tiny
    _, history = fastnn.train(params, X, y, epochs=1, shuffle=np.bool_(False), verbose=np.bool_(False),
                              early_stopping=np.False_)
    assert history["epoch"] == [1]


@pytest.mark.parametrize("seed, error, fragment", [
    (-1, ValueError, "seed must be an integer >= 0, got -1"),
    (1.5, TypeError, "seed must be None or an integer >= 0, got 1.5"),
    ("7", TypeError, "seed must be None or an integer >= 0, got '7'"),
    (True, TypeError, "seed must be None or an integer >= 0, got True"),
])
def test_train_names_a_bad_seed(tiny, seed, error, fragment):
    params, X, y = tiny
    with pytest.raises(error, match=re.escape(fragment)):
        fastnn.train(params, X, y, epochs=1, seed=seed)


def test_train_reports_huge_float_labels_as_given(tiny):
    params, X, _ = tiny
    with pytest.raises(ValueError, match=r"y holds labels from 1e\+20 to 1e\+20, outside \[0, 2\)"):
        fastnn.train(params, X, np.full(len(X), 1e20), epochs=1)


def test_a_schedule_failing_later_is_refused_before_the_first_epoch(tiny):
    params, X, y = tiny
    epochs_run = []
    with pytest.raises(ValueError, match=r"lr\(1\) for epoch 1 is nan"):
        fastnn.train(params, X, y, epochs=3, lr=lambda e: 0.1 if e == 0 else float("nan"),
                     callback=lambda epoch, p, h: epochs_run.append(epoch))
    assert epochs_run == []
