"""Read IDX files (the MNIST format), gzip-compressed or not, with strict checks.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (TT the element type, NN the number of
dimensions), NN big-endian uint32 dimensions, then the elements in C order, big-endian.
Every check here raises ``ValueError`` naming the file: a short, long or garbled file never
turns into a short array.
"""
import io
import math
import os
import struct
import zlib
from collections.abc import Sequence
from typing import Optional, Union

import numpy as np
from numpy.typing import DTypeLike

Buffer = Union[bytes, bytearray, memoryview]
"""Bytes in memory, as read from a file."""

GZIP_MAGIC = b"\x1f\x8b"

#: IDX element type code -> NumPy dtype (big-endian, as stored).
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Union[str, "os.PathLike[str]"], *, shape: Optional[Sequence[Optional[int]]] = None,
             dtype: Optional[DTypeLike] = None) -> np.ndarray:
    """Read one IDX file, ``.gz`` or uncompressed, into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is treated as gzip when it starts with the gzip magic bytes,
        whatever its name.
    shape : tuple of (int or None), optional
        Expected dimensions; ``None`` matches any size in that position.
    dtype : numpy dtype-like, optional
        Expected element type (for example ``np.uint8``).

    Returns
    -------
    numpy.ndarray
        The elements, in native byte order. For ``uint8`` data read from ``.gz`` the array is a
        read-only view on the decompressed bytes (no copy); for uncompressed files it is read
        straight into a writeable array.

    Raises
    ------
    ValueError
        When the magic number, the element type, the dimensions or the file length do not
        match, or the gzip stream is damaged. The message names the file.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head == GZIP_MAGIC:
            return parse_idx(gunzip(f.read(), name), name, shape=shape, dtype=dtype)
        return _read_uncompressed(f, name, shape=shape, dtype=dtype)


def gunzip(raw: Buffer, name: str) -> bytes:
    """Decompress a whole gzip file held in ``raw`` (bytes) into one bytes object.

    Member by member, and every byte must belong to a member: bytes after the last member
    (even gzip's tolerated zero padding, or a second copy of the file) are an error, a
    ``ValueError`` naming ``name``, like every other damage. The output buffer grows with the
    data actually decompressed; the length that the trailer claims is never used to size it,
    as a damaged trailer can claim gigabytes (zlib checks each member's trailer at its end).
    """
    data = memoryview(raw).cast("B")
    if len(data) < 18 or bytes(data[:2]) != GZIP_MAGIC:
        raise ValueError(f"{name}: not a gzip file (too short or wrong magic bytes)")
    members: list[bytes] = []
    rest: Buffer = data
    while True:
        d = zlib.decompressobj(31)
        try:
            members.append(d.decompress(rest))
        except zlib.error as exc:
            raise ValueError(f"{name}: damaged gzip stream ({exc})") from None
        if not d.eof:
            raise ValueError(f"{name}: damaged gzip stream (it ends early)")
        rest = d.unused_data
        if not rest:
            return members[0] if len(members) == 1 else b"".join(members)
        if rest[:2] != GZIP_MAGIC:
            raise ValueError(
                f"{name}: gzip stream does not end where the file ends ({len(rest)} trailing bytes)"
            )


def parse_header(buf: Buffer, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Return ``(dtype, dims, header_size)`` from the start of an IDX file's bytes."""
    if len(buf) < 4:
        raise ValueError(f"{name}: {len(buf)} bytes is too short for an IDX header")
    zero, type_code, ndim = struct.unpack(">HBB", bytes(buf[:4]))
    if zero != 0 or type_code not in IDX_TYPES:
        raise ValueError(
            f"{name}: not an IDX file (magic number 0x{bytes(buf[:4]).hex()}; expected "
            "0x0000TTNN with TT one of 08 09 0b 0c 0d 0e)"
        )
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares zero dimensions")
    header_size = 4 + 4 * ndim
    if len(buf) < header_size:
        raise ValueError(f"{name}: file ends inside the IDX header ({len(buf)} of {header_size} bytes)")
    dims = struct.unpack(f">{ndim}I", bytes(buf[4:header_size]))
    # NumPy refuses such a shape even when another dimension is 0 (so the data length checks pass)
    if math.prod(d for d in dims if d) * IDX_TYPES[type_code].itemsize > np.iinfo(np.intp).max:
        raise ValueError(f"{name}: IDX dimensions {dims} are too large for any array")
    return IDX_TYPES[type_code], dims, header_size


def parse_idx(buf: Buffer, name: str, *, shape: Optional[Sequence[Optional[int]]] = None,
              dtype: Optional[DTypeLike] = None) -> np.ndarray:
    """Turn the bytes of a whole (decompressed) IDX file into an array without copying uint8 data."""
    idx_dtype, dims, header_size = parse_header(buf, name)
    _check_expected(idx_dtype, dims, name, shape, dtype)
    expected = math.prod(dims) * idx_dtype.itemsize
    _check_length(len(buf) - header_size, expected, name)
    arr = np.frombuffer(buf, dtype=idx_dtype, offset=header_size).reshape(dims)
    return _native(arr)


def _read_uncompressed(f: io.BufferedIOBase, name: str, *, shape: Optional[Sequence[Optional[int]]],
                       dtype: Optional[DTypeLike]) -> np.ndarray:
    head = f.read(4)
    if len(head) == 4:
        head += f.read(4 * head[3])
    idx_dtype, dims, header_size = parse_header(head, name)
    _check_expected(idx_dtype, dims, name, shape, dtype)
    expected = math.prod(dims) * idx_dtype.itemsize
    _check_length(os.fstat(f.fileno()).st_size - header_size, expected, name)
    arr = np.empty(dims, dtype=idx_dtype)
    got = f.readinto(arr.data.cast("B")) if expected else 0
    if got != expected or f.read(1):  # the file changed under us
        raise ValueError(f"{name}: file length changed while reading")
    return _native(arr)


def _check_expected(idx_dtype: np.dtype, dims: tuple[int, ...], name: str, shape: Optional[Sequence[Optional[int]]],
                    dtype: Optional[DTypeLike]) -> None:
    if dtype is not None and idx_dtype.newbyteorder("=") != np.dtype(dtype).newbyteorder("="):
        raise ValueError(f"{name}: IDX elements are {idx_dtype.name}, expected {np.dtype(dtype).name}")
    if shape is not None:
        fits = len(shape) == len(dims) and all(s is None or s == d for s, d in zip(shape, dims))
        if not fits:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name}: IDX dimensions are {tuple(dims)}, expected {want}")


def _check_length(have: int, expected: int, name: str) -> None:
    if have < expected:
        raise ValueError(
            f"{name}: truncated: the header announces {expected} bytes of data, the file holds {have}"
        )
    if have > expected:
        raise ValueError(
            f"{name}: {have - expected} extra bytes after the {expected} bytes of data the header announces"
        )


def _native(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.byteorder == ">":
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr
