"""Write files so that a crash never leaves a half-written file in place."""
import contextlib
import errno
import os
import secrets
import shutil


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    The temporary file lives in the same folder, so the final ``os.replace`` is an
    atomic rename on POSIX and Windows. On any exception the temporary file is removed
    and an existing ``path`` is left exactly as it was. The result has the permissions
    a plain ``open(path, "w")`` would leave: an existing file's, else 0o666 minus the umask.
    """
    path = os.fspath(path)
    if not path:
        raise FileNotFoundError(errno.ENOENT, "an empty file name", path)
    if os.path.isdir(path) or path.endswith((os.sep, os.altsep or os.sep)):
        raise IsADirectoryError(errno.EISDIR, "a folder, not a file name", path)
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.part")
        try:
            # unlike tempfile.mkstemp (always 0o600), mode 0o666 lets the umask decide, as open() does
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    os.close(fd)
    try:
        yield tmp
        if os.path.exists(path):
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
