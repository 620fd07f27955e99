"""DICOM volumes through pydicom: a series (the single-frame slices of one folder that share a
SeriesInstanceUID, ordered by their position along the slice normal, never by file name) or a
multi-frame file (enhanced CT/MR with per-frame functional groups, RT dose and other legacy
multi-frame images that place their frames with ``GridFrameOffsetVector``).

Why pydicom and not SimpleITK's GDCM reader: the output must be a DICOM again, derived from its
source attribute by attribute (patient, study, frame of reference, equipment kept; new series),
which only a dataset-level library can write; pydicom is already the ``dicom`` extra.

Geometry is the patient space DICOM defines (LPS, as ITK's): x along the rows
(``ImageOrientationPatient[:3]``), y along the columns, z along their cross product; the origin is
the first slice's ``ImagePositionPatient``. Slices whose orientations differ, two slices at one
position, a gap (a spacing more than ``GAP_TOL`` off the others), positions off the normal
(gantry tilt) and unequal rescale slopes are per-case errors. Voxels are the stored values
(int16 stays int16); ``RescaleSlope``/``RescaleIntercept`` (``DoseGridScaling``) go to
``Volume.meta["scale"]`` and are written back unchanged.

Outputs are written back as derived DICOM by ``augcli.volume.dicom_write``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from augcli import dicomkit
from augcli.core.errors import InputError
from augcli.deidentify import Profile
from augcli.volume.base import Volume

SUFFIXES = dicomkit.SUFFIXES
INSTALL = "pip install 'augcli[volume,dicom]'"
GAP_TOL = 0.01  # a slice spacing may differ from the median by this fraction (and 0.05 mm)
ORIENT_TOL = 1e-4
HEAD_TAGS = ("SeriesInstanceUID", "NumberOfFrames", "Rows", "Columns", "SOPClassUID")
PLACE_TAGS = ("ImageOrientationPatient", "ImagePositionPatient")


def candidate(name: str) -> bool:
    """Whether a file name may be a DICOM volume's: ``.dcm``/``.dicom``, or no suffix at all
    (PACS exports name slices ``IM000123``); the latter only if the file says DICM."""
    lower = name.lower()
    return lower.endswith(SUFFIXES) or "." not in name


def _pydicom() -> Any:
    return dicomkit.pydicom(INSTALL)


# -- which files make a volume ------------------------------------------------------------------
@dataclass(frozen=True)
class Head:
    """What grouping needs of one file: its series and frame count."""

    name: str
    series: str
    frames: int


def _head(path: Path) -> Head | None:
    """The file's series and frames, or None when it is no DICOM image."""
    if not path.name.lower().endswith(SUFFIXES) and not dicomkit.says_dicm(path):
        return None
    pydicom = _pydicom()
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(HEAD_TAGS))
    except Exception:
        return None
    if ds.get("Rows") in (None, "") or ds.get("SOPClassUID") in (None, ""):
        return None
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        frames = 1
    return Head(path.name, str(ds.get("SeriesInstanceUID", "") or ""), frames)


@functools.lru_cache(maxsize=64)
def _heads(folder: str, _stamp: int) -> tuple[Head, ...]:
    """The DICOM images of one folder, sorted by name (``_stamp``: the folder's mtime, so a
    changed folder is listed again)."""
    out = []
    with os.scandir(folder) as it:
        names = sorted(e.name for e in it if not e.name.startswith(".") and e.is_file())
    for name in names:
        if candidate(name):
            head = _head(Path(folder) / name)
            if head is not None:
                out.append(head)
    return tuple(out)


def folder_heads(folder: Path) -> tuple[Head, ...]:
    """The DICOM images of ``folder`` (none when it cannot be listed)."""
    try:
        return _heads(str(folder), folder.stat().st_mtime_ns)
    except OSError:
        return ()


def role(path: Path) -> str | None:
    """``input`` for a multi-frame image; ``folder`` for the first (by name) slice of a series
    of two or more (the series stands for its folder); ``part`` for a series' other slices;
    None for anything else (a lone slice is a 2-D image, the image section's)."""
    heads = folder_heads(path.parent)
    mine = next((h for h in heads if h.name == path.name), None)
    if mine is None:
        return None
    if mine.frames > 1:
        return "input"
    same = [h.name for h in heads if h.frames == 1 and h.series == mine.series and h.series]
    if len(same) < 2:
        return None
    return "folder" if same[0] == path.name else "part"


def is_series(path: Path) -> bool:
    """A series (single-frame slices) rather than one multi-frame file."""
    head = next((h for h in folder_heads(path.parent) if h.name == path.name), None)
    return head is not None and head.frames == 1


def members(path: Path) -> list[Path]:
    """The files of ``path``'s volume, sorted by name: its series' slices, or the file alone."""
    heads = folder_heads(path.parent)
    mine = next((h for h in heads if h.name == path.name), None)
    if mine is None:
        raise InputError("is not a readable DICOM image")
    if mine.frames > 1:
        return [path]
    return [path.parent / h.name for h in heads if h.frames == 1 and h.series == mine.series]


def stamp(path: Path) -> tuple[int, int]:
    """Total size and latest mtime (ns) over the volume's files."""
    stats = [m.stat() for m in members(path)]
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)


def digest(path: Path) -> str:
    """sha256 over every file of the volume (name and bytes), so an edited slice is new."""
    h = hashlib.sha256()
    for member in members(path):
        h.update(member.name.encode() + b"\0")
        with member.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# -- geometry -------------------------------------------------------------------------------------
def _floats(value: Any, n: int, what: str) -> np.ndarray:
    try:
        out = np.array([float(v) for v in value], np.float64)
    except (TypeError, ValueError):
        out = np.zeros(0)
    if out.shape != (n,) or not np.isfinite(out).all():
        raise InputError(f"{what} must be {n} numbers; got {value!r}")
    return out


@dataclass(frozen=True)
class Grid:
    """Where the slices are: the order to stack them in, and the volume's geometry."""

    order: list[int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]


def grid(orients: list[Any], positions: list[Any], pixel_spacing: Any, names: list[str]) -> Grid:
    """The volume geometry of slices at ``positions`` (one orientation for all), or an
    InputError naming the slices that break it."""
    first = _floats(orients[0], 6, "ImageOrientationPatient")
    for name, o in zip(names, orients, strict=True):
        if not np.allclose(_floats(o, 6, "ImageOrientationPatient"), first, atol=ORIENT_TOL):
            raise InputError(
                f"slice {name} has another orientation ({list(o)} vs {first.tolist()}); one "
                "volume needs one orientation. Split the series, or resample it first"
            )
    row, col = first[:3], first[3:]
    normal = np.cross(row, col)
    pos = np.array([_floats(p, 3, "ImagePositionPatient") for p in positions])
    along = pos @ normal
    order = [int(i) for i in np.argsort(along, kind="stable")]
    steps = np.diff(along[order])
    _check_steps(steps, [names[i] for i in order])
    off = (pos[order] - pos[order[0]]) - np.outer(along[order] - along[order[0]], normal)
    if off.size and np.abs(off).max() > 0.05:
        raise InputError(
            "the slices' positions are not along their normal (a tilted gantry or a sheared "
            f"stack: {np.abs(off).max():.3g} mm off); resample the series to an orthogonal grid"
        )
    dy, dx = _floats(pixel_spacing, 2, "PixelSpacing")
    dz = float(np.median(steps)) if steps.size else 1.0
    direction = np.column_stack([row, col, normal])
    return Grid(
        order,
        (float(dx), float(dy), dz),
        tuple(float(v) for v in pos[order[0]]),
        tuple(float(v) for v in direction.reshape(-1)),
    )


def _check_steps(steps: np.ndarray, names: list[str]) -> None:
    if not steps.size:
        return
    same = np.flatnonzero(steps < 1e-3)
    if same.size:
        i = int(same[0])
        raise InputError(
            f"slices {names[i]} and {names[i + 1]} are at the same position; a 4-D or "
            "duplicated series is not one volume. Remove the duplicates or split the series"
        )
    median = float(np.median(steps))
    bad = np.flatnonzero(np.abs(steps - median) > max(0.05, GAP_TOL * median))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"a gap between slices {names[i]} and {names[i + 1]}: {steps[i]:.4g} mm apart "
            f"where the others are {median:.4g} mm; a slice is missing or the spacing varies. "
            "Add the missing slices, or resample the series to one spacing"
        )


# -- reading ---------------------------------------------------------------------------------------
def read(path: Path, max_voxels: int | None, profile: Profile | None = None) -> Volume:
    """The volume ``path`` belongs to (its series, or its frames); with a de-identification
    ``profile``, a file with burned-in text is refused before any pixel is decoded."""
    pydicom = _pydicom()
    files = members(path)
    if profile is not None:
        for f in files:
            profile.check_burned_in(
                pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["BurnedInAnnotation"])
            )
    if len(files) == 1:
        return _read_multiframe(pydicom, path, max_voxels)
    return _read_series(pydicom, files, max_voxels)


def read_dataset(pydicom: Any, path: Path, pixels: bool = True) -> Any:
    try:
        return pydicom.dcmread(path, stop_before_pixels=not pixels)
    except Exception as exc:
        raise InputError(f"{path.name} is not a readable DICOM file ({exc})") from None


def _pixels(ds: Any, name: str) -> np.ndarray:
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise InputError(f"{name} is a colour image; DICOM volumes are one value per voxel")
    try:
        pixels = np.asarray(ds.pixel_array)
        return pixels.astype(pixels.dtype.newbyteorder("="), copy=False)  # big endian too
    except Exception as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        fix = (
            f" It is compressed ({syntax.name}): decompress it first (gdcmconv --raw) or install "
            "a pydicom decoder for it (pylibjpeg and its plugins)"
            if syntax is not None and syntax.is_compressed
            else ""
        )
        raise InputError(f"{name}: the pixel data cannot be decoded ({exc}).{fix}") from None


def _check_voxels(shape: tuple[int, ...], max_voxels: int | None) -> None:
    n = int(np.prod(shape, dtype=np.int64))
    if max_voxels is not None and n > max_voxels:
        dims = "x".join(str(s) for s in reversed(shape))
        raise InputError(
            f"volume is {dims} = {n:,} voxels by its headers, over volume.max_voxels: "
            f"{max_voxels:,}; it was not loaded. Raise volume.max_voxels (null = no limit)"
        )


def _scale(ds: Any) -> tuple[float, float] | None:
    if "DoseGridScaling" in ds:
        return float(ds.DoseGridScaling), 0.0
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    return None


def _read_series(pydicom: Any, files: list[Path], max_voxels: int | None) -> Volume:
    heads = [read_dataset(pydicom, f, pixels=False) for f in files]
    names = [f.name for f in files]
    for key in ("Rows", "Columns", "BitsAllocated", "PixelRepresentation"):
        values = {int(h.get(key, 0) or 0) for h in heads}
        if len(values) > 1:
            raise InputError(f"the series' slices differ in {key} ({sorted(values)})")
    scales = {_scale(h) for h in heads}
    if len(scales) > 1:
        raise InputError(
            f"the series' slices have different rescale slopes/intercepts ({sorted(scales, key=str)}"
            "); augcli keeps stored values, which then mean different things per slice"
        )
    missing = [n for n, h in zip(names, heads, strict=True) if "ImagePositionPatient" not in h]
    if missing:
        raise InputError(f"slice {missing[0]} has no ImagePositionPatient; it cannot be placed")
    g = grid(
        [h.get("ImageOrientationPatient") for h in heads],
        [h.ImagePositionPatient for h in heads],
        heads[0].get("PixelSpacing"),
        names,
    )
    shape = (len(files), int(heads[0].Rows), int(heads[0].Columns))
    _check_voxels(shape, max_voxels)
    array = None
    for z, i in enumerate(g.order):
        plane = _pixels(read_dataset(pydicom, files[i]), names[i])
        if array is None:
            array = np.empty(shape, plane.dtype)
        array[z] = plane
    meta = {
        "format": "dicom",
        "dicom": {"kind": "series", "files": [str(files[i]) for i in g.order]},
        "scale": scales.pop(),
    }
    return Volume(array, g.spacing, g.origin, g.direction, None, meta)


def _frame_attr(ds: Any, i: int, seq: str, key: str) -> Any:
    """A functional group attribute for frame ``i``: per-frame first, then shared."""
    for groups, index in (
        ("PerFrameFunctionalGroupsSequence", i),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        items = ds.get(groups)
        if items is None or len(items) <= index:
            continue
        inner = items[index].get(seq)
        if inner is not None and len(inner) and key in inner[0]:
            return inner[0].get(key)
    return None


def _frame_geometry(ds: Any, n: int, name: str) -> tuple[list[Any], list[Any], Any]:
    """Per frame orientation and position, and the pixel spacing, of a multi-frame image."""
    if "PerFrameFunctionalGroupsSequence" in ds:
        orients = [
            _frame_attr(ds, i, "PlaneOrientationSequence", "ImageOrientationPatient")
            for i in range(n)
        ]
        positions = [
            _frame_attr(ds, i, "PlanePositionSequence", "ImagePositionPatient") for i in range(n)
        ]
        spacing = _frame_attr(ds, 0, "PixelMeasuresSequence", "PixelSpacing")
        if None in orients or None in positions or spacing is None:
            raise InputError(
                f"{name}: the functional groups do not give every frame its position, "
                "orientation and pixel spacing; it cannot be placed in space"
            )
        return orients, positions, spacing
    offsets = ds.get("GridFrameOffsetVector")
    if "ImagePositionPatient" not in ds or offsets is None or len(offsets) != n:
        raise InputError(
            f"{name} is a multi-frame image without frame positions (per-frame functional "
            "groups, or ImagePositionPatient with GridFrameOffsetVector); its frames are not "
            "slices of a volume (cine, ultrasound), so they cannot be augmented in 3-D"
        )
    iop = _floats(ds.get("ImageOrientationPatient"), 6, "ImageOrientationPatient")
    ipp = _floats(ds.ImagePositionPatient, 3, "ImagePositionPatient")
    normal = np.cross(iop[:3], iop[3:])
    base = float(offsets[0])
    # PS3.3 C.8.8.3.2: offsets relative to ImagePositionPatient when the first is 0, else
    # absolute along the normal.
    positions = [ipp + (float(o) - (0.0 if base == 0 else ipp @ normal)) * normal for o in offsets]
    return [iop] * n, positions, ds.get("PixelSpacing")


def _read_multiframe(pydicom: Any, path: Path, max_voxels: int | None) -> Volume:
    head = read_dataset(pydicom, path, pixels=False)
    n = int(head.get("NumberOfFrames") or 1)
    shape = (n, int(head.Rows), int(head.Columns))
    _check_voxels(shape, max_voxels)
    orients, positions, spacing = _frame_geometry(head, n, path.name)
    g = grid(orients, positions, spacing, [f"{path.name} frame {i + 1}" for i in range(n)])
    pixels = _pixels(read_dataset(pydicom, path), path.name).reshape(shape)
    scale = _scale(head)
    if scale is None and "PerFrameFunctionalGroupsSequence" in head:
        slope = _frame_attr(head, 0, "PixelValueTransformationSequence", "RescaleSlope")
        inter = _frame_attr(head, 0, "PixelValueTransformationSequence", "RescaleIntercept")
        scale = None if slope is None else (float(slope), float(inter or 0))
    meta = {
        "format": "dicom",
        "dicom": {"kind": "multiframe", "files": [str(path)], "order": g.order},
        "scale": scale,
    }
    return Volume(
        np.ascontiguousarray(pixels[g.order]), g.spacing, g.origin, g.direction, None, meta
    )


def probe(path: Path) -> dict[str, Any]:
    """What the headers say, without decoding voxels: ``size`` (x, y, z), ``voxels``,
    ``dtype``, ``spacing`` and ``direction`` (kept while the folder and file are unchanged)."""
    stat = path.stat()
    return dict(_probe(str(path), path.parent.stat().st_mtime_ns, stat.st_mtime_ns))


@functools.lru_cache(maxsize=256)
def _probe(name: str, _folder: int, _file: int) -> dict[str, Any]:
    pydicom = _pydicom()
    path = Path(name)
    files = members(path)
    head = read_dataset(pydicom, files[0], pixels=False)
    if len(files) == 1:
        n = int(head.get("NumberOfFrames") or 1)
        orients, positions, spacing = _frame_geometry(head, n, path.name)
        g = grid(orients, positions, spacing, [str(i) for i in range(n)])
    else:
        n = len(files)
        heads = [
            pydicom.dcmread(f, stop_before_pixels=True, specific_tags=list(PLACE_TAGS))
            for f in files
        ]
        g = grid(
            [h.get("ImageOrientationPatient") for h in heads],
            [h.get("ImagePositionPatient") for h in heads],
            head.get("PixelSpacing"),
            [f.name for f in files],
        )
    size = (int(head.Columns), int(head.Rows), n)
    bits, signed = int(head.BitsAllocated), int(head.get("PixelRepresentation", 0)) == 1
    return {
        "size": size,
        "components": 1,
        "voxels": int(np.prod(size, dtype=np.int64)),
        "dtype": f"{'int' if signed else 'uint'}{bits}",
        "spacing": g.spacing,
        "direction": g.direction,
    }
