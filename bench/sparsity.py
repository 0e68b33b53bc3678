"""How sparse the reference workload is: the rows of each weight matrix one sample touches.

    FASTNN_DATA=../shared/mnist python bench/sparsity.py [--epochs 1] [--samples 5000]

The fused kernel reads and writes only the rows of ``W`` behind non-zero inputs (pixels
for ``W1``, active ReLU units after), so these counts are the work per sample. Prints,
before training and after ``--epochs`` of the reference workload, the mean number of
non-zero entries of each layer's input over the first ``--samples`` training images, and
writes them to ``--results`` (default ``bench/results/sparsity.json``; ``''`` for none).
"""
import argparse
import shlex
import sys

import numpy as np

import peers
import results_io
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
    ap.add_argument("--results", default=str(results_io.RESULTS_DIR / "sparsity.json"),
                    help="JSON file for the table and its provenance (default %(default)s; '' for none)")
    args = ap.parse_args(argv)
    machine_info = results_io.machine()
    (X, y), _ = peers.load_mnist_arrays()
    w = peers.make_workload(X, y)
    sizes = layer_sizes_of(check_params(w.params))
    trained, _ = train(w.params, w.X, w.y, epochs=args.epochs, lr=w.lr, seed=w.seed)
    sample = w.X[: args.samples]
    print(f"layers {'-'.join(map(str, sizes))}; mean non-zero inputs per layer over {len(sample):,} images")
    rows = []
    for label, params in (("initial weights", w.params), (f"after {args.epochs} epoch(s)", trained)):
        counts = active_inputs(params, sample)
        print(f"{label:18s} " + "  ".join(f"layer {l + 1}: {c:6.1f} of {sizes[l]}" for l, c in enumerate(counts)))
        rows.append([label] + [f"{c:.1f} of {sizes[l]}" for l, c in enumerate(counts)])
    if args.results:
        command = "python bench/sparsity.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        title = (f"Mean non-zero inputs of each layer per sample (the weight rows the kernel touches), "
                 f"{'-'.join(map(str, sizes))}, over the first {len(sample):,} training images")
        columns = ["weights"] + [f"layer {l + 1} ({'pixels' if l == 0 else 'active units'})" for l in range(len(counts))]
        path = results_io.write_results(args.results, benchmark="sparsity", command=command.strip(),
                                        tables=[{"title": title, "columns": columns, "rows": rows}],
                                        notes="Counts, not timings: the machine's load does not change them.",
                                        machine_info=machine_info)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
