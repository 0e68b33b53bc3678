"""Tests for fastnn.augment and its kernels (fastnn.kernels.distort).

scipy.ndimage is the independent reference for the resampling. Its mode 'grid-constant'
is the one that matches zero padding interpolated across the border; mode 'constant' returns
cval for any sample beyond the outermost pixel centres without interpolating, which differs
only on images with ink in the border pixels (as the random test images here have).
"""
import concurrent.futures
import dataclasses

import numpy as np
import pytest

from fastnn import augment
from fastnn.augment import Distortion, affine, deskew, distort, distort_numpy, elastic, normalize_width
from fastnn.kernels import distort as kd

try:  # test-only reference; the library itself needs only NumPy and Numba
    import scipy.ndimage as ndi
except ImportError:  # pragma: no cover
    ndi = None
needs_scipy = pytest.mark.skipif(ndi is None, reason="scipy is the reference here; pip install scipy")

SHAPE = (28, 28)
IDENTITY = (0.0, 1.0, 1.0, 0.0, 0.0, 0.0)


def random_images(n, rng, shape=SHAPE, dtype=np.float64):
    """Images with ink everywhere, border pixels included, and some exact 0s and 1s."""
    X = rng.uniform(-0.3, 1.3, size=(n, shape[0] * shape[1]))
    return np.clip(X, 0, 1).astype(dtype)


def synthetic_digits(n, rng, dtype=np.float32):
    """Digit-like images: two or three thick anti-aliased strokes in the central 20x20 box."""
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    X = np.zeros((n, 28, 28))
    for i in range(n):
        for _ in range(rng.integers(2, 4)):
            a, b = rng.uniform(5, 22, size=2), rng.uniform(5, 22, size=2)
            ab = b - a
            t = np.clip(((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / (ab @ ab + 1e-12), 0, 1)
            dist = np.hypot(xx - a[0] - t * ab[0], yy - a[1] - t * ab[1])
            X[i] = np.maximum(X[i], np.clip(1.8 - dist, 0, 1))
    return X.reshape(n, 784).astype(dtype)


def rc_affine_reference(img, transform, shape=SHAPE):
    """scipy.ndimage.affine_transform of one (h, w) image under one transform row.

    Built from the documented forward map in (x right, y down) coordinates:
    p_out = R(theta) Sh(shear) S(sx, sy) (p_in - c) + c + t, with R = [[cos, sin], [-sin, cos]].
    affine_transform wants the inverse map in (row, col) order.
    """
    deg, sx, sy, shear, tx, ty = transform
    th = np.deg2rad(deg)
    R = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
    Sh = np.array([[1.0, shear], [0.0, 1.0]])
    S = np.diag([sx, sy])
    inv_xy = np.linalg.inv(R @ Sh @ S)
    swap = np.array([[0, 1], [1, 0]])  # (x, y) <-> (row, col)
    inv_rc = swap @ inv_xy @ swap
    h, w = shape
    c_rc = np.array([(h - 1) / 2, (w - 1) / 2])
    t_rc = np.array([ty, tx])
    offset = c_rc - inv_rc @ (c_rc + t_rc)
    return ndi.affine_transform(img, inv_rc, offset=offset, order=1, mode="grid-constant")


def reference_fields(seed, n, sigma, shape=SHAPE):
    """Raw uniforms from the twin generator, smoothed by scipy's gaussian_filter: (n, 2, h, w)."""
    h, w = shape
    key = augment.seed_key(seed)
    j = kd.FIELD_OFFSET + np.arange(2 * h * w)
    raw = augment.uniforms_numpy(key, np.arange(n)[:, None], j[None, :]).reshape(n, 2, h, w)
    return np.stack([
        np.stack([ndi.gaussian_filter(raw[i, k], sigma, mode="constant", truncate=3.0) for k in range(2)])
        for i in range(n)
    ])


def splitmix64(seed, count):
    """Reference splitmix64 stream in Python integers."""
    mask = (1 << 64) - 1
    out, state = [], seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


# --- random numbers --------------------------------------------------------------------------


def test_splitmix64_reference_matches_published_values():
    assert splitmix64(1234567, 3) == [6457827717110365317, 3203168211198807973, 9817491932198370423]


@pytest.mark.parametrize("key, image", [(1234567, 0), (2**64 - 5, 3), (42, 2**20 + 1)])
def test_uniforms_are_halves_of_splitmix64_outputs(key, image):
    # image i, output m is output number i * 2**32 + m of splitmix64 seeded with key
    start = (key + (image << 32) * 0x9E3779B97F4A7C15) % 2**64
    expected = []
    for z in splitmix64(start, 5):
        for k in (z >> 40, (z >> 8) & 0xFFFFFF):
            expected.append((2 * k + 1 - 2**24) / 2**24)
    got = augment.uniforms_numpy(np.uint64(key), image, np.arange(10))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("first, count", [(0, 10), (6, 784), (7, 5), (13, 1), (1, 2), (4, 0)])
def test_kernel_uniforms_match_twin(first, count):
    key = augment.seed_key(9)
    out = np.full(count, np.nan)
    kd.fill_uniform(key, 5, first, out)
    np.testing.assert_array_equal(out, augment.uniforms_numpy(key, 5, np.arange(first, first + count)))


def test_uniforms_look_uniform_and_images_independent():
    key = augment.seed_key(0)
    u = augment.uniforms_numpy(key, np.arange(200)[:, None], np.arange(1000)[None, :])
    assert -1 < u.min() and u.max() < 1
    assert abs(u.mean()) < 0.01
    assert abs(u.var() - 1 / 3) < 0.01
    corr = np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]
    assert abs(corr) < 0.01
    assert abs(np.corrcoef(u[0], u[1])[0, 1]) < 0.1
    # 24-bit uniforms: repeats only as often as birthday collisions among 2**24 values
    n, N = u.size, 2.0**24
    expected_repeats = n - N * (1 - (1 - 1 / N) ** n)
    assert abs((n - len(np.unique(u))) / expected_repeats - 1) < 0.15


# --- Gaussian smoothing ----------------------------------------------------------------------


@needs_scipy
@pytest.mark.parametrize("sigma, shape", [(4.0, (28, 28)), (1.5, (9, 13)), (12.0, (10, 6)), (0.0, (5, 5))])
def test_elastic_fields_match_scipy_gaussian_filter(sigma, shape):
    key = augment.seed_key(3)
    twin = augment.elastic_fields_numpy(key, 2, sigma, shape)
    ref = reference_fields(3, 2, sigma, shape) if sigma else None
    if sigma == 0:  # no smoothing: the raw uniforms
        h, w = shape
        ref = augment.uniforms_numpy(key, np.arange(2)[:, None], kd.FIELD_OFFSET + np.arange(2 * h * w)[None, :])
        ref = ref.reshape(2, 2, h, w)
    np.testing.assert_allclose(twin, ref, rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_elastic_fields_match_twin(dtype):
    h, w = 28, 28
    key = augment.seed_key(11)
    g = augment.gaussian_taps(4.0, dtype, max_radius=28)
    R = (len(g) - 1) // 2
    framed_y, framed_x = np.zeros((h + 2 * R) * w, dtype), np.zeros((w + 2 * R) * h, dtype)
    tmp, out = np.zeros(h * w, dtype), np.zeros(2 * h * w, dtype)
    twin = augment.elastic_fields_numpy(key, 4, 4.0, (h, w), dtype)
    for i in range(4):
        kd.elastic_fields(key, i, g, h, w, framed_y, tmp, framed_x, out)
        F = out.reshape(2, w, h)
        np.testing.assert_array_equal(F[0].T, twin[i, 0])
        np.testing.assert_array_equal(F[1].T, twin[i, 1])


@needs_scipy
def test_gaussian_taps_are_scipys():
    g = augment.gaussian_taps(4.0)
    assert len(g) == 25
    impulse = np.zeros(61)
    impulse[30] = 1
    np.testing.assert_allclose(g, ndi.gaussian_filter1d(impulse, 4.0, truncate=3.0)[18:43], atol=1e-16)


# --- identity and known transformations ------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identity_parameters_return_the_image(dtype, rng):
    X = random_images(20, rng, dtype=dtype)
    np.testing.assert_array_equal(affine(X), X)
    np.testing.assert_array_equal(elastic(X, 1, alpha=0.0), X)
    np.testing.assert_array_equal(distort(X, np.tile(IDENTITY, (20, 1)), 5), X)
    still = Distortion(rotation=0, scale=0, shear=0, translate=0, elastic_alpha=0)
    np.testing.assert_array_equal(still.apply(X, 7), X)
    assert affine(X).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotation_by_90_degrees_is_rot90(dtype, rng):
    X = random_images(5, rng, dtype=dtype)
    images = X.reshape(-1, 28, 28)
    np.testing.assert_allclose(affine(X, rotation=90).reshape(-1, 28, 28), np.rot90(images, 1, axes=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(affine(X, rotation=-90).reshape(-1, 28, 28), np.rot90(images, -1, axes=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(affine(X, rotation=180).reshape(-1, 28, 28), images[:, ::-1, ::-1], atol=1e-6)


@needs_scipy
@pytest.mark.parametrize("angle", [23.0, -37.5, 7.25, 135.0])
def test_rotation_matches_scipy_rotate(angle, rng):
    X = random_images(3, rng)
    got = affine(X, rotation=angle).reshape(-1, 28, 28)
    for img, out in zip(X.reshape(-1, 28, 28), got):
        ref = ndi.rotate(img, angle, reshape=False, order=1, mode="grid-constant")
        np.testing.assert_allclose(out, ref, atol=1e-12)


def test_integer_translation_is_a_zero_filled_shift(rng):
    X = random_images(4, rng)
    got = affine(X, translate=(3, -2)).reshape(-1, 28, 28)
    ref = np.zeros((4, 28, 28))
    ref[:, :-2, 3:] = X.reshape(-1, 28, 28)[:, 2:, :-3]  # right by 3, up by 2
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_half_pixel_translation_averages_neighbours(rng):
    X = random_images(2, rng)
    img = X.reshape(-1, 28, 28)
    got = affine(X, translate=(0.5, 0.0)).reshape(-1, 28, 28)
    left = np.concatenate([np.zeros((2, 28, 1)), img[:, :, :-1]], axis=2)
    np.testing.assert_allclose(got, 0.5 * (img + left), atol=1e-12)


@needs_scipy
@pytest.mark.parametrize("shift", [(0.5, -1.25), (-3.7, 2.2), (0.0, 0.3)])
def test_fractional_translation_matches_scipy_shift(shift, rng):
    X = random_images(2, rng)
    got = affine(X, translate=shift).reshape(-1, 28, 28)
    for img, out in zip(X.reshape(-1, 28, 28), got):
        np.testing.assert_allclose(out, ndi.shift(img, (shift[1], shift[0]), order=1, mode="grid-constant"), atol=1e-12)


@needs_scipy
@pytest.mark.parametrize("transform", [
    (0.0, 1.2, 0.8, 0.0, 0.0, 0.0),
    (0.0, 1.0, 1.0, 0.3, 0.0, 0.0),
    (12.0, 0.9, 1.1, -0.15, 1.5, -0.5),
    (-170.0, 1.3, 1.3, 0.05, -2.0, 3.0),
])
def test_scale_shear_rotation_translation_match_scipy_affine_transform(transform, rng):
    X = random_images(3, rng)
    got = distort(X, np.tile(transform, (3, 1))).reshape(-1, 28, 28)
    for img, out in zip(X.reshape(-1, 28, 28), got):
        np.testing.assert_allclose(out, rc_affine_reference(img, transform), atol=1e-12)


@needs_scipy
def test_per_image_parameters_in_affine(rng):
    X = random_images(3, rng)
    got = affine(X, rotation=[0.0, 90.0, 10.0], scale=[[1, 1], [1, 1], [1.1, 0.9]], translate=[[0, 0], [0, 0], [1, 2]])
    np.testing.assert_allclose(got[0], X[0], atol=1e-12)
    np.testing.assert_allclose(got[1].reshape(28, 28), np.rot90(X[1].reshape(28, 28)), atol=1e-12)
    ref = rc_affine_reference(X[2].reshape(28, 28), (10.0, 1.1, 0.9, 0.0, 1.0, 2.0))
    np.testing.assert_allclose(got[2].reshape(28, 28), ref, atol=1e-12)


def _ink_columns(image, level=0.5):
    cols = np.flatnonzero((image.reshape(28, 28) >= level).any(axis=0))
    return cols[0], cols[-1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_width_stretches_and_squeezes_the_ink_to_the_width_centred(dtype):
    X = np.zeros((3, 28, 28), dtype)
    X[0, 6:22, 10:14] = 1.0  # a bar 4 columns wide, left of centre: stretched x3
    X[1, 3:25, 4:24] = 1.0  # 20 columns wide: squeezed to half
    X = X.reshape(3, 784)
    before = X.copy()
    got = normalize_width(X, 12)
    assert got.dtype == dtype and got.shape == X.shape
    np.testing.assert_array_equal(X, before)  # the caller's images are untouched
    # bilinear resampling: the bar's edges at half height fall on the scaled edges exactly
    assert _ink_columns(got[0]) == (8, 19)  # 12 columns, centred on column 13.5
    rows = np.flatnonzero((got[0].reshape(28, 28) > 0).any(axis=1))
    assert (rows[0], rows[-1]) == (6, 21)  # the height is kept
    assert _ink_columns(normalize_width(X, 10)[1]) == (9, 18)
    np.testing.assert_array_equal(got[2], 0.0)  # no ink: unchanged


def test_normalize_width_refuses_bad_arguments():
    X = np.zeros((2, 784), np.float32)
    with pytest.raises(ValueError, match="width"):
        normalize_width(X, 0)
    with pytest.raises(TypeError, match="width"):
        normalize_width(X, "16")
    with pytest.raises(ValueError, match="threshold"):
        normalize_width(X, 16, threshold=1.0)
    with pytest.raises(ValueError, match="pixel values in \\[0, 1\\]"):
        normalize_width(X + 2, 16)
    with pytest.raises(ValueError, match="image_shape"):
        normalize_width(X, 16, image_shape=(20, 20))


def _slant_and_centre(image):
    """(cov(x, y) / var(y), cx, cy) of one 28x28 image's intensity, x right and y down."""
    img = image.reshape(28, 28).astype(np.float64)
    ys, xs = np.mgrid[:28, :28]
    m = img.sum()
    cx, cy = (img * xs).sum() / m, (img * ys).sum() / m
    return (img * (xs - cx) * (ys - cy)).sum() / (img * (ys - cy) ** 2).sum(), cx, cy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_deskew_straightens_the_slant_about_the_centre_of_mass(dtype):
    X = np.zeros((4, 28, 28), dtype)
    for y in range(5, 23):  # bars leaning by +0.5, -0.3 px per row, off centre; an upright one
        for n, (slope, x0) in enumerate(((0.5, 11.0), (-0.3, 16.0), (0.0, 13.0))):
            x = x0 + slope * (y - 14)
            X[n, y, int(x)] += 1 - (x - int(x))
            X[n, y, int(x) + 1] += x - int(x)
    X = X.reshape(4, 784)
    before = X.copy()
    got = deskew(X)
    assert got.dtype == dtype and got.shape == X.shape
    np.testing.assert_array_equal(X, before)  # the caller's images are untouched
    for n in range(3):
        slant, cx, cy = _slant_and_centre(X[n])
        assert abs(slant) > 0.25 or n == 2
        new_slant, new_cx, new_cy = _slant_and_centre(got[n])
        assert abs(new_slant) < 0.02, (n, slant, new_slant)
        assert abs(new_cx - cx) < 0.05 and abs(new_cy - cy) < 0.05, (n, cx, new_cx, cy, new_cy)
    np.testing.assert_array_equal(got[3], 0.0)  # no ink: unchanged


@pytest.mark.mnist
def test_deskew_removes_most_of_the_slant_of_real_digits(mnist):
    (X, _), _ = mnist
    before = np.array([_slant_and_centre(x)[0] for x in X[:200]])
    after = np.array([_slant_and_centre(x)[0] for x in deskew(X[:200])])
    assert np.median(np.abs(before)) > 0.1  # MNIST's digits do lean
    assert np.median(np.abs(after)) < 0.2 * np.median(np.abs(before)), (np.median(np.abs(before)), np.median(np.abs(after)))


def test_deskew_refuses_bad_images():
    with pytest.raises(ValueError, match="pixel values in \\[0, 1\\]"):
        deskew(np.full((2, 784), 2.0, np.float32))
    with pytest.raises(ValueError, match="image_shape"):
        deskew(np.zeros((2, 784), np.float32), image_shape=(20, 20))


@needs_scipy
def test_non_square_images(rng):
    X = random_images(3, rng, shape=(20, 30))
    transform = (15.0, 1.1, 0.95, 0.1, 0.7, -1.2)
    got = distort(X, np.tile(transform, (3, 1)), image_shape=(20, 30)).reshape(-1, 20, 30)
    for img, out in zip(X.reshape(-1, 20, 30), got):
        np.testing.assert_allclose(out, rc_affine_reference(img, transform, (20, 30)), atol=1e-12)


# --- elastic -----------------------------------------------------------------------------------


def map_coordinates_reference(X, fields, transform, alpha, shape=SHAPE):
    """Output pixel p samples the input at Minv (p + alpha d(p) - c - t) + c, by scipy."""
    h, w = shape
    deg, sx, sy, shear, tx, ty = transform
    th = np.deg2rad(deg)
    M = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]]) @ np.array([[1, shear], [0, 1]]) @ np.diag([sx, sy])
    Minv = np.linalg.inv(M)
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    out = []
    for img, (dx, dy) in zip(X.reshape(-1, h, w), fields):
        qx = cols + alpha * dx - (w - 1) / 2 - tx
        qy = rows + alpha * dy - (h - 1) / 2 - ty
        x = Minv[0, 0] * qx + Minv[0, 1] * qy + (w - 1) / 2
        y = Minv[1, 0] * qx + Minv[1, 1] * qy + (h - 1) / 2
        out.append(np.clip(ndi.map_coordinates(img, [y, x], order=1, mode="grid-constant"), 0, 1))
    return np.array(out).reshape(len(X), h * w)


@needs_scipy
def test_elastic_matches_scipy_reference(rng):
    X = random_images(6, rng)
    got = elastic(X, 21, alpha=34.0, sigma=4.0)
    ref = map_coordinates_reference(X, reference_fields(21, 6, 4.0), IDENTITY, 34.0)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    assert np.abs(got - X).max() > 0.1  # it did move things


@needs_scipy
def test_affine_and_elastic_compose_in_one_sampling_pass(rng):
    X = random_images(5, rng)
    transform = (8.0, 1.1, 0.9, 0.1, 1.0, -1.0)
    got = distort(X, np.tile(transform, (5, 1)), 4, alpha=20.0, sigma=3.0)
    ref = map_coordinates_reference(X, reference_fields(4, 5, 3.0), transform, 20.0)
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_elastic_with_alpha_zero_leaves_affine_alone(rng):
    X = random_images(4, rng)
    P = Distortion().draw(4, 1)
    np.testing.assert_array_equal(distort(X, P, 1, alpha=0.0), distort(X, P, 2))


# --- range, seeds, twin, purity ------------------------------------------------------------


def test_values_stay_in_unit_interval(rng):
    X = np.concatenate([np.ones((5, 784)), random_images(20, rng), (rng.random((5, 784)) > 0.5).astype(float)])
    for d in (Distortion(), Distortion(rotation=180, scale=0.5, shear=1.0, translate=5, elastic_alpha=100, elastic_sigma=2)):
        for dtype in (np.float32, np.float64):
            Y = d.apply(X.astype(dtype), 0)
            assert Y.min() >= 0 and Y.max() <= 1
            assert np.isfinite(Y).all()


def test_same_seed_same_images_different_seed_different(rng):
    X = synthetic_digits(50, rng)
    d = Distortion()
    a, b = d.apply(X, 123), d.apply(X, 123)
    np.testing.assert_array_equal(a, b)
    c = d.apply(X, 124)
    assert (np.abs(a - c).max(axis=1) > 0.05).all()  # every image differs
    np.testing.assert_array_equal(d.apply(X, (1, 5)), d.apply(X, [1, 5]))
    assert not np.array_equal(d.apply(X, (1, 5)), d.apply(X, (1, 6)))
    assert not np.array_equal(d.apply(X, None), d.apply(X, None))


def test_image_i_depends_only_on_seed_and_i(rng):
    X = synthetic_digits(40, rng)
    d = Distortion()
    full = d.apply(X, 9)
    np.testing.assert_array_equal(d.apply(X[:17], 9), full[:17])
    # the same image at two positions is distorted differently
    twice = d.apply(np.repeat(X[:1], 2, axis=0), 9)
    assert np.abs(twice[0] - twice[1]).max() > 0.05


def test_results_do_not_depend_on_threads(rng):
    X = synthetic_digits(300, rng)
    d = Distortion()
    serial = [d.apply(X, s) for s in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda s: d.apply(X, s), range(4)))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(28, 28), (5, 7), (16, 9)])
def test_kernel_matches_numpy_twin_float64(shape, rng):
    X = random_images(30, rng, shape=shape)
    d = Distortion(rotation=20, scale=0.2, shear=0.2, translate=2, elastic_alpha=34, elastic_sigma=4, image_shape=shape)
    got = d.apply(X, 77)
    twin = distort_numpy(X, d.draw(30, 77), 77, alpha=34.0, sigma=4.0, image_shape=shape)
    np.testing.assert_allclose(got, twin, rtol=0, atol=1e-12)


def test_kernel_matches_numpy_twin_float32(rng):
    X = synthetic_digits(30, rng, dtype=np.float32)
    d = Distortion()
    got = d.apply(X, 5)
    twin = distort_numpy(X, d.draw(30, 5), 5, alpha=d.elastic_alpha, sigma=d.elastic_sigma)
    assert got.dtype == twin.dtype == np.float32
    np.testing.assert_allclose(got, twin, rtol=0, atol=1e-6)


def test_draw_covers_the_ranges():
    d = Distortion(rotation=15, scale=0.2, shear=0.3, translate=2)
    P = d.draw(5000, 1)
    for col, r, centre in [(0, 15, 0), (1, 0.2, 1), (2, 0.2, 1), (3, 0.3, 0), (4, 2, 0), (5, 2, 0)]:
        assert np.abs(P[:, col] - centre).max() <= r
        assert np.abs(P[:, col] - centre).max() > 0.99 * r
        assert abs(P[:, col].mean() - centre) < 0.05 * r
    assert abs(np.corrcoef(P[:, 1], P[:, 2])[0, 1]) < 0.05  # independent x and y scaling


def test_input_is_not_modified_and_out_is_reused(rng):
    X = synthetic_digits(20, rng)
    before = X.copy()
    d = Distortion()
    Y = d.apply(X, 3)
    np.testing.assert_array_equal(X, before)
    buf = np.empty_like(X)
    assert d.apply(X, 3, out=buf) is buf
    np.testing.assert_array_equal(buf, Y)
    # a non-contiguous view is read correctly and left alone
    wide = np.zeros((20, 2 * 784), np.float32)
    wide[:, ::2] = X
    view = wide[:, ::2]
    np.testing.assert_array_equal(d.apply(view, 3), Y)
    assert (wide[:, 1::2] == 0).all()
    np.testing.assert_array_equal(view, before)


def test_empty_batch(rng):
    X = np.zeros((0, 784), np.float32)
    Y = Distortion().apply(X, 0)
    assert Y.shape == (0, 784) and Y.dtype == np.float32


def test_kernels_release_the_gil_and_are_cached():
    for name in ("mix64", "fill_uniform", "smooth_rows", "elastic_fields", "distort_images"):
        kernel = getattr(kd, name)
        assert kernel.targetoptions.get("nogil"), name
        assert type(kernel._cache).__name__ != "NullCache", name  # cache=True


# --- ink -----------------------------------------------------------------------------------


def ink_ratios(X, d, seed):
    return d.apply(X, seed).sum(axis=1, dtype=np.float64) / X.sum(axis=1, dtype=np.float64)


def test_ink_is_roughly_preserved_on_digit_like_images(rng):
    X = synthetic_digits(500, rng)
    for d in (Distortion(), Distortion(elastic_alpha=0)):
        r = ink_ratios(X, d, 2)
        assert abs(r.mean() - 1) < 0.03
        assert abs(np.median(r) - 1) < 0.05


@pytest.mark.mnist
def test_ink_is_roughly_preserved_on_mnist(request):
    pytest.importorskip("fastnn.datasets")
    (X, _), _ = request.getfixturevalue("mnist")
    X = X[:5000]
    for d in (Distortion(), Distortion(elastic_alpha=0)):
        r = ink_ratios(X, d, 2)
        assert abs(r.mean() - 1) < 0.03
        assert abs(np.median(r) - 1) < 0.05


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("X, error, match", [
    (np.zeros((3, 784), np.uint8), TypeError, "astype"),
    (np.zeros((3, 784), np.int64), TypeError, "integer"),
    (np.zeros((3, 784), np.complex128), TypeError, "float32 or float64"),
    ([[0.0] * 784], TypeError, "NumPy array"),
    (np.zeros(784), ValueError, r"X\[None, :\]"),
    (np.zeros((3, 28, 28)), ValueError, "reshape"),
    (np.zeros((3, 783)), ValueError, "784"),
    (np.full((3, 784), 2.0), ValueError, "255"),
    (np.full((3, 784), -0.1), ValueError, r"\[0, 1\]"),
    (np.full((3, 784), np.nan), ValueError, "NaN"),
    (np.full((3, 784), np.inf), ValueError, "NaN or infinite"),
])
def test_bad_images_are_refused(X, error, match):
    for call in (lambda: Distortion().apply(X, 0), lambda: affine(X), lambda: elastic(X, 0),
                 lambda: distort(X, np.tile(IDENTITY, (3, 1))), lambda: distort_numpy(X, np.tile(IDENTITY, (3, 1)))):
        with pytest.raises(error, match=match):
            call()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rotation": -1}, ValueError, "rotation"),
    ({"rotation": 200}, ValueError, "rotation"),
    ({"scale": 1.0}, ValueError, "scale"),
    ({"shear": float("nan")}, ValueError, "shear"),
    ({"translate": "2"}, TypeError, "translate"),
    ({"elastic_alpha": -3}, ValueError, "elastic_alpha"),
    ({"elastic_sigma": True}, TypeError, "elastic_sigma"),
    ({"image_shape": (28, 0)}, ValueError, "image_shape"),
    ({"image_shape": 784}, TypeError, "image_shape"),
])
def test_bad_distortions_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        Distortion(**kwargs)


def test_distortion_is_frozen_and_normalized():
    d = Distortion(rotation=5, image_shape=[28, 28])
    assert d.rotation == 5.0 and isinstance(d.rotation, float) and d.image_shape == (28, 28)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.rotation = 3.0


@pytest.mark.parametrize("seed", [-1, 1.5, "a", (1, -2), True])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(TypeError, match="seed"):
        Distortion().apply(np.zeros((2, 784)), seed)


def test_bad_params_and_out_are_refused(rng):
    X = random_images(3, rng)
    with pytest.raises(ValueError, match=r"\(3, 6\)"):
        distort(X, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="scale"):
        distort(X, np.zeros((3, 6)))
    with pytest.raises(ValueError, match="NaN"):
        distort(X, np.full((3, 6), np.nan))
    with pytest.raises(ValueError, match="scale"):
        affine(X, scale=0.0)
    with pytest.raises(ValueError, match="rotation"):
        affine(X, rotation=[1.0, 2.0])
    with pytest.raises(ValueError, match="shear holds NaN"):
        affine(X, shear=np.nan)
    with pytest.raises(TypeError, match="translate"):
        affine(X, translate="left")
    with pytest.raises(ValueError, match="alpha"):
        elastic(X, 0, alpha=-1.0)
    with pytest.raises(ValueError, match="empty_like"):
        Distortion().apply(X, 0, out=np.empty((3, 784), np.float32))
    with pytest.raises(ValueError, match="share memory"):
        Distortion().apply(X, 0, out=X)
    with pytest.raises(TypeError, match="out"):
        Distortion().apply(X, 0, out=[0.0])
    with pytest.raises(ValueError, match="n must be"):
        Distortion().draw(-1, 0)


def test_background_thread_prepares_the_next_epoch(rng):
    """The trainer pattern: distort epoch e+1 in a thread while epoch e trains."""
    X = synthetic_digits(200, rng)
    d = Distortion()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        nxt = pool.submit(d.apply, X, (0, 0))
        epochs = []
        for e in range(3):
            cur = nxt.result()
            nxt = pool.submit(d.apply, X, (0, e + 1))
            epochs.append(cur)
        nxt.result()
    for e, cur in enumerate(epochs):
        np.testing.assert_array_equal(cur, d.apply(X, (0, e)))
    assert not np.array_equal(epochs[0], epochs[1])
