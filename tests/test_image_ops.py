"""The op contract, for every registered image op, on every dtype and channel count."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import textured
from rows_geometric import GEOMETRIC_ROWS
from rows_mixing import MIXING_ROWS
from rows_pixel import PIXEL_ROWS
from rows_reference import REFERENCE_ROWS
from rows_scanner import SCANNER_ROWS

from augcli.core.errors import InputError
from augcli.core.seeding import generator
from augcli.image.modality import ImageModality
from augcli.ops import registry

# One row per op (in the rows_* files, by domain). Adding an op without a row fails below.
OP_TABLE: dict[str, dict] = {**GEOMETRIC_ROWS, **PIXEL_ROWS, **SCANNER_ROWS}
DTYPES = [np.uint8, np.uint16]
CHANNELS = [1, 3, 4]
INFO = ImageModality({"jpeg_quality": 95, "png_compression": 3}).info


def build(name: str, params: dict | None = None):
    cls = registry("image")[name]
    return cls.from_recipe(dict(OP_TABLE[name] if params is None else params), f"test.{name}")


def test_every_op_has_a_table_row():
    rows = set(OP_TABLE) | set(MIXING_ROWS) | set(REFERENCE_ROWS)
    assert rows == set(registry("image")), "add a row to a rows_*.py table for every new op"


@pytest.mark.parametrize("name", sorted(OP_TABLE))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("channels", CHANNELS)
def test_op_contract(name: str, dtype: type, channels: int) -> None:
    op = build(name)
    img = textured(37, 53, channels, dtype)
    before = img.copy()
    info = INFO(img)
    if channels not in op.channels or info["dtype"] not in op.dtypes:
        with pytest.raises(InputError, match=f"{name} does not work on"):
            op.check_input(info)
        return
    op.check_input(info)

    params = op.sample(generator(123), info)
    assert params == op.sample(generator(123), info), "sample must depend only on the generator"
    assert json.loads(json.dumps(params)) == params, "params must be JSON-safe"

    np.random.seed(1)
    out = op.apply(img, params)
    np.random.seed(2)
    again = op.apply(img, params)
    np.testing.assert_array_equal(out, again, err_msg="apply must be pure (no global RNG)")
    np.testing.assert_array_equal(img, before, err_msg="apply must not modify its input")

    assert out.dtype == img.dtype, "no silent dtype conversion"
    assert out.ndim == img.ndim and out.shape[2:] == img.shape[2:], "channels are kept"
    if op.keeps_size:
        assert out.shape == img.shape
    if dtype == np.uint16:
        assert out.max() > 255, "16-bit data must not be squeezed into 8 bits"
    if channels == 4 and op.group in ("color", "filter", "noise", "scanner"):
        np.testing.assert_array_equal(out[..., 3], img[..., 3], err_msg="alpha is left alone")


@pytest.mark.parametrize("name", sorted(OP_TABLE))
def test_op_pickles_and_describes(name: str) -> None:
    import pickle

    op = build(name)
    clone = pickle.loads(pickle.dumps(op))
    img = textured(20, 24, 3, np.uint8)
    params = op.sample(generator(5), INFO(img))
    np.testing.assert_array_equal(op.apply(img, params), clone.apply(img, params))
    desc = type(op).describe()
    assert desc["summary"] and "p" in desc["params"]
    json.dumps(desc)


# -- exact values --------------------------------------------------------------------------
def test_flips_are_exact():
    img = textured(5, 7, 3, np.uint8)
    np.testing.assert_array_equal(build("hflip").apply(img, {}), img[:, ::-1])
    np.testing.assert_array_equal(build("vflip").apply(img, {}), img[::-1])


@pytest.mark.parametrize("channels", CHANNELS)
def test_rotate_90_is_exact_counter_clockwise(channels: int):
    img = textured(9, 9, channels, np.uint16)
    op = build("rotate", {"degrees": 90, "interpolation": "nearest"})
    out = op.apply(img, op.sample(generator(0), INFO(img)))
    np.testing.assert_array_equal(out, np.rot90(img))


def test_rotate_fill_is_in_image_units_and_alpha_is_transparent():
    img = np.full((21, 21, 4), 1000, np.uint16)
    op = build("rotate", {"degrees": 45, "fill": 3000, "border_mode": "constant"})
    out = op.apply(img, op.sample(generator(0), INFO(img)))
    assert tuple(out[0, 0]) == (3000, 3000, 3000, 0)
    assert tuple(out[10, 10]) == (1000, 1000, 1000, 1000)


def test_brightness_is_exact_on_8_bit():
    img = np.array([[0, 100, 230]], np.uint8)
    op = build("brightness_contrast", {"brightness": 0.2, "contrast": 0})
    out = op.apply(img, op.sample(generator(0), INFO(img)))
    np.testing.assert_array_equal(out, [[51, 151, 255]])


def test_brightness_full_scale_follows_the_bit_depth_in_use():
    img = np.array([[0, 1000, 4000]], np.uint16)  # a 12-bit scan stored in 16 bits
    op = build("brightness_contrast", {"brightness": 0.5, "contrast": 0})
    out = op.apply(img, op.sample(generator(0), INFO(img)))
    np.testing.assert_array_equal(out, [[2048, 3048, 4095]])  # +0.5 * 4095, clipped at 4095


def test_contrast_minus_one_flattens_to_the_mean():
    img = np.array([[10, 20, 30, 40]], np.uint8)
    op = build("brightness_contrast", {"brightness": 0, "contrast": -1})
    np.testing.assert_array_equal(op.apply(img, op.sample(generator(0), INFO(img))), [[25] * 4])


def test_scale_sizes_and_nearest_doubling():
    img = textured(10, 20, 3, np.uint8)
    op = build("scale", {"factor": 0.5})
    assert op.apply(img, op.sample(generator(0), INFO(img))).shape == (5, 10, 3)
    small = np.array([[1, 2], [3, 4]], np.uint8)
    op = build("scale", {"factor": 2, "interpolation": "nearest"})
    np.testing.assert_array_equal(
        op.apply(small, op.sample(generator(0), INFO(small))),
        np.repeat(np.repeat(small, 2, 0), 2, 1),
    )


def test_random_crop_full_scale_is_identity_and_size_is_honoured():
    img = textured(30, 40, 3, np.uint8)
    op = build("random_crop", {"scale": 1.0})
    np.testing.assert_array_equal(op.apply(img, op.sample(generator(0), INFO(img))), img)
    op = build("random_crop", {"scale": 0.25, "size": [16, 24]})
    params = op.sample(generator(3), INFO(img))
    assert (params["crop_height"], params["crop_width"]) == (15, 20)
    assert 0 <= params["top"] <= 15 and 0 <= params["left"] <= 20
    assert op.apply(img, params).shape == (16, 24, 3)
    op = build("random_crop", {"scale": 0.25, "size": [15, 20]})
    params = op.sample(generator(3), INFO(img))
    t, left = params["top"], params["left"]
    np.testing.assert_array_equal(op.apply(img, params), img[t : t + 15, left : left + 20])


def test_blur_keeps_constant_images_and_mass():
    flat = np.full((15, 15), 777, np.uint16)
    op = build("gaussian_blur", {"sigma": 1.5})
    np.testing.assert_array_equal(op.apply(flat, {"sigma": 1.5}), flat)
    impulse = np.zeros((31, 31), np.uint16)
    impulse[15, 15] = 60000
    out = op.apply(impulse, {"sigma": 2.0}).astype(np.int64)
    assert abs(int(out.sum()) - 60000) < 60000 * 0.01
    np.testing.assert_array_equal(out, out[::-1, ::-1])  # symmetric
    assert out[15, 15] == out.max() < 60000


def test_sharpen_zero_is_identity_and_positive_raises_local_contrast():
    img = textured(32, 32, 1, np.uint8)
    op = build("sharpen", {"amount": 0})
    np.testing.assert_array_equal(op.apply(img, {"amount": 0.0, "sigma": 1.0}), img)
    lap = lambda a: np.abs(np.diff(a.astype(np.int64), axis=1)).mean()  # noqa: E731
    assert lap(op.apply(img, {"amount": 1.0, "sigma": 1.0})) > lap(img) * 1.2
