"""fastnn.packing: the params dict as one flat buffer and back."""
import numpy as np
import pytest

import fastnn
from fastnn.packing import pack, unpack, unpack_views
from fastnn.validation import check_params


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pack_lays_out_each_layer_and_unpack_restores_it(dtype):
    params = fastnn.init_params([5, 4, 3, 2], seed=0, dtype=dtype)
    theta, sizes, offsets = pack(check_params(params))
    assert theta.dtype == np.dtype(dtype)
    assert sizes.tolist() == [5, 4, 3, 2]
    assert offsets.tolist() == [0, 20, 24, 36, 39, 45]  # W1 5x4, b1 4, W2 4x3, b2 3, W3 3x2, b3 2
    assert theta.size == 47
    np.testing.assert_array_equal(theta[20:24], params["b1"])
    np.testing.assert_array_equal(theta[24:36].reshape(4, 3), params["W2"])
    back = unpack(theta, sizes, offsets)
    assert back.keys() == params.keys()
    for key in params:
        np.testing.assert_array_equal(back[key], params[key])
        assert back[key].dtype == params[key].dtype


def test_pack_copies_and_unpack_copies():
    params = fastnn.init_params([3, 2], seed=0)
    theta, sizes, offsets = pack(check_params(params))
    theta[:] = 7.0
    assert not np.any(params["W1"] == 7.0)
    back = unpack(theta, sizes, offsets)
    theta[:] = 0.0
    assert np.all(back["W1"] == 7.0)


def test_unpack_views_write_through_to_the_buffer():
    theta, sizes, offsets = pack(check_params(fastnn.init_params([3, 4, 2], seed=0)))
    (W1, b1), (W2, b2) = unpack_views(theta, sizes, offsets)
    assert W1.shape == (3, 4) and b1.shape == (4,) and W2.shape == (4, 2) and b2.shape == (2,)
    W2[1, 0] = 42.0
    assert theta[offsets[2] + 2] == 42.0
