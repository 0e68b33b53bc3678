"""Every per-sample path gives bit-identical params to the saved references (tests/data/reference_params.npz).

The references were trained with the code before the kernels were split by job (commit
445afde) by ``tests/data/make_reference_params.py``, which holds the cases: the one-thread row
loop, dense windows, replicas and split units on two threads, and the dense optimizer rules,
across activations, losses, depths, dropout and L2. Any change to the kernels or to the path
from ``train`` to them must leave these bits alone; the float64 twin tests in
test_training.py say whether results are right, these say whether they changed.
"""
import importlib.util
import pathlib

import numpy as np
import pytest

_SPEC = importlib.util.spec_from_file_location("make_reference_params",
                                               pathlib.Path(__file__).parent / "data" / "make_reference_params.py")
ref = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ref)


@pytest.fixture(scope="module")
def saved():
    with np.load(ref.PATH) as f:
        saved = {k: f[k] for k in f.files}
    if str(saved.pop("host_cpu")) != ref.host_cpu():
        pytest.skip("the references were made for another CPU, whose vector width may round the kernels' "
                    "reassociated sums differently: make them on this host from commit 445afde with "
                    "`python tests/data/make_reference_params.py`, then test the change against them")
    return saved


def test_every_case_has_a_reference(saved):
    assert {k.split("/")[0] for k in saved} == set(ref.CASES)


@pytest.mark.parametrize("name", list(ref.CASES))
def test_training_reproduces_reference_bits(name, saved):
    got = ref.flatten(name, *ref.run_case(name))
    want = {k: v for k, v in saved.items() if k.split("/")[0] == name}
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].dtype == want[key].dtype, key
        assert got[key].tobytes() == want[key].tobytes(), (
            f"{key}: max abs difference {np.max(np.abs(got[key].astype(np.float64) - want[key])):.3g}")
