"""
A tabular regression, with every argument at its default
========================================================

:class:`fastnn.sklearn.MLPRegressor` on scikit-learn's diabetes data as measured (ten
features on their own scales, ``scaled=False``), with every argument at its default, scored
on a held-out quarter. ``fit`` standardises the inputs and the targets from the training data
and folds both scalings into the first and last layers, so ``params_`` takes raw ``X`` and
predicts ``y`` itself (see :doc:`/tabular`). scikit-learn's ``MLPRegressor()`` and a linear
model on the same split are the baselines.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor

import fastnn
from fastnn.sklearn import MLPRegressor

X, y = load_diabetes(return_X_y=True, scaled=False)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
model = MLPRegressor(random_state=0).fit(X_train, y_train)
with warnings.catch_warnings():
    # scikit-learn's default 200 epochs end before its loss settles on this table, and it says so
    warnings.simplefilter("ignore", ConvergenceWarning)
    sklearn_mlp = SklearnMLPRegressor(random_state=0).fit(X_train, y_train)
linear = LinearRegression().fit(X_train, y_train)
print(f"R^2 on the held-out quarter: fastnn {model.score(X_test, y_test):.2f} ({model.n_iter_} epochs), "
      f"scikit-learn MLP {sklearn_mlp.score(X_test, y_test):.2f}, linear {linear.score(X_test, y_test):.2f}")

# %%
# The fitted params are a plain dict that takes the raw features: the functional API
# computes the estimator's predictions from them (the regressor's output is the identity).
raw = fastnn.forward(model.params_, X_test.astype(np.float32), output_activation="identity")[0].ravel()
print(f"largest difference from model.predict: {np.abs(raw - model.predict(X_test)).max():.2g}")

# %%
# Predicted against measured disease progression on the held-out patients.
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(y_test, model.predict(X_test), s=12)
lo, hi = y.min(), y.max()
ax.plot([lo, hi], [lo, hi], "k--", lw=1)
ax.set_xlabel("measured")
ax.set_ylabel("predicted")
fig.tight_layout()
