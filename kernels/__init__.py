"""Numba hot loops of fastnn, installed as ``fastnn.kernels``.

Only ``@njit(cache=True)`` functions over arrays and scalars live here, split by job:
``sample`` (the pieces of one per-sample step), ``inputs`` (reading an input row from a
dense array or CSR), ``steps`` (per-sample SGD on one thread: the row loop and dense windows),
``threads`` (several threads: split units, replicas and their merging), ``rules`` (the dense
optimizer rules), ``elementwise`` and ``distort``; and two modules of Numba intrinsics for
what an ``@njit`` function cannot emit: ``atomics`` (acquire loads and release stores) and
``prefetch``. They check nothing: the public functions in :mod:`fastnn` validate their
input first.
"""
