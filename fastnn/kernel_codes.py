"""What the compiled kernels read in place of names: the registries' integer codes and constants.

The kernels (``fastnn.kernels``) switch on integers, not on names or Python objects. The
codes live in the registries (:data:`fastnn.activations.ACTIVATIONS`,
:data:`fastnn.losses.LOSSES`, :data:`fastnn.optim.UPDATE_RULES`); this module turns a wiring
and an optimizer into them, for the engines that call the kernels. It imports no kernel
itself, and ``tests/test_kernel_codes.py`` holds every code to the kernels' constants.
"""
import numpy as np
from numpy.typing import NDArray

from .activations import ACTIVATIONS, HIDDEN, OUTPUTS
from .losses import LOSSES
from .optim import UPDATE_RULES, Optimizer, is_builtin

__all__ = ["HIDDEN_CODES", "OUTPUT_CODES", "LOSS_CODES", "KERNEL_RULES", "wiring_codes", "kernel_rule"]

HIDDEN_CODES: dict[str, int] = {name: ACTIVATIONS[name].kernel_code for name in HIDDEN}
"""The kernel code of each hidden activation."""

OUTPUT_CODES: dict[str, int] = {name: ACTIVATIONS[name].kernel_code for name in OUTPUTS}
"""The kernel code of each output activation."""

LOSS_CODES: dict[str, int] = {name: loss.kernel_code for name, loss in LOSSES.items()}
"""The kernel code of each loss."""

KERNEL_RULES: dict[str, tuple[int, tuple[str, ...]]] = {
    name: (rule.kernel_code, rule.kernel_constants) for name, rule in UPDATE_RULES.items()}
"""Each built-in rule as the compiled per-sample kernels run it: its code and the names of
its constants in the order the kernel reads them."""


def wiring_codes(activation: str, output: str, loss: str) -> tuple[int, int, int]:
    """The kernel codes ``(hidden, output, loss)`` of a checked wiring (names from the registries).

    Examples
    --------
    >>> from fastnn.activations import ACTIVATIONS
    >>> from fastnn.kernel_codes import wiring_codes
    >>> hidden, output, loss = wiring_codes("tanh", "softmax", "cross_entropy")
    >>> hidden == ACTIVATIONS["tanh"].kernel_code
    True
    """
    return HIDDEN_CODES[activation], OUTPUT_CODES[output], LOSS_CODES[loss]


def kernel_rule(opt: Optimizer) -> tuple[int, NDArray[np.float64]]:
    """``(code, constants)`` of a built-in optimizer for the compiled per-sample kernels.

    Raises
    ------
    ValueError
        For an optimizer built from its own ``init``/``update`` pair: the kernels only know
        the built-in rules, so such an optimizer needs a ``batch_size`` (which calls its update).

    Examples
    --------
    >>> from fastnn import optim
    >>> from fastnn.kernel_codes import KERNEL_RULES, kernel_rule
    >>> code, constants = kernel_rule(optim.momentum(lr=0.1, beta=0.9))
    >>> code == KERNEL_RULES["momentum"][0], KERNEL_RULES["momentum"][1], constants
    (True, ('beta',), array([0.9]))
    """
    if not is_builtin(opt):
        raise ValueError(f"optimizer {opt.name!r} is not one of fastnn's built-in rules ({', '.join(KERNEL_RULES)}), "
                         "so the compiled per-sample path cannot run it; train with a batch_size (e.g. "
                         "batch_size=32), which calls its update function")
    code, names = KERNEL_RULES[opt.name]
    return code, np.array([opt.hyperparams[k] for k in names], dtype=np.float64)
