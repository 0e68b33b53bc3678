"""Machine-readable benchmark results: one JSON file per benchmark under ``bench/results/``.

The README and the documentation render their figure tables and plots from these files
(``docs/_ext/results.py``), so a figure is re-measured by re-running the command a file
records, never re-typed. A results file is one JSON object:

``benchmark``
    the script's short name (``compare``, ``accuracy_recipes``, ...).
``command``
    the command line that produced it, runnable from the repository root.
``date``
    when it ran, ISO 8601 in UTC (``null`` when the source did not say).
``fastnn_version``, ``machine``
    the fastnn version and a dict: ``cpu``, ``cores``, ``load_avg`` (1, 5, 15 minutes at
    the start), ``python``, ``numpy``, ``numba``, ``blas`` and the peers' versions.
``source``
    ``"measured"`` when the script wrote it, or ``"from the previous README"`` for a figure
    carried over from the old README with the provenance it gave there (to re-measure).
``notes``
    free text: what to keep in mind when reading the figures.
``tables``
    a list of ``{"title", "columns", "rows"}``; every cell is a string as it should be
    shown (the script formats its own numbers), ``rows`` a list of lists.

Scripts call :func:`write_results`; :func:`load_results` checks a file's shape.
"""
import datetime
import json
import os
import pathlib
import platform

RESULTS_DIR = pathlib.Path(__file__).resolve().parent / "results"
REQUIRED = ("benchmark", "command", "date", "fastnn_version", "machine", "source", "tables")
SOURCES = ("measured", "from the previous README")


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo``), or what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine(extra=None):
    """The machine and software a run is measured on, as a dict (``extra`` adds peers' versions)."""
    import numba
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # numpy < 1.26 has no mode="dicts"; the BLAS name is only informative
        blas_name = "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = {"cpu": cpu_model(), "cores": cores, "load_avg": load_average(), "python": platform.python_version(),
           "numpy": np.__version__, "numba": numba.__version__, "blas": blas_name}
    out.update(extra or {})
    return out


def write_results(path, *, benchmark, command, tables, notes="", machine_info=None, date=None):
    """Write one results file (see the module docstring) and return its path.

    ``machine_info`` should be taken with :func:`machine` *before* the run, so that the load
    average is the one the run started from.
    """
    from fastnn import __version__

    for t in tables:
        if set(t) != {"title", "columns", "rows"} or any(len(r) != len(t["columns"]) for r in t["rows"]):
            raise ValueError(f"a table needs title, columns and rows of len(columns) cells, got {t!r}")
    data = {
        "benchmark": benchmark,
        "command": command,
        "date": date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fastnn_version": __version__,
        "machine": machine_info or machine(),
        "source": "measured",
        "notes": notes,
        "tables": [{"title": t["title"], "columns": list(t["columns"]), "rows": [[str(c) for c in r] for r in t["rows"]]}
                   for t in tables],
    }
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def load_results(path):
    """Read a results file and check its shape; raise ValueError naming what is missing."""
    data = json.loads(pathlib.Path(path).read_text())
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{path}: results file lacks {', '.join(missing)}")
    if data["source"] not in SOURCES:
        raise ValueError(f"{path}: source must be one of {SOURCES}, got {data['source']!r}")
    for t in data["tables"]:
        if any(len(r) != len(t["columns"]) for r in t["rows"]):
            raise ValueError(f"{path}: table {t.get('title')!r} has a row whose length differs from its columns")
    return data
