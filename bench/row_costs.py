"""What one weight row costs the fused kernel: read it into a dot product, or update it.

    python bench/row_costs.py [--reps 60000]

The per-sample kernel's work is a list of rows per layer: the rows of ``W1`` behind an
image's non-zero pixels and the rows behind the active units of later layers. This
times the two row operations alone, on the reference network's shapes and typical
counts of active rows (``bench/sparsity.py``), four rows per pass as in the kernel, and
prints nanoseconds per row, the bytes per second they move, and the seconds that adds up
to over a 60,000-sample epoch. The same rows are used every repetition, so these are
best cases: the caches hold whatever fits.
"""
import argparse
import time

import numpy as np
from numba import njit

_FAST = {"contract", "reassoc"}
SHAPES = [("W1", 784, 128, 150), ("W2", 128, 64, 35), ("W3", 64, 10, 23)]
"""(name, rows, row width, active rows per sample) of the reference network after one epoch."""


@njit(cache=True, fastmath=_FAST)
def dot_rows(W, rows, d, out, reps):
    """``out[j] = W[j] . d`` for the listed rows, ``reps`` times (the backpropagation read)."""
    n = rows.size
    nz = W.shape[1]
    for _ in range(reps):
        a = 0
        while a + 4 <= n:
            w0, w1, w2, w3 = W[rows[a]], W[rows[a + 1]], W[rows[a + 2]], W[rows[a + 3]]
            g0 = w0[0] - w0[0]
            g1, g2, g3 = g0, g0, g0
            for k in range(nz):
                g0 += w0[k] * d[k]
                g1 += w1[k] * d[k]
                g2 += w2[k] * d[k]
                g3 += w3[k] * d[k]
            out[rows[a]], out[rows[a + 1]], out[rows[a + 2]], out[rows[a + 3]] = g0, g1, g2, g3
            a += 4


@njit(cache=True, fastmath=_FAST)
def update_rows(W, rows, u, d, reps):
    """``W[j] -= u[j] * d`` for the listed rows, ``reps`` times (the SGD update)."""
    n = rows.size
    nz = W.shape[1]
    for _ in range(reps):
        a = 0
        while a + 4 <= n:
            j0, j1, j2, j3 = rows[a], rows[a + 1], rows[a + 2], rows[a + 3]
            w0, w1, w2, w3 = W[j0], W[j1], W[j2], W[j3]
            u0, u1, u2, u3 = u[j0], u[j1], u[j2], u[j3]
            for k in range(nz):
                w0[k] -= u0 * d[k]
                w1[k] -= u1 * d[k]
                w2[k] -= u2 * d[k]
                w3[k] -= u3 * d[k]
            a += 4


def best_of(fn, *args, rounds=5):
    fn(*args[:-1], 10)  # compile or load, warm the caches
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=60_000, help="repetitions, one per sample (default 60000)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'layer':5s} {'rows x width':>13s} {'active':>6s} {'operation':>9s} {'ns/row':>7s} {'GB/s':>6s} "
          f"{'s/epoch':>8s}")
    for name, n_rows, width, active in SHAPES:
        W = (rng.standard_normal((n_rows, width)) * 0.01).astype(np.float32)
        rows = np.sort(rng.choice(n_rows, active - active % 4, replace=False)).astype(np.uint64)
        d = (rng.standard_normal(width) * 1e-3).astype(np.float32)
        u = (rng.random(n_rows) * 1e-4).astype(np.float32)
        out = np.zeros(n_rows, np.float32)
        for label, fn, fargs, moved in (("read", dot_rows, (W, rows, d, out), 1),
                                        ("update", update_rows, (W, rows, u, d), 2)):
            seconds = best_of(fn, *fargs, args.reps)
            per_row = seconds / (args.reps * rows.size)
            gbs = moved * width * 4 / per_row / 1e9
            epoch = per_row * active * 60_000
            print(f"{name:5s} {n_rows:>6d} x {width:<4d} {active:>6d} {label:>9s} {per_row * 1e9:7.1f} {gbs:6.1f} "
                  f"{epoch:8.3f}")


if __name__ == "__main__":
    main()
