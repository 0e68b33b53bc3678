"""Reading one input row for a per-sample step: a dense array's row, or a CSR matrix's row.

``X`` is a C-contiguous 2-D array, or a CSR matrix as the tuple ``(indptr, indices, data)``
with sorted indices and no stored zeros. Both give the row as a dense vector and the list
of its non-zero inputs in ascending order, so everything after reading the input is the
same code, with the same results. Dispatch is on X's type when a kernel is compiled: a call
on dense input compiles no CSR code, and the other way round.

One overload does both jobs of a step's input, reading the row and asking for the next
one's cache lines, and it is a call, not ``inline="always"``: Numba compiles an overload's
implementation in full either way (inlined, it then types its IR again and once more in the
caller), and each overload is one more compilation in a kernel's first call
(bench/startup.py).
"""
from numba import njit, types
from numba.extending import overload

from .prefetch import prefetch

# No wrapper for first-class function pointers (Numba's overloads already build none for
# Python): only kernels call this, and a wrapper is compiled code a cold start pays for.
OVERLOAD_JIT = {"no_cfunc_wrapper": True}


def read_row(X, i, buf, idx, n_prev, ahead):
    """Row ``i`` of ``X`` as a dense vector and its non-zero inputs' indices in ``idx``;
    returns ``(x, how many)``. For CSR, ``x`` is ``buf`` (zeros, but for the row's values):
    the previous row's ``n_prev`` entries listed in ``idx`` are cleared first.

    With ``ahead`` at least 0, it first asks for the cache lines of row ``ahead``, the row
    the next step will read: rows come in a random order, which the hardware prefetcher
    cannot foresee (bench/bench_epoch.py). ``-1`` asks for none."""


@njit(cache=True, nogil=True, inline="always")
def scan_nonzero(x, idx):
    """Write the indices of ``x``'s non-zero entries to ``idx``; return how many.

    Branch-free: a mispredicted branch per entry would cost more than the work.
    """
    c = 0
    for j in range(x.size):
        idx[c] = j
        c += x[j] != 0
    return c


@overload(read_row, jit_options=OVERLOAD_JIT)
def _read_row(X, i, buf, idx, n_prev, ahead):
    if isinstance(X, types.Array):
        def dense(X, i, buf, idx, n_prev, ahead):
            if ahead >= 0:
                row = X[ahead]
                for j in range(0, row.size, 16):  # 16 floats (or 8 doubles: every line twice) to a 64-byte line
                    prefetch(row, j)
            x = X[i]
            return x, scan_nonzero(x, idx)
        return dense

    def csr(X, i, buf, idx, n_prev, ahead):
        indptr, indices, data = X
        if ahead >= 0:
            for a in range(indptr[ahead], indptr[ahead + 1], 16):
                prefetch(data, a)
                prefetch(indices, a)
        for a in range(n_prev):
            buf[idx[a]] = 0.0
        start, stop = indptr[i], indptr[i + 1]
        for a in range(stop - start):
            j = indices[start + a]
            idx[a] = j
            buf[j] = data[start + a]
        return buf, stop - start
    return csr
