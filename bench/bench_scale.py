"""Peak memory and speed at scale (issue 8): one training epoch on 1,000,000 synthetic
784-wide float32 samples (X = 3.136 GB) and prediction on 10,000,000 rows.

Each case runs in a fresh subprocess that builds its data in blocks (no full-size
temporaries), warms the kernels up, notes its resident memory, runs, and reports its peak
resident memory (``VmHWM``). The figures are peak / size of X, and the memory added by the
call itself (peak minus the resident memory before it). Synthetic rows are MNIST-like:
about 81% zeros, the rest uniform.

Run:  python -m pytest bench/bench_scale.py --benchmark-only -s     (needs ~4.5 GB, ~1 minute)
With --benchmark-disable (CI) the same code runs on 20,000 training rows and 200,000
prediction rows and checks the same bounds.
"""
import json
import math
import subprocess
import sys
import textwrap

import pytest

from fastnn import network, per_sample

SIZES = {"train": (1_000_000, 20_000), "predict": (10_000_000, 200_000)}  # (full, quick)

COMMON = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import fastnn
    from fastnn import per_sample
    from fastnn.kernels import steps

    def status(key):
        return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024

    def rows(n, width, seed=0, density=0.19):
        X = np.empty((n, width), dtype=np.float32)
        rng = np.random.default_rng(seed)
        for s in range(0, n, 8192):
            block = rng.random((min(8192, n - s), width), dtype=np.float32)
            block[block > density] = 0
            X[s : s + len(block)] = block / density
        return X
""")

TRAIN = COMMON + textwrap.dedent("""
    n = int(sys.argv[1])
    X = rows(n, 784)
    y = np.random.default_rng(1).integers(0, 10, n)
    params = fastnn.init_params([784, 128, 64, 10], seed=0)
    fastnn.train(params, X[:100], y[:100])
    before = status("VmRSS")
    calls = []
    real = steps.sgd_steps
    steps.sgd_steps = lambda *a: (calls.append(len(a[3])), real(*a))[1]
    start = time.perf_counter()
    trained, history = fastnn.train(params, X, y, epochs=1, seed=0)
    seconds = time.perf_counter() - start
    print(json.dumps({"n": n, "x_bytes": X.nbytes, "rss_before": before, "peak": status("VmHWM"),
                      "seconds": seconds, "kernel_calls": len(calls), "loss": history["loss"][0]}))
""")

PREDICT = COMMON + textwrap.dedent("""
    n = int(sys.argv[1])
    X = rows(n, 16, density=1.0)
    params = fastnn.init_params([16, 32, 10], seed=0)
    fastnn.predict(params, X[:10])
    before = status("VmRSS")
    start = time.perf_counter()
    labels = fastnn.predict(params, X)
    seconds = time.perf_counter() - start
    print(json.dumps({"n": n, "x_bytes": X.nbytes, "labels_bytes": labels.nbytes, "rss_before": before,
                      "peak": status("VmHWM"), "seconds": seconds, "classes": int(labels.max()) + 1}))
""")


def _measure(script, n):
    proc = subprocess.run([sys.executable, "-c", script, str(n)], capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _mb(b):
    return f"{b / 1e6:,.0f} MB"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_train_epoch_peak_memory(benchmark, quick, summary):
    n = SIZES["train"][quick]
    r = benchmark.pedantic(_measure, args=(TRAIN, n), rounds=1)
    assert r["peak"] < 2 * r["x_bytes"] + (0 if not quick else 300 << 20), r  # quick: the interpreter dominates
    assert r["kernel_calls"] == math.ceil(n / per_sample.CHUNK)  # the chunks (the first call warmed the kernel up)
    assert math.isfinite(r["loss"])
    added = r["peak"] - r["rss_before"]
    benchmark.group = "scale: peak resident memory"
    benchmark.name = f"train, 1 epoch, {n:,} x 784 float32"
    benchmark.extra_info.update(r, peak_over_x=r["peak"] / r["x_bytes"], added_over_x=added / r["x_bytes"])
    summary(benchmark.group, f"train {n:,} x 784: X {_mb(r['x_bytes'])}, before {_mb(r['rss_before'])}, peak "
                             f"{_mb(r['peak'])} = {r['peak'] / r['x_bytes']:.2f} x X (train added {_mb(added)} = "
                             f"{added / r['x_bytes']:.2f} x X); {r['kernel_calls']} kernel calls; "
                             f"{r['seconds']:.1f} s, {n / r['seconds']:,.0f} samples/s")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_predict_peak_memory(benchmark, quick, summary):
    n = SIZES["predict"][quick]
    r = benchmark.pedantic(_measure, args=(PREDICT, n), rounds=1)
    added = r["peak"] - r["rss_before"]
    chunk_work = network.PREDICT_CHUNK * (16 + 32 + 10 + 10) * 8
    assert added <= r["labels_bytes"] + chunk_work + (64 << 20), r
    assert r["classes"] <= 10
    benchmark.group = "scale: peak resident memory"
    benchmark.name = f"predict, {n:,} x 16 float32, 16-32-10"
    benchmark.extra_info.update(r, added_over_x=added / r["x_bytes"])
    summary(benchmark.group, f"predict {n:,} x 16: X {_mb(r['x_bytes'])}, labels {_mb(r['labels_bytes'])}, "
                             f"predict added {_mb(added)} ({added / r['x_bytes']:.2f} x X); peak "
                             f"{_mb(r['peak'])}; {r['seconds']:.1f} s, {n / r['seconds']:,.0f} rows/s")
