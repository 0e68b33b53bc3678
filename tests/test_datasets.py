"""fastnn.datasets: loading, the search path, checksums, downloads from a local server, errors.

No test reaches beyond 127.0.0.1: an autouse fixture points every mirror list at a closed local
port, and the download tests serve copies of the shared MNIST files from a local http.server.
"""
import gzip
import hashlib
import http.server
import os
import pathlib
import shutil
import socket
import struct
import threading

import numpy as np
import pytest

from fastnn import datasets

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
DEBIAN_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No real mirror, no $FASTNN_DATA, an empty user cache and a fresh hash cache for every test."""
    dead = f"http://127.0.0.1:{closed_port()}/"
    monkeypatch.setattr(datasets, "MIRRORS", {"mnist": [dead], "fashion-mnist": [dead]})
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "_IDENTITY_CACHE", {})


def raw_mnist(folder):
    """Images and labels parsed independently of fastnn: gzip module + struct."""
    out = {}
    for stem in STEMS:
        with gzip.open(folder / (stem + ".gz")) as f:
            content = f.read()
        ndim = content[3]
        dims = struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])
        out[stem] = np.frombuffer(content, np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return out


def sha256sums(folder):
    lines = (folder / "SHA256SUMS").read_text().split("\n")
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def check_mnist(result, dtype=np.float32):
    (X, y), (Xt, yt) = result
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784)
    assert X.dtype == dtype and Xt.dtype == dtype
    assert y.dtype == np.int64 and yt.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0 and Xt.min() == 0.0 and Xt.max() == 1.0
    assert np.bincount(y, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(yt, minlength=10).tolist() == TEST_COUNTS


def assert_same(a, b):
    for (Xa, ya), (Xb, yb) in zip(a, b):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)


def gunzip_to(src, dest):
    dest.mkdir(parents=True, exist_ok=True)
    for stem in STEMS:
        with gzip.open(src / (stem + ".gz")) as f:
            (dest / stem).write_bytes(f.read())
    return dest


def copy_gz(src, dest, stems=STEMS):
    dest.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        shutil.copyfile(src / (stem + ".gz"), dest / (stem + ".gz"))
    return dest


# --------------------------------------------------------------------------------------------
# loading


def test_gz_from_fastnn_data(monkeypatch, mnist_dir):
    monkeypatch.setenv("FASTNN_DATA", str(mnist_dir))
    result = datasets.load_mnist()
    check_mnist(result)
    raw = raw_mnist(mnist_dir)
    (X, y), (Xt, yt) = result
    # pixel / 255 in float64, rounded once to float32, is what a single correctly rounded division gives
    np.testing.assert_array_equal(X, (raw["train-images-idx3-ubyte"].reshape(60000, 784) / 255.0).astype(np.float32))
    np.testing.assert_array_equal(np.rint(Xt * 255), raw["t10k-images-idx3-ubyte"].reshape(10000, 784))
    np.testing.assert_array_equal(y, raw["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(yt, raw["t10k-labels-idx1-ubyte"])
    assert all(a.flags.writeable and a.flags.c_contiguous for pair in result for a in pair)


def test_path_argument_wins_over_fastnn_data(monkeypatch, mnist_dir, tmp_path):
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "nowhere"))
    check_mnist(datasets.load_mnist(mnist_dir))


def test_uncompressed_copies(monkeypatch, mnist_dir, tmp_path):
    folder = gunzip_to(mnist_dir, tmp_path / "raw")
    from_raw = datasets.load_mnist(folder)
    check_mnist(from_raw)
    assert_same(from_raw, datasets.load_mnist(mnist_dir))
    monkeypatch.setenv("FASTNN_DATA", str(folder))
    check_mnist(datasets.load_mnist())


def test_subfolder_named_for_the_data_set(mnist_dir, tmp_path):
    copy_gz(mnist_dir, tmp_path / "data" / "mnist")
    check_mnist(datasets.load_mnist(tmp_path / "data"))
    assert datasets.find("mnist", tmp_path / "data") == tmp_path / "data" / "mnist"


def test_float64_and_unflattened(mnist_dir):
    (X, y), (Xt, yt) = datasets.load_mnist(mnist_dir, dtype="float64", flatten=False)
    assert X.dtype == np.float64 and X.shape == (60000, 28, 28) and Xt.shape == (10000, 28, 28)
    raw = raw_mnist(mnist_dir)
    np.testing.assert_array_equal(Xt, raw["t10k-images-idx3-ubyte"] / 255.0)
    assert datasets.load_mnist(mnist_dir, dtype=np.float32)[0][0].dtype == np.float32


@pytest.mark.parametrize("flatten", [True, False])
def test_not_normalized_stays_uint8(mnist_dir, flatten):
    (X, y), (Xt, yt) = datasets.load_mnist(mnist_dir, normalize=False, flatten=flatten)
    raw = raw_mnist(mnist_dir)
    shape = (60000, 784) if flatten else (60000, 28, 28)
    assert X.dtype == np.uint8 and X.shape == shape and Xt.dtype == np.uint8
    np.testing.assert_array_equal(X.reshape(60000, 28, 28), raw["train-images-idx3-ubyte"])
    assert X.flags.writeable and Xt.flags.writeable  # the caller may shuffle in place
    assert y.dtype == np.int64 and np.bincount(yt).tolist() == TEST_COUNTS


def test_recompressed_gz_is_accepted_by_its_content(mnist_dir, tmp_path):
    folder = tmp_path / "recompressed"
    folder.mkdir()
    for stem in STEMS:
        with gzip.open(mnist_dir / (stem + ".gz")) as f:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(f.read(), compresslevel=1, mtime=12345))
    assert sha256(folder / "t10k-labels-idx1-ubyte.gz") != sha256(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert_same(datasets.load_mnist(folder), datasets.load_mnist(mnist_dir))


def test_each_file_is_hashed_once_per_path_mtime_and_size(monkeypatch, mnist_dir, tmp_path):
    folder = copy_gz(mnist_dir, tmp_path / "copy")
    calls = []
    real = hashlib.sha256

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(datasets.hashlib, "sha256", counting)
    datasets.load_mnist(folder)
    first = len(calls)
    assert first >= 4
    datasets.load_mnist(folder)
    assert len(calls) == first  # nothing hashed again
    stat = os.stat(folder / "t10k-labels-idx1-ubyte.gz")
    os.utime(folder / "t10k-labels-idx1-ubyte.gz", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    datasets.load_mnist(folder)
    assert len(calls) == first + 1  # only the touched file


# --------------------------------------------------------------------------------------------
# damaged files


def damaged_copy(mnist_dir, tmp_path, stem, damage, compressed=True):
    folder = copy_gz(mnist_dir, tmp_path / "damaged") if compressed else gunzip_to(mnist_dir, tmp_path / "damaged")
    path = folder / (stem + (".gz" if compressed else ""))
    path.write_bytes(damage(path.read_bytes()))
    return folder, path


def flip_middle_byte(b):
    b = bytearray(b)
    b[len(b) // 2] ^= 0x55
    return bytes(b)


@pytest.mark.parametrize(
    "damage",
    [flip_middle_byte, lambda b: b[: len(b) // 2], lambda b: b + b"\x00", lambda b: b"\x00\x00\x0d\x03" + b[4:]],
    ids=["corrupted", "truncated", "extra-byte", "wrong-magic"],
)
@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "raw"])
def test_damaged_file_is_a_value_error_naming_it(mnist_dir, tmp_path, damage, compressed):
    folder, path = damaged_copy(mnist_dir, tmp_path, "train-images-idx3-ubyte", damage, compressed)
    with pytest.raises(ValueError, match=str(path)):
        datasets.load_mnist(folder)


def test_bad_gzip_stream_is_a_checksum_error(mnist_dir, tmp_path):
    folder, path = damaged_copy(mnist_dir, tmp_path, "t10k-labels-idx1-ubyte", lambda b: b[:10] + b"\xff" * 64 + b[74:])
    with pytest.raises(datasets.ChecksumError, match=str(path)):
        datasets.load_mnist(folder)


def test_files_swapped_between_names(mnist_dir, tmp_path):
    folder = copy_gz(mnist_dir, tmp_path / "swapped")
    shutil.copyfile(mnist_dir / "t10k-labels-idx1-ubyte.gz", folder / "train-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz.*holds t10k-labels"):
        datasets.load_mnist(folder)


def test_corrupt_file_in_fastnn_data_is_reported_not_skipped(monkeypatch, mnist_dir, tmp_path):
    folder, path = damaged_copy(mnist_dir, tmp_path, "t10k-images-idx3-ubyte", flip_middle_byte)
    monkeypatch.setenv("FASTNN_DATA", str(folder))
    with pytest.raises(datasets.ChecksumError, match=str(path)):
        datasets.load_mnist()


# --------------------------------------------------------------------------------------------
# downloads from a local server


class Mirrors:
    """A local HTTP server with four mirrors of the MNIST files: missing, corrupt, truncated, good."""

    def __init__(self, folder):
        self.files = {stem + ".gz": (folder / (stem + ".gz")).read_bytes() for stem in STEMS}
        self.requests = []
        self.slow = threading.Event()
        mirrors = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                kind, _, name = self.path.strip("/").partition("/")
                mirrors.requests.append((kind, name))
                body = mirrors.files.get(name)
                if kind == "missing" or body is None:
                    self.send_error(404)
                    return
                if kind == "slow":
                    mirrors.slow.wait(5)
                    return
                if kind == "corrupt":
                    body = flip_middle_byte(body)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # the truncated mirror announces the full length, sends half and hangs up
                self.wfile.write(body[: len(body) // 2] if kind == "truncated" else body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, kind):
        return f"{self.base}/{kind}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.slow.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server(mnist_dir):
    with Mirrors(mnist_dir) as s:
        yield s


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*"))


def test_download_skips_failing_mirrors_and_verifies(monkeypatch, server, mnist_dir, tmp_path, capsys):
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url(k) for k in ("missing", "corrupt", "truncated", "good")])
    result = datasets.load_mnist()
    cache = tmp_path / "cache" / "fastnn" / "mnist"
    assert files_under(tmp_path / "cache") == ["fastnn", "fastnn/mnist"] + [f"fastnn/mnist/{s}.gz" for s in sorted(STEMS)]
    expected = sha256sums(mnist_dir)
    assert {p.name: sha256(p) for p in cache.iterdir()} == expected
    assert_same(result, datasets.load_mnist(mnist_dir))
    for stem in STEMS:  # every mirror was tried, in order, for every file
        asked = [kind for kind, name in server.requests if name == stem + ".gz"]
        assert asked == ["missing", "corrupt", "truncated", "good"]
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err  # a progress bar was shown
    # loaded from the cache from now on: no more requests
    count = len(server.requests)
    check_mnist(datasets.load_mnist())
    assert len(server.requests) == count


def test_download_fetches_only_missing_files(monkeypatch, server, mnist_dir, tmp_path):
    cache = datasets.cache_dir("mnist")
    copy_gz(mnist_dir, cache, STEMS[:2])
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url("good")])
    check_mnist(datasets.load_mnist())
    assert sorted(name for _, name in server.requests) == sorted(s + ".gz" for s in STEMS[2:])


def test_download_with_plain_progress_line(monkeypatch, server, tmp_path, capsys):
    monkeypatch.setattr(datasets, "_load_tqdm", lambda: None)
    folder = datasets.download("mnist", tmp_path / "dl", mirrors=[server.url("good")], timeout=10)
    err = capsys.readouterr().err
    assert "t10k-labels-idx1-ubyte.gz: 100.0% (0.0 of 0.0 MB)" in err
    assert "train-images-idx3-ubyte.gz: 100.0% (9.9 of 9.9 MB)" in err
    assert len(list(folder.iterdir())) == 4


def test_download_times_out_and_leaves_nothing(server, tmp_path):
    target = tmp_path / "dl" / "mnist"
    with pytest.raises(datasets.DownloadError, match="timed out"):
        datasets.download("mnist", target, mirrors=[server.url("slow")], timeout=0.3, progress=False)
    assert files_under(tmp_path) == []


def test_all_mirrors_bad_leaves_nothing_partial(monkeypatch, server, tmp_path):
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url(k) for k in ("missing", "corrupt", "truncated")])
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.load_mnist()
    message = str(info.value)
    assert "HTTP 404" in message and "not that of MNIST" in message and "truncated" in message
    assert files_under(tmp_path) == []


def test_download_rejects_bad_timeout(tmp_path):
    for timeout in (0, -1, "5", True):
        with pytest.raises(ValueError, match="timeout"):
            datasets.download("mnist", tmp_path, timeout=timeout)


# --------------------------------------------------------------------------------------------
# nothing anywhere


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_offline_without_a_copy_lists_every_place(monkeypatch, tmp_path, name):
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", {"mnist": [], "fashion-mnist": [str(tmp_path / "system")]})
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.load_mnist(fashion=name == "fashion-mnist")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    cache = str(tmp_path / "cache" / "fastnn" / name)
    for place in (f"FASTNN_DATA: {tmp_path / 'data' / name}", f"FASTNN_DATA: {tmp_path / 'data'}", f"cache: {cache}"):
        assert place in message
    assert datasets.MIRRORS[name][0] + "train-images-idx3-ubyte.gz: cannot connect" in message
    assert "set FASTNN_DATA" in message and "put the four files" in message and cache in message
    if name == "fashion-mnist":
        assert f"system: {tmp_path / 'system'}" in message and "apt-get install dataset-fashion-mnist" in message
    assert files_under(tmp_path) == []  # not even an empty cache folder


def test_fastnn_data_unset_is_said(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError, match="FASTNN_DATA: not set"):
        datasets.load_mnist()


def test_explicit_path_without_the_files_does_not_search_further(mnist_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTNN_DATA", str(mnist_dir))
    copy_gz(mnist_dir, tmp_path / "partial", STEMS[:3])
    with pytest.raises(datasets.DatasetNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        datasets.load_mnist(tmp_path / "partial")


def test_wrong_data_set_in_the_folder_is_said(mnist_dir):
    with pytest.raises(datasets.DatasetNotFoundError, match="holds another data set.*is MNIST"):
        datasets.load_mnist(mnist_dir, fashion=True)


# --------------------------------------------------------------------------------------------
# Fashion-MNIST from Debian's package

DEBIAN_SHA256 = {  # dataset-fashion-mnist 0.0~git20200523.55506a9-1
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
# Published by the Fashion-MNIST project (README, "MD5 Checksum" column).
PUBLISHED_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# gzip MTIME of the upstream files; Debian's build replaced it and dropped the file name field.
UPSTREAM_MTIME = {"train": 1504176606, "t10k": 1504176627}


@pytest.fixture
def debian_fashion():
    if not all((DEBIAN_FASHION / name).is_file() for name in DEBIAN_SHA256):
        message = "Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DEBIAN_FASHION


def test_fashion_mnist_loads_from_debian_folder(debian_fashion):
    assert datasets.find("fashion-mnist") == debian_fashion
    (X, y), (Xt, yt) = datasets.load_mnist(fashion=True)
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    raw = raw_mnist(debian_fashion)
    np.testing.assert_array_equal(np.rint(X * 255), raw["train-images-idx3-ubyte"].reshape(60000, 784))
    np.testing.assert_array_equal(yt, raw["t10k-labels-idx1-ubyte"])


def test_debian_files_have_the_known_checksums(debian_fashion):
    assert {name: sha256(debian_fashion / name) for name in DEBIAN_SHA256} == DEBIAN_SHA256


def test_published_fashion_checksums_from_debian_files(debian_fashion):
    """Rebuild the upstream files (Debian's bytes with the original gzip header) and check the
    published MD5s and the SHA-256s in fastnn's table: the same deflate data, verified twice."""
    table = {(k.stem + ".gz"): d for d, k in datasets._KNOWN.items() if k.dataset == "fashion-mnist" and k.source == "published"}
    for name, md5 in PUBLISHED_MD5.items():
        debian = (debian_fashion / name).read_bytes()
        assert debian[3] == 0  # no FNAME field: the 10-byte header is followed by the deflate data
        header = b"\x1f\x8b\x08\x08" + struct.pack("<I", UPSTREAM_MTIME[name.split("-")[0]]) + b"\x00\x03"
        upstream = header + name[:-3].encode() + b"\x00" + debian[10:]
        assert hashlib.md5(upstream).hexdigest() == md5
        assert hashlib.sha256(upstream).hexdigest() == table[name]
        assert gzip.decompress(upstream) == gzip.decompress(debian)


def test_fashion_skips_an_mnist_folder_in_fastnn_data(monkeypatch, mnist_dir, debian_fashion):
    monkeypatch.setenv("FASTNN_DATA", str(mnist_dir))
    assert datasets.find("fashion-mnist") == debian_fashion
    places = {loc.folder: loc for loc in datasets.available()["fashion-mnist"]}
    assert places[mnist_dir].status == "other" and places[debian_fashion].present


# --------------------------------------------------------------------------------------------
# available()


def test_available_says_what_is_where(monkeypatch, mnist_dir, tmp_path):
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", {"mnist": [], "fashion-mnist": [str(tmp_path / "system")]})
    monkeypatch.setenv("FASTNN_DATA", str(mnist_dir))
    copy_gz(mnist_dir, datasets.cache_dir("mnist"), STEMS[1:])
    found = datasets.available()
    assert sorted(found) == ["fashion-mnist", "mnist"]
    mnist = [(loc.source, loc.folder, loc.status) for loc in found["mnist"]]
    assert mnist == [
        ("FASTNN_DATA", mnist_dir / "mnist", "absent"),
        ("FASTNN_DATA", mnist_dir, "ok"),
        ("cache", tmp_path / "cache" / "fastnn" / "mnist", "incomplete"),
    ]
    assert "missing train-images-idx3-ubyte" in found["mnist"][2].detail
    fashion = [(loc.source, loc.status) for loc in found["fashion-mnist"]]
    assert fashion == [("FASTNN_DATA", "absent"), ("FASTNN_DATA", "other"), ("cache", "absent"), ("system", "absent")]
    assert [loc.present for loc in found["mnist"]] == [False, True, False]


def test_available_reports_a_corrupt_copy_without_raising(mnist_dir, tmp_path):
    folder, path = damaged_copy(mnist_dir, tmp_path, "train-labels-idx1-ubyte", lambda b: b[:-3])
    loc = datasets.available(folder)["mnist"][1]
    assert loc.status == "corrupt" and str(path) in loc.detail


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    assert datasets.cache_dir("fashion-mnist") == tmp_path / "cache" / "fastnn" / "fashion-mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.cache_dir("mnist") == tmp_path / "home" / ".cache" / "fastnn" / "mnist"


# --------------------------------------------------------------------------------------------
# bad arguments


@pytest.mark.parametrize("dtype", ["int8", "float16", np.uint8, "nonsense", None])
def test_bad_dtype(dtype, tmp_path):
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        datasets.load_mnist(tmp_path, dtype=dtype)


@pytest.mark.parametrize("flag", ["fashion", "normalize", "flatten"])
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_flags_must_be_bool(flag, value, tmp_path):
    with pytest.raises(TypeError, match=f"{flag} must be True or False"):
        datasets.load_mnist(tmp_path, **{flag: value})


def test_path_that_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.load_mnist(tmp_path / "nope")


def test_path_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        datasets.load_mnist(tmp_path / "f")
    with pytest.raises(TypeError, match="path must be"):
        datasets.load_mnist(42)


def test_unknown_data_set_name():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        datasets.find("cifar")
