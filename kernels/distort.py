"""Training-set distortions (Simard et al. 2003): affine and elastic resampling of image rows.

Coordinates: an image of shape (h, w) is stored as a row of length h*w; pixel p = r*w + c sits at
x = c (right) and y = r (down). Rotations, scalings and shears act about the centre
((w-1)/2, (h-1)/2).

The affine transform of image i is ``transforms[i] = (rotation in degrees, scale_x, scale_y, shear,
translate_x, translate_y)``. The forward map takes a point u of the input (relative to the centre)
to ``M @ u + t`` with ``M = Rot @ Shear @ Scale``, ``Rot = [[cos, sin], [-sin, cos]]`` (a positive
angle turns the picture counterclockwise as displayed, y pointing down), ``Shear = [[1, shear],
[0, 1]]`` and ``Scale = diag(scale_x, scale_y)``.

Random numbers come from a counter-based generator, so that image i's numbers depend only on
(key, i), never on batching or threads: 64-bit output m of image i is output number
``i * 2**32 + m`` of splitmix64 seeded with ``key``; each output gives two 24-bit uniforms
(high bits first), so uniform number j of image i comes from output j // 2. Uniform j is
``(2k + 1 - 2**24) / 2**24`` with k the 24-bit integer: symmetric in (-1, 1) and exact in float32.
Uniforms 0..5 drive the affine parameters; the x field uses uniforms 6 .. 6+h*w-1 (row-major)
and the y field the next h*w.

Output pixel p reads the input at ``M^-1 (p + alpha * d(p) - centre - t) + centre``: the elastic
displacement d (fields smoothed by a Gaussian, along y then along x) of the affinely distorted
image, composed into one bilinear sample. Samples outside the image read as 0 (zero padding,
interpolated across the border) and results are clipped to [0, 1].
"""
import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
S8 = np.uint64(8)
S27 = np.uint64(27)
S30 = np.uint64(30)
S31 = np.uint64(31)
S32 = np.uint64(32)
S40 = np.uint64(40)
ONE = np.uint64(1)
LOW24 = np.uint64(0xFFFFFF)
ODD_SHIFT = 16777215.0  # 2**24 - 1
TO_UNIT = 1.0 / 16777216.0  # 2**-24
FIELD_OFFSET = 6  # uniforms 0..5 of each image belong to its affine parameters


@njit(cache=True, nogil=True)
def mix64(z):
    """splitmix64's output function of one uint64 state."""
    z = (z ^ (z >> S30)) * MIX1
    z = (z ^ (z >> S27)) * MIX2
    return z ^ (z >> S31)


@njit(cache=True, nogil=True)
def fill_uniform(key, image, first, out):
    """out[k] = uniform number ``first + k`` of image ``image``, in (-1, 1) (see module doc)."""
    n = out.shape[0]
    j = first
    state = key + ((np.uint64(image) << S32) + np.uint64(j >> 1) + ONE) * GOLDEN
    k = 0
    if j & 1 and n > 0:
        z = mix64(state)
        out[0] = (2.0 * float(z >> S8 & LOW24) - ODD_SHIFT) * TO_UNIT
        state += GOLDEN
        k = 1
    while k + 1 < n:
        z = mix64(state)
        out[k] = (2.0 * float(z >> S40) - ODD_SHIFT) * TO_UNIT
        out[k + 1] = (2.0 * float(z >> S8 & LOW24) - ODD_SHIFT) * TO_UNIT
        state += GOLDEN
        k += 2
    if k < n:
        z = mix64(state)
        out[k] = (2.0 * float(z >> S40) - ODD_SHIFT) * TO_UNIT


@njit(cache=True, nogil=True)
def smooth_rows(src, gauss, rows, cols, dst):
    """Convolve a (rows, cols) array with the symmetric ``gauss`` along its rows axis.

    ``src`` holds the array (flat) framed by R = len(gauss) // 2 rows of zeros above and below,
    (rows + 2R, cols) in all, so zero padding needs no edge cases:
    ``dst[r] = g[0] * src[r] + sum_{t=1..R} g[t] * (src[r + t] + src[r - t])``, summed in that
    order (``gauss`` holds g[-R..R]). Each tap is one loop over all rows*cols values, which
    LLVM vectorizes; views instead of offset indices keep it free of wraparound checks.
    """
    radius = (gauss.shape[0] - 1) // 2
    n = rows * cols
    mid = src[radius * cols:radius * cols + n]
    g0 = gauss[radius]
    for k in range(n):
        dst[k] = g0 * mid[k]
    for t in range(1, radius + 1):
        g = gauss[radius + t]
        up = src[(radius + t) * cols:(radius + t) * cols + n]
        down = src[(radius - t) * cols:(radius - t) * cols + n]
        for k in range(n):
            dst[k] += g * (up[k] + down[k])


@njit(cache=True, nogil=True)
def elastic_fields(key, image, gauss, h, w, framed_y, tmp, framed_x, out):
    """Smoothed elastic fields of one image, before scaling by alpha.

    Scratch: ``framed_y`` of (h + 2R) * w and ``framed_x`` of (w + 2R) * h values whose frames
    (the first and last R rows) are zero and stay zero, ``tmp`` of h * w. On return ``out``
    (2 * h * w) is (2, w, h), transposed: ``out[0, c, r]`` is the x and ``out[1, c, r]`` the y
    displacement at pixel (r, c). The Gaussian runs first along y, then along x (after a
    transpose, so that both passes combine whole contiguous rows).
    """
    radius = (gauss.shape[0] - 1) // 2
    hw = h * w
    inner_y = framed_y[radius * w:radius * w + hw]
    inner_x = framed_x[radius * h:radius * h + hw]
    for f in range(2):  # the x field, then the y field
        fill_uniform(key, image, FIELD_OFFSET + f * hw, inner_y)
        smooth_rows(framed_y, gauss, h, w, tmp)
        for r in range(h):
            for c in range(w):
                inner_x[c * h + r] = tmp[r * w + c]
        smooth_rows(framed_x, gauss, w, h, out[f * hw:(f + 1) * hw])


@njit(cache=True, nogil=True)
def distort_images(X, transforms, key, alpha, gauss, h, w, out):
    """Write into ``out`` (n, h*w) the images of ``X`` (n, h*w) under affine ``transforms`` (n, 6)
    composed with, when ``alpha != 0``, the elastic fields of image i (see :func:`elastic_fields`)
    times ``alpha``. Scratch buffers are allocated once per call.
    """
    n = X.shape[0]
    hw = h * w
    wp = w + 2
    elastic = alpha != 0.0
    radius = (gauss.shape[0] - 1) // 2
    framed_y = np.zeros((h + 2 * radius) * w, dtype=X.dtype)
    framed_x = np.zeros((w + 2 * radius) * h, dtype=X.dtype)
    tmp = np.zeros(hw, dtype=X.dtype)
    field = np.zeros(2 * hw, dtype=X.dtype)  # stays 0 without elastic
    padded = np.zeros((h + 2) * wp)  # the image with a frame of zeros: no border cases
    cx = (w - 1) * 0.5
    cy = (h - 1) * 0.5
    for i in range(n):
        img = X[i]
        res = out[i]
        # copy into the frame and find the ink's bounding box: samples beyond it are 0
        r_lo = h
        r_hi = -1
        c_lo = w
        c_hi = -1
        for r in range(h):
            for c in range(w):
                v = img[r * w + c]
                padded[(r + 1) * wp + c + 1] = v
                if v != 0.0:
                    r_lo = min(r_lo, r)
                    r_hi = max(r_hi, r)
                    c_lo = min(c_lo, c)
                    c_hi = max(c_hi, c)
        x_lo = c_lo - 1.0
        x_hi = c_hi + 1.0
        y_lo = r_lo - 1.0
        y_hi = r_hi + 1.0

        theta = transforms[i, 0] * (np.pi / 180.0)
        cos = np.cos(theta)
        sin = np.sin(theta)
        sx = transforms[i, 1]
        sy = transforms[i, 2]
        shear = transforms[i, 3]
        tx = transforms[i, 4]
        ty = transforms[i, 5]
        m00 = cos * sx
        m01 = (cos * shear + sin) * sy
        m10 = -sin * sx
        m11 = (cos - sin * shear) * sy
        det = m00 * m11 - m01 * m10
        i00 = m11 / det
        i01 = -m01 / det
        i10 = -m10 / det
        i11 = m00 / det
        if elastic:
            elastic_fields(key, i, gauss, h, w, framed_y, tmp, framed_x, field)

        for r in range(h):
            for c in range(w):
                qx = (c - cx) - tx + alpha * field[c * h + r]
                qy = (r - cy) - ty + alpha * field[hw + c * h + r]
                x = i00 * qx + i01 * qy + cx
                y = i10 * qx + i11 * qy + cy
                v = 0.0
                if x > x_lo and x < x_hi and y > y_lo and y < y_hi:
                    xf = np.floor(x)
                    yf = np.floor(y)
                    ax = x - xf
                    ay = y - yf
                    q = int(yf) * wp + int(xf) + (wp + 1)
                    s = padded[q:q + wp + 2]
                    v = (1.0 - ay) * ((1.0 - ax) * s[0] + ax * s[1]) + ay * ((1.0 - ax) * s[wp] + ax * s[wp + 1])
                    v = min(max(v, 0.0), 1.0)
                res[r * w + c] = v
