"""First-call latency of fastnn.train: JIT compilation with an empty cache vs a warm one.

Run:  python bench/startup.py

Each measurement is a fresh Python process with NUMBA_CACHE_DIR pointing at a new
(then reused) folder, so the first run compiles every kernel and the later runs load
them from the cache.
"""
import os
import subprocess
import sys
import tempfile

CHILD = """
import time
t0 = time.perf_counter()
import numpy as np
import fastnn
t1 = time.perf_counter()
X = np.random.default_rng(0).random((100, 784), dtype=np.float32)
y = np.arange(100) % 10
fastnn.train(fastnn.init_params([784, 128, 64, 10], seed=0), X, y, epochs=1)
t2 = time.perf_counter()
fastnn.train(fastnn.init_params([784, 128, 64, 10], seed=0), X, y, epochs=1)
t3 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.4f}")
"""


def main(warm_runs=3):
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        print(f"{'cache':<8}{'import':>10}{'first train':>14}{'next train':>13}")
        for run in range(1 + warm_runs):
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
            imp, first, second = out.stdout.split()
            print(f"{'empty' if run == 0 else 'warm':<8}{imp:>9}s{first:>13}s{second:>12}s")


if __name__ == "__main__":
    main()
