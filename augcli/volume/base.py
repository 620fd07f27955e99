"""What volume ops take and return, and the volume op base.

A ``Volume`` is a scan in physical space: voxels as a numpy array in (z, y, x) order (a 4-D
scan: (t, z, y, x), time or channels first), with the geometry ITK and every medical format
keep: ``spacing`` and ``origin`` in millimetres and ``direction`` (the 3x3 cosines, row-major),
all three in (x, y, z) order, as SimpleITK gives them. The optional ``label`` is the case's
segmentation, the same (z, y, x) shape and geometry, moved with the voxels by every spatial op
(nearest-neighbour, values kept exactly) and left alone by intensity ops. ``meta`` carries what
the format needs to write the output back as the input was (header fields), untouched by ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from augcli.ops import Op

Triple = tuple[float, float, float]
IDENTITY: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Volume:
    """A scan: ``array`` (z, y, x) or (t, z, y, x) in its stored dtype, its geometry (x, y, z
    order, millimetres), an optional label map of shape (z, y, x), and format metadata."""

    array: np.ndarray
    spacing: Triple = (1.0, 1.0, 1.0)
    origin: Triple = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = IDENTITY
    label: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        """Time points or channels (1 for a 3-D scan)."""
        return int(self.array.shape[0]) if self.array.ndim == 4 else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """(z, y, x) of one frame."""
        z, y, x = self.array.shape[-3:]
        return int(z), int(y), int(x)

    def spacing_zyx(self) -> Triple:
        """The spacing in the array's own axis order (z, y, x), for numpy and scipy code."""
        x, y, z = self.spacing
        return z, y, x

    def stored(self, value: float, level: bool = True) -> float:
        """An intensity the recipe gave in physical units (the section's ``units: physical``:
        HU for a CT, through the file's slope and intercept, ``meta["scale"]``) in the units of
        the stored voxels: (value - intercept) / slope for a ``level`` (a window's bounds), value
        / slope for a difference (a noise std, a window's width). Unchanged otherwise."""
        scale = self.meta.get("scale") if self.meta.get("units") == "physical" else None
        if not scale:
            return float(value)
        slope, intercept = scale
        return (float(value) - intercept) / slope if level else float(value) / abs(slope)

    def with_array(self, array: np.ndarray, **geometry: Any) -> Volume:
        """The same scan with new voxels (and, for spatial ops, new ``label``/``spacing``/
        ``origin``/``direction`` given by keyword); the label is kept unless replaced."""
        return replace(self, array=np.ascontiguousarray(array), **geometry)


class VolumeOp(Op):
    """Base of volume ops. ``spatial`` ops move voxels (and so the label map: nearest-neighbour,
    by the same draw); the others change intensities and leave the label as it is. Every
    length a parameter gives is in millimetres, every angle in degrees: an op means the same on
    a 0.7 mm and a 5 mm scan. A 4-D scan gets the same draw on every frame."""

    modality = "volume"
    spatial: ClassVar[bool] = False

    @classmethod
    def describe(cls) -> dict[str, Any]:
        out = super().describe()
        out["spatial"] = cls.spatial
        return out
