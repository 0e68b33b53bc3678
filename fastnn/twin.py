"""The NumPy twin of the fused per-sample kernel (``fastnn.kernels.steps.sgd_steps``).

Composes the pure functions one sample at a time, so the tests can hold the kernel to
it; slow, and meant to be read. The dropout masks come from the same counter-based hash
as the kernel's, so both drop exactly the same units.
"""
from collections.abc import Mapping
from typing import Optional

import numpy as np
from numpy.typing import NDArray

from .deprecation import renamed_attributes, renamed_keywords
from .network import backward_layers, forward_layers
from .optim import OPTIMIZERS
from .typing import Array, Params
from .validation import check_params

_M64 = (1 << 64) - 1


def dropout_multipliers(seed: int, step: int, layer: int, width: int, keep: float) -> NDArray[np.float64]:
    """Inverted-dropout multipliers (0 or 1/keep) of one hidden layer at one step.

    The NumPy twin of ``kernels.sample.keep_unit``: the same SplitMix64 hash, so the
    kernel and the pure functions drop exactly the same units.

    Examples
    --------
    >>> from fastnn.twin import dropout_multipliers
    >>> m = dropout_multipliers(seed=0, step=0, layer=1, width=8, keep=0.5)
    >>> sorted(set(m.tolist())) <= [0.0, 2.0]
    True
    """
    if keep >= 1.0:
        return np.ones(width)
    base = ((seed * 0x9E3779B97F4A7C15) & _M64) ^ ((step * 0xBF58476D1CE4E5B9) & _M64)
    with np.errstate(over="ignore"):
        x = np.uint64(base) ^ ((np.arange(width, dtype=np.uint64) + np.uint64(layer * 1000003)) * np.uint64(0x94D049BB133111EB))
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    u = (x >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return np.where(u < keep, 1.0 / keep, 0.0)


@renamed_keywords(output="output_activation")
def sgd_steps_numpy(params: Params, X: Array, T: Array, order: NDArray[np.integer], lrs: NDArray[np.floating], *,
                    activation: str = "relu", output_activation: str = "softmax", loss: str = "cross_entropy",
                    l2: float = 0.0, keep: Optional[NDArray[np.floating]] = None, seed: int = 0, step0: int = 0,
                    rule: str = "sgd", hyper: Optional[Mapping[str, float]] = None) -> dict[str, Array]:
    """Per-sample SGD over the samples of ``order`` (an epoch's, or a chunk of one), composed from
    the pure functions one sample at a time (formerly ``sgd_epoch_numpy``, a deprecated alias).

    The readable reference for ``kernels.steps.sgd_steps``: for each sample, the forward
    pass, the gradients of :func:`fastnn.backward` (with the same dropout masks), and
    ``W <- (1 - lr*l2) W - lr*g``; or, for another ``rule`` (``'momentum'``, ``'adam'``,
    ...), the gradients plus ``l2 * W`` handed to that optimizer of :mod:`fastnn.optim`
    from a fresh state. Returns new params; ``params`` is not modified. The wiring keywords are
    :func:`fastnn.train`'s (``output=`` is the deprecated name of ``output_activation=``).

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn.twin import sgd_steps_numpy
    >>> X, T = np.eye(4), np.eye(4)                          # float64 inputs and one-hot targets
    >>> params = fastnn.init_params([4, 8, 4], seed=0, dtype="float64")
    >>> new = sgd_steps_numpy(params, X, T, order=np.arange(4), lrs=np.full(4, 0.1))
    >>> sorted(new) == sorted(params), new["W1"] is params["W1"]
    (True, False)
    """
    if rule != "sgd":
        return _optimizer_steps_numpy(params, X, T, order, lrs, activation, output_activation, loss, l2, keep, seed,
                                      step0, rule, hyper or {})
    layers = [(W.copy(), b.copy()) for W, b in check_params(params)]
    L = len(layers)
    keep = np.ones(L) if keep is None else keep
    for s, i in enumerate(order):
        masks = None
        if np.any(keep[: L - 1] < 1):
            masks = [dropout_multipliers(seed, step0 + s, l, layers[l][0].shape[1], keep[l]).astype(X.dtype)
                     for l in range(L - 1)]
        x = X[i : i + 1]
        acts = forward_layers(layers, x, activation, output_activation, masks)
        grads = backward_layers(layers, acts, T[i : i + 1], activation, output_activation, loss, masks)
        lr = float(lrs[s])
        layers = [((1 - lr * l2) * W - lr * grads[f"W{l}"], b - lr * grads[f"b{l}"])
                  for l, (W, b) in enumerate(layers, 1)]
    return {k: v for l, (W, b) in enumerate(layers, 1) for k, v in ((f"W{l}", W), (f"b{l}", b))}


def _optimizer_steps_numpy(params: Params, X: Array, T: Array, order: NDArray[np.integer], lrs: NDArray[np.floating],
                           activation: str, output: str, loss: str, l2: float, keep: Optional[NDArray[np.floating]],
                           seed: int, step0: int, rule: str, hyper: Mapping[str, float]) -> dict[str, Array]:
    layers = check_params(params)
    L = len(layers)
    keep = np.ones(L) if keep is None else keep
    opt = OPTIMIZERS[rule](lr=lambda t: float(lrs[t]), **hyper)
    params, state = dict(params), opt.init(params)
    state["step"] = np.array(0)
    for s, i in enumerate(order):
        masks = None
        if np.any(keep[: L - 1] < 1):
            masks = [dropout_multipliers(seed, step0 + s, l, layers[l][0].shape[1], keep[l]).astype(X.dtype)
                     for l in range(L - 1)]
        acts = forward_layers(layers, X[i : i + 1], activation, output, masks)
        grads = backward_layers(layers, acts, T[i : i + 1], activation, output, loss, masks)
        for l, (W, _) in enumerate(layers, 1):
            grads[f"W{l}"] = grads[f"W{l}"] + l2 * W
        params, state = opt.update(params, grads, state)
        layers = check_params(params)
    return params


# the old name said "epoch", but like the kernel it runs the samples of ``order``, an epoch or a chunk
__getattr__ = renamed_attributes(__name__, {"sgd_epoch_numpy": "sgd_steps_numpy"}, globals())
