"""Annotation settings of the image section (masks, boxes, keypoints), and reading and writing
an image's annotations beside it: mask files, YOLO/VOC sidecars, and the COCO document."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from augcli.core.atomic import atomic_path
from augcli.core.errors import InputError, RecipeError
from augcli.core.paths import side_file
from augcli.image.targets import Annotated, Objects

BOX_FORMATS = ("yolo", "coco", "voc")
MASK_EXTENSIONS = (".png", ".tif", ".tiff", ".bmp")
KEYS = ("masks", "boxes", "keypoints")


@dataclass(frozen=True)
class MaskConfig:
    dir: Path
    suffix: str = ""
    output: str = "masks"
    fill: int = 0


@dataclass(frozen=True)
class BoxConfig:
    format: str
    dir: Path | None = None  # YOLO/VOC: a parallel folder of sidecars; None = beside the image
    file: Path | None = None  # COCO: the input's JSON
    output: str = "annotations.json"  # COCO: the output's JSON, inside the output folder
    classes: int | None = None  # YOLO: number of classes, to catch unknown ids
    min_visibility: float = 0.0


@dataclass(frozen=True)
class AnnotationConfig:
    masks: MaskConfig | None = None
    boxes: BoxConfig | None = None
    flip_pairs: tuple[tuple[Any, Any], ...] = ()
    _coco: Any = field(default=None, compare=False, repr=False)

    @property
    def active(self) -> bool:
        return self.masks is not None or self.boxes is not None


def _mapping(raw: Any, path: str, allowed: tuple[str, ...], example: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RecipeError("must be a mapping", path=path, value=raw, fix=f"Write e.g. {example}.")
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            raise RecipeError(
                "unknown key",
                path=f"{path}.{key}",
                value=key,
                fix=(f"Did you mean '{close[0]}'? " if close else "")
                + f"It takes: {', '.join(allowed)}.",
            )
    return raw


def _path(raw: Any, path: str, base: Path) -> Path:
    if not isinstance(raw, str) or not raw:
        raise RecipeError("must be a path", path=path, value=raw)
    return (base / raw).resolve()


def _rel_out(raw: Any, path: str, default: str) -> str:
    value = default if raw is None else raw
    p = PurePosixPath(str(value))
    if not isinstance(value, str) or not value or p.is_absolute() or ".." in p.parts:
        raise RecipeError(
            "must be a relative path inside the output folder",
            path=path,
            value=raw,
            fix=f"Use e.g. '{default}'.",
        )
    return str(p)


def parse_config(section: dict[str, Any], where: str, base: Path) -> AnnotationConfig:
    """Validate the ``masks``, ``boxes`` and ``keypoints`` keys of an image section."""
    masks = boxes = None
    pairs: tuple[tuple[Any, Any], ...] = ()
    if section.get("masks") is not None:
        masks = _mask_config(section["masks"], f"{where}.masks", base)
    if section.get("boxes") is not None:
        boxes = _box_config(section["boxes"], f"{where}.boxes", base)
    if section.get("keypoints") is not None:
        pairs = _flip_pairs(section["keypoints"], f"{where}.keypoints")
    return AnnotationConfig(masks, boxes, pairs)


def _mask_config(section: Any, p: str, base: Path) -> MaskConfig:
    """The ``masks`` mapping at YAML path ``p``, checked."""
    raw = _mapping(
        section,
        p,
        ("dir", "suffix", "output", "fill"),
        "masks: {dir: ../masks, suffix: _mask}",
    )
    if "dir" not in raw:
        raise RecipeError("needs 'dir', the folder of mask images", path=p)
    fill = raw.get("fill", 0)
    if isinstance(fill, bool) or not isinstance(fill, int) or fill < 0:
        raise RecipeError("must be a whole number >= 0", path=f"{p}.fill", value=fill)
    suffix = raw.get("suffix", "")
    if not isinstance(suffix, str):
        raise RecipeError("must be text", path=f"{p}.suffix", value=suffix)
    return MaskConfig(
        _path(raw["dir"], f"{p}.dir", base),
        suffix,
        _rel_out(raw.get("output"), f"{p}.output", "masks"),
        fill,
    )


def _box_config(section: Any, p: str, base: Path) -> BoxConfig:
    """The ``boxes`` mapping at YAML path ``p``, checked."""
    raw = _mapping(
        section,
        p,
        ("format", "dir", "file", "output", "classes", "min_visibility"),
        "boxes: {format: yolo}",
    )
    fmt = _box_format(raw, p)
    vis = _min_visibility(raw.get("min_visibility", 0.0), f"{p}.min_visibility")
    classes = _classes(raw.get("classes"), f"{p}.classes")
    return BoxConfig(
        fmt,
        _path(raw["dir"], f"{p}.dir", base) if raw.get("dir") else None,
        _path(raw["file"], f"{p}.file", base) if raw.get("file") else None,
        _rel_out(raw.get("output"), f"{p}.output", "annotations.json"),
        classes,
        vis,
    )


def _box_format(raw: dict[str, Any], p: str) -> str:
    """``boxes.format``, one of ``BOX_FORMATS``; COCO also needs ``file``."""
    fmt = raw.get("format")
    if fmt not in BOX_FORMATS:
        raise RecipeError(
            "is not a known box format",
            path=f"{p}.format",
            value=fmt,
            fix=f"Use one of: {', '.join(BOX_FORMATS)}.",
        )
    if fmt == "coco" and "file" not in raw:
        raise RecipeError(
            "COCO boxes need 'file', the input's COCO JSON",
            path=p,
            fix="Add 'file: path/to/instances.json' (relative to the recipe).",
        )
    return fmt


def _min_visibility(vis: Any, path: str) -> float:
    """``boxes.min_visibility``, a number in [0, 1]."""
    if isinstance(vis, bool) or not isinstance(vis, (int, float)) or not 0 <= vis <= 1:
        raise RecipeError(
            "must be a number in [0, 1]",
            path=path,
            value=vis,
            fix="It is the share of a box that must stay in the image.",
        )
    return float(vis)


def _classes(classes: Any, path: str) -> int | None:
    """``boxes.classes``, None or a whole number >= 1."""
    if classes is not None and (
        isinstance(classes, bool) or not isinstance(classes, int) or classes < 1
    ):
        raise RecipeError(
            "must be the number of classes (a whole number >= 1)",
            path=path,
            value=classes,
        )
    return classes


def _flip_pairs(section: Any, p: str) -> tuple[tuple[Any, Any], ...]:
    """``keypoints.flip_pairs`` at YAML path ``p``: [left, right] pairs of indices or names."""
    raw = _mapping(
        section,
        p,
        ("flip_pairs",),
        "keypoints: {flip_pairs: [[left_eye, right_eye]]}",
    )
    fp = raw.get("flip_pairs", [])
    ok = isinstance(fp, list) and all(
        isinstance(x, list) and len(x) == 2 and all(isinstance(v, (int, str)) for v in x)
        for x in fp
    )
    if not ok:
        raise RecipeError(
            "must be a list of [left, right] pairs (indices or names)",
            path=f"{p}.flip_pairs",
            value=fp,
        )
    return tuple((a, b) for a, b in fp)


# -- per image -------------------------------------------------------------------------------
def _sidecar(cfg: BoxConfig, root: Path, relpath: str, ext: str) -> Path:
    p = PurePosixPath(relpath)
    rel = p.with_suffix(ext)
    return (cfg.dir / rel) if cfg.dir is not None else root / rel


def find_mask(cfg: MaskConfig, relpath: str, links_outside: bool = False) -> Path:
    """The mask of an input: a regular file in ``masks.dir`` (``core.paths.side_file``)."""
    p = PurePosixPath(relpath)
    stem = p.stem + cfg.suffix
    tried = []
    for ext in (*MASK_EXTENSIONS, p.suffix):
        cand = cfg.dir / p.parent / f"{stem}{ext}"
        if side_file(cand, cfg.dir, links_outside) is not None:
            return cand
        tried.append(str(cand))
    raise InputError(
        f"no mask found; looked for {tried[0]} (and .tif/.bmp/{p.suffix}). "
        "Add the mask, or check masks.dir and masks.suffix"
    )


def flip_indices(cfg: AnnotationConfig, names: list[str] | None) -> tuple[tuple[int, int], ...]:
    out = []
    for a, b in cfg.flip_pairs:
        if isinstance(a, str) or isinstance(b, str):
            if not names or a not in names or b not in names:
                raise InputError(
                    f"keypoints.flip_pairs names {a!r}/{b!r}, which the COCO "
                    f"categories' keypoints do not list ({names})"
                )
            out.append((names.index(a), names.index(b)))
        else:
            out.append((int(a), int(b)))
    return tuple(out)


def load(
    cfg: AnnotationConfig, root: Path, relpath: str, image: np.ndarray, links_outside: bool = False
) -> Annotated:
    """The image with its mask and objects, from the files beside (or parallel to) it: regular
    files inside their folder (symlinks leaving it too with ``links_outside``)."""
    from augcli.image.io import read_image

    h, w = image.shape[:2]
    mask = None
    if cfg.masks is not None:
        path = find_mask(cfg.masks, relpath, links_outside)
        mask = read_image(path)
        if mask.ndim == 3:
            raise InputError(
                f"mask {path} has {mask.shape[2]} channels; masks are single-channel label images"
            )
        if mask.shape[:2] != (h, w):
            raise InputError(
                f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but the image is "
                f"{w}x{h}; a mask must match its image"
            )
    objects: Objects | None = None
    meta: dict[str, Any] = {}
    b = cfg.boxes
    if b is not None and b.format == "yolo":
        from augcli.image.formats.yolo import read_yolo

        side = side_file(_sidecar(b, root, relpath, ".txt"), b.dir or root, links_outside)
        objects = read_yolo(side, w, h, b.classes) if side is not None else _none()
    elif b is not None and b.format == "voc":
        from augcli.image.formats.voc import read_voc

        side = side_file(_sidecar(b, root, relpath, ".xml"), b.dir or root, links_outside)
        if side is not None:
            objects, meta["voc"] = read_voc(side, w, h)
        else:
            objects = _none()
    elif b is not None and b.format == "coco":
        from augcli.image.formats.coco import coco_objects

        objects = coco_objects(coco_index(cfg), relpath, w, h)
    return Annotated(image, mask, objects, meta)


def _none() -> Objects:
    return Objects(np.zeros((0, 4)), [])


def coco_index(cfg: AnnotationConfig) -> Any:
    from augcli.image.formats.coco import load_coco

    if cfg._coco is None:
        assert cfg.boxes is not None and cfg.boxes.file is not None
        object.__setattr__(cfg, "_coco", load_coco(cfg.boxes.file))
    return cfg._coco


def save(cfg: AnnotationConfig, out_root: Path, out_rel: str, ann: Annotated) -> dict[str, Any]:
    """Write the output's mask and sidecar (atomically, before its image); return what the
    manifest records: object counts, dropped objects, and the objects for COCO."""
    from augcli.image.annotate import finish

    b = cfg.boxes
    ann, dropped = finish(ann, b.min_visibility if b else 0.0)
    h, w = ann.image.shape[:2]
    record: dict[str, Any] = {}
    if cfg.masks is not None and ann.mask is not None:
        from augcli.image.io import encode_image

        mrel = str(PurePosixPath(cfg.masks.output) / PurePosixPath(out_rel).with_suffix(".png"))
        with atomic_path(out_root / mrel, out_root) as tmp:
            tmp.write_bytes(encode_image(ann.mask, ".png", 95, 3))
        record["mask"] = mrel
    objs = ann.objects
    if b is not None and objs is not None:
        if b.format == "yolo":
            from augcli.image.formats.yolo import write_yolo

            side = PurePosixPath(out_rel).with_suffix(".txt")
            with atomic_path(out_root / side, out_root) as tmp:
                write_yolo(tmp, objs, w, h)
            record["sidecar"] = str(side)
        elif b.format == "voc":
            from augcli.image.formats.voc import write_voc

            side = PurePosixPath(out_rel).with_suffix(".xml")
            with atomic_path(out_root / side, out_root) as tmp:
                write_voc(tmp, objs, w, h, PurePosixPath(out_rel).name, ann.meta.get("voc"))
            record["sidecar"] = str(side)
        record["objects"] = sum("voc_part_of" not in e for e in objs.extra)  # not VOC parts
        record["dropped"] = dropped
        if b.format == "coco":
            record["coco"] = {"width": w, "height": h, **objects_to_json(objs)}
    return record


def objects_to_json(objs: Objects) -> dict[str, Any]:
    """The objects as the manifest records them (``polygons`` only when some object has one)."""
    doc = {
        "boxes": objs.boxes.tolist(),
        "labels": list(objs.labels),
        "keypoints": None if objs.keypoints is None else objs.keypoints.tolist(),
        "extra": objs.extra,
    }
    if any(objs.polygons):
        doc["polygons"] = [[p.tolist() for p in obj] for obj in objs.polygons]
    if any(m is not None for m in objs.masks):
        from augcli.image.rle import encode

        doc["rle"] = [None if m is None else encode(m) for m in objs.masks]
    return doc


def objects_from_json(doc: dict[str, Any]) -> Objects:
    kp = doc.get("keypoints")
    polys = doc.get("polygons") or []
    return Objects(
        np.asarray(doc["boxes"], dtype=np.float64).reshape(-1, 4),
        list(doc["labels"]),
        None if kp is None else np.asarray(kp, dtype=np.float64),
        list(doc["extra"]),
        polygons=[[np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in obj] for obj in polys],
    )


def write_coco(cfg: AnnotationConfig, out_root: Path, records: list[dict[str, Any]]) -> str | None:
    """The output's COCO document, built by the parent from the manifest's records."""
    if cfg.boxes is None or cfg.boxes.format != "coco":
        return None
    from augcli.core.atomic import write_text_atomic
    from augcli.image.formats.coco import coco_document

    images = [
        {
            "file_name": r["output"],
            "width": r["annotations"]["coco"]["width"],
            "height": r["annotations"]["coco"]["height"],
            "objects": objects_from_json(r["annotations"]["coco"]),
            "rle": r["annotations"]["coco"].get("rle"),  # kept encoded: not a mask per output
        }
        for r in records
        if r.get("status") == "ok" and "coco" in (r.get("annotations") or {})
    ]
    doc = coco_document(coco_index(cfg), images)
    write_text_atomic(out_root / cfg.boxes.output, json.dumps(doc, indent=1) + "\n", out_root)
    return cfg.boxes.output
