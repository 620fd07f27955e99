"""COCO detection and keypoint annotations: one JSON for the whole input tree (``images``,
``annotations``, ``categories``), read once into a ``CocoIndex``; objects per image; and the
output's JSON built from every output image's objects.

- ``bbox`` is ``[x, y, w, h]`` in continuous pixel coordinates (x0 = x, x1 = x + w), keypoints
  ``[x, y, v] * K`` in the same coordinates. Labels are ``category_id``s.
- Whole-file problems (invalid JSON, missing lists, bad or duplicate ids, an annotation naming an
  unknown image or category, malformed bbox/keypoints) raise ``InputError`` from ``load_coco``,
  with the line for invalid JSON (``file:line: ...``) and the JSON path otherwise
  (``file: annotations[12].image_id: ...``). Per-image problems (a box outside the image, an
  empty box, a size that disagrees with the image) fail only that image, from ``coco_objects``.
- Tolerance: a box reaching outside the image by at most 1e-3 of its side or one pixel, whichever
  is larger, is clipped; further out is an error.
- ``Objects.extra`` per object: ``coco_id`` (the original annotation id), ``iscrowd``,
  ``coco_bbox`` (the bbox as read: written back unchanged when the box still equals it within
  1e-9, so a no-op round trip is exact), ``coco_fields`` (other annotation fields, such as CVAT's
  ``attributes``, carried as they are), and ``coco_k`` when the object has fewer keypoints than
  others in its image (0: none; keypoints are zero-padded to one K per image).
- **Polygon segmentations are carried**: ``segmentation`` as a list of polygons
  ``[[x1, y1, x2, y2, ...], ...]`` (continuous pixel coordinates, like ``bbox``) becomes
  ``Objects.polygons``, moved by every geometric op (``annotate``), clipped to the image; the
  object's ``bbox`` is then the polygons' bounds, its visibility their area's share, and ``area``
  their shoelace area. An object whose polygons are unchanged (within 1e-9, e.g. a kept original)
  is written with its ``segmentation``, ``bbox`` and ``area`` exactly as read. Polygon vertices
  reaching outside the image by more than the box tolerance fail the image.
- **RLE segmentations are carried through the mask path**: an RLE (``{"counts": ..., "size":
  [h, w]}``, counts a list or pycocotools' compressed string; usually ``iscrowd: 1``) is decoded
  to the object's own 0/1 mask (``Objects.masks``), moved by every op as the image's mask is
  (nearest sampling, fill 0), and written as an uncompressed RLE, its ``bbox`` the mask's bounds
  and ``area`` its pixel count. Unchanged (a kept original), it is written exactly as read.
  ``load_coco`` checks every RLE (size, counts covering h x w), so ``validate`` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from augcli.image import polygons as pg
from augcli.image import rle
from augcli.image.formats.common import clip_box, error, read_bytes, same, span, tolerance
from augcli.image.targets import Objects

KNOWN = {
    "id",
    "image_id",
    "category_id",
    "bbox",
    "area",
    "iscrowd",
    "segmentation",
    "keypoints",
    "num_keypoints",
}
STALE_IMAGE_FIELDS = {"id", "file_name", "width", "height", "coco_url", "flickr_url"}
FIX = "Fix the COCO file, or export it again."
OUTSIDE = (
    "the box reaches outside the image: {axis} from {lo:g} to {hi:g}, the image is "
    "0..{size} (up to {tol:g} px outside is clipped)"
)
OUTSIDE_FIX = "Fix or remove the annotation."
POLYGONS = "must be a list of polygons, each [x1, y1, x2, y2, ...] with 3 or more points"


@dataclass
class CocoIndex:
    """A COCO file, indexed: images by ``file_name`` (POSIX, as written, ``./`` and ``\\``
    normalised), annotations by image id (with their position in ``annotations``)."""

    path: Path
    header: dict[str, Any]  # info, licenses
    categories: list[dict[str, Any]]  # as in the file
    category_keypoints: dict[Any, list[str]]  # category id -> its keypoint names, where listed
    images: dict[str, dict[str, Any]]
    image_pos: dict[str, int]
    annotations: dict[Any, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)

    def keypoint_names(self) -> list[str] | None:
        """The keypoint names, when the categories that have keypoints all share one list (as
        COCO's ``person``); None when none has keypoints or they differ."""
        schemas = {tuple(names) for names in self.category_keypoints.values()}
        return list(schemas.pop()) if len(schemas) == 1 else None

    def file_names(self) -> list[str]:
        """Every image's ``file_name`` (normalised), in the file's order."""
        return list(self.images)


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normalise(file_name: str) -> str:
    name = file_name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def load_coco(path: Path) -> CocoIndex:
    """Read and check the COCO file ``path``."""
    doc = _read_json(path)
    _check_lists(path, doc)
    categories, category_keypoints = _categories(path, doc)
    images, image_pos, ids = _images(path, doc)
    annotations: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
    for i, jp, ann, _aid in _entries(path, doc, "annotations", "annotation"):
        _check_annotation(path, jp, ann, ids, categories, category_keypoints)
        annotations.setdefault(ann["image_id"], []).append((i, ann))
    header = {key: doc[key] for key in ("info", "licenses") if key in doc}
    return CocoIndex(
        path, header, doc["categories"], category_keypoints, images, image_pos, annotations
    )


def _bad(path: Path, jpath: str, what: str, value: Any = ..., fix: str = FIX) -> Exception:
    """The error for the JSON path ``jpath`` of the COCO file ``path``."""
    return error(f"{path}: {jpath}", what, value, fix)


def _read_json(path: Path) -> Any:
    """The parsed JSON of ``path``; invalid JSON fails with its line, non-UTF-8 bytes too."""
    raw = read_bytes(path)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise error(
            f"{path}:{exc.lineno}", f"is not valid JSON ({exc.msg}, column {exc.colno})", fix=FIX
        ) from None
    except UnicodeDecodeError:
        raise error(
            str(path), "is not UTF-8 text", fix="Save the COCO file as UTF-8 JSON."
        ) from None


def _check_lists(path: Path, doc: Any) -> None:
    """The top level is an object with ``images``, ``annotations`` and ``categories`` lists."""
    if not isinstance(doc, dict):
        raise error(
            str(path),
            "the top level is not a JSON object",
            type(doc).__name__,
            "A COCO file is an object with images, annotations and categories.",
        )
    for key in ("images", "annotations", "categories"):
        if key not in doc:
            raise _bad(
                path,
                key,
                "is missing",
                fix="A COCO file has images, annotations and categories lists.",
            )
        if not isinstance(doc[key], list):
            raise _bad(path, key, "must be a list", type(doc[key]).__name__)


def _entries(path: Path, doc: dict[str, Any], key: str, noun: str) -> Any:
    """(index, JSON path, entry, id) of a list of objects with unique integer ids."""
    seen: dict[Any, int] = {}
    for i, entry in enumerate(doc[key]):
        jp = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise _bad(path, jp, "must be an object", entry)
        eid = entry.get("id")
        if not _is_id(eid):
            raise _bad(path, f"{jp}.id", "is missing or not an integer id", eid)
        if eid in seen:
            raise _bad(
                path, f"{jp}.id", f"duplicate {noun} id ({key}[{seen[eid]}] has it too)", eid
            )
        seen[eid] = i
        yield i, jp, entry, eid


def _categories(path: Path, doc: dict[str, Any]) -> tuple[dict[Any, int], dict[Any, list[str]]]:
    """Category id -> position, and category id -> keypoint names (where it lists some)."""
    categories: dict[Any, int] = {}
    category_keypoints: dict[Any, list[str]] = {}
    for i, jp, cat, cid in _entries(path, doc, "categories", "category"):
        categories[cid] = i
        names = cat.get("keypoints")
        if names is not None:
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise _bad(path, f"{jp}.keypoints", "must be a list of keypoint names", names)
            if names:
                category_keypoints[cid] = names
    return categories, category_keypoints


def _images(
    path: Path, doc: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, int], dict[Any, int]]:
    """Images by normalised file name, their positions, and image id -> position."""
    images: dict[str, dict[str, Any]] = {}
    image_pos: dict[str, int] = {}
    ids: dict[Any, int] = {}
    for i, jp, img, iid in _entries(path, doc, "images", "image"):
        ids[iid] = i
        name = img.get("file_name")
        if not isinstance(name, str) or not name.strip():
            raise _bad(path, f"{jp}.file_name", "is missing or not a file name", name)
        key = normalise(name)
        if key in images:
            raise _bad(
                path,
                f"{jp}.file_name",
                f"duplicate file name (images[{image_pos[key]}] has it too)",
                name,
            )
        for dim in ("width", "height"):
            if dim in img and not (
                isinstance(img[dim], int) and not isinstance(img[dim], bool) and img[dim] > 0
            ):
                raise _bad(
                    path, f"{jp}.{dim}", "must be a positive whole number of pixels", img[dim]
                )
        images[key] = img
        image_pos[key] = i
    return images, image_pos, ids


def _finite_numbers(value: Any) -> bool:
    return all(_is_number(v) and np.isfinite(v) for v in value)


def _check_annotation(
    path: Path,
    jp: str,
    ann: dict[str, Any],
    ids: dict[Any, int],
    categories: dict[Any, int],
    category_keypoints: dict[Any, list[str]],
) -> None:
    """One annotation names a known image and category, and has a valid bbox and iscrowd."""
    if not _is_id(ann.get("image_id")) or ann["image_id"] not in ids:
        raise _bad(path, f"{jp}.image_id", "names no image in images", ann.get("image_id"))
    cid = ann.get("category_id")
    if not _is_id(cid) or cid not in categories:
        raise _bad(path, f"{jp}.category_id", "names no category in categories", cid)
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and _finite_numbers(bbox)):
        raise _bad(path, f"{jp}.bbox", "must be [x, y, width, height], four finite numbers", bbox)
    if ann.get("iscrowd", 0) not in (0, 1):
        raise _bad(path, f"{jp}.iscrowd", "must be 0 or 1", ann.get("iscrowd"))
    kps = ann.get("keypoints")
    if kps:
        _check_keypoints(path, f"{jp}.keypoints", kps, category_keypoints.get(cid))
    if ann.get("segmentation"):
        _check_segmentation(path, f"{jp}.segmentation", ann)


def _check_segmentation(path: Path, jpath: str, ann: dict[str, Any]) -> None:
    """Polygons: a list of flat [x, y, ...] lists of finite numbers, 3 points or more each; or
    an RLE (``rle.check``)."""
    seg = ann["segmentation"]
    if isinstance(seg, dict):
        wrong = rle.check(seg)
        if wrong is not None:
            raise _bad(path, jpath, f"{wrong} (annotation id {ann['id']})", seg)
        return
    ok = isinstance(seg, list) and all(
        isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0 and _finite_numbers(poly)
        for poly in seg
    )
    if not ok:
        raise _bad(path, jpath, f"{POLYGONS} (annotation id {ann['id']})", seg)


def _check_keypoints(path: Path, jpath: str, kps: Any, names: list[str] | None) -> None:
    """A flat [x, y, v] * K list of finite numbers, K as the category's names where listed."""
    if not (isinstance(kps, list) and len(kps) % 3 == 0 and _finite_numbers(kps)):
        raise _bad(
            path,
            jpath,
            "must be a flat list [x1, y1, v1, x2, y2, v2, ...] of finite numbers",
            kps,
        )
    if names is not None and len(kps) != 3 * len(names):
        raise _bad(
            path,
            jpath,
            f"has {len(kps) // 3} keypoints but its category lists {len(names)} names",
            len(kps),
        )


def coco_objects(index: CocoIndex, file_name: str, width: int, height: int) -> Objects:
    """The objects of the image ``file_name`` (its POSIX path as the COCO file writes it), which
    is ``width`` x ``height`` pixels."""
    key = normalise(file_name)
    img = index.images.get(key)
    if img is None:
        raise error(
            str(index.path),
            "has no entry in images for this image",
            key,
            "Add it to the COCO file, or leave the image out with the recipe's include/exclude "
            "(file_name is the path relative to the input folder).",
        )
    for dim, actual in (("width", width), ("height", height)):
        if dim in img and img[dim] != actual:
            raise error(
                f"{index.path}: images[{index.image_pos[key]}].{dim}",
                f"does not match the image ({key} is {actual} pixels)",
                img[dim],
                "The annotations are for another image, or another orientation (EXIF rotation "
                "is applied when reading); fix the COCO file.",
            )
    rows = index.annotations.get(img["id"], [])
    boxes, labels, extra, points, polygons, masks = [], [], [], [], [], []
    for pos, ann in rows:
        polygons.append(_polygons(index, pos, ann, width, height))
        masks.append(_mask(index, pos, ann, width, height))
        where = f"{index.path}: annotations[{pos}].bbox"
        x, y, w, h = (float(v) for v in ann["bbox"])
        if w <= 0 or h <= 0:
            raise error(where, "width and height must be > 0", ann["bbox"], OUTSIDE_FIX)
        x0, x1 = _span(x, x + w, width, "x", where, ann["bbox"])
        y0, y1 = _span(y, y + h, height, "y", where, ann["bbox"])
        boxes.append((x0, y0, x1, y1))
        labels.append(ann["category_id"])
        e: dict[str, Any] = {
            "coco_id": ann["id"],
            "iscrowd": int(ann.get("iscrowd", 0)),
            "coco_bbox": list(ann["bbox"]),
        }
        other = {k: v for k, v in ann.items() if k not in KNOWN}
        if other:
            e["coco_fields"] = other
        extra.append(e)
        points.append(ann.get("keypoints") or [])
    k = max((len(p) // 3 for p in points), default=0)
    keypoints = None
    if k and rows:
        keypoints = np.zeros((len(rows), k, 3))
        for i, p in enumerate(points):
            keypoints[i, : len(p) // 3] = np.asarray(p, dtype=np.float64).reshape(-1, 3)
            if len(p) // 3 != k:
                extra[i]["coco_k"] = len(p) // 3
    return Objects(
        np.array(boxes, dtype=np.float64).reshape(-1, 4),
        labels,
        keypoints,
        extra,
        polygons=polygons,
        masks=masks,
    )


def _mask(
    index: CocoIndex, pos: int, ann: dict[str, Any], width: int, height: int
) -> np.ndarray | None:
    """The annotation's RLE decoded to a 0/1 mask (its size checked against the image), or
    None when its segmentation is not an RLE."""
    seg = ann.get("segmentation")
    if not isinstance(seg, dict):
        return None
    if list(seg["size"]) != [height, width]:
        raise error(
            f"{index.path}: annotations[{pos}].segmentation.size",
            f"is [height, width] of another image (this one is [{height}, {width}])",
            seg["size"],
            FIX,
        )
    return rle.decode(seg)


def _polygons(
    index: CocoIndex, pos: int, ann: dict[str, Any], width: int, height: int
) -> list[np.ndarray]:
    """The annotation's polygons as (P, 2) arrays, each checked to lie in the image (within the
    boxes' tolerance; kept as read, so an unchanged object is written back exactly)."""
    out: list[np.ndarray] = []
    if isinstance(ann.get("segmentation"), dict):
        return out
    for k, flat in enumerate(ann.get("segmentation") or []):
        poly = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
        where = f"{index.path}: annotations[{pos}].segmentation[{k}]"
        lo, hi = poly.min(axis=0), poly.max(axis=0)
        _span(float(lo[0]), float(hi[0]), width, "x", where, flat)
        _span(float(lo[1]), float(hi[1]), height, "y", where, flat)
        out.append(poly)
    return out


def _span(lo: float, hi: float, size: int, axis: str, where: str, bbox: Any) -> tuple[float, float]:
    tol = tolerance(size, 1.0)
    return span(lo, hi, size, tol, where, bbox, OUTSIDE, OUTSIDE_FIX, axis=axis)


def coco_document(index: CocoIndex, images: list[dict[str, Any]]) -> dict[str, Any]:
    """The output COCO JSON: ``images`` are ``{"file_name", "width", "height", "objects"}`` (and
    optionally ``"source"``, the input's file_name, whose other image fields such as ``license``
    are kept, and ``"rle"``, each object's uncompressed RLE or None) in output order; image ids
    are 1..n in that order, annotation ids 1..m. Categories, info and licenses are copied
    unchanged."""
    out: dict[str, Any] = dict(index.header)
    out_images: list[dict[str, Any]] = []
    out_anns: list[dict[str, Any]] = []
    known = {cat["id"] for cat in index.categories}
    originals = {a["id"]: a for rows in index.annotations.values() for _, a in rows}
    canonical: dict[Any, list[int]] = {}  # annotation id -> its RLE's runs, decoded once
    for n, item in enumerate(images, 1):
        width, height = int(item["width"]), int(item["height"])
        entry: dict[str, Any] = {
            "id": n,
            "file_name": item["file_name"],
            "width": width,
            "height": height,
        }
        source = index.images.get(normalise(item["source"])) if item.get("source") else None
        if source is not None:
            entry.update({k: v for k, v in source.items() if k not in STALE_IMAGE_FIELDS})
        out_images.append(entry)
        objects: Objects = item["objects"]
        for i in range(len(objects)):
            if objects.labels[i] not in known:
                raise ValueError(
                    f"{item['file_name']}: object {i} has category {objects.labels[i]!r}, not in the COCO categories"
                )
            ann = _annotation(objects, i, len(out_anns) + 1, n, width, height, item["file_name"])
            source = originals.get(objects.extra[i].get("coco_id"))
            _segmentation(ann, objects.polygons[i], source)
            masks = item.get("rle") or [None] * len(objects)
            if masks[i] is not None:
                _rle_segmentation(ann, masks[i], source, canonical)
            out_anns.append(ann)
    out["images"] = out_images
    out["annotations"] = out_anns
    out["categories"] = index.categories
    return out


def _coordinate(value: float) -> float:
    return float(round(value, 6))


def _annotation(
    objects: Objects, i: int, aid: int, image_id: int, width: int, height: int, name: str
) -> dict[str, Any]:
    extra = objects.extra[i]
    box = clip_box(objects.boxes[i], width, height)
    if box is None:
        raise ValueError(
            f"{name}: object {i} has no area inside the {width}x{height} image; drop it before writing"
        )
    x0, y0, x1, y1 = box
    bbox = [x0, y0, x1 - x0, y1 - y0]
    original = extra.get("coco_bbox")
    if (
        isinstance(original, list)
        and len(original) == 4
        and all(same(float(a), b) for a, b in zip(original, bbox, strict=True))
    ):
        bbox = [float(v) for v in original]
    else:
        bbox = [_coordinate(v) for v in bbox]
    label = objects.labels[i]
    ann: dict[str, Any] = {
        "id": aid,
        "image_id": image_id,
        "category_id": label.item() if isinstance(label, np.generic) else label,
        "bbox": bbox,
        "area": _coordinate(bbox[2] * bbox[3]),
        "iscrowd": int(extra.get("iscrowd", 0)),
    }
    if objects.keypoints is not None:
        k = int(extra.get("coco_k", objects.keypoints.shape[1]))
        if k:
            flat = []
            for x, y, v in objects.keypoints[i, :k]:
                flat += [_point(x), _point(y), int(v)]
            ann["keypoints"] = flat
            ann["num_keypoints"] = int(np.count_nonzero(objects.keypoints[i, :k, 2] > 0))
    for key, value in (extra.get("coco_fields") or {}).items():
        ann.setdefault(key, value)
    return ann


def _segmentation(
    ann: dict[str, Any], polys: list[np.ndarray], source: dict[str, Any] | None
) -> None:
    """Put the object's polygons in ``ann``: as read, with the area as read, when unchanged
    (``source``: the annotation the object was read from); else rounded to 6 decimals, with
    their shoelace area."""
    if not polys:
        return
    original = source.get("segmentation") if source is not None else None
    if source is not None and _same_polygons(original, polys):
        ann["segmentation"] = original
        if ann["bbox"] == source["bbox"]:
            ann["area"] = source.get("area", ann["area"])
    else:
        ann["segmentation"] = [[_point(v) for v in p.ravel()] for p in polys]
        ann["area"] = _coordinate(pg.total_area(polys))


def _rle_segmentation(
    ann: dict[str, Any],
    encoded: dict[str, Any],
    source: dict[str, Any] | None,
    canonical: dict[Any, list[int]],
) -> None:
    """Put the object's RLE (``encoded``, uncompressed) in ``ann``: the segmentation (and area)
    as read when the mask is the one read (``source``), else ``encoded`` with its pixel count."""
    original = source.get("segmentation") if source is not None else None
    if isinstance(original, dict) and source is not None:
        if source["id"] not in canonical:
            canonical[source["id"]] = rle.encode(rle.decode(original))["counts"]
        if canonical[source["id"]] == encoded["counts"] and original["size"] == encoded["size"]:
            ann["segmentation"] = original
            if ann["bbox"] == source["bbox"]:
                ann["area"] = source.get("area", ann["area"])
            return
    ann["segmentation"] = encoded
    ann["area"] = rle.area(encoded)


def _same_polygons(original: Any, polys: list[np.ndarray]) -> bool:
    """True when ``original`` (a COCO polygon list) has these polygons, each value within 1e-9."""
    if not isinstance(original, list) or len(original) != len(polys):
        return False
    for flat, poly in zip(original, polys, strict=True):
        src = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
        if src.shape != poly.shape or not np.all(np.abs(src - poly) <= 1e-9):
            return False
    return True


def _point(value: float) -> int | float:
    rounded = round(float(value), 6)
    return int(rounded) if rounded.is_integer() else rounded
