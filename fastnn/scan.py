"""What :func:`fastnn.train` learns from a dense ``X`` in one compiled pass over it.

``train`` refuses inputs holding a NaN or an infinity (naming the first such row), chooses
its compiled path by the share of non-zero inputs (:func:`fastnn.per_sample.input_density`)
and warns when the inputs are far larger than its step size assumes
(:func:`fastnn.diagnostics.input_scale_problem`, which the largest magnitude spares its own
pass when it bounds the step well below the limit). :func:`scan_inputs` gets all three from
one pass (``fastnn.kernels.scan``); :func:`scan_inputs_numpy` is its twin in NumPy.
"""
from typing import NamedTuple, Optional

import numpy as np

from .kernels import scan
from .per_sample import DENSITY_ROWS, input_density
from .validation import first_non_finite_row


class InputScan(NamedTuple):
    """What one pass over a dense ``X`` found.

    ``first_non_finite``: the first row holding a NaN or an infinity, or None; when there is
    one, ``density`` and ``largest`` are not of all of ``X`` (``train`` refuses it anyway).
    ``density``: :func:`fastnn.per_sample.input_density` of ``X``. ``largest``: the largest
    magnitude in ``X``.

    Examples
    --------
    >>> from fastnn.scan import InputScan
    >>> InputScan(first_non_finite=None, density=0.25, largest=3.0).largest
    3.0
    """

    first_non_finite: Optional[int]
    density: float
    largest: float


_BITS = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def scan_inputs(X: np.ndarray) -> InputScan:
    """One compiled pass over the C-contiguous float32 or float64 array ``X`` (2-D, at least one
    row and column), as :func:`fastnn.validation.check_inputs` returns it.

    Examples
    --------
    >>> from fastnn.scan import scan_inputs
    >>> scan_inputs(np.array([[0.0, -2.0], [0.5, 0.0]], np.float32))
    InputScan(first_non_finite=None, density=0.5, largest=2.0)
    >>> scan_inputs(np.array([[0.0, 1.0], [np.inf, 0.0]])).first_non_finite
    1
    """
    uint = _BITS[X.dtype]
    width = 8 * X.dtype.itemsize
    mask, inf_bits = uint((1 << (width - 1)) - 1), np.array(np.inf, X.dtype).view(uint)[()]
    step = max(1, X.shape[0] // DENSITY_ROWS)
    bad, nonzero, largest = scan.scan_rows(X.view(uint), mask, inf_bits, step)
    counted = len(range(0, X.shape[0], step)) * X.shape[1]  # the entries of input_density's rows
    return InputScan(None if bad < 0 else int(bad), int(nonzero) / max(counted, 1),
                     float(np.array(largest, uint).view(X.dtype)[()]))


def scan_inputs_numpy(X: np.ndarray) -> InputScan:
    """:func:`scan_inputs` in NumPy (three passes): its twin, which the tests hold it to.

    Examples
    --------
    >>> from fastnn.scan import scan_inputs_numpy
    >>> scan_inputs_numpy(np.array([[0.0, -2.0], [0.5, 0.0]], np.float32))
    InputScan(first_non_finite=None, density=0.5, largest=2.0)
    """
    return InputScan(first_non_finite_row(X), input_density(X), float(np.abs(X).max()))
