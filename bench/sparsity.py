"""How sparse the reference workload is: the rows of each weight matrix one sample touches.

    FASTNN_DATA=../shared/mnist python bench/sparsity.py [--epochs 1] [--samples 5000]

The fused kernel reads and writes only the rows of ``W`` behind non-zero inputs (pixels
for ``W1``, active ReLU units after), so these counts are the work per sample. Prints,
before training and after ``--epochs`` of the reference workload, the mean number of
non-zero entries of each layer's input over the first ``--samples`` training images.
"""
import argparse

import numpy as np

import peers
from fastnn import forward, train
from fastnn.validation import check_params, layer_sizes_of


def active_inputs(params, X):
    """Mean count of non-zero entries in the input of every layer (the rows the kernel uses)."""
    _, cache = forward(params, X)
    inputs = cache.activations[:-1]  # X, h1, ..., h_{L-1}
    return [float(np.count_nonzero(a, axis=1).mean()) for a in inputs]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=1, help="epochs of the reference workload (default 1)")
    ap.add_argument("--samples", type=int, default=5000, help="images to count over (default 5000)")
    args = ap.parse_args(argv)
    (X, y), _ = peers.load_mnist_arrays()
    w = peers.make_workload(X, y)
    sizes = layer_sizes_of(check_params(w.params))
    trained, _ = train(w.params, w.X, w.y, epochs=args.epochs, lr=w.lr, seed=w.seed)
    sample = w.X[: args.samples]
    print(f"layers {'-'.join(map(str, sizes))}; mean non-zero inputs per layer over {len(sample):,} images")
    for label, params in (("initial weights", w.params), (f"after {args.epochs} epoch(s)", trained)):
        counts = active_inputs(params, sample)
        print(f"{label:18s} " + "  ".join(f"layer {l + 1}: {c:6.1f} of {sizes[l]}" for l, c in enumerate(counts)))


if __name__ == "__main__":
    main()
