"""``fastnn export``: a saved model as an ONNX file (see :mod:`fastnn.export_onnx`)."""
from __future__ import annotations

import argparse

from .common import EXIT_OK, CommandError, check_output, load_model, model_argument, say


def run(args: argparse.Namespace) -> int:
    from ..validation import check_params, layer_sizes_of

    try:
        from ..export_onnx import INPUT_NAME, OUTPUT_NAME, export_onnx, require_onnx

        require_onnx()  # fails early without the onnx package
    except ImportError as e:
        raise CommandError(str(e), prog="fastnn export") from None
    check_output(args.output, args.force, option="output file")
    params, meta = load_model(args.model, mnist=False, prog="fastnn export")
    how = meta["wiring"]
    try:
        export_onnx(params, args.output, activation=how["activation"], output_activation=how["output_activation"])
    except (TypeError, ValueError) as e:  # a network ONNX cannot express
        raise CommandError(f"cannot export {args.model!r}: {e}") from None
    except OSError as e:
        raise CommandError(f"cannot write {args.output!r}: {e.strerror or e}") from None
    sizes = layer_sizes_of(check_params(params))
    say(f"wrote {args.output}: {'-'.join(map(str, sizes))} ({how['activation']} hidden, {how['output_activation']} output), "
        f"{params['W1'].dtype}; input {INPUT_NAME!r} [batch, {sizes[0]}], output {OUTPUT_NAME!r} [batch, {sizes[-1]}]")
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    x = sub.add_parser("export", help="write a model as an ONNX file",
                       description="Write a model saved by fastnn train as a standard ONNX graph (Gemm and "
                                   "activation operators, input 'input' [batch, 784], output 'output' [batch, 10], "
                                   "float32 or float64 as trained), for ONNX Runtime and other ONNX runtimes. "
                                   "Needs the onnx extra: python -m pip install -e '.[onnx]' in the fastnn source folder.")
    model_argument(x)
    x.add_argument("output", help="ONNX file to write, e.g. model.onnx")
    x.add_argument("--force", action="store_true", help="replace the output file if it exists")
    x.set_defaults(run=run)
