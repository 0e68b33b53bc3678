"""save/load: bit-exact round trips with metadata and optimizer state, clear errors on
damaged or foreign files, and an old file left intact when a save fails."""
import json
import os
import re
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import io as fio
from fastnn import load, optim, save


@pytest.fixture
def params():
    p = fastnn.init_params([5, 4, 3, 2], seed=0)
    rng = np.random.default_rng(1)
    for k in ("b1", "b2", "b3"):
        p[k] = rng.normal(size=p[k].shape).astype(np.float32)  # non-zero biases, so they are checked too
    return p


def _assert_bit_identical(got, want):
    assert list(got) == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape, k
        assert got[k].tobytes() == want[k].tobytes(), k


def _names(path):
    return re.escape(repr(os.fspath(path)))


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_exact_with_metadata(tmp_path, dtype):
    p = fastnn.init_params([7, 6, 5, 3], seed=2, dtype=dtype)
    p["b2"] = np.linspace(-1, 1, 5, dtype=dtype)
    history = {
        "epoch": [1, 2, 3],
        "loss": [2.302585092994046, 0.1, 1 / 3],
        "accuracy": [0.1135, 0.9, 0.97],
        "seconds": [1e-300, 12.5, 3.0e8],
    }
    meta = {"activation": "tanh", "output": "softmax", "loss": "cross_entropy", "history": history,
            "config": {"lr": 0.01, "schedule": {"name": "step", "every": 2, "gamma": 0.5}, "tags": ["a", "b"]},
            "note": "ünïcode ✓", "flag": True, "nothing": None, "seed": 2**40 + 1}
    path = save(tmp_path / "model.npz", p, **meta)
    assert path == os.fspath(tmp_path / "model.npz")
    got, got_meta = load(path)
    _assert_bit_identical(got, p)
    for k, v in meta.items():
        assert got_meta[k] == v, k
    assert json.dumps(got_meta["history"]) == json.dumps(history)  # floats repr-exact
    assert got_meta["layer_sizes"] == [7, 6, 5, 3]
    assert got_meta["dtype"] == dtype
    assert got_meta["fastnn_version"] == fastnn.__version__


def test_defaults_and_numpy_values_in_metadata(tmp_path, params):
    save(tmp_path / "m.npz", params, best=np.float32(0.5), count=np.int64(7), curve=np.array([1.5, 2.5]))
    _, meta = load(tmp_path / "m.npz")
    assert (meta["activation"], meta["output"], meta["loss"]) == ("relu", "softmax", "cross_entropy")
    assert meta["best"] == 0.5 and meta["count"] == 7 and meta["curve"] == [1.5, 2.5]


def test_the_path_is_used_as_given(tmp_path, params):
    """Unlike np.savez, no '.npz' is appended: the file is where the caller said."""
    save(str(tmp_path / "model.bin"), params)
    assert os.listdir(tmp_path) == ["model.bin"]
    _assert_bit_identical(load(str(tmp_path / "model.bin"))[0], params)


def test_loaded_params_work(tmp_path, params, rng):
    save(tmp_path / "m.npz", params)
    got, _ = load(tmp_path / "m.npz")
    X = rng.random((4, 5), dtype=np.float32)
    np.testing.assert_array_equal(fastnn.predict_proba(got, X), fastnn.predict_proba(params, X))


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_state_round_trip(tmp_path, params, name):
    opt = optim.OPTIMIZERS[name]()
    state = opt.init(params)
    grads = {k: np.full_like(v, 0.25) for k, v in params.items()}
    new_params, state = opt.update(params, grads, state)
    state0 = {k: v.copy() for k, v in state.items()}
    save(tmp_path / "ckpt.npz", new_params, state=state, optimizer=name)
    got, meta, got_state = load(tmp_path / "ckpt.npz", with_state=True)
    _assert_bit_identical(got, new_params)
    _assert_bit_identical(got_state, state0)
    assert int(got_state["step"]) == 1 and meta["optimizer"] == name
    # training resumes exactly where it stopped
    a, sa = opt.update(new_params, grads, state)
    b, sb = opt.update(got, grads, got_state)
    _assert_bit_identical(b, a)
    _assert_bit_identical(sb, sa)
    # without with_state: params and metadata only, no state keys among the params
    p2, m2 = load(tmp_path / "ckpt.npz")
    assert list(p2) == list(new_params) and m2 == meta


def test_state_defaults_to_empty(tmp_path, params):
    save(tmp_path / "m.npz", params)
    assert load(tmp_path / "m.npz", with_state=True)[2] == {}


def test_save_does_not_modify_its_arguments(tmp_path, params):
    state = optim.adam().init(params)
    p0 = {k: v.copy() for k, v in params.items()}
    s0 = {k: v.copy() for k, v in state.items()}
    history = {"loss": [1.0, 0.5]}
    for d in (params, state):
        for v in d.values():
            v.flags.writeable = False
    save(tmp_path / "m.npz", params, state=state, history=history)
    _assert_bit_identical(params, p0)
    _assert_bit_identical(state, s0)
    assert history == {"loss": [1.0, 0.5]}


def test_save_refuses_what_it_cannot_write(tmp_path, params):
    for meta in ({"obj": object()}, {"loss": float("nan")}, {"history": {"loss": [1.0, float("inf")]}}):
        with pytest.raises(TypeError, match=r"JSON-serialisable"):
            save(tmp_path / "m.npz", params, **meta)
    with pytest.raises(ValueError, match=r"missing b3"):
        save(tmp_path / "m.npz", {k: v for k, v in params.items() if k != "b3"})
    assert os.listdir(tmp_path) == []


# --- damaged and foreign files -------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=_names(tmp_path / "nope.npz")):
        load(tmp_path / "nope.npz")


def test_truncated_files(tmp_path, params):
    good = tmp_path / "m.npz"
    save(good, params)
    raw = good.read_bytes()
    for n in sorted({0, 1, 2, len(raw) - 1, len(raw) - 22, *range(3, len(raw), 5)}):
        bad = tmp_path / f"cut{n}.npz"
        bad.write_bytes(raw[:n])
        try:
            load(bad)
        except ValueError as e:
            assert repr(os.fspath(bad)) in str(e), (n, e)
        else:
            raise AssertionError(f"a file cut to {n} of {len(raw)} bytes loaded")


def test_every_single_bit_flip_is_caught_or_harmless(tmp_path):
    """Flip one bit in every byte: load either refuses with a ValueError naming the file,
    or (for bits the archive does not check, such as timestamps) returns exactly the original."""
    p = fastnn.init_params([2, 1], seed=0)
    good = tmp_path / "m.npz"
    save(good, p, history={"loss": [0.5]})
    want_meta = load(good)[1]
    raw = good.read_bytes()
    bad = tmp_path / "flip.npz"
    bad.write_bytes(raw)
    refused = 0
    for i in range(len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 1 << (i % 8)
        with open(bad, "r+b") as f:  # same length, so no truncation (slow on ext4)
            f.write(damaged)
        try:
            got, meta = load(bad)
        except ValueError as e:
            assert repr(os.fspath(bad)) in str(e)
            refused += 1
        else:
            _assert_bit_identical(got, p)
            assert meta == want_meta
    assert refused > len(raw) // 2


def test_zip_encryption_flags_are_caught(tmp_path, params):
    """Bit 0 of a zip entry's flags in the central directory means 'encrypted'; zipfile then
    raises RuntimeError, which load must turn into its ValueError."""
    good = tmp_path / "m.npz"
    save(good, params)
    raw = good.read_bytes()
    bad = tmp_path / "flag.npz"
    offsets = [m.start() + 8 for m in re.finditer(b"PK\x01\x02", raw)]  # flags of a central header
    assert len(offsets) == len(params) + 1
    for off in offsets:
        damaged = bytearray(raw)
        damaged[off] ^= 1
        bad.write_bytes(damaged)
        with pytest.raises(ValueError, match=_names(bad)):
            load(bad)


def test_files_that_are_not_npz(tmp_path, params):
    text = tmp_path / "model.txt"
    text.write_text("W1 = [[1, 2], [3, 4]]\n")
    npy = tmp_path / "W1.npy"
    np.save(npy, params["W1"])
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"W1": 1}], dtype=object), allow_pickle=True)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "not a model")
    for path in (text, npy, pickled, empty, other_zip):
        with pytest.raises(ValueError, match=_names(path)):
            load(path)
    with pytest.raises(ValueError, match=_names(tmp_path)):
        load(tmp_path)  # a folder


def test_missing_metadata(tmp_path, params):
    path = tmp_path / "plain.npz"
    np.savez(path, **params)
    with pytest.raises(ValueError, match=_names(path) + r" has no fastnn metadata"):
        load(path)


@pytest.mark.parametrize("blob", [b"{not json", b"[1, 2, 3]", b"\xff\xfe"])
def test_corrupted_metadata(tmp_path, params, blob):
    path = tmp_path / "m.npz"
    np.savez(path, **params, **{fio.META_KEY: np.frombuffer(blob, dtype=np.uint8)})
    with pytest.raises(ValueError, match=_names(path) + r" has corrupted metadata"):
        load(path)


def _write_raw(path, arrays, **meta):
    blob = json.dumps(meta).encode()
    np.savez(path, **arrays, **{fio.META_KEY: np.frombuffer(blob, dtype=np.uint8)})


def test_inconsistent_shapes(tmp_path, params):
    path = tmp_path / "m.npz"
    # metadata and arrays disagree
    _write_raw(path, params, layer_sizes=[5, 4, 3, 9])
    with pytest.raises(ValueError, match=_names(path) + r" is inconsistent.*\[5, 4, 3, 9\].*\[5, 4, 3, 2\]"):
        load(path)
    # the arrays do not chain
    _write_raw(path, {**params, "W2": np.zeros((6, 3), np.float32)})
    with pytest.raises(ValueError, match=_names(path) + r" does not hold a valid network.*W2"):
        load(path)
    # a bias of the wrong length, an integer weight, a missing layer, a stray array
    for arrays in ({**params, "b1": np.zeros(9, np.float32)}, {**params, "W1": params["W1"].astype(np.int32)},
                   {k: v for k, v in params.items() if k != "W3"}, {**params, "extra": np.zeros(2)}):
        _write_raw(path, arrays)
        with pytest.raises(ValueError, match=_names(path) + r" does not hold a valid network"):
            load(path)


# --- a failing writer leaves the old file alone ---------------------------------------------------


def _failing_savez(exc):
    def savez(file, *args, **kwds):
        file.write(b"PK\x03\x04 half a zip archive ...")
        raise exc

    return savez


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_save_leaves_the_old_file_intact(tmp_path, params, monkeypatch, exc):
    path = tmp_path / "model.npz"
    save(path, params, note="old")
    before = path.read_bytes()
    newer = {k: v + 1 for k, v in params.items()}
    monkeypatch.setattr(fio.np, "savez", _failing_savez(exc))
    with pytest.raises(type(exc)):
        save(path, newer, note="new")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    got, meta = load(path)
    _assert_bit_identical(got, params)
    assert meta["note"] == "old"


def test_a_failed_first_save_leaves_nothing(tmp_path, params, monkeypatch):
    monkeypatch.setattr(fio.np, "savez", _failing_savez(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        save(tmp_path / "model.npz", params)
    assert os.listdir(tmp_path) == []


def test_saving_over_an_existing_file_replaces_it(tmp_path, params):
    path = tmp_path / "model.npz"
    save(path, params, note="old")
    newer = {k: v * 2 for k, v in params.items()}
    save(path, newer, note="new")
    got, meta = load(path)
    _assert_bit_identical(got, newer)
    assert meta["note"] == "new" and os.listdir(tmp_path) == ["model.npz"]
