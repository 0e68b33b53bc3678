"""README.md: short, free of lab-notebook provenance, its commands and examples working as written."""
import importlib.util
import pathlib
import re
import shlex
import warnings

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MAX_LINES = 250

# What belongs in a results file, not in prose: dates, clock times, commit hashes and words
# about how the work was done.
DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b|\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* (19|20)\d\d\b"
                  r"|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2},? (19|20)\d\d\b")
CLOCK = re.compile(r"(?<![\d.:])([01]?\d|2[0-3]):[0-5]\d(?![\d.:])")
NOTEBOOK_WORDS = re.compile(r"\b(this session|sessions?|this (machine|host)|scratch script|not kept|"
                            r"in an earlier run|yesterday|this morning|this afternoon)\b", re.I)


def _text():
    return README.read_text()


def _blocks(lang):
    """``(first line number, code)`` of every fenced block of ``lang``, in order."""
    text = _text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1))
            for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)]


def _prose_lines():
    """The README's lines outside code blocks and outside the rendered results blocks."""
    out, fenced, results = [], False, False
    for n, line in enumerate(_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("<!-- results:"):
            results = True
        elif line.startswith("<!-- end results"):
            results = False
        elif not fenced and not results:
            out.append((n, line))
    return out


def test_readme_is_short():
    lines = _text().count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; keep it within {MAX_LINES} and move detail to docs/"


@pytest.mark.parametrize("pattern", [DATE, CLOCK, NOTEBOOK_WORDS], ids=["dates", "clock times", "notebook words"])
def test_readme_has_no_provenance_in_prose(pattern):
    # The whole file, tables included: provenance lives in bench/results/*.json.
    hits = [(n, line) for n, line in enumerate(_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, f"README.md carries provenance that belongs in a results file: {hits}"


def test_readme_names_no_commit():
    hits = [(n, line) for n, line in _prose_lines()
            if re.search(r"\bcommit\b", line, re.I) or re.search(r"(?<![\w/.-])[0-9a-f]{7,12}(?![\w/.-])", line)]
    assert not hits, f"README.md names commits: {hits}"


def test_the_checks_catch_what_they_are_for():
    assert DATE.search("on 2026-11-27 from") and CLOCK.search("from 15:01 (load") and CLOCK.search("at 9:05")
    assert not CLOCK.search("version 0.10.2") and not CLOCK.search("http://127.0.0.1:8000/")
    assert NOTEBOOK_WORDS.search("a short job of this session ran") and NOTEBOOK_WORDS.search("On this machine")


def test_quickstart_has_the_venv_and_both_commands():
    text = _text()
    quick = text[text.index("## Install"):text.index("## A tour")]
    assert "python3 -m venv .venv && . .venv/bin/activate" in quick
    assert 'python -m pip install -e ".[cli]" && FASTNN_DATA=../shared/mnist fastnn train' in quick
    assert 'python -m pip install -e ".[test]" && FASTNN_DATA=../shared/mnist ' in quick


def test_readme_shows_the_test_command_ci_runs():
    ci = (REPO / ".ci" / "run").read_text()
    cmd = re.search(r"^TEST_CMD='([^']+)'", ci, flags=re.M).group(1)
    quick = _text()[_text().index("## Quickstart"):_text().index("## A tour")]
    assert cmd in quick, f".ci/run runs {cmd!r}, which the Quickstart must show"


def test_every_extra_has_its_install_line():
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    text = _text()
    missing = [e for e in extras if e != "bench" and f'".[{e}' not in text and f",{e}]" not in text]
    assert not missing, f"README.md gives no install line for the extras {missing}"


def test_readme_links_and_files_exist():
    text = _text()
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    targets += re.findall(r"\b(examples/digits/[\w.]+)", text)
    missing = sorted({t for t in targets if not (REPO / t).exists()})
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_readme_figures_come_from_results_files():
    spec = importlib.util.spec_from_file_location("fastnn_docs", REPO / "docs" / "_ext" / "fastnn_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = _text()
    assert len(mod.README_BLOCK.findall(text)) >= 3
    assert mod.render_readme(text) == text, "run python docs/_ext/fastnn_docs.py --readme"
    # and no table of figures outside those blocks
    stray = [(n, line) for n, line in _prose_lines() if line.startswith("|") and re.search(r"\d(\.\d+)?( ?s|%|x)\b", line)]
    assert not stray, f"figure tables must be rendered from bench/results/: {stray}"


def test_cli_lines_in_readme_parse():
    from fastnn.cli import build_parser

    parser = build_parser()
    parsed = []
    for _, block in _blocks("bash"):
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if line.startswith("fastnn "):
                args = parser.parse_args(shlex.split(line)[1:])  # exits (fails the test) on an unknown option
                parsed.append(args.command if hasattr(args, "command") else line)
    assert parsed, "README shows no fastnn command line to check"


@pytest.mark.mnist
@pytest.mark.slow
# max_iter=5 stops the README's estimator on purpose; scikit-learn says so with a ConvergenceWarning
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_readme_examples_run(mnist_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FASTNN_DATA", str(mnist_dir))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}  # as when the README's code is saved and run as a script
    blocks = _blocks("python")
    assert len(blocks) >= 4
    for first_line, block in blocks:
        # padded so that a traceback or warning names the README's own line
        exec(compile("\n" * (first_line - 1) + block, str(README), "exec"), namespace)
    assert namespace["meta"]["layer_sizes"] == [784, 128, 64, 10]
    assert namespace["history"]["val_accuracy"][-1] > 0.95
    assert int(namespace["state"]["step"]) == 1
    assert namespace["clf"].n_iter_ == 5
    out = capsys.readouterr().out
    assert "[[" in out  # the confusion matrix was printed


def test_warnings_point_at_readme_lines():
    first_line, _ = _blocks("python")[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile("\n" * (first_line - 1) + "import warnings\nwarnings.warn('here')\n", str(README), "exec"), {})
    assert caught[0].lineno == first_line + 1 and caught[0].filename == str(README)
