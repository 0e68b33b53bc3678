"""What watching for divergence costs during an epoch (issue 8).

train() runs the per-sample kernel on chunks of ``fastnn.per_sample.CHUNK`` samples (4096) and,
after each chunk, checks that the kernel got through it (the kernel stops at the first
non-finite sample loss) and that the chunk's mean loss is below ``DIVERGENCE_FACTOR`` times
the initial loss; at the end of the epoch it checks the weights are finite. Setting
``CHUNK = n`` leaves one kernel call per epoch and one check at its end: the difference
between the two is what the within-epoch watching costs (the kernel's own per-sample
``isfinite`` test is in both and is not measured here).

The two settings are timed interleaved (A, B, B, A, ...) on the reference workload and the
ratio of their medians is reported; one benchmark round of the default also goes to
pytest-benchmark's table.

Run:  FASTNN_DATA=../shared/mnist python -m pytest bench/bench_divergence.py --benchmark-only -s
With --benchmark-disable (CI) it trains once each way on the quick workload and checks that
chunking does not change the result.
"""
import statistics
import time

import numpy as np
import pytest

import fastnn
from fastnn import per_sample

ROUNDS = 9


def _epoch(monkeypatch, workload, chunk):
    monkeypatch.setattr(per_sample, "CHUNK", chunk)
    return fastnn.train(workload.params, workload.X, workload.y, epochs=1, lr=workload.lr, seed=workload.seed)


def test_divergence_watch_cost(benchmark, monkeypatch, workload, quick, summary):
    n = len(workload.X)
    default = per_sample.CHUNK
    chunked, h1 = _epoch(monkeypatch, workload, default)
    whole, h2 = _epoch(monkeypatch, workload, n)
    # the chunks change where the checks happen, not what is computed
    for key in chunked:
        assert chunked[key].tobytes() == whole[key].tobytes(), key
    assert h1["accuracy"] == h2["accuracy"]
    assert h1["loss"][0] == pytest.approx(h2["loss"][0], rel=1e-12)  # summed per chunk, then over chunks
    assert np.isfinite(h1["loss"][0])

    benchmark.group = f"divergence watch: one epoch of {n:,} samples, 784-128-64-10"
    benchmark.name = f"CHUNK={default} (checks every chunk)"
    benchmark.pedantic(_epoch, args=(monkeypatch, workload, default), rounds=1 if quick else 3)
    if quick:
        return
    times = {default: [], n: []}
    for r in range(ROUNDS):  # interleaved, alternating which goes first
        for chunk in ((default, n) if r % 2 == 0 else (n, default)):
            start = time.perf_counter()
            _epoch(monkeypatch, workload, chunk)
            times[chunk].append(time.perf_counter() - start)
    a, b = statistics.median(times[default]), statistics.median(times[n])
    cost = a / b - 1
    checks = -(-n // default)
    benchmark.extra_info.update(median_chunked=a, median_one_call=b, ratio=a / b, checks_per_epoch=checks)
    summary(benchmark.group, f"CHUNK={default} ({checks} checks): median {a:.4f} s; CHUNK=n (1 check): median "
                             f"{b:.4f} s; ratio {a / b:.4f} ({100 * cost:+.2f}%), {ROUNDS} interleaved rounds each")
