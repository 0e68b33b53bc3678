"""First-call latency of fastnn.train: JIT compilation with an empty Numba cache vs a warm one.

Run:  python bench/startup.py [--runs 3] [--layers 784-128-64-10]

Every measurement is a fresh Python process with NUMBA_CACHE_DIR pointing at a new (then
reused) folder: the first process compiles every kernel it calls, the later ones load them
from the cache. Each process imports fastnn, then calls ``train`` (``--layers``, 100
samples, one epoch of per-sample SGD) on one thread, then on two threads, then on one
thread again; a second series does the same on dense inputs (every pixel non-zero: the
windowed path, on one thread whatever ``n_threads``, so its two-thread call compiles
nothing more). One thread runs ``sgd_steps`` on sparse inputs; two threads on replicas (a
first hidden layer below ``fastnn.per_sample.SPLIT_FROM`` units) run that same compilation of
``sgd_steps`` on each round's share and compile only the merging (``merge_round``), and
wider networks compile ``split_steps``. Printed per call: the wall time of
the call and the part of it that ``history["compile_seconds"]`` attributes to compiling or
loading the kernels. With an empty cache it also prints where the compilations of the
sparse kernels (``sgd_steps``, one thread; ``merge_round``, replicas) went: Numba's own
per-pass times, the largest first (type inference includes compiling the helpers it
calls, each a function of its own).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import fastnn
t1 = time.perf_counter()
rng = np.random.default_rng(0)
X = rng.random((100, 784), dtype=np.float32)
if sys.argv[1] == "sparse":
    X[X < 0.8] = 0  # about MNIST's share of zero pixels
y = np.arange(100) % 10
params = fastnn.init_params([int(n) for n in sys.argv[2].split("-")], seed=0)
calls = []
for threads in (1, 2, 1):
    t = time.perf_counter()
    _, history = fastnn.train(params, X, y, epochs=1, n_threads=threads)
    calls.append([time.perf_counter() - t, history["compile_seconds"]])
from fastnn.kernels import steps, threads
passes = {}
for which, kernel in (("sgd_steps, one thread", steps.sgd_steps), ("merge_round, replicas", threads.merge_round)):
    for sig in kernel.signatures:
        try:  # kept only by a compilation, not by a load from the cache
            times = kernel.get_metadata(sig)["pipeline_times"]["nopython"]
        except (KeyError, TypeError, AttributeError):
            continue
        passes[which] = {name.split("_", 1)[1]: t.init + t.run + t.finalize for name, t in times.items()}
print(json.dumps({"import": t1 - t0, "calls": calls, "passes": passes}))
"""

CALLS = ("first train, 1 thread", "first train, 2 threads", "next train, 1 thread")


def measure(kind, cache, layers):
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", CHILD, kind, layers], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="warm-cache processes after the cold one (default 3)")
    ap.add_argument("--layers", default="784-128-64-10")
    args = ap.parse_args(argv)
    print(f"layers {args.layers}")
    print(f"{'inputs':<8}{'cache':<7}{'import':>9}" + "".join(f"{c:>36}" for c in CALLS))
    for kind in ("sparse", "dense"):
        with tempfile.TemporaryDirectory() as cache:
            for run in range(1 + args.runs):
                r = measure(kind, cache, args.layers)
                cells = "".join(f"{f'{wall:.2f} s (compile {comp:.2f} s)':>36}" for wall, comp in r["calls"])
                print(f"{kind:<8}{'empty' if run == 0 else 'warm':<7}{r['import']:>7.2f} s{cells}", flush=True)
                for which, passes in r["passes"].items():
                    top = sorted(passes.items(), key=lambda kv: -kv[1])[:5]
                    print(f"{'':15}{which}: compiled in {sum(passes.values()):.2f} s of Numba passes: "
                          + ", ".join(f"{name} {t:.2f} s" for name, t in top), flush=True)


if __name__ == "__main__":
    main()
