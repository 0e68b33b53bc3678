"""What :func:`fastnn.train` learns from a dense ``X`` before its epochs, in few passes over it.

``train`` refuses inputs holding a NaN or an infinity (naming the first such row), chooses
its compiled path by the share of non-zero inputs (:func:`fastnn.per_sample.input_density`)
and warns when the inputs are far larger than its step size assumes
(:func:`fastnn.diagnostics.input_scale_problem`, which the largest magnitude spares its own
pass when it bounds the step well below the limit). :func:`scan_inputs` gets all three.
NumPy reductions, not a compiled pass: a kernel of its own would be compiled or loaded in
every process's first call (``bench/startup.py``) to save less per call than that costs.
"""
from typing import NamedTuple, Optional

import numpy as np

from .per_sample import input_density
from .validation import first_non_finite_row


class InputScan(NamedTuple):
    """What :func:`scan_inputs` found in a dense ``X``.

    ``first_non_finite``: the first row holding a NaN or an infinity, or None; when there is
    one, ``density`` and ``largest`` are NaN (``train`` refuses such an ``X``). ``density``:
    :func:`fastnn.per_sample.input_density` of ``X``. ``largest``: the largest magnitude in ``X``.

    Examples
    --------
    >>> from fastnn.scan import InputScan
    >>> InputScan(first_non_finite=None, density=0.25, largest=3.0).largest
    3.0
    """

    first_non_finite: Optional[int]
    density: float
    largest: float


def scan_inputs(X: np.ndarray) -> InputScan:
    """The first non-finite row, the density and the largest magnitude of a 2-D float ``X``
    (at least one row and column), as :func:`fastnn.validation.check_inputs` returns it.

    Its maximum and minimum prove ``X`` finite (a NaN propagates through both, an infinity
    shows in one) and give the largest magnitude; only a non-finite ``X`` is searched row by
    row, for the message.

    Examples
    --------
    >>> from fastnn.scan import scan_inputs
    >>> scan_inputs(np.array([[0.0, -2.0], [0.5, 0.0]], np.float32))
    InputScan(first_non_finite=None, density=0.5, largest=2.0)
    >>> scan_inputs(np.array([[0.0, 1.0], [np.inf, 0.0]])).first_non_finite
    1
    """
    high, low = X.max(), X.min()
    if not (np.isfinite(high) and np.isfinite(low)):
        return InputScan(first_non_finite_row(X), float("nan"), float("nan"))
    return InputScan(None, input_density(X), float(max(abs(high), abs(low))))
