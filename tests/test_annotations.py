"""Annotations stay true: the box of the transformed mask of an object equals the transformed
box, for every geometric op, fused chains and mixing; keypoints and masks follow too."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import raster_polygon, textured
from rows_geometric import GEOMETRIC_ROWS

from augcli.core.seeding import generator
from augcli.graph import parse_section_graph
from augcli.image import polygons as pg
from augcli.image.annotate import ImageApplier, finish
from augcli.image.modality import ImageModality
from augcli.image.targets import Annotated, Objects
from augcli.ops import registry

INFO = ImageModality({}).info
H, W = 96, 128
RIGID_IOU = 0.9  # matrix ops: the outline maps exactly; the rest is pixel rounding
DISTORTION_IOU = 0.7  # elastic / grid distortion: the outline is mapped point by point


def scene(seed: int) -> tuple[Annotated, tuple[int, int, int, int]]:
    rng = np.random.default_rng(seed)
    x0, y0 = int(rng.integers(20, 60)), int(rng.integers(15, 40))
    x1, y1 = x0 + int(rng.integers(15, 45)), y0 + int(rng.integers(12, 35))
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y1, x0:x1] = 7
    objects = Objects(np.array([[x0, y0, x1, y1]], float), [3])
    return Annotated(textured(H, W, 3, np.uint8, seed), mask, objects), (x0, y0, x1, y1)


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(mask == 7)
    if len(xs) < 30:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.mark.parametrize("name", sorted(GEOMETRIC_ROWS))
@pytest.mark.parametrize("seed", range(10))
def test_box_follows_the_mask_through_every_geometric_op(name: str, seed: int) -> None:
    op = registry("image")[name].from_recipe(dict(GEOMETRIC_ROWS[name]), name)
    ann, _ = scene(seed)
    info = INFO(ann)
    if name == "center_crop":
        info = {**info}
    op.check_input(info)
    params = op.sample(generator(seed), info)
    out = ImageApplier().apply(op, ann, params, info, None)
    assert out.mask.dtype == ann.mask.dtype and out.mask.shape == out.image.shape[:2]
    assert set(np.unique(out.mask)) <= {0, 7}, "mask values stay a subset"
    expected = mask_box(out.mask)
    if expected is None:
        return  # the object left the image
    got = out.objects.boxes[0]
    bound = DISTORTION_IOU if name in ("elastic", "grid_distortion") else RIGID_IOU
    # Small objects (heavy downscaling) are held to pixel rounding instead: every edge within 1 px.
    assert iou(got, expected) > bound or np.abs(got - expected).max() <= 1.0, (
        params,
        got,
        expected,
    )


@pytest.mark.parametrize("seed", range(12))
def test_box_follows_the_mask_through_a_fused_chain(seed: int) -> None:
    pipeline = [
        "hflip",
        {"rotate": {"degrees": [-30, 30]}},
        {"scale": {"factor": [1.0, 1.5]}},
        {"random_crop": {"scale": [0.5, 0.9]}},
        {"rot90": {"k": [0, 3]}},
    ]
    graph = parse_section_graph({"pipeline": pipeline}, "image", "image")
    ann, _ = scene(seed)
    out, log, _ = graph.run(
        graph.emitters[0], ann, lambda n: seed, INFO, {}, None, True, ImageApplier()
    )
    assert any("fused" in e for e in log)
    expected = mask_box(out.mask)
    if expected is not None:
        assert iou(out.objects.boxes[0], expected) > RIGID_IOU


def test_boxes_touching_the_border_stay_valid_after_flips_and_rot90() -> None:
    image = textured(H, W, 1, np.uint8)
    objects = Objects(np.array([[0, 0, W, H], [W - 10, H - 5, W, H]], float), [0, 1])
    ann = Annotated(image, None, objects)
    for name, params in [("hflip", {}), ("vflip", {}), ("rot90", {"k": 1}), ("rot90", {"k": 3})]:
        op = registry("image")[name].from_recipe({}, name)
        out = ImageApplier().apply(op, ann, params, INFO(ann), None)
        h, w = out.image.shape[:2]
        boxes = out.objects.boxes
        assert boxes.min() >= 0 and boxes[:, [0, 2]].max() <= w and boxes[:, [1, 3]].max() <= h
        np.testing.assert_allclose(boxes[0], [0, 0, w, h], atol=1e-9)
        np.testing.assert_allclose(out.objects.visibility, [1, 1])


def test_keypoints_move_swap_on_mirror_and_vanish_outside() -> None:
    image = textured(H, W, 3, np.uint8)
    kps = np.array([[[20.5, 30.5, 2], [60.5, 30.5, 2], [100.5, 80.5, 1]]])
    objects = Objects(np.array([[10, 20, 110, 90]], float), [1], kps)
    ann = Annotated(image, None, objects)
    hflip = registry("image")["hflip"].from_recipe({}, "hflip")
    out = ImageApplier(flip_pairs=[(0, 1)]).apply(hflip, ann, {}, INFO(ann), None)
    k = out.objects.keypoints[0]
    # keypoint 0 ("left") is now the mirrored old right one, and vice versa
    np.testing.assert_allclose(k[0], [W - 60.5, 30.5, 2])
    np.testing.assert_allclose(k[1], [W - 20.5, 30.5, 2])
    np.testing.assert_allclose(k[2], [W - 100.5, 80.5, 1])
    crop = registry("image")["center_crop"].from_recipe({"size": [40, 40]}, "c")
    params = crop.sample(generator(0), INFO(ann))
    out = ImageApplier().apply(crop, ann, params, INFO(ann), None)
    # the 40x40 window is x in [44, 84), y in [28, 68): only keypoint 1 stays
    k = out.objects.keypoints[0]
    np.testing.assert_allclose(k, [[0, 0, 0], [60.5 - 44, 30.5 - 28, 2], [0, 0, 0]])


def test_min_visibility_drops_and_records() -> None:
    objects = Objects(
        np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float),
        ["a", "b"],
        visibility=np.array([0.9, 0.1]),
    )
    kept, dropped = finish(Annotated(np.zeros((10, 10), np.uint8), None, objects), 0.25)
    assert kept.objects.labels == ["a"] and dropped == [{"label": "b", "visibility": 0.1}]


def test_cutmix_and_mosaic_combine_the_annotations() -> None:
    src, _ = scene(1)
    partner, _ = scene(2)
    pools = {"c": ("c/a.png", "c/b.png", "c/d.png", "c/e.png")}
    load = {p: partner for p in pools["c"]}.__getitem__
    info = {**INFO(src), "source": "c/a.png", "label": "c", "pools": pools}
    cutmix = registry("image")["cutmix"].from_recipe({"alpha": 1.0}, "cutmix")
    params = cutmix.sample(generator(3), info)
    out = ImageApplier().apply(cutmix, src, params, info, load)
    t, left, bh, bw = params["box"]
    assert len(out.objects) == 2
    pbox = out.objects.boxes[1]
    assert left <= pbox[0] and pbox[2] <= left + bw and t <= pbox[1] and pbox[3] <= t + bh
    mosaic = registry("image")["mosaic"].from_recipe({}, "mosaic")
    params = mosaic.sample(generator(4), info)
    out = ImageApplier().apply(mosaic, src, params, info, load)
    assert len(out.objects) == 4
    cy, cx = params["center"]
    first = out.objects.boxes[0]
    assert first[2] <= cx + 1e-9 and first[3] <= cy + 1e-9, "the image's own box is top left"
    expected = mask_box(out.mask[:cy, :cx])
    assert expected is not None and iou(first, expected) > RIGID_IOU


L_SHAPE = [30.0, 20.0, 90.0, 20.0, 90.0, 45.0, 55.0, 45.0, 55.0, 75.0, 30.0, 75.0]


def polygon_scene(seed: int) -> Annotated:
    """An L-shaped object (concave) with its mask rasterised from the same polygon; and the
    same object again, as its own mask (a COCO RLE)."""
    mask = np.zeros((H, W), np.uint8)
    raster_polygon(L_SHAPE, mask, 7)
    poly = np.reshape(L_SHAPE, (-1, 2))
    box = np.concatenate([poly.min(axis=0), poly.max(axis=0)])
    own = (mask == 7).astype(np.uint8)
    objects = Objects(np.stack([box, box]), [3, 3], polygons=[[poly], []], masks=[None, own])
    return Annotated(textured(H, W, 3, np.uint8, seed), mask, objects)


@pytest.mark.parametrize("name", sorted(GEOMETRIC_ROWS))
@pytest.mark.parametrize("seed", range(6))
def test_polygon_area_follows_the_mask_through_every_geometric_op(name: str, seed: int) -> None:
    op = registry("image")[name].from_recipe(dict(GEOMETRIC_ROWS[name]), name)
    ann = polygon_scene(seed)
    info = INFO(ann)
    op.check_input(info)
    params = op.sample(generator(seed), info)
    out = ImageApplier().apply(op, ann, params, info, None)
    oh, ow = out.image.shape[:2]
    # the object's own mask moves exactly as the image's mask; its box is its bounds
    own = out.objects.masks[1]
    np.testing.assert_array_equal(own, (out.mask == 7).astype(np.uint8))
    ys, xs = np.nonzero(own)
    if len(xs):
        np.testing.assert_array_equal(
            out.objects.boxes[1], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        )
    polys = out.objects.polygons[0]
    pixels = int((out.mask == 7).sum())
    if not polys:
        assert pixels <= 2, "the polygon left the image, so did the mask"
        return
    pts = np.concatenate(polys)
    assert pts.min() >= 0 and pts[:, 0].max() <= ow and pts[:, 1].max() <= oh
    np.testing.assert_allclose(out.objects.boxes[0], pg.bounds(polys))
    area = pg.total_area(polys)
    perimeter = sum(np.hypot(*(np.roll(p, -1, axis=0) - p).T).sum() for p in polys)
    # within 3 %, or within pixel rounding along the outline (small or stretched outputs: the
    # mask's nearest sampling flips up to half a pixel per pixel of outline; measured <= 0.3)
    assert abs(area - pixels) <= max(0.03 * pixels, 0.35 * perimeter), (params, area, pixels)


def test_polygon_clipping_and_cutting_are_exact() -> None:
    u = np.array([[0, 0], [3, 0], [3, 8], [7, 8], [7, 0], [10, 0], [10, 10], [0, 10]], float)
    assert pg.area(u) == 68.0
    halves = pg.clip(u, -1, -1, 11, 5)  # the U's two legs below y = 5, one outline
    assert pg.area(halves) == 30.0 and halves[:, 1].max() == 5.0
    assert len(pg.clip(u, 20, 20, 30, 30)) == 0  # nothing inside
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    holed = pg.cut([square], 2, 2, 4, 4)
    assert pg.total_area(holed) == 96.0 and len(holed) == 4
    dense = pg.densify(square, 3.0)
    assert len(dense) == 16 and pg.area(dense) == 100.0
    assert np.hypot(*(np.roll(dense, -1, axis=0) - dense).T).max() <= 3.0
