"""
A tabular regression
====================

:class:`fastnn.sklearn.MLPRegressor` on scikit-learn's diabetes data (ten standardised
features, shipped with scikit-learn), in a pipeline, scored on a held-out quarter. The
regressor standardises its targets for training and folds that scaling into the output
layer, so ``params_`` predicts ``y`` itself. A linear model on the same split is the
baseline to beat.
"""
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastnn.sklearn import MLPRegressor

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
model = make_pipeline(StandardScaler(),
                      MLPRegressor(hidden_layer_sizes=(8,), max_iter=40, learning_rate_init=0.0005,
                                   random_state=0, tol=0))
with warnings.catch_warnings():
    # a fixed 40 epochs is the intent here; scikit-learn would say the loss is still falling
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X_train, y_train)
linear = LinearRegression().fit(X_train, y_train)
print(f"R^2 on the held-out quarter: MLP {model.score(X_test, y_test):.2f}, "
      f"linear {linear.score(X_test, y_test):.2f}")

# %%
# Predicted against measured disease progression on the held-out patients.
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(y_test, model.predict(X_test), s=12)
lo, hi = y.min(), y.max()
ax.plot([lo, hi], [lo, hi], "k--", lw=1)
ax.set_xlabel("measured")
ax.set_ylabel("predicted")
fig.tight_layout()
