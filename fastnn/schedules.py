"""Learning-rate schedules: functions of a step count ``t`` that return a learning rate.

A schedule is any callable ``f(t) -> lr``. The ones built here accept an ``int`` (giving a
``float``) or a NumPy integer array of t's (giving a float64 array of the same shape), so
the learning rates of a whole epoch come from one vectorised call (:func:`lr_values`).

A schedule is unit-free: ``t`` is whatever its caller counts. The optimizers of
:mod:`fastnn.optim` pass the number of updates done so far (0 for the first update);
a trainer may pass the epoch index instead.

======================================  ==========================================
``constant(lr)``                        ``lr``
``inverse_time(lr0, k)``                ``lr0 / (1 + k t)``
``step(lr0, drop, every)``              ``lr0 * drop ** floor(t / every)``
``exponential(lr0, gamma)``             ``lr0 * gamma ** t``
``cosine(lr0, total, lr_min=0.0)``      ``lr_min + (lr0 - lr_min) (1 + cos(pi min(t, total) / total)) / 2``
======================================  ==========================================
"""
import numbers
from typing import Any, Callable, NamedTuple, Protocol, Union, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .validation import check_positive_int, check_real

Steps = Union[int, np.integer, NDArray[np.integer]]
"""A step count, or an integer array of them."""

Rates = Union[float, NDArray[np.float64]]
"""A learning rate (for one step count), or a float64 array of them (for an array of step counts)."""

@runtime_checkable
class LrSchedule(Protocol):
    """Any learning-rate schedule: a callable of the step count (the built-in ones map :data:`Steps` to
    :data:`Rates`). A protocol rather than ``Callable``, so that a :class:`Schedule` (a NamedTuple
    with ``__call__``) type-checks as one.

    Examples
    --------
    >>> from fastnn.schedules import LrSchedule, constant
    >>> isinstance(constant(0.1), LrSchedule), isinstance(0.1, LrSchedule)
    (True, False)
    """

    def __call__(self, t: Any, /) -> Any: ...

LearningRate = Union[float, LrSchedule]
"""A constant learning rate or a schedule."""

__all__ = ["Schedule", "Steps", "Rates", "LrSchedule", "LearningRate", "constant", "inverse_time", "step", "exponential", "cosine",
           "as_schedule", "lr_values", "SCHEDULES"]


class Schedule(NamedTuple):
    """A named schedule: ``name`` and ``hyperparams`` rebuild it (``SCHEDULES[name](**hyperparams)``).

    ``formula`` is its rate written out, with ``{t}`` where the step count goes
    (:meth:`describe` fills it in).

    Examples
    --------
    >>> from fastnn import schedules
    >>> s = schedules.inverse_time(0.02, k=1)
    >>> s.name, s.hyperparams == {"lr0": 0.02, "k": 1}, float(s(1))
    ('inverse_time', True, 0.01)
    """

    name: str
    hyperparams: dict[str, float]
    fn: Callable[[Steps], Rates]
    formula: str = ""

    def __call__(self, t: Steps) -> Rates:
        """The learning rate at step ``t`` (a float), or at every step of an integer array (float64)."""
        return self.fn(t)

    def describe(self, unit: str = "step") -> str:
        """The learning rate as a formula of ``unit``, e.g. ``0.02/(1+epoch)`` for ``unit="epoch"``.

        Parameters
        ----------
        unit : str
            What the schedule counts (``"step"``, ``"epoch"``): the formula's variable.

        Returns
        -------
        str
        """
        if not isinstance(unit, str) or not unit.isidentifier():
            raise ValueError(f"unit must be a word such as 'epoch', got {unit!r}")
        return self.formula.replace("{t}", unit) if self.formula else repr(self)

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())
        return f"{self.name}({args})"


def _steps(t: Steps) -> NDArray[np.int64]:
    """``t`` as an integer array of non-negative step counts (0-d for a scalar)."""
    arr = np.asarray(t)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"a schedule takes an integer step count or an integer array, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"step counts must be >= 0, got {int(arr.min())}")
    return arr


def _out(values: ArrayLike) -> Rates:
    """A Python float for a scalar step, the float64 array otherwise."""
    values = np.asarray(values, dtype=np.float64)
    return float(values) if values.ndim == 0 else values


def constant(lr: float) -> Schedule:
    """The same learning rate at every step: ``lr``.

    Examples
    --------
    >>> from fastnn import schedules
    >>> lr = schedules.constant(0.01)
    >>> [float(lr(t)) for t in (0, 10, 100)]
    [0.01, 0.01, 0.01]
    """
    lr = check_real(lr, "lr", low=0.0)
    return Schedule("constant", {"lr": lr}, lambda t: _out(np.full(_steps(t).shape, lr)), f"{lr:g}")


def inverse_time(lr0: float, k: float) -> Schedule:
    """Inverse-time decay: ``lr0 / (1 + k t)``, with ``k >= 0``.

    Examples
    --------
    >>> from fastnn import schedules
    >>> lr = schedules.inverse_time(0.02, k=1)
    >>> [round(float(lr(t)), 4) for t in range(4)]
    [0.02, 0.01, 0.0067, 0.005]
    """
    lr0 = check_real(lr0, "lr0", low=0.0)
    k = check_real(k, "k", low=0.0, low_open=False)
    formula = f"{lr0:g}/(1+{{t}})" if k == 1 else f"{lr0:g}/(1+{k:g}*{{t}})"
    return Schedule("inverse_time", {"lr0": lr0, "k": k}, lambda t: _out(lr0 / (1.0 + k * _steps(t))), formula)


def step(lr0: float, drop: float, every: int) -> Schedule:
    """Step decay: ``lr0 * drop ** floor(t / every)``, with ``0 < drop <= 1`` and ``every >= 1``.

    Examples
    --------
    >>> from fastnn import schedules
    >>> lr = schedules.step(0.1, drop=0.5, every=2)
    >>> [round(float(lr(t)), 4) for t in range(5)]
    [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    lr0 = check_real(lr0, "lr0", low=0.0)
    drop = check_real(drop, "drop", low=0.0, high=1.0)
    every = check_positive_int(every, "every")
    return Schedule("step", {"lr0": lr0, "drop": drop, "every": every},
                    lambda t: _out(lr0 * drop ** (_steps(t) // every)), f"{lr0:g}*{drop:g}^({{t}}//{every})")


def exponential(lr0: float, gamma: float) -> Schedule:
    """Exponential decay: ``lr0 * gamma ** t``, with ``0 < gamma <= 1``.

    Examples
    --------
    >>> from fastnn import schedules
    >>> lr = schedules.exponential(0.1, gamma=0.5)
    >>> [round(float(lr(t)), 4) for t in range(3)]
    [0.1, 0.05, 0.025]
    """
    lr0 = check_real(lr0, "lr0", low=0.0)
    gamma = check_real(gamma, "gamma", low=0.0, high=1.0)
    return Schedule("exponential", {"lr0": lr0, "gamma": gamma},
                    lambda t: _out(lr0 * gamma ** _steps(t).astype(np.float64)), f"{lr0:g}*{gamma:g}^{{t}}")


def cosine(lr0: float, total: int, lr_min: float = 0.0) -> Schedule:
    """Half-cosine decay from ``lr0`` at ``t = 0`` to ``lr_min`` at ``t = total``, then ``lr_min``.

    ``lr_min + (lr0 - lr_min) * (1 + cos(pi * min(t, total) / total)) / 2``. With the
    default ``lr_min = 0`` the rate is 0 from ``t = total`` on, which :func:`lr_values`
    rejects: make ``total`` the number of steps you run, or give ``lr_min > 0``.

    Examples
    --------
    >>> from fastnn import schedules
    >>> lr = schedules.cosine(0.1, total=4)
    >>> [round(float(lr(t)), 4) for t in range(6)]
    [0.1, 0.0854, 0.05, 0.0146, 0.0, 0.0]
    """
    lr0 = check_real(lr0, "lr0", low=0.0)
    total = check_positive_int(total, "total")
    lr_min = check_real(lr_min, "lr_min", low=0.0, low_open=False, high=lr0)

    def lr_at(t: Steps) -> Rates:
        frac = np.minimum(_steps(t), total) / total
        return _out(lr_min + (lr0 - lr_min) * 0.5 * (1.0 + np.cos(np.pi * frac)))

    return Schedule("cosine", {"lr0": lr0, "total": total, "lr_min": lr_min}, lr_at,
                    f"cosine from {lr0:g} to {lr_min:g} over {total} {{t}}s")


SCHEDULES: dict[str, Callable[..., Schedule]] = {"constant": constant, "inverse_time": inverse_time, "step": step,
             "exponential": exponential, "cosine": cosine}


def as_schedule(x: LearningRate) -> LrSchedule:
    """A schedule from ``x``: a number becomes ``constant(x)``; a callable ``f(t)`` is kept as is.

    Examples
    --------
    >>> from fastnn import schedules
    >>> float(schedules.as_schedule(0.01)(5)), float(schedules.as_schedule(lambda t: 0.1 / (1 + t))(1))
    (0.01, 0.05)
    """
    if callable(x):
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return constant(x)
    raise TypeError(f"lr must be a positive number or a schedule (a callable of the step count), got {x!r}")


def lr_values(schedule: LearningRate, ts: Steps) -> NDArray[np.float64]:
    """Learning rates of ``schedule`` (a schedule or a number) at the integer step counts ``ts``.

    The schedule is called once on the whole array; a callable that only takes scalars
    (it raises ``TypeError``/``ValueError`` or returns the wrong shape) is called once per
    step instead.

    Parameters
    ----------
    schedule : callable or float
    ts : int or array of int, all >= 0

    Returns
    -------
    ndarray of float64, shaped like ``ts``

    Raises
    ------
    ValueError
        If a learning rate is not finite and > 0; the message names the first such step.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn import schedules
    >>> np.round(schedules.lr_values(schedules.inverse_time(0.02, 1), np.arange(3)), 4).tolist()
    [0.02, 0.01, 0.0067]
    """
    schedule = as_schedule(schedule)
    ts = _steps(ts)
    try:
        values = np.asarray(schedule(ts), dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or values.shape != ts.shape:
        values = np.array([schedule(int(t)) for t in ts.flat], dtype=np.float64).reshape(ts.shape)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise ValueError(f"learning-rate schedule {schedule!r} gave lr={float(values.flat[i])!r} at step "
                         f"t={int(ts.flat[i])}; a learning rate must be finite and > 0")
    return values
