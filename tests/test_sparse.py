"""scipy.sparse input end to end (issue 29): the input checks, and every path against dense input.

Each path is held to the same computation on ``X.toarray()``: sparse input must change how
the numbers are stored, never which numbers come out.
"""
import json
import os
import tracemalloc
import warnings

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

import fastnn  # noqa: E402
from fastnn.committee import committee_predict_proba, init_committee, train_committee  # noqa: E402
from fastnn.network import PREDICT_CHUNK  # noqa: E402
from fastnn.sparse import check_sparse_inputs, is_sparse  # noqa: E402
from fastnn.validation import check_inputs  # noqa: E402

F32 = np.dtype(np.float32)
# For tests that fit an estimator with a small max_iter on purpose (a few epochs are enough for what they
# check): the estimator then rightly warns that the optimisation has not converged.
SHORT_FIT = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def random_sparse(rng, n, d, density, dtype=np.float32):
    dense = rng.random((n, d)).astype(dtype)
    dense[rng.random((n, d)) >= density] = 0
    return dense


def snapshot(X):
    """Copies of everything a check could modify in scipy matrix ``X``."""
    arrays = {k: getattr(X, k).copy() for k in ("data", "indices", "indptr", "row", "col") if hasattr(X, k)}
    return type(X), X.shape, X.dtype, arrays


def assert_unchanged(X, before):
    kind, shape, dtype, arrays = before
    assert type(X) is kind and X.shape == shape and X.dtype == dtype
    for k, a in arrays.items():
        np.testing.assert_array_equal(getattr(X, k), a, err_msg=k)


def assert_canonical(C, dense, dtype=F32):
    assert type(C) is sp.csr_matrix
    assert C.dtype == dtype
    assert C.indices.dtype in (np.int32, np.int64) and C.indptr.dtype == C.indices.dtype
    for a in (C.data, C.indices, C.indptr):
        assert a.flags.c_contiguous
    for r in range(C.shape[0]):  # sorted, unique column indices in every row, checked independently of scipy
        cols = C.indices[C.indptr[r] : C.indptr[r + 1]]
        assert np.all(np.diff(cols) > 0), r
    assert np.all(C.data != 0)
    np.testing.assert_array_equal(C.toarray(), dense.astype(dtype))


# -- the input checks --------------------------------------------------------------------------


FORMATS = ["csr_matrix", "csc_matrix", "coo_matrix", "csr_array", "csc_array", "coo_array", "lil_matrix",
           "dok_matrix", "bsr_matrix"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_becomes_canonical_csr(fmt, rng):
    dense = random_sparse(rng, 30, 12, 0.3, np.float64)
    dense[4] = 0  # an empty row
    X = getattr(sp, fmt)(dense)
    before = snapshot(X)
    C = check_inputs(X, 12, F32)
    assert_canonical(C, dense)
    assert_unchanged(X, before)


def test_unsorted_indices_duplicates_and_explicit_zeros_are_made_canonical():
    # row 0: columns 3, 1, 3 (a duplicate, summed as scipy does) and an explicit zero in column 0;
    # row 1: empty; row 2: only explicit zeros; row 3: unsorted 2, 0
    data = np.array([1.0, 2.0, 4.0, 0.0, 0.0, 0.0, 5.0, 6.0])
    indices = np.array([3, 1, 3, 0, 1, 2, 2, 0])
    indptr = np.array([0, 4, 4, 6, 8])
    X = sp.csr_matrix((data, indices, indptr), shape=(4, 5))
    before = snapshot(X)
    C = check_inputs(X, 5, F32)
    expected = np.array([[0, 2, 0, 5, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [6, 0, 5, 0, 0]], np.float32)
    assert_canonical(C, expected)
    assert C.nnz == 4
    assert_unchanged(X, before)
    assert not np.shares_memory(C.data, X.data)  # made canonical on a copy, never in the caller's arrays


def test_a_canonical_csr_of_the_params_dtype_is_not_copied(rng):
    X = sp.csr_matrix(random_sparse(rng, 20, 8, 0.4))
    C = check_inputs(X, 8, F32)
    assert C is not X  # a new object: scipy's cached flags on X are not trusted or changed
    assert np.shares_memory(C.data, X.data) and np.shares_memory(C.indices, X.indices)


def test_stale_cached_flags_on_the_callers_matrix_are_not_trusted(rng):
    X = sp.csr_matrix(random_sparse(rng, 6, 8, 0.5))
    assert X.has_canonical_format  # computed and cached by scipy
    X.indices[X.indptr[1] : X.indptr[2]] = X.indices[X.indptr[1] : X.indptr[2]][::-1].copy()  # row 1 unsorted now
    X.data[X.indptr[1] : X.indptr[2]] = X.data[X.indptr[1] : X.indptr[2]][::-1].copy()
    expected = X.toarray()  # toarray() does not need sorted indices
    C = check_inputs(X, 8, F32)
    assert_canonical(C, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_converted_to_the_params_dtype(dtype, rng):
    for given in (np.float32, np.float64):
        X = sp.csr_matrix(random_sparse(rng, 10, 6, 0.5, given))
        C = check_inputs(X, 6, np.dtype(dtype))
        assert C.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(C.toarray(), X.toarray().astype(dtype))
        assert X.dtype == given


@pytest.mark.parametrize("given", [np.int64, np.int32, np.uint8, np.bool_])
def test_counts_and_indicators_are_taken_exactly(given):
    counts = np.array([[0, 3, 0, 1], [2, 0, 0, 0], [0, 0, 0, 0]])
    X = sp.csr_matrix(counts.astype(given))
    C = check_inputs(X, 4, F32)
    assert_canonical(C, counts.astype(given).astype(np.float32))


def test_complex_values_are_refused():
    X = sp.csr_matrix(np.array([[1 + 1j, 0], [0, 2]]))
    with pytest.raises(TypeError, match="complex"):
        check_inputs(X, 2, F32)


def test_wrong_number_of_columns_names_w1():
    params = fastnn.init_params([6, 3, 2], seed=0)
    X = sp.csr_matrix(np.eye(4, 5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(4, 5\) but the network's W1 has shape \(6, 3\); X needs 6 columns"):
        fastnn.predict(params, X)


def test_no_rows_is_refused():
    with pytest.raises(ValueError, match="empty"):
        check_inputs(sp.csr_matrix((0, 5), dtype=np.float32), 5, F32)


def test_one_dimensional_sparse_array_is_refused_with_a_hint():
    x = sp.coo_array(np.array([1.0, 0.0, 2.0]))
    if x.ndim != 1:
        pytest.skip("this scipy has no 1-D sparse arrays")
    with pytest.raises(ValueError, match=r"2-D .*reshape\(1, -1\)"):
        check_inputs(x, 3, F32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "coo_matrix"])
def test_non_finite_stored_values_are_refused_with_their_row(bad, fmt):
    dense = np.zeros((10, 4))
    dense[2, 1] = 1.0
    dense[7, 3] = bad
    dense[9, 0] = bad
    with pytest.raises(ValueError, match="NaN or infinite stored values .first in row 7"):
        check_inputs(getattr(sp, fmt)(dense), 4, F32)


def test_a_value_beyond_float32_is_refused():
    X = sp.csr_matrix(np.array([[0.0, 1e39], [1.0, 0.0]]))  # finite in float64, infinite in float32
    with pytest.raises(ValueError, match="row 0"):
        check_inputs(X, 2, F32)
    assert check_inputs(X, 2, np.dtype(np.float64))[0, 1] == 1e39


def test_row_numbers_count_from_first_row():
    X = sp.csr_matrix(np.array([[0.0, 1.0], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match="first in row 101"):
        check_inputs(X, 2, F32, first_row=100)


def test_corrupt_structures_are_refused_before_scipy_converts_them():
    X = sp.csr_matrix(np.eye(3, dtype=np.float32))
    X.indices[1] = 7  # out of range, after construction
    with pytest.raises(ValueError, match="not a valid sparse CSR matrix"):
        check_inputs(X, 3, F32)
    Y = sp.csc_matrix(np.eye(3, dtype=np.float32))
    Y.indices[0] = -1
    with pytest.raises(ValueError, match="not a valid sparse CSC matrix"):
        check_inputs(Y, 3, F32)
    Z = sp.coo_matrix(np.eye(3, dtype=np.float32))
    Z.row[2] = 5
    with pytest.raises(ValueError, match="not a valid sparse COO matrix"):
        check_inputs(Z, 3, F32)
    W = sp.csr_matrix(np.eye(3, dtype=np.float32))
    W.indptr[1:3] = [2, 1]  # decreasing
    with pytest.raises(ValueError, match="not a valid sparse CSR"):
        check_inputs(W, 3, F32)


def test_never_densified():
    """2^34 columns: dense, 1,000 rows of them would take 64 TiB."""
    n, d = 1000, 2**34
    rng = np.random.default_rng(1)
    cols = np.sort(rng.choice(d, size=(n, 3), replace=False), axis=1).ravel()
    X = sp.csr_matrix((rng.random(3 * n), cols, np.arange(0, 3 * n + 1, 3)), shape=(n, d))
    C = check_sparse_inputs(X, d, F32)
    assert C.shape == (n, d) and C.nnz == 3 * n and C.indices.dtype == np.int64
    np.testing.assert_array_equal(C.indices, cols)


def test_is_sparse():
    assert is_sparse(sp.csr_matrix((2, 2))) and is_sparse(sp.coo_array((2, 2)))
    assert not is_sparse(np.zeros((2, 2))) and not is_sparse([[0.0]])


def test_dense_use_needs_no_scipy():
    """scipy is optional for dense input: with it made unimportable, fastnn imports, predicts and trains."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['scipy'] = None\n"  # 'import scipy' now raises ImportError
            "import numpy, fastnn\n"
            "p = fastnn.init_params([3, 2], seed=0); X = numpy.eye(3, dtype='float32')\n"
            "fastnn.train(p, X, numpy.array([0, 1, 0]), batch_size=2); print(fastnn.predict(p, X))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith("[")


# -- prediction and metrics: CSR against dense on MNIST rows ------------------------------------


@pytest.fixture(scope="module")
def mnist_rows(mnist):
    (X, y), _ = mnist
    n = PREDICT_CHUNK + 1808  # more than one chunk of rows
    return X[:n], y[:n]


@pytest.mark.mnist
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predictions_on_csr_equal_dense(mnist_rows, dtype):
    X, y = mnist_rows
    X = X.astype(dtype)
    params = fastnn.init_params([784, 32, 10], seed=3, dtype=dtype)
    params, _ = fastnn.train(params, X[:2000], y[:2000], epochs=1, lr=0.05, seed=0)  # dense: a trained network
    for A in (sp.csr_matrix(X), sp.csc_matrix(X), sp.coo_array(X)):
        dense, sparse = fastnn.predict_proba(params, X), fastnn.predict_proba(params, A)
        assert sparse.dtype == dense.dtype and sparse.shape == dense.shape
        # scipy sums each row's products in another order than BLAS: float32 rounding over ~150 non-zeros
        np.testing.assert_allclose(sparse, dense, rtol=0, atol=1e-5 if dtype == "float32" else 1e-13)
        labels = fastnn.predict(params, A)
        clear = np.sort(dense, axis=1)[:, -1] - np.sort(dense, axis=1)[:, -2] > 1e-5  # no near-ties
        np.testing.assert_array_equal(labels[clear], np.argmax(dense, axis=1)[clear])
        assert fastnn.accuracy(params, A, y) == pytest.approx(fastnn.accuracy(params, X, y), abs=2 / len(y))
    C_dense = fastnn.confusion_matrix(y, fastnn.predict(params, X), 10)
    C_sparse = fastnn.confusion_matrix(y, fastnn.predict(params, sp.csr_matrix(X)), 10)
    assert np.abs(C_dense - C_sparse).sum() <= 2 * (~clear).sum()
    assert C_sparse.sum() == len(y)


@pytest.mark.mnist
def test_forward_and_backward_on_csr_equal_dense(mnist_rows):
    X, y = mnist_rows[0][:64].astype(np.float64), mnist_rows[1][:64]
    params = fastnn.init_params([784, 16, 8, 10], seed=1, dtype="float64")
    for activation in ("relu", "tanh"):
        out_d, cache_d = fastnn.forward(params, X, activation=activation)
        out_s, cache_s = fastnn.forward(params, sp.csr_matrix(X), activation=activation)
        np.testing.assert_allclose(out_s, out_d, rtol=0, atol=1e-14)
        g_d = fastnn.backward(params, cache_d, y, activation=activation)
        g_s = fastnn.backward(params, cache_s, y, activation=activation)
        for k in g_d:
            assert isinstance(g_s[k], np.ndarray) and g_s[k].shape == g_d[k].shape
            np.testing.assert_allclose(g_s[k], g_d[k], rtol=0, atol=1e-13, err_msg=k)


def test_prediction_memory_follows_the_non_zeros():
    """Predicting 20,000 rows of 2^20 features (5 non-zeros each) allocates the CSR's conversion, the
    outputs and one chunk's layer outputs, nowhere near rows x features (80 GiB dense)."""
    n, d, hidden, k = 20_000, 2**20, 4, 3
    rng = np.random.default_rng(0)
    cols = np.sort(rng.integers(0, d, (n, 5)), axis=1)
    X = sp.csr_matrix((rng.random(5 * n), cols.ravel(), np.arange(0, 5 * n + 1, 5)), shape=(n, d))  # float64
    params = fastnn.init_params([d, hidden, k], seed=0)
    csr_bytes = X.nnz * (4 + 8) + (n + 1) * 8  # the float32 copy, indices and indptr (at most int64)
    budget = 2 * csr_bytes + n * k * 4 + 4 * PREDICT_CHUNK * max(hidden, k) * 8 + (1 << 20)
    fastnn.predict_proba(params, X[:10])  # once, untraced: Numba initialises itself on a first call
    tracemalloc.start()
    try:
        proba = fastnn.predict_proba(params, X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert proba.shape == (n, k)
    assert peak < budget, f"peak {peak / 2**20:.1f} MiB, budget {budget / 2**20:.1f} MiB"


def _sparse_memory_bench():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "bench" / "sparse_memory.py"
    spec = importlib.util.spec_from_file_location("sparse_memory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sparse_memory_benchmark_runs_and_budgets_each_phase():
    """bench/sparse_memory.py on a small workload: each phase in its own process, a budget per phase."""
    report = _sparse_memory_bench().measure(rows=3000, features=2**16, nnz=10, hidden=16,
                                            phases=("predict", "train"))
    predict, train = report["results"]
    assert "error" not in predict, predict
    assert predict["predicted_rows"] == 3000 and predict["csr_bytes"] == 3000 * 10 * 8 + 3001 * 4
    assert predict["peak_rss"] >= predict["setup_rss"] >= predict["baseline_rss"]
    assert predict["within_budget"], predict
    assert "error" not in train, train
    assert train["trained_rows"] == 3000 and train["within_budget"], train


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("FASTNN_SLOW", "") in ("", "0"),
                    reason="set FASTNN_SLOW=1 to run the 200,000 x 2^20 memory benchmark (about 4 GiB, a minute)")
def test_memory_follows_the_non_zeros_at_scale():
    """Issue 29's workload: 200,000 rows x 2^20 features, 30 non-zeros a row, 256 hidden units (W1: 1 GiB).
    Peak resident memory of predicting and of training within the budget
    of bench/sparse_memory.py: the CSR arrays, the params, per-thread work and per-sample arrays only."""
    report = _sparse_memory_bench().measure(phases=("predict", "train"))
    predict, train = report["results"]
    assert predict.get("within_budget"), predict
    assert train.get("within_budget"), train


# -- training ------------------------------------------------------------------------------------


@pytest.mark.mnist
@pytest.mark.parametrize("options", [
    {"batch_size": 32},
    {"batch_size": None, "epochs": 3, "lr": 0.5},
    {"batch_size": 16, "optimizer": "adam", "lr": 0.001, "l2": 1e-3},
    {"batch_size": 16, "optimizer": "momentum", "dropout": 0.2, "validation_fraction": 0.2},
    {"batch_size": 50, "early_stopping": True, "patience": 1, "epochs": 4},
])
def test_batch_training_on_csr_equals_dense(mnist_rows, options):
    X, y = mnist_rows[0][:1500].astype(np.float64), mnist_rows[1][:1500]
    options = {"epochs": 2, "lr": 0.05, "seed": 4, **options}
    params = fastnn.init_params([784, 24, 10], seed=2, dtype="float64")
    p_dense, h_dense = fastnn.train(params, X, y, **options)
    p_sparse, h_sparse = fastnn.train(params, sp.csr_matrix(X), y, **options)
    for k in p_dense:
        np.testing.assert_allclose(p_sparse[k], p_dense[k], rtol=0, atol=1e-12, err_msg=k)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "best_epoch"):
        if key in h_dense:
            np.testing.assert_allclose(h_sparse[key], h_dense[key], rtol=1e-12, err_msg=key)


@pytest.mark.mnist
def test_batch_training_on_csr_equals_dense_in_float32(mnist_rows):
    X, y = mnist_rows[0][:1500], mnist_rows[1][:1500]
    params = fastnn.init_params([784, 24, 10], seed=2)
    p_dense, _ = fastnn.train(params, X, y, epochs=2, lr=0.05, batch_size=32, seed=4)
    p_sparse, _ = fastnn.train(params, sp.csr_matrix(X), y, epochs=2, lr=0.05, batch_size=32, seed=4)
    for k in p_dense:  # the products sum in another order than BLAS: equal to float32 rounding
        np.testing.assert_allclose(p_sparse[k], p_dense[k], rtol=0, atol=1e-6, err_msg=k)


def test_train_leaves_the_callers_matrix_alone(rng):
    X = sp.csr_matrix((np.array([2.0, 1.0, 0.0, 3.0]), np.array([3, 0, 1, 2]), np.array([0, 2, 3, 4])), shape=(3, 4))
    before = snapshot(X)
    params = fastnn.init_params([4, 5, 2], seed=0)
    fastnn.train(params, X, np.array([0, 1, 0]), epochs=2, lr=0.1, batch_size=2, seed=0,
                 validation_data=(X, np.array([0, 1, 0])))
    assert_unchanged(X, before)


def test_validation_data_may_be_sparse(rng):
    D = random_sparse(rng, 60, 10, 0.3, np.float64)
    y = rng.integers(0, 3, 60)
    params = fastnn.init_params([10, 6, 3], seed=0, dtype="float64")
    _, h_dense = fastnn.train(params, D, y, epochs=2, lr=0.1, batch_size=8, seed=0, validation_data=(D[:20], y[:20]))
    _, h_sparse = fastnn.train(params, D, y, epochs=2, lr=0.1, batch_size=8, seed=0,
                               validation_data=(sp.csr_matrix(D[:20]), y[:20]))
    np.testing.assert_allclose(h_sparse["val_loss"], h_dense["val_loss"], rtol=1e-12)


def test_augment_with_sparse_x_is_refused(rng):
    from fastnn.augment import Distortion

    X = sp.csr_matrix(random_sparse(rng, 8, 16, 0.3))
    with pytest.raises(TypeError, match="augment distorts dense images"):
        fastnn.train(fastnn.init_params([16, 2]), X, np.arange(8) % 2, batch_size=4,
                     augment=Distortion(image_shape=(4, 4)))


def test_per_sample_training_on_csr_runs(rng):
    X = sp.csr_matrix(random_sparse(rng, 8, 16, 0.3))
    params, history = fastnn.train(fastnn.init_params([16, 4, 2], seed=0), X, np.arange(8) % 2, seed=0)
    assert np.isfinite(history["loss"][0]) and all(np.isfinite(v).all() for v in params.values())


@pytest.mark.mnist
@pytest.mark.parametrize("dtype,atol", [("float32", 1e-6), ("float64", 1e-12)])
def test_per_sample_training_on_csr_equals_dense(mnist_rows, dtype, atol):
    X, y = mnist_rows[0][:3000].astype(dtype), mnist_rows[1][:3000]
    params = fastnn.init_params([784, 32, 10], seed=5, dtype=dtype)
    p_dense, _ = fastnn.train(params, X, y, epochs=2, lr=0.05, seed=1)
    p_sparse, _ = fastnn.train(params, sp.csr_matrix(X), y, epochs=2, lr=0.05, seed=1)
    for k in p_dense:
        np.testing.assert_allclose(p_sparse[k], p_dense[k], rtol=0, atol=atol, err_msg=k)


@pytest.mark.mnist
def test_two_threads_train_on_csr(mnist_rows):
    X, y = mnist_rows[0][:4000], mnist_rows[1][:4000]
    params = fastnn.init_params([784, 256, 10], seed=5)
    trained, _ = fastnn.train(params, sp.csr_matrix(X[:3000]), y[:3000], epochs=2, lr=0.05, seed=1, n_threads=2)
    assert fastnn.accuracy(trained, sp.csr_matrix(X[3000:]), y[3000:]) > 0.8


# -- committees ------------------------------------------------------------------------------------


def test_committee_on_csr_equals_dense(rng):
    D = random_sparse(rng, 80, 12, 0.3, np.float64)
    y = rng.integers(0, 3, 80)
    members = init_committee([12, 6, 3], seeds=[1, 2], dtype="float64")
    dense, _ = train_committee(members, D, y, seed=0, epochs=2, lr=0.1, batch_size=8, n_jobs=2)
    sparse, _ = train_committee(members, sp.csr_matrix(D), y, seed=0, epochs=2, lr=0.1, batch_size=8, n_jobs=2)
    for a, b in zip(dense, sparse):
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-12)
    np.testing.assert_allclose(committee_predict_proba(sparse, sp.csc_matrix(D)), committee_predict_proba(dense, D),
                               rtol=0, atol=1e-12)


# -- the estimators ------------------------------------------------------------------------------

sklearn = pytest.importorskip("sklearn")
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from fastnn.sklearn import MLPClassifier, MLPCommitteeClassifier, MLPRegressor  # noqa: E402

WORDS = {"cat": "cat kitten purr meow whiskers litter mouse tabby".split(),
         "dog": "dog puppy bark woof leash fetch bone kennel".split(),
         "car": "car engine wheel brake gear fuel road garage".split()}


def documents(n, seed=0):
    """Short texts of a few topic words and a few shared ones, labelled with their topic."""
    rng = np.random.default_rng(seed)
    shared = "the a and with of on big small".split()
    labels = rng.choice(sorted(WORDS), n)
    docs = [" ".join(rng.permutation(list(rng.choice(WORDS[t], 3)) + list(rng.choice(shared, 3)))) for t in labels]
    return docs, labels


@SHORT_FIT
@pytest.mark.parametrize("vectorizer", [HashingVectorizer(n_features=2**12, alternate_sign=False), TfidfVectorizer()])
def test_pipeline_from_raw_text(vectorizer):
    docs, labels = documents(300)
    pipe = make_pipeline(vectorizer, MLPClassifier((16,), batch_size=8, learning_rate_init=0.1, max_iter=15,
                                                   random_state=0))
    pipe.fit(docs[:200], labels[:200])
    assert pipe.score(docs[200:], labels[200:]) > 0.95
    assert set(pipe.predict(["a puppy with a bone", "the engine and the brake"])) <= set(WORDS)
    assert pipe.predict_proba(docs[:3]).shape == (3, 3)


@SHORT_FIT
def test_grid_search_over_a_text_pipeline():
    docs, labels = documents(180, seed=1)
    pipe = make_pipeline(TfidfVectorizer(), MLPClassifier((8,), batch_size=8, max_iter=5, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__learning_rate_init": [0.001, 0.2]}, cv=3)
    search.fit(docs, labels)
    assert search.best_params_ == {"mlpclassifier__learning_rate_init": 0.2}  # 5 epochs at 0.001 barely move
    assert search.best_score_ > 0.9


@SHORT_FIT
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "coo_array"])
def test_estimator_on_sparse_equals_dense(fmt):
    docs, labels = documents(120, seed=2)
    X = HashingVectorizer(n_features=2**8, alternate_sign=False).transform(docs)
    kw = dict(hidden_layer_sizes=(8,), batch_size=8, max_iter=3, dtype="float64", random_state=0)
    dense = MLPClassifier(**kw).fit(X.toarray(), labels)
    sparse = MLPClassifier(**kw).fit(getattr(sp, fmt)(X), labels)
    for k in dense.params_:
        np.testing.assert_allclose(sparse.params_[k], dense.params_[k], rtol=0, atol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X.toarray()), rtol=0, atol=1e-12)
    assert sparse.score(X, labels) == dense.score(X.toarray(), labels)


def test_partial_fit_on_sparse_chunks_equals_dense_chunks():
    docs, labels = documents(200, seed=3)
    X = TfidfVectorizer().fit_transform(docs)
    kw = dict(hidden_layer_sizes=(8,), batch_size=4, dtype="float64", random_state=0, learning_rate_init=0.1)
    dense, sparse = MLPClassifier(**kw), MLPClassifier(**kw)
    classes = sorted(WORDS)
    for start in range(0, 200, 50):
        chunk = slice(start, start + 50)
        dense.partial_fit(X[chunk].toarray(), labels[chunk], classes=classes)
        sparse.partial_fit(X[chunk], labels[chunk], classes=classes)
    for k in dense.params_:
        np.testing.assert_allclose(sparse.params_[k], dense.params_[k], rtol=0, atol=1e-12)
    assert sparse.n_iter_ == 4 and sparse.t_ == 200
    assert sparse.score(X, labels) > 0.6  # one epoch in all: well above chance (1/3)


@pytest.mark.parametrize("tiny", [False, True])
def test_one_input_scale_factor_on_csr_gives_the_dense_inputs_bits(tiny):
    # input_scaling="auto" gives every column of a bag of words one factor, applied to the CSR values
    # alone; a value the factor would flush to zero takes the general path (which drops it, as dense does)
    rng = np.random.default_rng(5)
    X = sp.csr_matrix(random_sparse(rng, 120, 2000, 0.5))  # values up to 1 in long rows: one factor, below one
    if tiny:
        X = X.tolil()
        X[3, 7] = np.float32(1e-45)  # the smallest float32: scaled by the factor, it is zero
        X = X.tocsr()
    y = np.arange(120) % 3
    kw = dict(hidden_layer_sizes=(8,), random_state=0)
    sparse = MLPClassifier(**kw).partial_fit(X, y, classes=[0, 1, 2])
    dense = MLPClassifier(**kw).partial_fit(X.toarray(), y, classes=[0, 1, 2])
    assert np.unique(sparse.x_scale_).size == 1 and sparse.x_scale_[0] > 1
    for k in dense.params_:
        np.testing.assert_array_equal(sparse.params_[k], dense.params_[k])


def test_column_scale_factors_on_csr_give_the_dense_inputs_bits():
    # columns whose values exceed 1 get factors of their own (input_scaling="auto"): each stored
    # value is scaled by its column's factor, as the dense inputs are
    rng = np.random.default_rng(6)
    X = random_sparse(rng, 120, 300, 0.2)
    X[:, :7] *= np.float32(50.0)
    X = sp.csr_matrix(X)
    y = np.arange(120) % 3
    kw = dict(hidden_layer_sizes=(8,), random_state=0)
    sparse = MLPClassifier(**kw).partial_fit(X, y, classes=[0, 1, 2])
    dense = MLPClassifier(**kw).partial_fit(X.toarray(), y, classes=[0, 1, 2])
    assert np.unique(sparse.x_scale_).size > 2
    for k in dense.params_:
        np.testing.assert_array_equal(sparse.params_[k], dense.params_[k])


@SHORT_FIT
def test_regressor_and_committee_on_sparse():
    docs, labels = documents(90, seed=4)
    X = HashingVectorizer(n_features=2**8, alternate_sign=False).transform(docs)
    target = (labels == "cat").astype(float) * 3.0
    # alpha fixed: the point is learning from sparse input; alpha="auto" decays by 30 / n_samples, strong on 90 rows
    r = MLPRegressor((8,), batch_size=8, max_iter=20, learning_rate_init=0.05, alpha=1e-4,
                     random_state=0).fit(X, target)
    assert r.score(X, target) > 0.8
    kw = dict(hidden_layer_sizes=(8,), n_members=2, n_jobs=2, batch_size=8, max_iter=3, random_state=0,
              dtype="float64")
    c_dense = MLPCommitteeClassifier(**kw).fit(X.toarray(), labels)
    c_sparse = MLPCommitteeClassifier(**kw).fit(X.tocsc(), labels)
    np.testing.assert_allclose(c_sparse.predict_proba(X), c_dense.predict_proba(X.toarray()), rtol=0, atol=1e-12)


def test_estimator_sparse_input_errors():
    X = sp.csr_matrix(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier((4,), batch_size=2).fit(X, [0, 1])
    fitted = MLPClassifier((4,), batch_size=2, max_iter=1).fit(sp.csr_matrix(np.eye(2)), [0, 1])
    with pytest.raises(ValueError, match="features"):
        fitted.predict(sp.csr_matrix(np.eye(3)))


@SHORT_FIT
def test_pipeline_with_default_arguments():
    docs, labels = documents(300, seed=5)
    pipe = make_pipeline(HashingVectorizer(n_features=2**12, alternate_sign=False),
                         MLPClassifier(hidden_layer_sizes=(32,), max_iter=10, random_state=0))
    pipe.fit(docs[:200], labels[:200])
    assert pipe.score(docs[200:], labels[200:]) > 0.95


# -- the text benchmark and the documented example ------------------------------------------------


def _bench_module(name):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def debian_slice(tmp_path_factory):
    """A stratifiable slice of the Debian packages (at most 12 of each section) as a packages.jsonl.gz file."""
    import gzip
    import json

    text = _bench_module("text")
    path = text.default_data_path()
    if path is None:
        msg = "the Debian packages data set was not found; set FASTNN_DEBIAN=.../debian-packages"
        if os.environ.get("FASTNN_REQUIRE_DATA", "") not in ("", "0") or os.environ.get("CI") == "true":
            pytest.fail(msg)  # as for MNIST (conftest.py): a missing data set must not pass silently there
        pytest.skip(msg)
    packages = text.stratified_slice(text.load_packages(path), 12)
    out = tmp_path_factory.mktemp("debian") / "packages.jsonl.gz"
    with gzip.open(out, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(p) + "\n" for p in packages)
    return out, packages


def test_text_benchmarks_split_contender_takes_the_split_path(debian_slice, tmp_path, monkeypatch):
    # fastnn-2t-split (not in "all") forces the path choose_path turns down for text
    from fastnn import per_sample

    path, _ = debian_slice
    text = _bench_module("text")
    text.N_FEATURES = 2**12
    calls = []
    split_steps = per_sample.threads.split_steps

    def counted(*args, **kwargs):
        calls.append(1)
        return split_steps(*args, **kwargs)

    monkeypatch.setattr(per_sample.threads, "split_steps", counted)
    out = tmp_path / "text.json"
    assert text.main(["--data", str(path), "--epochs", "1", "--contenders", "fastnn-2t-split", "--out", str(out)]) == 0
    (record,) = json.loads(out.read_text())["contenders"]
    assert record["name"] == "fastnn-2t-split" and record["epoch_seconds"] and 0 <= record["test_accuracy"][0] <= 1
    assert calls, "the split contender never ran the split kernel"


def test_text_benchmark_runs_on_a_slice(debian_slice, tmp_path, capsys):
    path, packages = debian_slice
    text = _bench_module("text")
    text.N_FEATURES = 2**12  # every contender's first layer 64 times smaller: the script's logic, quickly
    out = tmp_path / "text.json"
    assert text.main(["--data", str(path), "--epochs", "2", "--sklearn-slice", "200", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["packages"] == len(packages) and report["classes"] == 58 and report["epochs"] == 2
    assert report["train_rows"] + report["test_rows"] == len(packages) and report["n_features"] == 2**12
    assert 10 < report["nnz_per_row"] < 60
    for key in ("command", "date", "cpu", "load_before", "versions"):
        assert report[key], key
    records = {r["name"]: r for r in report["contenders"]}
    assert list(records) == list(text.CONTENDERS)
    for name, r in records.items():
        if "skipped" in r:
            assert name.startswith("torch") and "torch" not in report["versions"], r
            continue
        assert r["epoch_seconds"] and all(s > 0 for s in r["epoch_seconds"]), name
        assert all(0 <= a <= 1 for a in r["test_accuracy"]), name
        if name.startswith(("fastnn", "torch")):
            assert len(r["epoch_seconds"]) == len(r["test_accuracy"]) == 2, name
    assert len(records["rows-read"]["epoch_seconds"]) == 2 and records["rows-read"]["test_accuracy"] == []
    assert records["sklearn-mlp"]["estimated"] and "slice of 200" in records["sklearn-mlp"]["notes"][0]
    assert records["sgd-linear"]["test_accuracy"][0] > 5 * 12 / len(packages)  # well above the largest class's share
    table = capsys.readouterr().out
    assert "sgd-linear" in table and "estimated from a slice" in table
    if "torch" in report["versions"]:  # the speed-up against PyTorch's fastest batch size, named
        assert "PyTorch's fastest batch size per epoch here is torch-" in table
        assert "reading the first-layer rows alone (rows-read) takes" in table


def test_text_documents():
    text = _bench_module("text")
    doc = text.package_text({"package": "python3-gi-cairo", "description": "Python 3 Cairo bindings",
                             "depends": ["libc6", "python3-gi"]})
    assert doc == "python3 gi cairo Python 3 Cairo bindings dep:libc6 dep:python3-gi"
    tokens = text.make_vectorizer().build_analyzer()(doc)
    assert "dep:python3-gi" in tokens and "gi cairo" in tokens and "3" not in tokens


def test_docs_text_example_on_a_slice(debian_slice, capsys):
    """docs/text.md's code, run as written on a slice of the data (its path the only change)."""
    import pathlib
    import re

    path, packages = debian_slice
    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "text.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert len(blocks) == 2
    first = blocks[0].replace('path = "debian-packages/packages.jsonl.gz"', f"path = {str(path)!r}")
    assert first != blocks[0]
    namespace = {}
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        exec(compile(first, "docs/text.md", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    accuracy = float(printed[0].split()[-1])
    assert accuracy > 5 * 12 / len(packages)  # learned: well above the largest section's share of the slice
    assert printed[1].strip("[]'") in {p["section"] for p in packages}
    exec(compile(blocks[1], "docs/text.md", "exec"), namespace)
    np.testing.assert_allclose(namespace["proba"], namespace["clf"].predict_proba(namespace["X_test"]), atol=1e-6)
    assert len(namespace["history"]["loss"]) == 5


@pytest.mark.parametrize("check_name", ["check_estimator_sparse_tag", "check_estimator_sparse_array",
                                        "check_estimator_sparse_matrix"])
@pytest.mark.parametrize("batch_size", [1, 8])
def test_scikit_learn_sparse_checks(check_name, batch_size):
    """scikit-learn's own checks of sparse input, on estimators that claim it (mini-batches, or per-sample
    once the CSR kernel exists) and on those that refuse it with the error scikit-learn expects."""
    from sklearn.utils import estimator_checks

    check = getattr(estimator_checks, check_name, None)
    if check is None:
        pytest.skip(f"this scikit-learn has no {check_name}")
    for est in (MLPClassifier((8,), batch_size=batch_size, max_iter=5, random_state=0),
                MLPRegressor((8,), batch_size=batch_size, max_iter=5, learning_rate_init=0.001, random_state=0)):
        assert est.__sklearn_tags__().input_tags.sparse
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
            check(type(est).__name__, est)


def test_partial_fit_trains_the_estimators_params_in_place_with_the_same_bits():
    from fastnn.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    X = sp.csr_matrix(random_sparse(rng, 300, 500, 0.02))
    y = rng.integers(0, 3, 300)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    start = {k: v.copy() for k, v in clf.params_.items()}
    W1 = clf.params_["W1"]
    clf.partial_fit(X, y)
    assert np.shares_memory(clf.params_["W1"], W1)  # no copy of the first layer per call
    assert W1.tobytes() == clf.params_["W1"].tobytes() != start["W1"].tobytes()
    # the same training as fastnn.train of a copy, with the estimator's seed for that call
    again = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    again.params_ = {k: v.copy() for k, v in again.params_.items()}  # separate arrays: packed once
    again.partial_fit(X, y)
    assert all(again.params_[k].tobytes() == clf.params_[k].tobytes() for k in start)


@pytest.mark.parametrize("kind", ["sparse", "dense table"])
def test_partial_fit_moves_the_first_layer_in_place_and_back_when_training_stops(kind, monkeypatch):
    # the scaling is folded into the estimator's own W1 in place for training, and out again even on an error
    import fastnn.sklearn as sk

    rng = np.random.default_rng(1)
    if kind == "sparse":  # rows of norm ~0.2: input_scaling='auto' multiplies them by a power of two
        X = sp.csr_matrix(random_sparse(rng, 300, 500, 0.02) * 0.05)
    else:  # columns in the thousands: standardised
        X = rng.normal(size=(300, 6)) * [1, 10, 100, 1000, 5000, 3] + 40
    y = rng.integers(0, 3, 300)
    clf = sk.MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    assert not np.all(clf.x_scale_ == 1.0)
    before = {k: v.copy() for k, v in clf.params_.items()}
    proba = clf.predict_proba(X)
    W1 = clf.params_["W1"]

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sk, "train_in_place", stop)
    with pytest.raises(KeyboardInterrupt):
        clf.partial_fit(X, y)
    assert clf.params_["W1"] is W1
    for k in before:  # back on raw X (to float32 rounding of the way there and back)
        np.testing.assert_allclose(clf.params_[k], before[k], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-5, atol=1e-6)
    monkeypatch.undo()
    clf.partial_fit(X, y)
    assert np.shares_memory(clf.params_["W1"], W1)  # trained in place, and still predicting raw X
    assert clf.score(X, y) > 0.3


@SHORT_FIT
def test_estimator_predictions_on_sparse_rows_widen_only_the_rows_of_W1_they_meet():
    # a bag of words meets a fraction of W1's rows: predicting widens those to float64, with the same bits
    from fastnn.sklearn import MLPClassifier

    rng = np.random.default_rng(2)
    X = sp.csr_matrix(random_sparse(rng, 400, 3000, 0.003))
    y = rng.integers(0, 3, 400)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, max_iter=3).fit(X, y)
    X_new = sp.csr_matrix(random_sparse(np.random.default_rng(3), 50, 3000, 0.003))
    assert 2 * np.unique(X_new.indices).size < X_new.shape[1]  # the narrow path
    wide = {k: v.astype(np.float64) for k, v in clf.params_.items()}
    expected = fastnn.predict_proba(wide, X_new.astype(np.float64))
    got = clf.predict_proba(X_new)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(clf.predict_proba(X_new[7:8]), got[7:8])  # a row's own answer
