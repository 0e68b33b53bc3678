"""A fastnn network as a standard ONNX graph, to run it where fastnn is not installed.

Each layer becomes one ``Gemm`` (``A @ W + b``) followed by its activation operator
(``Relu``, ``Sigmoid``, ``Tanh``, ``Softmax`` over the last axis; an identity layer adds
nothing, except an ``Identity`` that names the output). The graph takes one input named
``input`` of shape ``[batch, n_features]`` (the batch is dynamic) and gives ``output`` of
shape ``[batch, n_outputs]``, in the params' dtype (float32 or float64), so ONNX Runtime
computes what :func:`fastnn.predict_proba` computes. Needs the ``onnx`` extra
(``python -m pip install -e ".[onnx]"`` in the source folder: onnx, and onnxruntime to run the result).

>>> from fastnn.export_onnx import export_onnx
>>> export_onnx(params, "model.onnx", activation="relu", output_activation="softmax")  # doctest: +SKIP
>>> import onnxruntime as ort  # doctest: +SKIP
>>> ort.InferenceSession("model.onnx").run(None, {"input": X})[0]  # doctest: +SKIP
"""
import os
from typing import TYPE_CHECKING, Any, Optional

from .files import atomic_path
from ._version import __version__
from .activations import ACTIVATIONS, HIDDEN, OUTPUTS
from .deprecation import renamed_keywords
from .typing import Params, PathLike
from .validation import check_choice, check_params, layer_sizes_of

if TYPE_CHECKING:
    import onnx

INPUT_NAME = "input"
OUTPUT_NAME = "output"

OPSET = 17
"""The ONNX operator set the graph declares (Softmax over one axis needs 13 or later)."""

IR_VERSION = 8
"""The ONNX file-format version written: the one of opset 17, read by every ONNX Runtime since 1.11."""

OPERATORS: dict[str, Optional[str]] = {name: entry.onnx_op for name, entry in ACTIVATIONS.items()}
"""The ONNX operator of each activation fastnn has (None: nothing to compute), from
:data:`fastnn.activations.ACTIVATIONS`."""

__all__ = ["to_onnx", "export_onnx", "require_onnx", "INPUT_NAME", "OUTPUT_NAME", "OPSET", "OPERATORS"]


def require_onnx() -> Any:
    """The ``onnx`` module, or an ImportError that says how to install it (check before any work).

    Examples
    --------
    >>> from fastnn.export_onnx import require_onnx
    >>> onnx = require_onnx()                  # with the onnx extra installed
    >>> onnx.__name__, hasattr(onnx, "ModelProto")
    ('onnx', True)
    """
    try:
        import onnx
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: python -m pip install -e '.[onnx]' "
                          "in the fastnn source folder (or pip install onnx onnxruntime)") from None
    return onnx


@renamed_keywords(output="output_activation")
def to_onnx(params: Params, *, activation: str = "relu", output_activation: str = "softmax",
            name: str = "fastnn") -> "onnx.ModelProto":
    """The network as an ``onnx.ModelProto``, checked by ``onnx.checker.check_model``.

    Parameters
    ----------
    params : dict
        ``W1..WL``, ``b1..bL`` as made by :func:`fastnn.init_params` or returned by :func:`fastnn.train`.
    activation : {'relu', 'sigmoid', 'tanh', 'identity'}
        Hidden-layer activation the network was trained with.
    output_activation : {'softmax', 'sigmoid', 'tanh', 'identity'}
        The output layer's activation the network was trained with (``output=``, its older
        name, still works with a ``DeprecationWarning``).
    name : str
        The graph's name.

    Returns
    -------
    onnx.ModelProto
        Input ``input`` ``[batch, n_features]``, output ``output`` ``[batch, n_outputs]``, both in the
        params' dtype; the weights are stored as initializers (copies: ``params`` is not changed).

    Raises
    ------
    TypeError, ValueError
        If ``params`` is not a valid network or an activation is unknown (before any work).
    ImportError
        If the onnx package is not installed.

    Examples
    --------
    >>> import fastnn
    >>> from fastnn.export_onnx import to_onnx
    >>> model = to_onnx(fastnn.init_params([4, 8, 3], seed=0))
    >>> [node.op_type for node in model.graph.node]
    ['Gemm', 'Relu', 'Gemm', 'Softmax', 'Identity']
    """
    layers = check_params(params)
    check_choice(activation, HIDDEN, "activation")
    check_choice(output_activation, OUTPUTS, "output_activation")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    sizes = layer_sizes_of(layers)
    dtype = layers[0][0].dtype
    elem = TensorProto.FLOAT if dtype.name == "float32" else TensorProto.DOUBLE
    nodes, weights = [], []
    a = INPUT_NAME
    for l, (W, b) in enumerate(layers, 1):
        weights += [numpy_helper.from_array(W, f"W{l}"), numpy_helper.from_array(b, f"b{l}")]
        z = f"z{l}"
        nodes.append(helper.make_node("Gemm", [a, f"W{l}", f"b{l}"], [z], name=f"dense{l}"))
        kind = output_activation if l == len(layers) else activation
        op = OPERATORS[kind]
        if op is None:
            a = z
            continue
        a = f"a{l}"
        attrs: dict[str, Any] = {"axis": -1} if op == "Softmax" else {}
        nodes.append(helper.make_node(op, [z], [a], name=f"{kind}{l}", **attrs))
    nodes.append(helper.make_node("Identity", [a], [OUTPUT_NAME], name="output"))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(INPUT_NAME, elem, ["batch", sizes[0]])],
        [helper.make_tensor_value_info(OUTPUT_NAME, elem, ["batch", sizes[-1]])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="fastnn", producer_version=__version__,
                              doc_string=f"{'-'.join(map(str, sizes))} MLP, {activation} hidden, "
                                         f"{output_activation} output")
    # the file's property keeps its first name, "output", for whatever reads the files written so far
    helper.set_model_props(model, {"layer_sizes": ",".join(map(str, sizes)), "activation": activation,
                                   "output": output_activation, "dtype": dtype.name})
    onnx.checker.check_model(model, full_check=True)
    return model


@renamed_keywords(output="output_activation")
def export_onnx(params: Params, path: PathLike, *, activation: str = "relu",
                output_activation: str = "softmax") -> str:
    """Write the network to ``path`` as an ONNX file (see :func:`to_onnx`), whole or not at all.

    An existing file is replaced (atomically: a crash leaves the old file, never half a new one).

    Parameters
    ----------
    params : dict
        The network's arrays.
    path : str or os.PathLike
        The ``.onnx`` file to write.
    activation, output_activation : str
        How the network is wired (hidden and output layers' activations), as given to :func:`fastnn.train`
        (``output=`` is the deprecated name of ``output_activation=``).

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, fastnn
    >>> import onnxruntime as ort
    >>> from fastnn.export_onnx import export_onnx
    >>> params = fastnn.init_params([4, 8, 3], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    >>> export_onnx(params, path)                # doctest: +ELLIPSIS
    '.../model.onnx'
    >>> X = np.ones((2, 4), dtype=np.float32)
    >>> p = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": X})[0]
    >>> bool(np.allclose(p, fastnn.predict_proba(params, X), atol=1e-6))
    True
    """
    path = os.fspath(path)
    model = to_onnx(params, activation=activation, output_activation=output_activation)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(model.SerializeToString())
    return path
