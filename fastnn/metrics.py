"""Classification metrics."""
from typing import Optional

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .deprecation import renamed_keywords
from .network import predict
from .typing import Params
from .validation import check_labels, check_params, check_positive_int


@renamed_keywords(output="output_activation")
def accuracy(params: Params, X: ArrayLike, y: ArrayLike, *, activation: str = "relu",
             output_activation: str = "softmax") -> float:
    """Fraction of rows of ``X`` whose predicted class equals the label in ``y``.

    Labels must lie in ``[0, n_outputs)``: a label the network cannot predict is refused.
    ``activation`` and ``output_activation`` (formerly ``output=``, deprecated) are as for
    :func:`fastnn.predict`.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> params = fastnn.init_params([4, 8, 3], seed=0)
    >>> X = np.eye(4, dtype=np.float32)
    >>> acc = fastnn.accuracy(params, X, fastnn.predict(params, X))
    >>> float(acc)
    1.0
    """
    labels = check_labels(y, check_params(params)[-1][0].shape[1])
    predicted = predict(params, X, activation=activation, output_activation=output_activation)  # validates X
    if len(labels) != len(predicted):
        raise ValueError(f"y has {len(labels)} labels but X has {len(predicted)} rows; they must match")
    return float(np.mean(predicted == labels))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: Optional[int] = None) -> NDArray[np.int64]:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as ``j`` (int64).

    ``n_classes`` defaults to ``max(y_true, y_pred) + 1``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> fastnn.confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    if n_classes is not None:
        n_classes = check_positive_int(n_classes, "n_classes")
    true = check_labels(y_true, n_classes, "y_true")
    pred = check_labels(y_pred, n_classes, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"y_true has {len(true)} labels, y_pred has {len(pred)}; they must match")
    k = n_classes if n_classes is not None else int(max(true.max(), pred.max())) + 1
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k).astype(np.int64)
