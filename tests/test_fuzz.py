"""Damaged files: the IDX reader and the model loader fed random, truncated, bit-flipped and
forged bytes, and a save killed mid-write.

What every case must show: either a ``ValueError`` naming the file, or a result that agrees
with an independent reading of the same bytes; never another exception, never a hang, and
never more memory than the file's bytes can account for (a header may lie about its sizes).
"""
import gzip
import io
import json
import os
import pathlib
import re
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import warnings
import zipfile
import zlib
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnn
from fastnn._idx import read_idx
from fastnn.validation import check_params

REPO = pathlib.Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HANG_SECONDS = 20
"""Guard against an endless loop: every case here returns in milliseconds, so a case still
running after this long has hung. This is a hang detector, not a speed requirement."""


class Hung(BaseException):
    """Raised by the watchdog; a BaseException so that no ``except Exception`` can swallow it."""


@contextmanager
def watchdog(what):
    def alarm(signum, frame):
        raise Hung(f"{what} still running after {HANG_SECONDS} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def scratch():
    """One folder for the whole module (hypothesis runs many examples per test function)."""
    with tempfile.TemporaryDirectory(prefix="fastnn-fuzz-") as d:
        yield pathlib.Path(d)


# --- byte mutations, shared by both formats ---------------------------------------------------------


@st.composite
def mutated(draw, raw):
    """``raw`` damaged in one of the ways files get damaged: cut short, bits flipped, bytes
    overwritten, inserted, deleted or appended, or the whole file doubled."""
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "delete", "append", "double"]))
    b = bytearray(raw)
    if kind == "truncate":
        return bytes(b[: draw(st.integers(0, len(b) - 1))])
    if kind == "flip":
        for pos in draw(st.lists(st.integers(0, 8 * len(b) - 1), min_size=1, max_size=8)):
            b[pos // 8] ^= 1 << (pos % 8)
        return bytes(b)
    if kind == "overwrite":
        pos = draw(st.integers(0, len(b) - 1))
        new = draw(st.binary(min_size=1, max_size=16))
        b[pos : pos + len(new)] = new
        return bytes(b[: max(len(raw), pos + len(new))])
    if kind == "insert":
        pos = draw(st.integers(0, len(b)))
        return bytes(b[:pos] + draw(st.binary(min_size=1, max_size=64)) + b[pos:])
    if kind == "delete":
        pos = draw(st.integers(0, len(b) - 1))
        return bytes(b[:pos] + b[pos + draw(st.integers(1, 64)) :])
    if kind == "append":
        return bytes(b) + draw(st.binary(min_size=1, max_size=64))
    return bytes(b) * 2


# --- the IDX reader ------------------------------------------------------------------------------

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(arr, code):
    """An IDX file by hand: magic ``00 00 code ndim``, big-endian dims, big-endian data."""
    arr = np.asarray(arr, dtype=IDX_DTYPES[code])
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def parse_independently(content):
    """The array an IDX file's (decompressed) bytes hold, or None if they are not exactly one."""
    if len(content) < 4 or content[:2] != b"\0\0" or content[2] not in IDX_DTYPES or content[3] == 0:
        return None
    ndim, dt = content[3], np.dtype(IDX_DTYPES[content[2]])
    if len(content) < 4 + 4 * ndim:
        return None
    dims = struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])
    if len(content) - 4 - 4 * ndim != int(np.prod(dims, dtype=object)) * dt.itemsize:
        return None
    return np.frombuffer(content, dt, offset=4 + 4 * ndim).reshape(dims)


def whole_gzip_content(raw):
    """All members of a gzip file decompressed, or None if anything is wrong (Python's gzip
    module tolerates zero padding after the last member; IDX files must not have any)."""
    try:
        out, rest = [], raw
        while rest:
            d = zlib.decompressobj(31)
            out.append(d.decompress(rest))
            if not d.eof:
                return None
            rest = d.unused_data
            if rest and rest[:2] != b"\x1f\x8b":
                return None
        return b"".join(out)
    except Exception:
        return None


def check_read_idx(path, raw):
    """read_idx on ``raw`` refuses with a ValueError naming the file, or returns exactly
    what an independent parser finds in the bytes."""
    path.write_bytes(raw)
    with watchdog(f"read_idx on {len(raw)} bytes"):
        try:
            got = read_idx(path)
        except ValueError as e:
            assert str(path) in str(e), e
            return None
    content = whole_gzip_content(raw) if raw[:2] == b"\x1f\x8b" else raw
    want = None if content is None else parse_independently(content)
    assert want is not None, f"read_idx accepted bytes that are not one IDX file: {raw[:64]!r}..."
    assert got.shape == want.shape and got.dtype == want.dtype.newbyteorder("=")
    np.testing.assert_array_equal(got, want)
    return got


def small_idx_files():
    rng = np.random.default_rng(0)
    arrays = {
        0x08: rng.integers(0, 256, (6, 7, 5)),
        0x09: rng.integers(-128, 128, (40,)),
        0x0B: rng.integers(-(2**15), 2**15, (3, 11)),
        0x0C: rng.integers(-(2**31), 2**31, (2, 2, 2, 3)),
        0x0D: rng.normal(size=(9, 4)),
        0x0E: rng.normal(size=(13,)),
    }
    return [idx_bytes(a, code) for code, a in arrays.items()]


SMALL_IDX = small_idx_files()
SMALL_FILES = SMALL_IDX + [gzip.compress(b, mtime=0) for b in SMALL_IDX]


@FUZZ
@given(raw=st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from([b"\0\0", b"\0\0\x08", b"\0\0\x0d\x02", b"\x1f\x8b", b"\x1f\x8b\x08\0"]),
              st.binary(max_size=300)).map(b"".join),
))
def test_read_idx_on_random_bytes(scratch, raw):
    check_read_idx(scratch / "random.idx", raw)


@st.composite
def forged_idx(draw):
    """A header with any type, 1..4 dimensions of any size (often huge), and any data length;
    sometimes gzip-compressed (a valid gzip stream of invalid content)."""
    code = draw(st.sampled_from(list(IDX_DTYPES) + [0x00, 0x0A, 0xFF]))
    dims = draw(st.lists(st.one_of(st.integers(0, 8), st.integers(0, 2**32 - 1)), min_size=1, max_size=4))
    header = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    raw = header + draw(st.binary(max_size=200))
    return gzip.compress(raw, mtime=0) if draw(st.booleans()) else raw


@FUZZ
@given(raw=forged_idx())
def test_read_idx_on_forged_headers(scratch, raw):
    check_read_idx(scratch / "forged.idx", raw)


@FUZZ
@given(data=st.data(), base=st.sampled_from(range(len(SMALL_FILES))))
def test_read_idx_on_damaged_files(scratch, data, base):
    raw = data.draw(mutated(SMALL_FILES[base]))
    check_read_idx(scratch / ("damaged.gz" if base >= len(SMALL_IDX) else "damaged.idx"), raw)


@pytest.mark.parametrize("compress", [False, True])
def test_dimensions_too_large_for_any_array_are_refused_naming_the_file(tmp_path, compress):
    """Found by hypothesis: dims (0, 2**21, 2**21, 2**21) hold 0 elements, so the length check
    passes, but NumPy cannot make an array of that shape at all."""
    raw = b"\0\0\x08\x04" + struct.pack(">4I", 0, 2**21, 2**21, 2**21)
    path = _write(tmp_path / "huge.idx", gzip.compress(raw, mtime=0) if compress else raw)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*too large"):
        read_idx(path)


@pytest.mark.parametrize("copies", [2, 3])
def test_a_gzip_file_doubled_is_refused_not_read_as_its_first_half(tmp_path, copies):
    """``cat f.gz f.gz > g.gz`` holds the IDX content twice: extra bytes after the data."""
    raw = SMALL_FILES[len(SMALL_IDX)] * copies
    with pytest.raises(ValueError, match="extra bytes"):
        read_idx(_write(tmp_path / "twice.gz", raw))


def test_bytes_after_the_gzip_stream_that_mimic_its_trailer_are_refused(tmp_path):
    """The last four bytes of a gzip file give the content length; junk that ends with the right
    length must still be refused, not silently ignored."""
    content = SMALL_IDX[0]
    raw = gzip.compress(content, mtime=0) + b"junk" + struct.pack("<I", len(content))
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(_write(tmp_path / "junk.gz", raw))


def _write(path, raw):
    path.write_bytes(raw)
    return path


@pytest.mark.mnist
@settings(max_examples=60, deadline=None)
@given(data=st.data(), stem=st.sampled_from(["t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"]))
def test_read_idx_on_damaged_mnist_files(mnist_dir, scratch, data, stem):
    raw = data.draw(mutated((mnist_dir / stem).read_bytes()))
    check_read_idx(scratch / stem, raw)


LIMITED_MEMORY = textwrap.dedent("""
    import importlib.util, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    # _idx on its own (NumPy only): importing fastnn would bring Numba, which needs more room
    spec = importlib.util.spec_from_file_location("_idx", {module!r})
    idx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(idx)
    try:
        idx.read_idx(sys.argv[1])
    except ValueError as e:
        print("ValueError:", e)
""")


@pytest.mark.parametrize("trailer", [b"\xff\xff\xff\xff", b"\x00\x00\x00\x80"])
def test_a_lying_gzip_trailer_costs_no_more_memory_than_the_data(tmp_path, trailer):
    """The last four bytes of a gzip file claim the content's length. A damaged claim (here
    4 GiB, or the top bit flipped) must not make the reader allocate that much: under a
    600 MB address-space limit it must still answer with its ValueError, not a MemoryError."""
    rng = np.random.default_rng(0)
    raw = bytearray(gzip.compress(idx_bytes(rng.integers(0, 256, 3_000_000), 0x08), mtime=0))
    raw[-4:] = bytes(a | b for a, b in zip(raw[-4:], trailer))
    path = _write(tmp_path / "trailer.gz", bytes(raw))
    script = LIMITED_MEMORY.format(limit=600 << 20, module=str(REPO / "fastnn" / "_idx.py"))
    run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert run.returncode == 0 and run.stdout.startswith("ValueError:"), run.stdout + run.stderr
    assert "damaged gzip stream" in run.stdout and str(path) in run.stdout


# --- the model loader -------------------------------------------------------------------------


def model_bytes(folder, sizes=(6, 5, 3), dtype="float32", state=False):
    params = fastnn.init_params(list(sizes), seed=0, dtype=dtype)
    path = folder / "model.npz"
    kwargs = {"state": fastnn.optim.adam().init(params)} if state else {}
    fastnn.save(path, params, wiring={"activation": "tanh", "output_activation": "softmax", "loss": "cross_entropy"},
                history={"loss": [0.5, 0.25]}, **kwargs)
    return path.read_bytes()


@pytest.fixture(scope="module")
def models(scratch):
    folder = scratch / "models"
    folder.mkdir()
    return [model_bytes(folder), model_bytes(folder, (3, 2), "float64", state=True)]


def check_load(path, raw):
    """load() refuses ``raw`` with a ValueError naming the file, or returns a valid network
    whose metadata agrees with it."""
    path.write_bytes(raw)
    with watchdog(f"load on {len(raw)} bytes"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            params, meta = fastnn.load(path)
        except ValueError as e:
            assert repr(str(path)) in str(e), e
            return None
    # forged metadata without a wiring record loads as a file from before the record, which
    # load() announces with this UserWarning; any other warning is a finding
    for w in caught:
        assert w.category is UserWarning and "saved before fastnn recorded" in str(w.message), w
    layers = check_params(params)
    assert isinstance(meta, dict)
    assert meta.get("layer_sizes") in (None, [layers[0][0].shape[0]] + [W.shape[1] for W, _ in layers])
    return params


@FUZZ
@given(raw=st.one_of(
    st.binary(max_size=400),
    st.tuples(st.sampled_from([b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY\x01\x00"]), st.binary(max_size=400))
    .map(b"".join),
))
def test_load_on_random_bytes(scratch, raw):
    check_load(scratch / "random.npz", raw)


@FUZZ
@given(data=st.data(), which=st.integers(0, 1))
def test_load_on_damaged_models(scratch, models, data, which):
    check_load(scratch / "damaged.npz", data.draw(mutated(models[which])))


# structured forgeries: a consistent archive (CRCs right) whose contents lie


def members(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def archive(contents, compression=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, blob in contents.items():
            z.writestr(name, blob)
    return out.getvalue()


def npy_with_header(blob, **changes):
    """The .npy ``blob`` with its header dict's fields replaced (data bytes unchanged)."""
    end = blob.index(b"\n") + 1
    header = eval(blob[10:end].decode("latin1"))  # noqa: S307 (our own test data)
    header.update(changes)
    text = repr(header).encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + blob[end:]


SHAPES = st.one_of(
    st.tuples(),
    st.lists(st.integers(0, 12), min_size=1, max_size=3).map(tuple),
    st.lists(st.integers(0, 2**40), min_size=1, max_size=3).map(tuple),  # far more than the file holds
)
DESCRS = st.sampled_from(["<f4", "<f8", ">f4", "<f2", "<i4", "|u1", "|b1", "<c8", "|O", "<U3", "|V4"])


@st.composite
def forged_member(draw, contents):
    """Change one member of the archive: its header (shape, dtype, order), its data (cut or
    padded), its name, or drop or duplicate it; or replace the metadata."""
    contents = dict(contents)
    name = draw(st.sampled_from(sorted(contents)))
    kind = draw(st.sampled_from(["shape", "descr", "order", "cut", "pad", "rename", "drop", "json", "bytes"]))
    blob = contents[name]
    if kind == "shape":
        contents[name] = npy_with_header(blob, shape=draw(SHAPES))
    elif kind == "descr":
        contents[name] = npy_with_header(blob, descr=draw(DESCRS))
    elif kind == "order":
        contents[name] = npy_with_header(blob, fortran_order=True)
    elif kind == "cut":
        contents[name] = blob[: draw(st.integers(0, len(blob) - 1))]
    elif kind == "pad":
        contents[name] = blob + draw(st.binary(min_size=1, max_size=32))
    elif kind == "rename":
        contents[draw(st.sampled_from(["W9.npy", "x.npy", "b1", "__fastnn_meta__.npy", "state:m/W1.npy"]))] = (
            contents.pop(name))
    elif kind == "drop":
        del contents[name]
    else:
        meta = draw(JSON) if kind == "json" else None
        text = json.dumps(meta).encode() if kind == "json" else draw(st.binary(max_size=64))
        buf = io.BytesIO()
        np.save(buf, np.frombuffer(text, dtype=np.uint8))
        contents["__fastnn_meta__.npy"] = buf.getvalue()
    return contents


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["layer_sizes", "activation", "output", "loss", "dtype", "history", "x"]), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(data=st.data(), which=st.integers(0, 1), deflate=st.booleans())
def test_load_on_forged_archives(scratch, models, data, which, deflate):
    """Archives that zipfile reads without complaint, whose .npy headers, member names or
    metadata lie. A header claiming 2**40 elements must be refused before any allocation."""
    contents = data.draw(forged_member(members(models[which])))
    raw = archive(contents, zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
    check_load(scratch / "forged.npz", raw)


@pytest.mark.parametrize("shape", [(2**40,), (784000000, 128), (2**20, 2**20, 2**20)])
def test_a_header_claiming_a_huge_array_is_a_value_error(tmp_path, models, shape):
    contents = members(models[0])
    contents["W1.npy"] = npy_with_header(contents["W1.npy"], shape=shape)
    path = _write(tmp_path / "huge.npz", archive(contents))
    with pytest.raises(ValueError, match=re.escape(repr(str(path))) + ".*W1"):
        fastnn.load(path)


def directory_size(raw, member, size):
    """``raw`` with the uncompressed size of ``member`` in the zip's central directory set to ``size``."""
    raw = bytearray(raw)
    for m in re.finditer(b"PK\x01\x02", raw):
        at = m.start()
        n = struct.unpack("<H", raw[at + 28 : at + 30])[0]
        if raw[at + 46 : at + 46 + n] == member.encode():
            raw[at + 24 : at + 28] = struct.pack("<I", size)
            return bytes(raw)
    raise AssertionError(f"no {member} in the archive")


LOAD_WITH_LITTLE_MEMORY = textwrap.dedent("""
    import resource, sys
    import fastnn
    # 1 GiB of address space beyond what the imports took: a larger allocation fails
    used = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (used + 2**30, used + 2**30))
    try:
        fastnn.load(sys.argv[1])
    except ValueError as e:
        print("ValueError:", e)
""")


@pytest.mark.parametrize("deflate", [False, True])
def test_a_forged_size_consistent_with_the_zip_directory_is_refused_before_allocating(tmp_path, models, deflate):
    """A forger can make a member's .npy header and its size in the zip directory agree on
    1.5 GiB while the member holds a few bytes. load must not allocate that: it refuses
    members larger than their compressed bytes can inflate to (with 1 GiB to spare, a
    MemoryError would otherwise be the answer)."""
    contents = members(models[0])
    blob = npy_with_header(contents["W1.npy"], shape=(3 * 2**27,))  # float32: 1.5 GiB
    contents["W1.npy"] = blob
    raw = archive(contents, zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
    header = blob.index(b"\n") + 1
    path = _write(tmp_path / "forged.npz", directory_size(raw, "W1.npy", header + 4 * 3 * 2**27))
    run = subprocess.run([sys.executable, "-c", LOAD_WITH_LITTLE_MEMORY, str(path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and run.stdout.startswith("ValueError:"), run.stdout + run.stderr
    assert repr(str(path)) in run.stdout and "W1" in run.stdout


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deeply_nested_metadata_is_a_value_error(tmp_path, models, depth):
    contents = members(models[0])
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(b"[" * depth + b"]" * depth, dtype=np.uint8))
    contents["__fastnn_meta__.npy"] = buf.getvalue()
    path = _write(tmp_path / "deep.npz", archive(contents))
    with pytest.raises(ValueError, match=re.escape(repr(str(path))) + ".*metadata"):
        fastnn.load(path)


@pytest.mark.parametrize("layer_sizes", [5, "6,5,3", {"a": 1}, [6, "5", 3], [6, 5]])
def test_metadata_layer_sizes_of_any_type_is_checked_not_crashed_on(tmp_path, models, layer_sizes):
    contents = members(models[0])
    meta = json.loads(np.load(io.BytesIO(contents["__fastnn_meta__.npy"])).tobytes())
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps({**meta, "layer_sizes": layer_sizes}).encode(), dtype=np.uint8))
    contents["__fastnn_meta__.npy"] = buf.getvalue()
    path = _write(tmp_path / "sizes.npz", archive(contents))
    with pytest.raises(ValueError, match=re.escape(repr(str(path))) + ".*layer_sizes"):
        fastnn.load(path)


# --- a save killed mid-write -------------------------------------------------------------------------

SLOW_SAVER = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fastnn
    from fastnn import io as fio

    path = sys.argv[1]
    fastnn.save(path, fastnn.init_params([300, 200, 10], seed=1), note="old")
    real_savez = np.savez

    def slow_savez(file, **arrays):  # the new model trickles out, so the kill lands mid-write
        class Trickle:
            def __init__(self, f):
                self.f = f
            def write(self, b):
                for i in range(0, len(b), 4096):
                    self.f.write(b[i : i + 4096])
                    self.f.flush()
                    time.sleep(0.001)
                return len(b)
            def __getattr__(self, name):
                return getattr(self.f, name)
        real_savez(Trickle(file), **arrays)

    fio.np.savez = slow_savez
    print("old model saved", flush=True)
    fastnn.save(path, fastnn.init_params([300, 200, 10], seed=2), note="new")
    print("new model saved", flush=True)
""")


def test_a_save_killed_mid_write_leaves_the_old_model_loadable(tmp_path):
    """SIGKILL (no cleanup runs) while the new model is half written: the old file is
    complete and loads; what is left besides it is only the hidden temporary file."""
    path = tmp_path / "model.npz"
    child = subprocess.Popen([sys.executable, "-c", SLOW_SAVER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "old model saved"
        partial = []
        with watchdog("waiting for the temporary file to grow"):
            while not partial:
                partial = [p for p in tmp_path.iterdir() if p.name.endswith(".part") and p.stat().st_size > 20_000]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left[0].startswith(".model.npz.") and left[0].endswith(".part") and left[1:] == ["model.npz"], left
    params, meta = fastnn.load(path)
    assert meta["note"] == "old"
    want = fastnn.init_params([300, 200, 10], seed=1)
    for key in want:
        np.testing.assert_array_equal(params[key], want[key])
    with pytest.raises(ValueError):  # the half-written temporary is indeed damaged
        fastnn.load(tmp_path / left[0])
