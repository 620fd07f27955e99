"""The scanner artefact image ops: the same maths as the volume ops on a slice, exact values,
and a real run (expand, then replay byte for byte) on the 16-bit medical samples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_manifest, textured, write_recipe
from rows_scanner import SCANNER_ROWS
from typer.testing import CliRunner

from augcli import artefacts
from augcli.cli import app
from augcli.core.errors import InputError
from augcli.core.seeding import generator
from augcli.image.modality import ImageModality
from augcli.ops import registry

INFO = ImageModality({"jpeg_quality": 95, "png_compression": 3}).info
runner = CliRunner()


def run(name: str, img: np.ndarray, seed: int = 0, **config) -> tuple[np.ndarray, dict]:
    op = registry("image")[name].from_recipe(config, f"test.{name}")
    info = INFO(img)
    op.check_input(info)
    params = op.sample(generator(seed), info)
    return op.apply(img, params), params


def test_ops_are_listed_by_augcli_ops():
    result = runner.invoke(app, ["ops", "--modality", "image"])
    assert result.exit_code == 0, result.output
    for name in SCANNER_ROWS:
        assert f"image/{name}  [scanner]" in result.output


@pytest.mark.parametrize("name", ["mri_ghosting", "gibbs_ringing", "mri_spike", "mri_motion"])
def test_a_slice_gets_the_volume_maths(name: str):
    """The image op is the shared function on each plane, rounded and clipped to full scale."""
    img = textured(24, 32, 1, np.uint16)
    out, p = run(name, img, **SCANNER_ROWS[name])
    x = img.astype(np.float64)
    if name == "mri_ghosting":
        axis = {"y": 0, "x": 1}[p["axis"]]
        ref = artefacts.ghosting(x, p["num_ghosts"], axis, p["intensity"], p["restore"])
    elif name == "gibbs_ringing":
        ref = artefacts.gibbs(x, p["alpha"])
    elif name == "mri_spike":
        ref = artefacts.spike(x, p["positions"], p["intensity"])
    else:
        ref = artefacts.motion(x, (1, 1), p["angles"], p["translations"], p["times"])
    np.testing.assert_array_equal(out, np.clip(np.rint(ref), 0, 4095).astype(np.uint16))


def test_colour_channels_get_the_same_draw():
    gray = textured(20, 24, 1, np.uint8)
    bgr = np.dstack([gray, gray, gray])
    for name in SCANNER_ROWS:
        out, _ = run(name, bgr, seed=2, **SCANNER_ROWS[name])
        np.testing.assert_array_equal(out[..., 0], out[..., 1], err_msg=name)
        np.testing.assert_array_equal(out[..., 0], out[..., 2], err_msg=name)


def test_rician_noise_on_a_black_16_bit_image():
    img = np.zeros((128, 128), np.uint16)
    out, _ = run("rician_noise", img, std=100.0)
    assert abs(out.mean() - 100 * math.sqrt(math.pi / 2)) < 2.0
    assert out.dtype == np.uint16


def test_bias_field_order_0_scales_every_pixel_alike():
    img = np.full((6, 9), 1000, np.uint16)
    img[0, 0] = 4095  # full scale 4095: a 12-bit scan, clipped there
    out, params = run("bias_field", img, order=0, coefficients=0.3)
    (c,) = params["coefficients"]
    assert np.unique(out[1:]).tolist() == [round(1000 * math.exp(c))]
    assert out[0, 0] == min(4095, round(4095 * math.exp(c)))


def test_patch_swap_keeps_the_histogram_and_alpha():
    img = textured(37, 53, 4, np.uint16)
    out, params = run("patch_swap", img, patch_size=8, num_iterations=30)
    np.testing.assert_array_equal(np.sort(out[..., :3], None), np.sort(img[..., :3], None))
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    assert len(params["pairs"]) == 30 and not np.array_equal(out, img)
    with pytest.raises(InputError, match="do not fit"):
        run("patch_swap", textured(12, 12, 1, np.uint8), patch_size=7)


def test_expand_and_replay_on_16_bit_scans(tmp_path: Path, images: Path):
    recipe = write_recipe(
        tmp_path / "r.yaml",
        """\
input: data
output: out
copies: 2
image:
  include: ["medical/**"]
  pipeline:
    - mri_motion: {degrees: [2, 6], translation: [1, 4]}
    - mri_ghosting: {num_ghosts: [3, 6]}
    - mri_spike: {intensity: [0.1, 0.2], p: 0.5}
    - gibbs_ringing: {alpha: [0.2, 0.4]}
    - bias_field: {coefficients: 0.3}
    - rician_noise: {std: [5, 20]}
    - patch_swap: {patch_size: 6, num_iterations: 10}
""",
    )
    result = runner.invoke(app, ["expand", str(recipe), "-q"])
    assert result.exit_code == 0, result.output
    lines = read_manifest(tmp_path / "out")
    outputs = [line for line in lines if line.get("ops")]
    assert len(outputs) == 6
    for line in outputs:
        img = cv2.imread(str(tmp_path / "out" / line["output"]), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint16, "16-bit scans stay 16-bit"
        applied = {op["op"] for op in line["ops"] if op["applied"]}
        assert {"mri_motion", "gibbs_ringing", "patch_swap"} <= applied
    swap = next(op for op in outputs[0]["ops"] if op["op"] == "patch_swap")
    assert len(json.loads(json.dumps(swap["params"]))["pairs"]) == 10
    result = runner.invoke(app, ["replay", str(recipe), "--to", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert "0 differ" in result.output and "replayed 6 outputs" in result.output


def test_validate_style_warnings_for_rician_std_and_masks():
    op = registry("image")["rician_noise"].from_recipe({"std": [0.01, 0.05]}, "t")
    facts = {"full_scale": 4095, "dtype": "uint16", "two_values": None}
    warning = op.implausible(facts)
    assert "0.05 is below one level" in warning and "= [41, 205]" in warning
    assert registry("image")["rician_noise"].from_recipe({"std": 5}, "t").implausible(facts) is None
    mask = {"full_scale": 255, "dtype": "uint8", "two_values": (0, 1)}
    for name in SCANNER_ROWS:
        op = registry("image")[name].from_recipe(dict(SCANNER_ROWS[name]), "t")
        assert "segmentation mask" in op.implausible(mask), name
