"""Sphinx configuration of the fastnn documentation.

Build (no network needed; intersphinx is off):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery trains small networks on MNIST at build time: set FASTNN_DATA to the folder of
the four MNIST files.
"""
import os
import pathlib
import re
import sys
import warnings

DOCS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("COLUMNS", "100")
if os.environ.get("FASTNN_DATA"):  # sphinx-gallery runs each example from its own folder: make it absolute
    # Sphinx reads this file from docs/, so a relative path means one from where the build was started:
    # the repository root (where README runs it), else the shell's folder
    given = os.environ["FASTNN_DATA"]
    starts = [str(DOCS.parent), os.environ.get("PWD", ""), os.getcwd()]
    found = [os.path.join(s, given) for s in starts if s and os.path.isdir(os.path.join(s, given))]
    os.environ["FASTNN_DATA"] = os.path.abspath(found[0] if found else given)

import fastnn  # noqa: E402

project = "fastnn"
author = "the fastnn authors"
copyright = "the fastnn authors"
version = release = fastnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "fastnn_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "gallery/README.txt", "**/sg_execution_times.rst", "sg_execution_times.rst"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_theme = "pydata_sphinx_theme"
html_title = f"fastnn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "write_computation_times": False,
    "abort_on_example_error": True,
}

# Pages that other parts of the project add under docs/ (serving.md, tabular.md, ...) are
# listed on a "More topics" page written here, so that adding one needs no edit of the index;
# those the user guide's toctree lists (as "/tabular", ...) are left out, as they have a place.
KNOWN_PAGES = {"index", "getting_started", "benchmarks", "how_it_is_fast", "topics"}
IN_GUIDE = set(re.findall(r"^/([\w-]+)$", (DOCS / "user_guide" / "index.md").read_text(), flags=re.M))
extra = sorted(p.stem for p in DOCS.glob("*.md")
               if p.stem not in KNOWN_PAGES | IN_GUIDE and not p.stem.startswith("_"))
topics = ["# More topics", "", "Pages on single topics, beside the user guide.", ""]
topics += ["```{toctree}", ":maxdepth: 1", ""] + extra + ["```", ""] if extra else ["None yet.", ""]
text = "\n".join(topics)
if not (DOCS / "topics.md").exists() or (DOCS / "topics.md").read_text() != text:
    (DOCS / "topics.md").write_text(text)

warnings.filterwarnings("ignore", message="Matplotlib is currently using agg", category=UserWarning)

# Single pages have no section to navigate: no empty left sidebar for them.
html_sidebars = {page: [] for page in ("index", "getting_started", "benchmarks", "how_it_is_fast", "topics")}
