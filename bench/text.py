"""The Debian section task: fastnn against PyTorch's EmbeddingBag, scikit-learn's MLP and a linear model.

Run:  python bench/text.py [--data PATH/packages.jsonl.gz] [--epochs 3] [--contenders all]
                           [--limit N] [--sklearn-slice 2000] [--out bench/results/text.json]

The data: the 63,697 packages of Debian 12 (``packages.jsonl.gz``, see its README.md),
each turned into one text of its name's pieces, its synopsis and a ``dep:NAME`` token per
dependency, hashed by the README's vectorizer (:func:`make_vectorizer`: 2^18 features, words
and pairs of words, l2-normalised rows, about 27 non-zeros a row); the label is the archive
section (58 classes). A stratified 80/20 split with ``random_state=0``.

The contenders, all with 256 hidden units where they have any:

- ``fastnn-1t``, ``fastnn-2t``: :class:`fastnn.sklearn.MLPClassifier` with its default
  arguments except ``hidden_layer_sizes=(256,)`` (and ``n_threads``; ``random_state=0``
  fixes the seed), one :meth:`partial_fit` call per epoch. Per-sample training on CSR
  needs fastnn's compiled CSR kernel: without it they are reported skipped, with the reason.
  ``fastnn-2t-split`` (not in ``all``): ``fastnn-2t`` with its threads splitting the hidden
  units (the ``"split"`` path) where ``fastnn.per_sample.choose_path`` would pick one thread's
  row loop, to time the path that rule turns down.
- ``torch-1``, ``torch-32``, ``torch-64``, ``torch-128``: ``EmbeddingBag(2**18, 256,
  mode="sum", sparse=True)`` (the row's values as per-sample weights) + ReLU +
  ``Linear(256, 58)``, cross-entropy, plain SGD with lr 0.05, one sample per step and
  batches of 32, 64 and 128, on one thread; ``torch-32-2t``, ``torch-64-2t``,
  ``torch-128-2t``: the same batches on two threads (``torch.set_num_threads(2)``, PyTorch's
  own default on a 2-core machine), where the batched steps run faster. Several batch sizes
  and thread counts because the idiom's speed per epoch depends on them: the table's
  speed-ups include one against the fastest of them.
  Skipped when torch is not installed.
- ``sklearn-mlp``: scikit-learn's ``MLPClassifier(hidden_layer_sizes=(256,))`` (Adam,
  batches of 200). An epoch over the training set takes minutes, so its time per epoch is
  *estimated* from one timed epoch over a slice of ``--sklearn-slice`` rows (scaled by the
  training rows), and it reports no accuracy; the table says so.
- ``sgd-linear``: scikit-learn's linear ``SGDClassifier(random_state=0)``, fitted once to
  convergence: its fit time, its epochs (``n_iter_``) and its test accuracy.
- ``rows-read``: not a model but a floor. An epoch of per-sample SGD reads, for each sample,
  the first-layer rows of its non-zero features (2^18 x 256 float32: each row 1 KiB, 16 cache
  lines, at random places in 256 MiB). This reads one value of every cache line of those rows,
  sample after sample in a shuffled order, on one thread, and does nothing else: a one-thread
  per-sample epoch of this network cannot take less. The table compares it with the time a 3x
  speed-up over PyTorch's fastest batch size would leave.

Timing: the epochs of the contenders alternate (epoch 1 of each, then epoch 2 of each, the
order rotated every round), so a change in the machine's speed hits all of them alike. Each
epoch is timed alone; test accuracy is measured after every epoch, outside the timing.
Timings are meaningful only on an idle machine (``uptime`` first). Results go to
``bench/results/text.json`` with the command, versions, CPU, date and load, and a table is
printed.
"""
import argparse
import contextlib
import datetime
import gzip
import json
import os
import platform
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: the shared results helpers
from results_io import cpu_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "text.json"
N_FEATURES = 2**18
HIDDEN = 256
CONTENDERS = ("fastnn-1t", "fastnn-2t", "torch-1", "torch-32", "torch-64", "torch-128", "torch-32-2t",
              "torch-64-2t", "torch-128-2t", "sklearn-mlp", "sgd-linear", "rows-read")
EXTRA_CONTENDERS = ("fastnn-2t-split",)  # run when named, not with "all"


# -- the data ------------------------------------------------------------------------------------


def default_data_path():
    """``$FASTNN_DEBIAN`` (the file or its folder), else ``debian-packages/`` beside the MNIST folder of
    ``$FASTNN_DATA``, else ``../shared/debian-packages/`` beside the repository; the first that exists."""
    candidates = []
    if os.environ.get("FASTNN_DEBIAN"):
        candidates.append(Path(os.environ["FASTNN_DEBIAN"]))
    if os.environ.get("FASTNN_DATA"):
        candidates.append(Path(os.environ["FASTNN_DATA"]).resolve().parent / "debian-packages")
    candidates.append(REPO.parent / "shared" / "debian-packages")
    for c in candidates:
        path = c / "packages.jsonl.gz" if c.is_dir() else c
        if path.is_file():
            return path
    return None


def load_packages(path):
    """The packages of ``packages.jsonl.gz``, one dict per line."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def package_text(package):
    """One package as text: its name's pieces, its synopsis and a ``dep:NAME`` token per dependency."""
    pieces = [p for p in re.split(r"[-.+_]", package["package"]) if p]
    return " ".join([*pieces, package["description"], *(f"dep:{d}" for d in package["depends"])])


def make_vectorizer():
    """The hashing vectorizer of the data set's README."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=N_FEATURES, ngram_range=(1, 2), alternate_sign=False, norm="l2",
                             token_pattern=r"[A-Za-z0-9:+.\-]{2,}")


def stratified_slice(packages, per_class, seed=0):
    """At most ``per_class`` packages of every section, drawn at random (a small, stratifiable slice)."""
    rng = np.random.default_rng(seed)
    by_section = {}
    for i in rng.permutation(len(packages)):
        by_section.setdefault(packages[i]["section"], []).append(int(i))
    keep = sorted(i for rows in by_section.values() for i in rows[:per_class])
    return [packages[i] for i in keep]


def prepare(packages):
    """``(X_train, X_test, y_train, y_test, classes)``: hashed CSR rows, string labels, stratified 80/20."""
    from sklearn.model_selection import train_test_split

    texts = [package_text(p) for p in packages]
    labels = np.array([p["section"] for p in packages])
    X = make_vectorizer().transform(texts).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=0.2, stratify=labels, random_state=0)
    return X_train, X_test, y_train, y_test, np.unique(labels)


# -- the contenders ------------------------------------------------------------------------------


class Contender:
    """One contender: ``epoch()`` trains one more epoch and returns its seconds; ``accuracy()`` on the test set.
    ``once`` contenders (fitted in one go) instead fill ``self.record`` in ``run_once()``."""

    once = False

    def __init__(self, name, data):
        self.name, self.data = name, data
        self.record = {"name": name, "epoch_seconds": [], "test_accuracy": [], "notes": []}


class FastnnContender(Contender):
    def __init__(self, name, data, threads, split=False):
        super().__init__(name, data)
        from fastnn.sklearn import MLPClassifier

        X_train, _, y_train, _, classes = data
        self.classes, self.split = classes, split
        # compile (or load) the kernels before the first timed epoch, on a small slice of the same width
        # (a few rows per class: scikit-learn warns that y looks continuous when classes outnumber half the rows)
        warm = max(64, 4 * len(classes))
        with self._path():
            MLPClassifier(hidden_layer_sizes=(HIDDEN,), n_threads=threads, random_state=0).partial_fit(
                X_train[:warm], y_train[:warm], classes=classes)
        self.model = MLPClassifier(hidden_layer_sizes=(HIDDEN,), n_threads=threads, random_state=0)
        self.record["settings"] = {k: v for k, v in self.model.get_params().items() if k != "augment"}
        if split:
            self.record["notes"].append('the "split" path forced where choose_path picks one thread\'s row loop')

    @contextlib.contextmanager
    def _path(self):
        """With ``split``: ``train`` takes the "split" path wherever the threads could split the units."""
        if not self.split:
            yield
            return
        from fastnn import per_sample, training

        chosen = training.choose_path

        def split_path(X, rule, n_threads, sizes, density=None):
            path = chosen(X, rule, n_threads, sizes, density)
            return "split" if path == "rows" and n_threads > 1 and per_sample.splits_units(sizes) else path

        training.choose_path = split_path
        try:
            yield
        finally:
            training.choose_path = chosen

    def epoch(self):
        X_train, _, y_train, _, _ = self.data
        with self._path():
            start = time.perf_counter()
            self.model.partial_fit(X_train, y_train, classes=self.classes)
            return time.perf_counter() - start

    def accuracy(self):
        _, X_test, _, y_test, _ = self.data
        return float(self.model.score(X_test, y_test))


class TorchContender(Contender):
    def __init__(self, name, data, batch_size, threads=1, lr=0.05):
        super().__init__(name, data)
        import torch

        self.threads = threads
        torch.set_num_threads(threads)  # process-wide: every epoch and accuracy sets it again
        X_train, _, y_train, _, classes = data
        self.torch, self.batch_size = torch, batch_size
        self.model, self.optimizer = self._build(len(classes), lr)
        self.targets = torch.from_numpy(np.searchsorted(classes, y_train).astype(np.int64))
        self._step(np.arange(min(batch_size, X_train.shape[0])))  # PyTorch's first-call set-up, outside the timing
        self.model, self.optimizer = self._build(len(classes), lr)  # and a fresh model for the run
        self.rng = np.random.default_rng(0)
        self.record["settings"] = {"batch_size": batch_size, "lr": lr, "optimizer": "SGD", "threads": threads,
                                   "model": f"EmbeddingBag({N_FEATURES}, {HIDDEN}, mode='sum', sparse=True) + ReLU + "
                                            f"Linear({HIDDEN}, {len(classes)})"}

    def _build(self, n_classes, lr):
        torch = self.torch
        torch.manual_seed(0)
        model = torch.nn.ModuleDict({"embed": torch.nn.EmbeddingBag(N_FEATURES, HIDDEN, mode="sum", sparse=True),
                                     "out": torch.nn.Linear(HIDDEN, n_classes)})
        return model, torch.optim.SGD(model.parameters(), lr=lr)

    def _step(self, rows):
        torch = self.torch
        X = self.data[0][rows]
        offsets = torch.from_numpy(X.indptr[:-1].astype(np.int64))
        logits = self._logits(torch.from_numpy(X.indices.astype(np.int64)), offsets, torch.from_numpy(X.data))
        loss = torch.nn.functional.cross_entropy(logits, self.targets[torch.from_numpy(rows)])
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def _logits(self, indices, offsets, weights):
        hidden = self.torch.relu(self.model["embed"](indices, offsets, per_sample_weights=weights))
        return self.model["out"](hidden)

    def epoch(self):
        torch = self.torch
        torch.set_num_threads(self.threads)
        X_train = self.data[0]
        start = time.perf_counter()
        order = self.rng.permutation(X_train.shape[0])
        X = X_train[order]  # rows in this epoch's order; each step slices its rows' arrays
        indices = torch.from_numpy(X.indices.astype(np.int64))
        weights = torch.from_numpy(X.data)
        indptr = X.indptr.astype(np.int64)
        targets = self.targets[torch.from_numpy(order)]
        bs = self.batch_size
        for s in range(0, X.shape[0], bs):
            e = min(s + bs, X.shape[0])
            lo, hi = int(indptr[s]), int(indptr[e])
            offsets = torch.from_numpy(indptr[s:e] - lo)
            loss = torch.nn.functional.cross_entropy(self._logits(indices[lo:hi], offsets, weights[lo:hi]),
                                                     targets[s:e])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return time.perf_counter() - start

    def accuracy(self):
        torch = self.torch
        _, X_test, _, y_test, classes = self.data
        torch.set_num_threads(self.threads)
        with torch.no_grad():
            logits = self._logits(torch.from_numpy(X_test.indices.astype(np.int64)),
                                  torch.from_numpy(X_test.indptr[:-1].astype(np.int64)), torch.from_numpy(X_test.data))
        return float(np.mean(classes[logits.argmax(1).numpy()] == y_test))


class SklearnMLPContender(Contender):
    once = True

    def __init__(self, name, data, slice_rows):
        super().__init__(name, data)
        self.slice_rows = slice_rows

    def run_once(self):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        X_train, _, y_train, _, classes = self.data
        n = min(self.slice_rows, X_train.shape[0])
        model = MLPClassifier(hidden_layer_sizes=(HIDDEN,), random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(X_train[:n], y_train[:n], classes=classes)  # allocates and initialises the weights
            start = time.perf_counter()
            model.partial_fit(X_train[:n], y_train[:n])  # one more epoch over the slice, timed
            seconds = time.perf_counter() - start
        self.record["epoch_seconds"] = [seconds * X_train.shape[0] / n]
        self.record["estimated"] = True
        self.record["notes"].append(f"time per epoch estimated from one epoch over a slice of {n:,} of the "
                                    f"{X_train.shape[0]:,} training rows ({seconds:.2f} s), scaled by the rows; "
                                    "no accuracy (a full epoch takes minutes)")
        self.record["settings"] = {"hidden_layer_sizes": [HIDDEN], "solver": model.solver,
                                   "batch_size": model.batch_size, "random_state": 0}


class LinearContender(Contender):
    once = True

    def run_once(self):
        from sklearn.linear_model import SGDClassifier

        X_train, X_test, y_train, y_test, _ = self.data
        start = time.perf_counter()
        model = SGDClassifier(random_state=0).fit(X_train, y_train)
        seconds = time.perf_counter() - start
        self.record.update(fit_seconds=seconds, epochs=int(model.n_iter_),
                           epoch_seconds=[seconds / max(1, int(model.n_iter_))],
                           test_accuracy=[float(model.score(X_test, y_test))])
        self.record["notes"].append(f"fitted once to convergence: {seconds:.2f} s over {int(model.n_iter_)} epochs "
                                    "(time per epoch: their mean); accuracy at the end")
        self.record["settings"] = {"model": "SGDClassifier(random_state=0)"}


class RowsReadContender(Contender):
    """The memory floor of a one-thread per-sample epoch: every cache line of the first-layer rows each sample
    touches."""

    def __init__(self, name, data):
        super().__init__(name, data)
        X_train = data[0]
        rng = np.random.default_rng(0)
        # as the estimator's first layer: float32, written once, so its pages are in memory before timing
        self.W = rng.standard_normal((X_train.shape[1], HIDDEN), dtype=np.float32)
        self.rng = rng
        self.sink = 0.0
        read_rows(X_train.indptr, X_train.indices, np.arange(8), self.W)  # compile before timing
        self.record["settings"] = {"first_layer": [X_train.shape[1], HIDDEN], "dtype": "float32"}
        self.record["notes"].append("reads one float of every 64-byte line of each first-layer row a sample "
                                    "touches, in a shuffled order, on one thread, and nothing else: the floor of a "
                                    "one-thread per-sample epoch; no accuracy")

    def epoch(self):
        X_train = self.data[0]
        order = self.rng.permutation(X_train.shape[0])
        start = time.perf_counter()
        self.sink += read_rows(X_train.indptr, X_train.indices, order, self.W)
        return time.perf_counter() - start

    def accuracy(self):
        return None  # not a model: no test_accuracy is recorded


# Not cached: this file also runs as a module loaded by its path (the tests), under a name that a
# cache entry written by the script would not find.
@njit(nogil=True)
def read_rows(indptr, indices, order, W):
    """The sum of the first float of every cache line of the rows of ``W`` that the CSR rows ``order`` touch."""
    total = 0.0
    for i in order:
        for a in range(indptr[i], indptr[i + 1]):
            row = W[indices[a]]
            for k in range(0, row.size, 16):  # 16 floats to a 64-byte line
                total += row[k]
    return total


def make_contenders(names, data, sklearn_slice):
    """The contenders to run, and a record for each one skipped (with the reason)."""
    made, skipped = [], []
    try:
        import torch  # noqa: F401
        torch_missing = None
    except ImportError:
        torch_missing = "torch is not installed (pip install torch==2.13.0)"
    for name in names:
        if name.startswith("torch") and torch_missing:
            skipped.append({"name": name, "skipped": torch_missing})
        elif name == "fastnn-2t-split":
            made.append(FastnnContender(name, data, threads=2, split=True))
        elif name.startswith("fastnn"):
            made.append(FastnnContender(name, data, threads=int(name[len("fastnn-") : -1])))
        elif name.startswith("torch"):
            batch, _, threads = name[len("torch-") :].partition("-")
            made.append(TorchContender(name, data, batch_size=int(batch), threads=int(threads[:-1] or 1)))
        elif name == "sklearn-mlp":
            made.append(SklearnMLPContender(name, data, sklearn_slice))
        elif name == "sgd-linear":
            made.append(LinearContender(name, data))
        elif name == "rows-read":
            made.append(RowsReadContender(name, data))
        else:
            raise ValueError(f"unknown contender {name!r}; choose from {', '.join(CONTENDERS + EXTRA_CONTENDERS)}")
    return made, skipped


# -- the run -------------------------------------------------------------------------------------


def run(data, names=CONTENDERS, epochs=3, sklearn_slice=2000, progress=print):
    """Alternate the contenders' epochs; return their records (skipped ones included)."""
    contenders, skipped = make_contenders(names, data, sklearn_slice)
    every_epoch = [c for c in contenders if not c.once]
    for c in contenders:
        if c.once:
            c.run_once()
            progress(f"{c.name}: {c.record['notes'][-1]}")
    for epoch in range(epochs):
        shift = epoch % max(1, len(every_epoch))
        for c in every_epoch[shift:] + every_epoch[:shift]:
            seconds = c.epoch()
            c.record["epoch_seconds"].append(seconds)
            accuracy = c.accuracy()
            if accuracy is not None:
                c.record["test_accuracy"].append(accuracy)
            progress(f"epoch {epoch + 1}/{epochs} {c.name}: {seconds:.2f} s"
                     + ("" if accuracy is None else f", test accuracy {accuracy:.4f}"))
    order = {n: i for i, n in enumerate(names)}
    return sorted([c.record for c in contenders] + skipped, key=lambda r: order[r["name"]])


def versions():
    import numba
    import scipy
    import sklearn

    import fastnn

    out = {"fastnn": fastnn.__version__, "numpy": np.__version__, "numba": numba.__version__,
           "scipy": scipy.__version__, "scikit-learn": sklearn.__version__, "python": platform.python_version()}
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:
        pass
    return out


def speed_up(theirs, mine):
    """``'2.0x faster'`` or ``'1.5x slower'``: seconds ``mine`` against ``theirs``."""
    return f"{theirs / mine:.1f}x faster" if theirs >= mine else f"{mine / theirs:.1f}x slower"


def table(report):
    """The results as a plain-text table, with fastnn's speed-ups over the others when it ran."""
    records = report["contenders"]
    epochs = report["epochs"]
    head = f"{'contender':<12} {'s/epoch':>9}  " + " ".join(f"{'acc@' + str(e + 1):>7}" for e in range(epochs))
    lines = [head, "-" * len(head)]
    for r in records:
        if "skipped" in r:
            lines.append(f"{r['name']:<12} skipped: {r['skipped']}")
            continue
        per_epoch = statistics.median(r["epoch_seconds"])
        mark = "*" if r.get("estimated") else " "
        accs = r["test_accuracy"] + [None] * (epochs - len(r["test_accuracy"]))
        if r["name"] == "sgd-linear":
            accs = [None] * (epochs - 1) + r["test_accuracy"]
        lines.append(f"{r['name']:<12} {per_epoch:8.3f}{mark}  "
                     + " ".join(f"{a:7.4f}" if a is not None else f"{'-':>7}" for a in accs))
    lines.append("s/epoch: median over the epochs. * estimated from a slice (see notes). sgd-linear: fitted once to "
                 "convergence; its accuracy is its final one.")
    base = next((r for r in records if r["name"] == "fastnn-1t" and "skipped" not in r), None)
    if base is not None:
        mine = statistics.median(base["epoch_seconds"])
        for r in records:
            if r is not base and "skipped" not in r and r["epoch_seconds"] and r["name"] != "rows-read":
                lines.append(f"fastnn-1t per epoch against {r['name']}: "
                             f"{speed_up(statistics.median(r['epoch_seconds']), mine)}")
        batched = [r for r in records if r["name"].startswith("torch-") and r["name"] != "torch-1"
                   and "skipped" not in r and r["epoch_seconds"]]  # every batch size and thread count
        if batched:
            fastest = min(batched, key=lambda r: statistics.median(r["epoch_seconds"]))
            lines.append(f"PyTorch's fastest batch size per epoch here is {fastest['name']}: fastnn-1t is "
                         f"{speed_up(statistics.median(fastest['epoch_seconds']), mine)}")
            floor = next((r for r in records if r["name"] == "rows-read" and "skipped" not in r), None)
            if floor is not None:
                goal = statistics.median(fastest["epoch_seconds"]) / 3
                lines.append(f"3x faster than {fastest['name']} is {goal:.3f} s/epoch; reading the first-layer rows "
                             f"alone (rows-read) takes {statistics.median(floor['epoch_seconds']):.3f} s of it")
    for r in records:
        for note in r.get("notes", []):
            lines.append(f"{r['name']}: {note}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="packages.jsonl.gz (default: see default_data_path)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--contenders", default="all", help=f"comma-separated, from: {', '.join(CONTENDERS + EXTRA_CONTENDERS)}")
    parser.add_argument("--limit", type=int, default=None,
                        help="use at most this many packages of each section (a quick, stratifiable slice)")
    parser.add_argument("--sklearn-slice", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    path = args.data or default_data_path()
    if path is None or not Path(path).is_file():
        parser.error(f"packages.jsonl.gz not found ({path or 'no default found'}); pass --data or set FASTNN_DEBIAN")
    names = CONTENDERS if args.contenders == "all" else tuple(n.strip() for n in args.contenders.split(","))
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    packages = load_packages(path)
    if args.limit:
        packages = stratified_slice(packages, args.limit)
    start = time.perf_counter()
    data = prepare(packages)
    print(f"{len(packages):,} packages, {len(data[4])} sections: {data[0].shape[0]:,} training and "
          f"{data[1].shape[0]:,} test rows, {data[0].nnz / data[0].shape[0]:.1f} non-zeros a row "
          f"(vectorised in {time.perf_counter() - start:.1f} s)", flush=True)
    records = run(data, names, args.epochs, args.sklearn_slice, progress=lambda s: print(s, flush=True))
    report = {"benchmark": "text", "task": "Debian section (packages.jsonl.gz)",
              "command": " ".join([Path(sys.executable).name, *sys.argv]), "epochs": args.epochs,
              "packages": len(packages), "limit_per_section": args.limit, "train_rows": data[0].shape[0],
              "test_rows": data[1].shape[0], "classes": len(data[4]), "n_features": N_FEATURES,
              "nnz_per_row": data[0].nnz / data[0].shape[0],
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "cpu": cpu_model(), "cores": os.cpu_count(), "load_before": load_before,
              "load_after": os.getloadavg() if hasattr(os, "getloadavg") else None, "versions": versions(),
              "contenders": records}
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
