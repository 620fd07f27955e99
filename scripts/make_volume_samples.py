"""Rebuild ``sample_data/volume/``: small synthetic CT and MRI phantoms with label maps.

Usage::

    python scripts/make_volume_samples.py sample_data/volume

Needs SimpleITK and nibabel (``pip install 'augcli[volume]'``). Deterministic (a fixed seed);
every file is generated here, so there is nothing to license. It writes:

* ``ct/case01.nii.gz`` (+ ``case01_seg.nii.gz``): int16 CT in Hounsfield units, 64x64x16 at
  0.7 x 0.7 x 5 mm, tilted 12 degrees about x (a non-identity direction), NIfTI-1 with qform
  and sform codes 1, units mm, a ``descrip``; air -1000, soft tissue ~40, a bone rim ~700, a
  lesion ~90. Label: 1 left kidney-like blob, 2 right one, 3 the lesion (uint8).
* ``mr/case02.nrrd`` (+ ``case02_seg.nrrd``): uint16 MRI-like volume, 48x48x24 at 1 x 1 x 2 mm,
  gzip-encoded NRRD with a custom ``key:=value`` field; label uint8.
* ``mr/case03.mha`` (+ ``case03_seg.mha``): a 4-D int16 scan (3 time points of 32x32x12 at
  1.5 mm), compressed MetaImage; a 3-D label shared by the frames.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk


def _grid(shape_zyx: tuple[int, int, int], spacing_xyz: tuple[float, float, float]) -> tuple:
    z, y, x = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape_zyx], indexing="ij")
    sx, sy, sz = spacing_xyz
    cz, cy, cx = [(n - 1) / 2 for n in shape_zyx]
    return (x - cx) * sx, (y - cy) * sy, (z - cz) * sz  # mm from the centre


def _ball(x, y, z, c, r) -> np.ndarray:
    return ((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) <= r * r


def ct_phantom(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shape, spacing = (16, 64, 64), (0.7, 0.7, 5.0)
    x, y, z = _grid(shape, spacing)
    body = (x / 19) ** 2 + (y / 15) ** 2 + (z / 45) ** 2 <= 1
    rim = body & ~((x / 17.5) ** 2 + (y / 13.5) ** 2 + (z / 45) ** 2 <= 1)
    left = _ball(x, y, z, (8, 2, 0), 4.5)
    right = _ball(x, y, z, (-8, 2, 0), 4.5)
    lesion = _ball(x, y, z, (0, -5, 10), 3.5)
    hu = np.full(shape, -1000.0)
    hu[body] = 40
    hu[rim] = 700
    hu[left | right] = 30
    hu[lesion] = 90
    hu[body] += rng.normal(0, 8, int(body.sum()))
    label = np.zeros(shape, np.uint8)
    label[left], label[right], label[lesion] = 1, 2, 3
    return np.rint(hu).astype(np.int16), label


def _nifti_affine(spacing, tilt_deg: float, origin) -> np.ndarray:
    """A RAS affine: the grid tilted about x by ``tilt_deg``."""
    t = np.radians(tilt_deg)
    rot = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag(spacing)
    aff[:3, 3] = origin
    return aff


def write_ct(folder: Path, rng: np.random.Generator) -> None:
    hu, label = ct_phantom(rng)
    aff = _nifti_affine((0.7, 0.7, 5.0), 12.0, (-22.0, -30.0, -40.0))
    for array, name, descrip in (
        (hu, "case01", "augcli CT phantom"),
        (label, "case01_seg", "labels"),
    ):
        img = nib.Nifti1Image(np.ascontiguousarray(array.transpose(2, 1, 0)), aff)
        img.header.set_qform(aff, code=1)
        img.header.set_sform(aff, code=1)
        img.header.set_xyzt_units("mm", "sec")
        img.header["descrip"] = descrip
        if name.endswith("_seg"):
            img.header.set_intent("label")
        nib.save(img, str(folder / f"{name}.nii.gz"))


def _sitk(array: np.ndarray, spacing, origin, direction=None) -> sitk.Image:
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    if direction is not None:
        img.SetDirection(direction)
    return img


def write_mr(folder: Path, rng: np.random.Generator) -> None:
    shape, spacing = (24, 48, 48), (1.0, 1.0, 2.0)
    x, y, z = _grid(shape, spacing)
    head = (x / 20) ** 2 + (y / 22) ** 2 + (z / 22) ** 2 <= 1
    ventricle = (x / 5) ** 2 + (y / 8) ** 2 + (z / 6) ** 2 <= 1
    tumour = _ball(x, y, z, (9, -6, 4), 4.0)
    mr = np.zeros(shape)
    mr[head] = 600 + 40 * y[head] / 22
    mr[ventricle] = 250
    mr[tumour] = 900
    mr[head] += rng.normal(0, 15, int(head.sum()))
    label = np.zeros(shape, np.uint8)
    label[ventricle], label[tumour] = 1, 2
    direction = (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # axes swapped, as some scanners
    img = _sitk(
        np.clip(np.rint(mr), 0, None).astype(np.uint16), spacing, (10.0, -20.0, 5.0), direction
    )
    img.SetMetaData("acquisition", "synthetic T1-like phantom")
    sitk.WriteImage(img, str(folder / "case02.nrrd"), True)
    seg = _sitk(label, spacing, (10.0, -20.0, 5.0), direction)
    sitk.WriteImage(seg, str(folder / "case02_seg.nrrd"), True)

    shape4, spacing4 = (12, 32, 32), (1.5, 1.5, 1.5)
    x, y, z = _grid(shape4, spacing4)
    organ = (x / 14) ** 2 + (y / 12) ** 2 + (z / 8) ** 2 <= 1
    frames = []
    for t in range(3):
        f = np.where(organ, 300 + 120 * t, 0) + rng.normal(0, 6, shape4)
        frames.append(np.rint(f))
    four = np.stack(frames).astype(np.int16)
    img4 = sitk.JoinSeries([_sitk(f, spacing4, (0.0, 0.0, 0.0)) for f in four], 0.0, 2.5)
    sitk.WriteImage(img4, str(folder / "case03.mha"), True)
    sitk.WriteImage(
        _sitk(organ.astype(np.uint8), spacing4, (0.0, 0.0, 0.0)),
        str(folder / "case03_seg.mha"),
        True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    (args.out / "ct").mkdir(parents=True)
    (args.out / "mr").mkdir(parents=True)
    rng = np.random.default_rng(17)
    write_ct(args.out / "ct", rng)
    write_mr(args.out / "mr", rng)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out}: {total:,} bytes")
    if total > 300_000:
        raise SystemExit("sample volumes are over 300 KB")


if __name__ == "__main__":
    main()
