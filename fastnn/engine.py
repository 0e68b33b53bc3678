"""What the two training engines have in common: the protocol ``train`` drives, and what an epoch reports.

``train`` hands its epochs to an engine: :class:`fastnn.per_sample.PerSampleEngine`
(compiled per-sample steps, on one thread or several) or :class:`fastnn.batch.BatchEngine`
(mini-batch or full-batch descent in NumPy, any optimizer). Both update the packed
parameters they were built with in place and offer the same two methods.
"""
from typing import Any, NamedTuple, Protocol

import numpy as np


class EpochTally(NamedTuple):
    """What one epoch did: summed loss and hits over ``done`` samples; ``diverged`` if it stopped early.

    Examples
    --------
    >>> from fastnn.engine import EpochTally
    >>> tally = EpochTally(loss_sum=12.5, correct=40.0, done=50, diverged=False)
    >>> tally.loss_sum / tally.done, tally.correct / tally.done
    (0.25, 0.8)
    """

    loss_sum: float
    correct: float
    done: int
    diverged: bool


class Engine(Protocol):
    """The protocol of a training engine.

    Examples
    --------
    Any class with these two methods is an engine; :class:`fastnn.batch.BatchEngine` is one:

    >>> from fastnn.batch import BatchEngine
    >>> from fastnn.engine import Engine
    >>> all(callable(getattr(BatchEngine, name)) for name in ("epoch", "close"))
    True
    """

    def epoch(self, X: Any, order: np.ndarray, lrs: np.ndarray, first_update: int, limit: float) -> EpochTally:
        """Train on the samples ``order`` of ``X`` with the rates ``lrs`` (one per update, the
        first being update number ``first_update``); stop early (``diverged``) when the mean
        loss of a part is not finite or exceeds ``limit``."""

    def close(self) -> None:
        """Release the engine's threads."""


def over_limit(loss_sum: float, count: int, limit: float) -> bool:
    """Whether a part of an epoch diverged: its mean loss over ``count`` samples is not
    finite or exceeds ``limit``. The one test of divergence both engines apply.

    Examples
    --------
    >>> from fastnn.engine import over_limit
    >>> over_limit(5.0, 10, limit=1.0), over_limit(50.0, 10, limit=1.0), over_limit(float("nan"), 10, limit=1.0)
    (False, True, True)
    """
    return not loss_sum <= limit * count
