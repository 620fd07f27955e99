"""Lesions kept and laterality left alone: ``keep_foreground`` (an output that lost its lesion is
drawn again, then failed, never written), ``random_crop: {around: foreground}`` in 2-D, and
``no_mirror`` (mirroring ops refused for some classes, logged as not applied)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_manifest, run_augcli, textured, tree_digest, write_recipe
from typer.testing import CliRunner
from volumes import blob_volume, write_case

from augcli.cli import app
from augcli.core.errors import RecipeError
from augcli.core.seeding import generator
from augcli.image.annotate import ImageApplier, foreground_area
from augcli.image.modality import ImageModality
from augcli.image.targets import Annotated, Objects
from augcli.ops import registry
from augcli.recipe import load_recipe
from augcli.volume.base import IDENTITY

runner = CliRunner()
H = W = 64
LESION = (slice(28, 36), slice(2, 8))  # 8 x 6 pixels near the left edge
INFO = ImageModality({}).info


def lesion_mask(h: int = H, w: int = W) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    mask[LESION] = 1
    return mask


def make_images(root: Path, classes: tuple[str, ...] = ("pos", "neg")) -> None:
    """``images/<class>/s<k>.png`` with masks at ``masks/<class>/s<k>_mask.png``: the lesion in
    every class but ``neg``, whose masks are empty (negative cases)."""
    for cls in classes:
        for k in range(2):
            (root / "images" / cls).mkdir(parents=True, exist_ok=True)
            (root / "masks" / cls).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "images" / cls / f"s{k}.png"), textured(H, W, 3, np.uint8, k))
            mask = lesion_mask() if cls != "neg" else np.zeros((H, W), np.uint8)
            cv2.imwrite(str(root / "masks" / cls / f"s{k}_mask.png"), mask)


def image_recipe(tmp_path: Path, settings: str, pipeline: str, out: str = "out") -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\nseed: 5\ninput: data/images\noutput: {out}\ncopies: 6\nimage:\n"
        f"  masks: {{dir: data/masks, suffix: _mask}}\n{settings}  pipeline:\n{pipeline}",
    )


def expand(recipe: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["expand", str(recipe), "-q", *args])
    return result.exit_code, result.output


# A 58 x 58 window of the 64 x 64 image, not resized: it keeps all of the lesion when its left
# edge is at x <= 2 (3 of its 7 places), so some first draws lose part of it.
CROP = "    - random_crop: {scale: 0.81, size: [58, 58]}\n"


# -- keep_foreground: images -----------------------------------------------------------------
def test_an_output_that_lost_its_lesion_is_drawn_again_until_it_keeps_it(tmp_path: Path) -> None:
    make_images(tmp_path / "data")
    recipe = image_recipe(tmp_path, "  keep_foreground: 0.9\n  retries: 20\n", CROP)
    code, out = expand(recipe)
    assert code == 0, out
    lines = read_manifest(tmp_path / "out")
    positives = [r for r in lines if r["source"].startswith("pos/")]
    assert len(positives) == 12 and all(r["status"] == "ok" for r in positives)
    assert any(r.get("attempt", 0) > 0 for r in positives), "some first draws cut the lesion"
    for rec in positives:
        mask = cv2.imread(str(tmp_path / "out" / rec["annotations"]["mask"]), cv2.IMREAD_UNCHANGED)
        kept = np.count_nonzero(mask) / np.count_nonzero(lesion_mask())
        assert kept >= 0.9 and rec["foreground_kept"] == pytest.approx(kept, abs=1e-4)
        assert rec["ops"][0]["params"]["left"] <= 2
    # without the setting, the same seeds write outputs that lost part of the lesion
    plain = image_recipe(tmp_path, "", CROP, out="plain")
    assert expand(plain)[0] == 0
    cut = [
        r
        for r in read_manifest(tmp_path / "plain")
        if r["source"].startswith("pos/") and r["ops"][0]["params"]["left"] > 2
    ]
    assert cut and all("foreground_kept" not in r for r in cut)


def test_when_no_draw_keeps_the_lesion_the_output_fails_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    make_images(tmp_path / "data")
    centre = "    - center_crop: {size: [40, 40]}\n    - brightness_contrast: {brightness: 0.2}\n"
    recipe = image_recipe(tmp_path, "  keep_foreground: 0.5\n  retries: 2\n", centre)
    code, out = expand(recipe)
    assert code == 1, out
    lines = read_manifest(tmp_path / "out")
    failed = [r for r in lines if r["source"].startswith("pos/")]
    assert len(failed) == 12 and all(r["status"] == "failed" for r in failed)
    for rec in failed:
        assert rec["attempt"] == 2 and rec["foreground_kept"] == 0.0
        for words in ("kept at most 0.00", "in 3 draw(s)", "image.keep_foreground: 0.5"):
            assert words in rec["error"]
        assert "Lower image.keep_foreground" in rec["error"]
        assert "random_crop: {around: foreground}" in rec["error"]
        assert not (tmp_path / "out" / rec["output"]).exists()
        assert not (tmp_path / "out/masks" / rec["output"]).exists()
    # negative cases (no foreground at all) are not affected: written, nothing recorded
    negatives = [r for r in lines if r["source"].startswith("neg/")]
    assert len(negatives) == 12 and all(r["status"] == "ok" for r in negatives)
    assert all("foreground_kept" not in r and "attempt" not in r for r in negatives)
    assert all((tmp_path / "out" / r["output"]).exists() for r in negatives)


def test_a_failed_output_records_its_best_draw(tmp_path: Path) -> None:
    make_images(tmp_path / "data")
    recipe = image_recipe(tmp_path, "  keep_foreground: 0.9\n  retries: 1\n", CROP)
    assert expand(recipe)[0] == 1
    failed = [r for r in read_manifest(tmp_path / "out") if r["status"] == "failed"]
    assert failed and all(r["attempt"] == 1 for r in failed)
    for rec in failed:
        assert rec["foreground_kept"] < 0.9
        assert f"kept at most {rec['foreground_kept']:.2f} of" in rec["error"]
    assert any(r["foreground_kept"] > 0 for r in failed)


def test_foreground_is_counted_in_source_pixels_through_the_geometry() -> None:
    modality = ImageModality({})
    ann = Annotated(textured(H, W, 3, np.uint8), lesion_mask())
    assert modality.foreground(ann) == 48.0
    # a 32 x 32 crop resized to 64 x 64: four times the pixels, the same lesion
    op = registry("image")["random_crop"].from_recipe({"scale": 0.25}, "t")
    params = {**op.sample(generator(0), INFO(ann)), "top": 16, "left": 0}
    out = ImageApplier().apply(op, ann, params, INFO(ann), None)
    assert np.count_nonzero(out.mask) == 4 * 48
    assert modality.foreground(out, op.geometry(params, INFO(ann))) == pytest.approx(48.0)
    # without a mask: the boxes and polygons that would be written
    square = np.array([[10, 10], [20, 10], [20, 20], [10, 20]], float)
    objs = Objects(
        np.array([[0, 0, 4, 5], [10, 10, 20, 20]], float), [1, 2], polygons=[[], [square]]
    )
    assert foreground_area(Annotated(ann.image, None, objs)) == 20.0 + 100.0
    objs.visibility[:] = [0.2, 1.0]
    assert foreground_area(Annotated(ann.image, None, objs), min_visibility=0.5) == 100.0
    # the mask's fill value (what warps bring in from outside) is not foreground
    mask = lesion_mask()
    mask[:4] = 255
    assert foreground_area(Annotated(ann.image, mask), mask_fill=255) == 48.0
    assert modality.foreground(textured(H, W, 3, np.uint8)) is None


# -- keep_foreground: volumes ----------------------------------------------------------------
def _volume_case(root: Path, name: str, empty: bool = False) -> None:
    vol = blob_volume((1.0, 1.0, 2.0), (8, 40, 60), IDENTITY, (-18.0, 0.0, 0.0), 6.0, (0, 0, 0))
    if empty:
        vol = vol.with_array(vol.array, label=np.zeros_like(vol.label))
    write_case(vol, root / ("neg" if empty else "pos"), name)


def _volume_recipe(tmp_path: Path, body: str, out: str = "out") -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\nseed: 3\ninput: data\noutput: {out}\ncopies: 4\nvolume:\n"
        f"  labels: {{suffix: _seg}}\n{body}",
    )


def _label_voxels(path: Path) -> int:
    import SimpleITK as sitk

    return int(np.count_nonzero(sitk.GetArrayFromImage(sitk.ReadImage(str(path)))))


def test_a_volume_whose_crop_cut_the_lesion_is_drawn_again_or_failed(tmp_path: Path) -> None:
    pytest.importorskip("SimpleITK")
    _volume_case(tmp_path / "data", "a")
    _volume_case(tmp_path / "data", "b", empty=True)
    # a 40-voxel window along x, the lesion near x = 12 of 60: some first draws cut it
    crop = "  keep_foreground: 0.9\n  retries: 20\n  pipeline:\n    - random_crop: {shape: [40, 40, 8]}\n"
    proc = run_augcli("expand", str(_volume_recipe(tmp_path, crop)), "-q")
    assert proc.returncode == 0, proc.stderr
    lines = [r for r in read_manifest(tmp_path / "out") if r["source"].startswith("pos/")]
    assert len(lines) == 4 and any(r.get("attempt", 0) > 0 for r in lines)
    lesion = _label_voxels(tmp_path / "data/pos/a_seg.nii.gz")
    for rec in lines:
        kept = _label_voxels(tmp_path / "out" / rec["label_map"]) / lesion
        assert kept >= 0.9 and rec["foreground_kept"] == pytest.approx(kept, abs=1e-4)
    negatives = [r for r in read_manifest(tmp_path / "out") if r["source"].startswith("neg/")]
    assert len(negatives) == 4 and all(
        r["status"] == "ok" and "foreground_kept" not in r for r in negatives
    )
    # a centred crop that never holds the lesion: failed, with the reason, not written
    centred = "  keep_foreground: 0.9\n  retries: 1\n  pipeline:\n    - crop_or_pad: {shape: [20, 40, 8]}\n"
    proc = run_augcli("expand", str(_volume_recipe(tmp_path, centred, out="o2")), "-q")
    assert proc.returncode == 1
    failed = [r for r in read_manifest(tmp_path / "o2") if r["source"].startswith("pos/")]
    assert failed and all(r["status"] == "failed" for r in failed)
    assert all("volume.keep_foreground: 0.9" in r["error"] for r in failed)
    assert not any((tmp_path / "o2" / r["output"]).exists() for r in failed)


# -- random_crop around: foreground in 2-D -------------------------------------------------
def corner_scene() -> Annotated:
    mask = np.zeros((H, W), np.uint8)
    mask[58:62, 1:4] = 3  # a small lesion near the bottom-left corner
    return Annotated(textured(H, W, 3, np.uint8), mask, None)


@pytest.mark.parametrize("size", [None, [20, 20]])
def test_a_crop_around_the_foreground_always_holds_lesion_pixels(size: list[int] | None) -> None:
    op = registry("image")["random_crop"].from_recipe(
        {"scale": [0.05, 0.3], "around": "foreground", "size": size}, "t"
    )
    assert not op.fusable, "its draw needs the current mask, not a fused run's"
    ann = corner_scene()
    lesion = set(zip(*np.nonzero(ann.mask), strict=True))
    for seed in range(200):
        params = op.sample(generator(seed), INFO(ann))
        x, y = params["pixel"]
        assert (y, x) in lesion and params["around"] == "foreground"
        t, left = params["top"], params["left"]
        assert left <= x < left + params["crop_width"] and t <= y < t + params["crop_height"]
        out = ImageApplier().apply(op, ann, params, INFO(ann), None)
        assert np.count_nonzero(out.mask == 3) > 0, (seed, params)


def test_a_crop_around_the_foreground_uses_a_box_centre_then_falls_back_to_anywhere() -> None:
    op = registry("image")["random_crop"].from_recipe({"scale": 0.1, "around": "foreground"}, "t")
    objs = Objects(np.array([[50, 2, 60, 8], [5, 5, 5, 9]], float), [1, 2])  # the second is empty
    ann = Annotated(textured(H, W, 3, np.uint8), None, objs)
    for seed in range(50):
        params = op.sample(generator(seed), INFO(ann))
        assert params["pixel"] == [55, 5]
        assert params["left"] <= 55 < params["left"] + params["crop_width"]
    empty = Annotated(ann.image, np.zeros((H, W), np.uint8))
    anywhere = registry("image")["random_crop"].from_recipe({"scale": 0.1}, "t")
    for seed in range(20):
        params = op.sample(generator(seed), INFO(empty))
        assert params["pixel"] is None
        plain = anywhere.sample(generator(seed), INFO(empty))
        assert "around" not in plain and "pixel" not in plain
        assert (params["top"], params["left"]) == (plain["top"], plain["left"])


def test_around_foreground_needs_annotations_and_replays_byte_for_byte(tmp_path: Path) -> None:
    make_images(tmp_path / "data")
    bare = write_recipe(
        tmp_path / "bare.yaml",
        "version: 1\ninput: data/images\noutput: o\nimage:\n  pipeline:\n"
        "    - hflip\n    - random_crop: {around: foreground}\n",
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(bare)
    text = str(err.value)
    assert "image.pipeline[1].random_crop.around" in text and "needs annotations" in text
    assert "image.masks or image.boxes" in text
    pipeline = (
        "    - rotate: {degrees: [-20, 20]}\n"
        "    - random_crop: {scale: [0.1, 0.3], around: foreground}\n"
        "    - hflip: {p: 0.5}\n"
    )
    recipe = image_recipe(tmp_path, "", pipeline)
    assert expand(recipe)[0] == 0
    lines = read_manifest(tmp_path / "out")
    crops = [r["ops"][1] for r in lines if r["source"].startswith("pos/")]
    assert all(c["applied"] and c["params"]["pixel"] is not None for c in crops)
    assert all("fused" not in r["ops"][0] for r in lines), "the crop ends the fused run"
    for rec in lines:
        if rec["source"].startswith("pos/"):
            mask = cv2.imread(str(tmp_path / "out" / rec["annotations"]["mask"]), -1)
            assert np.count_nonzero(mask) > 0
    result = runner.invoke(app, ["replay", str(recipe), "--to", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert "replayed 24 outputs" in result.output and "0 differ" in result.output


# -- no_mirror -------------------------------------------------------------------------------
def test_which_ops_mirror() -> None:
    ops = registry("image")
    info = {"height": 10, "width": 12, "channels": 3, "dtype": "uint8"}
    assert ops["hflip"]().mirrors({}, info) and ops["vflip"]().mirrors({}, info)
    assert not ops["rot90"]().mirrors({"k": 1}, info)
    assert not ops["rotate"]().mirrors({"degrees": 30.0}, info)
    affine = {"degrees": 0.0, "scale": 1.0, "translate": [0, 0]}
    assert not ops["affine"]().mirrors({**affine, "shear": [10.0, 10.0]}, info)
    assert ops["affine"]().mirrors({**affine, "shear": [70.0, 70.0]}, info), "det 1 - tan^2 < 0"
    assert not ops["gaussian_blur"]().mirrors({"sigma": 1.0}, info), "no geometry: no mirror"
    flip = registry("volume")["flip"]()
    assert flip.mirrors({"array_axes": [2]}, {}) and flip.mirrors({"array_axes": [0, 1, 2]}, {})
    assert not flip.mirrors({"array_axes": [1, 2]}, {}), "two axes: a half turn"
    turn = {"rotate_x": 0.0, "rotate_y": 0.0, "rotate_z": 170.0, "scale": [1.0, 1.1, 1.0]}
    assert not registry("volume")["affine"]().mirrors(turn, {})


FLIP = "    - hflip: {{p: {p}}}\n    - rotate: {{degrees: [-10, 10]}}\n    - gaussian_noise: {{std: 4}}\n"


def test_no_mirror_classes_are_not_flipped_and_others_are(tmp_path: Path) -> None:
    make_images(tmp_path / "data", ("left", "other"))
    settings = "  no_mirror: [left]\n"
    recipe = image_recipe(tmp_path, settings, FLIP.format(p=1))
    assert expand(recipe)[0] == 0
    never = image_recipe(tmp_path, settings, FLIP.format(p=0), out="never")
    assert expand(never)[0] == 0
    digests, unflipped = tree_digest(tmp_path / "out"), tree_digest(tmp_path / "never")
    for rec in read_manifest(tmp_path / "out"):
        flip = rec["ops"][0]
        if rec["source"].startswith("left/"):
            assert flip == {
                "node": flip["node"],
                "op": "hflip",
                "applied": False,
                "params": {},
                "skipped": "no_mirror",
            }
            assert digests[rec["output"]] == unflipped[rec["output"]], "as if never drawn"
        else:
            assert flip["applied"] and "skipped" not in flip
            assert digests[rec["output"]] != unflipped[rec["output"]]
    # the flip did happen for 'other': its mask is the mirror of the unflipped run's
    rec = next(r for r in read_manifest(tmp_path / "out") if r["source"].startswith("other/"))
    a = cv2.imread(str(tmp_path / "out" / rec["annotations"]["mask"]), -1)
    b = cv2.imread(str(tmp_path / "never" / rec["annotations"]["mask"]), -1)
    assert np.count_nonzero(a[:, W // 2 :]) > 0 and np.count_nonzero(b[:, W // 2 :]) == 0
    result = runner.invoke(app, ["replay", str(recipe), "--to", str(tmp_path / "again")])
    assert result.exit_code == 0 and "0 differ" in result.output, result.output


def test_lesion_settings_give_the_same_bytes_for_one_and_two_workers(tmp_path: Path) -> None:
    make_images(tmp_path / "data", ("left", "pos", "neg"))
    settings = "  keep_foreground: 0.9\n  retries: 20\n  no_mirror: [left]\n"
    pipeline = "    - hflip\n" + CROP
    outs = []
    for workers in ("1", "2"):
        recipe = image_recipe(tmp_path, settings, pipeline, out=f"w{workers}")
        proc = run_augcli("expand", str(recipe), "-q", "--workers", workers)
        assert proc.returncode == 0, proc.stderr
        outs.append(tree_digest(tmp_path / f"w{workers}"))
    assert outs[0] == outs[1]
    lines = read_manifest(tmp_path / "w2")
    assert any(r.get("attempt") for r in lines)
    assert all(r["ops"][0]["applied"] is not r["source"].startswith("left/") for r in lines)


def _label(path: Path) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_volume_flips_are_refused_for_no_mirror_classes_the_same_for_any_workers(
    tmp_path: Path,
) -> None:
    pytest.importorskip("SimpleITK")
    for cls in ("left", "other"):
        vol = blob_volume((1.0, 1.0, 2.0), (6, 24, 30), IDENTITY, (-6.0, 0.0, 0.0), 4.0, (0, 0, 0))
        write_case(vol, tmp_path / "data" / cls, "a")
    body = (
        "  no_mirror: left\n  keep_foreground: 0.8\n  pipeline:\n    - flip: {axes: LR}\n"
        "    - gamma: {gamma: [0.8, 1.2]}\n    - random_crop: {shape: [24, 24, 6]}\n"
    )
    for workers in ("1", "2"):
        recipe = _volume_recipe(tmp_path, body, out=f"w{workers}")
        proc = run_augcli("expand", str(recipe), "-q", "--workers", workers)
        assert proc.returncode == 0, proc.stderr
    assert tree_digest(tmp_path / "w1") == tree_digest(tmp_path / "w2")
    source = _label(tmp_path / "data/left/a_seg.nii.gz")
    for rec in read_manifest(tmp_path / "w1"):
        flip, crop = rec["ops"][0], rec["ops"][2]["params"]
        left = rec["source"].startswith("left/")
        assert flip["applied"] is not left and (flip.get("skipped") == "no_mirror") is left
        x0, y0, _ = crop["start"]
        flipped = source if left else source[:, :, ::-1]
        want = flipped[:, y0 : y0 + 24, x0 : x0 + 24]
        np.testing.assert_array_equal(_label(tmp_path / "w1" / rec["label_map"]), want)
        assert rec["foreground_kept"] >= 0.8


# -- recipe checks -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "setting, words",
    [
        ("no_mirror: [left, 3]", ["image.no_mirror", "must be a class name", "(quote a number)"]),
        ("no_mirror: {left: 1}", ["image.no_mirror", "must be a class name", "{'left': 1}"]),
        ("no_mirror: []", ["image.no_mirror", "or null for none"]),
        ("keep_foreground: 0", ["image.keep_foreground", "out of range (0, 1]"]),
        ("keep_foreground: 1.5", ["image.keep_foreground", "out of range (0, 1]"]),
        ("keep_foreground: [0.5, 0.9]", ["image.keep_foreground", "not a range"]),
        ("keep_foreground: 0.5", ["image.keep_foreground", "needs annotations", "image.masks"]),
    ],
)
def test_bad_lesion_settings_are_refused_at_load(
    tmp_path: Path, setting: str, words: list[str]
) -> None:
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\ninput: data\noutput: o\nimage:\n  {setting}\n  pipeline: [hflip]\n",
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe)
    text = str(err.value)
    assert "r.yaml" in text and ":5" in text
    for w in words:
        assert w in text, text


def test_keep_foreground_on_volumes_needs_their_label_maps(tmp_path: Path) -> None:
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "version: 1\ninput: data\noutput: o\nvolume:\n  keep_foreground: 0.5\n  pipeline: [flip]\n",
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe)
    assert "volume.keep_foreground" in str(err.value) and "volume.labels" in str(err.value)


def test_validate_warns_of_a_no_mirror_class_without_inputs(tmp_path: Path) -> None:
    make_images(tmp_path / "data", ("left", "other"))
    recipe = image_recipe(tmp_path, "  no_mirror: [left, lefty]\n", FLIP.format(p=1))
    result = runner.invoke(app, ["validate", str(recipe), "--json"])
    doc = json.loads(result.stdout)
    found = [f for f in doc["findings"] if "no_mirror" in f["message"]]
    assert len(found) == 1 and found[0]["kind"] == "parameters"
    message = found[0]["message"]
    assert "r.yaml:" in message and "class 'lefty' has no image inputs" in message
    assert "['left', 'other']" in message


def test_preview_captions_name_a_refused_mirror() -> None:
    from augcli.preview_kit import captions

    log = [
        {"node": "aug", "op": "hflip", "applied": False, "params": {}, "skipped": "no_mirror"},
        {"node": "aug", "op": "vflip", "applied": False, "params": None},
        {"node": "aug", "op": "rot90", "applied": True, "params": {"k": 1}},
    ]
    assert captions(log, []) == ["hflip skipped: no_mirror", "rot90"]
