"""Numba hot loops of fastnn, installed as ``fastnn.kernels``.

Only ``@njit(cache=True)`` functions over arrays and scalars live here. They check
nothing: the public functions in :mod:`fastnn` validate their input first.
"""
