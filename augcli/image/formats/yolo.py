"""YOLO detection labels: a ``.txt`` per image, one ``class cx cy w h`` line per object, the
centre and size as fractions of the image's width and height (0..1); an empty file means no
objects, blank lines are skipped.

- Class ids are non-negative integers (``3``; ``3.0`` is read as 3), below ``n_classes`` when
  that is given. Segmentation (polygon) and pose lines, which have more fields, are refused.
- Tolerance: a box reaching outside [0, 1] by at most 1e-3, or half a pixel if that is more, is
  clipped to the image (exporters' rounding, cf. Albumentations issues #459/#922/#947); further
  out is an error.
- Precision: an object whose values are unchanged (within 1e-9 of what was read) is written as
  its original line, so a no-op round trip gives the same text whatever the exporter's number
  style; changed objects are written with 6 decimals (``0 0.512500 0.400000 0.125000 0.250000``),
  1e-6 of the image, well under a pixel for any image augcli reads. The original line travels in
  ``Objects.extra[i]["yolo_text"]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from augcli.image.formats.common import error, finite, inside, read_bytes, same, span, tolerance
from augcli.image.targets import Objects

FIELDS = ("class", "cx", "cy", "w", "h")
LINE = "Each line is `class cx cy w h`, e.g. `0 0.5 0.5 0.25 0.4`"
OUTSIDE = (
    "the box reaches outside the image: {axis} from {lo:.6g} to {hi:.6g} "
    "(the image is 0..1; up to {tol:.3g} outside is clipped as rounding)"
)
OUTSIDE_FIX = "Fix the box, or remove the line if the object is not in this image."
PIXELS_FIX = (
    "YOLO coordinates are fractions of the image size (0..1), and these look like "
    "pixels: divide cx and w by the width, cy and h by the height."
)


def read_yolo(path: Path, width: int, height: int, n_classes: int | None = None) -> Objects:
    """The objects in the YOLO label file ``path`` of a ``width`` x ``height`` image."""
    try:
        text = read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}:{text_line(exc)}",
            "is not UTF-8 text",
            fix="YOLO label files are plain text; re-export or re-save it as UTF-8",
        ) from None
    boxes: list[tuple[float, float, float, float]] = []
    labels: list[int] = []
    extra: list[dict[str, str]] = []
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if line:
            box, label = _parse_line(line, f"{path}:{lineno}", width, height, n_classes)
            boxes.append(box)
            labels.append(label)
            extra.append({"yolo_text": line})
    return Objects(np.array(boxes, dtype=np.float64).reshape(-1, 4), labels, None, extra)


def text_line(exc: UnicodeDecodeError) -> int:
    return exc.object[: exc.start].count(b"\n") + 1


def _parse_line(
    line: str, where: str, width: int, height: int, n_classes: int | None
) -> tuple[tuple[float, float, float, float], int]:
    fields = line.split()
    if len(fields) != 5:
        extra = ""
        if len(fields) > 5:
            extra = (
                " Segmentation (polygon) and pose labels, and predictions with a confidence, "
                "are not supported: augcli reads detection boxes."
            )
        raise error(
            where,
            f"expected 5 fields (class cx cy w h), found {len(fields)}",
            line,
            LINE + "." + extra,
        )
    label = _class_id(fields[0], where, n_classes)
    values = []
    for name, token in zip(FIELDS[1:], fields[1:], strict=True):
        value = finite(token)
        if value is None:
            raise error(where, f"{name} is not a finite number", token, LINE + ".")
        values.append(value)
    cx, cy, w, h = values
    for name, value in (("w", w), ("h", h)):
        if value <= 0:
            raise error(
                where, f"{name} must be > 0 (a box has a size)", value, "Fix or remove the line."
            )
    x0, x1 = _span(cx, w, width, "x", where, values)
    y0, y1 = _span(cy, h, height, "y", where, values)
    return (x0 * width, y0 * height, x1 * width, y1 * height), label


def _class_id(token: str, where: str, n_classes: int | None) -> int:
    try:
        label = int(token)
    except ValueError:
        value = finite(token)
        if value is None or not value.is_integer():
            raise error(
                where, "the class id must be a non-negative integer", token, LINE + "."
            ) from None
        label = int(value)
    if label < 0:
        raise error(where, "the class id must be a non-negative integer", token, LINE + ".")
    if n_classes is not None and label >= n_classes:
        raise error(
            where,
            f"class id {label} is not below the number of classes ({n_classes}; ids are 0..{n_classes - 1})",
            token,
            "Fix the label, or the number of classes in the recipe if the class list grew.",
        )
    return label


def _span(
    centre: float, size: float, pixels: int, axis: str, where: str, values: list[float]
) -> tuple[float, float]:
    """[lo, hi] along one axis, normalised, clipped to [0, 1] within the tolerance."""
    tol = tolerance(pixels, 0.5) / pixels
    fix = PIXELS_FIX if max(abs(v) for v in values) > 1.5 else OUTSIDE_FIX
    lo, hi = centre - size / 2, centre + size / 2
    return span(lo, hi, 1, tol, where, values, OUTSIDE, fix, axis=axis)


def write_yolo(path: Path, objects: Objects, width: int, height: int) -> None:
    """Write ``objects`` of a ``width`` x ``height`` image as the YOLO label file ``path``."""
    lines = []
    for i in range(len(objects)):
        label = objects.labels[i]
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise ValueError(f"YOLO labels are integer class ids; object {i} has {label!r}")
        label = int(label)
        x0, y0, x1, y1 = inside(path, objects, i, f"class {label}", width, height)
        values = (
            (x0 + x1) / 2 / width,
            (y0 + y1) / 2 / height,
            (x1 - x0) / width,
            (y1 - y0) / height,
        )
        original = objects.extra[i].get("yolo_text")
        if isinstance(original, str) and _unchanged(original, label, values):
            lines.append(original)
        else:
            lines.append(" ".join([str(label), *(_fraction(v) for v in values)]))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _fraction(value: float) -> str:
    text = f"{value:.6f}"
    return text if float(text) != 0.0 else f"{value:.6g}"  # never write a tiny size as 0


def _unchanged(line: str, label: int, values: tuple[float, ...]) -> bool:
    fields = line.split()
    if len(fields) != 5:
        return False
    numbers = [finite(f) for f in fields]
    if any(n is None for n in numbers) or numbers[0] != label:
        return False
    return all(same(a, b) for a, b in zip(numbers[1:], values, strict=True))  # type: ignore[arg-type]
