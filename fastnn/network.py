"""The pure functions of a dense network: forward, backward, update, predict.

Each takes arrays and returns new arrays; none modifies its arguments. Together they
are the readable reference ("NumPy twin") for the compiled training kernels.
"""
from collections.abc import Iterator, Mapping, Sequence
import warnings
from typing import NamedTuple, Optional

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .activations import ACTIVATIONS, DERIVATIVES, HIDDEN, OUTPUTS
from .losses import LOSSES, check_pairing, output_delta
from .optim import sgd
from .deprecation import renamed_keywords
from .sparse import is_sparse
from .typing import Array, Layers, Params
from .validation import check_choice, check_grads, check_inputs, check_params, check_positive_float, check_targets

__all__ = ["Cache", "forward", "backward", "update", "predict_proba", "predict", "forward_layers", "backward_layers",
           "PREDICT_CHUNK"]



class Cache(NamedTuple):
    """What :func:`backward` needs from :func:`forward`: every layer's output, and the wiring.

    Attributes
    ----------
    activations : tuple of ndarray
        ``(X, A1, ..., AL)``: the input and each layer's output.
    activation : str
        The hidden layers' activation.
    output_activation : str
        The output layer's activation (also readable as ``output``, its deprecated name).

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> out, cache = fastnn.forward(params, np.ones((2, 4)), output_activation="sigmoid")
    >>> cache.activation, cache.output_activation, len(cache.activations)
    ('relu', 'sigmoid', 2)
    """

    activations: tuple[Array, ...]
    activation: str
    output_activation: str

    @property
    def output(self) -> str:
        """Deprecated name of :attr:`output_activation`."""
        warnings.warn("Cache.output is deprecated; use Cache.output_activation (it means the same)",
                      DeprecationWarning, stacklevel=2)
        return self.output_activation


@renamed_keywords(output="output_activation")
def forward_layers(layers: Layers, X: Array, activation: str, output_activation: str,
                   masks: Optional[Sequence[Array]] = None) -> list[Array]:
    """Layer outputs ``[X, H1, ..., HL]``, with no checks: the core of :func:`forward`.

    For engines and twins that have checked their arguments already: ``layers`` as
    :func:`fastnn.validation.check_params` returns them, ``X`` of their dtype, ``activation``
    and ``output_activation`` names in :data:`fastnn.activations.HIDDEN` and :data:`~fastnn.activations.OUTPUTS`.
    ``masks[l - 1]`` (inverted-dropout multipliers, 0 or 1/keep) scales hidden layer
    ``l``'s output on its way to layer ``l + 1``; the list keeps the unscaled ``Hl``.
    """
    acts = [X]
    A = X
    for l, (W, b) in enumerate(layers, 1):
        Z = A @ W
        Z += b
        H = ACTIVATIONS[output_activation if l == len(layers) else activation].function(Z)
        acts.append(H)
        A = H * masks[l - 1] if masks is not None and l < len(layers) else H
    return acts


@renamed_keywords(output="output_activation")
def forward(params: Params, X: ArrayLike, *, activation: str = "relu",
            output_activation: str = "softmax") -> tuple[Array, Cache]:
    """Run a batch through the network.

    Parameters
    ----------
    params : dict
        ``W1..WL``, ``b1..bL`` as made by :func:`fastnn.init_params`.
    X : ndarray or scipy.sparse matrix (n_samples, n_features)
        One sample per row, floats (scale images to [0, 1]); sparse input is never densified.
    activation : {'relu', 'sigmoid', 'tanh', 'identity'}
        Hidden-layer activation (:data:`fastnn.activations.HIDDEN`).
    output_activation : {'softmax', 'sigmoid', 'tanh', 'identity'}
        The output layer's activation (:data:`fastnn.activations.OUTPUTS`). Its older name
        ``output=`` still works, with a ``DeprecationWarning``.

    Returns
    -------
    out : ndarray (n_samples, n_outputs)
    cache : Cache
        The layer outputs that :func:`backward` needs.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> params = fastnn.init_params([4, 8, 3], seed=0)
    >>> out, cache = fastnn.forward(params, np.ones((2, 4), dtype=np.float32))
    >>> out.shape, bool(np.allclose(out.sum(axis=1), 1))
    ((2, 3), True)
    """
    check_choice(activation, HIDDEN, "activation")
    check_choice(output_activation, OUTPUTS, "output_activation")
    layers = check_params(params)
    inputs = check_inputs(X, layers[0][0].shape[0], layers[0][0].dtype, w1_shape=layers[0][0].shape)
    acts = forward_layers(layers, inputs, activation, output_activation)
    return acts[-1], Cache(tuple(acts), activation, output_activation)


def backward(params: Params, cache: Cache, y: ArrayLike, *, activation: str = "relu",
             loss: str = "cross_entropy") -> dict[str, Array]:
    """Gradients of the mean loss over the batch, by backpropagation.

    Parameters
    ----------
    params : dict
    cache : Cache
        From ``forward(params, X, ...)`` with the same ``params``.
    y : ndarray
        Integer labels (n_samples,) or targets (n_samples, n_outputs).
    activation : str
        Hidden activation; must be the one ``forward`` used.
    loss : {'cross_entropy', 'mse'}

    Returns
    -------
    dict
        ``dW1..dWL`` and ``db1..dbL`` under the params' own keys (``"W1"``, ``"b1"``, ...).

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> params = fastnn.init_params([4, 8, 3], seed=0)
    >>> out, cache = fastnn.forward(params, np.ones((2, 4), dtype=np.float32))
    >>> grads = fastnn.backward(params, cache, np.array([0, 2]))
    >>> sorted(grads) == sorted(params), grads["W1"].shape
    (True, (4, 8))
    """
    layers = check_params(params)
    if not isinstance(cache, Cache):
        raise TypeError("cache must be the second value returned by fastnn.forward")
    check_choice(loss, LOSSES, "loss")
    if activation != cache.activation:
        raise ValueError(
            f"backward got activation={activation!r} but forward used {cache.activation!r}; pass the same one"
        )
    check_pairing(cache.output_activation, loss)
    acts = cache.activations
    if len(acts) != len(layers) + 1 or any(a.shape[1] != W.shape[0] for a, (W, _) in zip(acts, layers)):
        raise ValueError("cache does not belong to this params dict; call forward with the same params first")
    T = check_targets(y, acts[0].shape[0], layers[-1][0].shape[1], acts[-1].dtype)
    return backward_layers(layers, acts, T, cache.activation, cache.output_activation, loss)


@renamed_keywords(output="output_activation")
def backward_layers(layers: Layers, acts: Sequence[Array], T: Array, activation: str, output_activation: str, loss: str,
                    masks: Optional[Sequence[Array]] = None, row_weights: Optional[Array] = None) -> dict[str, Array]:
    """Gradients of the mean loss by backpropagation, with no checks: the core of :func:`backward`.

    ``acts`` are :func:`forward_layers`'s outputs for the same ``layers``, wiring and ``masks``;
    ``T`` the targets as rows of the outputs' dtype; ``loss`` a name in :data:`fastnn.losses.LOSSES`
    that pairs with ``output_activation``; ``row_weights`` (optional) each row's weight in the mean (ones:
    the plain mean). Returns ``{"W1": dW1, "b1": db1, ...}`` in the params' key order.
    """
    grads = {}
    delta = output_delta(acts[-1], T, output_activation, loss)
    if row_weights is not None:  # each row's share of the mean: backpropagation is linear in delta
        delta = delta * row_weights[:, None]
    for l in range(len(layers), 0, -1):
        H_prev = acts[l - 1]
        mask = masks[l - 2] if masks is not None and l > 1 else None
        A_prev = H_prev if mask is None else H_prev * mask
        grads[f"W{l}"] = A_prev.T @ delta
        grads[f"b{l}"] = delta.sum(axis=0)
        if l > 1:
            delta = DERIVATIVES[activation](H_prev, delta @ layers[l - 1][0].T)
            if mask is not None:
                delta = delta * mask
    return {k: grads[k] for k in sorted(grads, key=lambda k: (int(k[1:]), k[0] != "W"))}


def update(params: Params, grads: Mapping[str, Array], lr: float) -> dict[str, Array]:
    """One gradient-descent step, ``p - lr * g`` for every array; returns a new dict.

    The step of :func:`fastnn.optim.sgd`, with the checks of a network's params and grads.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> params = fastnn.init_params([4, 3], seed=0)
    >>> grads = {k: np.ones_like(v) for k, v in params.items()}
    >>> new = fastnn.update(params, grads, lr=0.1)
    >>> bool(np.allclose(new["W1"], params["W1"] - 0.1)), new is params
    (True, False)
    """
    check_params(params)
    lr = check_positive_float(lr, "lr")
    check_grads(grads, params)
    grads = {k: grads[k].astype(p.dtype, copy=False) for k, p in params.items()}  # float64 grads of float32 params
    opt = sgd(lr)
    return opt.update(params, grads, opt.init(params))[0]


PREDICT_CHUNK = 8192
"""Rows per forward pass in :func:`predict_proba`, so memory stays flat for any ``len(X)``."""


def _output_chunks(params: Params, X: ArrayLike, activation: str,
                   output_activation: str) -> tuple[int, Iterator[tuple[int, Array]]]:
    """Check the arguments; return ``(n_rows, chunks)``, where ``chunks`` yields ``(start, outputs)``
    for consecutive chunks of at most ``PREDICT_CHUNK`` rows, each checked and converted on its own."""
    check_choice(activation, HIDDEN, "activation")
    check_choice(output_activation, OUTPUTS, "output_activation")
    layers = check_params(params)
    n_features, dtype = layers[0][0].shape[0], layers[0][0].dtype
    if is_sparse(X):  # checked and made canonical CSR once; its rows sliced into chunks as for a large array
        csr = check_inputs(X, n_features, dtype, w1_shape=layers[0][0].shape)
        return csr.shape[0], ((s, forward_layers(layers, csr[s : s + PREDICT_CHUNK], activation, output_activation)[-1])
                              for s in range(0, csr.shape[0], PREDICT_CHUNK))
    if not isinstance(X, np.ndarray) or X.ndim != 2 or len(X) <= PREDICT_CHUNK or X.shape[1] != n_features:
        inputs = check_inputs(X, n_features, dtype, w1_shape=layers[0][0].shape)
        return inputs.shape[0], iter([(0, forward_layers(layers, inputs, activation, output_activation)[-1])])

    def chunks() -> Iterator[tuple[int, Array]]:
        for start in range(0, len(X), PREDICT_CHUNK):
            chunk = check_inputs(X[start : start + PREDICT_CHUNK], n_features, dtype, first_row=start)
            yield start, forward_layers(layers, chunk, activation, output_activation)[-1]

    return len(X), chunks()


@renamed_keywords(output="output_activation")
def predict_proba(params: Params, X: ArrayLike, *, activation: str = "relu",
                  output_activation: str = "softmax") -> Array:
    """Network outputs for ``X`` (class probabilities with a softmax output), in chunks of rows.

    Parameters
    ----------
    params : dict
    X : ndarray or scipy.sparse matrix (n_samples, n_features)
    activation, output_activation : str
        The hidden and output layers' activations, as for :func:`forward` (``output=`` is the
        deprecated name of ``output_activation=``).

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> params = fastnn.init_params([4, 8, 3], seed=0)
    >>> p = fastnn.predict_proba(params, np.ones((5, 4), dtype=np.float32))
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
    ((5, 3), True)
    """
    n, chunks = _output_chunks(params, X, activation, output_activation)
    out: Optional[Array] = None
    for start, part in chunks:
        if len(part) == n:
            return part
        if out is None:
            out = np.empty((n, part.shape[1]), dtype=part.dtype)
        out[start : start + len(part)] = part
    assert out is not None  # there is always a first chunk, even for zero rows
    return out


@renamed_keywords(output="output_activation")
def predict(params: Params, X: ArrayLike, *, activation: str = "relu",
            output_activation: str = "softmax") -> NDArray[np.int64]:
    """Predicted class index for every row of ``X`` (int64), chunk by chunk: the outputs of all
    rows are never held at once.

    Parameters
    ----------
    params, X, activation, output_activation
        As for :func:`predict_proba`.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> params = fastnn.init_params([4, 8, 3], seed=0)
    >>> X = np.ones((5, 4), dtype=np.float32)
    >>> labels = fastnn.predict(params, X)
    >>> labels.shape, bool((labels == fastnn.predict_proba(params, X).argmax(axis=1)).all())
    ((5,), True)
    """
    n, chunks = _output_chunks(params, X, activation, output_activation)
    labels = np.empty(n, dtype=np.int64)
    for start, part in chunks:
        labels[start : start + len(part)] = np.argmax(part, axis=1)
    return labels

