"""The image section's ``units: physical``: lengths in mm through PixelSpacing (at the image's
current size), intensities in HU through RescaleSlope/Intercept and the reader's signed offset,
the given values recorded beside the converted ones; non-DICOM inputs and non-square pixels
fail alone with the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import read_manifest, run_augcli, write_recipe

from augcli.core.errors import InputError
from augcli.ops import registry
from augcli.params import physical_units

pydicom = pytest.importorskip("pydicom")
ROOT = Path(__file__).resolve().parents[1]
CT = ROOT / "sample_data/dicom/CT_small.dcm"  # 0.661468 mm pixels, slope 1, intercept -1024
GIVEN = {"length": 3.0, "level": 40.0, "difference": 12.0, "extent": 4.8}
SOURCE = {"spacing": (0.5, 0.5), "slope": 2.0, "intercept": -1024.0, "offset": 2048}
EXPECTED = {"length": 6.0, "level": (40.0 + 1024.0) / 2.0 + 2048, "difference": 6.0}
EXPECTED["extent"] = [4.8 / (0.5 * 96)] * 2  # [x, y]: 9.6 px of 96


def physical_ops() -> list[str]:
    return sorted(
        name
        for name, cls in registry("image").items()
        if any(spec.quantity for spec in cls.params.values())
    )


def config_for(cls: type) -> dict:
    """Every physical param of the op at its GIVEN value (sizes as [h, w]), others default."""
    out = {}
    for key, spec in cls.params.items():
        if not spec.quantity:
            continue
        value = GIVEN[spec.quantity]
        if spec.kind == "size":
            value = [40, 30]
        elif spec.kind == "int":
            value = int(value)
        out[key] = value
    return out


INFO = {"height": 96, "width": 96, "channels": 1, "dtype": "uint16"}


@pytest.mark.parametrize("name", physical_ops())
def test_every_physical_param_of_every_image_op_is_converted(name: str) -> None:
    cls = registry("image")[name]
    with physical_units(True):  # as a section with units: physical parses its ops
        op = cls.from_recipe(config_for(cls), f"image.pipeline[0].{name}")
    info = {**INFO, "units": "physical", "physical": SOURCE, "matrix": np.eye(3)}
    params = op.sample(np.random.default_rng(0), info)
    given = config_for(cls)
    assert params["physical"] == {
        k: [v, v] if cls.params[k].quantity == "extent" else v for k, v in given.items()
    }
    for key in given:
        spec = cls.params[key]
        if spec.kind == "size":
            assert params[key] == [80, 60]
        elif spec.quantity == "extent":  # drawn per axis, then converted
            assert params["physical"][key] == [4.8, 4.8]
            assert params[key] == pytest.approx(EXPECTED["extent"])
        elif key not in params:  # drawn into others: mri_motion's shifts, within 6 px
            assert np.abs(params["translations"]).max() <= EXPECTED["length"]
            assert np.abs(params["translations"]).max() > GIVEN["length"]
        else:
            assert params[key] == pytest.approx(EXPECTED[spec.quantity]), key
    plain = op.sample(np.random.default_rng(0), {**INFO, "matrix": np.eye(3)})
    assert "physical" not in plain
    assert all(plain.get(k, v) in (v, [v, v]) or k == "fill" for k, v in given.items())


def test_a_physical_section_checks_only_the_sign_of_its_lengths_at_load(tmp_path: Path) -> None:
    from augcli.core.errors import RecipeError
    from augcli.recipe import load_recipe

    body = "    - affine: {translate: [-10, 10]}\n    - gaussian_noise: {mean: -100000}\n"
    (tmp_path / "data").mkdir()
    load_recipe(recipe(tmp_path, "ok", body, "physical"))  # 10 mm, -100000 HU offset: checked later
    with pytest.raises(RecipeError, match=r"translate: is out of range \[-1, 1\]"):
        load_recipe(recipe(tmp_path, "raw", body, "stored"))
    negative = "    - gaussian_blur: {sigma: -2}\n"
    with pytest.raises(RecipeError, match=r"sigma: is out of range \(0, inf\]"):
        load_recipe(recipe(tmp_path, "neg", negative, "physical"))


def test_a_length_follows_a_resize_before_it() -> None:
    op = registry("image")["gaussian_blur"].from_recipe({"sigma": 3.0}, "p")
    halved = np.diag([0.5, 0.5, 1.0])  # the image shrunk to half: its pixels are 1 mm
    info = {**INFO, "units": "physical", "physical": SOURCE, "matrix": halved}
    assert op.sample(np.random.default_rng(0), info)["sigma"] == pytest.approx(3.0)


def test_one_length_on_non_square_pixels_and_a_png_are_refused_with_the_reason() -> None:
    op = registry("image")["gaussian_blur"].from_recipe({"sigma": 3.0}, "p")
    oblong = {**SOURCE, "spacing": (0.5, 0.7)}
    info = {**INFO, "units": "physical", "physical": oblong, "matrix": np.eye(3)}
    with pytest.raises(InputError, match=r"0.5 x 0.7 mm \(not square\)"):
        op.sample(np.random.default_rng(0), info)
    with pytest.raises(InputError, match="not a DICOM"):
        op.sample(np.random.default_rng(0), {**INFO, "units": "physical", "physical": None})
    big = registry("image")["gaussian_blur"].from_recipe({"sigma": 40.0}, "p")
    with pytest.raises(InputError, match=r"80 px on this image, outside the op's range"):
        big.sample(np.random.default_rng(0), {**info, "physical": SOURCE})


def recipe(tmp_path: Path, name: str, body: str, units: str) -> Path:
    return write_recipe(
        tmp_path / f"{name}.yaml",
        f"input: {tmp_path / 'data'}\noutput: {tmp_path / name}\ncopies: 1\nseed: 3\n"
        f"image:\n  format: png\n  units: {units}\n  pipeline:\n{body}",
    )


def test_a_ct_window_in_hu_makes_the_pixels_of_the_same_window_in_stored_levels(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(CT, data / "ct.dcm")
    hu = "    - rescale: {by: window, center: 40, width: 400}\n    - gaussian_blur: {sigma: 1.322936}\n"
    stored = (
        "    - rescale: {by: window, center: 1064, width: 400}\n    - gaussian_blur: {sigma: 2.0}\n"
    )
    for name, body, units in (("hu", hu, "physical"), ("raw", stored, "stored")):
        proc = run_augcli("expand", str(recipe(tmp_path, name, body, units)))
        assert proc.returncode == 0, proc.stderr
    (a,) = read_manifest(tmp_path / "hu")
    pixels = [pydicom.dcmread(tmp_path / d / "ct__aug_0.dcm").pixel_array for d in ("hu", "raw")]
    assert np.array_equal(*pixels)  # the files differ in their new series' UIDs only
    window, blur = a["ops"]
    assert window["params"]["center"] == 1064.0 and window["params"]["width"] == 400.0
    assert window["params"]["physical"] == {"center": 40, "width": 400}
    assert blur["params"]["sigma"] == pytest.approx(2.0) and blur["params"]["physical"]
    replay = run_augcli("replay", str(tmp_path / "hu.yaml"), "--to", str(tmp_path / "again"))
    assert replay.returncode == 0, replay.stderr  # the converted params are the whole story


def test_signed_data_takes_the_readers_offset_and_a_png_fails_alone(tmp_path: Path) -> None:
    import cv2

    data = tmp_path / "data"
    data.mkdir()
    ds = pydicom.dcmread(CT)
    ds.PixelData = (ds.pixel_array.astype(np.int32) - 1152).astype("<i2").tobytes()
    ds.save_as(data / "signed.dcm")  # stored -1024..1039: read with an offset of 1024
    assert cv2.imwrite(str(data / "photo.png"), np.zeros((16, 16), np.uint8))
    body = "    - cutout: {holes: 1, size: 0.5, fill: -1000}\n"
    check = run_augcli("validate", str(recipe(tmp_path, "out", body, "physical")))
    said = check.stdout + check.stderr
    assert "image.units: physical, but 1 input(s) are not DICOM" in said, said
    assert "would fail: photo.png." in said
    proc = run_augcli("expand", str(recipe(tmp_path, "out", body, "physical")))
    assert proc.returncode == 1, proc.stderr
    lines = {x["source"]: x for x in read_manifest(tmp_path / "out")}
    assert "not a DICOM" in lines["photo.png"]["error"]
    (cut,) = lines["signed.dcm"]["ops"]
    # -1000 HU is stored 24 (slope 1, intercept -1024); the reader adds 1024 to signed values
    # (the smallest power of two over -min = 1024): 1048 in the pixels ops see
    assert cut["params"]["fill"] == 1048.0 and cut["params"]["physical"] == {"fill": -1000}


def test_a_pad_in_mm_is_not_refused_as_pixels_at_load(tmp_path: Path) -> None:
    from augcli.core.errors import RecipeError
    from augcli.recipe import load_recipe

    body = (
        "    - pad: {pixels: 40000}\n"  # 40,000 px a side is over max_pixels; 40,000 mm is not px
    )
    (tmp_path / "data").mkdir()
    load_recipe(recipe(tmp_path, "mm", body, "physical"))
    with pytest.raises(RecipeError, match="pad makes at least"):
        load_recipe(recipe(tmp_path, "px", body, "stored"))
