"""Multi-core per-sample SGD: speed-up and accuracy of ``train(..., n_threads=2)`` against one thread.

Run:  FASTNN_DATA=../shared/mnist python bench/threads.py [--epochs 5] [--rounds 2] [--round-size 2048]

For the reference network (784-128-64-10) and a wide one (784-800-10): ``--epochs`` epochs
of per-sample SGD (lr 0.02/(1+epoch), seed 0) on 1 and on 2 threads, the two alternating
within each round, and the median epoch time over all rounds, the speed-up and the test
accuracy after the last epoch. ``--round-size`` sets ``fastnn.online.ROUND``, the samples
each thread trains on its replica between two merges. Check ``uptime`` first: the two
threads need both cores.
"""
import argparse
import statistics

import fastnn
from fastnn import online
from fastnn.datasets import load_mnist


def run(layers, threads, epochs, data):
    (X, y), (Xt, yt) = data
    params, history = fastnn.train(fastnn.init_params(layers, seed=0), X, y, epochs=epochs,
                                   lr=lambda e: 0.02 / (1 + e), seed=0, n_threads=threads)
    return history["seconds"], fastnn.accuracy(params, Xt, yt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--round-size", type=int, default=online.ROUND)
    ap.add_argument("--layers", default="784-128-64-10,784-800-10")
    args = ap.parse_args()
    online.ROUND = args.round_size
    data = load_mnist()
    print(f"ROUND = {online.ROUND} samples per thread between merges, {args.epochs} epochs, {args.rounds} rounds")
    print("| network | 1 thread: s/epoch | 2 threads: s/epoch | speed-up | test accuracy, 1 thread | 2 threads |")
    print("|---|---:|---:|---:|---:|---:|")
    for spec in args.layers.split(","):
        layers = [int(n) for n in spec.split("-")]
        run(layers, 2, 1, ((data[0][0][:100], data[0][1][:100]), data[1]))  # compile or load the kernels
        seconds, accuracy = {1: [], 2: []}, {}
        for r in range(args.rounds):
            for threads in ((1, 2) if r % 2 == 0 else (2, 1)):
                s, accuracy[threads] = run(layers, threads, args.epochs, data)
                seconds[threads] += s
        one, two = statistics.median(seconds[1]), statistics.median(seconds[2])
        print(f"| {spec} | {one:.3f} | {two:.3f} | {one / two:.2f}x | {100 * accuracy[1]:.2f}% | "
              f"{100 * accuracy[2]:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
