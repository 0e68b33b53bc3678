"""How long loading MNIST takes, and what verifying it costs (issue 4).

Run:  FASTNN_DATA=../shared/mnist python -m pytest bench/bench_datasets.py --benchmark-only

- load_mnist from the four .gz files, with the per-process hash cache empty (first load in a
  process: SHA-256 of every file) and filled (later loads);
- load_mnist from gunzipped copies (verified by the SHA-256 of their content);
- the SHA-256 of the four .gz files and of the four uncompressed files on their own;
- Fashion-MNIST from Debian's folder, when the package dataset-fashion-mnist is installed.
"""
import gzip
import hashlib
import os
import pathlib

import pytest

from fastnn import datasets

STEMS = datasets.STEMS


@pytest.fixture(scope="module")
def gz_dir():
    folder = os.environ.get("FASTNN_DATA")
    if not folder or not (pathlib.Path(folder) / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("set FASTNN_DATA to the folder with the MNIST .gz files")
    return pathlib.Path(folder)


@pytest.fixture(scope="module")
def raw_dir(gz_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist-raw")
    for stem in STEMS:
        with gzip.open(gz_dir / (stem + ".gz")) as f:
            (folder / stem).write_bytes(f.read())
    return folder


def clear_hash_cache():
    datasets._IDENTITY_CACHE.clear()


def sha256_files(paths):
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_load_gz_first_in_process(benchmark, gz_dir):
    benchmark.pedantic(datasets.load_mnist, args=(gz_dir,), setup=clear_hash_cache, rounds=7)


def test_load_gz_hash_cached(benchmark, gz_dir):
    datasets.load_mnist(gz_dir)
    benchmark.pedantic(datasets.load_mnist, args=(gz_dir,), rounds=7)


def test_load_gz_uint8(benchmark, gz_dir):
    datasets.load_mnist(gz_dir)
    benchmark.pedantic(datasets.load_mnist, args=(gz_dir,), kwargs={"normalize": False}, rounds=7)


def test_load_uncompressed_first_in_process(benchmark, raw_dir):
    benchmark.pedantic(datasets.load_mnist, args=(raw_dir,), setup=clear_hash_cache, rounds=7)


def test_sha256_of_the_four_gz_files(benchmark, gz_dir):
    benchmark.pedantic(sha256_files, args=([gz_dir / (s + ".gz") for s in STEMS],), rounds=10)


def test_sha256_of_the_four_uncompressed_files(benchmark, raw_dir):
    benchmark.pedantic(sha256_files, args=([raw_dir / s for s in STEMS],), rounds=10)


def test_load_fashion_from_debian(benchmark):
    folder = pathlib.Path("/usr/share/datasets/fashion-mnist")
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("apt-get install dataset-fashion-mnist")
    benchmark.pedantic(datasets.load_mnist, args=(folder,), kwargs={"fashion": True}, setup=clear_hash_cache, rounds=5)
