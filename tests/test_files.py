"""atomic_path: the file appears complete or not at all, and looks like any other file."""
import os
import stat
import sys

import pytest

from fastnn.files import atomic_path


def test_writes_land_at_the_path_on_success(tmp_path):
    path = tmp_path / "out.bin"
    with atomic_path(path) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)  # same folder: the rename is atomic
        assert os.path.basename(tmp).startswith(".out.bin.") and tmp.endswith(".part")
        assert os.path.exists(tmp) and not path.exists()
        with open(tmp, "wb") as f:
            f.write(b"complete")
    assert path.read_bytes() == b"complete"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_the_old_file_stays_visible_until_the_end(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with atomic_path(str(path)) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"new, half written")
            assert path.read_bytes() == b"old"
    assert path.read_bytes() == b"new, half written"
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("exc", [OSError("disk full"), ValueError("bad data"), KeyboardInterrupt()])
def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path, exc):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(type(exc)) as info:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise exc
    assert info.value is exc
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_failure_without_an_old_file_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.bin") as tmp:
            os.remove(tmp)  # even if the temporary file is already gone
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_a_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_path("rel.txt") as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, "w") as f:
            f.write("x")
    assert (tmp_path / "rel.txt").read_text() == "x"


def test_a_missing_folder_fails_before_the_body_runs(tmp_path):
    ran = []
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "no" / "such" / "out.bin"):
            ran.append(True)
    assert ran == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_new_file_gets_the_permissions_open_would_give(tmp_path):
    reference = tmp_path / "plain.bin"
    with open(reference, "wb") as f:
        f.write(b"x")
    path = tmp_path / "atomic.bin"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"x")
    assert oct(stat.S_IMODE(os.stat(path).st_mode)) == oct(stat.S_IMODE(os.stat(reference).st_mode))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664])
def test_replacing_a_file_keeps_its_permissions(tmp_path, mode):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    os.chmod(path, mode)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"new")
    assert path.read_bytes() == b"new"
    assert oct(stat.S_IMODE(os.stat(path).st_mode)) == oct(mode)
