"""
A custom optimizer
==================

An optimizer is a pair of pure functions over dicts of arrays, ``init(params) -> state`` and
``update(params, grads, state) -> (params, state)``. Here, SGD whose step is clipped to a
maximum norm per array, wrapped in :class:`fastnn.optim.Optimizer` and given to
:func:`fastnn.train` with mini-batches (a custom rule runs in NumPy, not in the per-sample
kernel).
"""
import matplotlib.pyplot as plt
import numpy as np

import fastnn
from fastnn import optim, schedules
from fastnn.datasets import load_mnist


def clipped_sgd(lr=0.1, max_norm=1.0):
    rate = schedules.as_schedule(lr)

    def init(params):
        return {"step": np.zeros((), dtype=np.int64)}

    def update(params, grads, state):
        step = rate(int(state["step"]))
        new = {}
        for key, g in grads.items():
            norm = float(np.linalg.norm(g))
            scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
            new[key] = params[key] - step * scale * g
        return new, {"step": state["step"] + 1}

    return optim.Optimizer(init=init, update=update, name="clipped_sgd",
                           hyperparams={"max_norm": max_norm}, lr=rate)


(X, y), (X_test, y_test) = load_mnist()
X, y = X[:10000], y[:10000]
curves = {}
for name, opt in [("sgd", optim.sgd(lr=0.1)), ("clipped sgd", clipped_sgd(lr=0.1, max_norm=0.5))]:
    params = fastnn.init_params([784, 64, 10], seed=0)
    params, history = fastnn.train(params, X, y, epochs=4, batch_size=32, optimizer=opt, seed=0,
                                   validation_data=(X_test, y_test))
    curves[name] = history["val_accuracy"]
    print(f"{name}: test accuracy {history['val_accuracy'][-1]:.2%}")

# %%
# Test accuracy after each epoch, for both rules.
fig, ax = plt.subplots(figsize=(5, 3.2))
for name, acc in curves.items():
    ax.plot(range(1, len(acc) + 1), acc, "o-", label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()
