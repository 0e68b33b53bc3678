"""Files that cannot hurt: writes that replace only regular files, whole or not at all, and reads
that open only regular files.

Writing (:func:`atomic_path`): the data goes to a temporary ``.NAME.XXXXXXXXXXXX.part`` file beside
the target, is synced to disk, and is renamed onto the target only when complete; the folder is
synced after the rename. The target must be absent or a regular file: a folder, a symbolic link,
a FIFO, a socket or a device node is refused, never replaced by a regular file (replacing a copy of
``/dev/null``'s node would have been harmless; run as root on ``/dev/null`` itself, it would not).
A symbolic link is refused rather than written through: replacing the link turns it into a plain
file, and writing through it would put the data somewhere the caller did not name; give the link's
target if that is what you mean.

A writer killed mid-write (SIGKILL, power loss) leaves its ``.part`` file behind; the next write of
the same name removes such files. A ``.part`` file being written is locked (``flock``) by its
writer, so only abandoned ones are removed; where ``flock`` does not exist (Windows), only those
untouched for :data:`STALE_SECONDS`.

Reading (:func:`open_regular`): the file is opened without blocking and checked with ``fstat``, so a
FIFO (which would block ``open`` until a writer appears) or a device is an error at once.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterator
from types import ModuleType
from typing import BinaryIO

_fcntl: ModuleType | None
try:
    import fcntl as _fcntl
except ImportError:  # Windows
    _fcntl = None
fcntl = _fcntl  # one name, typed as "the module or None", for the checks below

__all__ = ["NotARegularFileError", "atomic_path", "check_replaceable", "open_regular", "remove_stale_parts", "kind_of",
           "STALE_SECONDS"]

STALE_SECONDS = 3600.0
"""Without ``flock``, a ``.part`` file untouched for this long counts as abandoned."""

_TOKEN_HEX = 12  # hex digits of the random part of a temporary name


class NotARegularFileError(OSError):
    """The path names something other than a regular file (a FIFO, socket, device or link).

    An :class:`OSError`, so code that handles file errors in general handles it too.

    Examples
    --------
    >>> import os
    >>> from fastnn.files import NotARegularFileError, check_replaceable
    >>> with open("target.txt", "w") as f:
    ...     _ = f.write("data")
    >>> os.symlink("target.txt", "link.txt")
    >>> try:
    ...     check_replaceable("link.txt")
    ... except NotARegularFileError as e:
    ...     print(isinstance(e, OSError), "symbolic link" in str(e))
    True True
    """


def kind_of(mode: int) -> str:
    """What a ``st_mode`` describes, in words: ``"a regular file"``, ``"a FIFO (named pipe)"``, ...

    Examples
    --------
    >>> import os, stat
    >>> from fastnn.files import kind_of
    >>> kind_of(os.stat(".").st_mode), kind_of(stat.S_IFIFO)
    ('a folder', 'a FIFO (named pipe)')
    """
    for test, words in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device")):
        if test(mode):
            return words
    return "not a regular file"


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """Raise unless ``path`` is absent or a regular file (not followed through a symbolic link).

    Raises
    ------
    FileNotFoundError
        For an empty name.
    IsADirectoryError
        For a folder, or a name ending in a path separator.
    NotARegularFileError
        For a symbolic link, FIFO, socket or device node.

    Examples
    --------
    >>> from fastnn.files import check_replaceable
    >>> check_replaceable("not-there-yet.npz")  # absent: fine
    >>> check_replaceable(".")
    Traceback (most recent call last):
    ...
    IsADirectoryError: [Errno 21] a folder, not a file name: '.'
    """
    path = os.fspath(path)
    if not path:
        raise FileNotFoundError(errno.ENOENT, "an empty file name", path)
    if path.endswith((os.sep, os.altsep or os.sep)):
        raise IsADirectoryError(errno.EISDIR, "a folder, not a file name", path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "a folder, not a file name", path)
    hint = ("fastnn does not write through links: give the link's target, or remove the link"
            if stat.S_ISLNK(mode) else "remove it or choose another name")
    raise NotARegularFileError(f"{path!r} is {kind_of(mode)}; fastnn replaces only regular files ({hint})")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    The temporary file lives in the same folder, so the final ``os.replace`` is an atomic
    rename on POSIX and Windows. Its data is synced to disk before the rename and the folder
    after it, so a crash leaves the old file or the new one, never an empty one. On any
    exception the temporary file is removed and an existing ``path`` is left exactly as it
    was. The result has the permissions a plain ``open(path, "w")`` would leave: an existing
    file's, else 0o666 minus the umask.

    Only a regular file is replaced (see :func:`check_replaceable`); abandoned temporary files
    of earlier writes to the same name are removed first.

    Examples
    --------
    >>> import os
    >>> from fastnn.files import atomic_path
    >>> with atomic_path("out.txt") as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("complete")
    >>> open("out.txt").read()
    'complete'
    >>> try:
    ...     with atomic_path("out.txt") as tmp:
    ...         with open(tmp, "w") as f:
    ...             _ = f.write("half")
    ...         raise KeyboardInterrupt  # the writer is stopped before it finishes
    ... except KeyboardInterrupt:
    ...     pass
    >>> open("out.txt").read(), os.path.exists(tmp)  # the old file is intact, the temporary gone
    ('complete', False)
    """
    path = os.fspath(path)
    check_replaceable(path)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_parts(path)
    tmp, lock = _create_part(folder, os.path.basename(path))
    try:
        yield tmp
        _sync_file(tmp)
        check_replaceable(path)  # again: something else may have appeared there meanwhile
        if os.path.exists(path):
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    finally:
        if lock is not None:
            os.close(lock)
    _sync_folder(folder)


def _part_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.[0-9a-f]{{{_TOKEN_HEX}}}\.part$")


def _create_part(folder: str, name: str) -> tuple[str, int | None]:
    """Create a new ``.NAME.XXXX.part`` file; return its path and the descriptor holding its lock.

    The lock tells :func:`remove_stale_parts` in other processes that the file is in use. It is
    taken just after the file is created, so a remover may get in between: then the file is gone
    by the time this writer holds the lock, and a new one is made.
    """
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(_TOKEN_HEX // 2)}.part")
        try:
            # unlike tempfile.mkstemp (always 0o600), mode 0o666 lets the umask decide, as open() does
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        if fcntl is None:
            os.close(fd)  # Windows cannot rename a file that is open
            return tmp, None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks (some network mounts): removers cannot lock it either
            return tmp, fd
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return tmp, fd
        except FileNotFoundError:
            pass
        os.close(fd)  # a remover took it for abandoned between our create and our lock


def remove_stale_parts(path: str | os.PathLike[str]) -> list[str]:
    """Remove the abandoned temporary files that writes to ``path`` left (a writer killed mid-write).

    Returns
    -------
    list of str
        The files removed.

    Examples
    --------
    A temporary file that no writer holds (its writer was killed) is removed:

    >>> import os
    >>> from fastnn.files import remove_stale_parts
    >>> with open(".model.npz.0123456789ab.part", "wb") as f:
    ...     _ = f.write(b"half a model")
    >>> [os.path.basename(p) for p in remove_stale_parts("model.npz")]
    ['.model.npz.0123456789ab.part']
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    pattern = _part_pattern(os.path.basename(path))
    removed: list[str] = []
    try:
        entries = [e for e in os.scandir(folder) if pattern.match(e.name)]
    except OSError:
        return removed
    for entry in entries:
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if _remove_if_abandoned(entry.path):
                removed.append(entry.path)
    return removed


def _remove_if_abandoned(part: str) -> bool:
    """Remove ``part`` if no writer holds it; return whether it was removed."""
    if not stat.S_ISREG(os.lstat(part).st_mode):
        return False  # not ours, whatever its name
    if fcntl is None:
        if time.time() - os.lstat(part).st_mtime <= STALE_SECONDS:
            return False
        os.remove(part)
        return True
    fd = os.open(part, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a writer is at work on it
        # removed while locked, so a writer that created it meanwhile sees it gone (see _create_part)
        os.remove(part)
        return True
    finally:
        os.close(fd)


def _sync_file(path: str) -> None:
    """Flush ``path``'s data to the disk (fsync), so that the rename never publishes an empty file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):  # file systems without folder sync
            raise
    finally:
        os.close(fd)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (a symbolic link to one is followed).

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` before anything is read,
    so a FIFO or a device is refused at once instead of blocking or streaming forever.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, NotARegularFileError, PermissionError

    Examples
    --------
    >>> import os
    >>> from fastnn.files import NotARegularFileError, open_regular
    >>> with open("data.bin", "wb") as f:
    ...     _ = f.write(b"weights")
    >>> with open_regular("data.bin") as f:
    ...     f.read()
    b'weights'
    >>> os.mkfifo("pipe")  # opening a FIFO would block until a writer appears
    >>> try:
    ...     open_regular("pipe")
    ... except NotARegularFileError as e:
    ...     print(e)
    'pipe' is a FIFO (named pipe), not a regular file; fastnn reads only regular files
    """
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
                 | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "a folder, not a file", path)
        if not stat.S_ISREG(mode):
            raise NotARegularFileError(f"{path!r} is {kind_of(mode)}, not a regular file; fastnn reads only "
                                       "regular files")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
