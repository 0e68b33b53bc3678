"""Where Numba keeps fastnn's compiled kernels when the install folder is read-only.

Numba writes its cache beside the code, or else in the user's cache folder. When neither
is writable (a service account, a container with a read-only home), decorating a
``cache=True`` kernel raises, and ``import fastnn`` would fail. This module runs before
any kernel is imported and then points Numba at a private folder of this user's in the
temporary directory. Numba's cache files are pickles, so a folder someone else could have
planted there is never trusted: it must belong to this user and be writable by no one else.
"""
import os
import stat
import tempfile

from numba import config


def _writable(folder: str) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
        return True
    except OSError:
        return False


def _private(folder: str) -> str | None:
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    mine = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022
    return folder if mine and _writable(folder) else None


def ensure_cache_dir() -> None:
    """Set ``numba.config.CACHE_DIR`` if Numba would otherwise have nowhere to cache.

    ``import fastnn`` calls it; calling it again changes nothing.

    Examples
    --------
    >>> from numba import config
    >>> from fastnn._numba_cache import ensure_cache_dir
    >>> before = config.CACHE_DIR
    >>> ensure_cache_dir()
    >>> config.CACHE_DIR == before
    True
    """
    # numba.config defines its settings inside a function, through globals(): mypy cannot see them
    if config.CACHE_DIR:  # type: ignore[attr-defined]
        return
    from . import kernels  # the package only: its __init__ compiles nothing

    if _writable(os.path.join(os.path.dirname(os.path.abspath(kernels.__file__)), "__pycache__")):
        return
    from numba.misc.appdirs import AppDirs

    if _writable(AppDirs(appname="numba", appauthor=False).user_cache_dir):
        return
    folder = (_private(os.path.join(tempfile.gettempdir(), f"fastnn-numba-{os.getuid()}"))
              or tempfile.mkdtemp(prefix="fastnn-numba-"))
    config.CACHE_DIR = folder  # type: ignore[attr-defined]
