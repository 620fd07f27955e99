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
from augcli.core.errors import RecipeError
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


BOXES = """\
version: 1
seed: 5
input: data
output: out
copies: 2
keep_originals: true
image:
  boxes: {boxes}
  pipeline:
    - {op}
    - brightness_contrast: {{brightness: 0.1}}
"""


def box_dataset(root: Path) -> list[tuple[str, float, float, float, float, int]]:
    """Three 64x80 images with two boxes each (class, x0, y0, x1, y1 in pixels)."""
    rows = []
    for k in range(3):
        rel = f"cls{k % 2}/im{k}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), textured(64, 80, 3, np.uint8, k))
        rows.append((rel, 10 + k, 8, 40 + k, 30, k % 3))
        rows.append((rel, 0, 40, 80, 64, 1))  # touches three borders
    return rows


def write_yolo_sidecars(root: Path, rows: list) -> None:
    by: dict[str, list[str]] = {}
    for rel, x0, y0, x1, y1, c in rows:
        cx, cy, w, h = (x0 + x1) / 160, (y0 + y1) / 128, (x1 - x0) / 80, (y1 - y0) / 64
        by.setdefault(rel, []).append(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    for rel, lines in by.items():
        (root / rel).with_suffix(".txt").write_text("\n".join(lines) + "\n")


def manifest(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def read_yolo_boxes(path: Path) -> list[list[float]]:
    out = []
    for line in path.read_text().splitlines():
        c, cx, cy, w, h = map(float, line.split())
        out.append([c, (cx - w / 2) * 80, (cy - h / 2) * 64, (cx + w / 2) * 80, (cy + h / 2) * 64])
    return out


def test_yolo_sidecars_round_trip_and_follow_a_flip(tmp_path: Path) -> None:
    rows = box_dataset(tmp_path / "data")
    write_yolo_sidecars(tmp_path / "data", rows)
    code, out = expand(tmp_path, BOXES.format(boxes="{format: yolo, classes: 3}", op="hflip"))
    assert code == 0, out
    for rec in manifest(tmp_path / "out"):
        side = tmp_path / "out" / rec["annotations"]["sidecar"]
        src = (tmp_path / "data" / rec["source"]).with_suffix(".txt")
        if rec["node"] is None:
            assert side.read_text() == src.read_text(), "no-op round trip is identical"
            continue
        assert rec["annotations"]["objects"] == 2 and rec["annotations"]["dropped"] == []
        want = [[c, 80 - x1, y0, 80 - x0, y1] for c, x0, y0, x1, y1 in read_yolo_boxes(src)]
        np.testing.assert_allclose(read_yolo_boxes(side), want, atol=1e-4)


def test_voc_sidecars_follow_rot90(tmp_path: Path) -> None:
    rows = box_dataset(tmp_path / "data")
    for rel in {r[0] for r in rows}:
        objs = "".join(
            f"<object><name>c{c}</name><difficult>0</difficult><bndbox><xmin>{x0 + 1}</xmin>"
            f"<ymin>{y0 + 1}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for r, x0, y0, x1, y1, c in rows
            if r == rel
        )
        (tmp_path / "data" / rel).with_suffix(".xml").write_text(
            f"<annotation><filename>{Path(rel).name}</filename><size><width>80</width>"
            f"<height>64</height><depth>3</depth></size>{objs}</annotation>"
        )
    code, out = expand(tmp_path, BOXES.format(boxes="{format: voc}", op="{rot90: {k: 1}}"))
    assert code == 0, out
    import xml.etree.ElementTree as ET

    for rec in manifest(tmp_path / "out"):
        side = tmp_path / "out" / rec["annotations"]["sidecar"]
        src = (tmp_path / "data" / rec["source"]).with_suffix(".xml")
        if rec["node"] is None:
            assert ET.tostring(ET.parse(side).getroot()) == ET.tostring(ET.parse(src).getroot())
            continue
        root = ET.parse(side).getroot()
        assert root.findtext("size/width") == "64" and root.findtext("size/height") == "80"
        first = root.find("object/bndbox")
        x0, y0, x1, y1 = (int(first.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        k = int(rec["source"][-5])
        # rot90 counter-clockwise: (x, y) -> (y, W - x); VOC is 1-based inclusive
        assert (x0 - 1, y0 - 1, x1, y1) == (8, 80 - (40 + k), 30, 80 - (10 + k))


def test_coco_output_document_and_missing_images(tmp_path: Path) -> None:
    rows = box_dataset(tmp_path / "data")
    images = [*sorted({r[0] for r in rows}), "cls0/gone.png"]
    doc = {
        "images": [
            {"id": i + 1, "file_name": f, "width": 80, "height": 64} for i, f in enumerate(images)
        ],
        "annotations": [
            {
                "id": n + 1,
                "image_id": images.index(r[0]) + 1,
                "category_id": r[5] + 1,
                "bbox": [r[1], r[2], r[3] - r[1], r[4] - r[2]],
                "area": 1.0,
                "iscrowd": 0,
            }
            for n, r in enumerate(rows)
        ],
        "categories": [{"id": i, "name": f"c{i}"} for i in (1, 2, 3)],
    }
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    code, _ = expand(tmp_path, BOXES.format(boxes="{format: coco, file: coco.json}", op="vflip"))
    assert code == 1  # gone.png is listed but missing: that entry fails, the rest is written
    recs = manifest(tmp_path / "out")
    failed = [r for r in recs if r["status"] == "failed"]
    assert [r["source"] for r in failed] == ["cls0/gone.png"]
    assert "listed in" in failed[0]["error"] and "not found" in failed[0]["error"]
    result = json.loads((tmp_path / "out/annotations.json").read_text())
    assert result["categories"] == doc["categories"]
    ok = [r for r in recs if r["status"] == "ok"]
    assert [im["file_name"] for im in result["images"]] == [r["output"] for r in ok]
    assert [im["id"] for im in result["images"]] == list(range(1, len(ok) + 1))
    assert len(result["annotations"]) == 2 * len(ok)
    by_image = {im["id"]: im["file_name"] for im in result["images"]}
    got: dict[str, list] = {}
    for ann in result["annotations"]:
        got.setdefault(by_image[ann["image_id"]], []).append(
            (ann["category_id"], *np.round(ann["bbox"], 4))
        )
    for name, anns in got.items():
        source = name.split("__")[0] + ".png" if "__" in name else name
        flipped = "__aug_" in name
        want = [
            (c + 1, x0, 64 - y1 if flipped else y0, x1 - x0, y1 - y0)
            for r, x0, y0, x1, y1, c in rows
            if r == source
        ]
        assert sorted(anns) == sorted(want), name
    assert "annotations.json" in json.loads((tmp_path / "out/run.json").read_text())["files"]


def test_bad_yolo_lines_fail_their_image_with_file_and_line(tmp_path: Path) -> None:
    rows = box_dataset(tmp_path / "data")
    write_yolo_sidecars(tmp_path / "data", rows)
    (tmp_path / "data/cls0/im0.txt").write_text("0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.1 0.1\n")
    (tmp_path / "data/cls1/im1.txt").write_text("0 0.5 0.5 0.2\n")
    code, _ = expand(tmp_path, BOXES.format(boxes="{format: yolo, classes: 3}", op="hflip"))
    assert code == 1
    failed = {
        r["source"]: r["error"] for r in manifest(tmp_path / "out") if r["status"] == "failed"
    }
    assert set(failed) == {"cls0/im0.png", "cls1/im1.png"}
    assert "im0.txt:2:" in failed["cls0/im0.png"] and "7" in failed["cls0/im0.png"]
    assert "im1.txt:1:" in failed["cls1/im1.png"]
    assert (tmp_path / "out/cls0/im2__aug_0.png").is_file()


def test_boxes_that_leave_are_dropped_and_recorded(tmp_path: Path) -> None:
    rows = box_dataset(tmp_path / "data")
    write_yolo_sidecars(tmp_path / "data", rows)
    code, out = expand(
        tmp_path,
        BOXES.format(
            boxes="{format: yolo, min_visibility: 0.5}",
            op="{affine: {translate: 0.45, degrees: 0, scale: 1, shear: 0}}",
        ),
    )
    assert code == 0, out
    recs = [r for r in manifest(tmp_path / "out") if r["node"]]
    assert all(r["annotations"]["objects"] + len(r["annotations"]["dropped"]) == 2 for r in recs)
    dropped = [d for r in recs for d in r["annotations"]["dropped"]]
    assert dropped and all(d["visibility"] < 0.5 for d in dropped)


def test_coco_keypoints_swap_names_on_flip_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    cv2.imwrite(str(tmp_path / "data/a.png"), textured(64, 80, 3, np.uint8))
    cv2.imwrite(str(tmp_path / "data/b.png"), textured(64, 80, 3, np.uint8, 1))
    kps = [20.5, 30.5, 2, 50.5, 30.5, 2, 35.5, 50.5, 1]  # left_eye, right_eye, nose
    doc = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 80, "height": 64},
            {"id": 2, "file_name": "b.png", "width": 80, "height": 64},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 20, 50, 40],
                "area": 2000,
                "iscrowd": 0,
                "keypoints": kps,
                "num_keypoints": 3,
            }
        ],
        "categories": [{"id": 1, "name": "face", "keypoints": ["left_eye", "right_eye", "nose"]}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    text = BOXES.format(boxes="{format: coco, file: coco.json}", op="hflip").replace(
        "  pipeline:", "  keypoints: {flip_pairs: [[left_eye, right_eye]]}\n  pipeline:"
    )
    code, out = expand(tmp_path, text)
    assert code == 0, out
    result = json.loads((tmp_path / "out/annotations.json").read_text())
    names = {im["id"]: im["file_name"] for im in result["images"]}
    flipped = [a for a in result["annotations"] if names[a["image_id"]] == "a__aug_0.png"]
    assert len(flipped) == 1
    k = np.array(flipped[0]["keypoints"], float).reshape(3, 3)
    # the new left eye is the mirrored old right eye (80 - 50.5), and vice versa
    np.testing.assert_allclose(
        k, [[80 - 50.5, 30.5, 2], [80 - 20.5, 30.5, 2], [80 - 35.5, 50.5, 1]]
    )
    assert flipped[0]["num_keypoints"] == 3
    assert flipped[0]["bbox"] == pytest.approx([80 - 60, 20, 50, 40])


def test_the_detection_sample_config_runs(tmp_path: Path) -> None:
    from conftest import ROOT, run_augcli

    proc = run_augcli(
        "expand",
        str(ROOT / "configs/detection.yaml"),
        "--output",
        str(tmp_path / "det"),
        "--workers",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    recs = manifest(tmp_path / "det")
    assert len(recs) == 2 * 5
    for rec in recs:
        lines = (tmp_path / "det" / rec["annotations"]["sidecar"]).read_text().splitlines()
        assert len(lines) == rec["annotations"]["objects"] >= 1


def test_voc_parts_follow_the_ops_and_go_when_cropped_out(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    (tmp_path / "data/cls").mkdir(parents=True)
    for k in range(2):
        cv2.imwrite(str(tmp_path / f"data/cls/p{k}.png"), textured(64, 80, 3, np.uint8, k))
        (tmp_path / f"data/cls/p{k}.xml").write_text(
            "<annotation><size><width>80</width><height>64</height><depth>3</depth></size>"
            "<object><name>person</name><bndbox><xmin>11</xmin><ymin>5</ymin><xmax>70</xmax>"
            "<ymax>60</ymax></bndbox>"
            "<part><name>head</name><bndbox><xmin>21</xmin><ymin>5</ymin><xmax>30</xmax>"
            "<ymax>14</ymax></bndbox></part>"
            "<part><name>hand</name><bndbox><xmin>61</xmin><ymin>41</ymin><xmax>70</xmax>"
            "<ymax>50</ymax></bndbox></part></object></annotation>"
        )
    # hflip: the head goes from x 20..30 to 50..60, the hand from 60..70 to 10..20; then the
    # centre 40 columns (x 20..60) keep the head whole and none of the hand
    text = BOXES.format(boxes="{format: voc, min_visibility: 0.5}", op="hflip").replace(
        "    - brightness_contrast: {brightness: 0.1}\n",
        "    - center_crop: {size: [64, 40]}\n",
    )
    code, out = expand(tmp_path, text.replace("copies: 2", "copies: 1"))
    assert code == 0, out
    for rec in manifest(tmp_path / "out"):
        root = ET.parse(tmp_path / "out" / rec["annotations"]["sidecar"]).getroot()
        parts = {
            p.findtext("name"): [int(p.findtext(f"bndbox/{t}")) for t in ("xmin", "xmax")]
            for p in root.iter("part")
        }
        assert rec["annotations"]["objects"] == 1  # parts are not counted as objects
        if rec["node"] is None:
            assert parts == {"head": [21, 30], "hand": [61, 70]}
            continue
        left = rec["ops"][1]["params"]["left"]
        want = {"head": (50, 60), "hand": (10, 20)}  # after the flip, continuous x0..x1
        expect = {}
        for name, (x0, x1) in want.items():
            a, b = max(x0 - left, 0), min(x1 - left, 40)
            if b - a >= 0.5 * (x1 - x0):
                expect[name] = [a + 1, b]
        assert parts == expect, (left, parts)
        dropped = {d["label"] for d in rec["annotations"]["dropped"]}
        assert dropped == set(want) - set(expect)
