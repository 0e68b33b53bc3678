"""Multi-core per-sample SGD: speed-up and accuracy of ``train(..., n_threads=2)`` against one thread.

Run:  FASTNN_DATA=../shared/mnist python bench/threads.py [--epochs 5] [--seeds 3] [--lr 0.02] [--split-from 256]
                                                       [--round-size 256] [--merge-warmup 60000]

For the reference network (784-128-64-10) and a wide one (784-800-10): ``--epochs`` epochs
of per-sample SGD (lr 0.02/(1+epoch)) on 1 and on 2 threads for each of ``--seeds`` seeds,
the two alternating, and the median epoch time over all runs, the speed-up and the test
accuracy after the last epoch (mean over the seeds: one seed's accuracy varies by about
0.1 point, as much as the difference being measured).

The column "independent pair" is the host's ceiling at the time: two independent
one-thread ``train`` calls, each on half of the samples with its own parameters (no merges,
nothing shared), run side by side on two threads against one after the other, alternated
with the rest. On a shared virtual machine this moves with the neighbours' load; a speed-up
is only meaningful next to it.

The last two columns measure the same two speed-ups with every contender seeing the same
moment of the host: each epoch's samples go in pieces of ``--piece`` samples, and every
piece is trained by one thread, by two threads, and by two independent one-thread runs on
its halves side by side, in turn (each on parameters of its own, the order rotating from
piece to piece). One thread's epoch time over two threads' is the speed-up, over the
side-by-side pair's the ceiling; the median over ``--epochs`` epochs. Whole runs one after
the other (the columns before) can land in different phases of a host whose speed moves
by a third within minutes.

``--split-from`` sets ``fastnn.per_sample.SPLIT_FROM``, the first hidden layer's width from which
the threads split its units rather than train replicas: 1 splits every network, a huge
value trains replicas for every network. ``--round-size`` and ``--merge-warmup`` set
``fastnn.per_sample.ROUND`` and ``MERGE_WARMUP`` for the replicas. Check ``uptime`` first: the
two threads need both cores.
"""
import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import fastnn
from fastnn import per_sample
from fastnn.datasets import load_mnist
from fastnn.packing import KernelOptions, pack
from fastnn.validation import check_params, one_hot


def run(layers, threads, epochs, data, seed=0, lr=0.02):
    (X, y), (Xt, yt) = data
    params, history = fastnn.train(fastnn.init_params(layers, seed=seed), X, y, epochs=epochs,
                                   lr=lambda e: lr / (1 + e), seed=seed, n_threads=threads)
    return history["seconds"], fastnn.accuracy(params, Xt, yt)


def independent_pair(layers, data):
    """Seconds for two one-thread trainings on the two halves of the data: (one after the other, side by side)."""
    (X, y), _ = data
    half = len(X) // 2
    jobs = [(fastnn.init_params(layers, seed=s), X[lo:lo + half], y[lo:lo + half]) for s, lo in ((0, 0), (1, half))]

    def one(job):
        fastnn.train(*job, epochs=1, lr=0.01, seed=0)

    t = time.perf_counter()
    for job in jobs:
        one(job)
    serial = time.perf_counter() - t
    with ThreadPoolExecutor(2) as pool:
        t = time.perf_counter()
        list(pool.map(one, jobs))
        side_by_side = time.perf_counter() - t
    return serial, side_by_side


def interleaved(layers, data, epochs, piece, lr=0.02):
    """Median over epochs of (speed-up of two threads, speed-up of an independent pair), every
    piece of an epoch trained by each contender in turn (see the module's docstring)."""
    (X, y), _ = data
    T = one_hot(y, 10, "float32")
    L = len(layers) - 1
    opts = KernelOptions(0, 4, 0, 0.0, np.ones(L), 0, 0, np.zeros(0))  # relu, softmax, cross-entropy, plain SGD

    def runner(n_threads, seed):
        net = pack(check_params(fastnn.init_params(layers, seed=seed)))
        path = "rows" if n_threads == 1 else "split" if per_sample.splits_units(net.sizes) else "replicas"
        r = per_sample.PerSampleEngine(net, T, opts, path, n_threads)
        r.epoch(X, np.arange(64), np.full(64, lr, np.float32), 0, np.inf)  # compiled or loaded before timing
        return r

    one, two, left, right = runner(1, 0), runner(2, 0), runner(1, 1), runner(1, 2)
    pool = ThreadPoolExecutor(1)

    def pair(part, rates, step0):  # two independent one-thread runs, one on each half, side by side
        h = len(part) // 2
        other = pool.submit(right.epoch, X, part[h:], rates[h:], step0 + h, np.inf)
        left.epoch(X, part[:h], rates[:h], step0, np.inf)
        other.result()

    contenders = {"one": lambda *a: one.epoch(X, *a, np.inf), "two": lambda *a: two.epoch(X, *a, np.inf),
                  "pair": pair}
    names = list(contenders)
    rng = np.random.default_rng(0)
    speedups, ceilings = [], []
    try:
        for e in range(epochs):
            order = rng.permutation(len(X))
            rates = np.full(len(X), lr / (1 + e), np.float32)
            took = dict.fromkeys(names, 0.0)
            for i, a in enumerate(range(0, len(X), piece)):
                for name in names[i % 3:] + names[: i % 3]:
                    t = time.perf_counter()
                    contenders[name](order[a : a + piece], rates[a : a + piece], a)
                    took[name] += time.perf_counter() - t
            speedups.append(took["one"] / took["two"])
            ceilings.append(took["one"] / took["pair"])
    finally:
        pool.shutdown()
        for r in (one, two, left, right):
            r.close()
    return statistics.median(speedups), statistics.median(ceilings)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--layers", default="784-128-64-10,784-800-10")
    ap.add_argument("--split-from", type=int, default=per_sample.SPLIT_FROM)
    ap.add_argument("--round-size", type=int, default=per_sample.ROUND, help="samples per thread between merges (replicas)")
    ap.add_argument("--merge-warmup", type=float, default=per_sample.MERGE_WARMUP,
                    help="samples over which a merge goes from the mean to the sum (replicas)")
    ap.add_argument("--lr", type=float, default=0.02, help="rate of the first epoch, then lr/(1+epoch)")
    ap.add_argument("--piece", type=int, default=6000, help="samples per piece in the alternated columns")
    args = ap.parse_args()
    per_sample.SPLIT_FROM, per_sample.ROUND, per_sample.MERGE_WARMUP = args.split_from, args.round_size, args.merge_warmup
    data = load_mnist()
    print(f"SPLIT_FROM = {per_sample.SPLIT_FROM}, ROUND = {per_sample.ROUND}, MERGE_WARMUP = {per_sample.MERGE_WARMUP:g}, {args.epochs} epochs, lr {args.lr:g}/(1+epoch), seeds 0-{args.seeds - 1}")
    print("| network | 1 thread: s/epoch | 2 threads: s/epoch | speed-up | test accuracy, 1 thread | 2 threads "
          "| difference (2 - 1), per seed | independent pair: speed-up | alternated pieces: speed-up | "
          "alternated pieces: independent pair |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for spec in args.layers.split(","):
        layers = [int(n) for n in spec.split("-")]
        run(layers, 2, 1, ((data[0][0][:100], data[0][1][:100]), data[1]))  # compile or load the kernels
        seconds, accuracy, pair = {1: [], 2: []}, {1: [], 2: []}, []
        for seed in range(args.seeds):
            for threads in ((1, 2) if seed % 2 == 0 else (2, 1)):
                s, acc = run(layers, threads, args.epochs, data, seed, args.lr)
                seconds[threads] += s
                accuracy[threads].append(100 * acc)
            serial, side_by_side = independent_pair(layers, data)
            pair.append(serial / side_by_side)
        one, two = statistics.median(seconds[1]), statistics.median(seconds[2])
        diffs = ", ".join(f"{b - a:+.2f}" for a, b in zip(accuracy[1], accuracy[2]))
        speedup, ceiling = interleaved(layers, data, args.epochs, args.piece, args.lr)
        print(f"| {spec} | {one:.3f} | {two:.3f} | {one / two:.2f}x | {statistics.mean(accuracy[1]):.2f}% | "
              f"{statistics.mean(accuracy[2]):.2f}% | {diffs} | {statistics.median(pair):.2f}x | {speedup:.2f}x | "
              f"{ceiling:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
