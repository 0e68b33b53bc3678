"""The IDX reader: round trips for every element type, and a ValueError naming the file for every
kind of damage (wrong magic, short data, extra bytes, bad gzip stream, wrong dimensions)."""
import gzip
import re
import struct
import zlib

import numpy as np
import pytest

from fastnn._idx import read_idx

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr, type_code=None):
    """An IDX file written by hand: magic, big-endian dims, big-endian data."""
    arr = np.asarray(arr)
    code = TYPE_CODES[arr.dtype.type] if type_code is None else type_code
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(tmp_path, name, payload, compress):
    path = tmp_path / (name + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path


def raises_naming(path, match):
    name = re.escape(str(path))
    return pytest.raises(ValueError, match=rf"{name}.*({match})|({match}).*{name}")


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", list(TYPE_CODES))
def test_round_trip_every_type(tmp_path, rng, dtype, compress):
    arr = (rng.standard_normal((3, 5, 2)) * 50).astype(dtype)
    path = write(tmp_path, "a", idx_bytes(arr), compress)
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert got.shape == (3, 5, 2)
    np.testing.assert_array_equal(got, arr)


@pytest.mark.parametrize("compress", [False, True])
def test_one_dimension_and_expected_shape(tmp_path, compress):
    labels = np.arange(250, dtype=np.uint8) % 10
    path = write(tmp_path, "labels", idx_bytes(labels), compress)
    got = read_idx(path, shape=(None,), dtype=np.uint8)
    np.testing.assert_array_equal(got, labels)


def test_uncompressed_is_writeable_and_gzip_is_a_read_only_view(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert read_idx(write(tmp_path, "raw", idx_bytes(arr), False)).flags.writeable
    from_gz = read_idx(write(tmp_path, "z", idx_bytes(arr), True))
    assert not from_gz.flags.writeable and not from_gz.flags.owndata


def test_gzip_detected_by_content_not_name(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(path), arr)


def test_multi_member_gzip_is_read_whole(tmp_path):
    payload = idx_bytes(np.arange(1000, dtype=np.uint8).reshape(10, 100))
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(payload[:300]) + gzip.compress(payload[300:]))
    np.testing.assert_array_equal(read_idx(path), np.arange(1000, dtype=np.uint8).reshape(10, 100))


@pytest.mark.parametrize("compress", [False, True])
def test_wrong_magic(tmp_path, compress):
    payload = b"\x01\x02\x08\x01" + struct.pack(">I", 3) + b"abc"
    path = write(tmp_path, "magic", payload, compress)
    with raises_naming(path, "not an IDX file"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_unknown_type_code(tmp_path, compress):
    path = write(tmp_path, "type", idx_bytes(np.zeros(4, np.uint8), type_code=0x0A), compress)
    with raises_naming(path, "not an IDX file"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_zero_dimensions(tmp_path, compress):
    path = write(tmp_path, "zero", b"\x00\x00\x08\x00", compress)
    with raises_naming(path, "zero dimensions"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("length", [0, 3, 9])
def test_file_ends_inside_header(tmp_path, compress, length):
    payload = idx_bytes(np.zeros((2, 2, 2), np.uint8))[:length]
    path = write(tmp_path, "header", payload, compress)
    with raises_naming(path, "too short|inside the IDX header"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_short_data(tmp_path, compress):
    payload = idx_bytes(np.zeros((10, 28, 28), np.uint8))[:-1]
    path = write(tmp_path, "short", payload, compress)
    with raises_naming(path, "truncated"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_extra_bytes(tmp_path, compress):
    payload = idx_bytes(np.zeros((10, 28, 28), np.uint8)) + b"\x00\x00"
    path = write(tmp_path, "long", payload, compress)
    with raises_naming(path, "2 extra bytes"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_wrong_dimensions(tmp_path, compress):
    path = write(tmp_path, "dims", idx_bytes(np.zeros((5, 27, 28), np.uint8)), compress)
    with raises_naming(path, r"dimensions are \(5, 27, 28\), expected \(any, 28, 28\)"):
        read_idx(path, shape=(None, 28, 28))
    with raises_naming(path, "dimensions"):
        read_idx(path, shape=(None,))


def test_wrong_element_type(tmp_path):
    path = write(tmp_path, "f4", idx_bytes(np.zeros(3, np.float32)), False)
    with raises_naming(path, "float32, expected uint8"):
        read_idx(path, dtype=np.uint8)


def test_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(5000, dtype=np.uint8) % 251))
    path = tmp_path / "cut.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with raises_naming(path, "damaged gzip stream"):
        read_idx(path)


def test_corrupted_gzip_stream(tmp_path, rng):
    data = rng.integers(0, 256, 20000, dtype=np.uint8)
    compressed = bytearray(gzip.compress(idx_bytes(data)))
    for i in range(40, 60):  # inside the deflate data, past the 10-byte gzip header
        compressed[i] ^= 0xFF
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(compressed))
    with raises_naming(path, "gzip"):
        read_idx(path)


def test_gzip_crc_mismatch(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8))))
    compressed[-8] ^= 0x01  # CRC-32 field of the trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(compressed))
    with raises_naming(path, "gzip"):
        read_idx(path)


def test_trailing_garbage_after_gzip_stream(tmp_path):
    path = tmp_path / "junk.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8))) + b"junk bytes")
    with raises_naming(path, "does not end where the file ends"):
        read_idx(path)


def test_raw_deflate_without_gzip_wrapper_is_not_mistaken_for_gzip(tmp_path):
    path = tmp_path / "zlib.gz"
    path.write_bytes(zlib.compress(idx_bytes(np.arange(100, dtype=np.uint8))))
    with raises_naming(path, "not an IDX file"):
        read_idx(path)


def test_real_mnist_files_match_an_independent_parse(mnist_dir):
    for stem, shape in [("train-images-idx3-ubyte", (60000, 28, 28)), ("t10k-labels-idx1-ubyte", (10000,))]:
        path = mnist_dir / (stem + ".gz")
        got = read_idx(path, shape=(None,) * len(shape), dtype=np.uint8)
        with gzip.open(path) as f:
            content = f.read()
        header = 4 + 4 * len(shape)
        assert struct.unpack(f">{len(shape)}I", content[4:header]) == shape
        assert got.shape == shape
        assert got.tobytes() == content[header:]
