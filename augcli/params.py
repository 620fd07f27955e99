"""Parameter specs: one rule for every op (a fixed value or a ``[lo, hi]`` range), validated and sampled."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from augcli.core.errors import RecipeError

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "required"})()

KINDS = ("float", "int", "bool", "choice", "size", "text", "texts", "pairs")

_RECIPE_DIR: ContextVar[Path | None] = ContextVar("recipe_dir", default=None)


@contextmanager
def recipe_dir_is(path: Path) -> Iterator[None]:
    """While a recipe is parsed: the folder its relative paths (e.g. model folders) resolve
    against."""
    token = _RECIPE_DIR.set(path)
    try:
        yield
    finally:
        _RECIPE_DIR.reset(token)


_CHECK_RESOURCES: ContextVar[bool] = ContextVar("check_resources", default=True)


@contextmanager
def resources_unchecked() -> Iterator[None]:
    """While a recipe is parsed for ``replay``: ops skip checks of outside resources (installed
    extras, models, endpoints, keys), which replaying recorded params never uses."""
    token = _CHECK_RESOURCES.set(False)
    try:
        yield
    finally:
        _CHECK_RESOURCES.reset(token)


_PHYSICAL: ContextVar[bool] = ContextVar("physical_units", default=False)


@contextmanager
def physical_units(on: bool) -> Iterator[None]:
    """While a section with ``units: physical`` is parsed: params with a ``quantity`` are in mm
    or the scanner's units, so only their sign is checked here (the op checks its own range
    in pixels and levels per input, after converting)."""
    token = _PHYSICAL.set(on)
    try:
        yield
    finally:
        _PHYSICAL.reset(token)


def check_resources() -> bool:
    """Whether ops should check the outside resources they need (see ``resources_unchecked``)."""
    return _CHECK_RESOURCES.get()


def recipe_dir() -> Path:
    """The folder of the recipe being parsed (the working folder outside a recipe)."""
    return _RECIPE_DIR.get() or Path.cwd()


@dataclass(frozen=True)
class Param:
    """How one op parameter is written, checked and drawn.

    ``kind`` is float, int, bool, choice (one of ``choices``), text (a non-empty string), texts
    (one non-empty string or a list of them, kept as a tuple) or size (a
    fixed ``[height, width]`` pair of positive ints, or null). Numeric params with ``sampled=True`` take a fixed value or a
    ``[lo, hi]`` range, drawn uniformly per output (ints inclusive of both ends). ``low``/``high`` bound
    every allowed value (inclusive); ``low_open`` makes the lower bound exclusive.
    """

    kind: str = "float"
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    sampled: bool = True
    choices: tuple[str, ...] = ()
    # a choice that also takes a list of choices, one drawn per output (uniformly)
    choice_list: bool = False
    unit: str = ""
    help: str = ""
    # What the value measures, where a section can take it in physical units (the image
    # section's ``units: physical``): "" (nothing physical), "length" (px <-> mm), "level" (an
    # intensity: stored <-> HU through the rescale), "difference" (of intensities) or "extent"
    # ([x, y] fractions of the image's size <-> mm).
    quantity: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Param kind must be one of {KINDS}; got {self.kind!r}")

    # -- validation -------------------------------------------------------------------------
    def bounds(self) -> tuple[float | None, float | None]:
        """(low, high) a recipe value must keep: the param's own, or in physical units (see
        ``physical_units``) only a lower bound of 0 (a length, a std), and none for a level."""
        if not (self.quantity and _PHYSICAL.get()):
            return self.low, self.high
        keeps_sign = self.quantity != "level" and self.low is not None and self.low >= 0
        return (0.0 if keeps_sign else None), None

    def bounds_text(self) -> str:
        low, high = self.bounds()
        lo = "-inf" if low is None else _num(low)
        hi = "inf" if high is None else _num(high)
        return f"{'(' if self.low_open and low is not None else '['}{lo}, {hi}]"

    def _check_number(self, v: Any, path: str, whole: Any) -> float | int:
        is_num = isinstance(v, (int, float)) and not isinstance(v, bool)
        if self.kind == "int" and not (is_num and float(v).is_integer()):
            raise RecipeError("must be a whole number", path=path, value=whole, fix=self._form())
        if not is_num or not math.isfinite(v):
            raise RecipeError("must be a finite number", path=path, value=whole, fix=self._form())
        low, high = self.bounds()
        too_low = low is not None and (v <= low if self.low_open else v < low)
        too_high = high is not None and v > high
        if too_low or too_high:
            raise RecipeError(
                f"is out of range {self.bounds_text()}{self._unit()}",
                path=path,
                value=whole,
                fix=f"Use a value in {self.bounds_text()}.",
            )
        return int(v) if self.kind == "int" else float(v)

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def _form(self) -> str:
        if self.kind in ("float", "int") and self.sampled:
            return f"Write a {self.kind} or a [lo, hi] range within {self.bounds_text()}."
        if self.kind in ("float", "int"):
            return (
                f"Write a single {self.kind} within {self.bounds_text()} (this one is not sampled)."
            )
        return ""

    def validate(self, value: Any, path: str) -> Any:
        """Return the normalised value (a number, a ``(lo, hi)`` tuple, a bool, a str or a size)."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise RecipeError("must be true or false", path=path, value=value)
            return value
        if self.kind == "text":
            if not isinstance(value, str) or not value:
                raise RecipeError("must be non-empty text", path=path, value=value)
            return value
        if self.kind == "texts":
            items = value if isinstance(value, list) else [value]
            if not items or not all(isinstance(v, str) and v for v in items):
                raise RecipeError(
                    "must be non-empty text or a list of them", path=path, value=value
                )
            return tuple(items)
        if self.kind == "choice" and self.choice_list and isinstance(value, list):
            if not value:
                raise RecipeError(
                    "list of choices is empty",
                    path=path,
                    value=value,
                    fix="Use one of: " + ", ".join(self.choices) + ", or a list of them.",
                )
            return tuple(
                replace(self, choice_list=False).validate(v, f"{path}[{i}]")
                for i, v in enumerate(value)
            )
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise RecipeError(
                    "is not a known choice",
                    path=path,
                    value=value,
                    fix="Use one of: " + ", ".join(self.choices) + ".",
                )
            return value
        if self.kind == "size":
            if value is None:
                return None
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
            )
            if not ok:
                raise RecipeError(
                    "must be [height, width] in pixels, two positive whole numbers, or null",
                    path=path,
                    value=value,
                )
            return (int(value[0]), int(value[1]))
        if isinstance(value, (list, tuple)):
            if not self.sampled:
                raise RecipeError(
                    "takes one fixed value, not a range", path=path, value=value, fix=self._form()
                )
            if len(value) != 2:
                what = "range is empty" if len(value) == 0 else "range must have exactly two ends"
                raise RecipeError(what, path=path, value=value, fix=self._form())
            lo = self._check_number(value[0], path, value)
            hi = self._check_number(value[1], path, value)
            if lo > hi:
                raise RecipeError(
                    "range is inverted (lo > hi)",
                    path=path,
                    value=value,
                    fix=f"Write it as [{_num(hi)}, {_num(lo)}]; ranges are never repaired silently.",
                )
            return (lo, hi)
        return self._check_number(value, path, value)

    # -- sampling ---------------------------------------------------------------------------
    def draw(self, value: Any, rng: np.random.Generator) -> Any:
        """Draw a concrete value from a validated one (fixed values pass through)."""
        if isinstance(value, tuple) and self.kind == "choice":
            return value[int(rng.integers(len(value)))]
        if isinstance(value, tuple) and self.kind in ("float", "int"):
            lo, hi = value
            if self.kind == "int":
                return int(rng.integers(lo, hi + 1))
            return float(rng.uniform(lo, hi)) if hi > lo else float(lo)
        return list(value) if isinstance(value, tuple) else value

    def describe(self) -> dict[str, Any]:
        """JSON-safe description for ``augcli ops``."""
        out: dict[str, Any] = {"kind": self.kind}
        out["default"] = None if self.default is REQUIRED else _jsonable(self.default)
        out["required"] = self.default is REQUIRED
        if self.kind in ("float", "int"):
            out["range"] = self.bounds_text()
            out["sampled"] = self.sampled
        if self.choices:
            out["choices"] = list(self.choices)
        if self.choice_list:
            out["choice_list"] = True
        if self.unit:
            out["unit"] = self.unit
        if self.quantity:
            mm = self.quantity in ("length", "extent")
            out["physical"] = "mm" if mm else "rescaled (HU on a CT)"
        out["help"] = self.help
        return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


@dataclass(frozen=True)
class Nullable(Param):
    """A setting that also takes null, which means ``meaning``."""

    meaning: str = ""

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            return None
        try:
            return super().validate(value, path)
        except RecipeError as exc:
            fix = f"{exc.fix} Or null for {self.meaning}.".strip()
            raise RecipeError(exc.what, path=exc.path, value=exc.value, fix=fix) from None


class ClassPairs(Nullable):
    """Pairs of class names, ``{left_effusion: right_effusion}``; each pair works both ways
    (returned as a mapping holding both directions); null for none."""

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            return None
        fix = "Write e.g. {left_effusion: right_effusion} (each pair once; it works both ways)."
        if not isinstance(value, dict) or not value:
            raise RecipeError(
                "must be a mapping of class -> class", path=path, value=value, fix=fix
            )
        out: dict[str, str] = {}
        for a, b in value.items():
            if not isinstance(a, str) or not isinstance(b, str) or not a or not b or a == b:
                raise RecipeError(
                    "pairs two different class names (input folder names, as text)",
                    path=f"{path}.{a}",
                    value=b,
                    fix=fix,
                )
            for x, y in ((a, b), (b, a)):
                if out.get(x, y) != y:
                    raise RecipeError(
                        f"class {x!r} is paired twice ({out[x]!r} and {y!r})",
                        path=f"{path}.{a}",
                        value=b,
                        fix="Give each class one mirror partner.",
                    )
                out[x] = y
        return out


class ClassNames(Nullable):
    """Class names (input folder names, so text), one or a list; null for none."""

    def validate(self, value: Any, path: str) -> Any:
        items = [] if value is None else value if isinstance(value, list) else [value]
        bad = [v for v in items if not isinstance(v, str) or not v]
        if bad or value == []:
            raise RecipeError(
                "must be a class name (an input folder's name) or a list of them",
                path=path,
                value=value,
                fix="Write each name as text, e.g. [left_effusion, '3'] (quote a number), or "
                "null for none.",
            )
        return None if value is None else tuple(items)
