"""Write tests/data/strokes.json: pen strokes of MNIST test digits, for the browser test of `fastnn serve`.

Each digit is enlarged 4x, thresholded, thinned to a one-pixel skeleton (Zhang and Suen's
algorithm), and the skeleton is walked into polylines, starting from its end points; the points
are scaled to the page's 280 x 280 drawing pad. The digits are the first ``PER_CLASS`` of each
class in the MNIST test set, in order (none is picked for being easy).

Run from the repository root: ``FASTNN_DATA=../shared/mnist python tests/data/make_strokes.py``.
"""
import json
import pathlib

import numpy as np
from PIL import Image

PER_CLASS = 2
SCALE = 4          # 28 -> 112 pixels before thinning
PAD = 280          # side of the page's drawing pad, in CSS pixels
STEP = 6           # keep every STEP-th skeleton point of a stroke (and its last): 15 pad pixels apart
MIN_POINTS = 4     # skeleton spurs shorter than this many pixels are dropped

NEIGHBOURS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]  # P2..P9, clockwise


def thin(mask):
    """Zhang-Suen thinning of a boolean image (True = ink) down to a one-pixel-wide skeleton."""
    img = np.pad(mask.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for first in (True, False):
            p = [np.roll(np.roll(img, -dr, 0), -dc, 1) for dr, dc in NEIGHBOURS]
            b = sum(p)
            a = sum((p[k] == 0) & (p[(k + 1) % 8] == 1) for k in range(8))
            if first:
                c1, c2 = p[0] * p[2] * p[4], p[2] * p[4] * p[6]
            else:
                c1, c2 = p[0] * p[2] * p[6], p[0] * p[4] * p[6]
            remove = (img == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c1 == 0) & (c2 == 0)
            if remove.any():
                img[remove] = 0
                changed = True
    return img[1:-1, 1:-1].astype(bool)


def trace(skeleton):
    """The skeleton's pixels as polylines [(row, col), ...], each pixel used once; end points first."""
    pixels = {tuple(p) for p in np.argwhere(skeleton)}

    def neighbours(p):
        return [(p[0] + dr, p[1] + dc) for dr, dc in NEIGHBOURS if (p[0] + dr, p[1] + dc) in pixels]

    strokes = []
    while pixels:
        ends = sorted(p for p in pixels if len(neighbours(p)) <= 1)
        start = ends[0] if ends else min(pixels)
        stroke = [start]
        pixels.remove(start)
        while True:
            options = neighbours(stroke[-1])
            if not options:
                break
            # go straight on where possible: the 4-neighbours first, then the diagonals
            options.sort(key=lambda q: abs(q[0] - stroke[-1][0]) + abs(q[1] - stroke[-1][1]))
            stroke.append(options[0])
            pixels.remove(options[0])
        if len(stroke) >= MIN_POINTS:
            strokes.append(stroke)
    return strokes


def strokes_of(image):
    """Pen strokes on the 280 x 280 pad for one 28 x 28 MNIST image (floats in [0, 1])."""
    big = Image.fromarray((image * 255).astype(np.uint8)).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BILINEAR)
    skeleton = thin(np.asarray(big) >= 128)
    factor = PAD / (28 * SCALE)
    out = []
    for stroke in trace(skeleton):
        kept = stroke[::STEP] + ([stroke[-1]] if (len(stroke) - 1) % STEP else [])
        out.append([[round(c * factor, 1), round(r * factor, 1)] for r, c in kept])  # (x, y) on the pad
    return out


def main():
    from fastnn.datasets import load_mnist

    _, (X_test, y_test) = load_mnist()
    digits = []
    for label in range(10):
        for index in np.flatnonzero(y_test == label)[:PER_CLASS]:
            digits.append({"label": int(label), "mnist_test_index": int(index),
                           "strokes": strokes_of(X_test[index].reshape(28, 28))})
    path = pathlib.Path(__file__).with_name("strokes.json")
    path.write_text(json.dumps({"pad": PAD, "source": "MNIST test set, first digits of each class, skeletons",
                                "digits": digits}, separators=(",", ":")) + "\n")
    print(f"wrote {path}: {len(digits)} digits, {sum(len(d['strokes']) for d in digits)} strokes")


if __name__ == "__main__":
    main()
