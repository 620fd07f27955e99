"""The image op base: what every image op declares (groups, dtypes, channels) and shared params."""

from __future__ import annotations

from typing import Any, ClassVar

from augcli.core.errors import InputError
from augcli.image.ops import physical
from augcli.image.ops.arrays import BORDER_MODES, INTERPOLATIONS
from augcli.ops import Op
from augcli.params import Nullable, Param


class ImageOp(Op):
    """Base of image ops. ``channels`` and ``dtypes`` say what an op takes; other inputs fail
    that file with a clear message (listed by ``augcli ops``). ``keeps_size`` is False for ops
    whose output size differs from their input's. Geometric ops move alpha with the pixels;
    every other group leaves the alpha channel untouched."""

    modality = "image"
    # Ops of these groups change intensities: on a two-valued image (a mask) they corrupt it.
    LEVEL_GROUPS: ClassVar[tuple[str, ...]] = ("color", "filter", "noise")
    changes_levels: ClassVar[bool | None] = None  # None: by ``group`` (LEVEL_GROUPS)
    channels: ClassVar[tuple[int, ...]] = (1, 3, 4)
    dtypes: ClassVar[tuple[str, ...]] = ("uint8", "uint16")
    keeps_size: ClassVar[bool] = True

    def sample(self, rng: Any, info: dict[str, Any]) -> dict[str, Any]:
        """The params drawn, lengths and intensities given in physical units converted
        (``physical.to_stored``); a ``fill`` left to the image (null) is its background, a
        number in the params (``info["background"]``: 0 but for DICOM)."""
        return self.finish(self.draw(rng), info)

    def draw(self, rng: Any) -> dict[str, Any]:
        """Every param drawn from the recipe's values, as given (no conversion)."""
        return Op.sample(self, rng, {})

    def finish(self, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        """Drawn ``params`` made concrete for this input: physical units converted, a null
        ``fill`` the background. Ops that draw more than ``Op.sample`` call it last."""
        params = physical.to_stored(self.name, self.params, params, info)
        if "fill" in params and params["fill"] is None:
            params["fill"] = float(info.get("background", 0.0))
        return params

    def check_input(self, info: dict[str, Any]) -> None:
        if info["channels"] not in self.channels:
            raise InputError(
                f"{self.name} does not work on {info['channels']}-channel images "
                f"(it takes {', '.join(map(str, self.channels))} channels)"
            )
        if info["dtype"] not in self.dtypes:
            raise InputError(
                f"{self.name} does not work on {info['dtype']} images "
                f"(it takes {', '.join(self.dtypes)})"
            )

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """An op that changes intensities, on an input with only two values: it looks like a
        segmentation mask, which the op would corrupt. Ops with parameters in intensity
        units add their own checks (calling this one too)."""
        levels = self.changes_levels
        if levels is None:
            levels = self.group in self.LEVEL_GROUPS
        two = facts.get("two_values")
        if not levels or two is None:
            return None
        return (
            f"{self.name} changes intensities, but this input has only two values ({two[0]} "
            f"and {two[1]}, {facts['dtype']}): it looks like a segmentation mask, which "
            f"{self.name} would corrupt (classes merged or erased). Put masks under 'masks:' "
            "in the image section (they move with geometric ops only), or exclude them"
        )

    def least_size(self) -> tuple[int, int] | None:
        """The smallest (height, width) this op makes from any input, when its settings alone
        fix it (a pad's border, a resize's size), so a recipe can be refused before a run; None
        when the output size follows the input's."""
        return None

    def targets(
        self, ann: Any, params: dict[str, Any], info: dict[str, Any], partners: Any, applier: Any
    ) -> tuple[Any, Any]:
        """The annotated image's (mask, objects) after this op. Ops that do not move pixels
        leave both as they are; geometric and mixing ops override this."""
        return ann.mask, ann.objects

    @classmethod
    def describe(cls) -> dict[str, Any]:
        out = super().describe()
        out["channels"] = list(cls.channels)
        out["dtypes"] = list(cls.dtypes)
        out["keeps_size"] = cls.keeps_size
        return out


def largest(value: Any) -> float:
    """The largest magnitude a fixed value or a [lo, hi] range can take."""
    return max(abs(v) for v in value) if isinstance(value, (tuple, list)) else abs(value)


def shown(value: Any) -> str:
    """A param value as the recipe wrote it: ``0.05`` or ``[0.01, 0.05]``."""
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    return f"{value:g}"


def times(value: Any, factor: float) -> str:
    """``value`` scaled, as a recipe would write it (``[3, 13]``)."""
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(f"{v * factor:.3g}" for v in value) + "]"
    return f"{value * factor:.3g}"


def scale_words(facts: dict[str, Any]) -> str:
    """The input's level range in words: ``0..255 for 8-bit``, ``0..4095 on this 16-bit
    image``."""
    top = facts["full_scale"]
    if facts["dtype"] == "uint8":
        return "0..255 for 8-bit"
    return f"0..{top} on this 16-bit image"


# Parameters several ops share, so they read and behave the same everywhere.
INTERPOLATION = Param(
    kind="choice", default="linear", choices=INTERPOLATIONS, help="how pixels are resampled"
)
INTERPOLATION_AUTO = Param(
    kind="choice",
    default="auto",
    choices=("auto", *INTERPOLATIONS),
    help="how pixels are resampled; auto = area when shrinking, linear when growing",
)
BORDER_MODE = Param(
    kind="choice",
    default="constant",
    choices=BORDER_MODES,
    help="how pixels outside the source are invented",
)
FILL = Nullable(
    kind="float",
    default=None,
    sampled=False,
    unit="intensity",
    quantity="level",
    meaning="the image's background: 0, or a DICOM's PixelPaddingValue (air on a CT without one)",
    help="value of invented pixels with border_mode constant, in the image's own units "
    "(clipped to its range); alpha of invented pixels is 0. Default: the image's background "
    "(0; a DICOM's PixelPaddingValue, or air, -1000 HU, on a CT without one), recorded",
)
