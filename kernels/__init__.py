"""Numba hot loops of fastnn, installed as ``fastnn.kernels``.

Only ``@njit(cache=True)`` functions over arrays and scalars live here, and two modules of
Numba intrinsics for what an ``@njit`` function cannot emit: ``atomics`` (acquire loads and
release stores) and ``prefetch``. They check nothing: the public functions in
:mod:`fastnn` validate their input first.
"""
