"""The per-sample kernels on CSR input: the same steps as on the dense array, never densified.

A CSR row is scattered into a work row and its ``indices`` taken as the list of non-zero
inputs, so everything after reading the input is the dense path's code: on canonical CSR
(sorted indices, no stored zeros) the active inputs come in the same order as the dense
scan finds them, and the params come out bit for bit the same.
"""
import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

import fastnn  # noqa: E402
from fastnn.optim import get_optimizer  # noqa: E402
from fastnn.packing import pack, unpack  # noqa: E402
from fastnn.per_sample import PerSampleEngine, choose_path, kernel_options  # noqa: E402
from fastnn.twin import sgd_steps_numpy  # noqa: E402
from fastnn.validation import check_params, one_hot  # noqa: E402


def _data(n=300, n_in=40, n_out=4, density=0.2, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in))
    X[rng.random((n, n_in)) > density] = 0.0
    X[5] = 0.0  # an empty row
    return X.astype(dtype), rng.integers(0, n_out, n)


def _canonical(X):
    C = sp.csr_matrix(X)
    C.sort_indices()
    C.eliminate_zeros()
    assert C.has_canonical_format and C.dtype == X.dtype
    return C


def _epoch(params, X, T, order, lrs, path, n_threads=1, activation="relu", output="softmax", loss="cross_entropy",
           l2=0.0, keep=None, seed=0, optimizer="sgd"):
    net = pack(check_params(params))
    keep = np.ones(len(net.sizes) - 1) if keep is None else keep
    opts = kernel_options(activation, output, loss, l2, keep, seed, get_optimizer(optimizer))
    engine = PerSampleEngine(net, T, opts, path, n_threads)
    try:
        tally = engine.epoch(X, order, lrs, 0, np.inf)
    finally:
        engine.close()
    return unpack(*net), tally


CASES = [  # (layers, path, threads, keyword arguments)
    ([40, 12, 8, 4], "rows", 1, dict(activation="relu", l2=1e-3, keep=np.array([0.8, 0.9, 1.0]), seed=3)),
    ([40, 12, 4], "rows", 1, dict(activation="tanh", output="identity", loss="mse")),
    ([40, 4], "rows", 1, dict()),
    ([40, 12, 8, 4], "rules", 1, dict(optimizer="adam", keep=np.array([0.8, 0.9, 1.0]), seed=3)),
    ([40, 12, 8, 4], "replicas", 2, dict(activation="sigmoid", l2=1e-3)),
    ([40, 20, 6, 4], "split", 2, dict(activation="relu", keep=np.array([0.9, 1.0, 1.0]), seed=1)),
]


@pytest.mark.parametrize("layers,path,threads,kwargs", CASES,
                         ids=[f"{c[1]}-{len(c[0]) - 2}hidden-{i}" for i, c in enumerate(CASES)])
def test_csr_gives_the_dense_inputs_params_bit_for_bit(layers, path, threads, kwargs):
    X, y = _data()
    params = fastnn.init_params(layers, init="xavier", seed=2)
    T = one_hot(y, 4, "float32")
    order = np.random.default_rng(4).permutation(len(X))
    lrs = np.full(len(X), 0.05 if kwargs.get("optimizer", "sgd") == "sgd" else 0.005, np.float32)
    dense, t_dense = _epoch(params, X, T, order, lrs, path, threads, **kwargs)
    csr, t_csr = _epoch(params, _canonical(X), T, order, lrs, path, threads, **kwargs)
    assert t_csr == t_dense and t_csr.done == len(X)
    for key in dense:
        assert csr[key].dtype == np.float32
        assert csr[key].tobytes() == dense[key].tobytes(), key


@pytest.mark.parametrize("activation,output,loss,layers,l2,keep", [
    ("relu", "softmax", "cross_entropy", [40, 12, 8, 4], 1e-3, 0.8),
    ("tanh", "tanh", "mse", [40, 12, 4], 0.0, 1.0),
    ("sigmoid", "softmax", "mse", [40, 12, 8, 6, 4], 1e-2, 0.9),
])
def test_csr_kernel_equals_the_twin_in_float64(activation, output, loss, layers, l2, keep):
    X, y = _data(dtype=np.float64)
    params = fastnn.init_params(layers, init="xavier", seed=2, dtype="float64")
    T = one_hot(y, 4, "float64")
    if loss == "mse" and output == "tanh":
        T = T * 1.6 - 0.8
    order = np.random.default_rng(5).permutation(len(X))
    lrs = np.linspace(0.05, 0.01, len(X))
    keeps = np.array([keep] * (len(layers) - 2) + [1.0])
    got, _ = _epoch(params, _canonical(X), T, order, lrs, "rows", activation=activation, output=output, loss=loss,
                    l2=l2, keep=keeps, seed=7)
    want = sgd_steps_numpy(params, X, T, order, lrs, activation=activation, output_activation=output, loss=loss, l2=l2,
                           keep=keeps, seed=7)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_csr_input_takes_the_row_loop_and_never_the_dense_windows():
    X, _ = _data(density=1.0)  # every stored entry non-zero: a dense array would take the windows
    assert choose_path(X, 0, 1, [40, 12, 4]) == "windows"
    assert choose_path(_canonical(X), 0, 1, [40, 12, 4]) == "rows"
    assert choose_path(_canonical(X), 0, 2, [40, 300, 4]) == "split"
    assert choose_path(_canonical(X), 0, 2, [40, 12, 4]) == "replicas"


def test_two_threads_on_a_bag_of_words_take_the_row_loop():
    # 27 non-zeros in 2^18 columns: a compiled call's 4096 samples touch W1's rows 0.42 times on
    # average, and the split copies all of W1 in and out of every call (replicas merge all of it)
    n_in = 2**18
    rng = np.random.default_rng(0)
    cols = np.sort(rng.choice(n_in, size=(100, 27), replace=True), axis=1)
    words = _canonical(sp.csr_matrix((np.ones(2700, np.float32), cols.ravel(), np.arange(0, 2701, 27)),
                                     shape=(100, n_in)))
    assert words.nnz / 100 > 26
    assert choose_path(words, 0, 2, [n_in, 256, 58]) == "rows"
    assert choose_path(words, 0, 2, [n_in, 64, 58]) == "rows"
    # a narrower input layer with the same rows: every row touched many times a call
    narrow = sp.csr_matrix((words.data, words.indices % 2048, words.indptr), shape=(100, 2048))
    narrow.sum_duplicates()
    assert choose_path(narrow, 0, 2, [2048, 256, 58]) == "split"
    assert choose_path(narrow, 0, 2, [2048, 64, 58]) == "replicas"


def test_csr_work_arrays_follow_the_widest_layer_not_the_rows():
    X, y = _data(n=50, n_in=5000, density=0.002)
    C = _canonical(X)
    params = fastnn.init_params([5000, 8, 4], seed=0)
    net = pack(check_params(params))
    opts = kernel_options("relu", "softmax", "cross_entropy", 0.0, np.ones(2), 0, get_optimizer("sgd"))
    engine = PerSampleEngine(net, one_hot(y, 4, "float32"), opts, "rows")
    assert all(a.size <= 3 * 5000 for a in engine.work[0])  # (L + 1) rows as wide as the widest layer, not n
    engine.epoch(C, np.arange(50), np.full(50, 0.1, np.float32), 0, np.inf)
    engine.close()


def test_touched_rows_lists_each_column_of_the_samples_once():
    from fastnn.kernels.threads import touched_rows

    C = _canonical(_data(n=200, n_in=300, density=0.02)[0])
    order = np.random.default_rng(0).permutation(200)[:120]
    seen, rows = np.zeros(300, np.bool_), np.empty(300, np.int64)
    count = touched_rows(C.indptr, C.indices, order, seen, rows)
    want = np.unique(np.concatenate([C.indices[C.indptr[i]:C.indptr[i + 1]] for i in order]))  # the twin
    assert count == want.size and np.array_equal(np.sort(rows[:count]), want)
    assert not seen.any()


def test_split_on_csr_copies_the_touched_rows_and_gives_the_dense_bits():
    # columns no sample uses: their rows of W1 are neither copied nor changed
    X, y = _data(n=300, n_in=60, density=0.15)
    X[:, 40:] = 0.0
    params = fastnn.init_params([60, 20, 6, 4], init="xavier", seed=2)
    T = one_hot(y, 4, "float32")
    order = np.random.default_rng(4).permutation(len(X))
    lrs = np.full(len(X), 0.05, np.float32)
    dense, _ = _epoch(params, X, T, order, lrs, "split", 2)
    csr, _ = _epoch(params, _canonical(X), T, order, lrs, "split", 2)
    for key in dense:
        assert csr[key].tobytes() == dense[key].tobytes(), key
    assert csr["W1"][40:].tobytes() == params["W1"][40:].tobytes()
    assert csr["W1"][:40].tobytes() != params["W1"][:40].tobytes()


def _split_problem(sparse):
    X, y = _data(n=300, n_in=60, density=0.15)
    params = fastnn.init_params([60, 20, 6, 4], init="xavier", seed=2)
    order = np.random.default_rng(4).permutation(300)
    return _canonical(X) if sparse else X, params, one_hot(y, 4, "float32"), order, np.full(300, 0.05, np.float32)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_split_blocks_hold_w1_over_an_epochs_calls_with_the_same_bits(monkeypatch, sparse):
    # the blocks are loaded by an epoch's first call and stored by its last: in between W1 in
    # theta is stale, and the result is the one-call epoch's, bit for bit
    X, params, T, order, lrs = _split_problem(sparse)
    whole, _ = _epoch(params, X, T, order, lrs, "split", 2)
    monkeypatch.setattr("fastnn.per_sample.CHUNK", 70)  # five calls
    pieces, tally = _epoch(params, X, T, order, lrs, "split", 2)
    assert tally.done == 300
    for key in whole:
        assert pieces[key].tobytes() == whole[key].tobytes(), key


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_split_epoch_interrupted_after_a_call_stores_the_columns_trained_so_far(monkeypatch, sparse):
    # Ctrl-C between two calls (here: from the progress callback) stops the epoch with the blocks
    # still holding W1's columns; they are copied back, so theta is the first call's samples' result
    X, params, T, order, lrs = _split_problem(sparse)
    monkeypatch.setattr("fastnn.per_sample.CHUNK", 100)
    first, _ = _epoch(params, X, T, order[:100], lrs[:100], "split", 2)

    def stop(done, total):
        raise KeyboardInterrupt

    net = pack(check_params(params))
    opts = kernel_options("relu", "softmax", "cross_entropy", 0.0, np.ones(3), 0, get_optimizer("sgd"))
    engine = PerSampleEngine(net, T, opts, "split", 2, progress=stop)
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.epoch(X, order, lrs, 0, np.inf)
    finally:
        engine.close()
    assert not any(engine.holding)
    stopped = unpack(*net)
    for key in first:
        assert stopped[key].tobytes() == first[key].tobytes(), key
    assert stopped["W1"].tobytes() != params["W1"].tobytes()
