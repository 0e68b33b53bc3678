"""Committees of networks: several params dicts trained concurrently, predictions averaged.

A committee is a plain list of params dicts. Its members differ in their seed (initial
weights, sample order, distortions, dropout masks) and optionally in their own training
options (a different :class:`fastnn.augment.Distortion`, another learning rate), their
layer sizes, or the view of the data they see: ``X`` may be one array per member (e.g.
digits normalised to different widths by :func:`fastnn.augment.normalize_width`), in
training and in prediction alike. :func:`train_committee` trains them concurrently:

- locally, one member per thread: the per-sample kernel is compiled with ``nogil=True``,
  so members on different threads run on different cores at once (give each member
  ``n_threads=1``, one member per core);
- on a Dask cluster, one task per member, when a ``dask.distributed.Client`` is given
  (``Client.map``); Dask is imported only then.

Per-sample SGD with ``n_threads=1`` is bit-deterministic for a seed, so a member trained on
a thread and the same member trained on a Dask worker are identical.

:func:`committee_predict_proba` averages the members' probabilities (Meier et al., 2011,
averaged the outputs of committees of plain MLPs to reach 0.39% error on MNIST); with
``shifts`` it first averages each member's over its images moved by a few fractions of a
pixel (test-time augmentation).

This module imports only the core (NumPy, Numba); Dask is optional.
"""
import inspect
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, Union, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .augment import affine, check_images
from .deprecation import RENAMED, renamed_keys, renamed_keywords
from .initializers import init_params
from .network import predict_proba
from .training import train
from .typing import Array, Params
from .validation import check_params, check_positive_int

__all__ = ["member_seeds", "init_committee", "train_committee", "committee_predict_proba", "committee_predict",
           "check_shifts"]

_TRAIN_OPTIONS = frozenset(inspect.signature(train).parameters) - {"params", "X", "y", "seed"}


def member_seeds(seed: Optional[int], n_members: int) -> list[int]:
    """``n_members`` independent 32-bit seeds derived from one ``seed`` (NumPy's SeedSequence).

    Parameters
    ----------
    seed : int or None
        None draws fresh entropy (not reproducible).
    n_members : int

    Returns
    -------
    list of int

    Examples
    --------
    >>> from fastnn.committee import member_seeds
    >>> seeds = member_seeds(0, 3)
    >>> len(seeds), len(set(seeds)), seeds == member_seeds(0, 3)
    (3, 3, True)
    """
    n_members = check_positive_int(n_members, "n_members")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n_members)]


def init_committee(layer_sizes: Union[Sequence[int], Sequence[Sequence[int]]], n_members: Optional[int] = None, *,
                   seeds: Optional[Sequence[int]] = None, init: str = "he",
                   dtype: DTypeLike = "float32") -> list[dict[str, Array]]:
    """Initial params for every member of a committee.

    Parameters
    ----------
    layer_sizes : sequence of int, or a sequence of them
        One architecture for all members (e.g. ``[784, 800, 10]``), or one per member
        (e.g. ``[[784, 800, 10], [784, 1000, 10]]``).
    n_members : int, optional
        Members; defaults to the number of architectures or of seeds given.
    seeds : sequence of int, optional
        One seed per member; defaults to ``member_seeds(None, n_members)``.
    init, dtype : str
        As for :func:`fastnn.init_params`.

    Returns
    -------
    list of dict
        One params dict per member.

    Examples
    --------
    >>> from fastnn.committee import init_committee
    >>> members = init_committee([[4, 8, 3], [4, 16, 3]], seeds=[0, 1])
    >>> [m["W1"].shape for m in members]
    [(4, 8), (4, 16)]
    """
    per_member = len(layer_sizes) > 0 and all(isinstance(s, (list, tuple, np.ndarray)) for s in layer_sizes)
    sizes: Optional[list[Any]] = [list(cast(Sequence[int], s)) for s in layer_sizes] if per_member else None
    n = n_members
    if n is None:
        n = len(sizes) if sizes is not None else (len(seeds) if seeds is not None else None)
    if n is None:
        raise ValueError("give n_members, seeds, or one layer_sizes per member")
    n = check_positive_int(n, "n_members")
    if sizes is not None and len(sizes) != n:
        raise ValueError(f"{len(sizes)} architectures given for {n} members; give one per member or one for all")
    seeds = member_seeds(None, n) if seeds is None else _check_seeds(seeds, n)
    member_sizes: list[Any] = sizes if sizes is not None else [layer_sizes] * n
    return [init_params(member_sizes[i], init=init, seed=seeds[i], dtype=dtype) for i in range(n)]


def _check_seeds(seeds: Iterable[int], n: int) -> list[int]:
    seeds = list(seeds)
    if len(seeds) != n:
        raise ValueError(f"{len(seeds)} seeds given for {n} members; give one per member")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"seeds must be non-negative ints, got {s!r}")
    return [int(s) for s in seeds]


def _check_members(members: Sequence[Params]) -> list[Params]:
    if isinstance(members, dict) or not isinstance(members, (list, tuple)) or len(members) == 0:
        raise TypeError("a committee is a non-empty list of params dicts (one per member)")
    for i, p in enumerate(members):
        try:
            check_params(p)
        except (TypeError, ValueError) as e:
            raise type(e)(f"member {i}: {e}") from None
    return list(members)


def _member_options(options: Mapping[str, Any], member_options: Optional[Iterable[Mapping[str, Any]]],
                    n: int) -> list[dict[str, Any]]:
    unknown = set(options) - _TRAIN_OPTIONS
    if unknown:
        raise TypeError(f"unknown training option(s) {sorted(unknown)}; train_committee takes the keyword "
                        f"arguments of fastnn.train (the seed comes from seed= or seeds=)")
    if member_options is None:
        return [dict(options) for _ in range(n)]
    member_options = list(member_options)
    if len(member_options) != n:
        raise ValueError(f"member_options has {len(member_options)} entries for {n} members; give one dict per member")
    merged = []
    for i, extra in enumerate(member_options):
        if not isinstance(extra, dict):
            raise TypeError(f"member_options[{i}] must be a dict of fastnn.train options, got {type(extra).__name__}")
        extra = renamed_keys(extra, RENAMED, f"member_options[{i}]", kind="key", stacklevel=4)  # at the caller
        bad = set(extra) - _TRAIN_OPTIONS
        if bad:
            raise TypeError(f"member_options[{i}] has unknown training option(s) {sorted(bad)}")
        merged.append({**options, **extra})
    return merged


def _member_views(X: Any, n: int) -> list[Any]:
    """One input array per member: ``X`` for all, or the list of ``n`` arrays given."""
    if isinstance(X, (list, tuple)):
        if len(X) != n:
            raise ValueError(f"X is a list of {len(X)} arrays for {n} members; give one array per member "
                             f"(or a single array for all)")
        return list(X)
    return [X] * n


def _train_member(params: Params, X: Any, y: ArrayLike, seed: int,
                  options: Mapping[str, Any]) -> tuple[dict[str, Array], dict[str, Any]]:
    """One member: ``fastnn.train`` with this member's seed and options (runs on a thread or a Dask worker)."""
    return train(params, X, y, seed=seed, **options)


@renamed_keywords(output="output_activation")
def train_committee(members: Sequence[Params], X: Any, y: ArrayLike, *, seed: Optional[int] = None,
                    seeds: Optional[Sequence[int]] = None,
                    member_options: Optional[Sequence[Mapping[str, Any]]] = None, n_jobs: Optional[int] = None,
                    client: Any = None, **options: Any) -> tuple[list[dict[str, Array]], list[dict[str, Any]]]:
    """Train every member of a committee, concurrently, and return the trained members.

    Parameters
    ----------
    members : list of dict
        Initial params, one dict per member (e.g. from :func:`init_committee`); never modified.
        Members may differ in layer sizes (not in input or output width).
    X : ndarray, or list of ndarray
        Training inputs, as for :func:`fastnn.train`: one array shared by all members (never
        copied per member on threads; scattered once to every worker with Dask), or one
        array per member, each its own view of the same samples (same rows, same ``y``).
    y : ndarray
    seed : int, optional
        Derives one seed per member (:func:`member_seeds`); ignored when ``seeds`` is given.
    seeds : sequence of int, optional
        The seed of each member's ``train`` call.
    member_options : sequence of dict, optional
        Per-member :func:`fastnn.train` options that override ``options``, e.g.
        ``[{"augment": Distortion()}, {"augment": None}]``.
    n_jobs : int, optional
        Members training at once on threads (default: the number of CPUs, at most the
        number of members). Ignored with a ``client``.
    client : dask.distributed.Client, optional
        Train each member as one task on the cluster's workers instead of on local threads.
    **options
        Keyword arguments of :func:`fastnn.train` shared by all members (``epochs``, ``lr``,
        ``augment``, ...). ``n_threads`` defaults to 1: one member per core.

    Returns
    -------
    members : list of dict
        The trained params, in the order given.
    histories : list of dict
        Each member's training history.

    Raises
    ------
    TypeError, ValueError
        For a bad committee, seed list or option, before any member starts.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.committee import init_committee, train_committee
    >>> X, y = np.eye(4, dtype=np.float32), np.arange(4)
    >>> members = init_committee([[4, 8, 4]] * 2, seeds=[0, 1])
    >>> members, histories = train_committee(members, X, y, epochs=2, lr=0.1, seed=0, n_jobs=2)
    >>> len(members), [len(h["loss"]) for h in histories]
    (2, [2, 2])
    """
    members = _check_members(members)
    n = len(members)
    seeds = member_seeds(seed, n) if seeds is None else _check_seeds(seeds, n)
    options.setdefault("n_threads", 1)
    opts = _member_options(options, member_options, n)
    views = _member_views(X, n)
    if client is not None:
        return _train_on_dask(client, members, views, y, seeds, opts)
    if n_jobs is None:
        n_jobs = os.cpu_count() or 1
    n_jobs = min(check_positive_int(n_jobs, "n_jobs"), n)
    if n_jobs == 1:
        results = [_train_member(p, x, y, s, o) for p, x, s, o in zip(members, views, seeds, opts)]
    else:
        with ThreadPoolExecutor(n_jobs, thread_name_prefix="fastnn-member") as pool:
            futures = [pool.submit(_train_member, p, x, y, s, o) for p, x, s, o in zip(members, views, seeds, opts)]
            try:
                results = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    return [r[0] for r in results], [r[1] for r in results]


def _train_on_dask(client: Any, members: list[Params], views: list[Any], y: ArrayLike, seeds: list[int],
                   opts: list[dict[str, Any]]) -> tuple[list[dict[str, Array]], list[dict[str, Any]]]:
    if not callable(getattr(client, "map", None)) or not callable(getattr(client, "scatter", None)):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")
    distinct = list({id(x): x for x in views}.values())  # each array crosses the network once
    *remote, y_remote = client.scatter([*distinct, y], broadcast=True)
    where = {id(x): r for x, r in zip(distinct, remote)}
    futures = client.map(_train_member, members, [where[id(x)] for x in views], [y_remote] * len(members), seeds,
                         opts, pure=False)
    results = client.gather(futures)
    return [r[0] for r in results], [r[1] for r in results]


@renamed_keywords(output="output_activation")
def committee_predict_proba(members: Sequence[Params], X: Any, *, weights: Optional[ArrayLike] = None,
                            shifts: Optional[ArrayLike] = None, image_shape: tuple[int, int] = (28, 28),
                            activation: str = "relu", output_activation: str = "softmax") -> Array:
    """The committee's output: the (weighted) mean of its members' :func:`fastnn.predict_proba`.

    Parameters
    ----------
    members : list of dict
        Trained params, with the same input and output widths.
    X : ndarray (n_samples, n_features), or list of them
        One array for all members, or one per member (each member's own view of the same
        samples, as it was trained on).
    weights : sequence of float, optional
        Non-negative weight of each member (normalised to sum 1); default equal weights.
    shifts : sequence of (dx, dy) pairs, optional
        Test-time shifts of image inputs, in pixels (dx right, dy down; bilinear, by
        :func:`fastnn.augment.affine`): each member's probabilities are first averaged over
        its input moved by every shift, e.g. ``[(0, 0), (0.5, 0), (-0.5, 0), (0, 0.5),
        (0, -0.5)]``. Default: the inputs as given.
    image_shape : (height, width)
        The images' shape, with ``shifts``; ``X``'s rows must hold ``height * width``
        pixel values in [0, 1].
    activation, output_activation : str
        The members' wiring (as for :func:`fastnn.predict_proba`; ``output=`` is the deprecated
        name of ``output_activation=``).

    Returns
    -------
    ndarray (n_samples, n_outputs), in the members' dtype.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn.committee import init_committee, committee_predict_proba
    >>> members = init_committee([[4, 8, 3]] * 2, seeds=[0, 1])
    >>> X = np.ones((2, 4), dtype=np.float32)
    >>> p = committee_predict_proba(members, X)
    >>> bool(np.allclose(p, (fastnn.predict_proba(members[0], X) + fastnn.predict_proba(members[1], X)) / 2))
    True
    """
    members = _check_members(members)
    widths = {(check_params(p)[0][0].shape[0], check_params(p)[-1][0].shape[1]) for p in members}
    if len(widths) > 1:
        raise ValueError(f"the members' (input, output) widths differ: {sorted(widths)}")
    if weights is None:
        w = np.full(len(members), 1.0 / len(members))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(members),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be {len(members)} non-negative finite numbers with a positive sum, "
                             f"got {weights!r}")
        w = w / w.sum()
    views = _member_views(X, len(members))
    rows = {np.shape(x)[0] if np.ndim(x) else None for x in views}
    if len(rows) > 1:
        raise ValueError(f"the members' arrays in X hold different numbers of rows: {sorted(rows, key=str)}; "
                         f"give every member a view of the same samples")
    moves = check_shifts(shifts)
    if shifts is not None:  # every view checked before any member predicts
        for x in {id(x): x for x in views}.values():
            check_images(x, image_shape, "X")
    total: Optional[Array] = None
    for wi, p, x in zip(w, members, views):
        share = wi / len(moves)
        for move in moves:
            seen = x if move is None else affine(x, translate=move, image_shape=image_shape)
            out = predict_proba(p, seen, activation=activation, output_activation=output_activation)
            total = out * share if total is None else total + out * share
    assert total is not None  # a committee has members and check_shifts gives at least one move
    return total.astype(out.dtype, copy=False)


def check_shifts(shifts: Optional[ArrayLike]) -> list[Optional[tuple[float, float]]]:
    """The test-time moves: ``[None]`` (the inputs as given) or a list of (dx, dy) float pairs.

    Examples
    --------
    >>> from fastnn.committee import check_shifts
    >>> check_shifts(None)
    [None]
    >>> [tuple(map(float, s)) for s in check_shifts([(0, 0), (0.5, -1)])]
    [(0.0, 0.0), (0.5, -1.0)]
    >>> check_shifts([0.5, 0.5])
    Traceback (most recent call last):
        ...
    ValueError: shifts must be a non-empty sequence of (dx, dy) pixel pairs (shape (k, 2)), got shape (2,)
    """
    if shifts is None:
        return [None]
    try:
        arr = np.array(shifts, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"shifts must be a sequence of (dx, dy) pixel pairs, got {shifts!r}") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        raise ValueError(f"shifts must be a non-empty sequence of (dx, dy) pixel pairs (shape (k, 2)), "
                         f"got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("shifts holds NaN or infinite values")
    return [tuple(row) for row in arr]


@renamed_keywords(output="output_activation")
def committee_predict(members: Sequence[Params], X: Any, *, weights: Optional[ArrayLike] = None,
                      shifts: Optional[ArrayLike] = None, image_shape: tuple[int, int] = (28, 28),
                      activation: str = "relu", output_activation: str = "softmax") -> NDArray[np.int64]:
    """The class (column index) of the committee's largest mean probability for every row of ``X`` (int64).

    ``X`` is one array, or one per member; ``weights`` and ``shifts`` as for
    :func:`committee_predict_proba`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.committee import init_committee, committee_predict, committee_predict_proba
    >>> members = init_committee([[4, 8, 3]] * 2, seeds=[0, 1])
    >>> X = np.ones((2, 4), dtype=np.float32)
    >>> bool((committee_predict(members, X) == committee_predict_proba(members, X).argmax(axis=1)).all())
    True
    """
    proba = committee_predict_proba(members, X, weights=weights, shifts=shifts, image_shape=image_shape,
                                    activation=activation, output_activation=output_activation)
    return np.argmax(proba, axis=1).astype(np.int64)
