"""Peak memory of training and predicting on a large sparse input: it must follow the non-zeros.

Run:  python bench/sparse_memory.py [--rows 200000] [--features 1048576] [--nnz 30] [--hidden 256]
                                     [--threads 1] [--phases predict,train,init_params]

The workload of issue 29: 200,000 rows x 2^20 features with 30 non-zeros a row (CSR,
float32, each row scaled to unit length as a tf-idf row is), 10 classes, a hidden layer of
256 units, so ``W1`` alone is 2^20 x 256 float32 = 1 GiB; densified, X would take 780 GiB.

Each phase runs in a fresh Python process, which measures its own peak resident set size
with ``resource.getrusage`` (``ru_maxrss``; on Linux the process image's own ``VmHWM``
when lower, see :func:`peak_rss`). A process first imports fastnn and runs the
phase once on a tiny input (so the compiled code and its compiler are in memory), reads its
resident size (the baseline), then builds the CSR arrays and the params in blocks (no
temporary larger than a block) and runs the phase:

- ``predict``: ``fastnn.predict`` over all rows;
- ``train``: one epoch of per-sample SGD (``fastnn.train``, lr 0.01, ``--threads``) through
  the compiled kernels' CSR rows;
- ``init_params``: ``fastnn.init_params`` of the same layers, for comparison (not part of
  the budget checks: it is not training or prediction).

The budget of a phase is what the issue allows: the baseline, the CSR arrays, the params
(``PARAMS_COPIES`` copies when training), per-thread work arrays, arrays of one entry per
sample (labels, targets, the sample order, per-step rates), and ``SLACK`` for the
allocator. Nothing of size rows x features fits in it. Results go to
``bench/results/sparse_memory.json`` (with the command, versions, CPU, date and load) and a
table is printed; the exit status is 1 when a phase that ran exceeded its budget.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: the shared results helpers
from results_io import cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sparse_memory.json"

MiB = 1 << 20
SLACK = 64 * MiB
"""Allocator and interpreter slack on top of the counted arrays: freed blocks not yet returned
to the system, small objects, the tiny warm-up's leftovers."""

PARAMS_COPIES = 3
"""Copies of the params that plain ``train`` (no callback, no early stopping) may hold at once:
the caller's (``train`` never modifies them), the private buffer the kernel updates in place
(the returned params are views of it), and the last completed epoch's, which a
DivergenceError hands back. A callback or early stopping adds a copy of its own (a snapshot the
caller may keep, the best epoch's params); this benchmark uses neither."""

BLOCK_ROWS = 10_000
"""Rows generated at a time, so building the input adds no temporary beyond a block."""


# -- the child process ---------------------------------------------------------------------------


def _status(field):
    """A size field of /proc/self/status in bytes (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def rss_now():
    """The current resident set size in bytes (Linux), or None elsewhere."""
    return _status("VmRSS")


def peak_rss():
    """This process's peak resident set size in bytes.

    ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, except where Linux's own count of this
    process image's peak (``VmHWM``) is lower: Linux carries the parent's peak over a fork
    and exec into the child's ``ru_maxrss``, so a child started by a large process (pytest
    holding MNIST) would report its parent's size, while ``VmHWM`` starts afresh at exec.
    """
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB, macOS bytes
    hwm = _status("VmHWM")
    return peak if hwm is None else min(peak, hwm)


def make_csr(n_rows, n_features, nnz, seed=0, dtype="float32"):
    """A canonical CSR matrix (sorted, unique columns; rows of unit length) and labels, built in blocks."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    index_dtype = np.int32 if n_features < 2**31 else np.int64
    indices = np.empty(n_rows * nnz, index_dtype)
    data = np.empty(n_rows * nnz, dtype)
    for start in range(0, n_rows, BLOCK_ROWS):
        b = min(BLOCK_ROWS, n_rows - start)
        cols = np.sort(rng.integers(0, n_features, (b, nnz)), axis=1)
        repeated = np.flatnonzero((np.diff(cols, axis=1) == 0).any(axis=1))
        while len(repeated):  # draw again the few rows that hit a column twice
            cols[repeated] = np.sort(rng.integers(0, n_features, (len(repeated), nnz)), axis=1)
            repeated = repeated[(np.diff(cols[repeated], axis=1) == 0).any(axis=1)]
        values = rng.random((b, nnz)) + 0.1
        values /= np.linalg.norm(values, axis=1, keepdims=True)
        indices[start * nnz : (start + b) * nnz] = cols.ravel()
        data[start * nnz : (start + b) * nnz] = values.ravel()
    indptr = np.arange(0, n_rows * nnz + 1, nnz, dtype=index_dtype)
    X = sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_features), copy=False)
    y = rng.integers(0, 10, n_rows)
    return X, y


def make_params(sizes, seed=0, dtype="float32"):
    """He-initialised params filled a block of rows at a time in ``dtype`` (no float64 temporary of W1's size)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    params = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        W = np.empty((fan_in, fan_out), dtype)
        for start in range(0, fan_in, 65536):
            block = W[start : start + 65536]
            rng.standard_normal(out=block, dtype=block.dtype)
            block *= np.sqrt(2.0 / fan_in)
        params[f"W{l}"], params[f"b{l}"] = W, np.zeros(fan_out, dtype)
    return params


def child(phase, rows, features, nnz, hidden, threads):
    """Run one phase in this process; return its measurements as a dict."""
    import numpy as np

    import fastnn

    sizes = [features, hidden, 10]
    out = {"phase": phase}
    small_X, small_y = make_csr(64, features, nnz, seed=1)
    small = make_params([features, 4, 10], seed=1)
    if phase == "train":
        fastnn.train(small, small_X, small_y, epochs=1, lr=0.01, seed=0, n_threads=threads)  # compile now
    elif phase == "predict":
        fastnn.predict(small, small_X)
    del small, small_X, small_y
    out["baseline_rss"] = rss_now()
    out["baseline_peak"] = peak_rss()
    if phase == "init_params":
        t = time.perf_counter()
        params = fastnn.init_params(sizes, seed=0)
        out["seconds"] = time.perf_counter() - t
        out["params_bytes"] = sum(a.nbytes for a in params.values())
        out["peak_rss"] = peak_rss()
        return out
    X, y = make_csr(rows, features, nnz)
    params = make_params(sizes)
    out["csr_bytes"] = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    out["nnz"] = int(X.nnz)
    out["params_bytes"] = sum(a.nbytes for a in params.values())
    out["setup_rss"] = rss_now()
    t = time.perf_counter()
    if phase == "predict":
        labels = fastnn.predict(params, X)
        out["predicted_rows"] = int(len(labels))
    else:
        trained, history = fastnn.train(params, X, y, epochs=1, lr=0.01, seed=0, n_threads=threads)
        out["loss"] = history["loss"][-1]
        out["trained_rows"] = rows
        del trained
    out["seconds"] = time.perf_counter() - t
    out["peak_rss"] = peak_rss()
    return out


# -- the parent: budgets, results, table -------------------------------------------------------


def budget(result, rows, hidden, threads, classes=10):
    """The bytes a phase may use at its peak, and what they are for."""
    if "csr_bytes" not in result:
        return None, {}
    itemsize = 4
    parts = {"baseline": result["baseline_rss"], "csr": result["csr_bytes"], "slack": SLACK}
    if result["phase"] == "predict":
        from fastnn.network import PREDICT_CHUNK

        parts["params"] = result["params_bytes"]
        parts["per_sample"] = rows * 8  # the predicted labels
        # a chunk's layer outputs (Z, H, the output), and the input check's temporaries: one bool per
        # non-zero (the explicit-zeros test) and one entry per row (indptr's differences)
        parts["work"] = 3 * PREDICT_CHUNK * max(hidden, classes) * itemsize + result["nnz"] + (rows + 1) * 8
    else:
        widest = result["features"]
        parts["params"] = PARAMS_COPIES * result["params_bytes"]
        parts["per_sample"] = rows * (classes * itemsize + 8 + 8 + itemsize + 8)  # targets, order, rates, labels
        # per thread: a few rows as wide as the widest layer (outputs, masks, deltas, active lists) and,
        # when the threads split the first layer's units, their share of W1's columns
        parts["work"] = threads * 5 * 3 * widest * 8 + (result["w1_bytes"] if threads > 1 else 0)
    return sum(parts.values()), parts


def run_child(phase, args):
    cmd = [sys.executable, __file__, "--child", phase, "--rows", str(args.rows), "--features", str(args.features),
           "--nnz", str(args.nnz), "--hidden", str(args.hidden), "--threads", str(args.threads)]
    env = dict(os.environ, NUMBA_NUM_THREADS=str(max(2, args.threads)))
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        return {"phase": phase, "error": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else
                f"exit status {run.returncode}"}
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result.update(features=args.features, w1_bytes=args.features * args.hidden * 4)
    return result


def versions():
    import numba
    import numpy
    import scipy

    import fastnn

    return {"fastnn": fastnn.__version__, "numpy": numpy.__version__, "numba": numba.__version__,
            "scipy": scipy.__version__, "python": platform.python_version()}


def measure(rows=200_000, features=2**20, nnz=30, hidden=256, threads=1, phases=("predict", "train", "init_params")):
    """Run every phase in a child process; return the results dict (what the JSON file holds)."""
    args = argparse.Namespace(rows=rows, features=features, nnz=nnz, hidden=hidden, threads=threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    results = []
    for phase in phases:
        r = run_child(phase, args)
        if "peak_rss" in r and phase != "init_params":
            total, parts = budget(r, rows, hidden, threads)
            r["budget"], r["budget_parts"], r["within_budget"] = total, parts, r["peak_rss"] <= total
            r["params_copies_seen"] = (r["peak_rss"] - r["baseline_rss"] - r["csr_bytes"]) / r["params_bytes"]
        results.append(r)
    return {"benchmark": "sparse_memory", "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "workload": {"rows": rows, "features": features, "nnz_per_row": nnz, "hidden": hidden, "classes": 10,
                         "dtype": "float32", "threads": threads, "dense_X_bytes": rows * features * 4},
            "params_copies_allowed": PARAMS_COPIES, "slack_bytes": SLACK,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu": cpu_model(), "cores": os.cpu_count(), "load_before": load,
            "load_after": os.getloadavg() if hasattr(os, "getloadavg") else None, "versions": versions(),
            "results": results}


def table(report):
    lines = [f"{'phase':<12} {'baseline':>9} {'setup':>9} {'peak':>9} {'budget':>9} {'params':>7} {'seconds':>8}  ok",
             "-" * 72]
    for r in report["results"]:
        if "skipped" in r or "error" in r:
            lines.append(f"{r['phase']:<12} {'skipped: ' + r['skipped'] if 'skipped' in r else 'error: ' + r['error']}")
            continue
        mib = lambda key: f"{r[key] / MiB:8.0f}M" if r.get(key) is not None else f"{'-':>9}"  # noqa: E731
        copies = f"{r['params_copies_seen']:6.2f}x" if "params_copies_seen" in r else f"{'-':>7}"
        ok = {True: "yes", False: "NO"}.get(r.get("within_budget"), "-")
        lines.append(f"{r['phase']:<12} {mib('baseline_rss')} {mib('setup_rss')} {mib('peak_rss')} {mib('budget')} "
                     f"{copies} {r['seconds']:8.2f}  {ok}")
    w = report["workload"]
    lines.append(f"{w['rows']:,} rows x {w['features']:,} features, {w['nnz_per_row']} non-zeros a row, hidden "
                 f"{w['hidden']}; dense X would be {w['dense_X_bytes'] / 2**30:,.0f} GiB. 'params': (peak - baseline - "
                 f"CSR) / params bytes (at most {report['params_copies_allowed']} copies when training).")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=2**20)
    parser.add_argument("--nnz", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--phases", default="predict,train,init_params")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.features, args.nnz, args.hidden, args.threads)))
        return 0
    report = measure(args.rows, args.features, args.nnz, args.hidden, args.threads, tuple(args.phases.split(",")))
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 1 if any(r.get("within_budget") is False or "error" in r for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
