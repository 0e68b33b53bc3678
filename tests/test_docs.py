"""The documentation: docstring examples run, the pages' code runs, figures come from results files."""
import doctest
import importlib
import importlib.util
import json
import pathlib
import re
import sys
import warnings

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
RESULTS = REPO / "bench" / "results"

# Every module whose public names the API reference documents (docs/api/index.rst).
MODULES = ["fastnn.initializers", "fastnn.network", "fastnn.metrics", "fastnn.training", "fastnn.io",
           "fastnn.optim", "fastnn.schedules", "fastnn.activations", "fastnn.losses", "fastnn.augment",
           "fastnn.datasets", "fastnn.committee", "fastnn.export_onnx", "fastnn.images", "fastnn.plotting",
           "fastnn.progress", "fastnn.twin", "fastnn.cli", "fastnn.cli.train", "fastnn.sklearn", "fastnn.server",
           "fastnn.diagnostics", "fastnn.sparse", "fastnn.files"]


def _docs_ext():
    spec = importlib.util.spec_from_file_location("fastnn_docs", DOCS / "_ext" / "fastnn_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -- docstring examples ---------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(mod, module, globs={"np": np}) if t.examples]
    with warnings.catch_warnings():  # an example's warning filters stay inside it
        for test in tests:
            runner.run(test, out=lambda s: sys.stdout.write(s))
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} docstring examples of {module} failed (see the captured output)"


def _public_callables(module):
    import inspect

    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None) or [n for n, o in vars(mod).items() if not n.startswith("_")
                                               and getattr(o, "__module__", None) == mod.__name__]
    out = []
    for n in names:
        obj = getattr(mod, n)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, "__module__", "") == mod.__name__:
            out.append((f"{module}.{n}", obj))
    return out


# Public names whose docstrings have no Examples section yet: the modules are being rewritten
# in parallel, and the lead adds these at merge. The list may only shrink.
WITHOUT_EXAMPLES: set[str] = set()


def _api_reference_names():
    """The public names the API reference documents: ``fastnn.__all__`` and its modules' names."""
    import fastnn

    names = [(f"fastnn.{n}", getattr(fastnn, n)) for n in fastnn.__all__ if callable(getattr(fastnn, n))]
    index = (DOCS / "api" / "index.rst").read_text()
    modules = re.findall(r"^   (\w+)$", index.split("Modules\n-------", 1)[1], flags=re.M)
    assert len(modules) >= 10
    for m in modules:
        names += _public_callables(f"fastnn.{m}")
    return names


def test_public_names_have_examples():
    import inspect

    missing = [name for name, obj in _api_reference_names()
               if "Examples\n--------" not in (inspect.getdoc(obj) or "") and name not in WITHOUT_EXAMPLES]
    assert not missing, f"public names without a numpydoc Examples section: {missing}"
    done = [name for name, obj in _api_reference_names()
            if name in WITHOUT_EXAMPLES and "Examples\n--------" in (inspect.getdoc(obj) or "")]
    assert not done, f"remove {done} from WITHOUT_EXAMPLES: they have examples now"


# -- the pages' code ------------------------------------------------------------------------


# Pages whose code another test runs, with what it needs.
PAGES_RUN_ELSEWHERE = {
    "text.md": "tests/test_sparse.py::test_docs_text_example_on_a_slice runs it on a slice of the Debian data",
}


def _page_blocks():
    out = []
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts or page.name == "topics.md" or str(page.relative_to(DOCS)) in PAGES_RUN_ELSEWHERE:
            continue
        text = page.read_text()
        for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
            out.append(pytest.param(page, text.count("\n", 0, m.start(1)) + 1, m.group(1),
                                    id=f"{page.relative_to(DOCS)}:{text.count(chr(10), 0, m.start()) + 1}"))
    return out


@pytest.mark.mnist
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short max_iter on purpose
@pytest.mark.parametrize("page, first_line, code", _page_blocks())
def test_page_code_runs(page, first_line, code, mnist_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTNN_DATA", str(mnist_dir))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}  # as when the block is saved and run as a script
    exec(compile("\n" * (first_line - 1) + code, str(page), "exec"), namespace)


# -- figures come from results files --------------------------------------------------------

FIGURE = re.compile(r"\d(\.\d+)?\s?(s|ms|%|x)\b")


def _pages():
    return [p for p in sorted(DOCS.rglob("*.md")) + sorted(DOCS.rglob("*.rst"))
            if "_build" not in p.parts and "auto_examples" not in p.parts and "generated" not in p.parts]


def test_doc_pages_type_no_figure_tables():
    stray = []
    for page in _pages():
        for n, line in enumerate(page.read_text().splitlines(), 1):
            is_table = line.lstrip().startswith("|") or re.match(r"^\s*[=+]{3,}[ =+-]*$", line)
            if is_table and FIGURE.search(line):
                stray.append(f"{page.relative_to(REPO)}:{n}: {line.strip()}")
    assert not stray, "a figure table in the docs must be a results-table of a bench/results/ file:\n" + "\n".join(stray)


def _results_directives():
    """``(page, spec, options)`` of every results-table directive in the docs."""
    out = []
    for page in _pages():
        for m in re.finditer(r"```\{results-table\} ([^\n]+)\n((?::[\w-]+:[^\n]*\n)*)", page.read_text()):
            options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", m.group(2), flags=re.M))
            out.append((page, m.group(1), options))
    return out


def test_results_tables_name_existing_results_files():
    ext = _docs_ext()
    directives = _results_directives()
    assert len(directives) >= 8
    for page, spec, options in directives:
        try:
            path, data = ext.load(spec)  # raises when no file of the spec exists or its shape is wrong
        except FileNotFoundError:
            # allowed only where the page says how to make the file (the lead commits it after a run)
            assert "if-missing" in options, f"{page.name}: {spec} does not exist and the directive has no :if-missing:"
            assert options["if-missing"].strip().startswith(("`python bench/", "`FASTNN_DATA")), options
            continue
        assert data["tables"], f"{path} has no tables"


def test_every_results_file_is_well_formed_and_has_provenance():
    ext = _docs_ext()  # results_io's shape, or a script's own shape through the docs' adapters
    files = sorted(RESULTS.glob("*.json"))
    assert files
    for path in files:
        _, data = ext.load(path.name)
        assert data["command"].strip(), path
        assert data["machine"].get("cpu"), path
        if data["source"] == "from the previous README":
            assert re.search(r"previous (bench/)?README", data["notes"]), f"{path}: say where a carried-over figure came from"


def test_results_table_renders_a_written_file(tmp_path, monkeypatch):
    """The chain end to end: a script writes a file, the docs render its figures from it."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import results_io
    finally:
        sys.path.pop(0)
    path = results_io.write_results(tmp_path / "demo.json", benchmark="demo", command="python bench/demo.py",
                                    tables=[{"title": "t", "columns": ["what", "s"], "rows": [["a", "1.25 s"]]}])
    ext = _docs_ext()
    monkeypatch.setattr(ext, "RESULTS", tmp_path)
    monkeypatch.setattr(ext, "REPO", tmp_path)
    md = ext.markdown_table("missing.json | demo.json#0")
    assert "| a | 1.25 s |" in md and "demo.json" in md
    data = json.loads(path.read_text())
    assert data["machine"]["cores"] >= 1 and data["source"] == "measured" and data["date"].endswith("Z")
    with pytest.raises(ValueError, match="columns"):
        results_io.write_results(tmp_path / "bad.json", benchmark="x", command="x",
                                 tables=[{"title": "t", "columns": ["a"], "rows": [["1", "2"]]}])


# What bench/overhead.py, tabular.py and text.py write (their own shapes, abridged), for the
# adapters that turn them into tables before a committed file exists.
SCRIPT_SHAPES = {
    "overhead": {"command": "python bench/overhead.py", "version": "0.1.0", "cpu": "c", "cores": 2, "python": "3",
                 "numpy": "2", "date": "d", "load_before": "0.10, 0.20, 0.30",
                 "results": {"train_1k": {"train_seconds": 0.012, "kernel_seconds": 0.01, "ratio": 1.2,
                                          "outside_epoch_seconds": 0.002, "goal": "ratio <= 1.3"},
                             "chunks_60x1k": {"chunks_seconds": 0.7, "epoch_seconds": 0.6, "ratio": 1.17,
                                              "goal": "ratio <= 1.3"},
                             "threads_first_epoch": {"784-800-10 x20000 2t": {
                                 "first_epoch_seconds": 0.3, "later_epoch_seconds": 0.29, "ratio": 1.03,
                                 "goal": "ratio near 1"}},
                             "threads_scored_loop": {
                                 "nothing": {"epoch_seconds": 0.35, "ratio_to_nothing": 1.0,
                                             "cpu_seconds_in_the_next_half_second": 0.0},
                                 "score": {"epoch_seconds": 0.36, "ratio_to_nothing": 1.03, "goal": "ratio near 1",
                                           "cpu_seconds_in_the_next_half_second": 0.001},
                                 "numpy_product": {"epoch_seconds": 0.5, "ratio_to_nothing": 1.43,
                                                   "cpu_seconds_in_the_next_half_second": 0.104}}}},
    "tabular": {"command": "python bench/tabular.py", "date": "d", "cpu": "c", "cores": 2,
                "load_average_before": [0.1, 0.2, 0.3], "versions": {"fastnn": "0.1.0"}, "repeats": 3,
                "first_fastnn_fit_seconds": 0.5, "total_fit_seconds": {"fastnn": 1.0, "sklearn_mlp": 5.0, "linear": 0.5},
                "rows": [{"table": "breast_cancer", "kind": "classification", "n_train": 426, "n_features": 30,
                          "contender": "fastnn", "score": 0.97, "fit_seconds_median": 0.1, "fit_seconds": [0.1],
                          "goal": 0.93, "meets_goal": True},
                         {"table": "breast_cancer", "kind": "classification", "n_train": 426, "n_features": 30,
                          "contender": "linear", "score": 0.95, "fit_seconds_median": 0.1, "fit_seconds": [0.1]}]},
    "text": {"benchmark": "text", "task": "Debian section", "command": "python bench/text.py", "epochs": 2,
             "train_rows": 100, "test_rows": 20, "classes": 3, "n_features": 2**18, "nnz_per_row": 27.3, "date": "d",
             "cpu": "c", "cores": 2, "load_before": [0.1, 0.2, 0.3], "versions": {"fastnn": "0.1.0"},
             "contenders": [{"name": "fastnn-1t", "epoch_seconds": [0.5, 0.4], "test_accuracy": [0.8, 0.82], "notes": []},
                            {"name": "torch-bag32", "skipped": "torch is not installed"},
                            {"name": "sgd-linear", "epoch_seconds": [0.3], "test_accuracy": [0.85], "notes": ["once"]}]},
}


@pytest.mark.parametrize("name", sorted(SCRIPT_SHAPES))
def test_scripts_own_shapes_become_tables(name, tmp_path, monkeypatch):
    ext = _docs_ext()
    (tmp_path / f"{name}.json").write_text(json.dumps(SCRIPT_SHAPES[name]))
    monkeypatch.setattr(ext, "RESULTS", tmp_path)
    _, data = ext.load(f"{name}.json")
    assert data["source"] == "measured" and data["fastnn_version"] == "0.1.0" and data["machine"]["cpu"] == "c"
    assert data["command"].startswith("python bench/") and data["machine"]["load_avg"].startswith("0.10")
    assert data["tables"] and all(t["rows"] for t in data["tables"])
    cells = [c for t in data["tables"] for r in t["rows"] for c in r]
    assert all(isinstance(c, str) for c in cells)
    expected = {"overhead": "1.20x", "tabular": "0.970", "text": "82.0%"}[name]
    assert expected in cells
    if name == "overhead":  # every comparison the script makes becomes a row
        assert "1.43x" in cells and "1.03x" in cells and "0.104 s" in cells


def test_cli_page_is_generated_from_the_parser():
    text = (DOCS / "user_guide" / "cli.md").read_text()
    from fastnn.cli import COMMANDS

    for command in COMMANDS:
        assert f"```{{fastnn-cli}} {command}\n```" in text, f"the CLI page does not generate `fastnn {command}`"
    assert "--augment" not in text  # the option lists come from the parser, not from prose


# -- install hints --------------------------------------------------------------------------


def test_sklearn_module_names_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    monkeypatch.delitem(sys.modules, "fastnn.sklearn", raising=False)
    with pytest.raises(ImportError, match=re.escape("pip install -e '.[sklearn]'")):
        importlib.import_module("fastnn.sklearn")


@pytest.mark.parametrize("module, missing, extra", [("fastnn.export_onnx", "onnx", "onnx"),
                                                     ("fastnn.plotting", "matplotlib", "cli"),
                                                     ("fastnn.images", "PIL", "cli")])
def test_optional_modules_name_their_extra(module, missing, extra, monkeypatch):
    mod = importlib.import_module(module)
    monkeypatch.setitem(sys.modules, missing, None)
    for sub in [m for m in sys.modules if m.startswith(missing + ".")]:
        monkeypatch.setitem(sys.modules, sub, None)
    helper = {"fastnn.export_onnx": lambda: mod.require_onnx(), "fastnn.plotting": lambda: mod.new_figure("x", 100),
              "fastnn.images": lambda: mod.require_pillow()}[module]
    with pytest.raises(ImportError, match=re.escape(f"pip install -e '.[{extra}]'")):
        helper()


def test_no_install_hint_names_a_distribution_that_is_not_on_the_index():
    hits = [str(p.relative_to(REPO)) for p in (REPO / "fastnn").rglob("*.py") if "fastnn-numba[" in p.read_text()]
    assert not hits, f"'fastnn-numba[...]' is not installable from the index; name the editable install: {hits}"


# -- the built site -------------------------------------------------------------------------


def test_screenshots_of_the_built_site_are_linked_from_readme():
    readme = (REPO / "README.md").read_text()
    for name in ("screenshot-home.png", "screenshot-api.png"):
        path = DOCS / "_static" / name
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        assert f"docs/_static/{name}" in readme
