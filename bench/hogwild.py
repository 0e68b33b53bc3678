"""Hogwild! speed-up and accuracy: per-sample SGD on 1 thread against 2 (issue 9).

Run:  FASTNN_DATA=../shared/mnist python bench/hogwild.py [--epochs 5]

For the reference network (784-128-64-10) and a wide one (784-800-10): 5 epochs of
per-sample SGD (lr 0.02/(1+epoch), seed 0) on 1 and on 2 threads, alternating, and the
median epoch time, the speed-up and the test accuracy after the last epoch.
"""
import argparse
import statistics

import numba

import fastnn
from fastnn.datasets import load_mnist


def run(layers, threads, epochs, data):
    (X, y), (Xt, yt) = data
    params, history = fastnn.train(fastnn.init_params(layers, seed=0), X, y, epochs=epochs,
                                   lr=lambda e: 0.02 / (1 + e), seed=0, n_threads=threads)
    return statistics.median(history["seconds"]), fastnn.accuracy(params, Xt, yt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    data = load_mnist()
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    print(f"| network | 1 thread: s/epoch | {threads} threads: s/epoch | speed-up | "
          f"accuracy, 1 thread | accuracy, {threads} threads |")
    print("|---|---:|---:|---:|---:|---:|")
    for layers in ([784, 128, 64, 10], [784, 800, 10]):
        run(layers, threads, 1, ((data[0][0][:100], data[0][1][:100]), data[1]))  # compile both kernels
        one = run(layers, 1, args.epochs, data)
        many = run(layers, threads, args.epochs, data)
        print(f"| {'-'.join(map(str, layers))} | {one[0]:.3f} | {many[0]:.3f} | {one[0] / many[0]:.2f}x | "
              f"{100 * one[1]:.2f}% | {100 * many[1]:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
