"""atomic_path: the file appears complete or not at all, and looks like any other file."""
import os
import stat
import sys

import pytest

from fastnn.files import NotARegularFileError, atomic_path, open_regular


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


# --- only regular files are replaced (issue 32) --------------------------------------------------


def _device_copy(folder):
    """A character device node with /dev/null's numbers, or skip where mknod needs privileges."""
    node = folder / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError) as e:
        pytest.skip(f"cannot create a device node here: {e}")
    return node


def _fifo(folder):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = folder / "pipe"
    os.mkfifo(fifo)
    return fifo


def _socket(folder):
    import socket

    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("no Unix sockets on this platform")
    path = folder / "sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return path


def _symlink(folder):
    target = folder / "target.bin"
    target.write_bytes(b"target")
    link = folder / "link.bin"
    try:
        link.symlink_to(target)
    except (OSError, NotImplementedError) as e:
        pytest.skip(f"cannot create a symbolic link here: {e}")
    return link


def _write(path, data=b"new"):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


@pytest.mark.parametrize("make, kind", [(_device_copy, "a character device"), (_fifo, "a FIFO"),
                                        (_socket, "a socket"), (_symlink, "a symbolic link")])
def test_a_special_file_is_refused_and_left_as_it_was(tmp_path, make, kind):
    special = make(tmp_path)
    before = os.lstat(special)
    with pytest.raises(NotARegularFileError, match=f"is {kind}.*replaces only regular files"):
        _write(special)
    after = os.lstat(special)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path):
    link = _symlink(tmp_path)
    with pytest.raises(NotARegularFileError, match="give the link's target"):
        _write(link)
    assert link.is_symlink() and (tmp_path / "target.bin").read_bytes() == b"target"
    _write(os.path.realpath(link))  # the target itself is an ordinary file
    assert link.read_bytes() == b"new"


def test_a_dangling_symlink_is_refused_too(tmp_path):
    link = tmp_path / "dangling"
    try:
        link.symlink_to(tmp_path / "nowhere")
    except (OSError, NotImplementedError) as e:
        pytest.skip(f"cannot create a symbolic link here: {e}")
    with pytest.raises(NotARegularFileError):
        _write(link)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("name", ["folder", "folder/"])
def test_a_folder_is_refused(tmp_path, name):
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        _write(os.path.join(tmp_path, name))
    assert (tmp_path / "folder").is_dir()


def test_a_special_file_appearing_during_the_write_is_not_replaced(tmp_path):
    path = tmp_path / "out.bin"
    with pytest.raises(NotARegularFileError):
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"data")
            _fifo(tmp_path).rename(path)
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    assert os.listdir(tmp_path) == ["out.bin"]


def test_the_data_is_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) if os.path.exists("/proc/self/fd")
                       else fd))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.path.basename(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    _write(tmp_path / "out.bin")
    kinds = [e[0] for e in events]
    assert kinds == ["fsync", "replace", "fsync"], events
    if os.path.exists("/proc/self/fd"):
        assert events[0][1].startswith(".out.bin.") and events[0][1].endswith(".part")
        assert events[2][1] == tmp_path.name


# --- abandoned temporary files -------------------------------------------------------------------


def test_a_killed_writer_s_part_files_are_removed_by_the_next_write(tmp_path):
    """Only our own names for this target go: other files, and parts of other targets, stay."""
    stale = [tmp_path / ".out.bin.0123456789ab.part", tmp_path / ".out.bin.ba9876543210.part"]
    keep = [tmp_path / ".other.bin.0123456789ab.part", tmp_path / ".out.bin.part", tmp_path / "out.bin.x.part",
            tmp_path / ".out.bin.0123456789abc.part", tmp_path / "notes.txt"]
    for p in stale + keep:
        p.write_bytes(b"x" * 100)
    _write(tmp_path / "out.bin")
    assert sorted(os.listdir(tmp_path)) == sorted(["out.bin"] + [p.name for p in keep])


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_part_file_still_being_written_is_left_alone(tmp_path):
    """Two writers of one name: the second must not remove the first one's temporary file."""
    with atomic_path(tmp_path / "out.bin") as first:
        with open(first, "wb") as f:
            f.write(b"first")
        _write(tmp_path / "out.bin", b"second")
        assert os.path.exists(first)
    assert (tmp_path / "out.bin").read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_writer_killed_mid_write_leaves_a_part_that_the_next_write_removes(tmp_path):
    import signal
    import subprocess

    code = ("import os, sys\nfrom fastnn.files import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    open(tmp, 'wb').write(b'half')\n    print(tmp, flush=True)\n    sys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out.bin")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    part = child.stdout.readline().strip()
    assert os.path.exists(part)
    _write(tmp_path / "out.bin", b"meanwhile")  # the child is alive: its part stays
    assert os.path.exists(part)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdin.close()
    child.stdout.close()
    assert os.path.exists(part)
    _write(tmp_path / "out.bin", b"after")
    assert os.listdir(tmp_path) == ["out.bin"]
    assert (tmp_path / "out.bin").read_bytes() == b"after"


# --- reading only regular files ------------------------------------------------------------------


def test_open_regular_reads_a_file_and_follows_a_link_to_one(tmp_path):
    link = _symlink(tmp_path)
    with open_regular(link) as f:
        assert f.read() == b"target"


@pytest.mark.parametrize("make, kind", [(_device_copy, "a character device"), (_fifo, "a FIFO")])
def test_open_regular_refuses_a_fifo_or_device_at_once(tmp_path, make, kind):
    """A FIFO without a writer used to block the reader forever: here it is an error at once."""
    import threading

    special = make(tmp_path)
    outcome = []

    def read():
        try:
            with open_regular(special) as f:
                outcome.append(f.read(10))
        except Exception as e:  # noqa: BLE001 - the test inspects it
            outcome.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # release the blocked reader before failing
        os.close(os.open(special, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("open_regular blocked on a FIFO")
    assert isinstance(outcome[0], NotARegularFileError), outcome
    assert kind in str(outcome[0])


def test_open_regular_refuses_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError):
        open_regular(tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_file_system_without_locks_still_writes_and_keeps_parts_it_cannot_judge(tmp_path, monkeypatch):
    import fastnn.files

    def no_locks(fd, op):
        raise OSError(37, "No locks available")

    (tmp_path / ".out.bin.0123456789ab.part").write_bytes(b"unknown")
    monkeypatch.setattr(fastnn.files.fcntl, "flock", no_locks)
    _write(tmp_path / "out.bin", b"data")
    assert (tmp_path / "out.bin").read_bytes() == b"data"
    assert sorted(os.listdir(tmp_path)) == [".out.bin.0123456789ab.part", "out.bin"]
