"""rgb_shift, auto_contrast and tone_curve: exact values on 8- and 16-bit, against the formula
written out here, identity where their parameters say so."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured

from augcli.ops import registry


def op(name: str, **config):
    return registry("image")[name].from_recipe(config, f"image.pipeline[0].{name}")


@pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 4095)])
def test_rgb_shift_adds_a_fraction_of_full_scale_per_channel(dtype, top) -> None:
    img = textured(9, 12, 3, dtype, 1)
    img[0, 0] = (top, 0, top // 2)  # a 12-bit image when 16-bit
    shift = op("rgb_shift", r=0.1, g=-0.2, b=0.05)
    params = shift.sample(np.random.default_rng(0), {"channels": 3})
    assert params == {"r": 0.1, "g": -0.2, "b": 0.05}
    out = shift.apply(img, params)
    for c, frac in enumerate((0.05, -0.2, 0.1)):  # B, G, R
        want = np.clip(np.rint(img[..., c] + frac * top), 0, top).astype(dtype)
        np.testing.assert_array_equal(out[..., c], want)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_auto_contrast_stretches_each_channel_to_full_scale(dtype) -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(40, 120, (16, 16, 3)).astype(dtype)
    img[..., 2] = 77  # a flat channel is kept
    out = op("auto_contrast").apply(img, {"cutoff": 0.0, "by_channels": True})
    top = 255  # max 119: 16-bit data this dark has a full scale of 255 too
    for c in (0, 1):
        x = img[..., c].astype(np.float64)
        want = np.clip(np.rint((x - x.min()) * top / (x.max() - x.min())), 0, top)
        np.testing.assert_array_equal(out[..., c], want.astype(dtype))
    np.testing.assert_array_equal(out[..., 2], img[..., 2])
    joint = op("auto_contrast").apply(img, {"cutoff": 0.0, "by_channels": False})
    lo, hi = float(img.min()), float(img.max())
    want = np.clip(np.rint((img.astype(np.float64) - lo) * top / (hi - lo)), 0, top)
    np.testing.assert_array_equal(joint, want.astype(dtype))


def test_auto_contrast_cutoff_ignores_the_outliers() -> None:
    img = np.full((10, 10), 100, np.uint8)
    img[:5] = 150
    img[0, 0], img[9, 9] = 0, 255  # 1 % at each end
    out = op("auto_contrast").apply(img, {"cutoff": 1.0, "by_channels": True})
    assert out[1, 1] == 255 and out[8, 8] == 0  # 100..150 now spans the whole range


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_tone_curve_without_moves_is_the_identity_and_its_draw_replays(dtype) -> None:
    img = textured(11, 13, 3, dtype, 5)
    flat = op("tone_curve", scale=0.0)
    params = flat.sample(np.random.default_rng(0), {"channels": 3})
    assert params["low_y"] == [0.25] and params["high_y"] == [0.75]
    np.testing.assert_array_equal(flat.apply(img, params), img)
    bent = op("tone_curve", scale=0.2, per_channel=True)
    drawn = bent.sample(np.random.default_rng(7), {"channels": 3})
    assert len(drawn["low_y"]) == 3 and drawn != params
    out = bent.apply(img, drawn)
    np.testing.assert_array_equal(out, bent.apply(img, dict(drawn)))
    assert not np.array_equal(out, img)


def test_the_tone_curve_passes_its_control_points_end_to_end() -> None:
    from augcli.image.ops.tone import curve

    lifted = curve(0.5, 0.9, 256)  # both control points raised: brighter mid-tones
    assert lifted[0] == 0.0 and lifted[-1] == 1.0
    assert lifted[128] > 0.6 and np.all(np.diff(lifted) >= 0)
    same = curve(0.25, 0.75, 1001)
    np.testing.assert_allclose(same, np.linspace(0, 1, 1001), atol=1e-12)
