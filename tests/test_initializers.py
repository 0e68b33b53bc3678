"""init_params: the distributions' spread and bounds, zero biases, seeds, depths, dtypes,
the checks on bad arguments, and drawing a big layer in blocks."""
import math
import tracemalloc

import numpy as np
import pytest

from fastnn import init_params, initializers
from fastnn.initializers import INITIALIZERS

DEPTHS = [
    [784, 10],
    [784, 16, 10],
    [784, 128, 10],
    [784, 532, 10],
    [784, 128, 64, 10],
    [784, 256, 128, 64, 32, 10],
    [3, 5, 5, 5, 5, 5, 5, 5, 2],
]


def _within_one_std(W, std):
    """Fraction of entries within one standard deviation of 0 (0.6827 for a normal)."""
    return float(np.mean(np.abs(W) <= std))


def test_he_on_784x128_has_std_sqrt_2_over_784():
    W = init_params([784, 128], seed=0)["W1"].astype(np.float64)
    want = math.sqrt(2 / 784)
    assert abs(W.std() - want) < 0.05 * want
    # centred: the mean of 100352 draws lies within 4 standard errors of 0
    assert abs(W.mean()) < 4 * want / math.sqrt(W.size)
    # normal, not uniform with the same spread (that would give 1/sqrt(3) = 0.577)
    assert _within_one_std(W, want) == pytest.approx(0.6827, abs=0.01)


def test_he_uses_each_layers_own_fan_in():
    params = init_params([784, 128, 64, 10], seed=1)
    for l, fan_in in ((1, 784), (2, 128), (3, 64)):
        W = params[f"W{l}"].astype(np.float64)
        want = math.sqrt(2 / fan_in)
        # four standard errors of a sample std (about std / sqrt(2n)), at least 1%
        tol = max(4 / math.sqrt(2 * W.size), 0.01)
        assert abs(W.std() - want) < tol * want, f"W{l}"


def test_xavier_is_uniform_within_the_glorot_bound():
    params = init_params([784, 128, 10], init="xavier", seed=0)
    for l, (fan_in, fan_out) in ((1, (784, 128)), (2, (128, 10))):
        W = params[f"W{l}"].astype(np.float64)
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.98 * bound  # the bound is reached, not a narrower range
        tol = max(4 / math.sqrt(2 * W.size), 0.01)
        assert abs(W.std() - bound / math.sqrt(3)) < tol * bound / math.sqrt(3), f"W{l}"
    W1 = params["W1"]
    # uniform: a quarter of the draws in each quarter of [-a, a]
    bound = math.sqrt(6 / (784 + 128))
    counts = np.histogram(W1, bins=4, range=(-bound, bound))[0] / W1.size
    np.testing.assert_allclose(counts, 0.25, atol=0.01)


def test_normal_has_std_0_01():
    W = init_params([784, 128], init="normal", seed=0)["W1"].astype(np.float64)
    assert abs(W.std() - 0.01) < 0.05 * 0.01
    assert _within_one_std(W, 0.01) == pytest.approx(0.6827, abs=0.01)


def test_uniform_is_within_plus_minus_half():
    W = init_params([784, 128], init="uniform", seed=0)["W1"].astype(np.float64)
    assert W.min() >= -0.5 and W.max() <= 0.5
    assert W.min() < -0.49 and W.max() > 0.49
    assert abs(W.std() - 1 / math.sqrt(12)) < 0.05 / math.sqrt(12)


@pytest.mark.parametrize("init", sorted(INITIALIZERS))
def test_biases_are_zero_and_weights_are_not(init):
    params = init_params([20, 7, 5, 3], init=init, seed=0)
    for l in (1, 2, 3):
        assert not params[f"b{l}"].any()
        assert np.count_nonzero(params[f"W{l}"]) == params[f"W{l}"].size


@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
def test_any_depth(sizes):
    params = init_params(sizes, seed=0)
    L = len(sizes) - 1
    assert list(params) == [k for l in range(1, L + 1) for k in (f"W{l}", f"b{l}")]
    for l in range(1, L + 1):
        assert params[f"W{l}"].shape == (sizes[l - 1], sizes[l])
        assert params[f"b{l}"].shape == (sizes[l],)
        assert params[f"W{l}"].flags.c_contiguous


@pytest.mark.parametrize("init", sorted(INITIALIZERS))
def test_the_same_seed_gives_identical_arrays(init):
    a = init_params([30, 20, 10], init=init, seed=123)
    b = init_params([30, 20, 10], init=init, seed=123)
    c = init_params([30, 20, 10], init=init, seed=124)
    for k in a:
        assert a[k].tobytes() == b[k].tobytes()
    assert not np.array_equal(a["W1"], c["W1"]) and not np.array_equal(a["W2"], c["W2"])
    # no seed: fresh entropy every call
    assert not np.array_equal(init_params([30, 20], init=init)["W1"], init_params([30, 20], init=init)["W1"])


def test_float32_by_default_float64_on_request():
    p32 = init_params([10, 6, 4], seed=5)
    p64 = init_params([10, 6, 4], seed=5, dtype="float64")
    assert all(v.dtype == np.float32 for v in p32.values())
    assert all(v.dtype == np.float64 for v in p64.values())
    assert all(v.dtype == np.float64 for v in init_params([3, 2], dtype=np.float64).values())
    assert all(v.dtype == np.float32 for v in init_params([3, 2], dtype=np.dtype("float32")).values())
    # the same draws, only rounded
    for k in p32:
        np.testing.assert_array_equal(p32[k], p64[k].astype(np.float32))


@pytest.mark.parametrize(
    "sizes,error,match",
    [
        ([784], ValueError, r"at least two entries.*got \[784\]"),
        ([], ValueError, r"at least two entries"),
        (784, TypeError, r"sequence of ints.*got 784"),
        ([784, 12.0, 10], TypeError, r"must hold integers, got 12\.0"),
        ([784, "10"], TypeError, r"must hold integers, got '10'"),
        ([784, True], TypeError, r"must hold integers, got True"),
        ([784, 0, 10], ValueError, r"must be positive, got 0"),
        ([784, -5], ValueError, r"must be positive, got -5"),
    ],
)
def test_bad_layer_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        init_params(sizes)


def test_numpy_integer_sizes_are_accepted():
    params = init_params(np.array([6, 4, 2]), seed=0)
    assert params["W2"].shape == (4, 2)


def test_unknown_init_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown init 'glorot'.*'he', 'xavier', 'normal', 'uniform'"):
        init_params([4, 2], init="glorot")


@pytest.mark.parametrize("dtype", ["float16", "int32", np.int64, "double precision", "complex128"])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match=r"dtype must be 'float32' or 'float64'"):
        init_params([4, 2], dtype=dtype)


@pytest.mark.parametrize("init", ["he", "xavier", "normal", "uniform"])
def test_drawing_in_blocks_gives_the_values_of_one_whole_draw(init, monkeypatch):
    whole = init_params([300, 7, 5], init=init, seed=3, dtype="float64")
    monkeypatch.setattr(initializers, "FILL_BLOCK_BYTES", 8 * 7 * 16)  # blocks of 16 rows, the last one short
    blocks = init_params([300, 7, 5], init=init, seed=3, dtype="float64")
    for k in whole:
        np.testing.assert_array_equal(blocks[k], whole[k])
    rng = np.random.default_rng(3)  # the first layer is exactly the generator's one (300, 7) draw
    expected = {"he": lambda: rng.normal(0.0, np.sqrt(2.0 / 300), (300, 7)),
                "xavier": lambda: rng.uniform(-np.sqrt(6.0 / 307), np.sqrt(6.0 / 307), (300, 7)),
                "normal": lambda: rng.normal(0.0, 0.01, (300, 7)),
                "uniform": lambda: rng.uniform(-0.5, 0.5, (300, 7))}[init]()
    np.testing.assert_array_equal(blocks["W1"], expected)


def test_a_big_float32_layer_needs_no_float64_copy_of_itself():
    tracemalloc.start()
    try:
        params = init_params([1 << 16, 256], seed=0)  # W1: 64 MiB in float32, 128 MiB in float64
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = params["W1"].nbytes
    assert peak < size + 3 * initializers.FILL_BLOCK_BYTES, (peak, size)
