"""Small synthetic volumes with known geometry for the volume tests (SimpleITK/nibabel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from augcli.volume.base import Volume

# 12 degrees about x: a direction that is not the identity (as an oblique CT).
TILT = np.radians(12.0)
OBLIQUE = (
    1.0, 0.0, 0.0,
    0.0, float(np.cos(TILT)), float(-np.sin(TILT)),
    0.0, float(np.sin(TILT)), float(np.cos(TILT)),
)  # fmt: skip
SWAPPED = (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # index x runs along world y


def physical(vol: Volume, index_xyz: np.ndarray) -> np.ndarray:
    """Physical (LPS mm) points of (n, 3) continuous indices (x, y, z)."""
    d = np.asarray(vol.direction).reshape(3, 3)
    return np.asarray(vol.origin) + (index_xyz * np.asarray(vol.spacing)) @ d.T


def index_of(vol: Volume, point: np.ndarray) -> np.ndarray:
    """The continuous index (x, y, z) of a physical point."""
    d = np.asarray(vol.direction).reshape(3, 3)
    return (d.T @ (np.asarray(point) - np.asarray(vol.origin))) / np.asarray(vol.spacing)


def centroid_mm(vol: Volume, weights: np.ndarray) -> np.ndarray:
    """The weighted centre (LPS mm) of a (z, y, x) weight array on ``vol``'s grid."""
    idx = np.argwhere(weights > 0)[:, ::-1].astype(np.float64)  # (x, y, z)
    w = weights[weights > 0].astype(np.float64)
    return (physical(vol, idx) * w[:, None]).sum(0) / w.sum()


def blob_volume(
    spacing=(0.7, 0.7, 5.0),
    shape_zyx=(16, 80, 80),
    direction=OBLIQUE,
    centre_offset_mm=(0.0, 0.0, 0.0),
    radius_mm: float = 8.0,
    origin=(-20.0, -30.0, -40.0),
) -> Volume:
    """An int16 CT-like volume: air (-1000) with a soft blob (peak ~1000 HU above air) of
    ``radius_mm`` at the grid's centre + ``centre_offset_mm`` (world mm), and its label (1)."""
    base = Volume(np.zeros(shape_zyx, np.int16), spacing, origin, direction)
    z, y, x = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape_zyx], indexing="ij")
    pts = physical(base, np.stack([x.ravel(), y.ravel(), z.ravel()], 1))
    mid = physical(
        base, np.array([[(shape_zyx[2] - 1) / 2, (shape_zyx[1] - 1) / 2, (shape_zyx[0] - 1) / 2]])
    )[0]
    r = np.linalg.norm(pts - (mid + np.asarray(centre_offset_mm)), axis=1).reshape(shape_zyx)
    hu = -1000 + 1040 * np.clip(1.5 - r / radius_mm, 0, 1).clip(0, 1) ** 0.5
    label = (r <= radius_mm).astype(np.uint8)
    return Volume(np.rint(hu).astype(np.int16), spacing, origin, direction, label)


def write_sitk(
    vol: Volume, path: Path, array: np.ndarray | None = None, compress: bool = True
) -> Path:
    """Write ``array`` (default: the volume's voxels) with ``vol``'s geometry via SimpleITK."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(vol.array if array is None else array)
    img.SetSpacing(vol.spacing)
    img.SetOrigin(vol.origin)
    img.SetDirection(vol.direction)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(img, str(path), compress)
    return path


def write_case(vol: Volume, folder: Path, name: str, ext: str = ".nii.gz") -> tuple[Path, Path]:
    """The volume and its label map ``<name>_seg<ext>`` in ``folder``."""
    image = write_sitk(vol, folder / f"{name}{ext}")
    label = write_sitk(vol, folder / f"{name}_seg{ext}", vol.label)
    return image, label
