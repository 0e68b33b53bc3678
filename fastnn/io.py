"""Save and load a model: one ``.npz`` file of arrays plus a JSON metadata record."""
import json
import math
import os
import zipfile
import zlib

import numpy as np

from ._atomic import atomic_path
from ._version import __version__
from .activations import HIDDEN, OUTPUTS
from .losses import LOSSES, check_pairing
from .validation import check_choice, check_params, check_state, layer_sizes_of

META_KEY = "__fastnn_meta__"
STATE_PREFIX = "state:"
_MAX_DEFLATE_RATIO = 1100  # deflate cannot expand data by more than about 1032:1


def save(path, params, *, state=None, **meta):
    """Write ``params`` (and optionally an optimizer ``state``) with metadata to one ``.npz``.

    The file is written beside ``path`` under a temporary name and renamed into place
    only when complete, so an existing file is never left half-written.

    Parameters
    ----------
    path : str or os.PathLike
    params : dict
    state : dict of arrays, optional
        Optimizer state to keep with the model (see :mod:`fastnn.optim`).
    **meta
        JSON-serialisable values, e.g. ``activation='relu'``, ``history=history``.
        ``layer_sizes``, ``dtype`` and ``fastnn_version`` are filled in.

    Returns
    -------
    str
        The path written.

    Examples
    --------
    >>> import os, tempfile, fastnn
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> fastnn.save(path, params, note="a tiny network")         # doctest: +ELLIPSIS
    '.../model.npz'
    >>> os.path.exists(path)
    True
    """
    layers = check_params(params)
    state = check_state(state)
    record = {"activation": "relu", "output": "softmax", "loss": "cross_entropy"}
    record.update(meta)
    record.update(layer_sizes=list(layer_sizes_of(layers)), dtype=layers[0][0].dtype.name, fastnn_version=__version__)
    try:
        blob = json.dumps(record, allow_nan=False, default=_jsonable)
    except (TypeError, ValueError) as e:
        raise TypeError(f"metadata must be JSON-serialisable (numbers, strings, lists, dicts): {e}") from None
    check_choice(record["activation"], HIDDEN, "activation")  # a model that load() + forward() can run
    check_choice(record["output"], OUTPUTS, "output")
    check_choice(record["loss"], LOSSES, "loss")
    check_pairing(record["output"], record["loss"])
    arrays = dict(params)
    for k, v in state.items():
        arrays[STATE_PREFIX + k] = v
    arrays[META_KEY] = np.frombuffer(blob.encode(), dtype=np.uint8)
    path = os.fspath(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON-serialisable")


def load(path, *, with_state=False):
    """Read a model written by :func:`save`.

    Returns
    -------
    params : dict
    meta : dict
        The metadata record (``layer_sizes``, ``activation``, ``output``, ``loss``, ...).
    state : dict
        Only with ``with_state=True``: the optimizer state saved beside the params.

    Raises
    ------
    ValueError
        If the file is not a fastnn model, is truncated or corrupted, or its arrays do
        not form a valid network.

    Examples
    --------
    >>> import os, tempfile, numpy as np, fastnn
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> fastnn.save(path, params)                # doctest: +ELLIPSIS
    '.../model.npz'
    >>> loaded, meta = fastnn.load(path)
    >>> bool(np.array_equal(loaded["W1"], params["W1"])), meta["layer_sizes"]
    (True, [4, 3])
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):  # a lone .npy array
            raise ValueError(f"it holds a single {type(z).__name__}, not an archive of arrays")
        with z:
            _check_members(z.zip, os.path.getsize(path))
            arrays = {k: z[k] for k in z.files}
    # RuntimeError: zipfile's "encrypted, password required" for a flipped flag bit
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, NotImplementedError,
            RuntimeError) as e:
        raise ValueError(f"{path!r} is not a readable fastnn model (.npz): {type(e).__name__}: {e}") from None
    if META_KEY not in arrays:
        raise ValueError(f"{path!r} has no fastnn metadata; was it written by fastnn.save?")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode())
        if not isinstance(meta, dict):
            raise ValueError("metadata is not a JSON object")
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # RecursionError: nesting too deep
        raise ValueError(f"{path!r} has corrupted metadata: {type(e).__name__}: {e}") from None
    state = {k[len(STATE_PREFIX) :]: arrays.pop(k) for k in list(arrays) if k.startswith(STATE_PREFIX)}
    try:
        layers = check_params(arrays)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path!r} does not hold a valid network: {e}") from None
    if meta.get("layer_sizes") is not None and meta["layer_sizes"] != list(layer_sizes_of(layers)):
        raise ValueError(
            f"{path!r} is inconsistent: metadata says layer_sizes={meta['layer_sizes']}, "
            f"arrays give {list(layer_sizes_of(layers))}"
        )
    return (arrays, meta, state) if with_state else (arrays, meta)


def _check_members(archive, archive_size):
    """Refuse members that are not .npy arrays, or whose header asks for more bytes than they hold.

    ``np.load`` allocates each array from the shape in its header before reading the data,
    so a damaged or forged header could ask for terabytes: a MemoryError instead of a clear
    message. Here each header must describe exactly the bytes its member holds, and a member
    may not claim more bytes than its compressed data can inflate to.
    """
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    for info in archive.infolist():
        name = info.filename
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"member {name!r} uses compression method {info.compress_type}; fastnn writes stored members")
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else _MAX_DEFLATE_RATIO
        if info.compress_size > archive_size or info.file_size > ratio * info.compress_size + 64:
            raise ValueError(f"member {name!r} claims {info.file_size} bytes from {info.compress_size} stored ones")
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in readers:
                raise ValueError(f"member {name!r} is a .npy file of version {version}, which fastnn does not write")
            shape, _, dtype = readers[version](f)
            need, have = math.prod(shape) * dtype.itemsize, info.file_size - f.tell()
            if not dtype.hasobject and need != have:
                raise ValueError(f"member {name!r} declares an array of shape {shape} and dtype {dtype} "
                                 f"({need} bytes) but holds {have} bytes")
