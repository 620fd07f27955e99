"""Exact values for the colour, kernel-filter and noise/degradation image ops."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured
from numpy.lib.stride_tricks import sliding_window_view
from rows_pixel import PIXEL_ROWS

from augcli.core.errors import InputError, RecipeError
from augcli.core.seeding import generator
from augcli.image.modality import ImageModality
from augcli.image.ops.filters import emboss_kernel, motion_kernel
from augcli.image.ops.histogram import clahe_plane, equalize_plane
from augcli.image.ops.pixel import median_blur, normal_noise
from augcli.ops import registry

INFO = ImageModality({"jpeg_quality": 95, "png_compression": 3}).info
# Every pixel op except the two that existed before and clip to the dtype's maximum.
# mask_dropout does nothing without a mask: tests/test_sensor_dropout.py gives it one
NEW_OPS = sorted(
    set(PIXEL_ROWS) - {"brightness_contrast", "gaussian_blur", "sharpen", "mask_dropout"}
)


def build(name: str, **config):
    return registry("image")[name].from_recipe(config, f"test.{name}")


def run(name: str, img: np.ndarray, seed: int = 0, **config) -> tuple[np.ndarray, dict]:
    """Build from recipe params, check the input, sample and apply: the engine's path."""
    op = build(name, **config)
    info = INFO(img)
    op.check_input(info)
    params = op.sample(generator(seed), info)
    return op.apply(img, params), params


def a8(*values: int) -> np.ndarray:
    return np.array([values], np.uint8)


def a16(*values: int) -> np.ndarray:
    return np.array([values], np.uint16)


# -- every new op ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NEW_OPS)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16_bit_stays_16_bit_and_within_its_full_scale(name: str, channels: int) -> None:
    op = build(name, **PIXEL_ROWS[name])
    img = textured(40, 48, channels, np.uint16)  # 12-bit data: full scale 4095
    info = INFO(img)
    if channels not in op.channels or info["dtype"] not in op.dtypes:
        pytest.skip("refused combination (checked in test_refusals)")
    out = op.apply(img, op.sample(generator(1), info))
    assert out.dtype == np.uint16 and out[..., :3].max() > 255
    color = out[..., :3] if channels == 4 else out
    assert color.max() <= 4095, "a 12-bit scan must stay within 12 bits"


@pytest.mark.parametrize("name", NEW_OPS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_alpha_is_left_alone_by_every_pixel_op(name: str, dtype: type) -> None:
    op = build(name, **PIXEL_ROWS[name])
    img = textured(30, 36, 4, dtype)
    info = INFO(img)
    if info["dtype"] not in op.dtypes:
        pytest.skip("refused combination")
    out = op.apply(img, op.sample(generator(2), info))
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    assert not np.array_equal(out[..., :3], img[..., :3]), "the op must do something"


@pytest.mark.parametrize("name", NEW_OPS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (3, 2)])
def test_tiny_images(name: str, shape: tuple[int, int]) -> None:
    op = build(name, **PIXEL_ROWS[name])
    for channels in op.channels:
        img = textured(*shape, channels, np.uint8)
        out = op.apply(img, op.sample(generator(0), INFO(img)))
        assert out.shape == img.shape and out.dtype == img.dtype


@pytest.mark.parametrize(
    ("name", "channels", "dtype", "message"),
    [
        ("hsv", 1, np.uint8, "hsv does not work on 1-channel images"),
        ("channel_shuffle", 1, np.uint16, "channel_shuffle does not work on 1-channel images"),
        ("jpeg_compression", 3, np.uint16, "jpeg_compression does not work on uint16 images"),
    ],
)
def test_refusals(name: str, channels: int, dtype: type, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build(name).check_input(INFO(textured(8, 8, channels, dtype)))


# -- colour ----------------------------------------------------------------------------------
def test_gamma_is_exact_and_one_is_identity():
    out, _ = run("gamma", a8(0, 51, 128, 255), gamma=2.0)
    np.testing.assert_array_equal(out, a8(0, 10, 64, 255))  # 255 * (x / 255) ** 2
    out, _ = run("gamma", a16(0, 1000, 4000), gamma=2.0)  # 12-bit data: full scale 4095
    np.testing.assert_array_equal(out, a16(0, 244, 3907))
    for dtype in (np.uint8, np.uint16):
        img = textured(20, 20, 3, dtype)
        np.testing.assert_array_equal(run("gamma", img, gamma=1.0)[0], img)


def test_invert_uses_full_scale():
    np.testing.assert_array_equal(run("invert", a8(0, 10, 255))[0], a8(255, 245, 0))
    np.testing.assert_array_equal(run("invert", a16(0, 1000, 4000))[0], a16(4095, 3095, 95))
    np.testing.assert_array_equal(run("invert", a16(0, 40000, 65535))[0], a16(65535, 25535, 0))


def test_posterize_keeps_the_top_bits_of_the_bit_depth():
    out, _ = run("posterize", a8(0, 15, 16, 200, 255), bits=4)
    np.testing.assert_array_equal(out, a8(0, 0, 16, 192, 240))
    out, _ = run("posterize", a16(4095, 1000, 2049), bits=4)  # 12-bit: keeps bits 11..8
    np.testing.assert_array_equal(out, a16(3840, 768, 2048))
    img = textured(10, 10, 3, np.uint8)
    np.testing.assert_array_equal(run("posterize", img, bits=8)[0], img)


def test_solarize_threshold_is_a_fraction_of_full_scale():
    out, _ = run("solarize", a8(0, 127, 128, 200, 255), threshold=0.5)
    np.testing.assert_array_equal(out, a8(0, 127, 127, 55, 0))
    out, _ = run("solarize", a16(100, 2047, 2048, 4000), threshold=0.5)
    np.testing.assert_array_equal(out, a16(100, 2047, 2047, 95))
    img = textured(10, 10, 1, np.uint8)
    np.testing.assert_array_equal(run("solarize", img, threshold=1.0)[0], img)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_hsv_zero_is_identity(dtype: type):
    img = textured(24, 32, 3, dtype)
    out, params = run("hsv", img, hue=0, saturation=0, value=0)
    assert params == {"hue": 0.0, "saturation": 0.0, "value": 0.0}
    assert np.abs(out.astype(np.int64) - img).max() <= 1
    out, _ = run("hsv", img, hue=360, saturation=0, value=0)
    assert np.abs(out.astype(np.int64) - img).max() <= 1


def test_hsv_hue_saturation_and_value():
    red, green = [0, 0, 255], [0, 255, 0]
    img = np.array([[red, [40, 40, 200]]], np.uint8)
    np.testing.assert_array_equal(run("hsv", img, hue=120, saturation=0, value=0)[0][0, 0], green)
    gray = run("hsv", img, hue=0, saturation=-1, value=0)[0]
    np.testing.assert_array_equal(gray, [[[255] * 3, [200] * 3]])  # S = 0: every channel is V
    np.testing.assert_array_equal(run("hsv", img, hue=0, saturation=0, value=-1)[0], 0 * img)
    half = run("hsv", img, hue=0, saturation=0, value=-0.5)[0]
    np.testing.assert_array_equal(half, [[[0, 0, 128], [20, 20, 100]]])
    vivid = run("hsv", np.array([[[40, 120, 200]]], np.uint8), hue=0, saturation=1, value=0)[0]
    np.testing.assert_array_equal(vivid, [[[0, 100, 200]]])  # S 0.8 -> capped at 1, hue kept
    deep = np.array([[[1000, 2000, 4000]]], np.uint16)  # 12-bit
    out = run("hsv", deep, hue=0, saturation=0, value=0.5)[0]
    np.testing.assert_array_equal(out, [[[1500, 3000, 4095]]])  # clipped at full scale


def test_channel_shuffle_is_a_recorded_permutation():
    img = textured(10, 12, 4, np.uint16)
    orders = set()
    for seed in range(20):
        out, params = run("channel_shuffle", img, seed=seed)
        order = params["order"]
        assert sorted(order) == [0, 1, 2]
        for i, src in enumerate(order):
            np.testing.assert_array_equal(out[..., i], img[..., src])
        np.testing.assert_array_equal(out[..., 3], img[..., 3])
        orders.add(tuple(order))
    assert len(orders) >= 4, "the permutation must be drawn per output"


def test_grayscale_keeps_channels_and_is_a_noop_on_gray():
    img = np.array([[[30, 60, 90], [255, 0, 0]]], np.uint8)
    out = run("grayscale", img, method="average")[0]
    np.testing.assert_array_equal(out, [[[60] * 3, [85] * 3]])
    out = run("grayscale", img, method="max")[0]
    np.testing.assert_array_equal(out, [[[90] * 3, [255] * 3]])
    out = run("grayscale", img)[0]  # BT.601: 0.114 B + 0.587 G + 0.299 R
    np.testing.assert_array_equal(out[0, 1], [29] * 3)
    assert abs(int(out[0, 0, 0]) - round(0.114 * 30 + 0.587 * 60 + 0.299 * 90)) <= 1
    deep = np.array([[[1000, 2000, 4000, 777]]], np.uint16)
    np.testing.assert_array_equal(
        run("grayscale", deep, method="average")[0], [[[2333, 2333, 2333, 777]]]
    )
    flat = textured(9, 9, 1, np.uint16)
    np.testing.assert_array_equal(run("grayscale", flat)[0], flat)


def test_clahe_matches_opencv_on_8_bit_and_means_the_same_on_16_bit():
    import cv2

    g8 = textured(128, 160, 1, np.uint8)  # 4 x 4 tiles of 1280 pixels: the clip limit bites
    want = cv2.createCLAHE(2.0, (4, 4)).apply(g8)
    np.testing.assert_array_equal(run("clahe", g8, clip_limit=2.0, tile_grid=4)[0], want)
    # The same picture as a 12-bit scan: OpenCV's result within rounding, within 12 bits.
    g12 = g8.astype(np.uint16) * 16 + 15
    out12 = run("clahe", g12, clip_limit=2.0, tile_grid=4)[0]
    assert 255 < out12.max() <= 4095
    assert np.abs(out12 / 4095 * 255 - want).max() < 1.0
    # ... and scaled to the full 16-bit range: values inside a bin interpolate its mass.
    g16 = (g8.astype(np.uint16) << 8) | g8
    diff = np.abs(run("clahe", g16, clip_limit=2.0, tile_grid=4)[0] / 65535 * 255 - want)
    assert diff.mean() < 1.0 and diff.max() < 4
    for shape, grid in [((37, 53), 8), ((40, 53), 3), ((5, 5), 8)]:  # OpenCV's padding
        g = textured(*shape, 1, np.uint8)
        want = cv2.createCLAHE(3.0, (grid, grid)).apply(g)
        got = clahe_plane(g.astype(np.uint16) * 16 + 15, 4095, 3.0, grid)
        assert np.abs(got / 4095 * 255 - want).max() < 1.0


def test_clahe_on_colour_changes_lightness_only():
    img = textured(48, 48, 3, np.uint16)
    out = run("clahe", img, clip_limit=3.0)[0]
    assert out.max() <= 4095 and not np.array_equal(out, img)
    hue = lambda a: np.argmax(a, axis=2)  # noqa: E731 - the dominant channel is kept
    assert (hue(out) == hue(img)).mean() > 0.95


def test_equalize_follows_opencv_on_any_bit_depth():
    import cv2

    g8 = textured(40, 40, 1, np.uint8)
    np.testing.assert_array_equal(run("equalize", g8)[0], cv2.equalizeHist(g8))
    np.testing.assert_array_equal(equalize_plane(g8.astype(np.uint16), 255), cv2.equalizeHist(g8))
    # levels 0 (x2), 1000, 4000 of a 12-bit scan -> 0, 4095/2, 4095
    out = run("equalize", np.array([[0, 0, 1000, 4000]], np.uint16))[0]
    np.testing.assert_array_equal(out, [[0, 0, 2048, 4095]])
    flat = np.full((5, 5), 3000, np.uint16)
    np.testing.assert_array_equal(run("equalize", flat)[0], flat)
    img = textured(30, 30, 3, np.uint16)
    out = run("equalize", img, by_channels=False)[0]
    assert out.max() <= 4095 and out.max() > 4000 and out.min() < 300


# -- kernel filters --------------------------------------------------------------------------
def test_box_blur_spreads_an_impulse_evenly():
    img = np.zeros((7, 7), np.uint16)
    img[3, 3] = 9000
    out = run("box_blur", img, size=3)[0]
    want = np.zeros((7, 7), np.uint16)
    want[2:5, 2:5] = 1000
    np.testing.assert_array_equal(out, want)


def test_odd_sizes_are_enforced_and_ranges_draw_odd_values_only():
    with pytest.raises(RecipeError, match="must be an odd number of pixels"):
        build("box_blur", size=4)
    with pytest.raises(RecipeError, match=r"test\.median_blur\.size"):
        build("median_blur", size=[6, 6])
    op = build("motion_blur", length=[4, 9])
    drawn = {op.sample(generator(s), {})["length"] for s in range(60)}
    assert drawn == {5, 7, 9}


def brute_median(x: np.ndarray, k: int) -> np.ndarray:
    windows = sliding_window_view(np.pad(x, k // 2, mode="edge"), (k, k))
    return np.median(windows, axis=(-2, -1)).astype(x.dtype)


@pytest.mark.parametrize(("top", "size"), [(4095, 7), (65535, 9), (200, 7), (65535, 3)])
def test_median_blur_is_exact_on_16_bit_for_any_size(top: int, size: int):
    rng = np.random.default_rng(top + size)
    x = rng.integers(0, top + 1, (40, 61)).astype(np.uint16)
    np.testing.assert_array_equal(median_blur(x, size), brute_median(x, size))
    img = np.dstack([x, x[::-1], x[:, ::-1]])
    out = run("median_blur", img, size=size)[0]
    np.testing.assert_array_equal(out[..., 1], brute_median(x[::-1], size))


def test_median_blur_removes_salt():
    img = np.full((9, 9), 100, np.uint8)
    img[4, 4] = 255
    np.testing.assert_array_equal(run("median_blur", img, size=3)[0], np.full((9, 9), 100))


def test_motion_blur_is_a_line():
    import cv2

    img = textured(20, 24, 3, np.uint8)
    out = run("motion_blur", img, length=5, angle=0)[0]
    np.testing.assert_array_equal(out, cv2.blur(img, (5, 1), borderType=cv2.BORDER_REFLECT_101))
    out = run("motion_blur", img, length=3, angle=90)[0]
    np.testing.assert_array_equal(out, cv2.blur(img, (1, 3), borderType=cv2.BORDER_REFLECT_101))
    k = motion_kernel(7, 45)
    assert abs(k.sum() - 1) < 1e-6 and k[1, 5] > 0.1 and k[1, 1] == 0  # up-right diagonal
    flat = np.full((12, 12), 3000, np.uint16)
    np.testing.assert_array_equal(run("motion_blur", flat, length=9, angle=30)[0], flat)


def test_unsharp_mask_threshold_and_identity():
    img = textured(32, 32, 1, np.uint16)
    np.testing.assert_array_equal(run("unsharp_mask", img, amount=0)[0], img)
    np.testing.assert_array_equal(run("unsharp_mask", img, amount=2, threshold=1.0)[0], img)
    sharp = run("unsharp_mask", img, sigma=1.0, amount=1.0, threshold=0)[0]
    plain = run("sharpen", img, sigma=1.0, amount=1.0)[0]  # the same formula without a threshold
    np.testing.assert_array_equal(sharp, np.minimum(plain, 4095))
    step = np.zeros((8, 16), np.uint8)
    step[:, 8:] = 200
    step[2, 2] = 3  # tiny detail below the threshold
    out = run("unsharp_mask", step, sigma=1.0, amount=1.0, threshold=0.1)[0]
    assert out[2, 2] == 3 and out[5, 7] == 0 and out[5, 8] > 200


def test_emboss_kernel_and_flat_areas():
    k = emboss_kernel(0.5, 1.0)
    np.testing.assert_allclose(k, [[-1.5, -0.5, 0], [-0.5, 1, 0.5], [0, 0.5, 1.5]])
    assert abs(emboss_kernel(0.7, 0.3).sum() - 1) < 1e-6
    flat = np.full((10, 10, 3), 2500, np.uint16)
    np.testing.assert_array_equal(run("emboss", flat, strength=1.0, alpha=1.0)[0], flat)
    img = textured(16, 16, 3, np.uint8)
    np.testing.assert_array_equal(run("emboss", img, alpha=0.0)[0], img)
    assert not np.array_equal(run("emboss", img, alpha=0.5)[0], img)


# -- noise and degradation -------------------------------------------------------------------
def test_normal_noise_is_standard_normal():
    n = normal_noise(7, (400, 500)).astype(np.float64)
    assert abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    assert abs((np.abs(n) < 1).mean() - 0.6827) < 0.005
    np.testing.assert_array_equal(n, normal_noise(7, (400, 500)))
    assert not np.array_equal(n, normal_noise(8, (400, 500)))


def test_gaussian_noise_std_is_in_intensity_units_on_16_bit():
    img = np.full((200, 200, 3), 20000, np.uint16)
    img[0, 0] = 60000  # full scale 65535: no clipping near 20000
    out, params = run("gaussian_noise", img, std=500, mean=100)
    assert isinstance(params["noise_seed"], int) and params["std"] == 500.0
    diff = out.astype(np.float64)[1:] - 20000
    assert abs(diff.std() - 500) < 10 and abs(diff.mean() - 100) < 5
    assert not np.array_equal(out[..., 0], out[..., 1]), "per_channel: channels differ"
    again = run("gaussian_noise", img, std=500, per_channel=False)[0]
    np.testing.assert_array_equal(again[..., 0], again[..., 2])
    assert not np.array_equal(again[..., 0], img[..., 0])


def test_gaussian_noise_zero_is_identity_and_clips_to_full_scale():
    img = textured(30, 30, 3, np.uint16)
    np.testing.assert_array_equal(run("gaussian_noise", img, std=0, mean=0)[0], img)
    out = run("gaussian_noise", img, std=300)[0]
    assert out.max() == 4095 and out.min() == 0  # clipped to the 12-bit range, not beyond


def test_speckle_noise_scales_with_the_value():
    img = np.full((200, 200), 10000, np.uint16)
    img[:, :100] = 1000
    out = run("speckle_noise", img, std=0.05)[0].astype(np.float64)
    assert abs(out[:, 100:].std() - 500) < 15 and abs(out[:, :100].std() - 50) < 3
    np.testing.assert_array_equal(run("speckle_noise", img, std=0)[0], img)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_salt_pepper_amount_and_values(dtype: type):
    img = np.full((200, 200, 4), 100, dtype)
    img[0, 0, :3] = 4000 if dtype == np.uint16 else 200  # 12-bit or 8-bit data
    top = 4095 if dtype == np.uint16 else 255
    out, _ = run("salt_pepper", img, amount=0.1, salt_vs_pepper=0.25)
    hit = (out[..., :3] != img[..., :3]).any(axis=2)
    assert abs(hit.mean() - 0.1) < 0.01
    salt = (out[..., :3] == top).all(axis=2)
    pepper = (out[..., :3] == 0).all(axis=2)
    assert (salt | pepper)[hit].all(), "a hit sets the whole pixel to salt or pepper"
    assert abs(salt.sum() / hit.sum() - 0.25) < 0.04
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    chan = run("salt_pepper", img, amount=0.1, per_channel=True)[0]
    partial = (chan[..., :3] != img[..., :3]).sum(axis=2)
    assert ((partial > 0) & (partial < 3)).any()


def test_jpeg_compression_differs_but_stays_close():
    import cv2

    img = textured(64, 64, 4, np.uint8)
    smooth = cv2.GaussianBlur(img[..., :3], (5, 5), 1.5)  # JPEG keeps smooth images well
    img[..., :3] = smooth
    out, params = run("jpeg_compression", img, quality=90)
    assert params == {"quality": 90}
    err = np.abs(out[..., :3].astype(np.int64) - smooth).mean()
    assert 0 < err < 4  # mostly chroma subsampling: the channels are different sines
    worse = run("jpeg_compression", img, quality=10)[0]
    assert np.abs(worse[..., :3].astype(np.int64) - img[..., :3]).mean() > err
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    gray = textured(16, 16, 1, np.uint8)
    assert run("jpeg_compression", gray)[0].shape == (16, 16)


def test_downscale_keeps_size_and_loses_detail():
    blocks = np.repeat(np.repeat(textured(8, 10, 3, np.uint16), 2, 0), 2, 1)
    out = run("downscale", blocks, factor=0.5, interpolation="nearest")[0]
    np.testing.assert_array_equal(out, blocks)  # 2x2 blocks survive a halving exactly
    fine = np.random.default_rng(0).integers(0, 256, (40, 44), dtype=np.uint8)  # all detail
    out = run("downscale", fine, factor=0.25)[0]
    assert out.shape == fine.shape
    assert out.std() < fine.std() * 0.5  # area-shrinking by 4 averages 16 pixels


def test_cutout_fills_the_recorded_boxes_only():
    img = textured(50, 80, 4, np.uint16)
    out, params = run("cutout", img, seed=3, holes=3, size=0.2, fill=3000)
    assert params["holes"] == 3 and len(params["boxes"]) == 3
    inside = np.zeros((50, 80), bool)
    for top, left, h, w in params["boxes"]:
        assert h == w == 10 and 0 <= top <= 40 and 0 <= left <= 70
        inside[top : top + h, left : left + w] = True
    assert (out[inside][:, :3] == 3000).all()
    np.testing.assert_array_equal(out[~inside], img[~inside])
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    positions = {tuple(map(tuple, run("cutout", img, seed=s)[1]["boxes"])) for s in range(5)}
    assert len(positions) == 5, "positions are drawn per output"
    np.testing.assert_array_equal(run("cutout", img, holes=0)[0], img)


def test_rescale_window_maps_the_window_onto_full_scale_and_clips_outside() -> None:
    g12 = np.array([[0, 1000, 1064, 1264, 1464, 4095]], np.uint16)  # a 12-bit CT row
    out, _ = run("rescale", g12, by="window", center=1064.0, width=400.0)
    # window 864..1264 -> 0..4095: below and above clip, the centre lands mid-scale
    want = np.rint((np.clip(g12.astype(float), 864, 1264) - 864) / 400 * 4095).astype(np.uint16)
    np.testing.assert_array_equal(out, want)
    assert out.dtype == np.uint16 and out[0, 2] == 2048 and out.max() == 4095
    half, _ = run("rescale", a8(0, 128, 255), by="window", center=128.0, width=256.0, out_max=0.5)
    np.testing.assert_array_equal(half, a8(0, 64, 127))


def test_rescale_percentiles_match_the_volume_op_on_one_slice() -> None:
    """The 2-D op and the volume op share artefacts.rescale: the same range and mapping."""
    from augcli.volume.base import Volume

    rng = np.random.default_rng(1)
    img = rng.integers(0, 4096, (24, 32)).astype(np.uint16)
    img[0, 0] = 4095  # full scale 4095
    out, _ = run("rescale", img, low_percentile=2.0, high_percentile=98.0)
    vol = Volume(
        img[None].astype(np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), tuple(np.eye(3).ravel())
    )
    op = registry("volume")["rescale"].from_recipe(
        {"by": "percentiles", "low_percentile": 2.0, "high_percentile": 98.0, "out_max": 4095.0},
        "test.rescale",
    )
    want = op.apply(vol, op.sample(generator(0), {"dtype": "float32"})).array[0]
    np.testing.assert_allclose(out, np.rint(want), atol=1)
    lo, hi = np.percentile(img, [2.0, 98.0])
    assert out[img <= lo].max() == 0 and out[img >= hi].min() == 4095


def test_rescale_refuses_an_empty_output_range() -> None:
    with pytest.raises(RecipeError, match="out_min must be below out_max"):
        build("rescale", out_min=0.5, out_max=0.5)
