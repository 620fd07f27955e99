"""Image mixing (mixup, cutmix, mosaic): blend an input with partner inputs chosen
deterministically from the same class, or from any class with soft labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.core.errors import InputError
from augcli.image.ops.arrays import resize, to_dtype
from augcli.image.ops.base import ImageOp
from augcli.params import Param

_ALPHA = Param(
    default=0.4,
    low=0.0,
    low_open=True,
    high=100.0,
    sampled=False,
    help="Beta(alpha, alpha) shape of the mixing weight",
)
_ACROSS = Param(
    kind="bool",
    default=False,
    help="draw partners from any class; the manifest then records soft labels",
)

_CONVERT = {  # (from channels, to channels) -> cv2 colour conversion name
    (1, 3): "COLOR_GRAY2BGR",
    (1, 4): "COLOR_GRAY2BGRA",
    (3, 1): "COLOR_BGR2GRAY",
    (4, 1): "COLOR_BGRA2GRAY",
    (3, 4): "COLOR_BGR2BGRA",
    (4, 3): "COLOR_BGRA2BGR",
}


def _channels(img: np.ndarray) -> int:
    return 1 if img.ndim == 2 else img.shape[2]


def fit(partner: np.ndarray, like: np.ndarray, name: str) -> np.ndarray:
    """The partner at ``like``'s size (area when shrinking, linear when growing) and channel
    count (gray <-> colour conversion, alpha added opaque or dropped); dtypes must match."""
    import cv2

    if partner.dtype != like.dtype:
        raise InputError(
            f"cannot mix {name} ({partner.dtype}) into a {like.dtype} image; keep 8- and 16-bit "
            "images in separate classes or folders"
        )
    cf, ct = _channels(partner), _channels(like)
    if cf != ct:
        partner = cv2.cvtColor(partner, getattr(cv2, _CONVERT[(cf, ct)]))
    h, w = like.shape[:2]
    if partner.shape[:2] != (h, w):
        partner = resize(partner, h, w, "auto")
    return partner


def fit_targets(
    partner: Any, h: int, w: int, applier: Any, window: tuple[int, int, int, int] | None = None
) -> tuple[Any, Any]:
    """A partner's (mask, objects) resized like its pixels: to (h, w), then placed at ``window``
    (y0, y1, x0, x1) of the output when given (mosaic), else covering it."""
    from augcli.image.annotate import empty_objects, move_by_matrix, move_masks
    from augcli.image.ops.warp import resize_matrix, translate

    ph, pw = partner.image.shape[:2]
    y0, y1, x0, x1 = window or (0, h, 0, w)
    mask = partner.mask
    if mask is not None:
        mask = resize(mask, y1 - y0, x1 - x0, "nearest")
    objects = partner.objects if partner.objects is not None else empty_objects()
    m = translate(x0, y0) @ resize_matrix(ph, pw, y1 - y0, x1 - x0)
    objects = move_by_matrix(objects, m, h, w, ())

    def place(a: np.ndarray) -> np.ndarray:  # an object's own mask: resized into the window
        out = np.zeros((h, w), a.dtype)
        out[y0:y1, x0:x1] = resize(a, y1 - y0, x1 - x0, "nearest")
        return out

    return mask, move_masks(objects, place)


class MixOp(ImageOp):
    """Base of mixing ops: choosing partners and recording their labels and weights."""

    group = "mixing"
    partners = 1
    params = {"alpha": _ALPHA, "across_classes": _ACROSS}

    def pick(self, rng: np.random.Generator, info: dict[str, Any]) -> tuple[list[str], list[Any]]:
        pools = info.get("pools") or {}
        source, label = info.get("source"), info.get("label")
        if self.config["across_classes"]:
            pairs = sorted((p, lab) for lab, paths in pools.items() for p in paths)
        else:
            pairs = [(p, label) for p in pools.get(label, ())]
        pairs = [pair for pair in pairs if pair[0] != source]
        if not pairs:
            where = "the dataset" if self.config["across_classes"] else f"class {label!r}"
            raise InputError(
                f"{self.name} needs another input to mix with, and {where} has none besides "
                f"this one; add inputs, or set across_classes: true"
            )
        idx = rng.choice(len(pairs), size=self.partners, replace=len(pairs) < self.partners)
        chosen = [pairs[int(i)] for i in idx]
        return [p for p, _ in chosen], [lab for _, lab in chosen]

    def record(
        self, params: dict[str, Any], info: dict[str, Any], labels: list[Any], weights: list[float]
    ) -> dict[str, Any]:
        """Add partner labels, weights (source first) and, across classes, the soft label."""
        params["partner_labels"] = labels
        params["weights"] = [round(w, 6) for w in weights]
        if self.config["across_classes"]:
            soft: dict[str, float] = {}
            for lab, w in zip([info.get("label"), *labels], weights, strict=True):
                key = str(lab)
                soft[key] = round(soft.get(key, 0.0) + w, 6)
            params["soft_label"] = soft
        return params

    @staticmethod
    def _color(img: np.ndarray) -> np.ndarray:
        return img[..., :3] if _channels(img) == 4 else img


class Mixup(MixOp):
    """Blend with one partner: out = w * image + (1 - w) * partner, w ~ Beta(alpha, alpha).

    The partner is resized to the image's size (area when shrinking, linear when growing) and
    converted to its channel count; the image's alpha channel is kept.
    """

    name = "mixup"

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        partners, labels = self.pick(rng, info)
        w = float(rng.beta(self.config["alpha"], self.config["alpha"]))
        params = {"partners": partners}
        return self.record(params, info, labels, [w, 1.0 - w])

    def apply(self, data: np.ndarray, params: dict[str, Any], partners: Any = ()) -> np.ndarray:
        other = fit(partners[0], data, params["partners"][0])
        w = np.float32(params["weights"][0])
        out = data.copy()
        a, b = self._color(data).astype(np.float32), self._color(other).astype(np.float32)
        a *= w  # in place: a * w + b * (1 - w) in two float copies, not five
        b *= np.float32(1.0) - w
        a += b
        del b
        mixed = to_dtype(a, data.dtype)
        if _channels(data) == 4:
            out[..., :3] = mixed
        else:
            out = mixed
        return out

    def targets(
        self, ann: Any, params: dict[str, Any], info: dict[str, Any], partners: Any, applier: Any
    ) -> tuple[Any, Any]:
        """Both images' objects are kept (weights in the params); the mask is the image's where
        it is labelled, else the partner's."""
        from augcli.image.targets import Objects

        h, w = info["height"], info["width"]
        pmask, pobjs = fit_targets(partners[0], h, w, applier)
        mask = ann.mask
        if mask is not None and pmask is not None:
            mask = np.where(mask > 0, mask, pmask.astype(mask.dtype))
        objs = ann.objects
        if objs is not None:
            objs = Objects.concat([objs, pobjs])
        return mask, objs


class Cutmix(MixOp):
    """Paste a box of the partner into the image; the box's area is 1 - w of the image,
    w ~ Beta(alpha, alpha), at a random centre (clipped to the image).

    Weights record the true area shares after clipping; the partner is resized as for mixup.
    """

    name = "cutmix"

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        partners, labels = self.pick(rng, info)
        h, w = info["height"], info["width"]
        lam = float(rng.beta(self.config["alpha"], self.config["alpha"]))
        r = np.sqrt(1.0 - lam)
        ch, cw = round(h * r), round(w * r)
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        top, left = max(0, cy - ch // 2), max(0, cx - cw // 2)
        bottom, right = min(h, cy + (ch - ch // 2)), min(w, cx + (cw - cw // 2))
        box = [top, left, bottom - top, right - left]
        share = (box[2] * box[3]) / (h * w)
        params = {"partners": partners, "box": box}
        return self.record(params, info, labels, [1.0 - share, share])

    def apply(self, data: np.ndarray, params: dict[str, Any], partners: Any = ()) -> np.ndarray:
        other = fit(partners[0], data, params["partners"][0])
        t, left, bh, bw = params["box"]
        out = data.copy()
        c = 3 if _channels(data) == 4 else None
        if c:
            out[t : t + bh, left : left + bw, :c] = other[t : t + bh, left : left + bw, :c]
        else:
            out[t : t + bh, left : left + bw] = other[t : t + bh, left : left + bw]
        return out

    def targets(
        self, ann: Any, params: dict[str, Any], info: dict[str, Any], partners: Any, applier: Any
    ) -> tuple[Any, Any]:
        """The image's objects lose what the box hides; the partner's are clipped to the box."""
        from augcli.image.annotate import clip_to_box, cover
        from augcli.image.targets import Objects

        h, w = info["height"], info["width"]
        t, left, bh, bw = params["box"]
        pmask, pobjs = fit_targets(partners[0], h, w, applier)
        mask = ann.mask
        if mask is not None and pmask is not None:
            mask = mask.copy()
            mask[t : t + bh, left : left + bw] = pmask[t : t + bh, left : left + bw]
        objs = ann.objects
        if objs is not None:
            box = (left, t, left + bw, t + bh)
            objs = Objects.concat([cover(objs, *box), clip_to_box(pobjs, *box)])
        return mask, objs


class Mosaic(MixOp):
    """A 2x2 mosaic of the image (top left) and three partners, split at a random centre in the
    middle half of the image; each is resized to fill its quadrant. The size is kept.

    Weights are the quadrants' area shares.
    """

    name = "mosaic"
    partners = 3
    params = {"across_classes": _ACROSS}

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        partners, labels = self.pick(rng, info)
        h, w = info["height"], info["width"]
        cy = int(rng.integers(h // 4, max(h // 4, 3 * h // 4) + 1)) if h > 1 else 1
        cx = int(rng.integers(w // 4, max(w // 4, 3 * w // 4) + 1)) if w > 1 else 1
        cy, cx = min(max(cy, 1), max(h - 1, 1)), min(max(cx, 1), max(w - 1, 1))
        areas = [cy * cx, cy * (w - cx), (h - cy) * cx, (h - cy) * (w - cx)]
        params = {"partners": partners, "center": [cy, cx]}
        return self.record(params, info, labels, [a / (h * w) for a in areas])

    def apply(self, data: np.ndarray, params: dict[str, Any], partners: Any = ()) -> np.ndarray:
        h, w = data.shape[:2]
        cy, cx = params["center"]
        out = np.empty_like(data)
        tiles = [
            data,
            *(fit(p, data, n) for p, n in zip(partners, params["partners"], strict=True)),
        ]
        boxes = [(0, cy, 0, cx), (0, cy, cx, w), (cy, h, 0, cx), (cy, h, cx, w)]
        for tile, (y0, y1, x0, x1) in zip(tiles, boxes, strict=True):
            if y1 > y0 and x1 > x0:
                out[y0:y1, x0:x1] = resize(tile, y1 - y0, x1 - x0, "auto")
        return out

    def targets(
        self, ann: Any, params: dict[str, Any], info: dict[str, Any], partners: Any, applier: Any
    ) -> tuple[Any, Any]:
        """Each tile's mask and objects are scaled into its quadrant, like its pixels."""
        from augcli.image.targets import Objects

        h, w = info["height"], info["width"]
        cy, cx = params["center"]
        boxes = [(0, cy, 0, cx), (0, cy, cx, w), (cy, h, 0, cx), (cy, h, cx, w)]
        mask = None if ann.mask is None else np.zeros_like(ann.mask)
        parts = []
        for tile, window in zip([ann, *partners], boxes, strict=True):
            y0, y1, x0, x1 = window
            if y1 <= y0 or x1 <= x0:
                continue
            tmask, tobjs = fit_targets(tile, h, w, applier, window)
            if mask is not None and tmask is not None:
                mask[y0:y1, x0:x1] = tmask
            parts.append(tobjs)
        objs = None if ann.objects is None else Objects.concat(parts)
        return mask, objs
