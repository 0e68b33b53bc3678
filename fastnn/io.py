"""Save and load a model: one ``.npz`` file of arrays plus a JSON metadata record that says how
the network is wired (hidden activation, output activation, loss).

The wiring travels with the model: :func:`fastnn.train` returns it in ``history["wiring"]``,
:func:`save` records the wiring it is given (``wiring=``, or the history's) and never a default,
and :func:`load` returns it in ``meta["wiring"]``. A file written before fastnn recorded the
wiring still loads; its ``activation``/``output``/``loss`` fields (or relu, softmax and
cross-entropy where absent) are assumed, with a warning and ``meta["wiring_assumed"] = True``.

In memory a wiring is ``{"activation", "output_activation", "loss"}`` (:data:`WIRING_KEYS`), the
names of :func:`fastnn.train`'s keywords. The file keeps the spelling it has always had,
``{"activation", "output", "loss"}`` (in its ``wiring`` record, its history's and its plain
fields), so that files written now still load in fastnn versions before the rename and files
written by those load here: :func:`save` and :func:`load` translate, and nothing else sees the
file's spelling. A wiring dict given with the old key ``output`` still works, with a
``DeprecationWarning``.

Loading reads only what a model needs: a regular file (a FIFO or a device is refused at once),
members named as :func:`save` names them (anything else is refused before it is inflated), each
member's size bounded by its declared shape before it is read, and at most what those sizes
declare inflated, however the zip directory lies. Arrays stored in the other byte order are
converted to the machine's. Every metadata field fastnn reads is checked (:func:`check_metadata`).
"""
from __future__ import annotations

import json
import math
import numbers
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Collection
from functools import partial
from typing import Any, Literal, NoReturn, overload

import numpy as np

from ._version import __version__
from .activations import HIDDEN, OUTPUTS
from .deprecation import RENAMED, renamed_keys
from .files import NotARegularFileError, atomic_path, open_regular
from .losses import LOSSES, check_pairing
from .typing import Array, Params, PathLike
from .validation import check_params, check_state, layer_sizes_of

__all__ = ["save", "load", "check_wiring", "check_metadata", "check_history", "WIRING_KEYS", "LEGACY_WIRING",
           "MAX_META_BYTES", "MAX_STATE_ARRAYS"]

META_KEY = "__fastnn_meta__"
STATE_PREFIX = "state:"
WIRING_KEYS = ("activation", "output_activation", "loss")
"""The keys of a wiring dict in memory (``history["wiring"]``, ``meta["wiring"]``, ``save(wiring=...)``)."""
LEGACY_WIRING = {"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"}
"""What files written before the wiring was recorded were saved with when nothing was said."""

_FILE_KEYS = {"activation": "activation", "output_activation": "output", "loss": "loss"}
"""Each wiring key as model files spell it (their format predates the keyword's rename)."""

MAX_META_BYTES = 16 << 20
"""The largest metadata record :func:`save` writes and :func:`load` reads (JSON, bytes)."""

MAX_STATE_ARRAYS = 4
"""An optimizer state may hold at most this many arrays the size of the params (Adam keeps 2)."""

_STATE_SLACK = 1 << 16  # bytes of state beyond those arrays: step counters and other scalars
_MAX_DEFLATE_RATIO = 1100  # deflate cannot expand data by more than about 1032:1
_CHUNK = 1 << 20  # bytes inflated per read
_PARAM_KEY = re.compile(r"^[Wb][1-9][0-9]*$")
_PER_EPOCH = ("epoch", "lr", "loss", "accuracy", "seconds", "val_loss", "val_accuracy")
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


# -- saving ---------------------------------------------------------------------------------------


def save(path: PathLike, params: Params, *, state: dict[str, np.ndarray] | None = None,
         history: dict[str, Any] | None = None, wiring: dict[str, str] | None = None, **meta: Any) -> str:
    """Write ``params`` (and optionally an optimizer ``state``) with metadata to one ``.npz``.

    The file is written beside ``path`` under a temporary name, synced, and renamed into place
    only when complete, so an existing file is never left half-written. ``path`` must be absent
    or a regular file: a folder, symbolic link, FIFO, socket or device node is refused
    (:class:`fastnn.files.NotARegularFileError`); a symbolic link is not written through.

    Parameters
    ----------
    path : str or os.PathLike
    params : dict
    state : dict of arrays, optional
        Optimizer state to keep with the model (see :mod:`fastnn.optim`).
    history : dict, optional
        What :func:`fastnn.train` returned; its ``"wiring"`` is recorded unless ``wiring`` is given.
    wiring : dict, optional
        ``{"activation": ..., "output_activation": ..., "loss": ...}``: how the network was
        trained. Without it (and without a history that carries it) no wiring is recorded, and
        the ``fastnn`` command refuses the file; nothing is guessed. The older key ``output``
        for ``output_activation`` still works, with a ``DeprecationWarning``.
    **meta
        Further JSON-serialisable values (``dataset='mnist'``, ``note='...'``). ``layer_sizes``,
        ``dtype`` and ``fastnn_version`` are filled in. ``activation=``, ``output_activation=``
        (or ``output=``) and ``loss=`` here are the older way to give the wiring (a
        ``DeprecationWarning``).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    TypeError, ValueError
        For params that are not a network, metadata that is not JSON or not what :func:`load`
        accepts, or a wiring given twice differently.
    OSError
        When the file cannot be written; an existing file is then left as it was.

    Examples
    --------
    >>> import os, tempfile, fastnn
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> wiring = {"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"}
    >>> fastnn.save(path, params, wiring=wiring, note="a tiny network")  # doctest: +ELLIPSIS
    '.../model.npz'
    >>> os.path.exists(path)
    True
    """
    layers = check_params(params)
    state = check_state(state)
    wiring = _wiring_to_record(wiring, history, meta)
    record = dict(meta)
    if history is not None:
        record["history"] = history
        if wiring is not None and isinstance(history, dict) and history.get("wiring") is not None:
            record["history"] = {**history, "wiring": _to_file(wiring)}  # the same wiring (checked), as files spell it
    record["wiring"] = None if wiring is None else _to_file(wiring)
    if wiring is not None:  # also as plain fields, which fastnn versions before the wiring record read
        record.update(_to_file(wiring))
    record.update(layer_sizes=list(layer_sizes_of(layers)), dtype=layers[0][0].dtype.name, fastnn_version=__version__)
    try:
        blob = json.dumps(record, allow_nan=False, default=_jsonable).encode()
    except (TypeError, ValueError) as e:
        raise TypeError(f"metadata must be JSON-serialisable (numbers, strings, lists, dicts): {e}") from None
    if len(blob) > MAX_META_BYTES:
        raise ValueError(f"the metadata is {len(blob):,} bytes as JSON; at most {MAX_META_BYTES:,} can be saved")
    check_metadata(json.loads(blob))  # what load() would refuse is not written
    arrays: dict[str, Any] = dict(params)  # Any: savez's own keywords are typed, these names never clash
    for k, v in state.items():
        arrays[STATE_PREFIX + k] = v
    arrays[META_KEY] = np.frombuffer(blob, dtype=np.uint8)
    path = os.fspath(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def _wiring_to_record(wiring: Any, history: Any, meta: dict[str, Any]) -> dict[str, str] | None:
    """The one wiring given (``wiring=``, the history's, or the older keyword form), or None."""
    given: list[tuple[str, dict[str, str]]] = []
    if wiring is not None:
        given.append(("wiring=", check_wiring(_renamed(wiring, "wiring"))))
    if isinstance(history, dict) and history.get("wiring") is not None:
        given.append(("history['wiring']", check_wiring(_renamed(history["wiring"], "history['wiring']"),
                                                        "history['wiring']")))
    legacy = {k: meta.pop(k) for k in (*WIRING_KEYS, *RENAMED) if k in meta}
    if legacy:
        if "output" in legacy and "output_activation" in legacy:
            raise TypeError("save() got both output_activation= and its deprecated name output=; "
                            "give wiring={...} instead")
        legacy = {RENAMED.get(k, k): v for k, v in legacy.items()}  # one warning below says it all
        assumed = {k: LEGACY_WIRING[k] for k in WIRING_KEYS if k not in legacy}
        note = f"; {', '.join(f'{k}={v!r}' for k, v in assumed.items())} assumed as before" if assumed else ""
        warnings.warn("giving the wiring as activation=/output_activation=/loss= metadata is deprecated; pass "
                      f"wiring={{'activation': ..., 'output_activation': ..., 'loss': ...}} or the history train() "
                      f"returned{note}", DeprecationWarning, stacklevel=3)
        given.append(("activation=/output_activation=/loss=",
                      check_wiring({**LEGACY_WIRING, **legacy}, "activation=/output_activation=/loss=")))
    for source, other in given[1:]:
        if other != given[0][1]:
            raise ValueError(f"two different wirings given: {given[0][0]} says {_describe(given[0][1])}, "
                             f"{source} says {_describe(other)}; give one")
    if not given:
        warnings.warn("saving without a wiring: no activation, output activation or loss is recorded, so the fastnn "
                      "command will refuse this file; pass wiring={'activation': ..., 'output_activation': ..., "
                      "'loss': ...} or the history train() returned", UserWarning, stacklevel=3)
        return None
    return given[0][1]


def _describe(wiring: dict[str, str]) -> str:
    return "/".join(wiring[k] for k in WIRING_KEYS)


def _renamed(wiring: Any, what: str) -> Any:
    """A wiring dict given by the caller of :func:`save`, its deprecated key under the new name (warning there)."""
    return renamed_keys(wiring, RENAMED, what, kind="key", stacklevel=4) if isinstance(wiring, dict) else wiring


def _to_file(wiring: dict[str, str]) -> dict[str, str]:
    """A checked wiring as model files spell it."""
    return {_FILE_KEYS[k]: wiring[k] for k in WIRING_KEYS}


def _from_file(record: Any) -> Any:
    """A wiring record as a file spells it (``output``), with the key as in memory; anything else as it is."""
    if isinstance(record, dict) and "output" in record and "output_activation" not in record:
        return {RENAMED.get(k, k): v for k, v in record.items()}
    return record


def _jsonable(x: object) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON-serialisable")


# -- checking the metadata ------------------------------------------------------------------------


def check_wiring(wiring: Any, what: str = "wiring") -> dict[str, str]:
    """Return ``wiring`` as a new dict ``{"activation", "output_activation", "loss"}`` if it names a valid network.

    The older key ``output`` for ``output_activation`` is accepted with a ``DeprecationWarning``.

    Raises
    ------
    TypeError
        If it is not a dict of the three names, or gives both ``output`` and ``output_activation``.
    ValueError
        For an unknown name, a missing or extra key, or cross-entropy without softmax.

    Examples
    --------
    >>> from fastnn.io import check_wiring
    >>> check_wiring({"loss": "mse", "output_activation": "sigmoid", "activation": "tanh"})
    {'activation': 'tanh', 'output_activation': 'sigmoid', 'loss': 'mse'}
    >>> check_wiring({"activation": "tanh", "output_activation": "softmax", "loss": "hinge"})
    Traceback (most recent call last):
    ...
    ValueError: wiring has an unknown loss 'hinge'; valid choices are: ...
    """
    if not isinstance(wiring, dict):
        raise TypeError(f"{what} must be a dict with keys 'activation', 'output_activation' and 'loss', "
                        f"got {type(wiring).__name__}")
    wiring = renamed_keys(wiring, RENAMED, what, kind="key")
    if set(wiring) != set(WIRING_KEYS):
        raise ValueError(f"{what} must have exactly the keys 'activation', 'output_activation' and 'loss', "
                         f"got {sorted(map(str, wiring))}")
    for key, choices in zip(WIRING_KEYS, (HIDDEN, OUTPUTS, LOSSES)):
        value = wiring[key]
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{what} has an unknown {key} {value!r}; valid choices are: "
                             f"{', '.join(map(repr, choices))}")
    try:
        check_pairing(wiring["output_activation"], wiring["loss"])
    except ValueError as e:
        raise ValueError(f"{what} is not a valid network: {e}") from None
    return {k: wiring[k] for k in WIRING_KEYS}


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _is_one_of(choices: Collection[str], v: object) -> bool:
    return isinstance(v, str) and v in choices


def _field(meta: dict[str, Any], key: str, ok: Callable[[Any], bool], expected: str) -> None:
    if key in meta and meta[key] is not None and not ok(meta[key]):
        raise ValueError(f"metadata field {key!r} must be {expected}, got {_short(meta[key])}")


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_history(history: Any, what: str = "history", *, equal_lengths: bool = True) -> dict[str, Any] | None:
    """Raise a one-line ValueError unless ``history`` looks like what :func:`fastnn.train` returns.

    The per-epoch lists (``epoch``, ``lr``, ``loss``, ``accuracy``, ``seconds``, ``val_*``) must
    hold finite numbers and be equally long; ``epoch`` counts from 1; ``best_epoch`` names one of
    the epochs; ``compile_seconds`` is a number >= 0; ``wiring`` is a valid wiring (spelt as in
    memory or as in a file, see :func:`check_metadata`). Other keys are kept as they are. ``equal_lengths=False`` only warns about lists of different lengths, which
    fastnn before the wiring record saved when Ctrl-C landed during a validation.

    Examples
    --------
    >>> from fastnn.io import check_history
    >>> check_history({"epoch": [1, 2], "loss": [0.5, 0.25]})
    {'epoch': [1, 2], 'loss': [0.5, 0.25]}
    >>> check_history({"epoch": [1, 2], "loss": [0.5]})
    Traceback (most recent call last):
    ...
    ValueError: history lists differ in length (epoch: 2, loss: 1); each holds one entry per epoch
    """
    if history is None:
        return None
    if not isinstance(history, dict):
        raise ValueError(f"metadata field {what!r} must be a dict of lists, got {type(history).__name__}")
    lengths: dict[str, int] = {}
    for key, value in history.items():
        if key in _PER_EPOCH or (isinstance(key, str) and key.startswith("val_")):
            if not isinstance(value, list) or not all(_is_number(v) for v in value):
                raise ValueError(f"{what}[{key!r}] must be a list of finite numbers, got {_short(value)}")
            lengths[key] = len(value)
    if len(set(lengths.values())) > 1:
        message = (f"{what} lists differ in length ({', '.join(f'{k}: {n}' for k, n in lengths.items())}); "
                   "each holds one entry per epoch")
        if equal_lengths:
            raise ValueError(message)
        warnings.warn(f"{message}: kept as saved (an earlier fastnn interrupted during a validation)", UserWarning,
                      stacklevel=4)
    epochs = history.get("epoch")
    if epochs is not None and not all(_is_int(e) and e >= 1 for e in epochs):
        raise ValueError(f"{what}['epoch'] must count epochs from 1, got {_short(epochs)}")
    best = history.get("best_epoch")
    if best is not None and not (_is_int(best) and 1 <= best <= (len(epochs) if epochs is not None else best)):
        raise ValueError(f"{what}['best_epoch'] must be one of the epochs, got {_short(best)}")
    seconds = history.get("compile_seconds")
    if seconds is not None and not (_is_number(seconds) and seconds >= 0):
        raise ValueError(f"{what}['compile_seconds'] must be a number >= 0, got {_short(seconds)}")
    if history.get("wiring") is not None:
        try:
            check_wiring(_from_file(history["wiring"]), f"{what}['wiring']")
        except TypeError as e:
            raise ValueError(str(e)) from None
    return history


def check_metadata(meta: Any) -> dict[str, Any]:
    """Raise a one-line ValueError naming the first metadata field fastnn reads that is malformed.

    ``meta`` is the record as the file holds it, whose wiring keys are spelt ``activation``,
    ``output`` and ``loss`` (see the module's notes; :func:`load` returns them as in memory).
    Checked: the wiring (``wiring`` and the plain ``activation``/``output``/``loss`` fields, which
    must agree), ``layer_sizes``, ``dtype``, ``fastnn_version``, ``dataset``, ``history``,
    ``train_samples``, ``epochs``, ``epochs_completed``, ``interrupted``, ``test_accuracy`` and
    ``hidden_layers``. Fields fastnn does not read are the caller's own and kept as they are.
    Returns ``meta``.

    Examples
    --------
    >>> from fastnn.io import check_metadata
    >>> check_metadata({"layer_sizes": [4, 3], "dtype": "float32", "note": "mine"})["note"]
    'mine'
    >>> check_metadata({"layer_sizes": [4, 3], "dtype": "float16"})
    Traceback (most recent call last):
    ...
    ValueError: metadata field 'dtype' must be 'float32' or 'float64', got 'float16'
    """
    if not isinstance(meta, dict):
        raise ValueError("metadata is not a JSON object")
    _field(meta, "layer_sizes", lambda v: isinstance(v, list) and len(v) >= 2 and all(_is_int(s) and s >= 1 for s in v),
           "a list of at least two positive integers")
    _field(meta, "dtype", lambda v: v in ("float32", "float64"), "'float32' or 'float64'")
    _field(meta, "fastnn_version", lambda v: isinstance(v, str), "a version string")
    _field(meta, "dataset", lambda v: isinstance(v, str) and v != "", "a data set name")
    _field(meta, "train_samples", lambda v: _is_int(v) and v >= 1, "a positive integer")
    _field(meta, "epochs", lambda v: _is_int(v) and v >= 1, "a positive integer")
    _field(meta, "epochs_completed", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    _field(meta, "interrupted", lambda v: isinstance(v, bool), "true or false")
    _field(meta, "test_accuracy", lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]")
    _field(meta, "hidden_layers", lambda v: isinstance(v, list) and all(_is_int(s) and s >= 1 for s in v),
           "a list of positive integers")
    check_history(meta.get("history"), equal_lengths="wiring" in meta)  # older files: see check_history
    for key, choices in zip(WIRING_KEYS, (HIDDEN, OUTPUTS, LOSSES)):
        _field(meta, _FILE_KEYS[key], partial(_is_one_of, choices), f"one of {', '.join(map(repr, choices))}")
    wiring = meta.get("wiring")
    if wiring is not None:
        try:
            wiring = check_wiring(_from_file(wiring), "metadata field 'wiring'")
        except TypeError as e:
            raise ValueError(str(e)) from None
        for key in WIRING_KEYS:
            field = _FILE_KEYS[key]
            if meta.get(field) is not None and meta[field] != wiring[key]:
                raise ValueError(f"metadata field {field!r} is {meta[field]!r} but the wiring says {wiring[key]!r}")
    return meta


def _wiring_of(meta: dict[str, Any], path: str) -> tuple[dict[str, str] | None, bool]:
    """The file's wiring (as in memory), or the assumption for a file written before fastnn recorded it."""
    if "wiring" in meta:
        return (None if meta["wiring"] is None else check_wiring(_from_file(meta["wiring"]))), False
    assumed = {k: meta.get(_FILE_KEYS[k]) or LEGACY_WIRING[k] for k in WIRING_KEYS}
    try:
        wiring = check_wiring(assumed, "the assumed wiring")
    except ValueError as e:
        raise ValueError(f"{path!r} has bad metadata: {e}") from None
    warnings.warn(f"{path!r} was saved before fastnn recorded how a network is wired; assuming "
                  f"{_describe(wiring)} (activation/output_activation/loss). If it was trained otherwise, "
                  "re-save it with fastnn.save(path, params, wiring={...})", UserWarning, stacklevel=3)
    return wiring, True


# -- loading --------------------------------------------------------------------------------------


@overload
def load(path: PathLike, *, with_state: Literal[False] = False) -> tuple[dict[str, Array], dict[str, Any]]: ...


@overload
def load(path: PathLike, *, with_state: Literal[True]) -> tuple[dict[str, Array], dict[str, Any],
                                                                 dict[str, np.ndarray]]: ...


@overload
def load(path: PathLike, *, with_state: bool) -> tuple[Any, ...]: ...


def load(path: PathLike, *, with_state: bool = False) -> tuple[Any, ...]:
    """Read a model written by :func:`save`.

    Returns
    -------
    params : dict
        Arrays in the machine's byte order, C-contiguous.
    meta : dict
        The metadata record (``layer_sizes``, ``dtype``, ``history``, ...), with ``wiring``: the
        ``{"activation", "output_activation", "loss"}`` the model was saved with (None when it
        was saved without one), and ``wiring_assumed``: True for a file older than the wiring
        record, whose wiring was taken from its plain fields or the old defaults (a warning says
        so). ``history["wiring"]``, when saved, is spelt as in memory too; the plain fields
        (``activation``, ``output``, ``loss``) are returned as the file holds them.
    state : dict
        Only with ``with_state=True``: the optimizer state saved beside the params.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If ``path`` is not a regular file (a folder, FIFO, device), is not a fastnn model, is
        truncated, corrupted or forged, or a metadata field is malformed.

    Examples
    --------
    >>> import os, tempfile, numpy as np, fastnn
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> wiring = {"activation": "tanh", "output_activation": "sigmoid", "loss": "mse"}
    >>> fastnn.save(path, params, wiring=wiring)  # doctest: +ELLIPSIS
    '.../model.npz'
    >>> loaded, meta = fastnn.load(path)
    >>> bool(np.array_equal(loaded["W1"], params["W1"])), meta["layer_sizes"], meta["wiring"] == wiring
    (True, [4, 3], True)
    """
    path = os.fspath(path)
    try:
        f = open_regular(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {path!r}") from None
    except NotARegularFileError as e:
        raise ValueError(str(e)) from None
    except OSError as e:
        raise ValueError(f"{path!r} is not a readable fastnn model (.npz): {type(e).__name__}: "
                         f"{e.strerror or e}") from None
    with f:
        archive_size = os.fstat(f.fileno()).st_size
        try:
            with zipfile.ZipFile(f) as archive:
                meta, members = _read_directory(archive, archive_size, path)
                arrays = {key: _read_array(archive, info, header) for key, (info, header) in members.items()}
        # RuntimeError: zipfile's "encrypted, password required" for a flipped flag bit
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, NotImplementedError,
                RuntimeError, OverflowError) as e:
            if isinstance(e, _Refused):
                raise ValueError(f"{path!r} {e}") from None
            raise ValueError(f"{path!r} is not a readable fastnn model (.npz): {type(e).__name__}: {e}") from None
    state = {k[len(STATE_PREFIX) :]: arrays.pop(k) for k in list(arrays) if k.startswith(STATE_PREFIX)}
    try:
        layers = check_params(arrays)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path!r} does not hold a valid network: {e}") from None
    sizes = list(layer_sizes_of(layers))
    if meta.get("layer_sizes") is not None and meta["layer_sizes"] != sizes:
        raise ValueError(f"{path!r} is inconsistent: metadata says layer_sizes={meta['layer_sizes']}, "
                         f"arrays give {sizes}")
    if meta.get("dtype") is not None and meta["dtype"] != layers[0][0].dtype.name:
        raise ValueError(f"{path!r} is inconsistent: metadata says dtype={meta['dtype']}, "
                         f"arrays are {layers[0][0].dtype.name}")
    meta["wiring"], meta["wiring_assumed"] = _wiring_of(meta, path)
    history = meta.get("history")
    if isinstance(history, dict) and history.get("wiring") is not None:
        history["wiring"] = check_wiring(_from_file(history["wiring"]))  # as train() returns it
    return (arrays, meta, state) if with_state else (arrays, meta)


_Header = tuple[tuple[int, ...], bool, np.dtype, int]
"""A member's .npy header: ``(shape, fortran_order, dtype, data_offset)``."""


class _Refused(ValueError):
    """A reason to refuse the file, said after its name: ``'m.npz' <reason>``."""


def _read_directory(archive: zipfile.ZipFile, archive_size: int,
                    path: str) -> tuple[dict[str, Any], dict[str, tuple[zipfile.ZipInfo, _Header]]]:
    """Check the archive's members before inflating any data; return ``(meta, {key: (info, header)})``.

    ``header`` is ``(shape, fortran_order, dtype, offset)`` of a member's .npy header. Refused:
    names :func:`save` does not write, compression other than stored/deflate, sizes beyond what
    the compressed bytes can inflate to, data sizes other than what the header's shape needs,
    and a total beyond what the params' shapes justify.
    """
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise _Refused("has a member twice; it is not a file fastnn.save wrote")
    for info in infos:
        name = info.filename
        key = name[: -len(".npy")] if name.endswith(".npy") else None
        if key is None or not (key == META_KEY or _PARAM_KEY.match(key) or
                               (key.startswith(STATE_PREFIX) and len(key) > len(STATE_PREFIX))):
            raise _Refused(f"does not hold a valid network: it has a member {name!r}, which fastnn.save does not "
                           "write (W1.npy, b1.npy, ..., state:*.npy, __fastnn_meta__.npy)")
        if info.flag_bits & 0x1:
            raise _Refused(f"has an encrypted member {name!r}; fastnn writes plain members")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Refused(f"has a member {name!r} compressed with method {info.compress_type}; fastnn writes "
                           "stored members")
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else _MAX_DEFLATE_RATIO
        if info.compress_size > archive_size or info.file_size > ratio * info.compress_size + 64:
            raise _Refused(f"has a member {name!r} claiming {info.file_size} bytes from {info.compress_size} "
                           "stored ones")
    if META_KEY + ".npy" not in names:
        raise _Refused("has no fastnn metadata; was it written by fastnn.save?")
    members = {info.filename[:-4]: (info, _read_header(archive, info)) for info in infos}
    meta_info, (shape, _, dtype, offset) = members[META_KEY]
    if dtype != np.uint8 or len(shape) != 1 or shape[0] > MAX_META_BYTES:
        raise _Refused(f"has corrupted metadata: a {dtype} array of shape {shape}, not up to "
                       f"{MAX_META_BYTES:,} bytes of JSON")
    meta = _parse_metadata(_read_array(archive, meta_info, members.pop(META_KEY)[1]))
    param_bytes = state_bytes = 0
    for key, (info, (shape, _, dtype, _)) in members.items():
        need = math.prod(shape) * dtype.itemsize
        if key.startswith(STATE_PREFIX):
            if dtype.kind not in "biuf":
                raise _Refused(f"does not hold a valid network: state member {key!r} has dtype {dtype}")
            state_bytes += need
        else:
            if dtype.kind != "f" or dtype.itemsize not in (4, 8):
                raise _Refused(f"does not hold a valid network: params[{key!r}] has dtype {dtype}; "
                               "fastnn writes float32 or float64")
            param_bytes += need
    declared = meta.get("layer_sizes")
    if isinstance(declared, list):  # checked as ints by _parse_metadata
        itemsize = 4 if meta.get("dtype") == "float32" else 8
        allowed = itemsize * sum(a * b + b for a, b in zip(declared, declared[1:]))
        if param_bytes > allowed:
            raise _Refused(f"is inconsistent: its arrays hold {param_bytes:,} bytes, more than the "
                           f"{allowed:,} that metadata layer_sizes={declared} need")
    if state_bytes > MAX_STATE_ARRAYS * param_bytes + _STATE_SLACK:
        raise _Refused(f"has an optimizer state of {state_bytes:,} bytes, more than {MAX_STATE_ARRAYS} times "
                       f"its params' {param_bytes:,}; it is not a file fastnn.save wrote")
    return meta, members


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Header:
    """``(shape, fortran_order, dtype, data_offset)`` of a member's .npy header, the data size checked.

    ``np.load`` would allocate an array from the header's shape before reading the data, so a
    forged header could ask for terabytes; here the header must describe exactly the bytes the
    member declares, which the caller has bounded by its compressed size.
    """
    name = info.filename
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in _HEADER_READERS:
            raise _Refused(f"has a member {name!r} that is a .npy file of version {version}, "
                           "which fastnn does not write")
        shape, fortran_order, dtype = _HEADER_READERS[version](f)
        offset = f.tell()
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise _Refused(f"has a member {name!r} of dtype {dtype}; fastnn writes plain numbers only")
    need = math.prod(shape) * dtype.itemsize
    if need != info.file_size - offset:
        raise _Refused(f"has a member {name!r} that declares an array of shape {shape} and dtype {dtype} "
                       f"({need} bytes) but holds {info.file_size - offset} bytes")
    return shape, fortran_order, dtype, offset


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, header: _Header) -> np.ndarray:
    """The member's array, inflating at most the bytes its header declares, in native byte order."""
    shape, fortran_order, dtype, offset = header
    need = math.prod(shape) * dtype.itemsize
    data = np.empty(need, dtype=np.uint8)
    view = data.data  # a memoryview of data: writing it fills the array
    with archive.open(info) as f:
        skipped = f.read(offset)
        if len(skipped) != offset:
            raise EOFError(f"member {info.filename!r} ends inside its header")
        done = 0
        while done < need:  # zipfile stops inflating at the size the directory declares
            chunk = f.read(min(_CHUNK, need - done))
            if not chunk:
                raise EOFError(f"member {info.filename!r} ends after {done} of its {need} data bytes")
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
    array: np.ndarray = data.view(dtype)
    if fortran_order:
        array = np.ascontiguousarray(array.reshape(shape[::-1]).T)
    else:
        array = array.reshape(shape)
    if not dtype.isnative:  # e.g. written on a big-endian machine: compiled kernels need native order
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _parse_metadata(raw: np.ndarray) -> dict[str, Any]:
    try:
        meta = json.loads(raw.tobytes().decode(), parse_constant=_refuse_constant)
        if not isinstance(meta, dict):
            raise ValueError("metadata is not a JSON object")
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # RecursionError: nesting too deep
        raise _Refused(f"has corrupted metadata: {type(e).__name__}: {e}") from None
    try:
        check_metadata(meta)
    except ValueError as e:
        raise _Refused(f"has bad metadata: {e}") from None
    return meta


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number fastnn writes")
