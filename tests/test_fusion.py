"""Consecutive geometric ops are applied as one warp: same result as one at a time, within
interpolation error, and exactly the same for whole-pixel moves."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured

from augcli.graph import parse_section_graph
from augcli.image.modality import ImageModality

INFO = ImageModality({}).info


def run(pipeline: list, img: np.ndarray, seed: int, fuse: bool) -> tuple[np.ndarray, list]:
    graph = parse_section_graph({"pipeline": pipeline}, "image", "image")
    out, log, _ = graph.run(graph.emitters[0], img, lambda node: seed, INFO, {}, None, fuse)
    return out, log


def smooth(h: int, w: int, channels: int, dtype: type) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    top = 255 if dtype == np.uint8 else 4000
    planes = [(0.5 + 0.4 * np.sin(xx / (9 + c) + yy / 13.0)) * top for c in range(channels)]
    img = np.stack(planes, axis=-1).round().astype(dtype)
    return img[..., 0] if channels == 1 else img


@pytest.mark.parametrize("seed", range(8))
def test_whole_pixel_moves_fuse_exactly(seed: int) -> None:
    img = textured(31, 45, 3, np.uint8, seed)
    pipeline = [
        "hflip",
        {"rot90": {"k": [1, 3]}},
        "vflip",
        {"center_crop": {"size": [25, 21]}},
        {"pad": {"pixels": 3}},
    ]
    fused, log = run(pipeline, img, seed, True)
    steps, _ = run(pipeline, img, seed, False)
    np.testing.assert_array_equal(fused, steps)
    assert [e.get("fused") for e in log] == [0, 0, 0, 0, None]  # pad must not see past the crop


CHAINS = [
    [
        {"rotate": {"degrees": [-25, 25], "border_mode": "reflect"}},
        {"scale": {"factor": [1.0, 1.4]}},
    ],
    [
        "hflip",
        {
            "affine": {
                "degrees": [-15, 15],
                "scale": [0.9, 1.1],
                "translate": [-0.05, 0.05],
                "shear": [-5, 5],
                "border_mode": "reflect",
            }
        },
        {"random_crop": {"scale": [0.5, 0.9]}},
    ],
    [
        {"perspective": {"distortion": [0.02, 0.06], "border_mode": "reflect"}},
        "vflip",
        {"rotate": {"degrees": [-10, 10], "border_mode": "reflect"}},
        {"random_resized_crop": {"scale": [0.4, 0.8], "size": [48, 64]}},
    ],
]


@pytest.mark.parametrize("chain", range(len(CHAINS)))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=["u8", "u16"])
@pytest.mark.parametrize("seed", range(6))
def test_fused_warps_match_step_by_step(chain: int, dtype: type, seed: int) -> None:
    img = smooth(60, 80, 3, dtype)
    fused, log = run(CHAINS[chain], img, seed, True)
    steps, _ = run(CHAINS[chain], img, seed, False)
    assert fused.shape == steps.shape and fused.dtype == steps.dtype
    applied = [e for e in log if e["applied"]]
    if len(applied) > 1:
        assert all("fused" in e for e in applied)
    h, w = fused.shape[:2]
    my, mx = h // 6, w // 6  # away from the borders, where step-by-step lost pixels
    diff = np.abs(fused.astype(np.float64) - steps.astype(np.float64))[my:-my, mx:-mx]
    top = 255 if dtype == np.uint8 else 4000
    assert diff.mean() < 0.01 * top, diff.mean()
    assert np.percentile(diff, 99) < 0.06 * top


def test_fusion_is_sharper_than_resampling_twice() -> None:
    img = textured(64, 64, 1, np.uint8)
    pipeline = [
        {"rotate": {"degrees": 7, "border_mode": "reflect"}},
        {"rotate": {"degrees": -7, "border_mode": "reflect"}},
    ]
    fused, _ = run(pipeline, img, 0, True)
    steps, _ = run(pipeline, img, 0, False)
    core = (slice(8, -8), slice(8, -8))
    err_fused = np.abs(fused[core].astype(int) - img[core]).mean()
    err_steps = np.abs(steps[core].astype(int) - img[core]).mean()
    assert err_fused < 0.5 and err_fused < err_steps / 4  # +7 then -7 degrees is the identity


def test_incompatible_settings_and_area_are_not_fused() -> None:
    img = textured(40, 40, 3, np.uint8)
    pipeline = [
        {"rotate": {"degrees": 10, "border_mode": "reflect"}},
        {"rotate": {"degrees": 10, "border_mode": "constant"}},
        {"scale": {"factor": 0.5}},  # auto -> area when shrinking
        "hflip",
    ]
    fused, log = run(pipeline, img, 0, True)
    steps, _ = run(pipeline, img, 0, False)
    assert [e.get("fused") for e in log] == [None, None, None, None]
    np.testing.assert_array_equal(fused, steps)
