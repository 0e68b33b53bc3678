"""How steady this machine's cores are: one fixed compute-bound loop, timed again and again on each core.

Run:  python bench/host_speed.py [--rounds 12] [--iterations 200000000]

The loop is a chain of dependent multiply-adds on one float: no memory traffic, the same
work every time, so on a dedicated core every run takes the same time. Pinned to one core
after the other (``os.sched_setaffinity``), alternating, it prints each run's seconds and,
per core, the fastest, the median and the slowest. On a shared virtual machine, where a
virtual core may share a physical one with a neighbour's work, the spread shows how much a
one-thread timing can move for reasons outside the process; speed-ups of ``n_threads=2``
(``bench/threads.py``) are only as precise as this.
"""
import argparse
import os
import statistics
import time

from numba import njit


@njit(cache=True)
def dependent_chain(n):
    s = 0.0
    for i in range(n):
        s = s * 0.9999999 + i
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--iterations", type=int, default=200_000_000)
    args = ap.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    dependent_chain(10)
    times = {c: [] for c in cores}
    for _ in range(args.rounds):
        for c in cores:
            os.sched_setaffinity(0, {c})
            t = time.perf_counter()
            dependent_chain(args.iterations)
            times[c].append(time.perf_counter() - t)
    os.sched_setaffinity(0, set(cores))
    for c in cores:
        ts = times[c]
        print(f"core {c}: " + " ".join(f"{t:.3f}" for t in ts))
        print(f"        fastest {min(ts):.3f} s, median {statistics.median(ts):.3f} s, slowest {max(ts):.3f} s "
              f"({max(ts) / min(ts):.2f}x the fastest)")


if __name__ == "__main__":
    main()
