"""Moving annotations with the pixels: boxes by their transformed outline, keypoints and polygons
by the same map, masks by the same op with nearest sampling; clipping and visibility along the
way (an object with polygons: its box is their bounds, its visible share their area's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from augcli.image import polygons as pg
from augcli.image.targets import Annotated, Objects
from augcli.steps import Applier

OUTLINE_POINTS = 16  # points per box side: exact for matrices, a good outline for distortions
# Longest polygon edge moved through a remap (elastic, grid_distortion): edges are cut into
# pieces this long first, so the outline bends with the field (a matrix keeps lines straight,
# and moves the vertices alone).
DENSIFY_PX = 2.0


def box_outline(boxes: np.ndarray) -> np.ndarray:
    """(N, 4*OUTLINE_POINTS, 2) points along each box's edges, in continuous coordinates."""
    t = np.linspace(0.0, 1.0, OUTLINE_POINTS, endpoint=False)
    x0, y0, x1, y1 = (boxes[:, i : i + 1] for i in range(4))
    top = np.stack([x0 + (x1 - x0) * t, np.broadcast_to(y0, (len(boxes), len(t)))], -1)
    right = np.stack([np.broadcast_to(x1, (len(boxes), len(t))), y0 + (y1 - y0) * t], -1)
    bottom = np.stack([x1 - (x1 - x0) * t, np.broadcast_to(y1, (len(boxes), len(t)))], -1)
    left = np.stack([np.broadcast_to(x0, (len(boxes), len(t))), y1 - (y1 - y0) * t], -1)
    return np.concatenate([top, right, bottom, left], axis=1)


def map_points_matrix(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Continuous points through a pixel-centre matrix (centre of pixel i is i + 0.5)."""
    p = points.reshape(-1, 2) - 0.5
    h = np.concatenate([p, np.ones((len(p), 1))], axis=1) @ np.asarray(m, dtype=np.float64).T
    out = h[:, :2] / h[:, 2:3] + 0.5
    return out.reshape(points.shape)


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def _polygon_boxes(
    objects: Objects, polys: list[list[np.ndarray]], boxes: np.ndarray
) -> np.ndarray:
    """``boxes``, with each object that has polygons given their bounds (zeros: none left)."""
    boxes = boxes.copy()
    for i, obj in enumerate(polys):
        if objects.polygons[i]:
            boxes[i] = pg.bounds(obj)
    return boxes


def _polygon_shares(
    before: list[list[np.ndarray]], after: list[list[np.ndarray]], share: np.ndarray
) -> np.ndarray:
    """Per object, the share of its polygons' area kept (``share`` where it has none)."""
    out = share.copy()
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if b:
            full = pg.total_area(b)
            out[i] = pg.total_area(a) / full if full > 0 else 0.0
    return out


def _map_polygons(objects: Objects, mapper: Any, densify: float | None) -> list[list[np.ndarray]]:
    """Every object's polygons through ``mapper`` (one call for all vertices), edges first cut
    to ``densify`` px when given."""
    polys = [[pg.densify(p, densify) if densify else p for p in obj] for obj in objects.polygons]
    flat = [p for obj in polys for p in obj]
    if not flat:
        return polys
    pts = mapper(np.concatenate(flat)[None])[0]
    ends = np.cumsum([len(p) for p in flat])[:-1]
    it = iter(np.split(pts, ends))
    return [[next(it) for _ in obj] for obj in polys]


def _fit_polygons(
    objects: Objects,
    polys: list[list[np.ndarray]],
    window: tuple[float, float, float, float],
    boxes: np.ndarray,
    share: np.ndarray,
) -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray]:
    """``polys`` (the objects' polygons where they now are) clipped to ``window``; for objects
    with polygons, the box becomes their bounds and the share their area's."""
    clipped = [pg.clip_all(obj, *window) for obj in polys]
    share = _polygon_shares(polys, clipped, share)
    return clipped, _polygon_boxes(objects, clipped, boxes), share


def move_objects(
    objects: Objects,
    mapper: Any,
    out_h: int,
    out_w: int,
    mirrored: bool,
    flip_pairs: Sequence[tuple[int, int]] = (),
    densify: float | None = None,
) -> Objects:
    """Map every box outline, polygon and keypoint with ``mapper`` (points -> points), take the
    boxes' bounding boxes, clip boxes and polygons to the new image and update visibility.
    ``densify``: cut polygon edges to this many px first (for maps that bend lines)."""
    if not len(objects):
        return objects
    pts = mapper(box_outline(objects.boxes))
    boxes = np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)
    clipped = boxes.copy()
    clipped[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, out_w)
    clipped[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, out_h)
    full = _area(boxes)
    share = np.divide(_area(clipped), full, out=np.zeros_like(full), where=full > 0)
    moved = _map_polygons(objects, mapper, densify)
    polys, clipped, share = _fit_polygons(objects, moved, (0, 0, out_w, out_h), clipped, share)
    kps = None
    if objects.keypoints is not None:
        kps = objects.keypoints.copy()
        xy = mapper(kps[..., :2])
        inside = (
            (xy[..., 0] >= 0) & (xy[..., 0] <= out_w) & (xy[..., 1] >= 0) & (xy[..., 1] <= out_h)
        )
        labelled = kps[..., 2] > 0
        kps[..., :2] = np.where((labelled & inside)[..., None], xy, 0.0)
        kps[..., 2] = np.where(inside, kps[..., 2], 0.0)
        if mirrored:
            for a, b in flip_pairs:
                kps[:, [a, b]] = kps[:, [b, a]]
    return replace(
        objects,
        boxes=clipped,
        keypoints=kps,
        visibility=objects.visibility * share,
        polygons=polys,
    )


def move_by_matrix(
    objects: Objects, m: np.ndarray, out_h: int, out_w: int, flip_pairs: Sequence[tuple[int, int]]
) -> Objects:
    mirrored = bool(np.linalg.det(np.asarray(m, dtype=np.float64)[:2, :2]) < 0)
    return move_objects(
        objects, lambda p: map_points_matrix(p, m), out_h, out_w, mirrored, flip_pairs
    )


def invert_remap(points: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Where points end up under ``cv2.remap`` with these maps (output -> source): solve
    map(q) = p by fixed-point iteration on the displacement field."""
    import cv2

    h, w = map_x.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = (map_x - xx).astype(np.float32), (map_y - yy).astype(np.float32)
    p = points.reshape(-1, 2) - 0.5
    q = p.copy()
    for _ in range(12):
        qx = np.clip(q[:, 0], 0, w - 1).astype(np.float32).reshape(-1, 1)
        qy = np.clip(q[:, 1], 0, h - 1).astype(np.float32).reshape(-1, 1)
        ddx = cv2.remap(dx, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
        ddy = cv2.remap(dy, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
        q = np.stack([p[:, 0] - ddx, p[:, 1] - ddy], axis=1)
    return (q + 0.5).reshape(points.shape)


def mask_bounds(mask: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) around a mask's non-zero pixels; zeros when there are none."""
    ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(xs):
        return np.zeros(4)
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], dtype=np.float64)


def move_masks(objects: Objects | None, warp: Callable[[np.ndarray], np.ndarray]) -> Any:
    """Each object's own mask (COCO RLE) through ``warp`` (the op on a 0/1 mask: nearest
    sampling, fill 0); its box becomes the mask's bounds (zeros when nothing is left)."""
    if objects is None or all(m is None for m in objects.masks):
        return objects
    masks, boxes = list(objects.masks), objects.boxes.copy()
    for i, m in enumerate(masks):
        if m is not None:
            masks[i] = warp(m)
            boxes[i] = mask_bounds(masks[i])
    return replace(objects, boxes=boxes, masks=masks)


def window_only(x0: float, y0: float, x1: float, y1: float, keep: bool) -> Any:
    """A mask warp keeping only the (whole-pixel) window, or (``keep`` false) all but it."""

    def cut(m: np.ndarray) -> np.ndarray:
        out = np.zeros_like(m) if keep else m.copy()
        ys, xs = slice(int(y0), int(y1)), slice(int(x0), int(x1))
        out[ys, xs] = m[ys, xs] if keep else 0
        return out

    return cut


def mask_params(params: dict[str, Any], fill: float) -> dict[str, Any]:
    """The op's params for its mask: nearest sampling (values stay a subset), mask fill."""
    out = dict(params)
    if "interpolation" in out:
        out["interpolation"] = "nearest"
    if "fill" in out:
        out["fill"] = fill
    return out


def finish(ann: Annotated, min_visibility: float) -> tuple[Annotated, list[dict[str, Any]]]:
    """Drop objects whose visible share fell under ``min_visibility`` (or to nothing); return the
    kept annotation and a record of the dropped ones."""
    objs = ann.objects
    if objs is None or not len(objs):
        return ann, []
    area = _area(objs.boxes)
    keep = (objs.visibility >= min_visibility) & (area > 0)
    dropped = [
        {"label": objs.labels[i], "visibility": round(float(objs.visibility[i]), 4)}
        for i in np.flatnonzero(~keep)
    ]
    return replace(ann, objects=objs.take(keep)), dropped


def empty_objects() -> Objects:
    return Objects(np.zeros((0, 4)), [])


def clip_to_box(objects: Objects, x0: float, y0: float, x1: float, y1: float) -> Objects:
    """Clip boxes (and keypoints) to a window of the same image, updating visibility."""
    if not len(objects):
        return objects
    b = objects.boxes.copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], x0, x1)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], y0, y1)
    full = _area(objects.boxes)
    share = np.divide(_area(b), full, out=np.zeros_like(full), where=full > 0)
    polys, b, share = _fit_polygons(objects, objects.polygons, (x0, y0, x1, y1), b, share)
    kps = objects.keypoints
    if kps is not None:
        kps = kps.copy()
        x, y = kps[..., 0], kps[..., 1]
        out = (x < x0) | (x > x1) | (y < y0) | (y > y1)
        kps[out] = 0.0
    clipped = replace(
        objects, boxes=b, keypoints=kps, visibility=objects.visibility * share, polygons=polys
    )
    return move_masks(clipped, window_only(x0, y0, x1, y1, keep=True))


def cover(objects: Objects, x0: float, y0: float, x1: float, y1: float) -> Objects:
    """Lower visibility by the share of each box that a pasted window now hides; polygons lose
    the window (cut out of them), and their object's box shrinks to what is left."""
    if not len(objects):
        return objects
    b = objects.boxes
    ix = np.clip(np.minimum(b[:, 2], x1) - np.maximum(b[:, 0], x0), 0, None)
    iy = np.clip(np.minimum(b[:, 3], y1) - np.maximum(b[:, 1], y0), 0, None)
    full = _area(b)
    hidden = np.divide(ix * iy, full, out=np.ones_like(full), where=full > 0)
    polys = [pg.cut(obj, x0, y0, x1, y1) for obj in objects.polygons]
    share = _polygon_shares(objects.polygons, polys, 1.0 - hidden)
    boxes = _polygon_boxes(objects, polys, b)
    covered = replace(objects, boxes=boxes, visibility=objects.visibility * share, polygons=polys)
    return move_masks(covered, window_only(x0, y0, x1, y1, keep=False))


class ImageApplier(Applier):
    """Applies an op to an image and, when the image carries annotations, to them too: the mask
    through the same op with nearest sampling, objects through the op's map."""

    def __init__(self, flip_pairs: Sequence[tuple[int, int]] = (), mask_fill: float = 0) -> None:
        self.flip_pairs = tuple(flip_pairs)
        self.mask_fill = mask_fill

    def apply(
        self, op: Any, data: Any, params: dict[str, Any], info: dict[str, Any], load: Any
    ) -> Any:
        partners: list[Any] = []
        if op.partners:
            if load is None:
                raise ValueError(f"{op.name} needs its partner inputs")
            partners = [load(p) for p in params["partners"]]
        if not isinstance(data, Annotated):
            images = [p.image if isinstance(p, Annotated) else p for p in partners]
            return (
                op.apply(data, params, partners=images) if op.partners else op.apply(data, params)
            )
        partners = [p if isinstance(p, Annotated) else Annotated(p) for p in partners]
        if op.partners:
            image = op.apply(data.image, params, partners=[p.image for p in partners])
        else:
            image = op.apply(data.image, params)
        mask, objects = op.targets(data, params, info, partners, self)
        return replace(data, image=image, mask=mask, objects=objects)

    def mix(self, parts: list[Any], weights: list[float]) -> Any:
        """The weighted sum of the images (rounded into their dtype); an annotated input
        keeps its own mask and objects (augmix blends only ops that keep the geometry)."""
        images = [p.image if isinstance(p, Annotated) else p for p in parts]
        acc = np.zeros(images[0].shape, np.float64)
        for image, w in zip(images, weights, strict=True):
            acc += w * image
        top = np.iinfo(images[0].dtype).max
        mixed = np.clip(np.rint(acc), 0, top).astype(images[0].dtype)
        return replace(parts[0], image=mixed) if isinstance(parts[0], Annotated) else mixed

    def apply_chain(
        self, data: Any, chain: list[tuple[Any, dict[str, Any], dict[str, Any]]]
    ) -> tuple[Any, list[int]]:
        cls = type(chain[0][0])
        if not isinstance(data, Annotated):
            return cls.apply_chain(data, chain)
        image, groups = cls.apply_chain(data.image, chain)
        mask = data.mask
        if mask is not None:
            mchain = [(op, mask_params(p, self.mask_fill), i) for op, p, i in chain]
            mask = cls.apply_chain(mask, mchain)[0]
        objects = data.objects
        if objects is not None:
            for op, params, info in chain:
                m, oh, ow = op.warp(params, info["height"], info["width"])
                objects = move_by_matrix(objects, m, oh, ow, self.flip_pairs)
            ochain = [(op, mask_params(p, 0), i) for op, p, i in chain]
            objects = move_masks(objects, lambda m: cls.apply_chain(m, ochain)[0])
        return replace(data, image=image, mask=mask, objects=objects), groups


def foreground_area(ann: Annotated, mask_fill: float = 0, min_visibility: float = 0.0) -> float:
    """An image's foreground in its own pixels: the mask's pixels > 0 (``mask_fill``, what
    warps bring in from outside, is not foreground), else the area of the objects that would
    be written (``finish``): each one's polygons, its own mask, or its box (boxes overlapping
    count twice; they are clipped to the image already)."""
    if ann.mask is not None:
        fg = ann.mask > 0
        if mask_fill > 0:
            fg &= ann.mask != mask_fill
        return float(np.count_nonzero(fg))
    kept, _ = finish(ann, min_visibility)
    objs = kept.objects
    if objs is None:
        return 0.0
    total = 0.0
    for i in range(len(objs)):
        if objs.polygons[i]:
            total += pg.total_area(objs.polygons[i])
        elif objs.masks[i] is not None:
            total += float(np.count_nonzero(objs.masks[i]))
        else:
            total += float(_area(objs.boxes[i : i + 1])[0])
    return total
