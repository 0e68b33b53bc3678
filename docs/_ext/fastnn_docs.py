"""Sphinx directives that render the docs' figures and option lists from their sources.

``results-table``
    Renders the tables of a benchmark results file under ``bench/results/`` (see
    ``bench/results_io.py``) with the provenance it records (command, date, machine,
    load, versions, and whether it was measured or carried over), and optionally a bar
    chart of one column. The argument may name alternatives, ``threads.json |
    threads-previous-readme.json``: the first file that exists is used, so a fresh
    measurement replaces a carried-over one without editing the page. With
    ``:if-missing: COMMAND`` a page builds before its file is committed: it shows a note to
    run COMMAND instead of the table. Files that a script writes in a shape of its own
    (``bench/overhead.py``, ``tabular.py``, ``text.py``, ``serve_load.py``,
    ``sparse_memory.py``) are turned into ``results_io``'s shape by ``ADAPTERS``.
``fastnn-cli``
    The ``--help`` text of a ``fastnn`` subcommand, generated from the argument parser.

The module also renders the README's figure tables (``python docs/_ext/fastnn_docs.py
--readme`` rewrites every block between ``<!-- results: FILE#TABLE ... -->`` and
``<!-- end results -->``); ``tests/test_docs.py`` checks that README and the results agree.
"""
import argparse
import json
import os
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
README_BLOCK = re.compile(r"<!-- results: (?P<spec>[^>]*?) -->\n(?P<body>.*?)<!-- end results -->", re.S)


# -- reading results files ------------------------------------------------------------------


def resolve(spec):
    """The first existing file of ``"a.json | b.json"`` under bench/results/."""
    names = [s.strip() for s in spec.split("|") if s.strip()]
    for name in names:
        path = RESULTS / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"none of {', '.join(names)} exists under {RESULTS}")


def load(spec):
    """``(path, data)`` of the first existing file of ``spec``, in ``bench/results_io.py``'s shape.

    Files that a script writes in a shape of its own (see ``ADAPTERS``) are turned into that
    shape first, so that every page renders them the same way.
    """
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from results_io import load_results
    finally:
        sys.path.pop(0)
    path = resolve(spec)
    raw = json.loads(path.read_text())
    adapter = ADAPTERS.get(raw.get("benchmark") or path.stem) if "tables" not in raw else None
    if adapter is None:
        return path, load_results(path)
    data = adapter(raw)
    bad = [t["title"] for t in data["tables"] if any(len(r) != len(t["columns"]) for r in t["rows"])]
    if bad:
        raise ValueError(f"{path}: table {bad[0]!r} has a row whose length differs from its columns")
    return path, data


# -- files in a shape of their own ----------------------------------------------------------
# bench/overhead.py, tabular.py, text.py, serve_load.py and sparse_memory.py write their own
# JSON (more detail than a table: every repeat's time, the budgets' parts); these turn each
# into results_io's shape. The key is the file's "benchmark" field, else its name.


def _common(raw, benchmark, *, load, versions=None, notes=""):
    versions = dict(versions if versions is not None else raw.get("versions") or {})
    fastnn_version = raw.get("version") or versions.pop("fastnn", None) or "not recorded"
    versions.pop("fastnn", None)
    if isinstance(load, (list, tuple)):
        load = ", ".join(f"{x:.2f}" for x in load)
    machine = {"cpu": raw.get("cpu"), "cores": raw.get("cores"), "load_avg": load or "not recorded", **versions}
    return {"benchmark": benchmark, "command": raw.get("command", ""), "date": raw.get("date"),
            "fastnn_version": fastnn_version, "machine": machine, "source": "measured", "notes": notes}


def _overhead(raw):
    res = raw.get("results", {})
    rows = []
    if "train_1k" in res:
        r = res["train_1k"]
        rows.append(["train() on 1,000 rows / the bare kernel on them", f"{r['train_seconds'] * 1e3:.1f} ms",
                     f"{r['kernel_seconds'] * 1e3:.1f} ms", f"{r['ratio']:.2f}x", r["goal"]])
    if "chunks_60x1k" in res:
        r = res["chunks_60x1k"]
        rows.append(["60 calls of 1,000 rows / one epoch of 60,000", f"{r['chunks_seconds']:.3f} s",
                     f"{r['epoch_seconds']:.3f} s", f"{r['ratio']:.2f}x", r["goal"]])
    for name, r in res.get("threads_first_epoch", {}).items():
        rows.append([f"first epoch / later epochs, {name}", f"{r['first_epoch_seconds']:.3f} s",
                     f"{r['later_epoch_seconds']:.3f} s", f"{r['ratio']:.2f}x", r["goal"]])
    scored = res.get("threads_scored_loop", {})
    for name, r in scored.items():
        if name != "nothing":
            rows.append([f"partial_fit epoch on two threads, {name.replace('_', ' ')} between calls / nothing between",
                         f"{r['epoch_seconds']:.3f} s", f"{scored['nothing']['epoch_seconds']:.3f} s",
                         f"{r['ratio_to_nothing']:.2f}x", r.get("goal", "-")])
    for name, r in scored.items():
        rows.append([f"CPU burned in the 0.5 s after {name.replace('_', ' ')} (BLAS threads spinning)",
                     f"{r['cpu_seconds_in_the_next_half_second']:.3f} s", "-", "-", r.get("goal", "-")])
    outside = res.get("train_1k", {}).get("outside_epoch_seconds")
    notes = "Medians over alternated repeats in one process, every kernel compiled or loaded first."
    if outside is not None:
        notes += f" train()'s time outside its epoch on 1,000 rows: {outside * 1e3:.1f} ms."
    data = _common(raw, "overhead", load=raw.get("load_before"),
                   versions={k: raw[k] for k in ("python", "numpy") if k in raw}, notes=notes)
    data["tables"] = [{"title": "What a call costs besides its training (784-128-64-10, MNIST)",
                       "columns": ["comparison", "time", "against", "ratio", "goal"], "rows": rows}]
    return data


def _tabular(raw):
    names = {"fastnn": "fastnn (defaults)", "sklearn_mlp": "scikit-learn MLP (defaults)", "linear": "linear model"}
    rows = []
    for r in raw["rows"]:
        goal = ("" if "goal" not in r else
                f"{'meets' if r['meets_goal'] else 'MISSES'} {r['goal']:.3f}")
        rows.append([r["table"], f"{r['n_train']:,} x {r['n_features']:,}", names.get(r["contender"], r["contender"]),
                     f"{r['score']:.3f}", f"{r['fit_seconds_median']:.3f} s", goal])
    totals = raw.get("total_fit_seconds", {})
    total_rows = [[names.get(c, c), f"{t:.2f} s"] for c, t in totals.items()]
    notes = ("Score: accuracy for classification, R^2 for regression, on a 25% test split (random_state=0). "
             f"Fit time: median of {raw.get('repeats', '?')} fits, the contenders alternated. "
             "Goal: classifiers within 0.02 of the better of scikit-learn's MLP and the linear model; "
             "regressors within 0.05 of scikit-learn's MLP and above 0.")
    if raw.get("first_fastnn_fit_seconds") is not None:
        notes += f" fastnn's first fit in the process (loading its kernels), not included: {raw['first_fastnn_fit_seconds']:.2f} s."
    data = _common(raw, "tabular", load=raw.get("load_average_before"), notes=notes)
    data["tables"] = [{"title": "Estimators with every argument at its default, per table",
                       "columns": ["table", "train rows x features", "contender", "score", "fit time", "fastnn's goal"],
                       "rows": rows},
                      {"title": "Total fit time over the tables", "columns": ["contender", "fit time"],
                       "rows": total_rows}]
    return data


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2


def _text(raw):
    epochs = raw.get("epochs", 0)
    rows, notes = [], []
    for r in raw["contenders"]:
        if "skipped" in r:
            rows.append([r["name"], "skipped", ""] + [""] * epochs)
            notes.append(f"{r['name']}: {r['skipped']}")
            continue
        acc = list(r["test_accuracy"]) + [None] * (epochs - len(r["test_accuracy"]))
        if r["name"] == "sgd-linear":
            acc = [None] * (epochs - len(r["test_accuracy"])) + list(r["test_accuracy"])
        per_epoch = _median(r["epoch_seconds"]) if r["epoch_seconds"] else None
        shown = "" if per_epoch is None else f"{per_epoch:.3f} s" if per_epoch < 10 else f"{per_epoch:,.0f} s"
        rows.append([r["name"], shown + (" (estimated)" if r.get("estimated") else ""),
                     ""] + [f"{a:.1%}" if a is not None else "-" for a in acc])
        notes += [f"{r['name']}: {n}" for n in r.get("notes", [])]
    base = next((r for r in raw["contenders"] if r["name"] == "fastnn-1t" and r.get("epoch_seconds")), None)
    for row, r in zip(rows, raw["contenders"]):
        if base is not None and r.get("epoch_seconds"):
            ratio = _median(r["epoch_seconds"]) / _median(base["epoch_seconds"])
            row[2] = f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2f}x"
    head = (f"{raw.get('task', 'text')}: {raw.get('train_rows', '?'):,} training and {raw.get('test_rows', '?'):,} "
            f"test rows, {raw.get('classes', '?')} classes, {raw.get('n_features', '?'):,} hashed features, "
            f"{raw.get('nnz_per_row', 0):.1f} non-zeros a row. Time per epoch: median over the epochs.")
    notes = [n if n.endswith(".") else n + "." for n in notes]
    data = _common(raw, "text", load=raw.get("load_before"), notes=" ".join([head] + notes))
    data["tables"] = [{"title": "Text classification, sparse input (Debian sections)",
                       "columns": ["contender", "time per epoch", "/ fastnn-1t"]
                                  + [f"test accuracy, epoch {e + 1}" for e in range(epochs)],
                       "rows": rows}]
    return data


def _serve_load(raw):
    rows = []
    for name, r in raw["scenarios"].items():
        s = r["normal"] if name == "slow clients" else r
        ms = lambda k: f"{s[k]:.1f} ms" if k in s else "-"  # noqa: E731
        rows.append([name, f"{s['requests']:,}", str(s["errors"]),
                     f"{s['throughput_per_s']:.0f}" if "throughput_per_s" in s else "-", ms("p50_ms"), ms("p99_ms"),
                     ms("max_ms"),
                     f"{r['server_cpu_ms_per_request']:.2f} ms" if "server_cpu_ms_per_request" in r else "-",
                     raw["goals"].get(name, ""), "yes" if raw["goals_met"].get(name) else "no"])
    notes = [f"server: {raw.get('server', '?')}; whole-request deadline {raw.get('request_deadline_s')} s"
             + ("; --quick (a tenth of the requests)" if raw.get("quick") else "") + "."]
    slow = raw["scenarios"].get("slow clients")
    if slow:
        notes.append(f"slow clients: {slow['slow_cut_off']} of {slow['slow_connections']} cut off "
                     f"({slow['slow_answered_408']} answered 408), held {slow['slow_held_median_s']} s median, "
                     f"{slow['slow_held_max_s']} s at most.")
    bad = raw["scenarios"].get("malformed", {}).get("not_4xx")
    if bad:
        notes.append(f"malformed requests not answered with a 4xx: {bad}.")
    if raw.get("load_average_after"):
        notes.append("load average after: " + ", ".join(f"{x:.2f}" for x in raw["load_average_after"]) + ".")
    data = _common(raw, "serve_load", load=raw.get("load_average_before"), notes=" ".join(notes))
    data["tables"] = [{"title": "fastnn serve under load (127.0.0.1)",
                       "columns": ["scenario", "requests", "errors", "requests/s", "p50", "p99", "max",
                                   "server CPU / request", "goal", "met"], "rows": rows}]
    return data


def _sparse_memory(raw):
    mib = lambda v: "-" if v is None else f"{v / 2**20:,.0f} MiB"  # noqa: E731
    rows = []
    for r in raw["results"]:
        if "skipped" in r or "error" in r:
            rows.append([r["phase"], "skipped" if "skipped" in r else "error", "", "", "", "", ""])
            continue
        copies = f"{r['params_copies_seen']:.2f}" if "params_copies_seen" in r else "-"
        ok = {True: "yes", False: "NO"}.get(r.get("within_budget"), "-")
        rows.append([r["phase"], mib(r.get("baseline_rss")), mib(r.get("peak_rss")), mib(r.get("budget")), copies,
                     f"{r['seconds']:.2f} s", ok])
    w = raw["workload"]
    notes = (f"{w['rows']:,} rows x {w['features']:,} features, {w['nnz_per_row']} non-zeros a row, {w['hidden']} "
             f"hidden units, {w['dtype']}, {w['threads']} thread(s); dense X would take "
             f"{w['dense_X_bytes'] / 2**30:,.0f} GiB. 'params copies': (peak - baseline - CSR) / the params' bytes "
             f"(at most {raw.get('params_copies_allowed')} when training).")
    notes += "".join(f" {r['phase']}: {r.get('skipped') or r.get('error')}." for r in raw["results"]
                     if "skipped" in r or "error" in r)
    data = _common(raw, "sparse_memory", load=raw.get("load_before"), notes=notes)
    data["tables"] = [{"title": "Peak memory on text-scale sparse input",
                       "columns": ["phase", "baseline", "peak", "budget", "params copies", "time", "within budget"],
                       "rows": rows}]
    return data


ADAPTERS = {"overhead": _overhead, "tabular": _tabular, "text": _text, "serve_load": _serve_load,
            "sparse_memory": _sparse_memory}


def number(cell):
    """The leading number of a cell such as ``'1.23x'``, ``'96.26%'``, ``'0.582'``, ``'5.4-6.5 s'``."""
    match = re.match(r"\s*([-+]?[0-9][0-9,]*\.?[0-9]*)", cell)
    return float(match.group(1).replace(",", "")) if match else None


def provenance(path, data):
    m = data.get("machine") or {}
    versions = ", ".join(f"{k} {m[k]}" for k in m if k not in ("cpu", "cores", "load_avg"))
    parts = [f"Source: {data['source']} ({path.relative_to(REPO)})",
             f"command: {data['command']}",
             f"date: {data['date'] or 'not recorded'}",
             f"CPU: {m.get('cpu', 'not recorded')}, {m.get('cores', '?')} cores",
             f"load average: {m.get('load_avg', 'not recorded')}",
             f"fastnn {data['fastnn_version']}" + (f", {versions}" if versions else "")]
    return parts


# -- Markdown (README) ----------------------------------------------------------------------


def parse_spec(spec):
    """``"compare.json#0 columns=0,1,3 rows=-1"`` -> (file spec, table index, columns, rows).

    ``columns`` and ``rows`` are lists of indices (negative counts from the end), or None for all.
    """
    file_part, _, rest = spec.partition("#")
    bits = rest.split()
    index = int(bits[0]) if bits else 0
    picked = {"columns": None, "rows": None}
    for bit in bits[1:]:
        key, _, value = bit.partition("=")
        if key not in picked:
            raise ValueError(f"unknown option {key!r} in results spec {spec!r}; use columns= or rows=")
        picked[key] = [int(c) for c in value.split(",")]
    return file_part, index, picked["columns"], picked["rows"]


def markdown_table(spec):
    """The Markdown of one README results block (table and a one-line source)."""
    file_spec, index, columns, rows = parse_spec(spec)
    path, data = load(file_spec)
    table = data["tables"][index]
    cols = columns if columns is not None else list(range(len(table["columns"])))
    body = table["rows"] if rows is None else [table["rows"][r] for r in rows]
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(table["columns"][c]) for c in cols) + " |",
             "|" + "|".join("---:" if c != cols[0] and all(number(r[c]) is not None for r in body) else ":---"
                            for c in cols) + "|"]
    lines += ["| " + " | ".join(esc(row[c]) for c in cols) + " |" for row in body]
    lines.append("")
    lines.append(f"<sub>From [`{path.relative_to(REPO)}`]({path.relative_to(REPO)}) "
                 f"({data['source']}; it records the command, machine, load and date).</sub>")
    return "\n".join(lines) + "\n"


def render_readme(text):
    return README_BLOCK.sub(lambda m: f"<!-- results: {m['spec']} -->\n{markdown_table(m['spec'])}<!-- end results -->",
                            text)


# -- Sphinx ---------------------------------------------------------------------------------


def _table_node(table):
    """A docutils table (title, header row, body) of one results table."""
    from docutils import nodes

    ncols = len(table["columns"])
    node = nodes.table(classes=["results"])
    node += nodes.title(table["title"], table["title"])
    group = nodes.tgroup(cols=ncols)
    node += group
    for _ in range(ncols):
        group += nodes.colspec(colwidth=1)

    def row(cells):
        r = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(cell, cell)
            r += entry
        return r

    head = nodes.thead()
    head += row(table["columns"])
    body = nodes.tbody()
    for cells in table["rows"]:
        body += row(cells)
    group += head
    group += body
    return node


def setup(app):
    from docutils import nodes
    from docutils.parsers.rst import directives
    from sphinx.util.docutils import SphinxDirective

    class ResultsTable(SphinxDirective):
        required_arguments = 1
        final_argument_whitespace = True
        option_spec = {"table": directives.nonnegative_int, "plot": directives.unchanged,
                       "plot-label": directives.unchanged, "if-missing": directives.unchanged_required}

        def run(self):
            try:
                path, data = load(self.arguments[0])
            except FileNotFoundError:
                if "if-missing" not in self.options:
                    raise
                # a benchmark whose results file is not committed yet: say how to make it
                command = self.options["if-missing"].strip().strip("`")
                target = f"bench/results/{self.arguments[0].split('|')[0].strip()}"
                para = nodes.paragraph()
                para += nodes.Text("Not measured yet: run ")
                para += nodes.literal(command, command)
                para += nodes.Text(" (it writes ")
                para += nodes.literal(target, target)
                para += nodes.Text("), then rebuild the docs.")
                note = nodes.note()
                note += para
                return [note]
            self.env.note_dependency(str(path))
            indices = [self.options["table"]] if "table" in self.options else range(len(data["tables"]))
            container = nodes.container(classes=["results-table"])
            for i in indices:
                container += _table_node(data["tables"][i])
                if "plot" in self.options:
                    image = self._plot(path, data["tables"][i], i)
                    container += nodes.image(uri="/" + image, alt=f"{self.options['plot']}, from {path.name}")
            items = provenance(path, data) + ([f"notes: {data['notes']}"] if data.get("notes") else [])
            lines = nodes.bullet_list(classes=["results-provenance"])
            for text in items:
                item = nodes.list_item()
                item += nodes.paragraph(text, text)
                lines += item
            container += nodes.rubric("Provenance", "Provenance")
            container += lines
            return [container]

        def _plot(self, path, table, index):
            import matplotlib

            matplotlib.use("Agg")
            from matplotlib.figure import Figure

            column = self.options["plot"]
            if column not in table["columns"]:
                raise self.error(f"{path.name}: no column {column!r}; columns: {table['columns']}")
            c = table["columns"].index(column)
            rows = [(r[0], number(r[c])) for r in table["rows"] if number(r[c]) is not None]
            fig = Figure(figsize=(7, 0.45 * len(rows) + 0.9), dpi=100)
            ax = fig.add_subplot()
            ax.barh([r[0] for r in rows][::-1], [r[1] for r in rows][::-1], color="#4c72b0")
            ax.set_xlabel(self.options.get("plot-label", column))
            if max(r[1] for r in rows) / max(min(r[1] for r in rows), 1e-9) > 30:
                ax.set_xscale("log")
            fig.tight_layout()
            rel = f"_generated/{path.stem}-{index}-{re.sub(r'[^a-z0-9]+', '-', column.lower()).strip('-')}.png"
            out = pathlib.Path(self.env.srcdir) / rel
            out.parent.mkdir(exist_ok=True)
            fig.savefig(out)
            return rel

    class FastnnCli(SphinxDirective):
        required_arguments = 1

        def run(self):
            os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; fix it so the page is stable
            from fastnn.cli import build_parser

            parser = build_parser()
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            name = self.arguments[0]
            if name not in sub.choices:
                raise self.error(f"no fastnn command {name!r}; commands: {', '.join(sub.choices)}")
            text = sub.choices[name].format_help()
            node = nodes.literal_block(text, text, language="text")
            return [node]

    app.add_directive("results-table", ResultsTable)
    app.add_directive("fastnn-cli", FastnnCli)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Render README's figure tables from bench/results/.")
    ap.add_argument("--readme", action="store_true", help="rewrite README.md's results blocks in place")
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md's results blocks are out of date")
    args = ap.parse_args()
    readme = REPO / "README.md"
    old = readme.read_text()
    new = render_readme(old)
    if args.readme and new != old:
        readme.write_text(new)
    if args.check and new != old:
        sys.exit("README.md's results blocks differ from bench/results/: run python docs/_ext/fastnn_docs.py --readme")
