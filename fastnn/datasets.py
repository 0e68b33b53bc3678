"""MNIST and Fashion-MNIST: find the IDX files, verify them, download them if need be, load them.

Places searched, in order (see :func:`search_path`):

1. the ``path`` argument (and its subfolder ``<name>``); when given, nothing else is searched;
2. ``$FASTNN_DATA/<name>``, then ``$FASTNN_DATA``;
3. the user cache, ``$XDG_CACHE_HOME/fastnn/<name>`` or ``~/.cache/fastnn/<name>``;
4. system folders (Fashion-MNIST only: Debian's ``/usr/share/datasets/fashion-mnist``,
   from the package ``dataset-fashion-mnist``);
5. a download from :data:`MIRRORS` into the user cache.

``<name>`` is ``"mnist"`` or ``"fashion-mnist"``. Both data sets use the same four file names,
so a folder is identified by the SHA-256 of its files, never by its name.
"""
import hashlib
import os
import pathlib
import urllib.error
import urllib.request
import http.client
from collections.abc import Sequence
from typing import IO, NamedTuple, Optional

import numpy as np
from numpy.typing import DTypeLike

from . import _idx
from .files import atomic_path
from ._version import __version__
from .progress import Bar, load_tqdm, progress_bar
from .typing import PathLike
from .validation import check_dtype, check_flag

DATASETS = ("mnist", "fashion-mnist")
STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

#: Public mirrors, tried in order; each is a base URL that the four ``<stem>.gz`` names are appended to.
#: A module-level dict so that tests and users can replace it.
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

#: Read-only folders that packages install (searched after the user cache).
SYSTEM_DIRS = {
    "mnist": [],
    "fashion-mnist": ["/usr/share/datasets/fashion-mnist"],
}

#: Seconds a download may wait to connect or between two reads.
DOWNLOAD_TIMEOUT = 30.0


class _Known(NamedTuple):
    dataset: str
    stem: str
    form: str  # "gz": the file as published; "content": the decompressed IDX bytes
    size: int
    source: str


# SHA-256 -> what the file is. Sources:
# - MNIST .gz: ../shared/mnist/SHA256SUMS (the files published at yann.lecun.com/exdb/mnist).
# - Fashion-MNIST .gz as published: computed from the upstream files rebuilt from Debian's copies
#   (see "debian" below) and confirmed against the MD5s the Fashion-MNIST README publishes
#   (train-images 8d4fb7e6..., train-labels 25c81989..., t10k-images bef4ecab..., t10k-labels bb300cfd...).
# - Fashion-MNIST .gz as Debian ships them (dataset-fashion-mnist 0.0~git20200523.55506a9-1):
#   Debian's build drops the gzip FNAME field and resets MTIME, so the bytes differ from upstream
#   while the deflate stream, its CRC-32 and the data are identical.
# - "content": SHA-256 of the uncompressed IDX file, computed from the verified .gz files; it checks
#   gunzipped copies and .gz files recompressed by someone else.
_KNOWN = {
    # MNIST
    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609": _Known("mnist", STEMS[0], "gz", 9912422, "published"),
    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c": _Known("mnist", STEMS[1], "gz", 28881, "published"),
    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6": _Known("mnist", STEMS[2], "gz", 1648877, "published"),
    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6": _Known("mnist", STEMS[3], "gz", 4542, "published"),
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db": _Known("mnist", STEMS[0], "content", 47040016, "content"),
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5": _Known("mnist", STEMS[1], "content", 60008, "content"),
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7": _Known("mnist", STEMS[2], "content", 7840016, "content"),
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2": _Known("mnist", STEMS[3], "content", 10008, "content"),
    # Fashion-MNIST
    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84": _Known("fashion-mnist", STEMS[0], "gz", 26421880, "published"),
    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845": _Known("fashion-mnist", STEMS[1], "gz", 29515, "published"),
    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073": _Known("fashion-mnist", STEMS[2], "gz", 4422102, "published"),
    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5": _Known("fashion-mnist", STEMS[3], "gz", 5148, "published"),
    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7": _Known("fashion-mnist", STEMS[0], "gz", 26421856, "debian"),
    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056": _Known("fashion-mnist", STEMS[1], "gz", 29491, "debian"),
    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa": _Known("fashion-mnist", STEMS[2], "gz", 4422079, "debian"),
    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05": _Known("fashion-mnist", STEMS[3], "gz", 5125, "debian"),
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888": _Known("fashion-mnist", STEMS[0], "content", 47040016, "content"),
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9": _Known("fashion-mnist", STEMS[1], "content", 60008, "content"),
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b": _Known("fashion-mnist", STEMS[2], "content", 7840016, "content"),
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34": _Known("fashion-mnist", STEMS[3], "content", 10008, "content"),
}

_SHAPES = {"images": (None, 28, 28), "labels": (None,)}


class DatasetNotFoundError(FileNotFoundError):
    """No verified copy of a data set anywhere, and no download succeeded.

    The message lists every place tried and how to supply the files.

    Examples
    --------
    >>> from fastnn.datasets import DatasetNotFoundError
    >>> issubclass(DatasetNotFoundError, FileNotFoundError)          # caught by ``except OSError`` too
    True
    """


class ChecksumError(ValueError):
    """A file's SHA-256 matches none of the known files: corrupted, truncated or not the data set.

    Examples
    --------
    >>> from fastnn.datasets import ChecksumError
    >>> issubclass(ChecksumError, ValueError)
    True
    """


class DownloadError(OSError):
    """Every mirror failed for one file; the message says how each one failed.

    Examples
    --------
    >>> from fastnn.datasets import DownloadError
    >>> issubclass(DownloadError, OSError)
    True
    """


class Location(NamedTuple):
    """One place searched for a data set, and what was found there.

    ``status`` is one of ``"ok"`` (all four files present and verified), ``"absent"``,
    ``"incomplete"``, ``"other"`` (the files are the other data set) or ``"corrupt"``.

    Examples
    --------
    >>> import tempfile
    >>> from fastnn.datasets import inspect
    >>> location = inspect("mnist", tempfile.mkdtemp())
    >>> location._fields
    ('dataset', 'source', 'folder', 'status', 'detail', 'files')
    """

    dataset: str
    source: str
    folder: pathlib.Path
    status: str
    detail: str
    files: tuple[Optional[pathlib.Path], ...]

    @property
    def present(self) -> bool:
        """Whether a verified copy is here."""
        return self.status == "ok"

    def describe(self) -> str:
        """``source: folder: detail``, one line."""
        return f"{self.source}: {self.folder}: {self.detail}"


# --------------------------------------------------------------------------------------------
# public functions


def load_mnist(path: Optional[PathLike] = None, *, fashion: bool = False, normalize: bool = True, flatten: bool = True,
               dtype: DTypeLike = "float32") -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST (or Fashion-MNIST) as ``(X_train, y_train), (X_test, y_test)``.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Folder holding the four IDX files (``train-images-idx3-ubyte.gz`` ...), or a folder with
        a subfolder ``mnist`` / ``fashion-mnist`` holding them. When given, only this folder is
        used. When omitted: ``$FASTNN_DATA``, the user cache, Debian's folder (Fashion-MNIST), then
        a download from :data:`MIRRORS` into the user cache (see the module docstring).
    fashion : bool
        Load Fashion-MNIST instead of MNIST.
    normalize : bool
        True: images as ``dtype`` scaled to [0, 1] (pixel / 255). False: the raw uint8 pixels
        (``dtype`` is then not used).
    flatten : bool
        True: images as rows of 784 pixels; False: 28 x 28.
    dtype : {"float32", "float64"}
        Float type of normalized images.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        Images of shape (60000, 784) and (10000, 784) (or ``(n, 28, 28)``), labels int64 in 0..9.
        All four arrays are writeable and owned by the caller.

    Raises
    ------
    DatasetNotFoundError
        (a ``FileNotFoundError``) when no copy is found and the download fails; the message lists
        every place tried and how to supply the files.
    ValueError
        When a file is corrupted or truncated (:class:`ChecksumError`) or is not a valid IDX file;
        the message names the file. Also for a bad ``dtype``.

    Notes
    -----
    ``.gz`` files are verified by their SHA-256 against the published checksums. A ``.gz`` that was
    recompressed (so its own hash is unknown) is accepted when the SHA-256 of its decompressed
    content matches. Uncompressed files (for example gunzipped by the user) cannot be checked
    against the ``.gz`` hashes; they are validated structurally (magic number, dimensions, exact
    length) and by the SHA-256 of their content. Each file is hashed once per process for a
    given path, size and modification time.

    Examples
    --------
    >>> from fastnn.datasets import load_mnist
    >>> (X, y), (X_test, y_test) = load_mnist()      # doctest: +SKIP
    >>> X.shape, X.dtype, y[:5]                      # doctest: +SKIP
    ((60000, 784), dtype('float32'), array([5, 0, 4, 1, 9]))
    """
    fashion = check_flag(fashion, "fashion")
    normalize = check_flag(normalize, "normalize")
    flatten = check_flag(flatten, "flatten")
    dt = check_dtype(dtype)
    name = "fashion-mnist" if fashion else "mnist"
    folder = find(name, path)
    files: dict[str, pathlib.Path] = {}
    for stem in STEMS:
        picked = _pick(folder, stem)
        if picked is None:  # removed since find() verified the folder
            raise DatasetNotFoundError(f"{folder}: {stem}[.gz] disappeared while loading; load again")
        files[stem] = picked
    arrays = {stem: _load_verified(files[stem], name, stem) for stem in STEMS}
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        if len(images) != len(labels):
            raise ValueError(f"{files[split + '-images-idx3-ubyte']}: {len(images)} images but {len(labels)} labels")
        if flatten:
            images = images.reshape(len(images), -1)
        if normalize:
            # one pass: uint8 -> dtype and the division fused in one ufunc call
            images = np.divide(images, dt.type(255), dtype=dt)
        elif not images.flags.writeable:  # a view on the decompressed bytes
            images = images.copy()
        out.append((images, labels.astype(np.int64)))
    return out[0], out[1]


def find(name: str = "mnist", path: Optional[PathLike] = None) -> pathlib.Path:
    """Return the folder holding a verified copy of ``name``, downloading it if there is none.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    path : str or os.PathLike, optional
        Use only this folder (or its subfolder ``name``): no other place, no download.

    Raises
    ------
    DatasetNotFoundError, ChecksumError
        See :func:`load_mnist`.

    Examples
    --------
    >>> from fastnn.datasets import find
    >>> folder = find("mnist")                       # doctest: +SKIP
    """
    _check_name(name)
    if path is not None:
        path = _check_path(path)
    tried: list[Location] = []
    for place in search_path(name, path):
        loc = inspect(name, place[1], source=place[0])
        tried.append(loc)
        if loc.status == "ok":
            return loc.folder
        if loc.status == "corrupt":
            hint = "delete it to have it downloaded again" if loc.source == "cache" else "replace or delete it"
            raise ChecksumError(f"{TITLES[name]}: {loc.detail}; {hint}")
    if path is not None:
        raise DatasetNotFoundError(_not_found_message(name, tried, None, explicit=True))
    try:
        return download(name)
    except DownloadError as exc:
        raise DatasetNotFoundError(_not_found_message(name, tried, exc)) from None


def search_path(name: str = "mnist", path: Optional[PathLike] = None) -> list[tuple[str, pathlib.Path]]:
    """The places searched for ``name``, in order, as ``(source, folder)`` pairs.

    With ``path`` only ``path/<name>`` and ``path`` are searched.

    Examples
    --------
    >>> from fastnn.datasets import search_path
    >>> places = search_path("mnist", path="/data/mnist")
    >>> places[0][0]
    'path'
    """
    _check_name(name)
    if path is not None:
        folder = pathlib.Path(path)
        return [("path", folder / name), ("path", folder)]
    places: list[tuple[str, pathlib.Path]] = []
    env = os.environ.get("FASTNN_DATA")
    if env:
        env_folder = pathlib.Path(env).expanduser()
        places += [("FASTNN_DATA", env_folder / name), ("FASTNN_DATA", env_folder)]
    places.append(("cache", cache_dir(name)))
    places += [("system", pathlib.Path(d)) for d in SYSTEM_DIRS.get(name, [])]
    return places


def available(path: Optional[PathLike] = None) -> dict[str, list[Location]]:
    """Say which data sets are present where.

    Returns
    -------
    dict
        ``{"mnist": [Location, ...], "fashion-mnist": [...]}``: every place searched, in search
        order, with its status (``Location.present`` is True where a verified copy is). Files are
        hashed (once per process per file), so a present copy is a verified one.

    Examples
    --------
    >>> from fastnn.datasets import available
    >>> found = available()                               # never downloads
    >>> isinstance(found, dict)
    True
    """
    if path is not None:
        path = _check_path(path)
    return {name: [inspect(name, folder, source=src) for src, folder in search_path(name, path)] for name in DATASETS}


def cache_dir(name: str = "mnist") -> pathlib.Path:
    """The user cache folder for ``name``: ``$XDG_CACHE_HOME/fastnn/<name>`` or ``~/.cache/fastnn/<name>``.

    Examples
    --------
    >>> from fastnn.datasets import cache_dir
    >>> str(cache_dir("mnist")).endswith("mnist")
    True
    """
    _check_name(name)
    base = os.environ.get("XDG_CACHE_HOME")
    # the XDG spec says to ignore a relative XDG_CACHE_HOME
    root = pathlib.Path(base) if base and os.path.isabs(base) else pathlib.Path.home() / ".cache"
    return root / "fastnn" / name


def inspect(name: str, folder: PathLike, *, source: str = "path") -> Location:
    """Check ``folder`` for a copy of ``name`` and return a :class:`Location` (never raises on bad files).

    Examples
    --------
    >>> import tempfile
    >>> from fastnn.datasets import inspect
    >>> location = inspect("mnist", tempfile.mkdtemp())
    >>> location.dataset, location.status == "complete"
    ('mnist', False)
    """
    _check_name(name)
    where = pathlib.Path(folder)
    files = tuple(_pick(where, stem) for stem in STEMS)
    missing = [stem for stem, f in zip(STEMS, files) if f is None]

    def loc(status: str, detail: str) -> Location:
        return Location(name, source, where, status, detail, files)

    if not where.is_dir():
        return loc("absent", "does not exist" if not where.exists() else "not a folder")
    if len(missing) == len(STEMS):
        return loc("absent", "no IDX files")
    if missing:
        return loc("incomplete", "missing " + ", ".join(s + "[.gz]" for s in missing))
    others = []
    for stem, f in [(stem, f) for stem, f in zip(STEMS, files) if f is not None]:  # all of them, none missing
        try:
            known = _identify_file(f)
        except (OSError, ValueError) as exc:
            return loc("corrupt", f"{f}: {exc}")
        if known is None:
            return loc("corrupt", f"{f}: SHA-256 matches no known {TITLES[name]} or MNIST file (corrupted or truncated?)")
        if known.dataset != name:
            others.append(f"{f.name} is {TITLES[known.dataset]}")
        elif known.stem != stem:
            return loc("corrupt", f"{f}: holds {known.stem}, not {stem}")
    if others:
        return loc("other", "holds another data set (" + "; ".join(others) + ")")
    return loc("ok", "verified")


def download(name: str = "mnist", folder: Optional[PathLike] = None, *, mirrors: Optional[Sequence[str]] = None,
             timeout: Optional[float] = None, progress: bool = True) -> pathlib.Path:
    """Download the files of ``name`` that ``folder`` lacks, verifying each by SHA-256.

    Each file is fetched from the mirrors in turn; a mirror that fails (HTTP error, time-out,
    short or corrupted file) is skipped for the next. A file is written to a temporary name
    beside its target and moved into place only after its checksum matched, so nothing partial
    is ever left behind.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    folder : str or os.PathLike, optional
        Target folder; default :func:`cache_dir`. Created if needed.
    mirrors : list of str, optional
        Base URLs; default ``MIRRORS[name]`` (read at call time).
    timeout : float, optional
        Seconds to wait to connect and between reads; default :data:`DOWNLOAD_TIMEOUT`.
    progress : bool
        Show a progress bar on stderr (tqdm when installed, else a plain line).

    Returns
    -------
    pathlib.Path
        The folder, now holding four verified ``.gz`` files.

    Raises
    ------
    DownloadError
        When every mirror failed for a file; the message lists each mirror's failure.

    Examples
    --------
    >>> from fastnn.datasets import download
    >>> download("mnist", "/tmp/mnist")              # doctest: +SKIP
    """
    _check_name(name)
    target_folder = pathlib.Path(folder) if folder is not None else cache_dir(name)
    bases = list(MIRRORS[name] if mirrors is None else mirrors)
    seconds = DOWNLOAD_TIMEOUT if timeout is None else timeout
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
    if not bases:
        raise DownloadError(f"no mirrors configured for {TITLES[name]} (fastnn.datasets.MIRRORS[{name!r}] is empty)")
    created = [p for p in (target_folder, *target_folder.parents) if not p.exists()]
    target_folder.mkdir(parents=True, exist_ok=True)
    try:
        for stem in STEMS:
            target = target_folder / (stem + ".gz")
            if target.is_file() and _known_as(target) == (name, stem):
                continue
            _download_one(name, stem, target, bases, seconds, progress)
    except BaseException:
        for p in created:  # leave no empty folders behind either
            try:
                p.rmdir()
            except OSError:
                break
        raise
    return target_folder


# --------------------------------------------------------------------------------------------
# verification


# (realpath, device, inode, mtime_ns, size) -> _Known or None
_IDENTITY_CACHE: dict[tuple[str, int, int, int, int], Optional[_Known]] = {}


def _file_key(path: PathLike, st: os.stat_result) -> tuple[str, int, int, int, int]:
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _sha256_stream(f: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := f.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def _identify_bytes(buf: _idx.Buffer, name: str) -> tuple[Optional[_Known], Optional[bytes]]:
    """Return ``(_Known or None, decompressed bytes or None)`` for a whole file held in ``buf``."""
    known = _KNOWN.get(hashlib.sha256(buf).hexdigest())
    if known is not None or bytes(buf[:2]) != _idx.GZIP_MAGIC:
        return known, None
    # an unknown .gz: maybe the right data, compressed by someone else
    data = _idx.gunzip(buf, name)
    known = _KNOWN.get(hashlib.sha256(data).hexdigest())
    return (known if known is not None and known.form == "content" else None), data


def _identify_file(path: PathLike) -> Optional[_Known]:
    st = os.stat(path)
    key = _file_key(path, st)
    if key not in _IDENTITY_CACHE:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == _idx.GZIP_MAGIC:
                known, _ = _identify_bytes(f.read(), str(path))
            else:
                known = _KNOWN.get(_sha256_stream(f))
                known = known if known is not None and known.form == "content" else None
        _IDENTITY_CACHE[key] = known
    return _IDENTITY_CACHE[key]


def _known_as(path: PathLike) -> Optional[tuple[str, str]]:
    try:
        known = _identify_file(path)
    except (OSError, ValueError):
        return None
    return None if known is None else (known.dataset, known.stem)


def _load_verified(path: PathLike, name: str, stem: str) -> np.ndarray:
    """Read ``path`` once, verify exactly those bytes, and parse them."""
    kind = "labels" if "labels" in stem else "images"
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        is_gzip = f.read(2) == _idx.GZIP_MAGIC
        f.seek(0)
        buf: _idx.Buffer
        if is_gzip:
            buf = f.read()  # compressed bytes; decompressed once below
        else:  # read straight into the array that the caller will get (a view on its memory)
            buf = np.empty(st.st_size, dtype=np.uint8).data
            if f.readinto(buf) != st.st_size or f.read(1):
                raise ValueError(f"{path}: file length changed while reading")
    key = _file_key(path, st)
    data: Optional[_idx.Buffer] = None
    try:
        if key in _IDENTITY_CACHE:
            known = _IDENTITY_CACHE[key]
        else:
            known, data = _identify_bytes(buf, str(path))
            _IDENTITY_CACHE[key] = known
    except ValueError as exc:
        raise ChecksumError(str(exc)) from None
    if known is None or (known.dataset, known.stem) != (name, stem):
        what = "matches no known file" if known is None else f"is {TITLES[known.dataset]} {known.stem}"
        raise ChecksumError(f"{path}: SHA-256 {what}, expected {TITLES[name]} {stem}")
    if data is None:
        data = _idx.gunzip(buf, str(path)) if is_gzip else buf
    arr = _idx.parse_idx(data, str(path), shape=_SHAPES[kind], dtype=np.uint8)
    if kind == "labels" and arr.size and arr.max() > 9:
        raise ValueError(f"{path}: label {arr.max()} out of range 0..9")
    return arr


def _pick(folder: pathlib.Path, stem: str) -> Optional[pathlib.Path]:
    """The file for ``stem`` in ``folder``: the ``.gz`` if present, else the uncompressed one."""
    for candidate in (folder / (stem + ".gz"), folder / stem):
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------------------------
# download


def _download_one(name: str, stem: str, target: pathlib.Path, mirrors: Sequence[str], timeout: float,
                  progress: bool) -> None:
    sizes = [k.size for k in _KNOWN.values() if (k.dataset, k.stem, k.form) == (name, stem, "gz")]
    max_size = max(sizes)
    failures: list[str] = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + stem + ".gz"
        try:
            with atomic_path(target) as tmp:
                digest = _fetch(url, tmp, timeout, progress, max_size)
                known = _KNOWN.get(digest)
                if known is None or known.form != "gz" or (known.dataset, known.stem) != (name, stem):
                    raise ChecksumError(f"SHA-256 {digest} is not that of {TITLES[name]} {stem}.gz")
            return
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {_describe_error(exc)}")
    raise DownloadError(f"could not download {stem}.gz:\n    " + "\n    ".join(failures))


def _fetch(url: str, dest: PathLike, timeout: float, progress: bool, max_size: int) -> str:
    """Stream ``url`` into ``dest``; return the SHA-256 of what was received."""
    request = urllib.request.Request(url, headers={"User-Agent": f"fastnn/{__version__}"})
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > max_size:
            raise ValueError(f"announces {total} bytes, more than the {max_size} expected")
        bar = _progress_bar(url.rsplit("/", 1)[-1], total) if progress else None
        received = 0
        try:
            while chunk := response.read(1 << 16):
                received += len(chunk)
                if received > max_size:
                    raise ValueError(f"sent more than the {max_size} bytes expected")
                digest.update(chunk)
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if total is not None and received != total:
            raise ValueError(f"truncated: received {received} of {total} bytes")
    return digest.hexdigest()


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({exc.reason})"
    if isinstance(exc, http.client.IncompleteRead):
        return f"truncated: connection closed after {len(exc.partial)} bytes"
    return f"{type(exc).__name__}: {exc}"


_load_tqdm = load_tqdm  # looked up here at each download, so a test can take tqdm away


def _progress_bar(desc: str, total: Optional[int]) -> Bar:
    return progress_bar(desc, total, unit="B", tqdm=_load_tqdm())


# --------------------------------------------------------------------------------------------
# argument checks and messages


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(map(repr, DATASETS))}")


def _check_path(path: object) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder name (str or os.PathLike), got {type(path).__name__}")
    folder = pathlib.Path(path).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"path {str(folder)!r} does not exist; pass the folder that holds the IDX files")
    if not folder.is_dir():
        raise NotADirectoryError(f"path {str(folder)!r} is a file; pass the folder that holds the IDX files")
    return folder


def _not_found_message(name: str, tried: Sequence[Location], download_error: Optional[BaseException], *,
                       explicit: bool = False) -> str:
    title = TITLES[name]
    files = ", ".join(s + ".gz" for s in STEMS)
    lines = [f"{title} not found. Places tried, in order:"]
    if not explicit and not os.environ.get("FASTNN_DATA"):
        lines.append("  - FASTNN_DATA: not set")
    lines += [f"  - {loc.describe()}" for loc in tried]
    if download_error is not None:
        lines.append("  - download from fastnn.datasets.MIRRORS[%r]: %s" % (name, str(download_error).replace("\n", "\n  ")))
    lines.append("To supply the files:")
    lines.append(f"  - put the four files ({files}, or their gunzipped copies) in {cache_dir(name)},")
    lines.append("  - or set FASTNN_DATA to the folder that holds them,")
    lines.append("  - or pass that folder as load_mnist(path=...).")
    if name == "fashion-mnist":
        lines.append("  - on Debian or Ubuntu: apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist).")
    return "\n".join(lines)
