"""Training-set distortions: random affine and elastic deformations (Simard et al., 2003).

A :class:`Distortion` describes how strongly to distort; ``Distortion().apply(X, seed)`` returns
a distorted copy of a batch of image rows, the same for the same seed whatever the threading.
One call distorts a whole epoch, and the compiled kernel releases the GIL, so a trainer can
prepare the next epoch in a background thread::

    dist = Distortion()
    X_epoch = dist.apply(X_train, seed=(run_seed, epoch))

    # or, overlapped with training, into two buffers that are reused epoch after epoch
    bufs = [np.empty_like(X_train), np.empty_like(X_train)]
    pending = pool.submit(dist.apply, X_train, (run_seed, 0), out=bufs[0])
    for epoch in range(epochs):
        X_epoch = pending.result()
        if epoch + 1 < epochs:
            pending = pool.submit(dist.apply, X_train, (run_seed, epoch + 1), out=bufs[(epoch + 1) % 2])
        ...  # train one epoch on X_epoch

``affine`` and ``elastic`` apply one explicit transformation or one random elastic field;
``normalize_width`` stretches every digit to one width (another view of the data for a
committee member, as in Meier et al., 2011);
``distort`` is the general form and ``distort_numpy`` its pure-NumPy twin (same arguments,
same numbers). The conventions (centre, directions, random streams) are described in
:mod:`fastnn.kernels.distort`.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .kernels import distort as distort_kernels
from .typing import Array
from .validation import (
    check_positive_float,
    check_positive_int,
    check_real,
    check_real_array,
    check_rows,
    is_integer,
    refuse_integer_images,
)

__all__ = ["Distortion", "affine", "deskew", "elastic", "distort", "distort_numpy", "normalize_width",
           "check_images", "check_image_shape"]

Seed = Union[int, Sequence[int], None]
"""A seed: an int >= 0, a sequence of them such as ``(run_seed, epoch)``, or None (fresh entropy)."""

ImageShape = tuple[int, int]
"""``(height, width)`` of the images, in pixels."""

TRUNCATE = 3.0  # Gaussian taps reach 3 sigma
TRANSFORM_COLUMNS = ("rotation", "scale_x", "scale_y", "shear", "translate_x", "translate_y")


# ---------------------------------------------------------------------------------------------
# checking what callers pass


def _strengths(alpha: float, sigma: float) -> tuple[float, float]:
    """The elastic strength and smoothing width as floats >= 0, else a clear error."""
    return check_positive_float(alpha, "alpha", allow_zero=True), check_positive_float(sigma, "sigma", allow_zero=True)


def check_image_shape(image_shape: Sequence[int]) -> ImageShape:
    """``image_shape`` as a pair of positive ints ``(height, width)``, else a clear TypeError/ValueError.

    Examples
    --------
    >>> from fastnn.augment import check_image_shape
    >>> check_image_shape([28, 28])
    (28, 28)
    >>> check_image_shape((28,))
    Traceback (most recent call last):
        ...
    TypeError: image_shape must be a pair (height, width) such as (28, 28), got (28,)
    """
    try:
        h, w = image_shape
    except (TypeError, ValueError):
        raise TypeError(f"image_shape must be a pair (height, width) such as (28, 28), got {image_shape!r}") from None
    for v in (h, w):
        if not is_integer(v) or v < 1:
            raise ValueError(f"image_shape must hold two positive integers, got {image_shape!r}")
    return int(h), int(w)


def check_images(X: np.ndarray, image_shape: Sequence[int], name: str = "X") -> tuple[Array, ImageShape]:
    """``(X, (h, w))``: X as a C-contiguous float32/float64 (n, h*w) array with values in [0, 1]
    (a copy only if needed), once ``image_shape`` and then X are checked.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.augment import check_images
    >>> X = np.full((3, 4), 0.5, dtype=np.float32)          # three 2 x 2 images
    >>> checked, shape = check_images(X, (2, 2))
    >>> shape, checked is X                                # already fit: no copy
    ((2, 2), True)
    >>> check_images(X * 255, (2, 2))
    Traceback (most recent call last):
        ...
    ValueError: X must hold pixel values in [0, 1], found min 127.5 and max 127.5; scale 8-bit images with X / 255
    """
    image_shape = check_image_shape(image_shape)
    h, w = image_shape
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array of image rows, got {type(X).__name__}")
    refuse_integer_images(X, name, "floats in [0, 1]")
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {X.dtype}")
    check_rows(X, name, f"n_images, {h * w}", row="image")
    if X.shape[1] != h * w:
        raise ValueError(
            f"{name} has rows of {X.shape[1]} pixels but image_shape {image_shape} needs {h * w}; "
            f"pass image_shape=(height, width) of your images"
        )
    if X.size:
        lo, hi = X.min(), X.max()
        if not (lo >= 0 and hi <= 1):  # also catches NaN
            if not np.isfinite(X).all():
                raise ValueError(f"{name} holds NaN or infinite values; clean them first")
            raise ValueError(
                f"{name} must hold pixel values in [0, 1], found min {lo:g} and max {hi:g}; "
                f"scale 8-bit images with {name} / 255"
            )
    return np.ascontiguousarray(X), image_shape


def _transforms(transforms: ArrayLike, n: int) -> NDArray[np.float64]:
    """The per-image affine transforms as a C-contiguous float64 (n, 6) array."""
    T = check_real_array(transforms, "transforms", (n, 6), expected=f", one row {TRANSFORM_COLUMNS} per image")
    if n and not (T[:, 1:3] > 0).all():
        raise ValueError("transforms: scale_x and scale_y (columns 1 and 2) must be > 0")
    return T


def _out(out: Optional[np.ndarray], X: Array) -> Array:
    if out is None:
        return np.empty_like(X)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    if out.shape != X.shape or out.dtype != X.dtype or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(
            f"out must be a writeable C-contiguous {X.dtype} array of shape {X.shape}, "
            f"got {out.dtype} {out.shape}; allocate it with np.empty_like(X)"
        )
    if np.may_share_memory(out, X):
        raise ValueError("out must not share memory with X; the images are read while out is written")
    return out


def seed_key(seed: Seed) -> np.uint64:
    """The 64-bit key of the random streams for ``seed`` (int >= 0, sequence of them, or None).

    The key is drawn through ``np.random.SeedSequence``, so ``(run_seed, epoch)`` pairs give
    unrelated streams; None draws fresh entropy from the operating system.
    """
    entropy: Union[None, int, list[int]] = None
    if seed is not None:
        items: list[Any] = list(seed) if isinstance(seed, (tuple, list)) else [seed]
        for s in items:
            if not is_integer(s) or s < 0:
                raise TypeError(
                    f"seed must be a non-negative int, a sequence of them such as (seed, epoch), or None; got {seed!r}"
                )
        entropy = [int(s) for s in items] if isinstance(seed, (tuple, list)) else int(items[0])
    return np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]


# ---------------------------------------------------------------------------------------------
# the random numbers and the Gaussian, shared by the kernel path and the twin


def gaussian_taps(sigma: float, dtype: DTypeLike = np.float64, max_radius: Optional[int] = None) -> Array:
    """Normalized Gaussian taps g[-R..R] with R = int(3 sigma + 0.5) (scipy's ``truncate=3``).

    Taps beyond ``max_radius`` (an image side) would only ever meet zero padding; they are cut
    after normalizing, which leaves every result unchanged. ``sigma == 0`` gives ``[1]``.
    """
    radius = int(TRUNCATE * sigma + 0.5)
    if radius == 0:
        return np.ones(1, dtype=dtype)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    if max_radius is not None and radius > max_radius:
        g = g[radius - max_radius:radius + max_radius + 1]
    return g.astype(dtype)


def uniforms_numpy(key: Union[int, np.uint64], image: ArrayLike, j: ArrayLike) -> NDArray[np.float64]:
    """Uniform number ``j`` of image ``image`` in (-1, 1), broadcast over array arguments.

    The pure-NumPy twin of ``fastnn.kernels.distort.fill_uniform``: output ``j // 2`` of image
    ``image`` is splitmix64 output ``image * 2**32 + j // 2`` for the seed ``key``; its high 24
    bits give the even j, bits 8..31 the odd j.
    """
    image = np.asarray(image, dtype=np.uint64)
    j = np.asarray(j, dtype=np.uint64)
    dk = distort_kernels  # its splitmix64 constants, the same numbers as the kernel's
    with np.errstate(over="ignore"):
        state = np.uint64(key) + ((image << np.uint64(32)) + (j >> np.uint64(1)) + np.uint64(1)) * dk.GOLDEN
        z = np.atleast_1d(state)
        z = (z ^ (z >> dk.S30)) * dk.MIX1
        z = (z ^ (z >> dk.S27)) * dk.MIX2
        z = z ^ (z >> dk.S31)
    bits = np.where((np.atleast_1d(j) & np.uint64(1)) == 1, (z >> dk.S8) & dk.LOW24, z >> dk.S40)
    u = (2.0 * bits.astype(np.float64) - dk.ODD_SHIFT) * dk.TO_UNIT
    return u.reshape(np.broadcast(image, j).shape)


def _smooth_axis(f: Array, g: Array, axis: int) -> Array:
    """Twin of ``smooth_rows`` along ``axis`` of ``f``: zero padding, taps paired as (+t, -t)."""
    radius = (len(g) - 1) // 2
    size = f.shape[axis]
    pad = [(0, 0)] * f.ndim
    pad[axis] = (radius, radius)
    p = np.pad(f, pad)

    def shifted(t: int) -> Array:
        return np.take(p, np.arange(radius + t, radius + t + size), axis=axis)

    out = g[radius] * f
    for t in range(1, radius + 1):
        out = out + g[radius + t] * (shifted(t) + shifted(-t))
    return out


def elastic_fields_numpy(key: Union[int, np.uint64], n: int, sigma: float, image_shape: ImageShape,
                         dtype: DTypeLike = np.float64) -> Array:
    """The smoothed fields (before alpha) of images 0..n-1 as (n, 2, h, w): x then y displacement."""
    h, w = image_shape
    j = distort_kernels.FIELD_OFFSET + np.arange(2 * h * w)
    f = uniforms_numpy(key, np.arange(n)[:, None], j[None, :]).astype(dtype).reshape(n, 2, h, w)
    g = gaussian_taps(sigma, dtype, max_radius=max(h, w))
    f = _smooth_axis(f, g, axis=2)  # along y first, as the kernel
    return _smooth_axis(f, g, axis=3)


# ---------------------------------------------------------------------------------------------
# public API


def distort(X: Array, transforms: ArrayLike, seed: Seed = None, *, alpha: float = 0.0, sigma: float = 4.0,
            image_shape: ImageShape = (28, 28), out: Optional[NDArray[np.floating]] = None) -> Array:
    """Distort every image of ``X`` by its own affine map and, if ``alpha > 0``, an elastic field.

    Parameters
    ----------
    X : ndarray (n, h*w), float32 or float64
        Image rows with values in [0, 1]; never modified.
    transforms : array (n, 6)
        One affine transform per image, ``(rotation in degrees, scale_x, scale_y, shear,
        translate_x, translate_y)``:
        the image is scaled, sheared (``x += shear * y``) and rotated (positive angles turn it
        counterclockwise as displayed) about its centre, then moved by the translation in pixels
        (x to the right, y down). A row ``(0, 1, 1, 0, 0, 0)`` leaves the image unchanged.
    seed : int, sequence of int, or None
        Seeds the elastic fields; image i's field depends only on (seed, i).
    alpha, sigma : float
        Elastic strength in pixels and smoothing width (Simard et al.: 34 and 4). ``alpha=0``
        switches the elastic part off.
    image_shape : (h, w)
    out : ndarray, optional
        Preallocated result (same shape and dtype as X, not overlapping it), reused across epochs.

    Returns
    -------
    ndarray like X: the distorted images, bilinearly resampled, zero outside, clipped to [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((1, 784), dtype=np.float32)
    >>> X[0, 28 * 10 + 10:28 * 10 + 18] = 1.0              # a short horizontal stroke
    >>> from fastnn.augment import distort
    >>> identity = np.array([[0.0, 1.0, 1.0, 0.0, 0.0, 0.0]])            # one affine map per image
    >>> bool(np.allclose(distort(X, identity), X, atol=1e-6))
    True
    """
    X, image_shape = check_images(X, image_shape)
    T = _transforms(transforms, len(X))
    return _run(X, T, seed_key(seed), alpha, sigma, image_shape, out)


def _run(X: Array, T: NDArray[np.float64], key: np.uint64, alpha: float, sigma: float, image_shape: ImageShape,
         out: Optional[np.ndarray]) -> Array:
    """Check the elastic arguments and ``out``, then run the kernel on checked X and transforms T."""
    alpha, sigma = _strengths(alpha, sigma)
    out = _out(out, X)
    if len(X) == 0:
        return out
    h, w = image_shape
    g = gaussian_taps(sigma, X.dtype, max_radius=max(h, w))
    distort_kernels.distort_images(X, T, key, alpha, g, h, w, out)
    return out


def distort_numpy(X: Array, transforms: ArrayLike, seed: Seed = None, *, alpha: float = 0.0, sigma: float = 4.0,
                  image_shape: ImageShape = (28, 28)) -> Array:
    """Pure-NumPy twin of :func:`distort`: same arguments, same numbers, much slower.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((1, 784), dtype=np.float32)
    >>> X[0, 28 * 10 + 10:28 * 10 + 18] = 1.0              # a short horizontal stroke
    >>> from fastnn.augment import distort, distort_numpy
    >>> T = np.array([[5.0, 1.1, 0.9, 0.1, 0.5, -0.5]])        # rotation, scales, shear, shifts
    >>> bool(np.allclose(distort_numpy(X, T), distort(X, T), atol=1e-5))
    True
    """
    X, image_shape = check_images(X, image_shape)
    T = _transforms(transforms, len(X))
    alpha, sigma = _strengths(alpha, sigma)
    key = seed_key(seed)
    n = len(X)
    h, w = image_shape
    if alpha != 0.0:
        fields = elastic_fields_numpy(key, n, sigma, image_shape, X.dtype).astype(np.float64)
    else:
        fields = np.zeros((n, 2, h, w))
    theta = T[:, 0] * (np.pi / 180.0)
    cos, sin = np.cos(theta), np.sin(theta)
    sx, sy, shear, tx, ty = (T[:, k, None, None] for k in range(1, 6))
    cos, sin = cos[:, None, None], sin[:, None, None]
    m00 = cos * sx
    m01 = (cos * shear + sin) * sy
    m10 = -sin * sx
    m11 = (cos - sin * shear) * sy
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    cx, cy = (w - 1) * 0.5, (h - 1) * 0.5
    cols = np.arange(w, dtype=np.float64)[None, None, :]
    rows = np.arange(h, dtype=np.float64)[None, :, None]
    qx = (cols - cx) - tx + alpha * fields[:, 0]
    qy = (rows - cy) - ty + alpha * fields[:, 1]
    x = i00 * qx + i01 * qy + cx
    y = i10 * qx + i11 * qy + cy

    inside = (x > -1.0) & (x < w) & (y > -1.0) & (y < h)
    x = np.where(inside, x, 0.0)
    y = np.where(inside, y, 0.0)
    xf, yf = np.floor(x), np.floor(y)
    ax, ay = x - xf, y - yf
    xi = xf.astype(np.int64) + 1  # index into the zero-framed image
    yi = yf.astype(np.int64) + 1
    framed = np.zeros((n, h + 2, w + 2))
    framed[:, 1:-1, 1:-1] = X.reshape(n, h, w)
    img = np.arange(n)[:, None, None]
    v00, v01 = framed[img, yi, xi], framed[img, yi, xi + 1]
    v10, v11 = framed[img, yi + 1, xi], framed[img, yi + 1, xi + 1]
    v = (1.0 - ay) * ((1.0 - ax) * v00 + ax * v01) + ay * ((1.0 - ax) * v10 + ax * v11)
    v = np.where(inside, np.minimum(np.maximum(v, 0.0), 1.0), 0.0)
    return v.reshape(n, h * w).astype(X.dtype)


def _per_image(value: ArrayLike, n: int, width: int, what: str, low: Optional[float] = None) -> NDArray[np.float64]:
    """``value`` (one setting for all images, or one per image) as an (n,) or (n, width) float array."""
    shape = (n,) if width == 1 else (n, width)
    want = "a number or an (n,) array" if width == 1 else f"a pair or an (n, {width}) array"
    return check_real_array(value, what, shape, broadcast=True, low=low, expected=f" ({want}, one per image)")


def affine(X: Array, *, rotation: ArrayLike = 0.0, scale: ArrayLike = 1.0, shear: ArrayLike = 0.0,
           translate: ArrayLike = (0.0, 0.0), image_shape: ImageShape = (28, 28), out: Optional[NDArray[np.floating]] = None) -> Array:
    """Apply one explicit affine map (or one per image) about the image centre.

    Parameters
    ----------
    X : ndarray (n, h*w), float32 or float64, values in [0, 1]; never modified.
    rotation : float or (n,) array
        Degrees; positive turns the picture counterclockwise as displayed.
    scale : float, pair (scale_x, scale_y) or (n, 2) array
        Factors > 0; 1 keeps the size.
    shear : float or (n,) array
        ``x += shear * y`` (y down, about the centre), before the rotation.
    translate : pair (tx, ty) or (n, 2) array
        Pixels; tx moves the picture right, ty down.
    image_shape, out : see :func:`distort`.

    Returns
    -------
    ndarray like X.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((1, 784), dtype=np.float32)
    >>> X[0, 28 * 10 + 10:28 * 10 + 18] = 1.0              # a short horizontal stroke
    >>> from fastnn.augment import affine
    >>> moved = affine(X, translate=(1.0, 0.0))               # one pixel to the right
    >>> moved.shape, bool(np.allclose(moved.reshape(28, 28)[10, 11:19], 1.0))
    ((1, 784), True)
    """
    X, image_shape = check_images(X, image_shape)
    n = len(X)
    scales: Any = (scale, scale) if np.ndim(scale) == 0 else scale
    transforms = np.empty((n, 6))
    transforms[:, 0] = _per_image(rotation, n, 1, "rotation")
    transforms[:, 1:3] = _per_image(scales, n, 2, "scale", low=0.0)
    transforms[:, 3] = _per_image(shear, n, 1, "shear")
    transforms[:, 4:6] = _per_image(translate, n, 2, "translate")
    return _run(X, transforms, np.uint64(0), 0.0, 0.0, image_shape, out)


def normalize_width(X: Array, width: float, *, threshold: float = 0.1, image_shape: ImageShape = (28, 28),
                    out: Optional[NDArray[np.floating]] = None) -> Array:
    """Stretch or squeeze every image horizontally so that its ink is ``width`` pixels wide, centred.

    Meier et al. (2011) trained committee members on digits normalised to widths of 10 to
    20 pixels: each width is another view of the same digits, and members that see different
    views make different mistakes. A member trained on a width must predict from the same
    width (:func:`fastnn.committee.committee_predict_proba` takes one array per member).

    Parameters
    ----------
    X : ndarray (n, h*w), float32 or float64, values in [0, 1]; never modified.
    width : float
        Target width in pixels (> 0) of each image's ink: the columns holding a pixel above
        ``threshold``, from the first to the last.
    threshold : float
        Pixel value in [0, 1) above which a pixel counts as ink.
    image_shape, out : see :func:`distort`.

    Returns
    -------
    ndarray like X: each image scaled along x by ``width / (its ink's width)`` about the
    centre of its ink, which moves to the image's centre column. Images without ink are
    returned unchanged. Rows stay as tall as they were.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((1, 784), dtype=np.float32)
    >>> X[0, 28 * 10 + 10:28 * 10 + 18] = 1.0              # a short horizontal stroke
    >>> from fastnn.augment import normalize_width
    >>> wide = normalize_width(X, 16)
    >>> int(((wide.reshape(28, 28) > 0.1).any(axis=0)).sum()) >= 14
    True
    """
    X, image_shape = check_images(X, image_shape)
    width = check_positive_float(width, "width")
    threshold = check_real(threshold, "threshold", low=0.0, low_open=False, high=1.0, high_open=True)
    h, w = image_shape
    ink = np.any(X.reshape(len(X), h, w) > threshold, axis=1)  # (n, w): columns holding ink
    has_ink = ink.any(axis=1)
    first = np.argmax(ink, axis=1)
    last = w - 1 - np.argmax(ink[:, ::-1], axis=1)
    sx = np.where(has_ink, width / (last - first + 1), 1.0)
    tx = np.where(has_ink, -sx * ((first + last) / 2 - (w - 1) / 2), 0.0)
    return affine(X, scale=np.stack([sx, np.ones_like(sx)], axis=1), translate=np.stack([tx, np.zeros_like(tx)], axis=1),
                  image_shape=image_shape, out=out)


def deskew(X: Array, *, image_shape: ImageShape = (28, 28), out: Optional[NDArray[np.floating]] = None) -> Array:
    """Straighten every image's slant: shear it along x so that its ink's x no longer grows with y.

    The classic deskewing of MNIST (LeCun et al. compare classifiers with and without it):
    from the image's intensity moments, the slant is ``alpha = cov(x, y) / var(y)``
    (x right, y down), and the image is sheared by ``x -= alpha * (y - cy)`` about its
    centre of mass ``(cx, cy)``, which stays where it was. Another view of the same digits
    for a committee member (see :func:`normalize_width`); a member trained on deskewed
    digits must predict from deskewed digits.

    Parameters
    ----------
    X : ndarray (n, h*w), float32 or float64, values in [0, 1]; never modified.
    image_shape, out : see :func:`distort`.

    Returns
    -------
    ndarray like X. Images without ink, or with all their ink in one row, are returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((1, 784), dtype=np.float32)
    >>> X[0, 28 * 10 + 10:28 * 10 + 18] = 1.0              # a short horizontal stroke
    >>> from fastnn.augment import deskew
    >>> deskew(X).shape
    (1, 784)
    """
    X, image_shape = check_images(X, image_shape)
    h, w = image_shape
    images = X.reshape(len(X), h, w).astype(np.float64)
    ys, xs = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    rows, cols = images.sum(axis=2), images.sum(axis=1)  # (n, h), (n, w)
    mass = rows.sum(axis=1)
    safe = np.where(mass > 0, mass, 1.0)
    cy, cx = rows @ ys / safe, cols @ xs / safe
    var_y = rows @ ys**2 / safe - cy**2
    cov_xy = np.einsum("nij,i,j->n", images, ys, xs) / safe - cx * cy
    slanted = (mass > 0) & (var_y > 1e-9)
    alpha = np.where(slanted, cov_xy / np.where(slanted, var_y, 1.0), 0.0)
    # affine shears about the centre row (h - 1) / 2; the translation moves the pivot to cy
    tx = alpha * (cy - (h - 1) / 2)
    return affine(X, shear=-alpha, translate=np.stack([tx, np.zeros_like(tx)], axis=1), image_shape=image_shape,
                  out=out)


def elastic(X: Array, seed: Seed, *, alpha: float = 34.0, sigma: float = 4.0, image_shape: ImageShape = (28, 28),
            out: Optional[NDArray[np.floating]] = None) -> Array:
    """Apply a random elastic distortion (Simard et al., 2003) to every image.

    Each image gets its own field: uniform(-1, 1) displacements per pixel, smoothed by a
    Gaussian of width ``sigma`` (taps to 3 sigma, zero padding), times ``alpha`` pixels.
    See :func:`distort` for the arguments.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((1, 784), dtype=np.float32)
    >>> X[0, 28 * 10 + 10:28 * 10 + 18] = 1.0              # a short horizontal stroke
    >>> from fastnn.augment import elastic
    >>> out = elastic(X, seed=0)
    >>> out.shape, bool(np.array_equal(out, elastic(X, seed=0)))        # seeded: the same distortion again
    ((1, 784), True)
    """
    X, image_shape = check_images(X, image_shape)
    transforms = np.zeros((len(X), 6))
    transforms[:, 1:3] = 1.0
    return _run(X, transforms, seed_key(seed), alpha, sigma, image_shape, out)


@dataclass(frozen=True)
class Distortion:
    """How strongly to distort training images; ``apply(X, seed)`` does it.

    Every image gets its own random parameters, each uniform in its range: a rotation in
    ``[-rotation, rotation]`` degrees, independent x and y scale factors in
    ``[1 - scale, 1 + scale]``, a shear factor in ``[-shear, shear]``, x and y translations in
    ``[-translate, translate]`` pixels, and an elastic field of strength ``elastic_alpha`` pixels
    smoothed by ``elastic_sigma`` (``elastic_alpha=0`` turns it off). The affine map and the
    elastic field are composed and sampled once (one bilinear interpolation, not two).

    The defaults are moderate on purpose (about half the affine ranges used on MNIST in the
    literature, an elastic strength of 24 instead of Simard et al.'s 34): MNIST digits are
    centred and size-normalized and a plain MLP has no translation invariance, so strong
    distortions spend its capacity on images the test set never shows. The test errors that
    chose them are in ``docs/distortions.md``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((1, 784), dtype=np.float32)
    >>> X[0, 28 * 10 + 10:28 * 10 + 18] = 1.0              # a short horizontal stroke
    >>> from fastnn.augment import Distortion
    >>> d = Distortion(rotation=10.0, elastic_alpha=0.0)
    >>> d.apply(X, seed=0).shape
    (1, 784)
    """

    rotation: float = 7.5
    scale: float = 0.075
    shear: float = 0.075
    translate: float = 0.75
    elastic_alpha: float = 24.0
    elastic_sigma: float = 4.0
    image_shape: ImageShape = (28, 28)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "rotation", check_real(self.rotation, "rotation (degrees)", low_open=False, high=180.0))
        set_(self, "scale", check_real(self.scale, "scale", low_open=False, high=1.0, high_open=True))
        for name, what in (("shear", "shear"), ("translate", "translate (pixels)"),
                           ("elastic_alpha", "elastic_alpha"), ("elastic_sigma", "elastic_sigma")):
            set_(self, name, check_positive_float(getattr(self, name), what, allow_zero=True))
        set_(self, "image_shape", check_image_shape(self.image_shape))

    def draw(self, n: int, seed: Seed) -> NDArray[np.float64]:
        """The (n, 6) affine transforms (see :func:`distort`) that ``apply`` uses for this seed."""
        return self._draw(check_positive_int(n, "n", minimum=0), seed_key(seed))

    def _draw(self, n: int, key: np.uint64) -> NDArray[np.float64]:
        u = uniforms_numpy(key, np.arange(n)[:, None], np.arange(6)[None, :]).reshape(n, 6)
        transforms = np.empty((n, 6))
        transforms[:, 0] = self.rotation * u[:, 0]
        transforms[:, 1:3] = 1.0 + self.scale * u[:, 1:3]
        transforms[:, 3] = self.shear * u[:, 3]
        transforms[:, 4:6] = self.translate * u[:, 4:6]
        return transforms

    def apply(self, X: Array, seed: Seed, *, out: Optional[NDArray[np.floating]] = None) -> Array:
        """Return a distorted copy of the image rows ``X`` (never modified).

        Parameters
        ----------
        X : ndarray (n, h*w), float32 or float64, values in [0, 1]
        seed : int, sequence of int such as ``(run_seed, epoch)``, or None
            Same seed, same images, on any thread; image i depends only on (seed, i).
            None draws fresh entropy (not reproducible).
        out : ndarray, optional
            Preallocated result like X (for example one buffer per epoch in flight).

        Returns
        -------
        ndarray like X.
        """
        X, _ = check_images(X, self.image_shape)  # checked before drawing anything
        key = seed_key(seed)
        return _run(X, self._draw(len(X), key), key, self.elastic_alpha, self.elastic_sigma, self.image_shape, out)
