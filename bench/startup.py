"""First-call latency of fastnn.train: JIT compilation with an empty Numba cache vs a warm one.

Run:  python bench/startup.py [--runs 7] [--layers 784-128-64-10] [--compare PYTHON] [--notes TEXT]
                              [--results bench/results/startup.json]

Every measurement is a fresh Python process with NUMBA_CACHE_DIR pointing at a folder of its
own. A round gives each kind of input a new, empty folder: a first process compiles every
kernel it calls, a second one loads them from the cache; ``--runs`` rounds, and the table
gives each figure's median and range over them. Each process imports fastnn, then calls
``train`` (``--layers``, 100 samples, one epoch of per-sample SGD) on one thread, then on two
threads, then on one thread again; a second series does the same on dense inputs (every
pixel non-zero: the windowed path, on one thread whatever ``n_threads``, so its two-thread
call compiles nothing more). One thread runs ``sgd_steps`` on sparse inputs; two threads on
replicas (a first hidden layer below ``fastnn.per_sample.SPLIT_FROM`` units) run that same
compilation of ``sgd_steps`` on each round's share and compile only the merging
(``merge_round``), and wider networks compile ``split_steps``. Printed per process: the wall
time of each call and the part of it that ``history["compile_seconds"]`` attributes to
compiling or loading the kernels. With an empty cache it also prints, in the first round,
where the compilations of the sparse kernels (``sgd_steps``, one thread; ``merge_round``,
replicas) went: Numba's own per-pass times, the largest first (type inference includes
compiling the helpers it calls, each a function of its own).

Round ``r`` of ``R`` makes these calls beneath ``PAD_LEVELS * r // R`` extra frames of a
small function, the same in every process of the round. Since Python 3.11 the first call's
cost depends on the depth of the Python stack it starts from: Numba's lazy start-up inside it
runs thousands of calls, and where one of them pushes the first frame of a new 16 KiB chunk of
CPython's frame stack, each such call maps and unmaps that chunk (CPython issue gh-142183).
``PAD_LEVELS`` frames span about one chunk, so that the rounds sweep where the call starts
within one, rather than every round timing the one alignment that the script's own call depth
happens to give.

Before the rounds, each install's fastnn is byte-compiled (``compileall``), as pip leaves an
installed package: with ``PYTHONDONTWRITEBYTECODE`` set, or a checkout Python cannot write to,
every process would otherwise compile fastnn's source afresh, inside ``import fastnn`` and
inside the first call for what it imports late, and more source would time as a slower start.

``--compare PYTHON`` measures a second install of fastnn beside this one, alternated within
every round (the order swapped from round to round): ``PYTHON`` is the interpreter of an
environment where ``import fastnn`` is that install, say a checkout of an earlier commit
with a virtual environment of its own. Its processes start in a temporary folder, so that
this checkout cannot shadow it. A second table then gives this checkout's medians divided by
the compared one's.

The tables, the command, the machine (CPU, cores, load average at the start, versions) and the
date go to ``--results`` (default ``bench/results/startup.json``, or
``bench/results/startup-compare.json`` with ``--compare``; ``--results ''`` writes none).
"""
import argparse
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile

import results_io

CHILD = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import fastnn
t1 = time.perf_counter()
rng = np.random.default_rng(0)
X = rng.random((100, 784), dtype=np.float32)
if sys.argv[1] == "sparse":
    X[X < 0.8] = 0  # about MNIST's share of zero pixels
y = np.arange(100) % 10
params = fastnn.init_params([int(n) for n in sys.argv[2].split("-")], seed=0)
calls = []


def timed_calls():
    for threads in (1, 2, 1):
        t = time.perf_counter()
        _, history = fastnn.train(params, X, y, epochs=1, n_threads=threads)
        calls.append([time.perf_counter() - t, history["compile_seconds"]])


def padded(levels):  # a frame of the Python stack per level
    return timed_calls() if levels == 0 else padded(levels - 1)


padded(int(sys.argv[3]))
try:
    from fastnn.kernels import steps, threads
    kernels = (("sgd_steps, one thread", steps.sgd_steps), ("merge_round, replicas", threads.merge_round))
except ImportError:  # a --compare install from before the kernels were split by job
    kernels = ()
passes = {}
for which, kernel in kernels:
    for sig in kernel.signatures:
        try:  # kept only by a compilation, not by a load from the cache
            times = kernel.get_metadata(sig)["pipeline_times"]["nopython"]
        except (KeyError, TypeError, AttributeError):
            continue
        passes[which] = {name.split("_", 1)[1]: t.init + t.run + t.finalize for name, t in times.items()}
print(json.dumps({"import": t1 - t0, "calls": calls, "passes": passes, "file": fastnn.__file__}))
"""

CALLS = ("first train, 1 thread", "then first train, 2 threads", "next train")
FIGURES = ("import fastnn",) + CALLS
KINDS = ("sparse", "dense")
STATES = ("empty", "warm")
STATE_NAMES = {"empty": "empty (compiles)", "warm": "warm (loads)"}


PAD_LEVELS = 150  # frames of ``padded`` (about 14 pointers each) in one 16 KiB chunk of CPython's frame stack


BYTE_COMPILE = """
import compileall, os, sys
import fastnn, fastnn.kernels
ok = all(compileall.compile_dir(os.path.dirname(m.__file__), quiet=1) for m in (fastnn, fastnn.kernels))
sys.exit(0 if ok else 1)
"""


def byte_compile(python, cwd):
    """Write the ``.pyc`` files of the fastnn that ``python`` imports (as pip does when it installs)."""
    out = subprocess.run([python, "-c", BYTE_COMPILE], cwd=cwd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{python} could not byte-compile fastnn:\n{out.stdout}{out.stderr}")


def measure(python, cwd, kind, cache, layers, pad):
    """One fresh process, its calls ``pad`` frames deeper:
    ``{"import": s, "calls": [[wall, compile], ...], "passes": {...}, "file": ...}``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([python, "-c", CHILD, kind, layers, str(pad)], env=env, cwd=cwd, capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(f"{python} exited {out.returncode}:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def describe(fastnn_file):
    """Where an install's fastnn lives and, in a git checkout, its commit."""
    folder = pathlib.Path(fastnn_file).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = ""
    return f"{folder} ({commit})" if commit else str(folder)


def cell(values):
    """Median and range of a figure's rounds, in seconds."""
    med, lo, hi = statistics.median(values), min(values), max(values)
    return f"{med:.2f} s" if len(values) == 1 or f"{lo:.2f}" == f"{hi:.2f}" else f"{med:.2f} s ({lo:.2f}-{hi:.2f})"


RATIO_FROM = 0.05  # seconds: below, a ratio of two medians is mostly timer and scheduling noise


def ratio(a, b):
    return "-" if max(a, b) < RATIO_FROM else f"{a / b:.2f}"


def print_process(name, kind, state, r, first_round):
    cells = "".join(f"{f'{wall:.2f} s (compile {comp:.2f} s)':>32}" for wall, comp in r["calls"])
    print(f"{name:<10}{kind:<8}{state:<7}{r['import']:>7.2f} s{cells}", flush=True)
    if state == "empty" and first_round:
        for which, passes in r["passes"].items():
            top = sorted(passes.items(), key=lambda kv: -kv[1])[:5]
            print(f"{'':25}{which}: compiled in {sum(passes.values()):.2f} s of Numba passes: "
                  + ", ".join(f"{name} {t:.2f} s" for name, t in top), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7,
                    help="rounds, each an empty cache compiled by one process and loaded by the next, each at its own "
                         "depth of the Python stack (default 7)")
    ap.add_argument("--layers", default="784-128-64-10")
    ap.add_argument("--compare", metavar="PYTHON", default=None,
                    help="the interpreter of a second fastnn install to measure alternately with this one")
    ap.add_argument("--notes", default="", help="text added to the results file's notes (say, what --compare runs)")
    ap.add_argument("--results", default=None,
                    help="results file (default bench/results/startup.json, or startup-compare.json with --compare; "
                         "'' for none)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    results = args.results
    if results is None:
        results = str(results_io.RESULTS_DIR / ("startup-compare.json" if args.compare else "startup.json"))
    command = "python bench/startup.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    machine_info = results_io.machine()  # the load at the start

    contenders = {"this": (sys.executable, None)}
    if args.compare:
        # no checkout in the compared install's path; removed when the script ends
        elsewhere = tempfile.TemporaryDirectory(prefix="fastnn-startup-")
        contenders["compared"] = (args.compare, elsewhere.name)
    for python, cwd in contenders.values():
        byte_compile(python, cwd)
    figures = {}  # (contender, kind, state) -> one list per figure, a value per round
    where = {}
    print(f"layers {args.layers}; {args.runs} round(s); load average at the start {machine_info['load_avg']}")
    print(f"{'':<10}{'inputs':<8}{'cache':<7}{'import':>9}" + "".join(f"{c:>32}" for c in CALLS))
    for run in range(args.runs):
        order = list(contenders) if run % 2 == 0 else list(contenders)[::-1]
        pad = PAD_LEVELS * run // args.runs
        print(f"round {run + 1}: the calls {pad} frames deeper", flush=True)
        for name in order:
            python, cwd = contenders[name]
            for kind in KINDS:
                with tempfile.TemporaryDirectory() as cache:
                    for state in STATES:
                        r = measure(python, cwd, kind, cache, args.layers, pad)
                        where.setdefault(name, r["file"])
                        print_process(name, kind, state, r, run == 0)
                        values = [r["import"]] + [wall for wall, _ in r["calls"]]
                        for i, v in enumerate(values):
                            figures.setdefault((name, kind, state), [[] for _ in FIGURES])[i].append(v)
    names = {name: describe(where[name]) for name in contenders}

    columns = ["network", "inputs", "Numba cache"] + (["fastnn"] if args.compare else []) + list(FIGURES)
    rows = []
    for kind in KINDS:
        for state in STATES:
            for name in contenders:
                rows.append([args.layers, kind, STATE_NAMES[state]] + ([names[name]] if args.compare else [])
                            + [cell(v) for v in figures[name, kind, state]])
    tables = [{"title": "The first train call: compiling from an empty Numba cache, and loading from a warm one "
                        "(median over rounds, range in brackets)", "columns": columns, "rows": rows}]
    if args.compare:
        ratios = []
        for kind in KINDS:
            for state in STATES:
                ratios.append([args.layers, kind, STATE_NAMES[state]] + [
                    ratio(statistics.median(a), statistics.median(b))
                    for a, b in zip(figures["this", kind, state], figures["compared", kind, state])])
        tables.append({"title": f"{names['this']} divided by {names['compared']} (ratio of medians; '-' where "
                                f"both are under {RATIO_FROM} s)",
                       "columns": ["network", "inputs", "Numba cache"] + list(FIGURES), "rows": ratios})
    print()
    for t in tables:
        print(t["title"])
        widths = [max(len(str(x)) for x in col) for col in zip(t["columns"], *t["rows"])]
        for row in [t["columns"]] + t["rows"]:
            print("  ".join(f"{str(x):<{w}}" for x, w in zip(row, widths)))
        print()
    if results:
        notes = (f"{args.runs} round(s); in each, every kind of input gets an empty Numba cache, compiled by a fresh "
                 "process and then loaded by another. 100 samples, one epoch of per-sample SGD per call; 'then first "
                 "train, 2 threads' follows the one-thread call in the same process. Round r of R makes its calls "
                 f"{PAD_LEVELS} * r // R frames deeper in the Python stack, sweeping about one 16 KiB chunk of "
                 "CPython's frame stack (the first call's cost depends on where it starts within one).")
        notes += " fastnn is byte-compiled before the rounds, as pip installs it."
        if args.compare:
            notes += " The two installs alternate within every round, the order swapped from round to round."
        if args.notes:
            notes += " " + args.notes
        path = results_io.write_results(results, benchmark="startup", command=command, tables=tables, notes=notes,
                                        machine_info=machine_info)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
