"""``fastnn predict``: classify PNG/JPEG images or .npy arrays of single digits."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from .common import (EXIT_OK, EXIT_USAGE, CommandError, class_names, load_model, model_argument,
                     positive_int, say, scores_of)


def ascii_art(image: np.ndarray) -> list[str]:
    """A 28 x 28 image as 28 lines of characters, two per pixel (light ink drawn dense)."""
    ramp = " .:-=+*#%@"
    idx = np.minimum((np.asarray(image) * len(ramp)).astype(int), len(ramp) - 1)
    return ["".join(ramp[i] * 2 for i in row) for row in idx]


def format_probability(p: float) -> str:
    """``p`` as a percentage with two decimals; ``<0.01%`` rather than a misleading ``0.00%``."""
    return f"{100 * p:.2f}%" if p >= 5e-5 or p == 0 else "<0.01%"


def run(args: argparse.Namespace) -> int:
    from ..images import load_digit

    params, meta = load_model(args.model, prog="fastnn predict")
    names = class_names(meta)
    word = "p" if meta["wiring"]["output_activation"] == "softmax" else "score"
    width = max(len(p) for p in args.images)
    failed = 0
    for path in args.images:
        try:
            image = load_digit(path, background=args.background)
        except ImportError as e:
            raise CommandError(str(e)) from None
        except (OSError, ValueError, TypeError) as e:
            say(f"fastnn: error: {e}", file=sys.stderr)
            failed += 1
            continue
        scores = scores_of(params, meta, image)
        if not np.isfinite(scores).all():  # weights so large that the sums overflow
            raise CommandError(f"{args.model!r} gives non-finite scores (its weights overflow the "
                               f"{params['W1'].dtype} sums); it cannot classify", prog="fastnn predict")
        top = np.argsort(-scores, kind="stable")[: args.top]
        ranked = ", ".join(f"{names[k]} {format_probability(scores[k])}" if word == "p" else f"{names[k]} {scores[k]:.3f}"
                           for k in top)
        say(f"{path:<{width}}  {names[top[0]]}   ({ranked})")
        if args.show:
            say("\n".join(ascii_art(image)))
    return EXIT_USAGE if failed else EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("predict", help="classify PNG/JPEG images or .npy arrays",
                       description="Classify images of single digits. PNG/JPEG of any size, dark on light or light "
                                   "on dark, are prepared as MNIST was (grayscale, cropped, scaled to fit 20x20, "
                                   "centred by centre of mass in 28x28). .npy arrays must already be MNIST-like: "
                                   "28x28 or 784, uint8 0-255 or float 0-1, light on dark.")
    model_argument(p)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG or .npy files")
    p.add_argument("--top", type=positive_int, default=3, help="how many classes to list (default: %(default)s)")
    p.add_argument("--background", choices=("auto", "light", "dark"), default="auto",
                   help="light: dark ink on a light background (inverted); auto: judged from the border "
                        "(default: %(default)s)")
    p.add_argument("--show", action="store_true", help="also print the 28x28 image the network sees")
    p.set_defaults(run=run)
