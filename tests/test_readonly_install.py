"""fastnn installed in a folder nobody may write to: the kernels still compile, run and are
cached, and nothing alarming is printed.

Numba caches a ``cache=True`` kernel in ``__pycache__`` beside its source when it can write
there, else in the user-wide cache (``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``), or in
``$NUMBA_CACHE_DIR`` when that is set. Each case copies the package into a temporary folder
laid out as installed (``fastnn/`` with ``fastnn/kernels/``), makes it read-only, and runs a
subprocess with a clean Numba environment.

Root ignores file permissions, so as root the subprocess runs through ``setpriv
--bounding-set=-all``: still uid 0 but with no capabilities (no CAP_DAC_OVERRIDE), so the
permission bits apply to it. Each subprocess first proves that it cannot write into the
package folder, so this test cannot pass vacuously.
"""
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SLOW = os.environ.get("FASTNN_SLOW", "") not in ("", "0")

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses Linux permissions and setpriv")

SCRIPT = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {site!r})
    import numpy as np
    import fastnn
    from fastnn.kernels import elementwise

    package = os.path.dirname(fastnn.__file__)
    try:
        open(os.path.join(package, "kernels", "probe"), "w").close()
        writable = True
    except PermissionError:
        writable = False
    params = fastnn.init_params([6, 5, 3], seed=0)
    X = np.random.default_rng(0).random((8, 6), dtype=np.float32)
    y = np.arange(8) % 3
    out, cache = fastnn.forward(params, X)              # pure NumPy
    grads = fastnn.backward(params, cache, y)
    flat = np.ascontiguousarray(out).ravel()
    scratch = np.empty_like(flat)
    elementwise.relu(flat, scratch)                     # two small kernels: compiled, or loaded from the cache
    elementwise.relu_mask_grad(flat, flat, scratch)
    report = {{
        "fastnn": fastnn.__file__, "writable": writable, "finite": bool(np.isfinite(out).all()),
        "grads_finite": all(bool(np.isfinite(g).all()) for g in grads.values()),
        "cache_path": elementwise.relu.stats.cache_path,
        "hits": sum(len(f.stats.cache_hits) for f in (elementwise.relu, elementwise.relu_mask_grad)),
        "misses": sum(len(f.stats.cache_misses) for f in (elementwise.relu, elementwise.relu_mask_grad)),
    }}
    if {train}:  # the fused SGD kernel: a long first compile
        trained, history = fastnn.train(params, X, y, epochs=2, seed=0)
        report["train_loss"] = history["loss"]
    print(json.dumps(report))
""")


def _as_unprivileged():
    """The command prefix that makes file permissions apply to the subprocess, or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe = subprocess.run([setpriv, "--bounding-set=-all", "--inh-caps=-all", "--", sys.executable, "-c", "0"],
                           capture_output=True)
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--"] if probe.returncode == 0 else None


@pytest.fixture(scope="module")
def install():
    """A read-only copy of the package: ``<base>/site/fastnn`` and ``<base>/site/fastnn/kernels``."""
    prefix = _as_unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot make a folder unwritable for a subprocess")
    base = pathlib.Path(tempfile.mkdtemp(prefix="fastnn-readonly-"))
    site = base / "site"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(REPO / "fastnn", site / "fastnn", ignore=ignore)
    shutil.copytree(REPO / "kernels", site / "fastnn" / "kernels", ignore=ignore)
    for folder, dirs, files in os.walk(site):
        for name in dirs + files:
            path = os.path.join(folder, name)
            os.chmod(path, os.stat(path).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    os.chmod(site, 0o555)
    yield base, prefix
    for folder, dirs, _ in os.walk(base):
        os.chmod(folder, 0o755)
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
    shutil.rmtree(base)


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*"))


def run(install, home, train=False, **env_extra):
    base, prefix = install
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NUMBA_", "PYTHON")) and k not in ("XDG_CACHE_HOME", "HOME")}
    env.update(HOME=str(home), **env_extra)
    script = SCRIPT.format(site=str(base / "site"), train=train)
    before = _files(base / "site")
    proc = subprocess.run([*prefix, sys.executable, "-I", "-c", script], capture_output=True, text=True, env=env,
                          timeout=600)
    assert _files(base / "site") == before, "something was written into the read-only package"
    return proc


def _report(proc, install):
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    base, _ = install
    assert report["fastnn"].startswith(str(base / "site")), report["fastnn"]
    assert report["writable"] is False, "the package folder was writable: the test proves nothing"
    assert report["finite"] and report["grads_finite"]
    return report


def test_read_only_install_caches_kernels_in_the_user_cache(install):
    """The common case (site-packages owned by root, a user with a home): Numba falls back to
    ~/.cache/numba, silently. The second run loads the kernels from there: no compilation."""
    home = install[0] / "home"
    home.mkdir()
    first = run(install, home, train=SLOW)
    report = _report(first, install)
    assert first.stderr == "", f"something was printed on stderr:\n{first.stderr}"
    assert report["cache_path"].startswith(str(home / ".cache" / "numba")), report["cache_path"]
    assert report["misses"] == 2 and report["hits"] == 0  # compiled, and saved
    second = run(install, home, train=SLOW)
    again = _report(second, install)
    assert second.stderr == ""
    assert again["hits"] == 2 and again["misses"] == 0  # loaded from the user cache
    if SLOW:
        assert again["train_loss"] == report["train_loss"]


def test_numba_cache_dir_is_used_when_given(install):
    """The documented way out: NUMBA_CACHE_DIR names a writable folder."""
    home = install[0] / "home-ro-1"
    home.mkdir(mode=0o555)
    cache = install[0] / "numba-cache"
    cache.mkdir()
    proc = run(install, home, NUMBA_CACHE_DIR=str(cache))
    report = _report(proc, install)
    assert proc.stderr == ""
    assert report["cache_path"].startswith(str(cache))


def test_import_works_with_no_writable_cache_anywhere(install):
    """A service account, a container with a read-only home, or ``nobody`` (home /nonexistent)."""
    home = install[0] / "home-ro-2"
    home.mkdir(mode=0o555)
    proc = run(install, home)
    report = _report(proc, install)
    assert proc.stderr == ""
    assert not report["cache_path"].startswith(str(install[0]))
