"""shot_noise, iso_noise, grid_dropout and mask_dropout: their statistics, exact patterns,
the objects a mask dropout erases from image and mask alike, and their recorded params."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_augcli, textured, write_recipe

from augcli.core.errors import InputError
from augcli.image.annotate import ImageApplier
from augcli.image.modality import ImageModality
from augcli.image.targets import Annotated
from augcli.ops import registry

INFO = ImageModality({}).info


def op(name: str, **config):
    return registry("image")[name].from_recipe(config, f"image.pipeline[0].{name}")


def test_shot_noise_is_poisson_in_the_photons_a_level_stands_for() -> None:
    img = np.full((200, 200), 2000, np.uint16)
    img[:10] = 0
    img[0, 0] = 4095  # a 12-bit image: full scale 4095
    shot = op("shot_noise", photons=1000.0)
    params = shot.sample(np.random.default_rng(0), INFO(img))
    out = shot.apply(img, params).astype(np.float64)
    assert (out[1:10] == 0).all(), "black caught no light: it stays black"
    body = out[10:]
    counts = 1000.0 * 2000 / 4095  # 488 photons on average
    step = 4095 / 1000.0
    assert body.mean() == pytest.approx(2000, rel=0.005)
    assert body.var() == pytest.approx(counts * step**2, rel=0.05)
    np.testing.assert_array_equal(shot.apply(img, params), shot.apply(img, dict(params)))


def test_iso_noise_jitters_hue_and_only_brightens_with_grain() -> None:
    img = textured(40, 50, 3, np.uint8, 3)
    iso = op("iso_noise", color_shift=0.0, intensity=0.0)
    still = iso.apply(img, iso.sample(np.random.default_rng(0), INFO(img)))
    assert np.abs(still.astype(int) - img).max() <= 1  # HLS round trip, rounded
    grey = np.full((40, 50, 3), 100, np.uint8)  # no saturation: hue jitter shows nothing
    grain = op("iso_noise", color_shift=0.05, intensity=0.5)
    out = grain.apply(grey, grain.sample(np.random.default_rng(1), INFO(grey)))
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert (out.astype(int) >= 99).all()
    coloured = grain.apply(img, grain.sample(np.random.default_rng(1), INFO(img)))
    assert not np.array_equal(coloured, img)


def test_grid_dropout_blanks_the_same_square_of_every_cell() -> None:
    img = textured(40, 60, 3, np.uint16, 2)
    grid = op("grid_dropout", ratio=0.5, unit=0.25, random_offset=False, fill=3)
    params = grid.sample(np.random.default_rng(0), INFO(img))
    assert (params["unit_px"], params["hole_px"], params["offset"]) == (10, 5, [0, 0])
    out = grid.apply(img, params)
    yy, xx = np.mgrid[0:40, 0:60]
    holes = (yy % 10 < 5) & (xx % 10 < 5)
    assert (out[holes] == 3).all()
    np.testing.assert_array_equal(out[~holes], img[~holes])
    shifted = op("grid_dropout", ratio=0.5, unit=0.25, fill=3)
    p2 = shifted.sample(np.random.default_rng(4), INFO(img))
    dy, dx = p2["offset"]
    moved = ((yy - dy) % 10 < 5) & ((xx - dx) % 10 < 5)
    assert (shifted.apply(img, p2)[moved] == 3).all()


def three_objects() -> Annotated:
    image = textured(30, 40, 3, np.uint8, 6)
    mask = np.zeros((30, 40), np.uint8)
    mask[2:8, 2:8] = 1
    mask[20:26, 2:8] = 1  # a second object of the same class
    mask[10:18, 25:35] = 2
    return Annotated(image, mask)


@pytest.mark.parametrize("seed", range(5))
def test_mask_dropout_erases_whole_objects_from_image_and_mask(seed: int) -> None:
    ann = three_objects()
    drop = op("mask_dropout", max_objects=1, fill=0)
    params = drop.sample(np.random.default_rng(seed), INFO(ann))
    assert params["objects"] == 1
    out = ImageApplier().apply(drop, ann, params, INFO(ann), None)
    gone = (ann.mask != 0) & (out.mask == 0)
    areas = {int(gone.sum())}
    assert areas <= {36, 80} and gone.any(), "exactly one whole object"
    assert (out.image[gone] == 0).all()
    np.testing.assert_array_equal(out.image[~gone], ann.image[~gone])
    np.testing.assert_array_equal(out.mask[~gone], ann.mask[~gone])


def test_mask_dropout_draws_up_to_its_most_and_leaves_an_empty_mask_alone() -> None:
    ann = three_objects()
    drop = op("mask_dropout", max_objects=5)
    counts = {drop.sample(np.random.default_rng(s), INFO(ann))["objects"] for s in range(40)}
    assert counts == {1, 2, 3}
    plain = textured(10, 10, 1, np.uint8)
    params = drop.sample(np.random.default_rng(0), INFO(plain))
    assert params["objects"] == 0
    np.testing.assert_array_equal(drop.apply(plain, params), plain)


def test_mask_dropout_refuses_an_image_with_boxes() -> None:
    from augcli.image.targets import Objects

    ann = three_objects()
    boxed = Annotated(ann.image, ann.mask, Objects(np.array([[1.0, 1.0, 5.0, 5.0]]), ["x"]))
    with pytest.raises(InputError, match="would stay listed"):
        op("mask_dropout").check_input(INFO(boxed))


def test_validate_refuses_mask_dropout_where_the_section_reads_boxes(tmp_path: Path) -> None:
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: {tmp_path}\noutput: {tmp_path / 'out'}\nimage:\n"
        "  boxes: {format: yolo, classes: 2}\n  pipeline:\n    - hflip: {}\n"
        "    - one_of:\n        - cutout: {}\n        - mask_dropout: {}\n",
    )
    proc = run_augcli("validate", str(recipe))
    assert proc.returncode == 2, proc.stdout
    assert "image.pipeline[1].one_of[1].mask_dropout" in proc.stderr, proc.stderr
    assert "image.boxes gives these images boxes" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
