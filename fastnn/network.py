"""The pure functions of a dense network: forward, backward, update, predict.

Each takes arrays and returns new arrays; none modifies its arguments. Together they
are the readable reference ("NumPy twin") for the compiled training kernels.
"""
from typing import NamedTuple

import numpy as np

from .activations import ACTIVATIONS, DERIVATIVES, HIDDEN, OUTPUTS
from .losses import LOSSES, check_pairing, output_delta
from .optim import sgd
from .validation import check_choice, check_grads, check_inputs, check_params, check_positive_float, check_targets


class Cache(NamedTuple):
    """What :func:`backward` needs from :func:`forward`: every layer's output, and the wiring."""

    activations: tuple  # (X, A1, ..., AL): the input and each layer's output
    activation: str
    output: str


def _forward_layers(layers, X, activation, output, masks=None):
    """Layer outputs ``[X, H1, ..., HL]``.

    ``masks[l - 1]`` (inverted-dropout multipliers, 0 or 1/keep) scales hidden layer
    ``l``'s output on its way to layer ``l + 1``; the list keeps the unscaled ``Hl``.
    """
    acts = [X]
    A = X
    for l, (W, b) in enumerate(layers, 1):
        Z = A @ W
        Z += b
        H = ACTIVATIONS[output if l == len(layers) else activation](Z)
        acts.append(H)
        A = H * masks[l - 1] if masks is not None and l < len(layers) else H
    return acts


def forward(params, X, *, activation="relu", output="softmax"):
    """Run a batch through the network.

    Parameters
    ----------
    params : dict
        ``W1..WL``, ``b1..bL`` as made by :func:`fastnn.init_params`.
    X : ndarray (n_samples, n_features)
        One sample per row, floats (scale images to [0, 1]).
    activation : {'relu', 'sigmoid', 'tanh', 'identity'}
        Hidden-layer activation.
    output : {'softmax', 'sigmoid', 'tanh', 'identity'}
        Output-layer activation.

    Returns
    -------
    out : ndarray (n_samples, n_outputs)
    cache : Cache
        The layer outputs that :func:`backward` needs.
    """
    check_choice(activation, HIDDEN, "activation")
    check_choice(output, OUTPUTS, "output")
    layers = check_params(params)
    X = check_inputs(X, layers[0][0].shape[0], layers[0][0].dtype, w1_shape=layers[0][0].shape)
    acts = _forward_layers(layers, X, activation, output)
    return acts[-1], Cache(tuple(acts), activation, output)


def backward(params, cache, y, *, activation="relu", loss="cross_entropy"):
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
    """
    layers = check_params(params)
    if not isinstance(cache, Cache):
        raise TypeError("cache must be the second value returned by fastnn.forward")
    check_choice(loss, LOSSES, "loss")
    if activation != cache.activation:
        raise ValueError(
            f"backward got activation={activation!r} but forward used {cache.activation!r}; pass the same one"
        )
    check_pairing(cache.output, loss)
    acts = cache.activations
    if len(acts) != len(layers) + 1 or any(a.shape[1] != W.shape[0] for a, (W, _) in zip(acts, layers)):
        raise ValueError("cache does not belong to this params dict; call forward with the same params first")
    T = check_targets(y, len(acts[0]), layers[-1][0].shape[1], acts[-1].dtype)
    return _gradients(layers, acts, T, cache.activation, cache.output, loss)


def _gradients(layers, acts, T, activation, output, loss, masks=None, row_weights=None):
    grads = {}
    delta = output_delta(acts[-1], T, output, loss)
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


def update(params, grads, lr):
    """One gradient-descent step, ``p - lr * g`` for every array; returns a new dict.

    The step of :func:`fastnn.optim.sgd`, with the checks of a network's params and grads.
    """
    check_params(params)
    lr = check_positive_float(lr, "lr")
    check_grads(grads, params)
    grads = {k: grads[k].astype(p.dtype, copy=False) for k, p in params.items()}  # float64 grads of float32 params
    opt = sgd(lr)
    return opt.update(params, grads, opt.init(params))[0]


PREDICT_CHUNK = 8192
"""Rows per forward pass in :func:`predict_proba`, so memory stays flat for any ``len(X)``."""


def _output_chunks(params, X, activation, output):
    """Check the arguments; return ``(n_rows, chunks)``, where ``chunks`` yields ``(start, outputs)``
    for consecutive chunks of at most ``PREDICT_CHUNK`` rows, each checked and converted on its own."""
    check_choice(activation, HIDDEN, "activation")
    check_choice(output, OUTPUTS, "output")
    layers = check_params(params)
    n_features, dtype = layers[0][0].shape[0], layers[0][0].dtype
    if not isinstance(X, np.ndarray) or X.ndim != 2 or len(X) <= PREDICT_CHUNK or X.shape[1] != n_features:
        X = check_inputs(X, n_features, dtype, w1_shape=layers[0][0].shape)
        return len(X), iter([(0, _forward_layers(layers, X, activation, output)[-1])])

    def chunks():
        for start in range(0, len(X), PREDICT_CHUNK):
            chunk = check_inputs(X[start : start + PREDICT_CHUNK], n_features, dtype, first_row=start)
            yield start, _forward_layers(layers, chunk, activation, output)[-1]

    return len(X), chunks()


def predict_proba(params, X, *, activation="relu", output="softmax"):
    """Network outputs for ``X`` (class probabilities with a softmax output), in chunks of rows."""
    n, chunks = _output_chunks(params, X, activation, output)
    out = None
    for start, part in chunks:
        if len(part) == n:
            return part
        if out is None:
            out = np.empty((n, part.shape[1]), dtype=part.dtype)
        out[start : start + len(part)] = part
    return out


def predict(params, X, *, activation="relu", output="softmax"):
    """Predicted class index for every row of ``X`` (int64), chunk by chunk: the outputs of all
    rows are never held at once."""
    n, chunks = _output_chunks(params, X, activation, output)
    labels = np.empty(n, dtype=np.int64)
    for start, part in chunks:
        labels[start : start + len(part)] = np.argmax(part, axis=1)
    return labels
