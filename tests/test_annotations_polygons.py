"""COCO polygon segmentations end to end through `augcli expand`: moved with the pixels (their area
against the mask warped by the same ops), clipped at the border, dropped under min_visibility,
kept originals written exactly as read; RLE masks through the mask path, and refused by
`validate` when malformed."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import raster_polygon, textured, write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.image import rle

runner = CliRunner()
H, W = 120, 160

RECIPE = """\
version: 1
seed: 9
input: data
output: out
copies: {copies}
keep_originals: true
image:
  masks: {{dir: masks}}
  boxes: {{format: coco, file: coco.json{boxes}}}
  pipeline:
{ops}
"""


def l_shape(k: int) -> list[float]:
    """A non-convex polygon (an L), flat COCO numbers: integers and floats (``25.0``)."""
    x0 = 30 + 2 * k  # sides on pixel edges: the test's rasterisation is then exact
    pts = [(x0, 25.0), (111, 25.0), (111, 56.0), (65, 56.0), (65, 95.0), (x0, 95.0)]
    return [v for p in pts for v in p]


def shoelace(flat: list[float]) -> float:
    x, y = np.asarray(flat[0::2], float), np.asarray(flat[1::2], float)
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def dataset(tmp: Path, polys: dict[str, list[list[float]]] | None = None) -> dict:
    """Three images in one class, each with one polygon object of category k + 1, its mask
    (value k + 1) rasterised from the same polygon, and the COCO file."""
    polys = polys or {f"cls/im{k}.png": [l_shape(k)] for k in range(3)}
    doc: dict = {"images": [], "annotations": [], "categories": []}
    for k, (rel, parts) in enumerate(polys.items()):
        (tmp / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "masks" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp / "data" / rel), textured(H, W, 3, np.uint8, k))
        mask = np.zeros((H, W), np.uint8)
        for flat in parts:
            raster_polygon(flat, mask, k + 1)
        cv2.imwrite(str(tmp / "masks" / rel), mask)
        pts = np.concatenate([np.reshape(p, (-1, 2)) for p in parts])
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        doc["images"].append({"id": k + 1, "file_name": rel, "width": W, "height": H})
        doc["annotations"].append(
            {
                "id": 100 + k,
                "image_id": k + 1,
                "category_id": k + 1,
                "segmentation": parts,
                "area": 1234.5,  # as an exporter computed it: kept for unchanged objects
                "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                "iscrowd": 0,
            }
        )
        doc["categories"].append({"id": k + 1, "name": f"c{k}"})
    (tmp / "coco.json").write_text(json.dumps(doc))
    return doc


def expand(tmp: Path, ops: str, copies: int = 3, boxes: str = "") -> dict:
    text = RECIPE.format(copies=copies, ops=ops, boxes=boxes)
    result = runner.invoke(app, ["expand", str(write_recipe(tmp / "r.yaml", text)), "-q"])
    assert result.exit_code == 0, result.output
    return json.loads((tmp / "out/annotations.json").read_text())


def by_file(doc: dict) -> dict[str, list[dict]]:
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    out: dict[str, list[dict]] = {name: [] for name in names.values()}
    for ann in doc["annotations"]:
        out[names[ann["image_id"]]].append(ann)
    return out


def check_consistent(ann: dict, src: dict | None = None) -> None:
    """area is the polygons' shoelace area (or, for an object the ops left as it was in ``src``,
    the area as read), bbox their bounds, every vertex inside the image."""
    seg = ann["segmentation"]
    unchanged = src is not None and any(seg == a["segmentation"] for a in src["annotations"])
    want = 1234.5 if unchanged else sum(shoelace(p) for p in seg)
    assert ann["area"] == pytest.approx(want, abs=1e-3)
    pts = np.concatenate([np.reshape(p, (-1, 2)) for p in seg])
    assert pts.min() >= 0 and pts[:, 0].max() <= W and pts[:, 1].max() <= H
    x, y, w, h = ann["bbox"]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    np.testing.assert_allclose([x, y, x + w, y + h], [*lo, *hi], atol=1e-5)


def mask_agrees(tmp: Path, name: str, anns: list[dict], tolerance: float) -> None:
    """Each category's polygon area equals its label's pixel count in the output mask (mosaic
    may bring one input in twice: its objects are summed)."""
    mask = cv2.imread(str(tmp / "out/masks" / Path(name).with_suffix(".png")), -1)
    assert anns, name
    areas: dict[int, float] = {}
    for ann in anns:
        c = ann["category_id"]
        areas[c] = areas.get(c, 0.0) + sum(shoelace(p) for p in ann["segmentation"])
    for c, area in areas.items():
        pixels = int((mask == c).sum())
        assert area == pytest.approx(pixels, rel=tolerance), (name, c, area, pixels)


def test_polygons_follow_rotation_and_affine_like_the_mask(tmp_path: Path) -> None:
    src = dataset(tmp_path)
    ops = (
        "    - rotate: {degrees: [-40, 40], border_mode: constant}\n"
        "    - affine: {degrees: [-10, 10], scale: [0.8, 1.0], translate: [-0.05, 0.05],"
        " shear: [-5, 5], border_mode: constant}"
    )
    out = expand(tmp_path, ops)
    made = {n: a for n, a in by_file(out).items() if "__" in n}
    assert len(made) == 9
    for name, anns in made.items():
        assert len(anns) == 1
        check_consistent(anns[0])
        mask_agrees(tmp_path, name, anns, 0.02)
        k = int(name.split("im")[1][0])
        # rotation and shear change the outline, not (much) its area; scale shrinks it
        assert shoelace(anns[0]["segmentation"][0]) < shoelace(l_shape(k)) * 1.01
        assert anns[0]["segmentation"] != src["annotations"][k]["segmentation"]


def test_kept_originals_keep_their_segmentation_bbox_and_area_exactly(tmp_path: Path) -> None:
    src = dataset(tmp_path)
    out = expand(tmp_path, "    - rotate: {degrees: [-30, 30]}", copies=1)
    text = (tmp_path / "out/annotations.json").read_text()
    for k, rel in enumerate(f"cls/im{k}.png" for k in range(3)):
        (ann,) = by_file(out)[rel]
        want = src["annotations"][k]
        assert ann["segmentation"] == want["segmentation"]
        assert ann["bbox"] == want["bbox"] and ann["area"] == want["area"] == 1234.5
        # the very numbers as written in the input: integers stay integers
        assert [type(v) for v in ann["segmentation"][0]] == [
            type(v) for v in want["segmentation"][0]
        ]
    assert '"segmentation_dropped"' not in text


def test_polygons_are_clipped_at_the_border(tmp_path: Path) -> None:
    # center_crop [60, 80] of 120 x 160 keeps x in [40, 120], y in [30, 90]
    tri = [60.0, 40.0, 140.0, 40.0, 140.0, 80.0]
    dataset(tmp_path, {"cls/im0.png": [tri], "cls/im1.png": [l_shape(1)]})
    out = expand(tmp_path, "    - center_crop: {size: [60, 80]}", copies=1)
    (ann,) = by_file(out)["cls/im0__aug_0.png"]
    check_consistent(ann)
    # the hypotenuse meets x = 120 at y = 70; in the crop's coordinates (x - 40, y - 30):
    (poly,) = ann["segmentation"]
    assert {tuple(p) for p in np.reshape(poly, (-1, 2))} == {(20, 10), (80, 10), (80, 40)}
    assert ann["area"] == pytest.approx(0.5 * 60 * 30)
    assert ann["bbox"] == [20, 10, 60, 30]
    mask_agrees(tmp_path, "cls/im0__aug_0.png", [ann], 0.05)


def test_objects_under_min_visibility_go_by_their_polygon_area(tmp_path: Path) -> None:
    # A thin bar inside the crop's window (x in [40, 120]) and a block outside it: its box is
    # 80/110 inside, its polygon 160/3160. The same box without a polygon stays.
    flag = [40, 50, 120, 50, 120, 10, 150, 10, 150, 110, 120, 110, 120, 52, 40, 52]
    doc = dataset(tmp_path, {"cls/im0.png": [flag], "cls/im1.png": [l_shape(1)]})
    doc["annotations"].append(
        {"id": 7, "image_id": 1, "category_id": 2, "bbox": [40, 10, 110, 100], "iscrowd": 0}
    )
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    out = expand(tmp_path, "    - center_crop: {size: [120, 80]}", 1, ", min_visibility: 0.5")
    (kept,) = by_file(out)["cls/im0__aug_0.png"]
    assert "segmentation" not in kept and kept["bbox"] == [0, 10, 80, 100]
    rec = next(
        r
        for r in map(json.loads, (tmp_path / "out/manifest.jsonl").read_text().splitlines())
        if r["output"] == "cls/im0__aug_0.png"
    )
    assert rec["annotations"]["dropped"] == [{"label": 1, "visibility": round(160 / 3160, 4)}]


def test_polygons_follow_elastic_and_grid_distortion_like_the_mask(tmp_path: Path) -> None:
    dataset(tmp_path)
    ops = (
        "    - elastic: {alpha: [30, 40], sigma: [5, 6], border_mode: constant}\n"
        "    - grid_distortion: {distort: [-0.3, 0.3], border_mode: constant}"
    )
    out = expand(tmp_path, ops, copies=2)
    for name, anns in by_file(out).items():
        if "__" in name:
            check_consistent(anns[0])
            # the outline was cut into 2 px edges before moving: it bends with the field
            assert len(anns[0]["segmentation"][0]) > 2 * 100
            mask_agrees(tmp_path, name, anns, 0.03)


def test_polygons_in_cutmix_match_the_mixed_mask(tmp_path: Path) -> None:
    src = dataset(tmp_path)
    out = expand(tmp_path, "    - cutmix: {alpha: 1.0}", copies=3)
    made = {n: a for n, a in by_file(out).items() if "__" in n}
    assert sum(len(a) for a in made.values()) > len(made)  # partners' objects came in
    cut = 0
    for name, anns in made.items():
        for ann in anns:
            check_consistent(ann, src)
            cut += len(ann["segmentation"]) > 1  # an L the pasted box split in parts
        # the box's pixels are the partner's, mask and polygons alike: the same area exactly
        mask_agrees(tmp_path, name, anns, 1e-9)
    assert cut


def test_polygons_in_mosaic_are_scaled_into_their_quadrant(tmp_path: Path) -> None:
    src = dataset(tmp_path)
    out = expand(tmp_path, "    - mosaic", copies=2)
    recs = {
        r["output"]: r
        for r in map(json.loads, (tmp_path / "out/manifest.jsonl").read_text().splitlines())
    }
    for name, anns in by_file(out).items():
        if "__" not in name:
            continue
        for ann in anns:
            check_consistent(ann, src)
        # the input's own object, scaled into the top-left quadrant (cx x cy of W x H)
        cy, cx = recs[name]["ops"][0]["params"]["center"]
        k = int(name.split("im")[1][0])
        own = [a for a in anns if a["bbox"][0] < cx and a["bbox"][1] < cy]
        assert own[0]["category_id"] == k + 1
        scaled = shoelace(l_shape(k)) * (cx / W) * (cy / H)
        assert own[0]["area"] == pytest.approx(scaled, abs=1e-3)
        mask_agrees(tmp_path, name, anns, 0.08)  # nearest resizing of small masks: rough


def to_string(runs: list[int]) -> str:
    """pycocotools' compressed RLE string (``rleToString``) of run lengths."""
    out = []
    for i, x in enumerate(runs):
        x -= runs[i - 2] if i > 2 else 0
        more = True
        while more:
            c, x = x & 0x1F, x >> 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def crowd_dataset(tmp: Path) -> dict:
    """The L-shape images, each object's polygon replaced by its mask as an RLE (compressed
    for the first image, a list of runs for the others): the image's mask has the same pixels."""
    doc = dataset(tmp)
    for k, ann in enumerate(doc["annotations"]):
        mask = cv2.imread(str(tmp / "masks" / f"cls/im{k}.png"), -1)
        runs = rle.encode(mask)["counts"]
        ann.update(
            iscrowd=1, segmentation={"size": [H, W], "counts": to_string(runs) if k == 0 else runs}
        )
    (tmp / "coco.json").write_text(json.dumps(doc))
    return doc


def test_rle_masks_follow_the_ops_like_the_image_mask(tmp_path: Path) -> None:
    src = crowd_dataset(tmp_path)
    ops = (  # hflip and rotate are fused into one warp
        "    - hflip\n"
        "    - rotate: {degrees: [-40, 40], border_mode: constant}\n"
        "    - elastic: {alpha: [20, 30], sigma: [5, 6], border_mode: constant}\n"
        "    - cutmix: {alpha: 1.0}"
    )
    out = expand(tmp_path, ops, copies=2)
    moved = 0
    for name, anns in by_file(out).items():
        mask = cv2.imread(str(tmp_path / "out/masks" / Path(name).with_suffix(".png")), -1)
        for ann in anns:
            seg = ann["segmentation"]
            got = rle.decode(seg)
            read = src["annotations"][ann["category_id"] - 1]["segmentation"]
            if "__" not in name or np.array_equal(got, rle.decode(read)):
                # a kept original (or an object the ops left as it was): exactly as read, a
                # compressed string too
                assert seg == read and ann["area"] == 1234.5
                continue
            moved += 1
            assert isinstance(seg["counts"], list) and seg["size"] == [H, W]
            # the object's own mask went through the same warps as the image's mask: the same
            # pixels, so the same area; bbox = its bounds
            np.testing.assert_array_equal(got, (mask == ann["category_id"]).astype(np.uint8))
            assert ann["area"] == int(got.sum()) and ann["iscrowd"] == 1
            ys, xs = np.nonzero(got)
            assert ann["bbox"] == [
                xs.min(),
                ys.min(),
                xs.max() + 1 - xs.min(),
                ys.max() + 1 - ys.min(),
            ]
    assert moved >= 6  # every augmented output's own object at least


def test_compressed_rle_strings_decode_like_pycocotools_writes_them() -> None:
    rng = np.random.default_rng(0)
    mask = (rng.random((37, 23)) < 0.3).astype(np.uint8)
    mask[:5] = 1  # long runs, and a first pixel of 1 (a leading empty run)
    runs = rle.encode(mask)["counts"]
    assert runs[0] == 0 and sum(runs) == 37 * 23
    text = to_string(runs)
    assert rle.counts_of(text) == runs
    np.testing.assert_array_equal(rle.decode({"size": [37, 23], "counts": text}), mask)
    assert rle.area({"size": [37, 23], "counts": text}) == int(mask.sum())


@pytest.mark.parametrize(
    ("seg", "needle"),
    [
        ({"size": [H, W], "counts": [5, 10]}, f"runs must cover {H} x {W} pixels; they cover 15"),
        ({"size": [H], "counts": [5]}, "needs 'size': [height, width]"),
        ({"size": [H, W], "counts": [5, -1]}, "whole numbers >= 0"),
        ({"size": [H, W], "counts": "0\x7f"}, "cannot be decoded"),
    ],
)
def test_validate_refuses_a_broken_rle_with_the_annotation(
    tmp_path: Path, seg: dict, needle: str
) -> None:
    doc = dataset(tmp_path)
    doc["annotations"][1].update(iscrowd=1, segmentation=seg)
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    text = RECIPE.format(copies=1, ops="    - hflip", boxes="")
    result = runner.invoke(app, ["validate", str(write_recipe(tmp_path / "r.yaml", text))])
    assert result.exit_code == 2
    msg = result.output
    assert "coco.json: annotations[1].segmentation: " in msg and needle in msg, msg
    assert "(annotation id 101)" in msg and "Traceback" not in msg
    assert not (tmp_path / "out").exists()


def test_an_rle_of_another_size_fails_its_image(tmp_path: Path) -> None:
    doc = dataset(tmp_path)
    doc["annotations"][1].update(iscrowd=1, segmentation={"size": [W, H], "counts": [H * W]})
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    text = RECIPE.format(copies=1, ops="    - hflip", boxes="")
    result = runner.invoke(app, ["expand", str(write_recipe(tmp_path / "r.yaml", text)), "-q"])
    assert result.exit_code == 1
    failed = [
        r
        for r in map(json.loads, (tmp_path / "out/manifest.jsonl").read_text().splitlines())
        if r["status"] == "failed"
    ]
    assert {r["source"] for r in failed} == {"cls/im1.png"}
    assert (
        "annotations[1].segmentation.size: is [height, width] of another image"
        in failed[0]["error"]
    )


def test_a_malformed_polygon_is_refused_with_its_location(tmp_path: Path) -> None:
    doc = dataset(tmp_path)
    doc["annotations"][2]["segmentation"] = [[10, 10, 20, 20, 30]]
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    text = RECIPE.format(copies=1, ops="    - hflip", boxes="")
    result = runner.invoke(app, ["validate", str(write_recipe(tmp_path / "r.yaml", text))])
    assert result.exit_code == 2
    assert "annotations[2].segmentation: must be a list of polygons" in result.output
    assert "annotation id 102" in result.output
