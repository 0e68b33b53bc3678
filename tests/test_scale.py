"""Scale: no Python work per sample in train, and memory that does not grow with the data
beyond the arrays the caller asked for.

The fast tests count Python function calls and trace NumPy's allocations (NumPy reports
them to ``tracemalloc``) on data sets of a few MB. The slow ones (``FASTNN_SLOW=1``) run the
issue's sizes in a subprocess and read its peak resident memory (``VmHWM``): training on
1,000,000 x 784 float32 samples (3.1 GB) and predicting on 10,000,000 rows.
"""
import json
import math
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import fastnn
from fastnn import network, per_sample

SLOW = os.environ.get("FASTNN_SLOW", "") not in ("", "0")
slow = pytest.mark.skipif(not SLOW, reason="takes minutes and ~4 GB of memory; set FASTNN_SLOW=1")


def _data(n, n_features=784, seed=0, density=0.19):
    """MNIST-like rows: about 81% zeros, the rest uniform in (0, 1)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_features), dtype=np.float32)
    X[X > density] = 0
    X /= density
    return X, rng.integers(0, 10, n)


# --- no per-sample Python work ---------------------------------------------------------------------


def _python_calls(fn):
    """How many Python-level function calls ``fn()`` makes."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def test_train_calls_the_kernel_once_per_chunk(monkeypatch):
    X, y = _data(10_000, n_features=20)
    params = fastnn.init_params([20, 16, 10], seed=0)
    from fastnn.kernels import steps

    real, sizes = steps.sgd_steps, []

    def counted(*args):
        sizes.append(len(args[3]))  # the chunk of the visiting order
        return real(*args)

    monkeypatch.setattr(steps, "sgd_steps", counted)
    fastnn.train(params, X, y, epochs=2, seed=0)
    chunk = per_sample.CHUNK
    per_epoch = [chunk] * (len(X) // chunk) + [len(X) % chunk]
    # the warm-up's one sample (on a scratch copy, once per process and configuration), then the epochs
    assert sizes in ([1] + per_epoch * 2, per_epoch * 2)


def test_train_python_work_grows_with_chunks_not_samples():
    """Ten times the samples (one chunk against ten) costs a bounded number of Python calls
    per chunk, orders of magnitude fewer than the 36,864 extra samples."""
    params = fastnn.init_params([20, 16, 10], seed=0)
    X, y = _data(10 * per_sample.CHUNK, n_features=20)
    n1 = per_sample.CHUNK
    fastnn.train(params, X[:n1], y[:n1], seed=0)  # compile or load the kernel first
    few = _python_calls(lambda: fastnn.train(params, X[:n1], y[:n1], seed=0))
    many = _python_calls(lambda: fastnn.train(params, X, y, seed=0))
    extra_chunks = len(X) // per_sample.CHUNK - 1
    assert many - few <= 50 * extra_chunks, (few, many)
    assert many - few < (len(X) - n1) / 100


# --- memory ------------------------------------------------------------------------------------------


def _traced_peak(fn):
    """Peak bytes NumPy and Python allocated during ``fn()`` (beyond what existed before)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start, result


def test_predict_memory_is_its_labels_plus_one_chunk():
    """predict on 200,000 rows allocates its int64 labels and one chunk's work, not an
    (n, n_outputs) matrix of probabilities first: the rest does not grow with n."""
    params = fastnn.init_params([16, 32, 10], seed=0)
    X = np.random.default_rng(0).random((200_000, 16), dtype=np.float32)
    fastnn.predict(params, X[:10])
    peak, labels = _traced_peak(lambda: fastnn.predict(params, X))
    chunk_work = network.PREDICT_CHUNK * (16 + 32 + 10 + 10) * 8  # every layer's output, float64 at most
    assert peak <= labels.nbytes + chunk_work, (peak, labels.nbytes, chunk_work)
    np.testing.assert_array_equal(labels, np.argmax(fastnn.forward(params, X)[0], axis=1))


def test_predict_proba_memory_is_its_output_plus_one_chunk():
    params = fastnn.init_params([16, 32, 10], seed=0)
    X = np.random.default_rng(0).random((200_000, 16), dtype=np.float32)
    fastnn.predict_proba(params, X[:10])
    peak, proba = _traced_peak(lambda: fastnn.predict_proba(params, X))
    assert peak <= proba.nbytes + network.PREDICT_CHUNK * (16 + 32 + 10 + 10) * 8, (peak, proba.nbytes)


def test_train_memory_beyond_x_grows_with_samples_not_with_their_width():
    """What train allocates besides the caller's X is per-sample bookkeeping (one-hot targets,
    the visiting order, the learning rates) and the params: nothing of X's size (no copy of
    it, no full-size temporary for checking it)."""
    n, width = 20_000, 784
    X, y = _data(n, n_features=width)
    params = fastnn.init_params([width, 32, 10], seed=0)
    fastnn.train(params, X[:100], y[:100], seed=0)
    peak, _ = _traced_peak(lambda: fastnn.train(params, X, y, seed=0))
    per_row = 10 * 4 + 8 + 8 + 4 + 8  # targets, order, rates (float64 and float32), labels as int64
    params_bytes = sum(v.nbytes for v in params.values())
    assert peak < 2 * n * per_row + 4 * params_bytes + (2 << 20), (peak, X.nbytes)


# --- the sizes, in a subprocess ----------------------------------------------------------------

PEAK = textwrap.dedent("""
    def status(key):
        return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024
""")

TRAIN_1M = PEAK + textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import fastnn
    from fastnn import per_sample
    from fastnn.kernels import steps

    n = int(sys.argv[1])
    X = np.empty((n, 784), dtype=np.float32)  # filled in blocks: no full-size temporaries
    rng = np.random.default_rng(0)
    for s in range(0, n, 8192):
        block = rng.random((min(8192, n - s), 784), dtype=np.float32)
        block[block > 0.19] = 0
        X[s : s + len(block)] = block / 0.19
    y = rng.integers(0, 10, n)
    params = fastnn.init_params([784, 128, 64, 10], seed=0)
    fastnn.train(params, X[:100], y[:100])  # compile or load the kernel
    before = status("VmRSS")
    calls = []
    real = steps.sgd_steps
    steps.sgd_steps = lambda *a: (calls.append(len(a[3])), real(*a))[1]
    start = time.perf_counter()
    trained, history = fastnn.train(params, X, y, epochs=1, seed=0)
    seconds = time.perf_counter() - start
    print(json.dumps({"x_bytes": X.nbytes, "rss_before": before, "peak": status("VmHWM"), "seconds": seconds,
                      "kernel_calls": len(calls), "loss": history["loss"][0]}))
""")

PREDICT_10M = PEAK + textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import fastnn

    n = int(sys.argv[1])
    X = np.empty((n, 16), dtype=np.float32)
    rng = np.random.default_rng(0)
    for s in range(0, n, 1 << 20):
        X[s : s + (1 << 20)] = rng.random((min(1 << 20, n - s), 16), dtype=np.float32)
    params = fastnn.init_params([16, 32, 10], seed=0)
    fastnn.predict(params, X[:10])
    before = status("VmRSS")
    start = time.perf_counter()
    labels = fastnn.predict(params, X)
    seconds = time.perf_counter() - start
    print(json.dumps({"x_bytes": X.nbytes, "labels_bytes": labels.nbytes, "rss_before": before,
                      "peak": status("VmHWM"), "seconds": seconds, "classes": int(labels.max()) + 1}))
""")


def _run(script, n):
    proc = subprocess.run([sys.executable, "-c", script, str(n)], capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    print(json.dumps(report))  # the figures, with -s
    return report


@slow
def test_training_on_a_million_samples_peaks_under_twice_the_size_of_x():
    n = 1_000_000
    r = _run(TRAIN_1M, n)
    assert r["x_bytes"] == n * 784 * 4
    assert r["peak"] < 2 * r["x_bytes"], r
    assert r["kernel_calls"] == math.ceil(n / per_sample.CHUNK)  # the chunks (the first call warmed the kernel up)
    assert math.isfinite(r["loss"])


@slow
def test_predicting_ten_million_rows_peaks_near_the_input_plus_the_labels():
    n = 10_000_000
    r = _run(PREDICT_10M, n)
    chunk_work = network.PREDICT_CHUNK * (16 + 32 + 10 + 10) * 8
    assert r["peak"] - r["rss_before"] <= r["labels_bytes"] + chunk_work + (64 << 20), r
    assert r["classes"] <= 10
