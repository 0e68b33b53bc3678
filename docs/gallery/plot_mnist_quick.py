"""
MNIST in seconds, with its learning curve
=========================================

A 784-128-10 network trained by per-sample SGD on 20,000 MNIST images for three epochs, with
the test set evaluated after every epoch. ``train`` returns the history that draws the
learning curve.
"""
import matplotlib.pyplot as plt

import fastnn
from fastnn.datasets import load_mnist

(X, y), (X_test, y_test) = load_mnist()
params = fastnn.init_params([784, 128, 10], seed=0)
params, history = fastnn.train(params, X[:20000], y[:20000], epochs=3, lr=0.02, seed=0,
                               validation_data=(X_test, y_test))
print(f"test accuracy after {len(history['val_accuracy'])} epochs: {history['val_accuracy'][-1]:.2%}")

# %%
# The learning curve: the running training accuracy over each epoch and the test accuracy
# after it.
epochs = range(1, len(history["accuracy"]) + 1)
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(epochs, history["accuracy"], "o-", label="training (running mean)")
ax.plot(epochs, history["val_accuracy"], "s-", label="test")
ax.set_xlabel("epoch")
ax.set_ylabel("accuracy")
ax.set_xticks(list(epochs))
ax.legend()
fig.tight_layout()
