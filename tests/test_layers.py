"""Layers that hold (issue 30, point 5): the pure modules import no compiled code and no
display, and no module imports another module's private name.

The pure modules (activations, losses, network, optim, initializers) are the readable NumPy
reference; importing them must load neither Numba, fastnn.kernels, nor a progress display or
plotting. Names shared between modules are public (documented)."""
import ast
import pathlib
import subprocess
import sys
import textwrap

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "fastnn"

PURE_MODULES = ("activations", "losses", "network", "optim", "initializers")

PURE_IMPORTS = textwrap.dedent("""
    import importlib, importlib.util, sys, types
    spec = importlib.util.find_spec("fastnn")  # the package's folder, without running its __init__
    package = types.ModuleType("fastnn")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["fastnn"] = package
    for name in {modules!r}:
        importlib.import_module("fastnn." + name)
    assert "fastnn.activations" in sys.modules
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("numba", "tqdm", "matplotlib")
                 or m.startswith(("fastnn.kernels", "fastnn.progress", "fastnn.plotting", "fastnn.training"))))
""")

def private_imports(package=PACKAGE):
    """``{(file, module, name)}`` of every private name a fastnn file takes from another fastnn module:
    ``from .module import _name`` and ``module._name`` where ``module`` was imported from fastnn."""
    found = set()
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).as_posix()
        tree = ast.parse(path.read_text())
        modules = {}  # local name -> fastnn module name
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                base = (node.module or "").split(".")[-1]
                for alias in node.names:
                    name = alias.name
                    if node.module is None or base in ("", "fastnn"):  # from . import module
                        modules[alias.asname or name] = name
                        continue
                    if name.startswith("_") and not name.startswith("__"):
                        found.add((rel, base, name))
                    modules.setdefault(alias.asname or name, None)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and modules.get(node.value.id) and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.add((rel, modules[node.value.id], node.attr))
    # a package-private module imported whole by its sibling (``from . import _idx``) is not a private name
    return {f for f in found if not f[1].startswith("_")}


def test_the_pure_modules_import_no_compiled_code_and_no_display():
    script = PURE_IMPORTS.format(modules=PURE_MODULES)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_private_name_is_imported_across_modules():
    found = private_imports()
    assert not found, f"private names imported from another module: {sorted(found)}; make them public"


def test_the_scan_sees_private_imports(tmp_path):
    """The scan finds both forms in a package made for the purpose (so it is not blind)."""
    (tmp_path / "a.py").write_text("def _helper():\n    pass\n")
    (tmp_path / "b.py").write_text("from .a import _helper\n")
    (tmp_path / "c.py").write_text("from . import a\na._helper()\n")
    (tmp_path / "d.py").write_text("from .a import helper\nfrom . import _idx\n")  # public, package-private module
    assert private_imports(tmp_path) == {("b.py", "a", "_helper"), ("c.py", "a", "_helper")}
