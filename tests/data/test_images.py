"""cnnviz.data.images: offline data sets, preprocessing, photo and upload decoding, offline behaviour."""

import io
import struct
import sys
import time
import types
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import cnnviz.data.images as images_module
from cnnviz import (
    OFFLINE_DATASETS,
    ONLINE_DATASETS,
    PHOTOS,
    SHAPE_CLASSES,
    DatasetUnavailableError,
    ImageLoadError,
    Preprocessing,
    decode_image,
    load_image_dataset,
    load_photo,
    make_shapes,
    to_model_input,
)

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None)

# scikit-learn's digits: 1,797 images, per class 0..9 (UCI optdigits test set).
DIGIT_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG for an 8-bit RGB image of the given size whose pixel data is one short row: a few bytes
    that claim a huge picture (PNG spec: signature, IHDR, IDAT, IEND chunks, each with a CRC-32)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


# --- shapes ------------------------------------------------------------------------------------

def test_make_shapes_shape_range_dtype_and_balance():
    images, labels = make_shapes(60, size=16, seed=3)
    assert images.shape == (60, 1, 16, 16) and images.dtype == np.float32
    assert labels.shape == (60,) and labels.dtype == np.int64
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert np.bincount(labels, minlength=6).tolist() == [10] * 6
    # every image has a shape on it: a bright region well above the noise (sigma 0.04)
    assert (images.reshape(60, -1).max(axis=1) > 0.5).all()


def test_make_shapes_classes_differ_by_at_most_one_when_not_divisible():
    _, labels = make_shapes(15, size=12, seed=0)
    assert np.bincount(labels, minlength=6).tolist() == [3, 3, 3, 2, 2, 2]


def test_make_shapes_is_deterministic_per_seed():
    a_img, a_lab = make_shapes(12, size=16, seed=5)
    b_img, b_lab = make_shapes(12, size=16, seed=5)
    assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    c_img, _ = make_shapes(12, size=16, seed=6)
    assert not np.array_equal(a_img, c_img)


def test_ring_has_a_hole_and_circle_does_not():
    images, labels = make_shapes(120, size=32, seed=1)
    # brightness at the shape's centre of mass, relative to the shape's brightest pixel
    def centre_ratio(img):
        ys, xs = np.nonzero(img > 0.3)
        return img[int(round(ys.mean())), int(round(xs.mean()))] / img.max()
    rings = [centre_ratio(images[i, 0]) for i in np.flatnonzero(labels == SHAPE_CLASSES.index("ring"))]
    circles = [centre_ratio(images[i, 0]) for i in np.flatnonzero(labels == SHAPE_CLASSES.index("circle"))]
    assert max(rings) < 0.3 < min(circles)


def test_load_shapes_dataset_small():
    ds = load_image_dataset("shapes", size=16, n_samples=60, seed=2)
    assert ds.class_names == SHAPE_CLASSES
    assert ds.x_train.shape == (48, 1, 16, 16) and ds.x_test.shape == (12, 1, 16, 16)
    assert ds.preprocessing.input_shape == (1, 16, 16)
    assert np.bincount(ds.y_test, minlength=6).tolist() == [2] * 6  # stratified


# --- digits ------------------------------------------------------------------------------------

def test_digits_split_sizes_and_stratification(lib_digits):
    ds = lib_digits
    assert ds.name == "digits"
    assert len(ds.x_train) == 1437 and len(ds.x_test) == 360  # 1,797 at test_size 0.2
    assert ds.x_train.shape[1:] == (1, 28, 28) and ds.x_train.dtype == np.float32
    assert ds.y_train.dtype == np.int64
    assert ds.class_names == tuple("0123456789")
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    counts = np.bincount(ds.y_test, minlength=10) + np.bincount(ds.y_train, minlength=10)
    assert tuple(counts) == DIGIT_COUNTS
    # stratified: each class is 20 % of its count in the test split, give or take one image
    assert np.all(np.abs(np.bincount(ds.y_test, minlength=10) - 0.2 * np.array(DIGIT_COUNTS)) <= 1)


def test_digits_preprocessing_is_the_training_sets_statistics(lib_digits):
    prep = lib_digits.preprocessing
    assert prep.channels == 1 and prep.size == 28
    assert prep.mean == pytest.approx((float(lib_digits.x_train.mean()),), rel=1e-5)
    assert prep.std == pytest.approx((float(lib_digits.x_train.std()),), rel=1e-5)
    assert prep.mean != pytest.approx((float(lib_digits.x_test.mean()),), rel=1e-5)
    x, y = lib_digits.train_tensors()
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3


def test_digits_split_is_the_same_twice_and_differs_by_seed(lib_digits):
    again = load_image_dataset("digits")
    assert np.array_equal(again.x_test, lib_digits.x_test) and np.array_equal(again.y_test, lib_digits.y_test)
    other = load_image_dataset("digits", seed=1)
    assert not np.array_equal(other.y_test, lib_digits.y_test)


def test_digits_at_8x8_are_sklearns_images_over_16():
    from sklearn.datasets import load_digits

    ds = load_image_dataset("digits", size=8)
    digits = load_digits()
    reference = {(img.astype(np.float32) / 16).tobytes(): int(t)
                 for img, t in zip(digits.images, digits.target, strict=True)}
    for img, label in zip(ds.x_test, ds.y_test, strict=True):
        assert reference[img[0].tobytes()] == label


def test_digits_n_samples_caps():
    ds = load_image_dataset("digits", size=8, n_samples=100)
    assert len(ds.x_train) + len(ds.x_test) == 100 and len(ds.x_test) == 20


def test_unknown_dataset_raises():
    with pytest.raises(DatasetUnavailableError, match="Unknown data set 'nope'.*mnist, fashion_mnist, "
                                                        "digits, shapes, mnist_full"):
        load_image_dataset("nope")


# --- Preprocessing -----------------------------------------------------------------------------

def test_preprocessing_apply_by_hand():
    prep = Preprocessing(1, 2, (0.5,), (0.25,))
    out = prep.apply(np.array([[[[0.5, 1.0], [0.0, 0.25]]]]))
    assert out.dtype == torch.float32
    assert out.tolist() == [[[[0.0, 2.0], [-2.0, -1.0]]]]  # (x - 0.5) / 0.25


def test_preprocessing_apply_is_per_channel():
    prep = Preprocessing(3, 1, (0.0, 0.5, 1.0), (1.0, 0.5, 2.0))
    out = prep.apply(np.ones((1, 3, 1, 1), dtype=np.float32))
    assert out.flatten().tolist() == [1.0, 1.0, 0.0]


def test_preprocessing_dict_round_trip_and_hash():
    prep = Preprocessing(3, 32, (0.1, 0.2, 0.3), (0.4, 0.5, 0.6))
    assert prep.input_shape == (3, 32, 32)
    back = Preprocessing.from_dict(prep.to_dict())
    assert back == prep and hash(back) == hash(prep)


# --- to_model_input ----------------------------------------------------------------------------

def test_pure_red_becomes_luma_0299():
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    out = to_model_input(red, Preprocessing(1, 4, (0.0,), (1.0,)))
    assert out.shape == (1, 4, 4) and out.dtype == np.float32
    assert np.allclose(out, 0.299, atol=1e-6)  # ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B
    green = np.roll(red, 1, axis=2)
    assert np.allclose(to_model_input(green, Preprocessing(1, 4, (0.0,), (1.0,))), 0.587, atol=1e-6)


def test_grey_becomes_three_equal_channels():
    grey = np.full((5, 5), 51, dtype=np.uint8)
    out = to_model_input(grey, Preprocessing(3, 5, (0.0,) * 3, (1.0,) * 3))
    assert out.shape == (3, 5, 5)
    assert np.allclose(out, 51 / 255, atol=1e-6)


def test_centre_crop_of_a_non_square_image():
    # 4 rows x 8 columns; value = column index / 8. The centre square is columns 2..5.
    img = np.tile(np.arange(8, dtype=np.float32) / 8, (4, 1))
    out = to_model_input(img, Preprocessing(1, 4, (0.0,), (1.0,)))
    assert np.allclose(out[0], np.tile(np.arange(2, 6) / 8, (4, 1)), atol=1e-6)
    tall = img.T.copy()  # 8 rows x 4 columns: rows 2..5
    assert np.allclose(to_model_input(tall, Preprocessing(1, 4, (0.0,), (1.0,)))[0],
                       np.tile(np.arange(2, 6) / 8, (4, 1)).T, atol=1e-6)


def test_resize_to_the_models_size():
    img = np.zeros((100, 60), dtype=np.uint8)
    img[:, :30] = 255  # left half white
    out = to_model_input(img, Preprocessing(1, 6, (0.0,), (1.0,)))
    assert out.shape == (1, 6, 6)
    assert np.allclose(out[0, :, 0], 1.0, atol=1e-6) and np.allclose(out[0, :, -1], 0.0, atol=1e-6)
    small = to_model_input(np.ones((2, 2), dtype=np.float32), Preprocessing(1, 28, (0.0,), (1.0,)))
    assert small.shape == (1, 28, 28) and np.allclose(small, 1.0)


@pytest.mark.parametrize("image, expected", [
    (np.full((3, 3), 65535, dtype=np.uint16), 1.0),     # 16 bit: divided by 65535
    (np.full((3, 3), True), 1.0),                          # bool
    (np.full((3, 3), 2.5, dtype=np.float64), 1.0),         # floats are clipped to [0, 1]
    (np.full((3, 3), -1.0, dtype=np.float32), 0.0),
])
def test_to_model_input_dtypes(image, expected):
    out = to_model_input(image, Preprocessing(1, 3, (0.0,), (1.0,)))
    assert out.dtype == np.float32 and np.allclose(out, expected)


def test_rgba_alpha_is_dropped():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 2] = 255  # blue, fully transparent
    out = to_model_input(rgba, Preprocessing(3, 2, (0.0,) * 3, (1.0,) * 3))
    assert out.shape == (3, 2, 2) and out[:, 0, 0].tolist() == [0.0, 0.0, 1.0]


def test_photo_to_lenet_input():
    out = to_model_input(load_photo("chelsea"), Preprocessing(1, 28, (0.0,), (1.0,)))
    assert out.shape == (1, 28, 28) and out.flags["C_CONTIGUOUS"]
    assert 0.0 <= out.min() < out.max() <= 1.0


# --- photos ------------------------------------------------------------------------------------

def test_load_photo_chelsea_offline():
    cat = load_photo("chelsea")
    assert cat.shape == (300, 451, 3) and cat.dtype == np.uint8


@pytest.mark.parametrize("name", PHOTOS)
def test_every_photo_loads(name):
    photo = load_photo(name)
    smallest = 32 if name.startswith("cifar10_") else 256  # CIFAR-10 images are 32x32, foolbox's ImageNet 512x512
    assert photo.dtype == np.uint8 and photo.ndim in (2, 3) and min(photo.shape[:2]) >= smallest


def test_unknown_photo():
    with pytest.raises(ImageLoadError, match="Unknown photo 'dog'.*chelsea"):
        load_photo("dog")


# --- decode_image ------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)


def test_decode_png_is_exact():
    out = decode_image(encode(Image.fromarray(RGB), "PNG"))
    assert out.dtype == np.uint8 and np.array_equal(out, RGB)


def test_decode_grey_png_is_2d():
    grey = RGB[..., 0]
    assert np.array_equal(decode_image(encode(Image.fromarray(grey), "PNG")), grey)


def test_decode_jpeg():
    smooth = np.zeros((16, 16, 3), dtype=np.uint8)
    smooth[...] = (200, 100, 50)
    out = decode_image(encode(Image.fromarray(smooth), "JPEG", quality=95))
    assert out.shape == (16, 16, 3)
    assert np.abs(out.astype(int) - smooth).max() <= 3


def test_decode_rgba_and_palette_png_give_rgb():
    rgba = np.dstack([RGB, np.full((20, 30), 128, dtype=np.uint8)])
    assert np.array_equal(decode_image(encode(Image.fromarray(rgba), "PNG")), RGB)
    pal = Image.new("P", (3, 2))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putdata([0, 1, 0, 1, 1, 0])
    out = decode_image(encode(pal, "PNG"))
    assert out.shape == (2, 3, 3)
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 1].tolist() == [0, 0, 255]


def test_decode_16_bit_png_scales_to_its_maximum():
    values = (np.arange(6, dtype=np.uint16) * 1000).reshape(2, 3)  # 0 .. 5000
    img = Image.fromarray(values)
    assert img.mode == "I;16"
    out = decode_image(encode(img, "PNG"))
    assert out.dtype == np.uint8 and out.shape == (2, 3)
    assert out.flatten().tolist() == [0, 51, 102, 153, 204, 255]  # v / 5000 * 255, truncated


def test_decode_cmyk_jpeg():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # no black, full magenta+yellow: red
    out = decode_image(encode(cmyk, "JPEG", quality=95))
    assert out.shape == (8, 8, 3)
    r, g, b = out[4, 4].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_decode_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (10, 10), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = decode_image(data)
    assert out.shape == (10, 10, 3) and (out == [255, 0, 0]).all()


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (encode(Image.fromarray(RGB), "PNG")[:60], "not an image"),          # truncated PNG
    (bytes(RNG.integers(0, 256, 500, dtype=np.uint8)), "not an image"),  # random bytes
    (b"%PDF-1.4 not an image", "not an image"),
    (png_header_claiming(100_000, 100_000), "pixels"),               # 10^10 pixels: Pillow's bomb check
    (png_header_claiming(6000, 6000), "6000x6000 pixels"),            # 36 M > 25 M, checked by cnnviz
])
def test_decode_bad_inputs_raise_image_load_error(data, message):
    with pytest.raises(ImageLoadError, match=message):
        decode_image(data)


def test_decode_limits():
    png = encode(Image.fromarray(RGB), "PNG")
    with pytest.raises(ImageLoadError, match="30x20 pixels; the limit is 599 pixels"):
        decode_image(png, max_pixels=599)
    assert decode_image(png, max_pixels=600).shape == (20, 30, 3)
    with pytest.raises(ImageLoadError, match="the limit is"):
        decode_image(png, max_bytes=len(png) - 1)
    assert decode_image(png, max_bytes=len(png)).shape == (20, 30, 3)


SAMPLES = [encode(Image.fromarray(RGB), "PNG"), encode(Image.fromarray(RGB), "JPEG"),
           encode(Image.fromarray(RGB).convert("P"), "GIF"), encode(Image.fromarray(RGB), "BMP"),
           encode(Image.fromarray(RGB), "TIFF"), encode(Image.fromarray(RGB), "WEBP")]


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about damaged TIFF tags
@FUZZ
@given(sample=st.sampled_from(SAMPLES), cut=st.floats(0, 1),
       edits=st.lists(st.tuples(st.floats(0, 0.999), st.integers(0, 255)), max_size=6))
def test_damaged_images_decode_or_raise_image_load_error(sample, cut, edits):
    data = bytearray(sample[:max(1, int(len(sample) * cut))] if cut < 0.5 else sample)
    for where, value in edits:
        data[int(where * len(data))] = value
    try:
        out = decode_image(bytes(data))
    except ImageLoadError:
        return
    assert out.dtype == np.uint8 and out.ndim in (2, 3)


# --- decode_image: huge images are shrunk first ------------------------------------------------

def big_png(width: int, height: int, mode: str = "L") -> bytes:
    """A white image with a black square in its top-left quarter (a few tens of KB as PNG)."""
    img = Image.new(mode, (width, height), "white")
    img.paste("black", (width // 8, height // 8, width // 4, height // 4))
    return encode(img, "PNG")


def test_an_image_over_max_side_is_reduced_by_a_whole_factor_to_box_means():
    png = encode(Image.fromarray(RGB), "PNG")                  # 30 wide, 20 high
    out = decode_image(png, max_side=10)                       # factor 3: 10 x 7 (the last row of boxes is short)
    assert out.shape == (7, 10, 3) and out.dtype == np.uint8
    means = RGB[:18].reshape(6, 3, 10, 3, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(out[:6].astype(float) - means).max() <= 1   # whole boxes: their mean, rounded
    assert decode_image(png, max_side=15).shape == (10, 15, 3)  # factor 2
    assert np.array_equal(decode_image(png, max_side=30), RGB)  # not over: untouched
    with pytest.raises(ValueError, match="max_side"):
        decode_image(png, max_side=0)


def test_a_5000x5000_png_becomes_a_small_array_with_the_same_picture():
    png = big_png(5000, 5000)
    assert len(png) < 200_000                                  # a small file for a huge picture
    out = decode_image(png)                                    # default: long side at most 1024
    assert out.shape == (1000, 1000)
    small = decode_image(png, max_side=256)                    # factor 20
    assert small.shape == (250, 250)
    assert (small[32:62, 32:62] == 0).all() and (small[63:, 63:] == 255).all()  # the square: 625..1250 / 20
    # What a model sees is the same picture as from the full-size pixels (resized by to_model_input).
    prep = Preprocessing(1, 28, (0.0,), (1.0,))
    full = to_model_input(decode_image(big_png(1200, 1200), max_side=1200), prep)
    shrunk = to_model_input(decode_image(big_png(1200, 1200), max_side=112), prep)
    assert np.abs(full - shrunk).max() < 0.1


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "1", "CMYK"])
def test_other_modes_are_shrunk_too(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    img = Image.new("RGB", (900, 300), (255, 0, 0)).convert(mode)
    out = decode_image(encode(img, fmt), max_side=100)
    # PNG: reduced 9 times, 100 x 34; JPEG: decoded at 1/8 (113 x 38), then halved.
    assert out.shape[:2] == ((19, 57) if fmt == "JPEG" else (34, 100))
    assert out.ndim == (2 if mode in ("LA", "1") else 3)


def test_a_16_bit_image_is_shrunk_then_stretched():
    values = np.zeros((1000, 2000), dtype=np.uint16)
    values[:, 1000:] = 4000                                    # right half 4000, left half 0
    img = Image.fromarray(values)
    assert img.mode == "I;16"
    out = decode_image(encode(img, "PNG"), max_side=500)       # factor 4
    assert out.shape == (250, 500) and out.dtype == np.uint8
    assert (out[:, :250] == 0).all() and (out[:, 250:] == 255).all()


def test_a_large_jpeg_is_decoded_at_reduced_scale(monkeypatch):
    from PIL import JpegImagePlugin

    drafted = []
    original = JpegImagePlugin.JpegImageFile.draft

    def draft(self, mode, size):
        result = original(self, mode, size)
        drafted.append((size, self.size))                      # what was asked, what the decoder will make
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)
    jpeg = encode(Image.new("RGB", (4000, 3000), (10, 200, 30)), "JPEG")
    out = decode_image(jpeg, max_side=500)
    assert drafted == [((500, 375), (500, 375))]               # decoded at 1/8 scale, never at 4000x3000
    assert out.shape == (375, 500, 3)
    assert np.abs(out.astype(int) - (10, 200, 30)).max() <= 6
    drafted.clear()
    assert decode_image(jpeg, max_side=1000).shape == (750, 1000, 3)  # 1/4 scale
    assert drafted == [((1000, 750), (1000, 750))]
    drafted.clear()
    decode_image(encode(Image.new("RGB", (400, 300)), "JPEG"), max_side=500)
    assert drafted == []                                       # small enough: decoded as it is


def test_a_5000x5000_png_becomes_a_model_input_in_bounded_memory(tmp_path):
    """The whole upload path (decode, then to_model_input) in a fresh process: its peak RSS over what it
    used before. It was 1.4 GB when the float conversions ran at full size; the limit is 300 MB."""
    import subprocess

    path = tmp_path / "big.png"
    path.write_bytes(big_png(5000, 5000, "RGB"))
    script = f"""
import numpy as np
from cnnviz import Preprocessing, decode_image, to_model_input
prep = Preprocessing(1, 28, (0.0,), (1.0,))
to_model_input(np.zeros((64, 64, 3), np.uint8), prep)          # lazy imports first
data = open({str(path)!r}, "rb").read()
def status(field):  # kB
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":"))
open("/proc/self/clear_refs", "w").write("5")                  # the peak (VmHWM) starts again from here
before = status("VmRSS")
image = to_model_input(decode_image(data), prep)
assert image.shape == (1, 28, 28), image.shape
print(max(0, status("VmHWM") - before) / 1024)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert float(done.stdout) < 300


# --- offline behaviour -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ONLINE_DATASETS)
def test_online_dataset_offline_fails_fast_with_a_clear_message(name):
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load_image_dataset(name)
    assert time.perf_counter() - start < 5
    assert "network" in str(info.value)
    assert all(offline in str(info.value) for offline in OFFLINE_DATASETS)


def _fake_datasets(monkeypatch, load_dataset):
    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    monkeypatch.setattr(images_module, "network_available", lambda timeout=2.0: True)


def test_hub_failure_becomes_dataset_unavailable(monkeypatch):
    def failing(repo, split):
        raise ConnectionError("hub is down")
    _fake_datasets(monkeypatch, failing)
    with pytest.raises(DatasetUnavailableError, match="Could not load mnist_full from Hugging Face: hub is down"):
        load_image_dataset("mnist_full")


def test_online_dataset_is_converted_like_the_offline_ones(monkeypatch):
    """With a fake `datasets`, check the conversion: sizes, channels, statistics of the training part."""
    requested = []

    def fake(repo, split):
        requested.append((repo, split))
        count = int(split.split(":")[1].rstrip("]"))
        colours = [(255, 0, 0), (0, 0, 255)]
        return {"img": [Image.new("RGB", (32, 32), colours[i % 2]) for i in range(count)],
                "label": [i % 2 for i in range(count)]}
    _fake_datasets(monkeypatch, fake)
    ds = load_image_dataset("cifar10", n_samples=10)
    assert requested == [("uoft-cs/cifar10", "train[:8]"), ("uoft-cs/cifar10", "test[:2]")]
    assert ds.x_train.shape == (8, 3, 32, 32) and ds.x_test.shape == (2, 3, 32, 32)
    assert ds.class_names[3] == "cat"
    # half red (1, 0, 0), half blue (0, 0, 1): channel means 0.5, 0, 0.5; std 0.5, ~0, 0.5
    assert ds.preprocessing.mean == pytest.approx((0.5, 0.0, 0.5))
    assert ds.preprocessing.std == pytest.approx((0.5, 1e-6, 0.5))


# --- checking an input before its prediction is shown (issue 12, B10) ------------------------------

DIGITS_PREP = Preprocessing(1, 28, (0.31,), (0.32,))     # light strokes on black: mean 0.31
LIGHT_PREP = Preprocessing(1, 28, (0.8,), (0.3,))        # a data set of dark strokes on white


def seven(ink: float, paper: float) -> np.ndarray:
    """A hand-made 7 at 28x28 as to_model_input gives it: a bar and a diagonal, `ink` on `paper`."""
    image = np.full((1, 28, 28), paper, dtype=np.float32)
    image[0, 5:8, 6:22] = ink
    for row in range(8, 24):
        image[0, row, 20 - (row - 8) // 2:23 - (row - 8) // 2] = ink
    return image


def test_an_empty_canvas_and_a_white_page_are_blank():
    from cnnviz import check_input

    for value in (0.0, 1.0, 0.5):
        check = check_input(np.full((1, 28, 28), value, dtype=np.float32), DIGITS_PREP)
        assert check.blank and not check.inverted and check.contrast == 0.0
    faint = np.zeros((1, 28, 28), dtype=np.float32)
    faint[0, 10:18, 14] = 0.04                                          # below BLANK_CONTRAST: still blank
    assert check_input(faint, DIGITS_PREP).blank
    faint[0, 10:18, 14] = 0.3
    assert not check_input(faint, DIGITS_PREP).blank


def test_a_black_on_white_digit_is_inverted_for_a_model_of_white_on_black_digits():
    from cnnviz import check_input

    check = check_input(seven(ink=0.0, paper=1.0), DIGITS_PREP)
    assert check.inverted and not check.blank
    assert (check.background, check.contrast, check.training_mean) == (1.0, 1.0, pytest.approx(0.31))
    assert not check_input(seven(ink=1.0, paper=0.0), DIGITS_PREP).inverted        # the right way round
    assert check_input(seven(ink=1.0, paper=0.0), LIGHT_PREP).inverted             # and the other way
    assert not check_input(seven(ink=0.0, paper=1.0), LIGHT_PREP).inverted


def test_photos_and_colour_data_sets_are_not_inverted():
    from cnnviz import check_input
    from cnnviz.data.photos import SKIMAGE_PHOTOS

    for name in SKIMAGE_PHOTOS:      # backgrounds between 0.2 and 0.61: none clearly white
        assert not check_input(to_model_input(load_photo(name), DIGITS_PREP), DIGITS_PREP).inverted
    # The labelled photos are flagged exactly where their border is light (a median of 0.65 or more): a digit
    # model was trained on light strokes on black, so a photo on a white page (imagenet_04, a border of 0.74)
    # is the other way round.
    flagged = []
    for name in PHOTOS[len(SKIMAGE_PHOTOS):]:
        check = check_input(to_model_input(load_photo(name), DIGITS_PREP), DIGITS_PREP)
        assert check.inverted == (check.background >= 0.65), (name, check)
        flagged.append(check.inverted)
    assert 0 < sum(flagged) < len(flagged) / 4
    assert check_input(to_model_input(load_photo("imagenet_04"), DIGITS_PREP), DIGITS_PREP).inverted
    cifar_like = Preprocessing(3, 32, (0.49, 0.48, 0.45), (0.25, 0.24, 0.26))   # no background to speak of
    white_page = np.ones((3, 32, 32), dtype=np.float32)
    white_page[:, 10:20, 10:20] = 0.0
    assert not check_input(white_page, cifar_like).inverted


def test_check_input_refuses_what_is_not_an_image():
    from cnnviz import check_input

    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        check_input(np.zeros((28, 28)), DIGITS_PREP)
