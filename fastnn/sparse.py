"""scipy.sparse inputs: recognised without importing scipy, checked and made canonical CSR once.

A bag of words or a hashed feature vector has hundreds of thousands of columns and a few
dozen non-zeros a row; densified it does not fit in memory. fastnn takes such ``X`` as a
scipy.sparse matrix or array of any format and turns it, once, into the one form every
path works on: a ``scipy.sparse.csr_matrix`` in the params' dtype with sorted, unique
column indices in each row, no explicit zeros, and every stored value finite. Nothing is
ever densified, and the caller's object is never modified (a copy is made only when
something has to change).

scipy is needed only by callers who pass sparse input: :func:`is_sparse` looks at
``sys.modules``, since an object of a scipy.sparse class cannot exist before
``scipy.sparse`` has been imported, so fastnn itself never imports scipy for dense arrays
and works without it installed (Numba imports scipy on its own when it is installed).
"""
import sys
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["is_sparse", "check_sparse_inputs", "check_sparse_path"]

def is_sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy.sparse matrix or array (any format), without importing scipy.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from fastnn.sparse import is_sparse
    >>> is_sparse(sp.eye(3, format="csr")), is_sparse(np.eye(3))
    (True, False)
    """
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def check_sparse_inputs(X: Any, n_features: int, dtype: DTypeLike, name: str = "X", first_row: int = 0,
                        w1_shape: tuple[int, ...] | None = None) -> Any:
    """Return sparse ``X`` as a canonical ``scipy.sparse.csr_matrix`` of ``dtype`` with ``n_features`` columns.

    Parameters
    ----------
    X : scipy.sparse matrix or array, 2-D, any format (CSR, CSC, COO, ...)
        Float, integer or boolean stored values (counts and indicators are converted
        exactly as long as they fit the dtype); complex values are refused.
    n_features : int
        The number of columns the network's ``W1`` expects.
    dtype : numpy dtype
        The params' dtype; the stored values are converted to it.
    name : str
        The argument's name in messages.
    first_row : int
        Index of ``X``'s first row in the caller's array, for row numbers in messages.
    w1_shape : tuple, optional
        Named in the message about a wrong number of columns.

    Returns
    -------
    scipy.sparse.csr_matrix
        Sorted column indices within each row, no duplicate entries (duplicates are summed,
        as scipy does), no explicit zeros, C-contiguous ``data``/``indices``/``indptr``,
        int32 or int64 indices. It shares arrays with ``X`` when nothing had to change;
        ``X`` itself is never modified.

    Raises
    ------
    ValueError
        For a shape other than (n_samples >= 1, n_features), a corrupt structure (indices
        out of range, a decreasing ``indptr``) or a NaN or infinite stored value (the
        message gives the first such row).
    TypeError
        For stored values that are not real numbers (complex, object).

    Examples
    --------
    Duplicates are summed and explicit zeros dropped, in the params' dtype:

    >>> import scipy.sparse as sp
    >>> from fastnn.sparse import check_sparse_inputs
    >>> X = sp.coo_matrix(([1, 2, 0], ([0, 0, 1], [2, 2, 0])), shape=(2, 3))
    >>> csr = check_sparse_inputs(X, 3, np.float32)
    >>> csr.format, csr.dtype, csr.nnz, csr.toarray()[0]
    ('csr', dtype('float32'), 1, array([0., 0., 3.], dtype=float32))
    >>> check_sparse_inputs(X, 4, np.float32)
    Traceback (most recent call last):
    ...
    ValueError: X has shape (2, 3) but the network's W1 has 4 rows; X needs 4 columns
    """
    import scipy.sparse as sp  # already imported: X is one of its objects

    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got a {X.ndim}-D sparse array of shape "
                         f"{X.shape}; for one sample use {name}.reshape(1, -1)")
    if X.shape[1] != n_features:
        w1 = f"has shape {tuple(w1_shape)}" if w1_shape is not None else f"has {n_features} rows"
        raise ValueError(f"{name} has shape {X.shape} but the network's W1 {w1}; {name} needs {n_features} columns")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); pass at least one sample")
    kind = np.dtype(X.dtype).kind
    if kind == "c":
        raise TypeError(f"{name} holds complex values (dtype {X.dtype}); a network takes real inputs, pass "
                        f"{name}.real or abs({name}) if that is what you mean")
    if kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got sparse dtype {X.dtype}")
    csr = _fresh_csr(sp, X, name)
    if np.dtype(csr.dtype) != dtype:
        with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf, refused below
            csr.data = csr.data.astype(dtype)  # rebinds csr's own attribute: X's array is left as it was
    if not csr.has_canonical_format or not np.all(csr.data):
        csr = csr.copy()  # sum_duplicates and eliminate_zeros work in place: never on arrays X shares
        csr.sum_duplicates()
        csr.eliminate_zeros()
    bad = _first_non_finite(csr.data)
    if bad is not None:
        row = int(np.searchsorted(csr.indptr, bad, side="right")) - 1
        raise ValueError(f"{name} holds NaN or infinite stored values (first in row {first_row + row}); "
                         "clean or impute them first")
    csr.data, csr.indices, csr.indptr = (np.ascontiguousarray(a) for a in (csr.data, csr.indices, csr.indptr))
    csr.has_canonical_format = True
    return csr


def check_sparse_path(X: Any, augment: object) -> None:
    """Refuse, before any work, what ``fastnn.train`` cannot do with a sparse ``X``.

    Every path takes CSR as it is: per-sample SGD walks each row's stored entries in the
    compiled kernels, and mini-batch and full-batch descent use ``X[idx]`` and ``X @ W``,
    which never densify. Distortions move the pixels of dense images, so ``augment`` with
    sparse ``X`` is refused.

    Raises
    ------
    TypeError
        ``augment`` given with sparse ``X``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from fastnn.sparse import check_sparse_path
    >>> check_sparse_path(sp.eye(2, format="csr"), None)  # nothing to refuse
    >>> check_sparse_path(sp.eye(2, format="csr"), "shift")
    Traceback (most recent call last):
    ...
    TypeError: augment distorts dense images; X is sparse: ...
    """
    if is_sparse(X) and augment is not None:
        raise TypeError("augment distorts dense images; X is sparse: pass X.toarray() if the rows are small "
                        "images, or leave augment=None")


def _fresh_csr(sp: Any, X: Any, name: str) -> Any:
    """A new ``csr_matrix`` object over ``X``'s values, its structure checked in full.

    A new object, because scipy caches flags such as ``has_canonical_format`` on the
    caller's object, which go stale if its arrays were changed after the flag was computed;
    and because the conversion of a corrupt CSC or COO structure would index out of bounds,
    each format's own arrays are checked before scipy converts them.
    """
    try:
        fmt = X.format
        if fmt in ("csr", "csc"):
            cls = sp.csr_matrix if fmt == "csr" else sp.csc_matrix
            X = cls((X.data, X.indices, X.indptr), shape=X.shape, copy=False)
            X.check_format(full_check=True)
        elif fmt == "coo":
            row, col = X.coords if hasattr(X, "coords") else (X.row, X.col)
            X = sp.coo_matrix((X.data, (row, col)), shape=X.shape, copy=False)  # checks the coordinates' range
        csr = X.tocsr()
        csr = sp.csr_matrix((csr.data, csr.indices, csr.indptr), shape=csr.shape, copy=False)
        csr.check_format(full_check=True)
    except ValueError as e:
        raise ValueError(f"{name} is not a valid sparse {X.format.upper()} matrix: {e}") from None
    return csr


def _first_non_finite(data: np.ndarray, block: int = 1 << 20) -> int | None:
    """Index of the first NaN or infinity in 1-D ``data``, or None; a block at a time, so the
    temporary stays small for any number of non-zeros."""
    for start in range(0, len(data), block):
        finite = np.isfinite(data[start : start + block])
        if not finite.all():
            return start + int(np.flatnonzero(~finite)[0])
    return None
