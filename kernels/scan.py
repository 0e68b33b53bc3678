"""One pass over a dense input array for what ``fastnn.train`` checks and decides from it.

``train`` refuses inputs that are not finite, chooses its compiled path by the share of
non-zero inputs and warns when the inputs are far larger than its step size assumes. Three
NumPy passes over ``X`` did that, a sizeable part of a short call's fixed cost
(bench/overhead.py, ``train_1k``); this kernel makes one pass, over the bits of the floats
with integer operations only, which the compiler vectorises (a float reduction it would have
to keep in order). Its NumPy twin is ``fastnn.scan.scan_inputs_numpy``.
"""
from numba import njit


@njit(cache=True, nogil=True)
def scan_rows(bits, mask, inf_bits, step):
    """``(first_bad_row, nonzero, largest)`` of a 2-D C-contiguous float array seen as unsigned
    integers of its width (``bits``). ``mask`` clears the sign bit; ``inf_bits`` is infinity's
    pattern: a magnitude's bits at or above it are an infinity's or a NaN's.

    - ``first_bad_row``: the first row holding a NaN or an infinity, or -1 (the scan stops
      there, and the other two are then those of the rows before it);
    - ``nonzero``: the non-zero entries (-0.0 is zero) in the rows ``0, step, 2 * step, ...``;
    - ``largest``: the bits of the largest magnitude in any row (of a float, as ``mask`` and
      finite floats' magnitudes order their bit patterns alike).
    """
    nonzero = 0
    largest = bits.dtype.type(0)
    for i in range(bits.shape[0]):
        row = bits[i]
        top = bits.dtype.type(0)
        count = 0
        for j in range(row.size):
            magnitude = row[j] & mask
            count += magnitude != 0
            top = max(top, magnitude)
        if top >= inf_bits:
            return i, nonzero, largest
        if i % step == 0:
            nonzero += count
        largest = max(largest, top)
    return -1, nonzero, largest
