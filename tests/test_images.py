"""fastnn.images: reading digit images and preparing them the way MNIST was made."""
import numpy as np
import pytest

from fastnn import images

Image = pytest.importorskip("PIL.Image")


def com(image):
    """Centre of mass (row, col), computed independently of fastnn.images."""
    image = np.asarray(image, dtype=np.float64)
    rows = np.arange(image.shape[0])[:, None]
    cols = np.arange(image.shape[1])[None, :]
    return (image * rows).sum() / image.sum(), (image * cols).sum() / image.sum()


def ink_box(image, level=0.5):
    """Height and width of the box holding the pixels >= level."""
    rows = np.flatnonzero((image >= level).any(axis=1))
    cols = np.flatnonzero((image >= level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def seven(height=90, width=70, top=30, left=100, canvas=(200, 300), ink=0.0, paper=1.0, bar=10):
    """A thick '7' (top bar of height/bar and a slanted stroke) drawn dark on light, as floats in [0, 1]."""
    g = np.full(canvas, paper)
    g[top : top + height // bar, left : left + width] = ink
    for r in range(height):
        c = left + width - 1 - int(r * (width - 10) / height)
        g[top + r, max(left, c - 12) : c + 1] = ink
    return g


def test_output_is_28x28_float32_in_unit_range():
    out = images.preprocess_digit(seven())
    assert out.shape == (28, 28)
    assert out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0


@pytest.mark.parametrize("top, left, height, width", [(5, 5, 90, 70), (100, 220, 80, 40), (40, 10, 150, 120)])
def test_centre_of_mass_lands_within_half_a_pixel_of_14_14(top, left, height, width):
    out = images.preprocess_digit(seven(height, width, top, left, canvas=(260, 300)))
    cy, cx = com(out)
    assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5


def test_shift_stops_at_the_frame_so_no_ink_is_lost():
    """A very top-heavy digit cannot have its centre at row 14 without leaving the 28 x 28 field."""
    g = seven(150, 120, 40, 10, canvas=(260, 300), bar=3)
    out = images.preprocess_digit(g)
    rows = np.flatnonzero(out.max(axis=1) > 0)
    assert rows[-1] == 27 and rows[-1] - rows[0] + 1 == 20  # pushed down as far as it goes, not cut
    assert com(out)[0] < 13.5  # its centre stays above the target
    assert abs(com(out)[1] - 14.0) <= 0.5


def test_centre_of_mass_helper_matches_hand_computation():
    img = np.array([[0, 0, 0], [0, 1, 3], [0, 0, 0]], dtype=float)
    assert images.center_of_mass(img) == pytest.approx((1.0, (1 * 1 + 2 * 3) / 4))
    with pytest.raises(ValueError, match="blank"):
        images.center_of_mass(np.zeros((3, 3)))


def test_light_background_is_detected_and_inverted():
    dark_on_light = seven()
    light_on_dark = 1.0 - dark_on_light
    assert images.has_light_background(dark_on_light)
    assert not images.has_light_background(light_on_dark)
    a = images.preprocess_digit(dark_on_light)
    b = images.preprocess_digit(light_on_dark)
    np.testing.assert_array_equal(a, b)
    # the ink ends up light: the digit's pixels, not the background, are near 1
    assert a[0, 0] == 0.0 and (a > 0.5).sum() < 28 * 28 / 2
    np.testing.assert_array_equal(images.preprocess_digit(dark_on_light, background="light"), a)


def test_grey_paper_and_grey_ink_are_stretched_to_0_and_1():
    pale = seven(ink=0.45, paper=0.8)  # a photo: grey paper, pencil ink
    out = images.preprocess_digit(pale)
    np.testing.assert_allclose(out, images.preprocess_digit(seven()), atol=1e-6)


@pytest.mark.parametrize("shape, long_axis", [((150, 50), 0), ((40, 160), 1)])
def test_aspect_ratio_is_kept_with_the_long_side_20(shape, long_axis):
    g = np.ones((300, 300))
    g[60 : 60 + shape[0], 70 : 70 + shape[1]] = 0.0  # a dark bar
    out = images.preprocess_digit(g)
    box = ink_box(out)
    ratio = max(shape) / min(shape)
    assert box[long_axis] == 20
    assert abs(box[1 - long_axis] - 20 / ratio) <= 1.0


def test_input_is_not_modified():
    g = seven()
    before = g.copy()
    images.preprocess_digit(g)
    np.testing.assert_array_equal(g, before)


def test_uint8_input_equals_float_input():
    g = seven()
    np.testing.assert_array_equal(images.preprocess_digit((g * 255).astype(np.uint8)), images.preprocess_digit(g))


@pytest.mark.parametrize("bad, error", [
    (np.ones((40, 40)), ValueError),  # blank paper
    (np.zeros((3, 4, 5)), ValueError),  # not 2-D
    (np.full((10, 10), 2.0), ValueError),  # out of range
    (np.ones((10, 10), dtype=bool), TypeError),
])
def test_preprocess_rejects_bad_images(bad, error):
    with pytest.raises(error):
        images.preprocess_digit(bad)


@pytest.mark.mnist
def test_mnist_digits_survive_invert_upscale_and_shift(mnist):
    """An MNIST digit drawn dark on light, 5x bigger and off-centre, comes back close to itself."""
    _, (X_test, _) = mnist
    rng = np.random.default_rng(0)
    correlations = []
    for i in range(40):
        digit = (X_test[i].reshape(28, 28) * 255).round().astype(np.uint8)
        big = np.asarray(Image.fromarray(255 - digit).resize((140, 140), Image.Resampling.BICUBIC)) / 255.0
        canvas = np.ones((260, 320))
        top, left = rng.integers(0, 120), rng.integers(0, 180)
        canvas[top : top + 140, left : left + 140] = big
        out = images.preprocess_digit(canvas)
        correlations.append(np.corrcoef(out.ravel(), X_test[i])[0, 1])
    assert np.median(correlations) > 0.95
    assert np.mean(np.array(correlations) > 0.85) >= 0.9


# -- files --------------------------------------------------------------------------------


def test_png_and_jpeg_files_give_the_preprocessed_pixels(tmp_path):
    g = (seven() * 255).astype(np.uint8)
    Image.fromarray(g).save(tmp_path / "d.png")
    Image.fromarray(g).convert("RGB").save(tmp_path / "d.jpg", quality=95)
    expected = images.preprocess_digit(g)
    np.testing.assert_array_equal(images.load_digit(tmp_path / "d.png"), expected)
    jpeg = images.load_digit(str(tmp_path / "d.jpg"))  # lossy, so close rather than equal
    assert np.abs(jpeg - expected).mean() < 0.02


def test_transparent_background_keeps_the_contrast(tmp_path):
    g = seven()
    rgba = np.zeros(g.shape + (4,), dtype=np.uint8)  # black, fully transparent
    rgba[..., 3] = np.where(g < 0.5, 255, 0)  # the digit: opaque black
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "t.png")
    np.testing.assert_array_equal(images.load_digit(tmp_path / "t.png"), images.preprocess_digit(g))


def test_16_bit_png_is_scaled_like_8_bit(tmp_path):
    g = seven()
    Image.fromarray((g * 65535).astype(np.uint16)).save(tmp_path / "d16.png")
    assert Image.open(tmp_path / "d16.png").mode.startswith("I")
    np.testing.assert_allclose(images.read_grayscale(tmp_path / "d16.png"), g)


def test_exif_orientation_is_followed(tmp_path):
    g = (seven() * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(g).save(tmp_path / "photo.png", exif=exif)
    np.testing.assert_array_equal(images.read_grayscale(tmp_path / "photo.png"), np.rot90(g, -1) / 255.0)


def test_npy_arrays_are_used_as_they_are(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    np.save(tmp_path / "u8.npy", pixels)
    np.save(tmp_path / "f.npy", (pixels / 255.0).reshape(784))
    np.testing.assert_array_equal(images.load_digit(tmp_path / "u8.npy"), pixels.astype(np.float32) / np.float32(255))
    np.testing.assert_allclose(images.load_digit(tmp_path / "f.npy"), pixels / 255.0, rtol=1e-6)


@pytest.mark.parametrize("array, error", [
    (np.zeros((27, 27)), ValueError),
    (np.full(784, 1.5), ValueError),
    (np.full((28, 28), -1, dtype=np.int16), ValueError),
    (np.full((28, 28), np.nan), ValueError),
    (np.zeros((28, 28), dtype=bool), TypeError),
])
def test_mnist_array_rejects_bad_arrays(array, error):
    with pytest.raises(error):
        images.mnist_array(array)


def test_load_digit_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        images.load_digit(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"this is not a PNG")
    with pytest.raises(ValueError, match="junk.png.*not a readable image"):
        images.load_digit(tmp_path / "junk.png")
    Image.new("L", (50, 40), 255).save(tmp_path / "blank.png")
    with pytest.raises(ValueError, match="blank.png.*no ink"):
        images.load_digit(tmp_path / "blank.png")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="junk.npy"):
        images.load_digit(tmp_path / "junk.npy")
    np.save(tmp_path / "wrong.npy", np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"wrong.npy.*\(28, 28\)"):
        images.load_digit(tmp_path / "wrong.npy")
