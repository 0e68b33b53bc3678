"""Sphinx directives that render the docs' figures and option lists from their sources.

``results-table``
    Renders the tables of a benchmark results file under ``bench/results/`` (see
    ``bench/results_io.py``) with the provenance it records (command, date, machine,
    load, versions, and whether it was measured or carried over), and optionally a bar
    chart of one column. The argument may name alternatives, ``threads.json |
    threads-previous-readme.json``: the first file that exists is used, so a fresh
    measurement replaces a carried-over one without editing the page.
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
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from results_io import load_results
    finally:
        sys.path.pop(0)
    path = resolve(spec)
    return path, load_results(path)


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
                       "plot-label": directives.unchanged}

        def run(self):
            path, data = load(self.arguments[0])
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
