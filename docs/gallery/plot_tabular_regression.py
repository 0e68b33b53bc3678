"""
A tabular regression
====================

:class:`fastnn.sklearn.MLPRegressor` on scikit-learn's diabetes data (ten standardised
features, shipped with scikit-learn), in a pipeline, scored on a held-out quarter. The
regressor standardises its targets for training and folds that scaling into the output
layer, so ``params_`` predicts ``y`` itself.
"""
import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastnn.sklearn import MLPRegressor

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
model = make_pipeline(StandardScaler(),
                      MLPRegressor(hidden_layer_sizes=(32,), max_iter=60, learning_rate_init=0.001,
                                   random_state=0, tol=0))
model.fit(X_train, y_train)
print(f"R^2 on the held-out quarter: {model.score(X_test, y_test):.2f}")

# %%
# Predicted against measured disease progression on the held-out patients.
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(y_test, model.predict(X_test), s=12)
lo, hi = y.min(), y.max()
ax.plot([lo, hi], [lo, hi], "k--", lw=1)
ax.set_xlabel("measured")
ax.set_ylabel("predicted")
fig.tight_layout()
