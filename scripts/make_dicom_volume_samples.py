"""Rebuild ``sample_data/volume_dicom/``: a CT phantom as a DICOM series, with its label map.

Usage::

    python scripts/make_dicom_volume_samples.py sample_data/volume_dicom

Needs pydicom, SimpleITK and nibabel (``pip install 'augcli[volume,dicom]'``). Deterministic;
every file is generated here (the phantom of ``make_volume_samples.py``), so there is nothing to
license. It writes ``ct/case04/IM0001.dcm`` ... ``IM0016.dcm``: one CT series of 16 slices,
64x64 at 0.7 x 0.7 x 5 mm, tilted 12 degrees about x, stored unsigned with RescaleIntercept
-1024 (as many scanners write), file names numbered against the slice order (the reader sorts
by position); and ``ct/case04_seg.nii.gz``, its label map on the same grid (1 and 2 the
kidney-like blobs, 3 the lesion). The patient is a phantom (``PHANTOM^CT``), so that
``deidentify`` has names to remove.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from make_volume_samples import ct_phantom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

SPACING = (0.7, 0.7, 5.0)
ORIGIN = np.array([-22.0, -30.0, -40.0])
TILT = np.radians(12.0)
ROW = np.array([1.0, 0.0, 0.0])
COL = np.array([0.0, np.cos(TILT), np.sin(TILT)])
NORMAL = np.cross(ROW, COL)


def uid(*parts: str) -> str:
    return generate_uid(entropy_srcs=["augcli-sample", *parts])


def slice_dataset(hu: np.ndarray, z: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, uid("slice", str(z))
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (
        "PHANTOM^CT",
        "PHANTOM-04",
        "19700101",
        "O",
    )
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study"), uid("series")
    ds.FrameOfReferenceUID = uid("frame")
    ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber = "20260101", 1, z + 1
    ds.Modality, ds.SeriesDescription = "CT", "phantom abdomen"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*ROW, *COL)]
    position = ORIGIN + z * SPACING[2] * NORMAL
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.SliceLocation = f"{position @ NORMAL:.6f}"
    ds.PixelSpacing = [str(SPACING[1]), str(SPACING[0])]
    ds.SliceThickness = str(SPACING[2])
    ds.Rows, ds.Columns = hu.shape[1], hu.shape[2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
    ds.PixelData = (hu[z].astype(np.int32) + 1024).clip(0, 4095).astype("<u2").tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
        CTImageStorage,
        ds.SOPInstanceUID,
    )
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    series = args.out / "ct" / "case04"
    series.mkdir(parents=True)
    hu, label = ct_phantom(np.random.default_rng(17))
    n = hu.shape[0]
    for z in range(n):
        name = f"IM{(n - z):04d}.dcm"  # numbered from the top: the reader sorts by position
        slice_dataset(hu, z).save_as(series / name, enforce_file_format=True)
    seg = sitk.GetImageFromArray(label)
    seg.SetSpacing(SPACING)
    seg.SetOrigin(tuple(ORIGIN))
    seg.SetDirection(tuple(np.column_stack([ROW, COL, NORMAL]).reshape(-1)))
    sitk.WriteImage(seg, str(args.out / "ct" / "case04_seg.nii.gz"), True)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out}: {total:,} bytes")
    if total > 300_000:
        raise SystemExit("sample DICOM volumes are over 300 KB")
    assert pydicom.dcmread(series / "IM0001.dcm").InstanceNumber == n


if __name__ == "__main__":
    main()
