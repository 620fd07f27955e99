"""The op contract for every spatial volume op (3-D and 4-D, with a label map), and what each
one promises in physical units: millimetres and degrees mean the same on any grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rows_volume import SPATIAL_ROWS
from volumes import OBLIQUE, SWAPPED, blob_volume, centroid_mm, index_of, physical

pytest.importorskip("SimpleITK")

from augcli.core.errors import InputError, RecipeError
from augcli.core.seeding import generator
from augcli.ops import registry
from augcli.volume.base import Volume
from augcli.volume.modality import VolumeModality

INFO = VolumeModality({}).info


def build(name: str, params: dict | None = None):
    cls = registry("volume")[name]
    return cls.from_recipe(dict(SPATIAL_ROWS[name] if params is None else params), f"t.{name}")


def run(name: str, vol: Volume, params: dict | None = None, seed: int = 0) -> tuple[Volume, dict]:
    op = build(name, params)
    drawn = op.sample(generator(seed), INFO(vol))
    return op.apply(vol, drawn), drawn


def small() -> Volume:
    """A 40x40x8 oblique CT-like volume with a two-valued label (1 left of centre, 2 right)."""
    vol = blob_volume(shape_zyx=(8, 40, 40), radius_mm=6.0, centre_offset_mm=(3.0, -2.0, 4.0))
    label = vol.label.copy()
    label[:, :, 20:] *= 2
    return vol.with_array(vol.array, label=label)


def four_d(vol: Volume) -> Volume:
    """Three identical frames: a 4-D scan on which every frame must get the same draw."""
    return vol.with_array(np.stack([vol.array] * 3))


# -- the contract ----------------------------------------------------------------------------
def test_every_spatial_op_has_a_table_row() -> None:
    spatial = {n for n, c in registry("volume").items() if getattr(c, "spatial", False)}
    assert spatial == set(SPATIAL_ROWS), "add a row to tests/rows_volume.py"


@pytest.mark.parametrize("frames", [False, True], ids=["3d", "4d"])
@pytest.mark.parametrize("name", sorted(SPATIAL_ROWS))
def test_op_contract(name: str, frames: bool) -> None:
    op = build(name)
    assert op.modality == "volume" and op.spatial and op.group == "spatial"
    vol = four_d(small()) if frames else small()
    before, label_before = vol.array.copy(), vol.label.copy()
    info = INFO(vol)
    op.check_input(info)
    params = op.sample(generator(5), info)
    assert params == op.sample(generator(5), info), "sample must depend only on the generator"
    assert json.loads(json.dumps(params)) == params, "params must be JSON-safe"
    out = op.apply(vol, params)
    again = op.apply(vol, params)
    assert np.array_equal(vol.array, before) and np.array_equal(vol.label, label_before)
    assert np.array_equal(out.array, again.array) and np.array_equal(out.label, again.label)
    assert out.array.dtype == vol.array.dtype and out.label.dtype == vol.label.dtype
    assert out.array.ndim == vol.array.ndim and out.label.shape == out.shape
    assert set(np.unique(out.label)) <= set(np.unique(label_before)), "label values are kept"
    if frames:
        assert all(np.array_equal(out.array[0], f) for f in out.array[1:]), "same draw per frame"
    if name not in ("crop_or_pad", "random_crop"):
        assert (out.spacing, out.origin, out.direction, out.shape) == (
            vol.spacing,
            vol.origin,
            vol.direction,
            vol.shape,
        )
    assert not np.array_equal(out.array, before) or name == "crop_or_pad"


def test_unknown_axis_and_bad_shapes_are_recipe_errors() -> None:
    with pytest.raises(RecipeError, match="is not an axis name"):
        build("flip", {"axes": ["left"]})
    with pytest.raises(RecipeError, match=r"\[x, y, z\] in voxels"):
        build("crop_or_pad", {"shape": [10, 10]})
    with pytest.raises(RecipeError, match="pairs of distinct"):
        build("flip", {"label_swap": [[1, 1]]})


# -- physical units --------------------------------------------------------------------------
@pytest.mark.parametrize("spacing", [(0.7, 0.7, 0.7), (5.0, 5.0, 5.0), (0.7, 0.7, 5.0)])
@pytest.mark.parametrize("axis", ["x", "z"])
def test_a_10_mm_translation_moves_the_blob_10_mm_on_any_grid(spacing, axis) -> None:
    extent = (60.0, 60.0, 60.0)
    shape = tuple(round(e / s) for e, s in zip(extent[::-1], spacing[::-1], strict=True))
    vol = blob_volume(spacing=spacing, shape_zyx=shape, radius_mm=9.0)
    moved, _ = run("affine", vol, {f"translate_{axis}": 10.0})
    shift = centroid_mm(moved, moved.array + 1000.0) - centroid_mm(vol, vol.array + 1000.0)
    want = np.array([10.0, 0, 0]) if axis == "x" else np.array([0, 0, 10.0])
    assert np.allclose(shift, want, atol=0.25), (spacing, shift)
    label_shift = centroid_mm(moved, moved.label) - centroid_mm(vol, vol.label)
    assert np.allclose(label_shift, want, atol=max(spacing) / 2 + 0.1), label_shift


def test_rotation_is_about_the_centre_in_world_axes() -> None:
    """A blob 15 mm to the patient's left (+x) of the centre lands 15 mm posterior (+y) after
    rotate_z 90 degrees, on an oblique grid."""
    vol = blob_volume(
        spacing=(1.0, 1.0, 1.0), shape_zyx=(50, 60, 60), centre_offset_mm=(15, 0, 0), radius_mm=5
    )
    out, params = run("affine", vol, {"rotate_z": 90.0})
    centre = np.asarray(params["centre_mm"])
    before = centroid_mm(vol, vol.label) - centre
    after = centroid_mm(out, out.label) - centre
    assert np.allclose(before, [15, 0, 0], atol=0.5)
    assert np.allclose(after, [0, 15, 0], atol=0.6), after


def test_scale_two_doubles_the_blob_in_mm() -> None:
    vol = blob_volume(spacing=(1.0, 1.0, 2.0), shape_zyx=(30, 60, 60), radius_mm=7)
    out, _ = run("affine", vol, {"scale": 2.0})
    assert out.label.sum() * 1.0 / vol.label.sum() == pytest.approx(8.0, rel=0.1)


@pytest.mark.parametrize("name", ["affine", "elastic", "flip"])
def test_the_label_stays_on_its_anatomy(name: str) -> None:
    """Label 1 is where the image is the blob: after each op, the moved label still covers
    the moved blob (Dice > 0.9), with its values exactly kept."""
    vol = blob_volume(spacing=(0.8, 0.8, 2.0), shape_zyx=(24, 50, 50), centre_offset_mm=(6, -4, 3))
    label = (vol.array > -300).astype(np.uint8) * 7
    vol = vol.with_array(vol.array, label=label)
    params = {
        "affine": {"rotate_z": 20, "rotate_x": -10, "scale": 1.1, "translate_y": 5},
        "elastic": {"max_displacement_mm": 4, "control_points": 5},
        "flip": {"axes": ["LR", "AP"]},
    }[name]
    out, _ = run(name, vol, params, seed=3)
    assert set(np.unique(out.label)) == {0, 7}
    blob = out.array > -300
    moved = out.label == 7
    dice = 2 * (blob & moved).sum() / (blob.sum() + moved.sum())
    assert dice > 0.9, dice
    assert not np.array_equal(out.label, label)


def test_flip_lr_finds_the_axis_from_the_direction_and_swaps_labels() -> None:
    """With a direction whose index x runs along world y, LR is the array's y axis; left and
    right labels (1, 2) trade places."""
    vol = blob_volume(spacing=(1.0, 1.0, 1.0), shape_zyx=(10, 30, 30), direction=SWAPPED)
    label = np.zeros(vol.shape, np.uint8)
    label[:, :10, :] = 1  # one side of the patient
    label[:, 25:, :] = 2  # a smaller structure on the other
    vol = vol.with_array(vol.array, label=label)
    out, params = run("flip", vol, {"axes": "LR", "label_swap": [[1, 2]]})
    assert params["array_axes"] == [1]
    assert np.all(out.label[:, 20:, :] == 2) and np.all(out.label[:, :5, :] == 1)
    assert not out.label[:, 5:20, :].any()
    assert np.array_equal(out.array, vol.array[:, ::-1, :])


def test_elastic_moves_nothing_at_zero_and_little_at_the_maximum() -> None:
    vol = blob_volume(spacing=(1.0, 1.0, 1.0), shape_zyx=(30, 40, 40), radius_mm=8)
    still, _ = run("elastic", vol, {"max_displacement_mm": 0.0, "control_points": 6})
    assert np.array_equal(still.array, vol.array) and np.array_equal(still.label, vol.label)
    bent, _ = run("elastic", vol, {"max_displacement_mm": 3.0, "control_points": 6}, seed=9)
    assert not np.array_equal(bent.label, vol.label)
    shift = np.linalg.norm(centroid_mm(bent, bent.label) - centroid_mm(vol, vol.label))
    assert shift < 3.0 * np.sqrt(3)


def test_anisotropy_blurs_along_its_axis_only() -> None:
    """Stripes along z (1 mm period 4) are washed out by 4x thick slices; the in-plane pattern
    of each slice stays."""
    z, _y, x = np.meshgrid(np.arange(24), np.arange(20), np.arange(20), indexing="ij")
    array = (np.where((z // 2) % 2 == 0, 400, 0) + 10 * x).astype(np.int16)
    vol = Volume(array, (1.0, 1.0, 1.0), (0, 0, 0), OBLIQUE)
    out, params = run("anisotropy", vol, {"axis": "z", "factor": 4.0})
    assert params["slice_mm"] == 4.0
    assert out.array.std(axis=0).mean() < 0.5 * array.std(axis=0).mean()
    assert np.allclose(np.diff(out.array.astype(float), axis=2), 10, atol=1)


def test_crop_or_pad_keeps_every_voxel_where_it_was_in_mm() -> None:
    vol = small()
    out, params = run("crop_or_pad", vol, {"shape": [30, 50, 6]})
    assert out.shape == (6, 50, 30) and params["start"] == [5, -5, 1]
    i0 = np.array([12, 20, 4])
    point = physical(vol, i0[None].astype(float))[0]
    i1 = np.rint(index_of(out, point)).astype(int)
    assert np.array_equal(i1, i0 - np.array(params["start"]))
    assert out.array[i1[2], i1[1], i1[0]] == vol.array[i0[2], i0[1], i0[0]]
    assert out.array[0, 0, 0] == vol.array.min() and out.label[:, :5, :].max() == 0


def test_random_crop_around_the_foreground_always_holds_the_lesion() -> None:
    vol = blob_volume(
        spacing=(1.0, 1.0, 1.0),
        shape_zyx=(40, 64, 64),
        radius_mm=2.0,
        centre_offset_mm=(20, 18, -12),
    )
    assert 0 < vol.label.sum() < 60
    for seed in range(25):
        out, params = run("random_crop", vol, {"shape": [12, 12, 8], "around": "foreground"}, seed)
        assert out.label.sum() > 0, params
        assert out.shape == (8, 12, 12)
    with pytest.raises(InputError, match="needs the case's label map"):
        build("random_crop", {"around": "foreground"}).check_input(
            INFO(vol.with_array(vol.array, label=None))
        )


@pytest.mark.parametrize("name", ["affine", "elastic", "anisotropy"])
def test_outputs_do_not_depend_on_itk_thread_count(name: str) -> None:
    """A worker of a pool runs ITK on one thread, a serial run on all of them: the bytes must
    be the same (odd sizes, so threads split the slabs unevenly)."""
    import SimpleITK as sitk

    vol = blob_volume(spacing=(0.7, 0.77, 3.1), shape_zyx=(37, 61, 53), centre_offset_mm=(3, 2, 1))
    rng = np.random.default_rng(0)
    vol = vol.with_array((vol.array + rng.integers(-50, 50, vol.array.shape)).astype(np.int16))
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    made = []
    try:
        for threads in (1, 3, 8):
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
            out, _ = run(name, vol, seed=4)
            made.append(out.array.tobytes() + out.label.tobytes())
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
    assert made[0] == made[1] == made[2]
