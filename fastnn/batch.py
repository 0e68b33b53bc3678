"""The batch engine: mini-batch or full-batch descent in NumPy, with any optimizer.

BLAS products for the batch's forward and backward passes, ``optimizer.update`` for the
step: any optimizer's ``(init, update)`` pair works here, called on the params and
gradients as dicts of views into the packed parameters.
"""
from typing import Any, Callable, Optional

import numpy as np

from .engine import EpochTally, over_limit
from .losses import LOSS_FUNCTIONS, cross_entropy_from_logits
from .network import backward_layers, forward_layers
from .optim import Optimizer
from .packing import Packed, unpack_views
from .typing import Array


def named_views(net: Packed) -> dict[str, Array]:
    """``{"W1": view, "b1": view, ...}`` into ``net.theta``.

    Examples
    --------
    >>> from fastnn.batch import named_views
    >>> from fastnn.packing import pack
    >>> net = pack([(np.zeros((2, 3)), np.zeros(3))])
    >>> views = named_views(net)
    >>> views["b1"][:] = 1.0  # writes the packed buffer
    >>> sorted(views), net.theta[-3:]
    (['W1', 'b1'], array([1., 1., 1.]))
    """
    return {k: v for l, (W, b) in enumerate(unpack_views(*net), 1) for k, v in ((f"W{l}", W), (f"b{l}", b))}


class BatchEngine:
    """Runs epochs of descent in batches of ``batch`` rows on ``net`` (its ``theta`` updated in place).

    Parameters
    ----------
    net : fastnn.packing.Packed
    T : ndarray (n, n_outputs), the targets of every sample.
    batch : int, rows per step (all of them for full-batch descent).
    optimizer : fastnn.optim.Optimizer
    wiring : (activation, output, loss)
    l2 : float, added as ``l2 * W`` to the weights' gradients.
    keep : float64 (L,), keep probabilities of each layer's units (the last 1).
    rng : numpy Generator, draws the dropout masks.
    progress : callable, optional: ``progress(done, total)`` after every batch.
    weights : float64 (n,), optional: each sample's weight in its batch's mean gradient.

    Examples
    --------
    Two epochs of full-batch descent on two samples lower the loss:

    >>> from fastnn import init_params, optim
    >>> from fastnn.batch import BatchEngine
    >>> from fastnn.packing import pack
    >>> from fastnn.validation import check_params
    >>> net = pack(check_params(init_params([2, 4, 2], seed=0)))
    >>> X, T = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32), np.eye(2, dtype=np.float32)
    >>> engine = BatchEngine(net, T, batch=2, optimizer=optim.sgd(0.5), wiring=("tanh", "softmax", "cross_entropy"),
    ...                      l2=0.0, keep=np.ones(2), rng=np.random.default_rng(0))
    >>> order, lrs = np.arange(2), np.full(2, 0.5)
    >>> first, second = (engine.epoch(X, order, lrs, first_update=0, limit=1e6) for _ in range(2))
    >>> second.loss_sum < first.loss_sum, second.done, second.diverged
    (True, 2, False)
    >>> engine.close()
    """

    def __init__(self, net: Packed, T: np.ndarray, batch: int, optimizer: Optimizer,
                 wiring: tuple[str, str, str], l2: float, keep: np.ndarray, rng: np.random.Generator,
                 progress: Optional[Callable[[int, int], object]] = None, weights: Optional[np.ndarray] = None) -> None:
        self.net, self.T, self.batch, self.optimizer, self.wiring = net, T, batch, optimizer, wiring
        self.l2, self.keep, self.rng, self.progress, self.weights = l2, keep, rng, progress, weights
        self.views = unpack_views(*net)
        self.params = named_views(net)
        self.state = optimizer.init(dict(self.params))

    def close(self) -> None:
        """Nothing to release: the batch engine runs on the caller's thread."""

    def epoch(self, X: Any, order: np.ndarray, lrs: np.ndarray, first_update: int, limit: float) -> EpochTally:
        """One epoch over the samples ``order`` of ``X`` in batches; the rates come from the
        optimizer (``lrs`` and ``first_update`` are the per-sample engine's)."""
        activation, output, loss = self.wiring
        views, params, T, keep = self.views, self.params, self.T, self.keep
        n, bs, L = len(order), self.batch, len(views)
        dropping = bool(np.any(keep[: L - 1] < 1))
        loss_sum = correct = 0.0
        for start in range(0, n, bs):
            idx = order[start : start + bs] if bs < n else order
            Xb, Tb = X[idx], T[idx]
            rows = None  # sample weights as multipliers of the mean gradient: n_b * w_i / sum(w)
            if self.weights is not None:
                w = self.weights[idx]
                if not w.sum() > 0:  # a batch of weight 0 contributes nothing
                    continue
                rows = (w * (len(idx) / w.sum())).astype(views[0][0].dtype)
            masks = None
            if dropping:
                masks = [((self.rng.random((len(idx), W.shape[1])) < keep[l]) / keep[l]).astype(W.dtype)
                         for l, (W, _) in enumerate(views[:-1])]
            acts = forward_layers(views, Xb, activation, output, masks)
            if loss == "cross_entropy":  # from the logits, as the kernel does: the clipped loss cannot exceed 87
                inputs = acts[-2] if masks is None or L == 1 else acts[-2] * masks[-1]
                batch_loss = cross_entropy_from_logits(inputs @ views[-1][0] + views[-1][1], Tb)
            else:
                batch_loss = LOSS_FUNCTIONS[loss](acts[-1], Tb)
            if over_limit(batch_loss, 1, limit):
                return EpochTally(loss_sum, correct, start, True)
            loss_sum += batch_loss * len(idx)
            correct += np.sum(np.argmax(acts[-1], axis=1) == np.argmax(Tb, axis=1))
            grads = backward_layers(views, acts, Tb, activation, output, loss, masks, rows)
            if self.l2 > 0:
                for l, (W, _) in enumerate(views, 1):
                    grads[f"W{l}"] += self.l2 * W
            new_params, self.state = self.optimizer.update(params, grads, self.state)
            for key, view in params.items():
                np.copyto(view, new_params[key])
            if self.progress is not None:
                self.progress(start + len(idx), n)
        return EpochTally(loss_sum, correct, n, False)
