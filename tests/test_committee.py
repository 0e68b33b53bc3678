"""fastnn.committee: members differ, the committee's output is their mean, threads and Dask agree."""
import pathlib

import numpy as np
import pytest

import fastnn
from fastnn import committee
from fastnn.augment import Distortion, affine

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 12))
    y = rng.integers(0, 3, size=600)
    X = (centres[y] + 0.8 * rng.normal(size=(600, 12))).astype(np.float32)
    return X[:450], y[:450], X[450:], y[450:]


def test_member_seeds_are_reproducible_and_distinct():
    assert committee.member_seeds(3, 4) == committee.member_seeds(3, 4)
    assert len(set(committee.member_seeds(3, 4))) == 4
    assert committee.member_seeds(3, 4) != committee.member_seeds(4, 4)
    with pytest.raises(ValueError, match="seed"):
        committee.member_seeds(-1, 2)
    with pytest.raises(ValueError, match="n_members"):
        committee.member_seeds(0, 0)


def test_init_committee_one_or_many_architectures():
    same = committee.init_committee([12, 8, 3], 3, seeds=[1, 2, 3])
    assert len(same) == 3 and all(p["W1"].shape == (12, 8) for p in same)
    np.testing.assert_array_equal(same[0]["W1"], fastnn.init_params([12, 8, 3], seed=1)["W1"])
    mixed = committee.init_committee([[12, 8, 3], [12, 16, 4, 3]], seeds=[0, 1])
    assert [len(p) for p in mixed] == [4, 6]
    with pytest.raises(ValueError, match="one per member"):
        committee.init_committee([[12, 8, 3], [12, 4, 3]], 3)
    with pytest.raises(ValueError, match="n_members"):
        committee.init_committee([12, 8, 3])


def test_members_differ_and_the_committee_output_is_their_mean(data):
    X, y, Xt, yt = data
    members = committee.init_committee([12, 16, 3], seeds=[0, 1, 2])
    trained, histories = committee.train_committee(members, X, y, seed=5, epochs=3, lr=0.05)
    assert len(trained) == len(histories) == 3 and all(len(h["loss"]) == 3 for h in histories)
    assert not np.array_equal(trained[0]["W1"], trained[1]["W1"])
    assert not np.array_equal(trained[1]["W2"], trained[2]["W2"])
    for before, after in zip(members, trained):  # the caller's members are never modified
        assert not np.array_equal(before["W1"], after["W1"])
    np.testing.assert_array_equal(members[0]["W1"], fastnn.init_params([12, 16, 3], seed=0)["W1"])
    probs = [fastnn.predict_proba(p, Xt) for p in trained]
    np.testing.assert_allclose(committee.committee_predict_proba(trained, Xt), np.mean(probs, axis=0), rtol=1e-6)
    weighted = committee.committee_predict_proba(trained, Xt, weights=[2, 1, 1])
    np.testing.assert_allclose(weighted, (2 * probs[0] + probs[1] + probs[2]) / 4, rtol=1e-6)
    pred = committee.committee_predict(trained, Xt)
    np.testing.assert_array_equal(pred, np.argmax(np.mean(probs, axis=0), axis=1))
    assert np.mean(pred == yt) > 0.9


def test_each_member_is_exactly_fastnn_train_with_its_seed(data):
    X, y, _, _ = data
    members = committee.init_committee([12, 8, 3], seeds=[3, 4])
    seeds = committee.member_seeds(11, 2)
    trained, _ = committee.train_committee(members, X, y, seed=11, epochs=2, lr=0.05, n_jobs=2)
    for p0, p, s in zip(members, trained, seeds):
        alone, _ = fastnn.train(p0, X, y, epochs=2, lr=0.05, seed=s)
        for k in p:
            np.testing.assert_array_equal(p[k], alone[k])


def test_threads_and_serial_give_identical_members(data):
    X, y, _, _ = data
    members = committee.init_committee([12, 32, 3], seeds=[0, 1, 2, 3])
    a, _ = committee.train_committee(members, X, y, seeds=[7, 8, 9, 10], epochs=2, lr=0.05, n_jobs=2)
    b, _ = committee.train_committee(members, X, y, seeds=[7, 8, 9, 10], epochs=2, lr=0.05, n_jobs=1)
    for pa, pb in zip(a, b):
        for k in pa:
            np.testing.assert_array_equal(pa[k], pb[k])


def test_member_options_and_architectures_may_differ():
    images = np.random.default_rng(1).random((40, 64)).astype(np.float32)  # 8x8 "images" in [0, 1)
    labels = np.arange(40) % 3
    members = committee.init_committee([[64, 8, 3], [64, 12, 3]], seeds=[0, 1])
    trained, hist = committee.train_committee(
        members, images, labels, seeds=[0, 1], epochs=2, lr=0.01,
        member_options=[{"augment": Distortion(image_shape=(8, 8))}, {"lr": 0.02, "dropout": 0.2}])
    assert [p["W1"].shape for p in trained] == [(64, 8), (64, 12)]
    assert hist[0]["lr"] == [0.01, 0.01] and hist[1]["lr"] == [0.02, 0.02]


def test_members_may_each_see_their_own_view_of_the_data(data):
    X, y, Xt, _ = data
    views, test_views = [X, 0.5 * X + 1], [Xt, 0.5 * Xt + 1]  # one array per member
    members = committee.init_committee([12, 8, 3], seeds=[3, 4])
    seeds = committee.member_seeds(2, 2)
    trained, _ = committee.train_committee(members, views, y, seed=2, epochs=2, lr=0.05, n_jobs=2)
    for p0, p, s, v in zip(members, trained, seeds, views):
        alone, _ = fastnn.train(p0, v, y, epochs=2, lr=0.05, seed=s)
        for k in p:
            np.testing.assert_array_equal(p[k], alone[k])
    probs = [fastnn.predict_proba(p, v) for p, v in zip(trained, test_views)]
    np.testing.assert_allclose(committee.committee_predict_proba(trained, test_views), np.mean(probs, axis=0),
                               rtol=1e-6)
    np.testing.assert_array_equal(committee.committee_predict(trained, tuple(test_views)),
                                  np.argmax(np.mean(probs, axis=0), axis=1))
    with pytest.raises(ValueError, match="one array per member"):
        committee.train_committee(members, [X], y)
    with pytest.raises(ValueError, match="one array per member"):
        committee.committee_predict_proba(trained, [Xt, Xt, Xt])
    with pytest.raises(ValueError, match="different numbers of rows"):
        committee.committee_predict_proba(trained, [Xt, Xt[:-1]])


def test_test_time_shifts_average_each_member_over_its_shifted_images(data):
    X, y, Xt, _ = data
    lo, hi = X.min(), X.max()
    images, test_images = (X - lo) / (hi - lo), np.clip((Xt - lo) / (hi - lo), 0, 1)  # 3x4 "images" in [0, 1]
    views, test_views = [images, images[:, ::-1].copy()], [test_images, test_images[:, ::-1].copy()]
    members, _ = committee.train_committee(committee.init_committee([12, 8, 3], seeds=[3, 4]), views, y, seed=2,
                                           epochs=2, lr=0.05, n_jobs=1)
    shifts = [(0, 0), (0.5, 0), (0, -1)]
    by_hand = np.mean([fastnn.predict_proba(p, affine(v, translate=s, image_shape=(3, 4)))
                       for p, v in zip(members, test_views) for s in shifts], axis=0)
    shifted = committee.committee_predict_proba(members, test_views, shifts=shifts, image_shape=(3, 4))
    np.testing.assert_allclose(shifted, by_hand, rtol=1e-6)
    plain = committee.committee_predict_proba(members, test_views)
    assert np.abs(shifted - plain).max() > 1e-3  # the shifts do move the inputs
    np.testing.assert_allclose(committee.committee_predict_proba(members, test_views, shifts=[(0, 0)],
                                                                 image_shape=(3, 4)), plain, rtol=1e-6)
    weighted = committee.committee_predict_proba(members, test_views, weights=[3, 1], shifts=shifts, image_shape=(3, 4))
    each = [np.mean([fastnn.predict_proba(p, affine(v, translate=s, image_shape=(3, 4))) for s in shifts], axis=0)
            for p, v in zip(members, test_views)]
    np.testing.assert_allclose(weighted, 0.75 * each[0] + 0.25 * each[1], rtol=1e-6)
    np.testing.assert_array_equal(committee.committee_predict(members, test_views, shifts=shifts, image_shape=(3, 4)),
                                  np.argmax(shifted, axis=1))
    for bad, err, match in [([], ValueError, "non-empty"), ([(1, 2, 3)], ValueError, "shape"),
                            ([(0, np.nan)], ValueError, "NaN"), ("left", TypeError, "pixel pairs")]:
        with pytest.raises(err, match=match):
            committee.committee_predict_proba(members, test_views, shifts=bad, image_shape=(3, 4))
    with pytest.raises(ValueError, match="image_shape"):  # 12 pixels are not 28x28
        committee.committee_predict_proba(members, test_views, shifts=shifts)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):  # the second member's view is checked before any work
        committee.committee_predict_proba(members, [test_images, Xt], shifts=shifts, image_shape=(3, 4))


def test_bad_committees_and_options_are_refused_before_any_work(data):
    X, y, _, _ = data
    members = committee.init_committee([12, 8, 3], seeds=[0, 1])
    with pytest.raises(TypeError, match="list of params"):
        committee.train_committee(members[0], X, y)
    with pytest.raises((TypeError, ValueError), match="member 1"):
        committee.train_committee([members[0], {"W1": 3}], X, y)
    with pytest.raises(ValueError, match="2 members"):
        committee.train_committee(members, X, y, seeds=[1, 2, 3])
    with pytest.raises(TypeError, match="unknown training option"):
        committee.train_committee(members, X, y, epoch=3)
    with pytest.raises(TypeError, match="member_options\\[1\\]"):
        committee.train_committee(members, X, y, member_options=[{}, {"lr_decay": 1}])
    with pytest.raises(ValueError, match="one dict per member"):
        committee.train_committee(members, X, y, member_options=[{}])
    with pytest.raises(TypeError, match="Client"):
        committee.train_committee(members, X, y, client=object())
    with pytest.raises(ValueError, match="weights"):
        committee.committee_predict_proba(members, X, weights=[1, -1])
    other = committee.init_committee([12, 8, 4], seeds=[0])
    with pytest.raises(ValueError, match="widths differ"):
        committee.committee_predict_proba(members + other, X)


def test_threads_and_dask_give_the_same_members(data):
    from distributed import Client, LocalCluster

    X, y, Xt, _ = data
    views = [X, 0.5 * X, X]  # members 0 and 2 share one array, member 1 sees its own view
    members = committee.init_committee([12, 24, 3], seeds=[0, 1, 2])
    local, _ = committee.train_committee(members, views, y, seed=3, epochs=3, lr=0.05, n_jobs=2)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        remote, histories = committee.train_committee(members, views, y, seed=3, epochs=3, lr=0.05, client=client)
        ran_on = client.run(lambda: __import__("os").getpid())
    assert len(set(ran_on.values())) == 2
    assert len(histories) == 3
    for a, b in zip(local, remote):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    test_views = [Xt, 0.5 * Xt, Xt]
    np.testing.assert_array_equal(committee.committee_predict_proba(local, test_views),
                                  committee.committee_predict_proba(remote, test_views))


def test_the_committee_recipe_scores_with_and_without_test_time_shifts(mnist_dir, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("committee_recipe", REPO / "bench" / "committee_recipe.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    assert recipe.main(["--members", "2", "--epochs", "1", "--limit", "600", "--holdout", "1000",
                        "--views", "original,deskew", "--test-shifts", "0.5", "--data", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    accuracies = [float(line.split()[-3].rstrip("%")) for line in out.splitlines() if " test accuracy " in line
                  and line.startswith(("committee", "with test-time shifts"))]
    assert len(accuracies) == 2 and all(50 < a <= 100 for a in accuracies), out
    assert "scored on the last 1000 training images" in out
