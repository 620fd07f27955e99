"""Annotations that travel with an image through the ops: a segmentation mask and objects
(bounding boxes with class labels, optional COCO keypoints, and how much of each is visible)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Objects:
    """Boxes in continuous pixel coordinates: pixel i spans [i, i + 1), so a box covering the
    whole W x H image is (0, 0, W, H). Keypoints use the same coordinates.

    ``labels``: class id (YOLO, COCO category_id) or name (VOC), per object.
    ``keypoints``: (N, K, 3) x, y, v (COCO visibility: 0 not labelled, 1 occluded, 2 visible),
    or None. ``extra``: per-object fields carried unchanged (COCO iscrowd, VOC difficult, ...).
    ``visibility``: the fraction of each box's area still inside the image after the ops (1.0
    when read); boxes under ``min_visibility`` are dropped at the end.
    ``polygons``: per object, its outline as a list of (P, 2) vertex arrays (COCO polygon
    segmentation; several for an object in parts), in the boxes' coordinates; an empty list for
    an object without one. Ops move them with the boxes (``annotate``); an object with polygons
    has its box and visibility taken from them once an op has moved it.
    ``masks``: per object, its own 0/1 uint8 mask at the image's size (a COCO RLE
    segmentation), or None; ops move it like the image's mask (nearest sampling), and the
    object's box becomes its bounds.
    """

    boxes: np.ndarray  # (N, 4) float64: x0, y0, x1, y1
    labels: list[Any]
    keypoints: np.ndarray | None = None
    extra: list[dict[str, Any]] = field(default_factory=list)
    visibility: np.ndarray | None = None
    polygons: list[list[np.ndarray]] = field(default_factory=list)
    masks: list[np.ndarray | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if not self.extra:
            self.extra = [{} for _ in range(len(self.boxes))]
        if not self.polygons:
            self.polygons = [[] for _ in range(len(self.boxes))]
        if not self.masks:
            self.masks = [None] * len(self.boxes)
        if self.visibility is None:
            self.visibility = np.ones(len(self.boxes))
        if self.keypoints is not None:
            kps = np.asarray(self.keypoints, dtype=np.float64)
            k = kps.shape[1] if kps.ndim == 3 else 0
            self.keypoints = kps.reshape(len(self.boxes), k if kps.size == 0 else -1, 3)
        n = len(self.boxes)
        if not (len(self.labels) == len(self.extra) == len(self.polygons) == len(self.masks) == n):
            raise ValueError("boxes, labels, extra, polygons and masks need one entry per object")

    def __len__(self) -> int:
        return len(self.boxes)

    def take(self, keep: np.ndarray) -> Objects:
        """The objects where ``keep`` (a boolean mask) is true."""
        idx = np.flatnonzero(keep)
        return Objects(
            self.boxes[idx].copy(),
            [self.labels[i] for i in idx],
            None if self.keypoints is None else self.keypoints[idx].copy(),
            [self.extra[i] for i in idx],
            self.visibility[idx].copy(),
            [self.polygons[i] for i in idx],
            [self.masks[i] for i in idx],
        )

    @staticmethod
    def concat(parts: list[Objects]) -> Objects:
        parts = [p for p in parts if p is not None]
        kps = [p.keypoints for p in parts if len(p)]
        same_k = len({k.shape[1] for k in kps if k is not None}) <= 1 and all(
            k is not None for k in kps
        )
        return Objects(
            np.concatenate([p.boxes for p in parts]) if parts else np.zeros((0, 4)),
            [lab for p in parts for lab in p.labels],
            np.concatenate(kps) if kps and same_k else None,
            [e for p in parts for e in p.extra],
            np.concatenate([p.visibility for p in parts]) if parts else np.zeros(0),
            [poly for p in parts for poly in p.polygons],
            [m for p in parts for m in p.masks],
        )


@dataclass
class Annotated:
    """An image with what is annotated on it; ops transform ``image`` and, where they move
    pixels, ``mask`` and ``objects`` the same way."""

    image: np.ndarray
    mask: np.ndarray | None = None
    objects: Objects | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # format-specific (VOC tree, COCO image)
