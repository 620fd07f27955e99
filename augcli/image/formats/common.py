"""What the annotation formats share: located errors, reading the file, the border tolerance,
number parsing and printing, and "unchanged" comparisons (conventions: ``formats/__init__``)."""

from __future__ import annotations

import math
from typing import Any

from augcli.core.errors import InputError, show

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
