"""The image op base: what every image op declares (groups, dtypes, channels) and shared params."""

from __future__ import annotations

from typing import Any, ClassVar

from augcli.core.errors import InputError
from augcli.image.ops.arrays import BORDER_MODES, INTERPOLATIONS
from augcli.ops import Op
from augcli.params import Param


class ImageOp(Op):
    """Base of image ops. ``channels`` and ``dtypes`` say what an op takes; other inputs fail
    that file with a clear message (listed by ``augcli ops``). ``keeps_size`` is False for ops
    whose output size differs from their input's. Geometric ops move alpha with the pixels;
    every other group leaves the alpha channel untouched."""

    modality = "image"
    channels: ClassVar[tuple[int, ...]] = (1, 3, 4)
    dtypes: ClassVar[tuple[str, ...]] = ("uint8", "uint16")
    keeps_size: ClassVar[bool] = True

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
FILL = Param(
    kind="float",
    default=0.0,
    low=0.0,
    sampled=False,
    unit="intensity",
    help="value of invented pixels with border_mode constant, in the image's own units "
    "(clipped to its maximum); alpha of invented pixels is 0",
)
