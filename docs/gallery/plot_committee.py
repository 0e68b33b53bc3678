"""
A committee of networks
=======================

Four small networks that differ in seed and width, trained concurrently on threads (one per
core; the per-sample kernel releases the GIL), and their committee: the mean of the members'
probabilities. The committee is usually better than its average member, because the
members' errors differ.
"""
import matplotlib.pyplot as plt
import numpy as np

from fastnn import accuracy, committee
from fastnn.datasets import load_mnist

(X, y), (X_test, y_test) = load_mnist()
X, y = X[:10000], y[:10000]
members = committee.init_committee([[784, 64, 10], [784, 96, 10]] * 2, seeds=[0, 1, 2, 3])
members, histories = committee.train_committee(members, X, y, epochs=2, lr=0.02, seed=0)
scores = [accuracy(m, X_test, y_test) for m in members]
together = float(np.mean(committee.committee_predict(members, X_test) == y_test))
print("members:", ", ".join(f"{s:.2%}" for s in scores), f"committee: {together:.2%}")

# %%
# Each member's test accuracy and the committee's.
fig, ax = plt.subplots(figsize=(5, 3))
labels = [f"member {i}" for i in range(len(members))] + ["committee"]
ax.bar(labels, scores + [together], color=["#8da0cb"] * len(members) + ["#fc8d62"])
ax.set_ylim(min(scores) - 0.01, together + 0.005)
ax.set_ylabel("test accuracy")
fig.tight_layout()
