"""Read user images of digits and prepare them the way MNIST's digits were prepared.

MNIST (LeCun et al.) took black-and-white digits, scaled each one to fit a 20 x 20 box
keeping its aspect ratio (anti-aliasing made grey levels), and placed it in a 28 x 28
field so that its centre of mass lies at the field's centre. Measured on the training
set, that centre is at row 14.0, column 14.0 (0-based pixel indices). Digits are light
ink (1) on a dark background (0).

:func:`preprocess_digit` repeats those steps for a grayscale image of any size:

1. invert when the background is light (dark ink on paper), judged from the median of
   the border pixels;
2. stretch the levels so the background is 0 and the darkest ink is 1 (photos of paper
   are grey, not white);
3. crop to the ink;
4. resize so the longer side is 20 pixels, keeping the aspect ratio (Pillow, Lanczos,
   which is anti-aliased when shrinking);
5. place it in a 28 x 28 field with its centre of mass at (14, 14). The shift is a whole
   number of pixels (so the centre lands within half a pixel of the target), and is
   limited so that no ink leaves the field.

Pillow (the ``cli`` extra) is needed to read PNG/JPEG files and to resize; ``.npy``
arrays that are already 28 x 28 need only NumPy.
"""
import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .typing import PathLike

SIZE = 28
"""Side of an MNIST image, in pixels."""

BOX = 20
"""Side of the box the digit is scaled to fit, in pixels."""

CENTER = (14.0, 14.0)
"""Where MNIST puts a digit's centre of mass: (row, column), 0-based pixel indices."""

INK_THRESHOLD = 0.2
"""After the levels are stretched to [0, 1], pixels at or above this count as ink for the crop."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

__all__ = ["SIZE", "BOX", "CENTER", "require_pillow", "load_digit", "read_grayscale", "preprocess_digit", "mnist_array",
           "has_light_background", "center_of_mass"]


def require_pillow() -> tuple[Any, Any]:
    """Pillow's ``(Image, ImageOps)`` modules, or an ImportError that says how to install them.

    Examples
    --------
    >>> from fastnn.images import require_pillow
    >>> Image, ImageOps = require_pillow()     # with the cli extra installed
    >>> ImageOps.invert(Image.new("L", (28, 28), 255)).getextrema()
    (0, 0)
    """
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError("reading images needs Pillow: python -m pip install -e '.[cli]' "
                          "in the fastnn source folder (or pip install pillow)") from None
    return Image, ImageOps


def load_digit(path: PathLike, *, background: str = "auto") -> NDArray[np.float32]:
    """A digit image file as one MNIST-style input: (28, 28) float32 in [0, 1].

    Parameters
    ----------
    path : str or os.PathLike
        A PNG or JPEG file of any size (preprocessed by :func:`preprocess_digit`), or a
        ``.npy`` array already in MNIST form (see :func:`mnist_array`).
    background : {'auto', 'light', 'dark'}
        For PNG/JPEG: 'light' for dark ink on a light background (it is inverted),
        'dark' for light ink on a dark one, 'auto' to decide from the border pixels.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file cannot be read as an image or array, or holds no ink.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from PIL import Image
    >>> from fastnn.images import load_digit
    >>> page = np.full((60, 40), 255, dtype=np.uint8)
    >>> page[10:50, 15:22] = 0                            # dark ink on light paper
    >>> path = os.path.join(tempfile.mkdtemp(), "one.png")
    >>> Image.fromarray(page).save(path)
    >>> load_digit(path).shape
    (28, 28)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no image file at {path!r}" if not os.path.exists(path) else f"{path!r} is not a file")
    if path.lower().endswith(".npy"):
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise ValueError(f"{path!r} is not a readable .npy array: {e}") from None
        try:
            return mnist_array(array)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path!r}: {e}") from None
    gray = read_grayscale(path)
    try:
        return preprocess_digit(gray, background=background)
    except ValueError as e:
        raise ValueError(f"{path!r}: {e}") from None


def mnist_array(array: ArrayLike) -> NDArray[np.float32]:
    """Check an array that is already an MNIST image and return it as (28, 28) float32 in [0, 1].

    Accepts shape (28, 28) or (784,); integers 0..255 (divided by 255) or floats in [0, 1].
    The array is used as it is: light ink on a dark background, already centred.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.images import mnist_array
    >>> mnist_array(np.full(784, 255, dtype=np.uint8)).shape
    (28, 28)
    """
    a = np.asarray(array)
    if a.shape not in ((SIZE, SIZE), (SIZE * SIZE,)):
        raise ValueError(f"an MNIST array must have shape (28, 28) or (784,), got {a.shape}")
    return _unit_pixels(a, np.float32).reshape(SIZE, SIZE)


def _unit_pixels(a: np.ndarray, dtype: type[np.floating]) -> NDArray[np.floating]:
    """Non-empty pixels ``a`` as floats of ``dtype`` in [0, 1]: integers 0..255 divided by 255,
    floats in [0, 1] as they are; anything else is refused before any conversion."""
    if a.dtype.kind in "iu":
        if a.min() < 0 or a.max() > 255:
            raise ValueError(f"integer pixels must lie in 0..255, got {a.min()}..{a.max()}")
        return a.astype(dtype) / dtype(255)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
            raise ValueError(f"float pixels must be finite and lie in [0, 1], got {a.min()}..{a.max()} "
                             "(divide 0..255 pixels by 255)")
        return a.astype(dtype)
    raise TypeError(f"pixels must be integers 0..255 or floats in [0, 1], got dtype {a.dtype}")


def _border(image: np.ndarray) -> np.ndarray:
    """The edge pixels of a 2-D ``image``: its top and bottom rows, then the left and right columns between them."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def read_grayscale(path: PathLike) -> NDArray[np.float64]:
    """An image file as a 2-D float64 array in [0, 1] (0 black, 1 white).

    Follows the EXIF orientation (photos from phones). A transparent background is
    filled with whichever of black or white contrasts with the opaque pixels, so a
    digit drawn on a transparent canvas keeps its contrast.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from PIL import Image
    >>> from fastnn.images import read_grayscale
    >>> path = os.path.join(tempfile.mkdtemp(), "white.png")
    >>> Image.new("L", (8, 6), color=255).save(path)
    >>> gray = read_grayscale(path)
    >>> gray.shape, float(gray.min())
    ((6, 8), 1.0)
    """
    Image, ImageOps = require_pillow()
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        # UnidentifiedImageError is an OSError
        raise ValueError(f"{os.fspath(path)!r} is not a readable image: {e}") from None
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im, dtype=np.float64) / 65535.0
    if im.mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 1.0 if im.mode == "F" and a.max() <= 1 else 255.0 if a.max() <= 255 else 65535.0
        return np.clip(a / top, 0.0, 1.0)
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma, as Pillow's "L"
        alpha = rgba[..., 3]
        if alpha.min() < 1.0:
            opaque = alpha > 0.5
            ink_is_dark = opaque.any() and np.median(gray[opaque]) < 0.5
            backdrop = 1.0 if ink_is_dark else 0.0
            gray = alpha * gray + (1.0 - alpha) * backdrop
        return gray
    return np.asarray(im.convert("L"), dtype=np.float64) / 255.0


def has_light_background(gray: ArrayLike) -> bool:
    """True when the median of the border pixels of ``gray`` (values in [0, 1]) is above 0.5.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.images import has_light_background
    >>> has_light_background(np.ones((10, 10))), has_light_background(np.zeros((10, 10)))
    (True, False)
    """
    gray = np.asarray(gray)
    return bool(np.median(_border(gray)) > 0.5)


def center_of_mass(image: ArrayLike) -> tuple[float, float]:
    """``(row, column)`` of the intensity-weighted centre of a 2-D image (0-based pixel indices).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.images import center_of_mass
    >>> image = np.zeros((5, 5)); image[1, 3] = 1.0
    >>> [float(c) for c in center_of_mass(image)]
    [1.0, 3.0]
    """
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    if total <= 0:
        raise ValueError("the image is blank: no ink to centre")
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def preprocess_digit(gray: ArrayLike, *, background: str = "auto") -> NDArray[np.float32]:
    """Turn a grayscale image of one digit into an MNIST-style (28, 28) float32 image in [0, 1].

    Parameters
    ----------
    gray : array_like (height, width)
        Floats in [0, 1] or integers 0..255; 0 is black. Any size. Not modified.
    background : {'auto', 'light', 'dark'}
        'light': dark ink on a light background (inverted); 'dark': light ink on a dark
        background; 'auto': decided by :func:`has_light_background`.

    Returns
    -------
    ndarray (28, 28) float32
        Light ink (up to 1) on 0, the digit scaled to fit 20 x 20 with its aspect kept, its
        centre of mass at (14, 14) to within half a pixel (less where the digit's box would
        leave the field).

    Raises
    ------
    ValueError
        If the image is not 2-D, has values out of range, or holds no ink.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.images import preprocess_digit
    >>> page = np.ones((100, 60))                        # white paper
    >>> page[20:80, 25:35] = 0.0                         # a dark vertical stroke: a "1"
    >>> image = preprocess_digit(page)
    >>> image.shape, image.dtype, float(image.max())
    ((28, 28), dtype('float32'), 1.0)
    """
    Image, _ = require_pillow()
    if background not in ("auto", "light", "dark"):
        raise ValueError(f"background must be 'auto', 'light' or 'dark', got {background!r}")
    g = np.asarray(gray)
    if g.ndim != 2 or min(g.shape) < 1:
        raise ValueError(f"expected a 2-D grayscale image, got shape {g.shape}")
    g = _unit_pixels(g, np.float64)

    light = has_light_background(g) if background == "auto" else background == "light"
    ink = 1.0 - g if light else g
    ink = _stretch_levels(ink)
    rows = np.flatnonzero((ink >= INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink >= INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise ValueError("the image holds no ink (it is one flat colour)")
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    h, w = digit.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = Image.fromarray(digit.astype(np.float32)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    if small.max() <= 0:
        raise ValueError("the image holds no ink after resizing")
    small /= small.max()  # MNIST digits reach full intensity; thin strokes fade when shrunk

    cy, cx = center_of_mass(small)
    top = int(np.clip(np.rint(CENTER[0] - cy), 0, SIZE - new_h))
    left = int(np.clip(np.rint(CENTER[1] - cx), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = small
    return out


def _stretch_levels(ink: NDArray[np.floating]) -> NDArray[np.floating]:
    """Map the background level (median of the border) to 0 and the strongest ink to 1, clipped."""
    low = float(np.median(_border(ink)))
    high = float(ink.max())
    if high - low < 1e-6:
        raise ValueError("the image holds no ink (it is one flat colour)")
    return np.clip((ink - low) / (high - low), 0.0, 1.0)
