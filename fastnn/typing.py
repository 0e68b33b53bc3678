"""Type aliases of fastnn's public API, for annotations (``from fastnn.typing import Params``)."""
import os
from collections.abc import Mapping, Sequence
from typing import Union

import numpy as np
from numpy.typing import NDArray

__all__ = ["Array", "Params", "Layers", "PathLike"]

Array = NDArray[np.floating]
"""A float32 or float64 NumPy array."""

Params = Mapping[str, Array]
"""A network's arrays by name, ``{"W1": ..., "b1": ..., "WL": ..., "bL": ...}`` (a plain dict)."""

Layers = Sequence[tuple[Array, Array]]
"""``[(W1, b1), ..., (WL, bL)]``, as :func:`fastnn.validation.check_params` returns a params dict's arrays."""

PathLike = Union[str, "os.PathLike[str]"]
"""A file path: a string or a :class:`pathlib.Path`."""
