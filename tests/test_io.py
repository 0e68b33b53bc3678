"""save/load: bit-exact round trips with metadata and optimizer state, clear errors on
damaged or foreign files, and an old file left intact when a save fails."""
import json
import os
import re
import stat
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest

import fastnn
from fastnn import io as fio
from fastnn import load, optim, save
from fastnn.files import NotARegularFileError

WIRING = {"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"}
FILE_WIRING = {"activation": "relu", "output": "softmax", "loss": "cross_entropy"}  # as model files spell it

pytestmark = pytest.mark.filterwarnings("ignore:saving without a wiring:UserWarning")


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
    meta = {"wiring": {"activation": "tanh", "output_activation": "softmax", "loss": "cross_entropy"},
            "history": history,
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


def test_numpy_values_in_metadata(tmp_path, params):
    save(tmp_path / "m.npz", params, wiring=WIRING, best=np.float32(0.5), count=np.int64(7), curve=np.array([1.5, 2.5]))
    _, meta = load(tmp_path / "m.npz")
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
    for meta in ({"obj": object()}, {"score": float("nan")}, {"history": {"loss": [1.0, float("inf")]}}):
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


def _in_memory(file_wiring):
    """A wiring as a file spells it (``output``), spelt as in memory (``output_activation``)."""
    return {("output_activation" if k == "output" else k): v for k, v in file_wiring.items()}


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


# --- the wiring travels with the model (issue 30) ------------------------------------------------

TANH_SIGMOID_MSE = {"activation": "tanh", "output_activation": "sigmoid", "loss": "mse"}


@pytest.fixture(scope="module")
def tanh_model():
    """A tanh / sigmoid-output / MSE network trained by train(), with the history it returned."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X[:, 0] > X[:, 1]).astype(np.int64) + (X[:, 2] > 0.5)
    params, history = fastnn.train(fastnn.init_params([6, 8, 3], seed=1), X, y, epochs=3, lr=0.1, seed=0,
                                   **TANH_SIGMOID_MSE)
    return params, history, X


def test_train_reports_its_wiring_and_save_records_it(tmp_path, tanh_model):
    """The README's way, save(path, params, history=history), keeps how the network was trained:
    the loaded model predicts exactly as the one in memory (relu would not)."""
    params, history, X = tanh_model
    assert history["wiring"] == TANH_SIGMOID_MSE
    save(tmp_path / "m.npz", params, history=history)
    got, meta = load(tmp_path / "m.npz")
    assert meta["wiring"] == TANH_SIGMOID_MSE and meta["wiring_assumed"] is False
    assert (meta["activation"], meta["output"], meta["loss"]) == ("tanh", "sigmoid", "mse")  # for older readers
    wiring = {k: meta["wiring"][k] for k in ("activation", "output_activation")}
    np.testing.assert_array_equal(fastnn.predict_proba(got, X, **wiring),
                                  fastnn.predict_proba(params, X, activation="tanh", output_activation="sigmoid"))
    assert not np.array_equal(fastnn.predict_proba(got, X),  # the old default would have changed the answers
                              fastnn.predict_proba(params, X, activation="tanh", output_activation="sigmoid"))


def test_an_explicit_wiring_is_recorded(tmp_path, params):
    save(tmp_path / "m.npz", params, wiring=TANH_SIGMOID_MSE)
    assert load(tmp_path / "m.npz")[1]["wiring"] == TANH_SIGMOID_MSE


def test_no_wiring_given_records_none_and_says_so(tmp_path, params):
    with pytest.warns(UserWarning, match="saving without a wiring"):
        save(tmp_path / "m.npz", params, history={"loss": [0.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a file saved without a wiring loads without a warning
        _, meta = load(tmp_path / "m.npz")
    assert meta["wiring"] is None and meta["wiring_assumed"] is False
    assert "activation" not in meta and "output" not in meta and "loss" not in meta


def test_two_different_wirings_are_refused(tmp_path, tanh_model):
    params, history, _ = tanh_model
    with pytest.raises(ValueError, match=r"two different wirings given: wiring= says relu/softmax/cross_entropy, "
                                         r"history\['wiring'\] says tanh/sigmoid/mse"):
        save(tmp_path / "m.npz", params, history=history, wiring=WIRING)
    save(tmp_path / "m.npz", params, history=history, wiring=dict(TANH_SIGMOID_MSE))  # the same one twice is fine
    assert os.listdir(tmp_path) == ["m.npz"]


@pytest.mark.parametrize("wiring, error, fragment", [
    ({"activation": "swish", "output_activation": "softmax", "loss": "cross_entropy"}, ValueError,
     "unknown activation 'swish'"),
    ({"activation": "relu", "output_activation": "sigmoid", "loss": "cross_entropy"}, ValueError, "cross"),
    ({"activation": "relu", "output_activation": "softmax"}, ValueError, "exactly the keys"),
    ("relu", TypeError, "must be a dict"),
])
def test_a_bad_wiring_is_refused_by_save(tmp_path, params, wiring, error, fragment):
    with pytest.raises(error, match=fragment):
        save(tmp_path / "m.npz", params, wiring=wiring)
    assert os.listdir(tmp_path) == []


def test_the_older_keyword_form_still_works_with_a_deprecation_warning(tmp_path, params):
    with pytest.warns(DeprecationWarning, match="output_activation='softmax', loss='cross_entropy' assumed"):
        save(tmp_path / "m.npz", params, activation="tanh")
    assert load(tmp_path / "m.npz")[1]["wiring"] == {"activation": "tanh", "output_activation": "softmax",
                                                    "loss": "cross_entropy"}


@pytest.mark.parametrize("fields, assumed", [
    ({"activation": "tanh", "output": "sigmoid", "loss": "mse"}, TANH_SIGMOID_MSE),
    ({}, WIRING),
])
def test_a_file_from_before_the_wiring_loads_and_says_what_it_assumes(tmp_path, params, fields, assumed):
    path = tmp_path / "old.npz"
    _write_raw(path, params, layer_sizes=[5, 4, 3, 2], dtype="float32", fastnn_version="0.4.0", **fields)
    with pytest.warns(UserWarning, match=r"saved before fastnn recorded how a network is wired; assuming "
                                         + "/".join(assumed.values())):
        got, meta = load(path)
    assert meta["wiring"] == assumed and meta["wiring_assumed"] is True
    _assert_bit_identical(got, params)


# --- output= renamed output_activation= (issue 30.6): the file keeps its spelling ----------------

MAIN_FILE = os.path.join(os.path.dirname(__file__), "data", "model_saved_by_7e42202.npz")


def _record(path):
    """The metadata record as the file holds it."""
    with np.load(path) as z:
        return json.loads(z[fio.META_KEY].tobytes())


def test_a_file_saved_before_the_rename_loads_with_the_new_key_and_no_warning():
    """A file that fastnn.save wrote at 7e42202 (wiring keys activation/output/loss)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        params, meta = load(MAIN_FILE)
    assert meta["wiring"] == TANH_SIGMOID_MSE and meta["wiring_assumed"] is False
    assert meta["history"]["wiring"] == TANH_SIGMOID_MSE  # as train() returns it today
    assert (meta["activation"], meta["output"], meta["loss"]) == ("tanh", "sigmoid", "mse")  # plain fields as saved
    _assert_bit_identical(params, fastnn.init_params([4, 3, 2], seed=0))


def test_a_file_saved_now_keeps_the_spelling_earlier_versions_read(tmp_path, tanh_model):
    params, history, _ = tanh_model
    save(tmp_path / "m.npz", params, history=history)
    record = _record(tmp_path / "m.npz")
    main = _record(MAIN_FILE)
    assert set(record["wiring"]) == set(main["wiring"]) == {"activation", "output", "loss"}
    assert record["wiring"] == {"activation": "tanh", "output": "sigmoid", "loss": "mse"}
    assert record["history"]["wiring"] == record["wiring"] and record["output"] == "sigmoid"
    assert history["wiring"] == TANH_SIGMOID_MSE  # the caller's history is not changed


def test_the_old_wiring_key_still_works_with_a_deprecation_warning(tmp_path, params):
    old = {"activation": "tanh", "output": "sigmoid", "loss": "mse"}
    with pytest.warns(DeprecationWarning, match=r"wiring: the key 'output' is deprecated; use 'output_activation'"):
        save(tmp_path / "old.npz", params, wiring=old)
    save(tmp_path / "new.npz", params, wiring=TANH_SIGMOID_MSE)
    assert _record(tmp_path / "old.npz") == _record(tmp_path / "new.npz")
    with pytest.warns(DeprecationWarning, match=r"history\['wiring'\]: the key 'output' is deprecated"):
        save(tmp_path / "h.npz", params, history={"loss": [0.5], "wiring": old})
    assert load(tmp_path / "h.npz")[1]["wiring"] == TANH_SIGMOID_MSE
    with pytest.warns(DeprecationWarning, match="the key 'output' is deprecated"):
        assert fio.check_wiring(old) == TANH_SIGMOID_MSE
    with pytest.raises(TypeError, match="both 'output_activation' and its deprecated name 'output'"):
        save(tmp_path / "both.npz", params, wiring={**TANH_SIGMOID_MSE, "output": "sigmoid"})
    assert not (tmp_path / "both.npz").exists()


@pytest.mark.parametrize("name", ["output", "output_activation"])
def test_the_older_metadata_form_takes_either_name_with_one_warning(tmp_path, params, name):
    with pytest.warns(DeprecationWarning) as caught:
        save(tmp_path / "m.npz", params, activation="tanh", loss="mse", **{name: "sigmoid"})
    assert len(caught) == 1 and "wiring={" in str(caught[0].message)
    assert load(tmp_path / "m.npz")[1]["wiring"] == TANH_SIGMOID_MSE
    with pytest.raises(TypeError, match="both output_activation= and its deprecated name output="):
        save(tmp_path / "m.npz", params, activation="tanh", output="sigmoid", output_activation="sigmoid")


# --- only regular files are replaced or read (issue 32) ------------------------------------------


def _special(kind, folder):
    path = folder / kind
    if kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a copy of /dev/null's node
        except (PermissionError, AttributeError, OSError) as e:
            pytest.skip(f"cannot create a device node here: {e}")
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this platform")
        os.mkfifo(path)
    else:
        (folder / "real.npz").write_bytes(b"the link's target")
        path.symlink_to(folder / "real.npz")
    return path


@pytest.mark.parametrize("kind", ["device", "fifo", "symlink"])
def test_save_refuses_to_replace_anything_but_a_regular_file(tmp_path, params, kind):
    target = _special(kind, tmp_path)
    before = os.lstat(target)
    with pytest.raises(NotARegularFileError, match="replaces only regular files"):
        save(target, params, wiring=WIRING)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    if kind == "symlink":
        assert (tmp_path / "real.npz").read_bytes() == b"the link's target"
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_load_refuses_a_fifo_or_device_at_once(tmp_path, kind):
    """A FIFO without a writer used to block load() forever; a device node would stream."""
    import threading

    target = _special(kind, tmp_path)
    outcome = []

    def read():
        try:
            load(target)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            outcome.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))  # release the blocked reader before failing
        pytest.fail("load blocked on a FIFO")
    assert isinstance(outcome[0], ValueError), outcome
    assert repr(os.fspath(target)) in str(outcome[0]) and "not a regular file" in str(outcome[0])


def test_load_follows_a_symlink_to_a_model(tmp_path, params):
    save(tmp_path / "real.npz", params, wiring=WIRING)
    (tmp_path / "link.npz").symlink_to(tmp_path / "real.npz")
    _assert_bit_identical(load(tmp_path / "link.npz")[0], params)


# --- what load inflates is bounded (issue 32) ----------------------------------------------------

BOMB_BYTES = 64 << 20  # zeros inflated from about 64 KB


def _stream_zeros(archive, name, n_bytes, header=b""):
    """Write a deflated member of ``header`` plus ``n_bytes`` zeros, 1 MiB at a time (never all in memory)."""
    zeros = bytes(1 << 20)
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        member.write(header)
        for _ in range(n_bytes // len(zeros)):
            member.write(zeros)


def _npy_header(shape, descr="<f4"):
    import io as _io

    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _bomb(tmp_path, params, name, header=b""):
    path = tmp_path / "bomb.npz"
    save(path, params, wiring=WIRING)
    with zipfile.ZipFile(path, "a") as archive:
        _stream_zeros(archive, name, BOMB_BYTES, header)
    assert os.path.getsize(path) < BOMB_BYTES // 200
    return path


def _peak_bytes_of(f):
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            f()
        return tracemalloc.get_traced_memory()[1], info.value
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name, header", [
    ("extra.npy", _npy_header((BOMB_BYTES // 4,))),  # a member save never writes
    ("state:m/W1.npy", _npy_header((BOMB_BYTES // 4,))),  # a state far larger than its params
    ("W9.npy", _npy_header((BOMB_BYTES // 4, 1))),  # a layer the metadata does not declare
])
def test_a_deflate_bomb_is_refused_before_it_is_inflated(tmp_path, params, name, header):
    path = _bomb(tmp_path, params, name, header)
    peak, error = _peak_bytes_of(lambda: load(path))
    assert repr(os.fspath(path)) in str(error) and "\n" not in str(error)
    assert peak < BOMB_BYTES // 16, f"load used {peak:,} bytes before refusing: {error}"


def test_a_member_inflating_past_its_declared_size_is_cut_at_that_size(tmp_path, params):
    """The zip directory may lie: W1's stream holds its array and then 64 MiB of zeros, while the
    directory declares (with a matching CRC) only the array. Only the declared bytes are inflated."""
    path = tmp_path / "liar.npz"
    save(path, params, wiring=WIRING)
    with zipfile.ZipFile(path) as z:
        contents = {info.filename: z.read(info) for info in z.infolist()}
    liar = tmp_path / "liar2.npz"
    with zipfile.ZipFile(liar, "w", zipfile.ZIP_DEFLATED) as z:
        for name, blob in contents.items():
            if name == "W1.npy":
                _stream_zeros(z, name, BOMB_BYTES, blob)
            else:
                z.writestr(name, blob)
    raw = bytearray(liar.read_bytes())
    true_size, true_crc = len(contents["W1.npy"]), zlib.crc32(contents["W1.npy"])
    for m in re.finditer(b"PK\x01\x02", raw):  # the central directory entry of W1.npy
        at = m.start()
        n = struct.unpack("<H", raw[at + 28 : at + 30])[0]
        if raw[at + 46 : at + 46 + n] == b"W1.npy":
            extra = raw[at + 46 + n : at + 46 + n + struct.unpack("<H", raw[at + 30 : at + 32])[0]]
            raw[at + 16 : at + 20] = struct.pack("<I", true_crc)
            if struct.unpack("<I", raw[at + 24 : at + 28])[0] == 0xFFFFFFFF:  # sizes in the zip64 extra field
                offset = at + 46 + n + extra.index(b"\x01\x00") + 4
                raw[offset : offset + 8] = struct.pack("<Q", true_size)
            else:
                raw[at + 24 : at + 28] = struct.pack("<I", true_size)
    liar.write_bytes(bytes(raw))
    import tracemalloc

    tracemalloc.start()
    try:
        got, _ = load(liar)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _assert_bit_identical(got, params)
    assert peak < BOMB_BYTES // 16


# --- byte order -----------------------------------------------------------------------------------


def test_a_big_endian_model_loads_in_native_order_and_trains(tmp_path, rng):
    params = fastnn.init_params([6, 5, 3], seed=4)
    meta = {"wiring": FILE_WIRING, "layer_sizes": [6, 5, 3], "dtype": "float32"}
    path = tmp_path / "big.npz"
    _write_raw(path, {k: v.astype(">f4") for k, v in params.items()}, **meta)
    got, _ = load(path)
    for k in params:
        assert got[k].dtype == np.float32 and got[k].dtype.isnative and got[k].flags.c_contiguous, k
        np.testing.assert_array_equal(got[k], params[k])
    X = rng.random((50, 6), dtype=np.float32)
    y = rng.integers(0, 3, 50)
    trained, _ = fastnn.train(got, X, y, epochs=1, lr=0.05, seed=0)
    want, _ = fastnn.train(params, X, y, epochs=1, lr=0.05, seed=0)
    _assert_bit_identical(trained, want)


def test_a_fortran_ordered_array_loads_c_contiguous(tmp_path, params):
    path = tmp_path / "f.npz"
    _write_raw(path, {k: np.asfortranarray(v) for k, v in params.items()}, wiring=FILE_WIRING)
    got, _ = load(path)
    assert all(v.flags.c_contiguous for v in got.values())
    _assert_bit_identical(got, params)


# --- every metadata field is checked (issue 32) ---------------------------------------------------

GOOD_META = {"wiring": FILE_WIRING, "layer_sizes": [5, 4, 3, 2], "dtype": "float32", "dataset": "mnist",
             "train_samples": 300, "history": {"epoch": [1, 2], "loss": [0.5, 0.4], "val_accuracy": [0.8, 0.9],
                                               "best_epoch": 2, "compile_seconds": 1.5, "wiring": FILE_WIRING}}


@pytest.mark.parametrize("field, value, fragment", [
    ("wiring", {"activation": "swish", "output": "softmax", "loss": "cross_entropy"}, "unknown activation 'swish'"),
    ("wiring", {"activation": "relu", "output": "sigmoid", "loss": "cross_entropy"}, "cross"),
    ("wiring", ["relu", "softmax"], "must be a dict"),
    ("wiring", {"activation": "relu"}, "exactly the keys"),
    ("activation", "swish", "'activation' must be one of"),
    ("activation", "tanh", "'activation' is 'tanh' but the wiring says 'relu'"),
    ("output", 3, "'output' must be one of"),
    ("loss", ["mse"], "'loss' must be one of"),
    ("layer_sizes", "5,4,3,2", "'layer_sizes' must be a list"),
    ("layer_sizes", [5, 4, 3, -2], "'layer_sizes' must be a list"),
    ("layer_sizes", [5, 4.0, 3, 2], "'layer_sizes' must be a list"),
    ("dtype", "float16", "'dtype' must be 'float32' or 'float64'"),
    ("dataset", 5, "'dataset' must be a data set name"),
    ("dataset", "", "'dataset' must be a data set name"),
    ("history", [1, 2], "'history' must be a dict"),
    ("history", {"epoch": [1, 2], "loss": [0.5]}, r"lists differ in length \(epoch: 2, loss: 1\)"),
    ("history", {"loss": ["0.5"]}, r"history\['loss'\] must be a list of finite numbers"),
    ("history", {"val_accuracy": 0.9}, r"history\['val_accuracy'\] must be a list"),
    ("history", {"epoch": [0, 1]}, "count epochs from 1"),
    ("history", {"epoch": [1], "best_epoch": 2}, r"history\['best_epoch'\] must be one of the epochs"),
    ("history", {"compile_seconds": "fast"}, r"history\['compile_seconds'\] must be a number"),
    ("history", {"wiring": {"activation": "relu", "output": "softmax", "loss": "hinge"}}, "unknown loss 'hinge'"),
    ("train_samples", "many", "'train_samples' must be a positive integer"),
    ("train_samples", -1, "'train_samples' must be a positive integer"),
    ("train_samples", True, "'train_samples' must be a positive integer"),
    ("epochs_completed", 1.5, "'epochs_completed' must be an integer"),
    ("interrupted", "yes", "'interrupted' must be true or false"),
    ("test_accuracy", 97.5, "'test_accuracy' must be a number in"),
    ("hidden_layers", [4, "3"], "'hidden_layers' must be a list"),
    ("fastnn_version", 1.0, "'fastnn_version' must be a version string"),
])
def test_each_bad_metadata_field_is_a_one_line_error(tmp_path, params, field, value, fragment):
    good = tmp_path / "good.npz"
    _write_raw(good, params, **GOOD_META)
    load(good)  # the file is fine but for the one field
    path = tmp_path / "bad.npz"
    _write_raw(path, params, **{**GOOD_META, field: value})
    with pytest.raises(ValueError, match=_names(path) + r" has bad metadata: .*" + fragment) as info:
        load(path)
    assert "\n" not in str(info.value)
    if field in ("activation", "output", "loss", "layer_sizes", "dtype", "fastnn_version"):
        return  # save() fills in the last three and takes the first three as the older way to give the wiring
    meta = {**{k: v for k, v in GOOD_META.items() if k not in ("wiring", "layer_sizes", "dtype")}, field: value}
    # save() takes a wiring spelt as train() gives it, not as the file spells it
    if isinstance(meta["history"], dict) and isinstance(meta["history"].get("wiring"), dict):
        meta["history"] = {**meta["history"], "wiring": _in_memory(meta["history"]["wiring"])}
    if field == "wiring" and isinstance(value, dict):
        meta["wiring"] = _in_memory(value)
    with pytest.raises((ValueError, TypeError), match=fragment):  # save() writes nothing load() refuses
        save(tmp_path / "new.npz", params, **({"wiring": WIRING} | meta))
    assert not (tmp_path / "new.npz").exists()


@pytest.mark.parametrize("text", [b'{"x": NaN}', b'{"x": Infinity}'])
def test_non_finite_json_constants_are_refused(tmp_path, params, text):
    path = tmp_path / "m.npz"
    np.savez(path, **params, **{fio.META_KEY: np.frombuffer(text, dtype=np.uint8)})
    with pytest.raises(ValueError, match=_names(path) + r" has corrupted metadata"):
        load(path)


def test_a_member_twice_is_refused(tmp_path, params):
    path = tmp_path / "m.npz"
    save(path, params, wiring=WIRING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile: "Duplicate name"
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("W1.npy", b"\x93NUMPY")
    with pytest.raises(ValueError, match=_names(path) + " has a member twice"):
        load(path)


@pytest.mark.filterwarnings("ignore:.*saved before fastnn recorded:UserWarning")
def test_an_older_file_s_uneven_history_loads_with_a_warning(tmp_path, params):
    """fastnn before the wiring record saved one more epoch than validations when Ctrl-C hit a
    validation; such files still load (their params matter), and say so. New files may not."""
    uneven = {"epoch": [1, 2], "loss": [0.5, 0.4], "val_accuracy": [0.8]}
    old = tmp_path / "old.npz"
    _write_raw(old, params, activation="relu", output="softmax", loss="cross_entropy", history=uneven)
    with pytest.warns(UserWarning, match=r"lists differ in length .* kept as saved"):
        got, meta = load(old)
    assert meta["history"] == uneven
    _assert_bit_identical(got, params)
    new = tmp_path / "new.npz"
    _write_raw(new, params, wiring=FILE_WIRING, history=uneven)
    with pytest.raises(ValueError, match="lists differ in length"):
        load(new)
