"""fastnn.sklearn: scikit-learn's own estimator checks, meta-estimators, labels, partial_fit, pickling, Dask."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastnn
from fastnn.sklearn import MLPClassifier, MLPCommitteeClassifier, MLPRegressor

# Small and quick: the whole estimator-check suite runs in seconds.
SMALL = dict(hidden_layer_sizes=(16,), max_iter=30, learning_rate_init=0.05, random_state=0)
SMALL_REGRESSOR = dict(SMALL, learning_rate_init=0.001)
# For tests that fit with a small max_iter on purpose (a few epochs are enough for what they check):
# the estimators then rightly warn that the optimisation has not converged.
SHORT_FIT = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# Every check passes with every argument at its default, so none is listed in
# parametrize_with_checks(expected_failed_checks=...), scikit-learn's mechanism for checks an estimator cannot
# pass. scikit-learn itself skips its array-API check unless SCIPY_ARRAY_API=1 is set (the estimators do not
# claim array-API support). The checks set random_state=0 where they compare fits.
@parametrize_with_checks([MLPClassifier(), MLPRegressor(), MLPCommitteeClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_the_estimator_checks_fail_on_a_broken_estimator():
    # The test above asserts through scikit-learn: each check raises when the estimator breaks
    # a convention. Shown here on a copy of MLPClassifier that sets an attribute in __init__.
    from sklearn.utils.estimator_checks import check_no_attributes_set_in_init

    class Broken(MLPClassifier):
        def __init__(self, hidden_layer_sizes=(16,)):
            super().__init__(hidden_layer_sizes=hidden_layer_sizes)
            self.fitted_here_ = True

    check_no_attributes_set_in_init("MLPClassifier", MLPClassifier(**SMALL))
    with pytest.raises(AssertionError):
        check_no_attributes_set_in_init("Broken", Broken())


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)  # 1,797 8x8 images, ints 0..16
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@SHORT_FIT
def test_fitted_attributes_follow_sklearn_and_params_work_with_the_functional_api(digits):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=5, random_state=0).fit(X_train / 16, y_train)
    assert clf.n_features_in_ == 64 and clf.n_outputs_ == 10 and clf.n_layers_ == 4
    assert list(clf.classes_) == list(range(10))
    assert len(clf.loss_curve_) == clf.n_iter_ == 5 and clf.validation_scores_ is None
    assert clf.t_ == 5 * len(X_train)
    assert [w.shape for w in clf.coefs_] == [(64, 32), (32, 16), (16, 10)]
    assert [b.shape for b in clf.intercepts_] == [(32,), (16,), (10,)]
    assert clf.coefs_[0] is clf.params_["W1"]
    assert clf.params_["W1"].dtype == np.float32
    Xt = (X_test / 16).astype(np.float32)
    # the estimator predicts in float64 from the same params (a row's result independent of its batch)
    np.testing.assert_allclose(clf.predict_proba(Xt), fastnn.predict_proba(clf.params_, Xt), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(Xt), fastnn.predict(clf.params_, Xt))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt)), clf.predict_proba(Xt), rtol=1e-12)
    assert clf.score(Xt, y_test) > 0.85
    assert not hasattr(MLPClassifier(), "params_")  # the constructor stores hyperparameters only


@SHORT_FIT
def test_same_random_state_gives_identical_params_and_fastnn_train_is_what_runs(digits):
    X_train, _, y_train, _ = digits
    X = (X_train / 16).astype(np.float32)
    # input_scaling="none": the estimator trains on X itself, so fastnn.train on X must match it exactly
    kw = dict(hidden_layer_sizes=(8,), max_iter=3, shuffle=False, input_scaling="none")
    a = MLPClassifier(random_state=1, **kw).fit(X, y_train)
    b = MLPClassifier(random_state=1, **kw).fit(X, y_train)
    c = MLPClassifier(random_state=2, **kw).fit(X, y_train)
    for k in a.params_:
        np.testing.assert_array_equal(a.params_[k], b.params_[k])
    assert not np.array_equal(a.params_["W1"], c.params_["W1"])
    # the same epochs by hand: the estimator's initial params trained by fastnn.train
    init = MLPClassifier(random_state=1, learning_rate_init=1e-30, **dict(kw, max_iter=1))
    start = init.fit(X, y_train).params_  # an (almost) untrained copy of a's initial params
    manual, history = fastnn.train(start, X, y_train, epochs=3, lr=0.01, shuffle=False, seed=0)
    for k in manual:
        np.testing.assert_array_equal(manual[k], a.params_[k])
    np.testing.assert_array_equal(history["loss"], a.loss_curve_)


@SHORT_FIT
def test_string_and_non_contiguous_labels_round_trip(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=10, random_state=0).fit(X_train / 16, names[y_train])
    assert set(clf.classes_) == set(names)
    pred = clf.predict(X_test / 16)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    assert np.mean(pred == names[y_test]) > 0.9
    odd = np.array([-7, 3, 10, 42, 100, 101, 250, 999, 1000, 5000])
    clf2 = MLPClassifier(hidden_layer_sizes=(32,), max_iter=10, random_state=0).fit(X_train / 16, odd[y_train])
    np.testing.assert_array_equal(clf2.classes_, np.sort(odd))
    assert np.mean(clf2.predict(X_test / 16) == odd[y_test]) > 0.9


@SHORT_FIT
def test_partial_fit_over_chunks_reaches_the_accuracy_of_fit(digits):
    X_train, X_test, y_train, y_test = digits
    X, Xt = X_train / 16, X_test / 16
    fitted = MLPClassifier(hidden_layer_sizes=(32,), max_iter=10, random_state=0).fit(X, y_train)
    inc = MLPClassifier(hidden_layer_sizes=(32,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        inc.partial_fit(X[:100], y_train[:100])
    chunks = np.array_split(np.arange(len(X)), 4)
    for epoch in range(10):
        for i, rows in enumerate(chunks):
            inc.partial_fit(X[rows], y_train[rows], classes=np.arange(10) if epoch == i == 0 else None)
    assert inc.n_iter_ == 40 and inc.t_ == 10 * len(X)
    assert inc.score(Xt, y_test) >= fitted.score(Xt, y_test) - 0.02
    with pytest.raises(ValueError, match="not in classes_"):
        inc.partial_fit(X[:5], np.array([0, 1, 2, 3, 11]))


@SHORT_FIT
def test_integer_labels_are_checked_like_any_labels():
    # integer labels skip type_of_target (a partial_fit chunk's fixed cost); what it checked must still hold
    rng = np.random.default_rng(0)
    X = rng.random((60, 4))
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, np.arange(60) % 3 * 2,
                                                                            classes=[0, 2, 4])
    for labels, unseen in (([0, 2, 3], 3), ([0, 2, 5], 5), ([-1, 0, 2], -1)):  # between, above and below classes_
        with pytest.raises(ValueError, match=rf"y holds labels \[.*{unseen}.*\] not in classes_"):
            clf.partial_fit(X[:3], np.array(labels))
    same = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(
        X, (np.arange(60) % 3 * 2).astype(np.uint8), classes=np.array([0, 2, 4], np.uint8))
    # the same classes by index, and the refused calls above left clf as it was
    np.testing.assert_array_equal(same.predict_proba(X), clf.predict_proba(X))
    with pytest.warns(UserWarning, match="number of unique classes is greater than 50%"):  # as scikit-learn warns
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=1).fit(X, np.arange(60))
    with pytest.warns(UserWarning, match="number of unique classes is greater than 50%"):
        MLPClassifier(hidden_layer_sizes=(8,)).partial_fit(X, np.arange(60), classes=np.arange(60))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=1).fit(X, np.linspace(0, 1, 60))
    strings = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, np.array(["a", "b"] * 30),
                                                                                classes=["a", "b"])
    with pytest.raises(ValueError, match="not in classes_"):
        strings.partial_fit(X[:3], np.array([0, 1, 0]))


@SHORT_FIT
def test_string_labels_are_checked_like_any_labels():
    # NumPy string labels (a text data set's) skip type_of_target and find their classes in one search
    rng = np.random.default_rng(0)
    X = rng.random((60, 4))
    names = np.array(["b", "d", "f"])
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, names[np.arange(60) % 3],
                                                                            classes=names)
    coded = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, np.arange(60) % 3,
                                                                              classes=[0, 1, 2])
    for labels, unseen in ((["b", "d", "c"], "c"), (["b", "d", "g"], "g"), (["a", "b", "d"], "a")):
        with pytest.raises(ValueError, match=rf"y holds labels \[.*{unseen}.*\] not in classes_"):
            clf.partial_fit(X[:3], np.array(labels))  # between, above and below classes_
    order = rng.permutation(60)
    clf.partial_fit(X[order], names[order % 3])
    coded.partial_fit(X[order], order % 3)
    # the same classes by index as integer labels, and the refused calls above left clf as it was
    np.testing.assert_array_equal(clf.predict_proba(X), coded.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X[:6]), names[coded.predict(X[:6])])
    for other in (names[order % 3].astype(object), list(names[order % 3])):
        again = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, names[np.arange(60) % 3],
                                                                                  classes=names)
        again.partial_fit(X[order], other)  # other kinds of labels take the general path, to the same result
        np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match="not in classes_"):  # bytes are not str labels
        clf.partial_fit(X[:3], names[:3].astype("S1"))
    raw = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, names[np.arange(60) % 3].astype("S1"),
                                                                            classes=names.astype("S1"))
    raw.partial_fit(X[order], names[order % 3].astype("S1"))
    np.testing.assert_array_equal(raw.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match=r"y holds labels \[.*b'c'.*\] not in classes_"):
        raw.partial_fit(X[:3], np.array([b"b", b"d", b"c"]))
    with pytest.raises(ValueError, match="supports single-output targets"):  # two columns still go to the checks
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=1).fit(X, np.array([["a", "b"]] * 60))


@SHORT_FIT
def test_pickle_round_trip_gives_identical_predictions(digits):
    X_train, X_test, y_train, _ = digits
    for est in (MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0),
                MLPCommitteeClassifier(n_members=2, hidden_layer_sizes=(16,), max_iter=3, random_state=0)):
        est.fit(X_train / 16, y_train)
        loaded = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(loaded.predict_proba(X_test / 16), est.predict_proba(X_test / 16))
        np.testing.assert_array_equal(loaded.predict(X_test / 16), est.predict(X_test / 16))
        assert loaded.get_params() == est.get_params()


def test_clone_get_set_params_and_errors_before_any_work():
    clf = MLPClassifier(hidden_layer_sizes=(5,), alpha=1e-4, dropout=0.1)
    assert clf.get_params()["dropout"] == 0.1 and clf.get_params()["batch_size"] == 1
    c = clone(clf.set_params(max_iter=7))
    assert c.max_iter == 7 and c.hidden_layer_sizes == (5,) and c is not clf
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    for bad, match in ((dict(solver="lbfgs"), "lbfgs"), (dict(activation="softplus"), "activation"),
                       (dict(learning_rate="adaptive"), "learning_rate"), (dict(max_iter=0), "max_iter"),
                       (dict(batch_size=0), "batch_size"), (dict(dtype="int8"), "dtype")):
        est = MLPClassifier(**bad)
        with pytest.raises(ValueError, match=match):
            est.fit(X, y)
        assert not hasattr(est, "classes_")
    with pytest.raises(ValueError, match="MultiOutputClassifier"):
        MLPClassifier().fit(X, np.stack([y, 1 - y], axis=1))  # multi-label targets are refused
    with pytest.raises(ValueError, match="1 class"):
        MLPClassifier().fit(X, np.zeros(len(X)))


@SHORT_FIT
def test_dataframe_feature_names_and_sklearn_meta_estimators():
    import pandas as pd  # in the test extra
    X, y = make_classification(n_samples=200, n_features=6, n_informative=4, random_state=0)
    df = pd.DataFrame(X * 50 + 20, columns=[f"f{i}" for i in range(6)])
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0))
    pipe.fit(df, y)
    assert pipe[-1].n_features_in_ == 6 and list(pipe[0].feature_names_in_) == list(df.columns)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(df / 100, y)
    assert list(clf.feature_names_in_) == list(df.columns)
    assert pipe.score(df, y) > 0.85


@SHORT_FIT
def test_pipeline_grid_search_and_cross_val_score():
    X, y = make_classification(n_samples=200, n_features=8, n_informative=5, random_state=0)
    X = X * 100 + 50  # unscaled: the pipeline's StandardScaler makes it trainable
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    search = GridSearchCV(pipe, {"mlpclassifier__learning_rate_init": [0.001, 0.05],
                                 "mlpclassifier__hidden_layer_sizes": [(4,), (16,)]}, cv=3)
    search.fit(X, y)
    assert set(search.best_params_) == {"mlpclassifier__learning_rate_init", "mlpclassifier__hidden_layer_sizes"}
    assert search.best_score_ > 0.8


@SHORT_FIT
def test_regressor_multi_output_and_params_predict_y_itself():
    X, Y = make_regression(n_samples=300, n_features=5, n_targets=3, noise=1.0, random_state=0)
    assert np.abs(Y).max() > 100  # raw targets: the estimator standardises them for training
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=60, random_state=0, learning_rate="cosine").fit(X, Y)
    assert reg.predict(X).shape == (300, 3) and reg.score(X, Y) > 0.95
    np.testing.assert_allclose(reg.predict(X), fastnn.predict_proba(reg.params_, X.astype(np.float32),
                                                                    output_activation="identity"), rtol=1e-5, atol=1e-3)
    one = MLPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,)


def test_early_stopping_keeps_validation_scores():
    X, y = make_classification(n_samples=400, n_features=10, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, early_stopping=True, n_iter_no_change=3,
                        random_state=0).fit(X, y)
    assert clf.n_iter_ < 200 and len(clf.validation_scores_) == clf.n_iter_
    assert 0.5 < clf.best_validation_score_ <= 1 and clf.best_loss_ is None


@SHORT_FIT
def test_committee_estimator_averages_its_members(digits):
    X_train, X_test, y_train, y_test = digits
    com = MLPCommitteeClassifier(n_members=3, n_jobs=2, hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    com.fit(X_train / 16, y_train)
    assert len(com.members_) == 3
    assert not np.array_equal(com.members_[0]["W1"], com.members_[1]["W1"])
    Xt = (X_test / 16).astype(np.float32)
    mean = np.mean([fastnn.predict_proba(p, Xt) for p in com.members_], axis=0)
    np.testing.assert_allclose(com.predict_proba(Xt), mean, rtol=1e-5, atol=1e-7)
    assert not hasattr(com, "coefs_")
    serial = MLPCommitteeClassifier(n_members=3, n_jobs=1, hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    serial.fit(X_train / 16, y_train)
    for a, b in zip(com.members_, serial.members_):
        np.testing.assert_array_equal(a["W1"], b["W1"])


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@SHORT_FIT
def test_searches_run_on_a_dask_local_cluster(dask_client):
    import joblib
    from distributed import get_task_stream

    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, random_state=0)
    grid = GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0),
                        {"learning_rate_init": [0.01, 0.05], "alpha": [0.0, 1e-3]}, cv=2)
    rand = RandomizedSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=10), {"random_state": range(100)},
                              n_iter=3, cv=2, random_state=0)
    with get_task_stream(dask_client) as tasks, joblib.parallel_backend("dask"):
        grid.fit(X, y)
        rand.fit(X, y)
    # the fits ran as tasks on the cluster's worker processes
    assert len(tasks.data) >= 2 * 4 + 2 * 3
    assert {t["worker"] for t in tasks.data} <= set(dask_client.scheduler_info()["workers"])
    local = GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0),
                         {"learning_rate_init": [0.01, 0.05], "alpha": [0.0, 1e-3]}, cv=2).fit(X, y)
    np.testing.assert_array_equal(grid.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert grid.best_params_ == local.best_params_ and len(rand.cv_results_["params"]) == 3


@SHORT_FIT
def test_committee_estimator_on_dask_matches_threads(dask_client, digits):
    X_train, _, y_train, _ = digits
    opts = dict(n_members=2, hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    on_dask = MLPCommitteeClassifier(dask=True, **opts).fit(X_train / 16, y_train)
    on_threads = MLPCommitteeClassifier(**opts).fit(X_train / 16, y_train)
    for a, b in zip(on_dask.members_, on_threads.members_):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


@SHORT_FIT
def test_committee_estimator_test_time_shifts(digits):
    X_train, X_test, y_train, _ = digits
    shifts = [(0, 0), (0.5, 0), (0, -0.5)]
    com = MLPCommitteeClassifier(n_members=2, n_jobs=1, hidden_layer_sizes=(16,), max_iter=3, random_state=0,
                                 test_shifts=shifts, image_shape=(8, 8))
    com.fit(X_train / 16, y_train)
    Xt = (X_test / 16).astype(np.float32)
    by_hand = fastnn.committee.committee_predict_proba(com.members_, Xt, shifts=shifts, image_shape=(8, 8))
    np.testing.assert_allclose(com.predict_proba(Xt), by_hand, rtol=1e-5, atol=1e-7)
    # with test_shifts the inputs are images in [0, 1] and are not rescaled; without, 'auto' would standardise
    plain = clone(com).set_params(test_shifts=None, input_scaling="none").fit(X_train / 16, y_train)
    for a, b in zip(com.members_, plain.members_):  # the shifts change the scoring only, not the training
        np.testing.assert_array_equal(a["W1"], b["W1"])
    assert np.abs(com.predict_proba(Xt) - plain.predict_proba(Xt)).max() > 1e-3
    one = MLPCommitteeClassifier(n_members=1, hidden_layer_sizes=(16,), max_iter=2, random_state=0,
                                 test_shifts=shifts, image_shape=(8, 8)).fit(X_train / 16, y_train)
    np.testing.assert_allclose(one.predict_proba(Xt), fastnn.committee.committee_predict_proba(
        one.members_, Xt, shifts=shifts, image_shape=(8, 8)), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="image_shape"):  # 64 pixels are not 28x28: refused before training
        clone(com).set_params(image_shape=(28, 28)).fit(X_train / 16, y_train)
    with pytest.raises(ValueError, match="shape"):
        clone(com).set_params(test_shifts=[(1, 2, 3)]).fit(X_train / 16, y_train)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        clone(com).fit(X_train, y_train)  # 0..16, not pixel values in [0, 1]


def test_partial_fit_chunks_of_plain_arrays_are_checked_as_validate_data_checks_them(monkeypatch):
    # a fitted classifier's next chunk of float rows and int labels skips validate_data's fixed cost,
    # with the same result, and every input that check would refuse is still refused with its error
    import fastnn.sklearn as sk

    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    first = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    slow = pickle.loads(pickle.dumps(first))
    calls = []
    real = sk.validate_data
    monkeypatch.setattr(sk, "validate_data", lambda *a, **k: calls.append(1) or real(*a, **k))
    first.partial_fit(X[100:], y[100:])
    assert calls == []  # the fast path
    slow.partial_fit(X[100:], list(y[100:]))  # the same chunk, labels in a list: through validate_data
    assert calls == [1]
    for k in first.params_:
        np.testing.assert_array_equal(first.params_[k], slow.params_[k])
    bad = X[100:].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        first.partial_fit(bad, y[100:])
    with pytest.raises(ValueError, match="features"):
        first.partial_fit(X[100:, :5], y[100:])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        first.partial_fit(X[100:], y[101:])
    with pytest.raises(ValueError, match="not in classes_"):
        first.partial_fit(X[100:], y[100:] + 5)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_predictions_run_blas_on_one_thread_when_training_uses_threads(blas_threads, n_threads):
    # helper threads a multi-threaded BLAS product leaves spinning take cores from the next
    # partial_fit's training threads; with n_threads=1 BLAS keeps its threads
    import fastnn.sklearn as fsk

    now, watch = blas_threads
    X, y = load_digits(return_X_y=True)
    model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1, n_threads=n_threads, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    before = now()
    seen = watch(fsk, "_predict_proba")
    assert model.score(X, y) > 0.5
    assert seen and all(threads == ([1] * len(before) if n_threads > 1 else before) for threads in seen)
    assert now() == before
