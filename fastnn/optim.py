"""Optimizers as pairs of pure functions, ``init(params) -> state`` and
``update(params, grads, state) -> (params, state)``.

``params`` and ``grads`` are dicts of floating-point NumPy arrays with the same keys,
shapes and dtypes. Nothing passed in is modified: ``update`` returns new dicts of new arrays.

State
-----
A flat dict of NumPy arrays, so it can be saved beside the params in one ``.npz``:

- ``"step"``: 0-d int64 array, the number of updates done so far (0 after ``init``);
- ``"<slot>/<key>"``: one array per param, same shape and dtype, zeros after ``init``.

==============  ===================  ====================================================
optimizer       slots                update number ``t`` (``t = state["step"]``, from 0)
==============  ===================  ====================================================
``sgd``         (none)               ``p -= lr_t * g``
``momentum``    ``velocity``         ``v = beta * v + g;  p -= lr_t * v``
``nesterov``    ``velocity``         ``v = beta * v + g;  p -= lr_t * (g + beta * v)``
``adam``        ``m``, ``v``         ``m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g**2;``
                                     ``p -= lr_t * m_hat / (sqrt(v_hat) + eps)`` with
                                     ``m_hat = m / (1 - b1**(t+1))``, ``v_hat = v / (1 - b2**(t+1))``
``rmsprop``     ``sq_avg``           ``s = decay * s + (1-decay) * g**2;  p -= lr_t * g / (sqrt(s) + eps)``
``adagrad``     ``sq_sum``           ``s = s + g**2;  p -= lr_t * g / (sqrt(s) + eps)``
==============  ===================  ====================================================

``lr_t = lr(t)`` when ``lr`` is a schedule (see :mod:`fastnn.schedules`), else ``lr``.

Momentum is PyTorch's form (``torch.optim.SGD``, ``dampening=0``): the velocity sums raw
gradients and the current ``lr_t`` scales all of it. The classical form
``u = beta * u - lr_t * g; p += u`` gives the same steps for a constant lr (``u = -lr * v``)
but not under a schedule: there each past gradient keeps the lr it was taken with.
Nesterov is PyTorch's ``nesterov=True`` (Sutskever et al. rewritten to look ahead with
the new velocity). Adam, RMSprop and Adagrad add ``eps`` outside the square root, as
PyTorch does; RMSprop and Adagrad start their accumulators at 0 and have no bias correction.

L2 regularisation / weight decay is not an optimizer's business: add it to the gradients.
"""
import inspect
from collections.abc import Mapping
from functools import lru_cache, partial
from typing import Any, Callable, NamedTuple, Union

import numpy as np

from .schedules import LearningRate, LrSchedule, as_schedule, lr_values
from .typing import Array, Params
from .validation import check_float_arrays, check_real

__all__ = ["Optimizer", "UpdateRule", "sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad",
           "sgd_step", "momentum_step", "nesterov_step", "adam_step", "rmsprop_step", "adagrad_step",
           "UPDATE_RULES", "OPTIMIZERS", "get_optimizer", "is_builtin"]

State = dict[str, np.ndarray]


class Optimizer(NamedTuple):
    """An optimizer: ``init(params) -> state``, ``update(params, grads, state) -> (params, state)``.

    ``name`` is its key in :data:`OPTIMIZERS`; ``hyperparams`` holds its float constants
    other than the learning rate (e.g. ``{"beta": 0.9}``); ``lr`` is the learning rate as a
    schedule, a callable of the step count (a constant rate is ``schedules.constant``).
    ``OPTIMIZERS[name](lr=lr, **hyperparams)`` builds the same optimizer again.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn import optim, schedules
    >>> def init(params):
    ...     return {"step": np.zeros((), dtype=np.int64)}
    >>> def update(params, grads, state):
    ...     return {k: p - 0.1 * np.sign(grads[k]) for k, p in params.items()}, {"step": state["step"] + 1}
    >>> sign_sgd = optim.Optimizer(init=init, update=update, name="sign_sgd", hyperparams={},
    ...                            lr=schedules.constant(0.1))
    >>> new, state = sign_sgd.update({"W1": np.zeros(2)}, {"W1": np.array([3.0, -2.0])}, sign_sgd.init({}))
    >>> new["W1"].tolist(), int(state["step"])
    ([-0.1, 0.1], 1)
    """

    init: Callable[[Params], State]
    update: Callable[[Params, Params, Mapping[str, np.ndarray]], tuple[dict[str, Array], State]]
    name: str
    hyperparams: dict[str, float]
    lr: LrSchedule

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in {"lr": self.lr, **self.hyperparams}.items())
        return f"{self.name}({args})"


# -- the NumPy step of each rule: one array ``p`` with its gradient ``g`` and slot arrays, at update
#    number ``t`` with learning rate ``lr_t``; returns the new ``p`` and the new slot arrays. --------

def sgd_step(p: Array, g: Array, slots: list[Array], lr_t: float, t: int) -> tuple[Array, list[Array]]:
    """Plain gradient descent: ``p - lr_t * g``; no slots.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.optim import sgd_step
    >>> p, slots = sgd_step(np.array([1.0, 2.0]), np.array([0.5, -1.0]), [], lr_t=0.1, t=0)
    >>> p.tolist(), slots
    ([0.95, 2.1], [])
    """
    return p - lr_t * g, []


def momentum_step(p: Array, g: Array, slots: list[Array], lr_t: float, t: int, *,
                  beta: float) -> tuple[Array, list[Array]]:
    """Heavy-ball momentum, PyTorch form: ``v = beta * v + g; p - lr_t * v``; slots ``[v]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.optim import momentum_step
    >>> g = np.array([1.0, -2.0])
    >>> p, [v] = momentum_step(np.zeros(2), g, [np.zeros(2)], lr_t=0.1, t=0, beta=0.5)
    >>> p, [v] = momentum_step(p, g, [v], lr_t=0.1, t=1, beta=0.5)   # v = 0.5 * g + g
    >>> v.tolist(), p.tolist()
    ([1.5, -3.0], [-0.25, 0.5])
    """
    v = beta * slots[0] + g
    return p - lr_t * v, [v]


def nesterov_step(p: Array, g: Array, slots: list[Array], lr_t: float, t: int, *,
                  beta: float) -> tuple[Array, list[Array]]:
    """Nesterov momentum, PyTorch form: ``v = beta * v + g; p - lr_t * (g + beta * v)``; slots ``[v]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.optim import nesterov_step
    >>> p, [v] = nesterov_step(np.zeros(2), np.array([1.0, -2.0]), [np.zeros(2)], lr_t=0.1, t=0, beta=0.5)
    >>> v.tolist(), np.round(p, 6).tolist()    # the step looks ahead: g + beta * v = 1.5 g
    ([1.0, -2.0], [-0.15, 0.3])
    """
    v = beta * slots[0] + g
    return p - lr_t * (g + beta * v), [v]


def adam_step(p: Array, g: Array, slots: list[Array], lr_t: float, t: int, *,
              b1: float, b2: float, eps: float) -> tuple[Array, list[Array]]:
    """Adam with bias correction, ``eps`` added to ``sqrt(v_hat)``; slots ``[m, v]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.optim import adam_step
    >>> g = np.array([0.5, -4.0])
    >>> p, [m, v] = adam_step(np.zeros(2), g, [np.zeros(2), np.zeros(2)], lr_t=0.1, t=0,
    ...                       b1=0.9, b2=0.999, eps=1e-8)
    >>> np.round(p, 6).tolist()                # the first step is lr_t against the gradient's sign
    [-0.1, 0.1]
    """
    m = b1 * slots[0] + (1 - b1) * g
    v = b2 * slots[1] + (1 - b2) * (g * g)
    m_hat = m / (1 - b1 ** (t + 1))
    v_hat = v / (1 - b2 ** (t + 1))
    return p - lr_t * m_hat / (np.sqrt(v_hat) + eps), [m, v]


def rmsprop_step(p: Array, g: Array, slots: list[Array], lr_t: float, t: int, *,
                 decay: float, eps: float) -> tuple[Array, list[Array]]:
    """RMSprop: ``s = decay * s + (1-decay) * g**2; p - lr_t * g / (sqrt(s) + eps)``; slots ``[s]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.optim import rmsprop_step
    >>> g = np.array([0.5, -4.0])
    >>> p, [s] = rmsprop_step(np.zeros(2), g, [np.zeros(2)], lr_t=0.1, t=0, decay=0.75, eps=1e-8)
    >>> s.tolist(), np.round(p, 6).tolist()    # s = 0.25 g**2, so the step is 2 lr_t
    ([0.0625, 4.0], [-0.2, 0.2])
    """
    s = decay * slots[0] + (1 - decay) * (g * g)
    return p - lr_t * g / (np.sqrt(s) + eps), [s]


def adagrad_step(p: Array, g: Array, slots: list[Array], lr_t: float, t: int, *,
                 eps: float) -> tuple[Array, list[Array]]:
    """Adagrad: ``s = s + g**2; p - lr_t * g / (sqrt(s) + eps)``; slots ``[s]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.optim import adagrad_step
    >>> g = np.array([0.5, -4.0])
    >>> p, [s] = adagrad_step(np.zeros(2), g, [np.zeros(2)], lr_t=0.1, t=0, eps=1e-8)
    >>> p, [s] = adagrad_step(p, g, [s], lr_t=0.1, t=1, eps=1e-8)
    >>> s.tolist(), np.round(p, 4).tolist()    # the second step is smaller: s grew to 2 g**2
    ([0.5, 32.0], [-0.1707, 0.1707])
    """
    s = slots[0] + g * g
    return p - lr_t * g / (np.sqrt(s) + eps), [s]


def _check_float(name: str, x: float, *, decay: bool) -> float:
    """``x`` as a float: a decay rate in [0, 1) when ``decay``, else finite and > 0."""
    if decay:
        return check_real(x, name, low=0.0, low_open=False, high=1.0, high_open=True)
    return check_real(x, name)


def _check_update_inputs(params: Params, grads: Params, state: Mapping[str, np.ndarray],
                         slots: tuple[str, ...]) -> int:
    """Validate ``update``'s arguments; return the step count ``state["step"]`` as an int."""
    check_float_arrays(params, "params")
    check_float_arrays(grads, "grads")
    if grads.keys() != params.keys():
        raise ValueError(f"grads must have the keys of params: missing {sorted(params.keys() - grads.keys())}, "
                         f"unexpected {sorted(grads.keys() - params.keys())}")
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be the dict made by init(params), got {type(state).__name__}")
    expected = {"step"} | {f"{slot}/{key}" for slot in slots for key in params}
    if state.keys() != expected:
        raise ValueError(f"state does not fit this optimizer and params: missing {sorted(expected - state.keys())}, "
                         f"unexpected {sorted(state.keys() - expected)}; make it with this optimizer's init(params)")
    for key, p in params.items():
        named = [(f"grads[{key!r}]", grads[key])] + [(f"state[{slot + '/' + key!r}]", state[f"{slot}/{key}"])
                                                      for slot in slots]
        for what, a in named:
            if not isinstance(a, np.ndarray) or a.shape != p.shape or a.dtype != p.dtype:
                got = (a.shape, a.dtype) if isinstance(a, np.ndarray) else type(a).__name__
                raise ValueError(f"{what} must be an array of shape {p.shape} and dtype {p.dtype} "
                                 f"like params[{key!r}], got {got}")
    step = np.asarray(state["step"])
    if step.ndim != 0 or step.dtype.kind not in "iu" or step < 0:
        raise ValueError(f"state['step'] must be a 0-d integer array >= 0, got {state['step']!r}")
    return int(step)


def _optimizer(name: str, lr: LearningRate, hyperparams: dict[str, float]) -> Optimizer:
    """Build the Optimizer of the rule ``UPDATE_RULES[name]`` with checked ``hyperparams``."""
    schedule = as_schedule(lr)  # checks lr: a number > 0 or a callable
    slots = UPDATE_RULES[name].slots
    step = partial(UPDATE_RULES[name].step, **hyperparams)

    def init(params: Params) -> State:
        check_float_arrays(params, "params")
        state: State = {"step": np.array(0, dtype=np.int64)}
        for slot in slots:
            for key, p in params.items():
                state[f"{slot}/{key}"] = np.zeros_like(p)
        return state

    def update(params: Params, grads: Params,
               state: Mapping[str, np.ndarray]) -> tuple[dict[str, Array], State]:
        t = _check_update_inputs(params, grads, state, slots)
        # A Python float keeps float32 arithmetic in float32 (NumPy 2 promotion rules).
        lr_t = float(lr_values(schedule, np.asarray(t)))
        new_params: dict[str, Array] = {}
        new_state: State = {"step": np.array(t + 1, dtype=np.int64)}
        for key, p in params.items():
            new_params[key], new_slots = step(p, grads[key], [state[f"{s}/{key}"] for s in slots], lr_t, t)
            for slot, a in zip(slots, new_slots):
                new_state[f"{slot}/{key}"] = a
        return new_params, new_state

    init.__doc__ = f"Initial {name} state for ``params``: step 0, zero slots {list(slots)}."
    update.__doc__ = f"One {name} step: new ``(params, state)``; the inputs are not modified."
    setattr(update, "rule_name", name)  # marks the built-in rule: see is_builtin
    return Optimizer(init, update, name, hyperparams, schedule)


def sgd(lr: LearningRate = 0.01) -> Optimizer:
    """Plain gradient descent: ``p -= lr_t * g``. ``lr`` is a float > 0 or a schedule.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn import optim
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> grads = {k: np.ones_like(v) for k, v in params.items()}
    >>> opt = optim.sgd(lr=0.1)
    >>> state = opt.init(params)
    >>> new, state = opt.update(params, grads, state)
    >>> bool((new["W1"] < params["W1"]).all()), int(state["step"])
    (True, 1)
    """
    return _optimizer("sgd", lr, {})


def momentum(lr: LearningRate = 0.01, beta: float = 0.9) -> Optimizer:
    """Heavy-ball momentum, PyTorch form: ``v = beta * v + g; p -= lr_t * v``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn import optim
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> grads = {k: np.ones_like(v) for k, v in params.items()}
    >>> opt = optim.momentum(lr=0.1, beta=0.9)
    >>> state = opt.init(params)
    >>> new, state = opt.update(params, grads, state)
    >>> bool((new["W1"] < params["W1"]).all()), int(state["step"])
    (True, 1)
    """
    return _optimizer("momentum", lr, {"beta": _check_float("beta", beta, decay=True)})


def nesterov(lr: LearningRate = 0.01, beta: float = 0.9) -> Optimizer:
    """Nesterov momentum, PyTorch form: ``v = beta * v + g; p -= lr_t * (g + beta * v)``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn import optim
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> grads = {k: np.ones_like(v) for k, v in params.items()}
    >>> opt = optim.nesterov(lr=0.1, beta=0.9)
    >>> state = opt.init(params)
    >>> new, state = opt.update(params, grads, state)
    >>> bool((new["W1"] < params["W1"]).all()), int(state["step"])
    (True, 1)
    """
    return _optimizer("nesterov", lr, {"beta": _check_float("beta", beta, decay=True)})


def adam(lr: LearningRate = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma & Ba) with bias correction; ``eps`` is added to ``sqrt(v_hat)``.

    ``m = b1 m + (1-b1) g; v = b2 v + (1-b2) g**2;
    p -= lr_t * (m / (1 - b1**(t+1))) / (sqrt(v / (1 - b2**(t+1))) + eps)``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn import optim
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> grads = {k: np.ones_like(v) for k, v in params.items()}
    >>> opt = optim.adam(lr=1e-3)
    >>> state = opt.init(params)
    >>> new, state = opt.update(params, grads, state)
    >>> bool((new["W1"] < params["W1"]).all()), int(state["step"])
    (True, 1)
    """
    b1 = _check_float("b1", b1, decay=True)
    b2 = _check_float("b2", b2, decay=True)
    eps = _check_float("eps", eps, decay=False)
    return _optimizer("adam", lr, {"b1": b1, "b2": b2, "eps": eps})


def rmsprop(lr: LearningRate = 0.001, decay: float = 0.9, eps: float = 1e-8) -> Optimizer:
    """RMSprop: ``s = decay * s + (1-decay) * g**2; p -= lr_t * g / (sqrt(s) + eps)``, ``s`` from 0.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn import optim
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> grads = {k: np.ones_like(v) for k, v in params.items()}
    >>> opt = optim.rmsprop(lr=1e-3)
    >>> state = opt.init(params)
    >>> new, state = opt.update(params, grads, state)
    >>> bool((new["W1"] < params["W1"]).all()), int(state["step"])
    (True, 1)
    """
    decay = _check_float("decay", decay, decay=True)
    eps = _check_float("eps", eps, decay=False)
    return _optimizer("rmsprop", lr, {"decay": decay, "eps": eps})


def adagrad(lr: LearningRate = 0.01, eps: float = 1e-10) -> Optimizer:
    """Adagrad: ``s = s + g**2; p -= lr_t * g / (sqrt(s) + eps)``, ``s`` from 0.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn import optim
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> grads = {k: np.ones_like(v) for k, v in params.items()}
    >>> opt = optim.adagrad(lr=0.1)
    >>> state = opt.init(params)
    >>> new, state = opt.update(params, grads, state)
    >>> bool((new["W1"] < params["W1"]).all()), int(state["step"])
    (True, 1)
    """
    return _optimizer("adagrad", lr, {"eps": _check_float("eps", eps, decay=False)})


class UpdateRule(NamedTuple):
    """Everything fastnn knows about one built-in update rule; an entry of :data:`UPDATE_RULES`.

    Attributes
    ----------
    factory : callable
        The public constructor (:func:`sgd`, :func:`adam`, ...), which checks the constants.
    step : callable
        The NumPy step of one array, ``step(p, g, slots, lr_t, t, **constants) -> (p, slots)``.
    slots : tuple of str
        The names of its per-param state arrays, in the order ``step`` takes them.
    kernel_code : int
        The integer the compiled per-sample kernels switch on (``fastnn.kernels.rules.ADAM``, ...).
    kernel_constants : tuple of str
        The names of its constants (keys of ``Optimizer.hyperparams``) in the order the
        compiled kernels read them.

    Examples
    --------
    >>> from fastnn import optim
    >>> rule = optim.UPDATE_RULES["adam"]
    >>> rule.factory is optim.adam, rule.slots, rule.kernel_constants
    (True, ('m', 'v'), ('b1', 'b2', 'eps'))
    """

    factory: Callable[..., Optimizer]
    step: Callable[..., tuple[Array, list[Array]]]
    slots: tuple[str, ...]
    kernel_code: int
    kernel_constants: tuple[str, ...]


UPDATE_RULES: dict[str, UpdateRule] = {
    "sgd": UpdateRule(sgd, sgd_step, (), kernel_code=0, kernel_constants=()),
    "momentum": UpdateRule(momentum, momentum_step, ("velocity",), kernel_code=1, kernel_constants=("beta",)),
    "nesterov": UpdateRule(nesterov, nesterov_step, ("velocity",), kernel_code=2, kernel_constants=("beta",)),
    "adam": UpdateRule(adam, adam_step, ("m", "v"), kernel_code=3, kernel_constants=("b1", "b2", "eps")),
    "rmsprop": UpdateRule(rmsprop, rmsprop_step, ("sq_avg",), kernel_code=4, kernel_constants=("decay", "eps")),
    "adagrad": UpdateRule(adagrad, adagrad_step, ("sq_sum",), kernel_code=5, kernel_constants=("eps",)),
}
"""Every built-in update rule by name (see :class:`UpdateRule`). The kernel codes must match ``fastnn.kernels``."""

OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {name: rule.factory for name, rule in UPDATE_RULES.items()}
"""The constructor of each built-in rule by name, derived from :data:`UPDATE_RULES`."""

def is_builtin(opt: Optimizer) -> bool:
    """Whether ``opt`` runs the built-in rule of its name (made by :func:`sgd`, :func:`adam`, ...).

    False for an Optimizer assembled from one's own ``init``/``update`` pair, even under a
    built-in name: only a built-in rule may be replaced by another implementation of it
    (such as the compiled per-sample kernels).

    Examples
    --------
    >>> from fastnn import optim
    >>> optim.is_builtin(optim.adam(lr=0.001))
    True
    >>> own = optim.adam(lr=0.001)._replace(update=lambda params, grads, state: (dict(params), dict(state)))
    >>> optim.is_builtin(own)                  # an own update under the name "adam"
    False
    """
    return opt.name in UPDATE_RULES and getattr(opt.update, "rule_name", None) == opt.name


@lru_cache(maxsize=None)
def _parameters(factory: Callable[..., Optimizer]) -> list[str]:
    """The parameter names of a built-in optimizer's factory (inspect.signature is slow for every train call)."""
    return list(inspect.signature(factory).parameters)


def get_optimizer(spec: Union[str, tuple[str, Mapping[str, Any]], Optimizer], **overrides: Any) -> Optimizer:
    """An Optimizer from a name, a name with keyword overrides, or an Optimizer.

    Parameters
    ----------
    spec : str, (str, dict) or Optimizer
        ``"adam"``, ``("adam", {"lr": 1e-3})``, or an Optimizer (returned unchanged).
    **overrides
        Keyword arguments for the factory, e.g. ``get_optimizer("momentum", lr=0.1, beta=0.5)``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    TypeError
        For a keyword the optimizer does not take, or a spec of another type.

    Examples
    --------
    >>> from fastnn.optim import get_optimizer
    >>> get_optimizer("momentum", lr=0.1, beta=0.5).hyperparams
    {'beta': 0.5}
    >>> get_optimizer(("adam", {"b1": 0.8})).name
    'adam'
    """
    if isinstance(spec, Optimizer):
        if overrides:
            raise TypeError("keyword overrides need an optimizer name, not an Optimizer; "
                            f"use get_optimizer({spec.name!r}, ...)")
        return spec
    name: object = spec
    kwargs: dict[str, Any] = dict(overrides)
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Mapping):
        name, kwargs = spec[0], {**spec[1], **overrides}
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a name, (name, kwargs) or an Optimizer, got {name!r}")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(sorted(OPTIMIZERS))}")
    factory = OPTIMIZERS[name]
    accepted = _parameters(factory)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(f"{name} takes no argument(s) {unknown}; it takes {accepted}")
    return factory(**kwargs)
