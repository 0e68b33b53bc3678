"""The accuracy recipes: each one ``fastnn train`` command, its test accuracy and training time.

    FASTNN_DATA=../shared/mnist python bench/accuracy_recipes.py [--only default,wide,augment]
                                                                [--results bench/results/accuracy_recipes.json]

Runs each recipe's command in a fresh process (``python -m fastnn train ... -o TMP``), reads
the test accuracy and the training time (the sum of the epoch times, compilation and
evaluation excluded) from its closing line, and writes the table with the machine, the load
at the start and the date to ``--results``, which the README and the docs render. The test
accuracy of a seeded per-sample run is deterministic; the time is only evidence on an idle
machine (check ``uptime``).
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

import results_io

RECIPES = {
    "default": ("default: 784-256-128-10, per-sample SGD, 5 epochs", []),
    "wide": ("784-800-10, dropout 0.3, cosine lr from 0.02, 20 epochs",
             ["--layers", "800", "--epochs", "20", "--lr", "0.02", "--schedule", "cosine", "--dropout", "0.3"]),
    "augment": ("784-800-10, distorted digits every epoch, 2 threads, cosine lr from 0.02, 40 epochs",
                ["--layers", "800", "--epochs", "40", "--lr", "0.02", "--schedule", "cosine", "--augment",
                 "--threads", "2"]),
}
SAVED = re.compile(r"test accuracy ([0-9.]+%), ([0-9.]+) s of training")


def run_recipe(extra, data=None, limit=None):
    """Run ``fastnn train`` with ``extra`` options; return ``(accuracy text, training seconds text)``."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "fastnn", "train", *extra, "-o", os.path.join(tmp, "model.npz")]
        cmd += ["--data", data] if data else []
        cmd += ["--limit", str(limit)] if limit else []
        out = subprocess.run(cmd, capture_output=True, text=True)
    match = SAVED.search(out.stdout)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"{shlex.join(cmd)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return match.group(1), f"{float(match.group(2)):.1f} s"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(RECIPES), help="comma-separated recipes (default: all of %(default)s)")
    ap.add_argument("--data", default=None, help="folder of the MNIST files (default $FASTNN_DATA)")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images (a quick check, not a result)")
    ap.add_argument("--results", default=str(results_io.RESULTS_DIR / "accuracy_recipes.json"),
                    help="JSON file for the table and its provenance (default %(default)s; '' for none)")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        ap.error(f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    command = "python bench/accuracy_recipes.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                                      else argv))
    machine_info = results_io.machine()
    rows = []
    for name in names:
        what, extra = RECIPES[name]
        acc, seconds = run_recipe(extra, args.data, args.limit)
        shown = "fastnn train" + ("" if not extra else " " + shlex.join(extra))
        rows.append([what, acc, seconds, shown])
        print(f"{what}: {acc}, {seconds} of training ({shown})", flush=True)
    if args.results:
        notes = ("'Training' is the sum of the epoch times (compilation and the per-epoch test evaluation excluded). "
                 + (f"Trained on the first {args.limit} images only: a check of the script, not a result." if args.limit
                    else ""))
        path = results_io.write_results(args.results, benchmark="accuracy_recipes", command=command.strip(),
                                        tables=[{"title": "Accuracy recipes: one command each",
                                                 "columns": ["recipe", "test accuracy", "training", "command"],
                                                 "rows": rows}],
                                        notes=notes.strip(), machine_info=machine_info)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
