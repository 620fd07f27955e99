"""A DICOM CT series through augcli against the I/O floor and the same work by hand.

    PYTHONPATH=. python benchmarks/volume_dicom.py [--series 4] [--slices 96] [--size 512]
                                                   [--workers 2] [--runs 3]

Makes ``--series`` series (``--slices`` slices of ``--size`` x ``--size`` each, uint16 stored
with RescaleIntercept -1024, file names against the slice order) in a temporary folder, then
times, in one sitting, the median of ``--runs`` runs of:

* ``floor``: copying the series' files (read and write every byte, nothing else);
* ``by hand``: what a pydicom script does for the same output: read every slice, sort by
  position, flip each left-right, give new Series/SOP UIDs and write it (one process, series
  after series);
* ``augcli``: ``augcli expand`` of a recipe with ``flip: {axes: [x], p: 1}``, one copy, with
  ``--workers`` (the CLI's own start, the scan, the plan, digests, the manifest included), and
  with 1 worker;
* ``sitk read``: SimpleITK's GDCM ImageSeriesReader reading the series (reading only).

Prints a markdown table with each time and its ratio to the floor. Run alone (no tests, no
other benchmark): these machines have 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_series(folder: Path, slices: int, size: int) -> None:
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    series, study = generate_uid(entropy_srcs=["s"]), generate_uid(entropy_srcs=["t"])
    for z in range(slices):
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid(entropy_srcs=[str(z)])
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = generate_uid(entropy_srcs=["f"])
        ds.PatientName, ds.PatientID, ds.Modality = "BENCH^CT", "B1", "CT"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-250.0, -250.0, 1.25 * z]
        ds.PixelSpacing, ds.SliceThickness, ds.InstanceNumber = [0.98, 0.98], 1.25, z + 1
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = rng.integers(0, 4096, (size, size), dtype=np.uint16).tobytes()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
            CTImageStorage,
            ds.SOPInstanceUID,
        )
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        pydicom.dcmwrite(folder / f"IM{slices - z:05d}.dcm", ds, enforce_file_format=True)


BY_HAND = r"""
import sys
from pathlib import Path
import numpy as np, pydicom
from pydicom.uid import generate_uid

def flipped(src, out):
    out.mkdir(parents=True)
    slices = [pydicom.dcmread(p) for p in sorted(src.iterdir())]
    iop = np.reshape([float(v) for v in slices[0].ImageOrientationPatient], (2, 3))
    normal = np.cross(*iop)
    slices.sort(key=lambda d: float(normal @ [float(v) for v in d.ImagePositionPatient]))
    series = generate_uid()
    for k, ds in enumerate(slices):
        ds.PixelData = np.ascontiguousarray(ds.pixel_array[:, ::-1]).tobytes()
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImageType = ["DERIVED", "SECONDARY"]
        ds.save_as(out / f"{k + 1:04d}.dcm", enforce_file_format=True)

for case in sorted(Path(sys.argv[1]).iterdir()):
    flipped(case, Path(sys.argv[2]) / case.name)
"""

SITK_READ = r"""
import sys, SimpleITK as sitk
from pathlib import Path
for case in sorted(Path(sys.argv[1]).iterdir()):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(case)))
    assert reader.Execute().GetSize()[2] > 1
"""

RECIPE = """input: {data}
output: {out}
copies: 1
workers: {workers}
volume:
  pipeline:
    - flip: {{axes: [x], p: 1}}
"""


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=4)
    ap.add_argument("--slices", type=int, default=96)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data"
        for k in range(args.series):
            make_series(data / "ct" / f"case{k}", args.slices, args.size)
        n = [0]

        def fresh() -> Path:
            n[0] += 1
            return root / f"out{n[0]}"

        def floor() -> None:
            shutil.copytree(data, fresh())

        def by_hand() -> None:
            cmd = [sys.executable, "-c", BY_HAND, str(data / "ct"), str(fresh())]
            subprocess.run(cmd, check=True)

        def augcli(workers: int) -> None:
            recipe = root / f"r{n[0]}.yaml"
            recipe.write_text(RECIPE.format(data=data, out=fresh(), workers=workers))
            subprocess.run(
                [sys.executable, "-m", "augcli", "expand", str(recipe), "-q"], check=True
            )

        def sitk_read() -> None:
            subprocess.run([sys.executable, "-c", SITK_READ, str(data / "ct")], check=True)

        runs = (
            ("floor (copy the files)", floor),
            ("by hand (pydicom: read, sort, flip, new UIDs, write)", by_hand),
            (f"augcli expand (flip, {args.workers} workers)", lambda: augcli(args.workers)),
            ("augcli expand (flip, 1 worker)", lambda: augcli(1)),
            ("SimpleITK GDCM series read only", sitk_read),
        )
        rows = [(name, timed(fn, args.runs)) for name, fn in runs]
        mib = args.series * args.slices * args.size * args.size * 2 / 2**20
        print(
            f"{args.series} series of {args.slices} slices of {args.size}x{args.size} uint16 "
            f"({mib:.0f} MiB), median of {args.runs}"
        )
        print("| run | seconds | / floor | / by hand |\n|---|---:|---:|---:|")
        for name, t in rows:
            print(f"| {name} | {t:.2f} | {t / rows[0][1]:.1f}x | {t / rows[1][1]:.2f}x |")


if __name__ == "__main__":
    main()
