"""Annotations end to end through `augcli expand`: masks beside the outputs, and recipe errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import textured, tree_digest, write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.errors import RecipeError
from augcli.recipe import load_recipe

runner = CliRunner()

MASKS = """\
version: 1
seed: 2
input: data/images
output: {out}
copies: 2
keep_originals: true
image:
  masks: {{dir: data/masks, suffix: _mask}}
  pipeline:
    - hflip
    - rotate: {{degrees: [-20, 20]}}
    - brightness_contrast: {{brightness: 0.2}}
    - gaussian_noise: {{std: 5}}
"""


def make_dataset(root: Path) -> None:
    for cls in ("cell", "tissue"):
        for k in range(3):
            img = textured(40 + 4 * k, 56, 3, np.uint8, k)
            mask = np.zeros(img.shape[:2], np.uint8)
            mask[10:25, 12 + k : 40] = 1
            mask[28:35, 5:15] = 2
            (root / "images" / cls).mkdir(parents=True, exist_ok=True)
            (root / "masks" / cls).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "images" / cls / f"s{k}.png"), img)
            cv2.imwrite(str(root / "masks" / cls / f"s{k}_mask.png"), mask)


def expand(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    recipe = write_recipe(tmp_path / "r.yaml", text)
    result = runner.invoke(app, ["expand", str(recipe), "-q", *args])
    return result.exit_code, result.output


def test_masks_follow_the_pixels_and_land_beside_the_outputs(tmp_path: Path) -> None:
    make_dataset(tmp_path / "data")
    code, out = expand(tmp_path, MASKS.format(out="out"))
    assert code == 0, out
    lines = [json.loads(x) for x in (tmp_path / "out/manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 6 * 3
    for rec in lines:
        mask_rel = rec["annotations"]["mask"]
        assert mask_rel == "masks/" + str(Path(rec["output"]).with_suffix(".png"))
        mask = cv2.imread(str(tmp_path / "out" / mask_rel), cv2.IMREAD_UNCHANGED)
        image = cv2.imread(str(tmp_path / "out" / rec["output"]), cv2.IMREAD_UNCHANGED)
        assert mask.shape == image.shape[:2]
        assert set(np.unique(mask)) <= {0, 1, 2}
        src_mask = cv2.imread(
            str(tmp_path / "data/masks" / rec["source"].replace(".png", "_mask.png")),
            cv2.IMREAD_UNCHANGED,
        )
        if rec["node"] is None:
            np.testing.assert_array_equal(mask, src_mask)  # originals keep their mask
            continue
        degrees = rec["ops"][1]["params"]["degrees"]
        h, w = src_mask.shape
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
        m = np.vstack([m, [0, 0, 1]]) @ np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1.0]])
        want = cv2.warpAffine(src_mask, m[:2], (w, h), flags=cv2.INTER_NEAREST)
        assert (mask != want).mean() < 0.01, "the mask went through the same (fused) warp"
    assert not (tmp_path / "out/masks/masks").exists()
    # masks are side files, never inputs, even when they sit inside the input folder
    assert all(not r["source"].startswith("masks") for r in lines)


def test_masks_byte_identical_for_any_worker_count(tmp_path: Path) -> None:
    make_dataset(tmp_path / "data")
    digests = []
    for w in ("1", "2"):
        code, out = expand(tmp_path, MASKS.format(out=f"o{w}"), "--workers", w)
        assert code == 0, out
        digests.append(tree_digest(tmp_path / f"o{w}"))
    assert digests[0] == digests[1]


def test_a_missing_or_mismatched_mask_fails_that_image_only(tmp_path: Path) -> None:
    make_dataset(tmp_path / "data")
    (tmp_path / "data/masks/cell/s0_mask.png").unlink()
    cv2.imwrite(str(tmp_path / "data/masks/cell/s1_mask.png"), np.zeros((5, 5), np.uint8))
    code, _ = expand(tmp_path, MASKS.format(out="out"))
    assert code == 1
    failed = {}
    for line in (tmp_path / "out/manifest.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["status"] == "failed":
            failed[rec["source"]] = rec["error"]
    assert set(failed) == {"cell/s0.png", "cell/s1.png"}
    assert "no mask found" in failed["cell/s0.png"] and "s0_mask.png" in failed["cell/s0.png"]
    assert "a mask must match its image" in failed["cell/s1.png"]


@pytest.mark.parametrize(
    ("section", "needles"),
    [
        ("masks: {suffix: _m}", ["image.masks", "needs 'dir'"]),
        ("masks: {dir: m, sufix: _m}", ["image.masks.sufix", "Did you mean 'suffix'?"]),
        ("boxes: {format: yolov8}", ["image.boxes.format", "yolo, coco, voc"]),
        ("boxes: {format: coco}", ["image.boxes", "need 'file'"]),
        ("boxes: {format: yolo, min_visibility: 2}", ["min_visibility", "[0, 1]"]),
        ("masks: {dir: m, output: ../escape}", ["image.masks.output", "inside the output folder"]),
        ("keypoints: {flip_pairs: [1, 2]}", ["flip_pairs", "[left, right] pairs"]),
    ],
)
def test_annotation_settings_are_checked_with_locations(
    tmp_path: Path, section: str, needles: list[str]
) -> None:
    path = write_recipe(
        tmp_path / "r.yaml", f"input: d\noutput: o\nimage:\n  {section}\n  pipeline: [hflip]\n"
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:4:"), msg
    for needle in needles:
        assert needle in msg, msg


def test_a_mask_folder_inside_the_input_is_not_read_as_images(tmp_path: Path) -> None:
    make_dataset(tmp_path / "data")
    for cls in ("cell", "tissue"):  # images at data/<class>, masks at data/masks/<class>
        (tmp_path / "data/images" / cls).rename(tmp_path / "data" / cls)
    (tmp_path / "data/masks_note.png").write_bytes(b"")  # beside masks/, not inside: an input
    text = MASKS.format(out="out").replace("input: data/images", "input: data")
    text = text.replace("suffix: _mask}", "suffix: _mask, output: labels}")
    code, _ = expand(tmp_path, text, "--copies", "1")
    lines = [json.loads(x) for x in (tmp_path / "out/manifest.jsonl").read_text().splitlines()]
    sources = {r["source"] for r in lines}
    assert not [s for s in sources if s.startswith("masks/")]
    assert "cell/s0.png" in sources and "masks_note.png" in sources
    assert code == 1  # the empty file fails on its own
    assert (tmp_path / "out/labels/cell/s0__aug_0.png").is_file()
