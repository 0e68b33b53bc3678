"""A committee of plain MLPs on MNIST: every member's and the committee's test accuracy, and the time.

Each member is a dense network (default 784-800-10, ReLU, softmax) trained by per-sample
SGD on freshly distorted digits every epoch (``fastnn.augment.Distortion()`` defaults),
cosine learning rate from 0.02; members differ in their seed, in architecture when --layers
gives several, and in the view of the digits when --views gives several (member i sees
``views[i % len(views)]`` in training and in prediction: ``original``, ``deskew``
(``fastnn.augment.deskew``) or a number, the digits stretched to that ink width in pixels by
``fastnn.augment.normalize_width``, 0 meaning the original digits; --widths is the same
option under its older name). They train
concurrently with :func:`fastnn.committee.train_committee`, one member per core on
threads (``n_threads=1`` each), and the committee averages their probabilities.

    FASTNN_DATA=../shared/mnist python bench/committee_recipe.py --members 8 --epochs 40 \\
        --layers "800;500,500;1000,300;600,600" \\
        --views original,deskew,deskew,deskew,deskew,deskew,deskew,original

Prints one line per member as the run goes (every ``--report`` epochs, with its test accuracy
so far; the evaluation is not counted in the member's training time) and at the end a
table of each member's and the committee's test accuracy, the training time and the total
wall time (loading the data, training, evaluating). ``--test-shifts PX`` scores the committee a
second time with test-time shifts (:func:`fastnn.committee.committee_predict_proba`'s
``shifts``: each member's probabilities averaged over its test images as they are and moved
PX pixels in each of the four directions). ``--holdout N`` trains on the first
60,000 - N training images and scores on the last N instead of the test set, to compare
recipes without choosing on the test set.

The member table, the committee's accuracy, the command, the machine (with the load at the
start) and the date go to ``--results`` (default ``bench/results/committee_recipe.json`` for a
full test-set run; a ``--holdout`` or ``--limit`` run writes only to an explicit ``--results``),
from which the README and the docs render the recipe's figures.
"""
import argparse
import pathlib
import shlex
import sys
import threading
import time

import numpy as np


def view_name(spec):
    """``original``, ``deskew`` or ``width W`` for one entry of --views."""
    spec = spec.strip()
    if spec in ("original", "deskew"):
        return spec
    try:
        width = float(spec)
    except ValueError:
        raise SystemExit(f"--views: {spec!r} is not original, deskew or an ink width in pixels") from None
    return "original" if width == 0 else f"width {width:g}"


def width_view(name, normalize_width):
    width = float(name.split()[1])
    return lambda A: normalize_width(A, width)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=8, help="networks in the committee (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=50, help="epochs per member (default %(default)s)")
    parser.add_argument("--layers", default="800", help="hidden layer sizes, e.g. 800 or 800,400; several "
                        "architectures separated by ';' are given to the members in turn (default %(default)s)")
    parser.add_argument("--views", "--widths", dest="views", default="original",
                        help="the members' views of the digits, given to them in turn: original, deskew, or an ink "
                        "width in pixels (0 = original), e.g. original,deskew or 0,14,0,16 (default %(default)s)")
    parser.add_argument("--holdout", type=int, default=0, help="score on the last N training images instead of the "
                        "test set, training on the others (default: the test set)")
    parser.add_argument("--lr", type=float, default=0.02, help="initial rate of the cosine schedule (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=None, help="members training at once (default: CPU count)")
    parser.add_argument("--seed", type=int, default=0, help="derives every member's seed (default %(default)s)")
    parser.add_argument("--no-augment", action="store_true", help="train on the original digits only")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images (a quick check)")
    parser.add_argument("--report", type=int, default=10, help="print progress every N epochs (default %(default)s)")
    parser.add_argument("--data", default=None, help="folder of the MNIST files (default: $FASTNN_DATA, ...)")
    parser.add_argument("--test-shifts", type=float, default=0.0, metavar="PX",
                        help="also score the committee with test-time shifts: each member's probabilities averaged "
                        "over its test images as they are and moved by PX pixels left, right, up and down "
                        "(default: none)")
    parser.add_argument("--save", default=None, help="save the members to this .npz prefix (PREFIX-0.npz, ...)")
    parser.add_argument("--results", default=None,
                        help="JSON file for the table and its provenance (default bench/results/committee_recipe.json "
                             "for a full test-set run; '' for none)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import results_io

    if args.results is None:
        args.results = "" if args.holdout or args.limit else str(results_io.RESULTS_DIR / "committee_recipe.json")
    command = "python bench/committee_recipe.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    machine_info = results_io.machine()

    t0 = time.perf_counter()
    import fastnn
    from fastnn import committee
    from fastnn.augment import Distortion, deskew, normalize_width
    from fastnn.datasets import load_mnist
    from fastnn.schedules import cosine

    (X, y), (X_test, y_test) = load_mnist(args.data)
    if args.holdout:
        X, y, X_test, y_test = X[: -args.holdout], y[: -args.holdout], X[-args.holdout :], y[-args.holdout :]
    if args.limit is not None:
        X, y = X[: args.limit], y[: args.limit]
    archs = [[X.shape[1], *(int(s) for s in spec.split(",") if s.strip()), 10] for spec in args.layers.split(";")]
    sizes = [archs[i % len(archs)] for i in range(args.members)]
    seeds = committee.member_seeds(args.seed, args.members)
    members = committee.init_committee(sizes, seeds=seeds)
    names_of_views = [view_name(v) for v in args.views.split(",")]
    transform = {"original": lambda A: A, "deskew": deskew}
    views = {v: (X, X_test) if v == "original" else tuple(map(transform.get(v) or width_view(v, normalize_width),
                                                              (X, X_test)))
             for v in set(names_of_views)}
    member_views = [names_of_views[i % len(names_of_views)] for i in range(args.members)]
    train_views = [views[v][0] for v in member_views]
    test_views = [views[v][1] for v in member_views]
    lock = threading.Lock()

    def reporter(i):
        def callback(epoch, params, history):
            if (epoch + 1) % args.report == 0 or epoch + 1 == args.epochs:
                acc = fastnn.accuracy(params, test_views[i], y_test)  # off the member's training clock
                with lock:
                    print(f"  member {i}: epoch {epoch + 1}/{args.epochs}  loss {history['loss'][-1]:.4f}  "
                          f"test {100 * acc:.2f}%  {sum(history['seconds']):7.1f} s of training  "
                          f"({time.perf_counter() - t0:7.1f} s wall)", flush=True)
        return callback

    names = ", ".join(dict.fromkeys("-".join(map(str, a)) for a in sizes))
    names += "; views: " + ", ".join(dict.fromkeys(member_views))
    print(f"committee of {args.members} ({names}), per-sample SGD, cosine lr from {args.lr:g} "
          f"over {args.epochs} epochs, {'no distortions' if args.no_augment else 'Distortion() every epoch'}, "
          f"{len(X):,} training images, scored on {'the last %d training images' % args.holdout if args.holdout else 'the test set'}, seeds {seeds}", flush=True)
    t1 = time.perf_counter()
    trained, histories = committee.train_committee(
        members, train_views, y, seeds=seeds, n_jobs=args.jobs, epochs=args.epochs, lr=cosine(args.lr, total=args.epochs),
        augment=None if args.no_augment else Distortion(), n_threads=1,
        member_options=[{"callback": reporter(i)} for i in range(args.members)])
    train_wall = time.perf_counter() - t1

    print(f"\n| member | network | view | seed | test accuracy | training (s) |\n|---|---|---|---:|---:|---:|")
    rows = []
    shifts = None
    if args.test_shifts:
        d = args.test_shifts
        shifts = [(0.0, 0.0), (d, 0.0), (-d, 0.0), (0.0, d), (0.0, -d)]
    for i, (p, h) in enumerate(zip(trained, histories)):
        view = member_views[i]
        member_acc = fastnn.accuracy(p, test_views[i], y_test)
        print(f"| {i} | {'-'.join(map(str, sizes[i]))} | {view} | {seeds[i]} | "
              f"{100 * member_acc:.2f}% | {sum(h['seconds']):.0f} |")
        shifted = (f"{100 * float(np.mean(committee.committee_predict([p], [test_views[i]], shifts=shifts) == y_test)):.2f}%"
                   if shifts else "")
        rows.append([str(i), "-".join(map(str, sizes[i])), view, f"{100 * member_acc:.2f}%", shifted,
                     f"{sum(h['seconds']):.0f}"])
    acc = float(np.mean(committee.committee_predict(trained, test_views) == y_test))
    print(f"| **committee** (mean probability) | | | | **{100 * acc:.2f}%** | {train_wall:.0f} wall |")
    scored = [("committee", acc)]
    acc_shifted = None
    if shifts:
        acc_shifted = float(np.mean(committee.committee_predict(trained, test_views, shifts=shifts) == y_test))
        print(f"| **committee, test-time shifts of {d:g} px** (mean over members and 5 shifts) | | | | "
              f"**{100 * acc_shifted:.2f}%** | |")
        scored.append((f"with test-time shifts of {d:g} px", acc_shifted))
    total = time.perf_counter() - t0
    print()
    for name, a in scored:
        print(f"{name} test accuracy {100 * a:.2f}% ({round((1 - a) * len(y_test))} errors)")
    print(f"training {train_wall:.1f} s wall, total {total:.1f} s wall ({total / 60:.1f} min)", flush=True)
    if args.results:
        rows.append(["committee (mean of the probabilities)", "", "", f"{100 * acc:.2f}%",
                     f"{100 * acc_shifted:.2f}%" if acc_shifted is not None else "", f"{train_wall:.0f} wall"])
        scored_on = f"the last {args.holdout:,} training images" if args.holdout else "the MNIST test set"
        path = results_io.write_results(
            args.results, benchmark="committee_recipe", command=command.strip(), machine_info=machine_info,
            tables=[{"title": f"A committee of {args.members} plain MLPs, each member scored alone and the committee on "
                              f"the mean of their probabilities, on {scored_on}",
                     "columns": ["member", "network", "view", "test accuracy", "with the shifts", "training (s)"],
                     "rows": rows}],
            notes=(f"Test-time shifts of {args.test_shifts:g} px in four directions." if args.test_shifts else
                   "No test-time shifts.") + f" Total wall time {total:.0f} s.")
        print(f"wrote {path}")
    if args.save:
        for i, (p, h) in enumerate(zip(trained, histories)):
            fastnn.save(f"{args.save}-{i}.npz", p, history=h, seed=seeds[i])
    return 0


if __name__ == "__main__":
    sys.exit(main())
