"""What the annotation formats share: located errors, reading the file, the border tolerance and
clipping, number parsing and printing, and "unchanged" comparisons (conventions:
``formats/__init__``)."""

from __future__ import annotations

import math
from typing import Any

from augcli.core.errors import InputError, show
from augcli.image.targets import Objects

SAME = 1e-9  # values this close to what was read are written as they were read


def error(where: str, what: str, value: Any = ..., fix: str = "") -> InputError:
    """``<where>: <what>; got <value>. <fix>`` — ``where`` is ``file:line`` or ``file: json.path``."""
    msg = f"{where}: {what}"
    if value is not ...:
        msg += f"; got {show(value)}"
    msg += "."
    if fix:
        msg += f" {fix}"
    return InputError(msg)


def read_bytes(path: Any) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the annotation file ({exc.strerror})") from None


def tolerance(size: int, pixels: float) -> float:
    """How far (in pixels) a box may reach outside an image side of ``size`` pixels and still be
    clipped rather than refused: 1e-3 of the side, or ``pixels``, whichever is larger."""
    return max(1e-3 * size, pixels)


def span(
    lo: float,
    hi: float,
    size: float,
    tol: float,
    where: str,
    values: Any,
    outside: str,
    fix: str,
    **names: Any,
) -> tuple[float, float]:
    """``[lo, hi]`` on an image side of ``size``, clipped to ``[0, size]``: reaching out by at most
    ``tol`` is rounding, which never fails a file. Further out, or off the side, is the error
    ``<where>: <outside>; got <values>. <fix>``; ``outside`` is a ``str.format`` template of
    ``lo``, ``hi``, ``size``, ``tol`` and ``names``."""
    if lo < -tol or hi > size + tol or lo >= size or hi <= 0:
        what = outside.format(lo=lo, hi=hi, size=size, tol=tol, **names)
        raise error(where, what, values, fix)
    return max(lo, 0.0), min(hi, float(size))


def clip_box(box: Any, width: int, height: int) -> tuple[float, float, float, float] | None:
    """``box`` (x0, y0, x1, y1) clipped to a ``width`` x ``height`` image, or None when no area of
    it is inside."""
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = max(x0, 0.0), min(x1, float(width))
    y0, y1 = max(y0, 0.0), min(y1, float(height))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def inside(
    path: Any, objects: Objects, i: int, what: str, width: int, height: int
) -> tuple[float, float, float, float]:
    """Object ``i``'s box clipped to the image, for a writer: an object with no area inside
    (``what`` names it) is refused, as it should have been dropped before writing."""
    box = clip_box(objects.boxes[i], width, height)
    if box is None:
        raise error(
            str(path),
            f"object {i} ({what}) has no area inside the {width}x{height} image",
            [float(v) for v in objects.boxes[i]],
            "Drop such objects before writing (min_visibility).",
        )
    return box


def number(value: float) -> str:
    """A coordinate with 6 decimals, trailing zeros dropped (``12``, ``0.25``, ``47.123457``)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if float(text) == 0.0 and value != 0.0:  # never write a tiny non-zero value as 0
        text = f"{value:.6g}"
    return text


def finite(token: str) -> float | None:
    """``token`` as a finite float, or None."""
    try:
        value = float(token)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def same(a: float, b: float) -> bool:
    return abs(a - b) <= SAME
