import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from fastnn.kernels.prefetch import prefetch


@njit
def _prefetch_every_line_then_sum(x):
    for j in range(0, x.size, 16):
        prefetch(x, j)
    prefetch(x, x.size - 1)
    return x.sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_prefetch_changes_no_value(dtype):
    x = np.arange(1000).astype(dtype)
    before = x.copy()
    assert _prefetch_every_line_then_sum(x) == before.sum()
    assert _prefetch_every_line_then_sum(x[::3]) == before[::3].sum()  # a strided view
    assert x.tobytes() == before.tobytes()


def test_prefetch_emits_the_llvm_intrinsic():
    _prefetch_every_line_then_sum(np.zeros(4))
    ir = next(iter(_prefetch_every_line_then_sum.inspect_llvm().values()))
    assert "llvm.prefetch" in ir


def test_prefetch_takes_only_a_1d_array_and_an_integer():
    @njit
    def two_d(a):
        prefetch(a, 0)

    @njit
    def float_index(a):
        prefetch(a, 0.5)

    with pytest.raises(TypingError):
        two_d(np.zeros((2, 2)))
    with pytest.raises(TypingError):
        float_index(np.zeros(2))
