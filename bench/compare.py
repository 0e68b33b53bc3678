"""Compare fastnn with its NumPy twin and its peers on the reference and dense workloads, in one process.

    FASTNN_DATA=../shared/mnist python bench/compare.py [--rounds 3] [--only fastnn,numpy,jax]
                                                        [--workloads reference,dense]
                                                        [--samples 60000] [--markdown] [--to-accuracy]
                                                        [--results bench/results/compare.json]

Reference workload: MNIST train set, float32, 784-128-64-10, ReLU, softmax cross-entropy,
per-sample SGD, lr 0.01, one epoch, from the same initial weights. Dense workload: the same
with every pixel standardised, ``(X - mean) / (std + 0.1)`` (91% of the inputs non-zero),
and lr 0.001. fastnn runs on one thread and on two. The implementations run
interleaved (round-robin, the order rotated every round), so machine load hits them alike;
the table gives each one's median seconds per epoch, samples per second, its time divided
by fastnn's, and the test accuracy after the epoch. JAX compiles once before the rounds;
that compile time is reported apart and never counted in an epoch.

--to-accuracy adds the race to 98.0% test accuracy: fastnn's per-sample recipes against
PyTorch mini-batch Adam, each trained epoch by epoch (evaluations not counted).

Peers missing from the environment are listed as skipped, with the command that installs them.

The tables, the command, the machine (CPU, cores, load average at the start, versions) and the
date are also written to ``--results`` (default ``bench/results/compare.json``; ``--results ''``
writes none), from which the README and the documentation render their figures.
"""
import argparse
import os
import platform
import shlex
import statistics
import sys
import time
import traceback

import numpy as np

import peers
import recipes
import results_io

ORDER = ["fastnn", "fastnn-2t", "kernel", "numpy", "numpy-loop", "jax", "torch", "sklearn"]
WORKLOADS = ("reference", "dense")
DENSE_SKIPS = {"kernel": "the bare kernel is train()'s row-by-row path, already timed as fastnn train() on this workload"}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="implementations: " + ", ".join(
                                     f"{k} ({peers.IMPLEMENTATIONS[k].title})" for k in ORDER))
    ap.add_argument("--samples", type=int, default=60_000, help="training samples per epoch (default 60000)")
    ap.add_argument("--rounds", type=int, default=3, help="epochs timed per implementation (default 3)")
    ap.add_argument("--only", default=",".join(ORDER),
                    help=f"comma-separated implementations to run (default: all of {','.join(ORDER)})")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated workloads (default: both)")
    ap.add_argument("--dense-above", type=float, default=None,
                    help="set fastnn.per_sample.DENSE_ABOVE (2: never windows, the row loop on the dense workload)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the sample order")
    ap.add_argument("--data", default=None, help="folder of the MNIST files (default $FASTNN_DATA)")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    ap.add_argument("--to-accuracy", action="store_true",
                    help=f"also race to {100 * recipes.TARGET:.1f}%% test accuracy (fastnn recipes vs PyTorch Adam)")
    ap.add_argument("--race-rounds", type=int, default=None, help="rounds of the race (default: --rounds)")
    ap.add_argument("--torch-threads", type=int, default=recipes.TORCH_ADAM["threads"],
                    help="PyTorch threads in the race (default %(default)s; on a loaded machine OpenMP threads "
                         "that spin-wait can make 2 threads many times slower than 1: see bench/README.md)")
    ap.add_argument("--results", default=str(results_io.RESULTS_DIR / "compare.json"),
                    help="JSON file for the tables and their provenance (default %(default)s; '' for none)")
    args = ap.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    args.workloads = [s.strip() for s in args.workloads.split(",") if s.strip()]
    if not set(args.workloads) <= set(WORKLOADS):
        ap.error(f"--workloads takes {', '.join(WORKLOADS)}")
    unknown = [s for s in args.only if s not in peers.IMPLEMENTATIONS]
    if unknown:
        ap.error(f"unknown implementation(s) {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    if args.samples < 1 or args.rounds < 1:
        ap.error("--samples and --rounds must be >= 1")
    return args


# -- the machine line --------------------------------------------------------------------------


def blas_name():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # numpy < 1.26 has no mode="dicts"; the BLAS name is only informative
        return "unknown"


def load_average():
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine_line(names):
    import numba

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [f"CPU {results_io.cpu_model()}", f"{usable} cores", f"load avg {load_average()}", f"Python {platform.python_version()}",
             f"NumPy {np.__version__}", f"Numba {numba.__version__}", f"BLAS {blas_name()}"]
    parts += [f"{k} {v}" for k, v in peers.versions(names).items()]
    env = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    threads = [f"{k}={os.environ[k]}" for k in env if k in os.environ]
    if threads:
        parts.append(" ".join(threads))
    return ", ".join(parts)


# -- tables -----------------------------------------------------------------------------------


def render(headers, rows, markdown, align):
    if markdown:
        out = ["| " + " | ".join(headers) + " |",
               "|" + "|".join("---:" if a == ">" else ":---" for a in align) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:{a}{w}}}" for a, w in zip(align, widths))
    return "\n".join([fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# -- the reference epoch --------------------------------------------------------------------


def run_epochs(args, X, y, X_test, y_test, workload="reference"):
    lr = peers.LR
    if workload == "dense":
        X, X_test, lr = peers.standardise(X, X), peers.standardise(X_test, X), peers.DENSE_LR
    w = peers.make_workload(X, y, n_samples=args.samples, seed=args.seed, lr=lr)
    n = len(w.order)
    impls, skipped = {}, {}
    for name in args.only:
        reason = peers.missing_reason(name) or (DENSE_SKIPS.get(name) if workload == "dense" else None)
        if reason:
            skipped[name] = reason
            continue
        log(f"preparing {name} ...")
        try:
            impls[name] = peers.IMPLEMENTATIONS[name](w)
        except Exception as exc:
            traceback.print_exc()
            skipped[name] = f"failed to prepare: {type(exc).__name__}: {exc}"
    for name, reason in skipped.items():
        log(f"skipping {name}: {reason}")

    times = {name: [] for name in impls}
    results = {}
    names = list(impls)
    for r in range(args.rounds):
        rotated = names[r % len(names):] + names[: r % len(names)] if names else []
        for name in rotated:
            if name in skipped:
                continue
            impl = impls[name]
            try:
                impl.reset()
                start = time.perf_counter()
                result = impl.epoch()
                seconds = time.perf_counter() - start
            except Exception as exc:
                traceback.print_exc()
                skipped[name] = f"failed in round {r + 1}: {type(exc).__name__}: {exc}"
                continue
            if result.steps != n:
                skipped[name] = f"visited {result.steps} of {n} samples"
                continue
            times[name].append(seconds)
            results[name] = result
            log(f"round {r + 1}/{args.rounds}  {name:8s} {seconds:8.3f} s")

    accuracy = {name: peers.evaluate_accuracy(res.params, X_test, y_test) for name, res in results.items()}
    medians = {name: statistics.median(t) for name, t in times.items() if t and name not in skipped}
    base = medians.get("fastnn") or medians.get("kernel")
    base_name = "fastnn" if "fastnn" in medians else "kernel"
    rows = []
    for name in ORDER:
        if name not in medians:
            continue
        impl, med, ts = impls[name], medians[name], times[name]
        notes = []
        if impl.compile_seconds is not None:
            notes.append(f"+ {impl.compile_seconds:.2f} s compile, once")
        if len(ts) > 1:
            notes.append(f"range {min(ts):.3g}-{max(ts):.3g} s")
        rows.append([impl.title, f"{med:.3f}", f"{n / med:,.0f}",
                     f"{med / base:.2f}x" if base else "-", f"{accuracy[name]:.2%}", "; ".join(notes)])
    headers = ["implementation", "s / epoch (median)", "samples / s", f"time / {base_name} time",
               "test accuracy", "notes"]
    return headers, rows, ["<", ">", ">", ">", ">", "<"], skipped


# -- the race to 98% ------------------------------------------------------------------------------


def run_race(args, X, y, X_test, y_test):
    contenders = {f"recipe:{key}": recipe for key, recipe in recipes.RECIPES.items()}
    contenders = {k: v for i, (k, v) in enumerate(contenders.items())
                  if v not in list(contenders.values())[:i]}  # the same recipe once
    skipped = {}
    torch_missing = peers.missing_reason("torch")
    if torch_missing:
        skipped["PyTorch Adam"] = torch_missing
    else:
        contenders["torch-adam"] = None
    rounds = args.race_rounds or args.rounds
    races = {k: [] for k in contenders}
    keys = list(contenders)
    for r in range(rounds):
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            log(f"race round {r + 1}/{rounds}: {key} ...")
            if contenders[key] is None:
                race = recipes.torch_adam_race(X, y, X_test, y_test, threads=args.torch_threads)
            else:
                race = recipes.fastnn_race(contenders[key], X, y, X_test, y_test)
            curve = "  ".join(f"{e}: {acc:.2%} at {sec:.1f} s" for e, sec, acc in race.curve)
            log(f"  {race.epochs} epochs, {race.train_seconds:.2f} s, test accuracy {race.accuracy:.2%} ({curve})")
            races[key].append(race)
    base = statistics.median(r.train_seconds for r in races[keys[0]]) if keys else None
    rows = []
    for key in keys:
        rs = races[key]
        med = statistics.median(r.train_seconds for r in rs)
        what = contenders[key].describe() if contenders[key] else recipes.describe_torch_adam(args.torch_threads)
        reached = all(r.reached for r in rs)
        epochs = ", ".join(str(r.epochs) for r in rs)  # one per round
        rows.append([rs[0].name, what, epochs + ("" if reached else " (not reached)"),
                     f"{med:.2f}", f"{med / base:.2f}x", f"{rs[-1].accuracy:.2%}"])
    headers = ["contender", "setup", "epochs (each round)", "training s to target (median)", f"time / {keys[0]} time",
               "test accuracy"]
    return headers, rows, ["<", "<", ">", ">", ">", ">"], skipped


def main(argv=None):
    args = parse_args(argv)
    if args.dense_above is not None:
        from fastnn import per_sample as online

        online.DENSE_ABOVE = args.dense_above
    command = "python bench/compare.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        (X, y), (X_test, y_test) = peers.load_mnist_arrays(args.data)
    except Exception as exc:
        sys.exit(f"compare.py: cannot load MNIST ({type(exc).__name__}: {exc}).\n"
                 "Set FASTNN_DATA (or --data) to the folder holding the four MNIST .gz files.")
    names = args.only + (["torch"] if args.to_accuracy else [])
    print(f"Command: {command.strip()}")
    print(f"Machine: {machine_line(list(dict.fromkeys(names)))}")
    print()
    machine_info = results_io.machine(peers.versions(list(dict.fromkeys(names))))  # the load at the start
    n = min(args.samples, len(X))
    skipped = {}
    tables = []
    for workload in args.workloads:
        headers, rows, align, skips = run_epochs(args, X, y, X_test, y_test, workload)
        skipped.update({f"{name} ({workload})": why for name, why in skips.items()})
        what = ("MNIST" if workload == "reference" else "standardised MNIST ((X - mean) / (std + 0.1) per pixel)")
        lr = peers.LR if workload == "reference" else peers.DENSE_LR
        title = (f"{workload.capitalize()} workload: {what}, {n:,} training samples, float32, 784-128-64-10, ReLU, "
                 f"softmax cross-entropy, per-sample SGD, lr {lr:g}, one epoch; median of {args.rounds} interleaved "
                 f"rounds")
        print(f"{title} (load avg now {load_average()}).")
        print()
        print(render(headers, rows, args.markdown, align), flush=True)
        print()
        tables.append({"title": title, "columns": headers, "rows": rows})
    if args.to_accuracy:
        headers, rows, align, race_skipped = run_race(args, X, y, X_test, y_test)
        skipped.update(race_skipped)
        title = (f"Time to {recipes.TARGET:.1%} test accuracy: full MNIST, evaluated after every epoch, evaluation "
                 f"time excluded; median of {args.race_rounds or args.rounds} interleaved rounds")
        print()
        print(f"{title} (load avg now {load_average()}).")
        print()
        print(render(headers, rows, args.markdown, align))
        tables.append({"title": title, "columns": headers, "rows": rows})
    if skipped:
        print()
        for name, reason in skipped.items():
            print(f"Skipped {name}: {reason}")
    if args.results:
        notes = "; ".join(f"skipped {name}: {reason}" for name, reason in skipped.items())
        path = results_io.write_results(args.results, benchmark="compare", command=command.strip(), tables=tables,
                                        notes=notes, machine_info=machine_info)
        print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
