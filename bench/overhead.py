"""What a call of ``fastnn.train`` costs besides its training, measured in one run (issue 28, point 5).

Run on an idle machine (``uptime`` first):

    FASTNN_DATA=../shared/mnist python bench/overhead.py [--repeats 15] [--out bench/results/overhead.json]

Three comparisons on MNIST (784-128-64-10, float32, ReLU, softmax cross-entropy, per-sample
SGD, lr 0.01), each pair of contenders alternated within one process after every kernel was
compiled or loaded, medians over the repeats:

- ``train_1k``: ``train`` on 1,000 rows (one epoch) against the bare compiled call
  (``kernels.steps.sgd_steps`` on pre-packed params, the same rows and order). The goal is a
  ratio of at most 1.3. The part of ``train``'s time outside its epoch (checks, the initial
  loss, packing, the engine) is reported beside it.
- ``chunks_60x1k``: 60 ``train`` calls of 1,000 rows each, every call continuing from the
  last one's params (what ``partial_fit`` on chunks does), against one ``train`` epoch over
  the same 60,000 rows. The goal is at most 1.3.
- ``estimator_chunks``: the same for ``fastnn.sklearn.MLPClassifier`` with its defaults
  (784-100-10, per-sample SGD, one thread; ``random_state`` fixed): 60 ``partial_fit`` calls of
  1,000 rows (``classes`` given on the first) against one epoch over the 60,000 rows, timed
  three ways: ``fit`` with ``max_iter=1`` (the whole call: checks, input scaling, the rows'
  canonical order, a fresh init); the marginal epoch of ``fit`` (``max_iter=2`` less
  ``max_iter=1``, both ``tol=0``); and one ``partial_fit`` over the 60,000 rows on a fitted
  estimator (the chunks' own code path). The goal, at most 1.3, is judged against the smallest.
- ``threads_first_epoch``: ``train(..., epochs=4, n_threads=2)`` (784-128-64-10 on 60,000
  rows: replicas; 784-800-10 on 20,000 rows: split units): the first epoch's time against
  the median of the later ones, and the same for one thread. The goal is a ratio near 1.
- ``threads_scored_loop``: a ``partial_fit`` loop on two threads (``MLPClassifier``, 256
  hidden units: split units; one call per epoch over the 60,000 rows) with, between its
  calls, nothing; the estimator's ``score`` on the 10,000 test rows; or a NumPy product
  (the test rows times ``W1``) on BLAS's own threads, as any caller's code may do. The three
  loops' epochs alternate. Then the CPU time the process burns in the 0.5 s after each of
  those three while its own thread sleeps: BLAS's helper threads spinning, which would take a
  core from the next call's training threads. The goal: with ``score``, an epoch ratio near 1
  to nothing between, and no CPU burned.

The figures, with the command, version, CPU, date and load averages before and after, go to
``--out`` (JSON). Timings are comparable only within one run.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

import fastnn
from fastnn.kernels import steps
from fastnn.packing import pack
from fastnn.per_sample import kernel_options, kernel_work
from fastnn.optim import get_optimizer
from fastnn.validation import check_params, one_hot

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from results_io import cpu_model  # noqa: E402  (the machine as every results file names it)

LAYERS = [784, 128, 64, 10]
LR = 0.01


def load_average():
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


def bare_kernel(params, X, T):
    """``run(order) -> seconds``: ``sgd_steps`` over ``X[order]`` on a fresh packed copy of
    ``params`` (packed outside the timing, by ``pack`` as train packs them: on a cache line; the
    kernel runs markedly slower on a copy that is not, such as ``ndarray.copy`` may give, which
    would flatter train), with train's default options."""
    layers = check_params(params)
    L = len(LAYERS) - 1
    opts = kernel_options("relu", "softmax", "cross_entropy", 0.0, np.ones(L), 0, get_optimizer("sgd"))
    work = kernel_work(pack(layers).sizes, layers[0][0].dtype)

    def run(order):
        net = pack(layers)
        lrs = np.full(len(order), LR, np.float32)
        stats = np.zeros(3)
        t = time.perf_counter()
        steps.sgd_steps(net, X, T, order, lrs, opts, 0, stats, work, np.ones(L, np.float32))
        return time.perf_counter() - t

    return run


def train_1k(X, y, params, repeats):
    """``train`` on 1,000 rows against the bare kernel on the same rows, alternated."""
    X1, y1 = X[:1000], y[:1000]
    T1 = one_hot(y1, 10, "float32")
    kernel = bare_kernel(params, X1, T1)
    fastnn.train(params, X1, y1, epochs=1, lr=LR, seed=0)  # compile or load every kernel first
    kernel(np.arange(1000))
    walls, outside, bare = [], [], []
    for r in range(repeats):
        for which in ("train", "kernel") if r % 2 == 0 else ("kernel", "train"):
            if which == "train":
                t = time.perf_counter()
                _, history = fastnn.train(params, X1, y1, epochs=1, lr=LR, seed=r)
                walls.append(time.perf_counter() - t)
                outside.append(walls[-1] - history["seconds"][0])
            else:
                bare.append(kernel(np.random.default_rng(r).permutation(1000)))
    w, b = statistics.median(walls), statistics.median(bare)
    return {"train_seconds": w, "kernel_seconds": b, "ratio": w / b, "outside_epoch_seconds": statistics.median(outside),
            "goal": "ratio <= 1.3"}


def chunks_60x1k(X, y, params, repeats):
    """60 chained ``train`` calls of 1,000 rows against one epoch over the 60,000 rows, alternated."""
    n = 60 * 1000
    X, y = X[:n], y[:n]
    fastnn.train(params, X[:1000], y[:1000], epochs=1, lr=LR, seed=0)
    chunks, epochs = [], []
    for r in range(repeats):
        for which in ("chunks", "epoch") if r % 2 == 0 else ("epoch", "chunks"):
            t = time.perf_counter()
            if which == "chunks":
                p = params
                for c in range(60):
                    p, _ = fastnn.train(p, X[c * 1000 : (c + 1) * 1000], y[c * 1000 : (c + 1) * 1000], epochs=1,
                                        lr=LR, seed=r * 60 + c)
                chunks.append(time.perf_counter() - t)
            else:
                fastnn.train(params, X, y, epochs=1, lr=LR, seed=r)
                epochs.append(time.perf_counter() - t)
    c, e = statistics.median(chunks), statistics.median(epochs)
    return {"chunks_seconds": c, "epoch_seconds": e, "ratio": c / e, "goal": "ratio <= 1.3"}


def estimator_chunks(X, y, repeats):
    """60 ``MLPClassifier.partial_fit`` calls of 1,000 rows against one epoch over the 60,000 rows, alternated."""
    from fastnn.sklearn import MLPClassifier

    n, classes = 60 * 1000, np.unique(y)
    X, y = X[:n], y[:n]

    def fit(r, epochs):
        t = time.perf_counter()
        MLPClassifier(max_iter=epochs, tol=0, random_state=r).fit(X, y)
        return time.perf_counter() - t

    def chunks(r):
        t = time.perf_counter()
        model = MLPClassifier(random_state=r)
        for c in range(60):
            model.partial_fit(X[c * 1000 : (c + 1) * 1000], y[c * 1000 : (c + 1) * 1000],
                              classes=classes if c == 0 else None)
        return time.perf_counter() - t

    def one_call(r):
        model = MLPClassifier(random_state=r).partial_fit(X[:1000], y[:1000], classes=classes)
        t = time.perf_counter()
        model.partial_fit(X, y)
        return time.perf_counter() - t

    runs = {"fit1": lambda r: fit(r, 1), "fit2": lambda r: fit(r, 2), "chunks": chunks, "partial_fit_60k": one_call}
    times = {name: [] for name in runs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=1 and 2 stop fit on purpose: ConvergenceWarning
        for run in runs.values():  # compile or load every kernel first
            run(0)
        for r in range(repeats):
            names = list(runs) if r % 2 == 0 else list(runs)[::-1]
            for name in names:
                times[name].append(runs[name](r))
    m = {name: statistics.median(t) for name, t in times.items()}
    epochs = {"fit_max_iter_1_seconds": m["fit1"], "fit_marginal_epoch_seconds": m["fit2"] - m["fit1"],
              "partial_fit_60k_seconds": m["partial_fit_60k"]}
    out = {"chunks_seconds": m["chunks"], **epochs, "fit_max_iter_2_seconds": m["fit2"]}
    for name, seconds in epochs.items():
        out["ratio_to_" + name.removesuffix("_seconds")] = m["chunks"] / seconds
    out["ratio"] = m["chunks"] / min(epochs.values())
    out["goal"] = "ratio (against the smallest epoch time) <= 1.3"
    return out


def threads_first_epoch(X, y, repeats):
    """First epoch against the later ones of a 4-epoch ``train`` call, two threads and one."""
    out = {}
    for layers, rows in (([784, 128, 64, 10], 60_000), ([784, 800, 10], 20_000)):
        params = fastnn.init_params(layers, seed=0)
        Xr, yr = X[:rows], y[:rows]
        for threads in (2, 1):
            fastnn.train(params, Xr[:200], yr[:200], epochs=1, lr=LR, seed=0, n_threads=threads)  # compile first
            firsts, laters = [], []
            for r in range(repeats):
                _, history = fastnn.train(params, Xr, yr, epochs=4, lr=LR, seed=r, n_threads=threads)
                firsts.append(history["seconds"][0])
                laters.append(statistics.median(history["seconds"][1:]))
            f, later = statistics.median(firsts), statistics.median(laters)
            out[f"{'-'.join(map(str, layers))} x{rows} {threads}t"] = {
                "first_epoch_seconds": f, "later_epoch_seconds": later, "ratio": f / later, "goal": "ratio near 1"}
    return out


def threads_scored_loop(X, y, X_test, y_test, repeats):
    """Seconds per ``partial_fit`` epoch on two threads with nothing, ``score`` or a BLAS product between
    calls, and the CPU seconds the process burns in the 0.5 s after each of those (while it sleeps)."""
    from fastnn.sklearn import MLPClassifier

    between = {"nothing": lambda m: None, "score": lambda m: m.score(X_test, y_test),
               "numpy_product": lambda m: X_test @ m.params_["W1"]}
    models = {k: MLPClassifier(hidden_layer_sizes=(256,), n_threads=2, random_state=0) for k in between}
    seconds = {k: [] for k in between}
    spun = {k: [] for k in between}
    classes = np.arange(10)
    for r in range(repeats + 1):  # the first call of each compiles or loads and draws the weights: left out
        for k, before in between.items():  # each loop's action right before its own call, none before another's
            if r > 0:
                before(models[k])
            start = time.perf_counter()
            models[k].partial_fit(X, y, classes=classes)
            if r > 0:
                seconds[k].append(time.perf_counter() - start)
    for _ in range(repeats):
        for k, action in between.items():
            action(models[k])
            cpu = time.process_time()
            time.sleep(0.5)  # this thread burns nothing: any CPU time is other threads' (BLAS's spinning)
            spun[k].append(time.process_time() - cpu)
    base = statistics.median(seconds["nothing"])
    return {k: {"epoch_seconds": statistics.median(v), "ratio_to_nothing": statistics.median(v) / base,
                "cpu_seconds_in_the_next_half_second": statistics.median(spun[k]),
                **({"goal": "ratio near 1, no CPU burned"} if k == "score" else {})} for k, v in seconds.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15, help="alternated repeats of train_1k (estimator_chunks: a third; the others: a fifth)")
    ap.add_argument("--data", default=None, help="folder of the MNIST files (default: $FASTNN_DATA, ...)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "overhead.json"))
    ap.add_argument("--only", default="train_1k,chunks_60x1k,estimator_chunks,threads_first_epoch,threads_scored_loop",
                    help="comma-separated comparisons to run")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    (X, y), (X_test, y_test) = fastnn.datasets.load_mnist(args.data)
    params = fastnn.init_params(LAYERS, seed=0)
    few = max(1, args.repeats // 5)
    record = {"command": " ".join([os.path.basename(sys.executable), *sys.argv]),
              "version": fastnn.__version__, "commit": git_commit(), "cpu": cpu_model(),
              "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
              "python": platform.python_version(), "numpy": np.__version__,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "load_before": load_average(), "results": {}}
    only = set(args.only.split(","))
    if "train_1k" in only:
        record["results"]["train_1k"] = train_1k(X, y, params, args.repeats)
        print("train on 1,000 rows vs the bare kernel:", json.dumps(record["results"]["train_1k"]), flush=True)
    if "chunks_60x1k" in only:
        record["results"]["chunks_60x1k"] = chunks_60x1k(X, y, params, few)
        print("60 calls of 1,000 rows vs one epoch:", json.dumps(record["results"]["chunks_60x1k"]), flush=True)
    if "estimator_chunks" in only:
        record["results"]["estimator_chunks"] = estimator_chunks(X, y, max(1, args.repeats // 3))
        print("60 partial_fit calls of 1,000 rows vs one epoch:", json.dumps(record["results"]["estimator_chunks"]),
              flush=True)
    if "threads_first_epoch" in only:
        record["results"]["threads_first_epoch"] = threads_first_epoch(X, y, few)
        for name, r in record["results"]["threads_first_epoch"].items():
            print(f"first epoch vs later, {name}:", json.dumps(r), flush=True)
    if "threads_scored_loop" in only:
        record["results"]["threads_scored_loop"] = threads_scored_loop(X, y, X_test, y_test, few)
        for name, r in record["results"]["threads_scored_loop"].items():
            print(f"partial_fit on two threads, {name} between calls:", json.dumps(r), flush=True)
    record["load_after"] = load_average()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
