"""DICOM images via pydicom: single-frame pixels read at their own bit depth, and a derived DICOM
written back that keeps the source's metadata or de-identifies it (``augcli.deidentify``), in a
new series (new deterministic UIDs, geometry updated)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from augcli import dicomkit
from augcli.core.atomic import TMP_MARK
from augcli.core.errors import InputError
from augcli.deidentify import Profile, new_series
from augcli.image.io import check_pixels

EXTENSIONS = dicomkit.SUFFIXES
INSTALL = "pip install 'augcli[dicom]'"
PHOTOMETRICS = (
    "MONOCHROME1",
    "MONOCHROME2",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_ICT",
    "YBR_RCT",
)


def is_dicom(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def check_installed(relpath: str) -> None:
    """``relpath`` is DICOM: refuse (UsageError) if pydicom 3 is not installed."""
    dicomkit.check_installed(relpath)


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError:
        raise InputError(
            f"DICOM input needs pydicom, which is not installed. Run: {INSTALL}"
        ) from None
    if int(pydicom.__version__.split(".")[0]) < 3:
        raise InputError(
            f"DICOM input needs pydicom 3 or later; got pydicom {pydicom.__version__}. "
            f"Run: {INSTALL} --upgrade"
        )
    return pydicom


def read_dicom(
    path: Path, max_pixels: int | None = None, profile: Profile | None = None
) -> np.ndarray:
    """Decode a single-frame DICOM image into what ops take: uint8/uint16, gray or BGR.

    Signed data with negative values is shifted up by ``signed_offset``: the smallest power of
    two that makes it non-negative (-1024..3071 becomes 0..4095, as vendors store CT unsigned),
    so full scale keeps its meaning; ``write_dicom`` subtracts the same offset exactly.
    With a de-identification ``profile``, a file with burned-in text is refused first."""
    ds, stored = _decode(path, max_pixels, profile)
    offset = signed_offset(stored, ds)
    _remember(path, offset)
    alloc = int(ds.BitsAllocated)
    dtype = np.uint8 if alloc == 8 else np.uint16
    values = stored.astype(np.int32) + offset
    if values.size and values.max() > np.iinfo(dtype).max:  # only with malformed BitsStored
        raise InputError(
            f"DICOM pixel values do not fit {alloc} bits; got {stored.min()}..{stored.max()}"
        )
    img = values.astype(dtype)
    if img.ndim == 3:  # pydicom decodes colour (YBR too) as RGB; ops take BGR like OpenCV
        img = img[..., ::-1]
    return np.ascontiguousarray(img)


AIR_HU = -1000.0


def background(path: Path) -> float | None:
    """What a border invented by a geometric op holds on this DICOM, in ``read_dicom``'s units
    (the stored value plus the signed offset): its PixelPaddingValue, else air (-1000 HU
    through RescaleSlope/Intercept) on a CT, else None (0). Clipped to the image's range."""
    try:
        ds = _pydicom().dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # unreadable: the input fails with the reason when it is read
        return None
    padding = ds.get("PixelPaddingValue")
    if isinstance(padding, bytes | list) or padding in (None, ""):
        padding = None
    if padding is None and str(ds.get("Modality", "")).upper() == "CT":
        slope = float(ds.get("RescaleSlope", 1) or 1)
        padding = (AIR_HU - float(ds.get("RescaleIntercept", 0) or 0)) / slope
    if padding is None:
        return None
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    value = float(padding) + (_offset_of(path) if signed else 0)
    top = (1 << int(ds.get("BitsAllocated", 16))) - 1
    return float(min(max(round(value), 0), top))


def physical(path: Path) -> dict[str, Any] | None:
    """What ``units: physical`` converts with: ``spacing`` (between rows, between columns; mm;
    PixelSpacing, else ImagerPixelSpacing; None without either), ``slope`` and ``intercept``
    (1 and 0 without a rescale), and the ``offset`` ``read_dicom`` adds to signed data."""
    try:
        ds = _pydicom().dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # unreadable: the input fails with the reason when it is read
        return None
    spacing = _floats(ds.get("PixelSpacing"), 2)
    if spacing is None or not (spacing > 0).all():
        spacing = _floats(ds.get("ImagerPixelSpacing"), 2)
    if spacing is not None and not (spacing > 0).all():
        spacing = None
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    return {
        "spacing": None if spacing is None else (float(spacing[0]), float(spacing[1])),
        "slope": float(ds.get("RescaleSlope", 1) or 1),
        "intercept": float(ds.get("RescaleIntercept", 0) or 0),
        "offset": _offset_of(path) if signed else 0,
    }


def signed_offset(stored: np.ndarray, ds: Any) -> int:
    """What ``read_dicom`` adds to stored values: 0 for unsigned or non-negative data, else the
    smallest power of two at least -min (never more than 2**(BitsStored - 1))."""
    if int(ds.get("PixelRepresentation", 0)) != 1 or not stored.size:
        return 0
    low = int(stored.min())
    return 0 if low >= 0 else 1 << (-low - 1).bit_length()


# The offset each recently read source got, so writing its outputs need not decode it again;
# keyed by path, size and modification time.
_OFFSETS: dict[tuple[str, int, int], int] = {}


def _key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def _remember(path: Path, offset: int) -> None:
    if len(_OFFSETS) >= 256:
        _OFFSETS.pop(next(iter(_OFFSETS)))
    _OFFSETS[_key(path)] = offset


def _offset_of(source: Path) -> int:
    key = _key(source)
    if key not in _OFFSETS:
        ds, stored = _decode(source, None)
        _remember(source, signed_offset(stored, ds))
    return _OFFSETS[key]


def _decode(
    path: Path, max_pixels: int | None, profile: Profile | None = None
) -> tuple[Any, np.ndarray]:
    pydicom = _pydicom()
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as exc:
        raise InputError(f"is not a readable DICOM file ({type(exc).__name__}: {exc})") from None
    if profile is not None:
        profile.check_burned_in(ds)
    _check_header(ds, max_pixels)
    try:
        return ds, ds.pixel_array
    except Exception as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        if syntax is not None and syntax.is_compressed:
            raise InputError(
                f"DICOM pixel data is compressed with {syntax.name} ({syntax}), which pydicom "
                "cannot decode with the plugins installed here. Decompress it first (e.g. "
                "'gdcmconv --raw in.dcm out.dcm' or 'dcmdjpeg'), or install a pydicom decoder "
                "for it (pylibjpeg and its plugins, or gdcm)"
            ) from None
        raise InputError(
            f"DICOM pixel data cannot be decoded ({type(exc).__name__}: {exc})"
        ) from None


def _check_header(ds: Any, max_pixels: int | None) -> None:
    """Everything knowable before decoding: size, frames, sample layout, bit depth."""
    if "PixelData" not in ds:
        raise InputError("DICOM file has no PixelData; only (integer) DICOM images are augmented")
    for key in ("Rows", "Columns", "SOPClassUID"):
        if ds.get(key) in (None, ""):
            raise InputError(f"DICOM image has no {key}; it cannot be read or written back")
    frames = int(ds.get("NumberOfFrames") or 1)
    check_pixels(int(ds.Columns), int(ds.Rows), max_pixels, frames)
    if frames > 1:
        raise InputError(
            f"multi-frame DICOM is not supported; got {frames} frames. Split it into "
            "single-frame files first (e.g. 'dcmsplit' or pydicom)"
        )
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric == "PALETTE COLOR":
        raise InputError(
            "PALETTE COLOR DICOM is not supported: its pixels are indices into a colour table, "
            "which resampling and intensity ops would corrupt. Convert it to RGB first "
            "(e.g. pydicom.pixels.apply_color_lut)"
        )
    if photometric not in PHOTOMETRICS:
        raise InputError(
            f"DICOM PhotometricInterpretation is not supported; got {photometric!r}. "
            f"augcli reads {', '.join(PHOTOMETRICS)}"
        )
    samples, bits = int(ds.get("SamplesPerPixel", 1)), int(ds.get("BitsAllocated", 0))
    if samples not in (1, 3):
        raise InputError(f"DICOM SamplesPerPixel must be 1 or 3; got {samples}")
    if bits not in (8, 16):
        raise InputError(
            f"DICOM BitsAllocated {bits} is not supported; augcli reads 8- and 16-bit images"
        )


def write_dicom(
    data: np.ndarray,
    path: Path,
    source: Path,
    meta: dict[str, Any],
    profile: Profile | None = None,
    recipe_key: str = "",
) -> None:
    """Write ``data`` as a derived copy of ``source``: Explicit VR Little Endian, its metadata
    kept (or de-identified by ``profile`` first, when given); new SOP Instance UID, a new series
    (``deidentify.new_series``), ImageType DERIVED, DerivationDescription, SourceImageSequence, pixel module
    and geometry (PixelSpacing, ImagerPixelSpacing, ImagePosition/Orientation) updated. Nothing
    in the file depends on the time, the worker or the output folder."""
    pydicom = _pydicom()
    ds = pydicom.dcmread(source, stop_before_pixels=True, force=True)
    if profile is not None:
        profile.check_burned_in(ds)
        profile.apply(ds)  # every UID in ds is the remapped one from here on
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    pixels = _set_pixels(ds, data, _offset_of(source) if signed else 0)
    _update_geometry(ds, meta.get("matrix"), data.shape[0], data.shape[1])

    source_uid = str(ds.get("SOPInstanceUID", "") or "")
    name = _final_name(path)
    entropy = [
        source_uid,
        str(meta.get("output") or name),
        str(meta.get("seed", "")),
        hashlib.sha256(pixels).hexdigest(),
    ]
    new_series(ds, recipe_key, _output_tail(source, str(meta.get("output") or name)))
    dicomkit.mark_derived(ds, meta.get("ops") or [], source_uid)
    dicomkit.set_file_meta(ds, dicomkit.uid(entropy))
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def _final_name(path: Path) -> str:
    """The output's file name, without the atomic writer's temporary prefix."""
    name = path.name
    if name.startswith(TMP_MARK):  # the atomic writer's temporary name: <mark><pid>-<final name>
        name = name[len(TMP_MARK) :].partition("-")[2]
    return name


def _output_tail(source: Path, output: str) -> str:
    """What an output's name adds to its source's: ``__<node>_<copy>`` as the plan names
    outputs (``CT_small.dcm`` -> ``CT_small__aug_0.dcm``); the whole output path when its name
    does not start with the source's stem."""
    name = output.rpartition("/")[2]
    stem = source.name[: -len(source.suffix)] if source.suffix else source.name
    base = name[: -len(source.suffix)] if source.suffix and name.endswith(source.suffix) else name
    return base[len(stem) :] if base.startswith(stem) else output


def _set_pixels(ds: Any, img: np.ndarray, offset: int) -> bytes:
    """Fill the image pixel module from ``img`` (``read_dicom``'s form, shifted by ``offset``);
    return the PixelData bytes."""
    alloc = img.dtype.itemsize * 8
    stored = int(ds.get("BitsStored", alloc))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    if img.ndim == 3:
        img = img[..., ::-1]  # BGR back to RGB
    values = img.astype(np.int64)
    if signed:
        values -= offset
        top = (1 << (alloc - 1)) - 1
        values = np.clip(values, -top - 1, top)  # ops may overshoot what the signed type holds
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        need = max(high.bit_length(), max(0, -low - 1).bit_length()) + 1
    else:
        need = int(values.max()).bit_length() if values.size else 1
    bits = min(alloc, max(stored, need, 1))  # kept, or widened to hold what the ops made
    kind = ("<i" if signed else "<u") + str(alloc // 8)
    raw = values.astype(kind).tobytes()
    if len(raw) % 2:
        raw += b"\x00"
    dicomkit.drop_stale(ds)
    ds.Rows, ds.Columns = int(img.shape[0]), int(img.shape[1])
    ds.SamplesPerPixel = 1 if img.ndim == 2 else 3
    if img.ndim == 3:
        ds.PhotometricInterpretation = "RGB"  # YBR inputs were decoded to RGB
        ds.PlanarConfiguration = 0
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = alloc, bits, bits - 1
    ds.PixelRepresentation = int(signed)
    ds.add_new(0x7FE00010, "OW" if alloc == 16 else "OB", raw)
    return raw


def _floats(value: Any, n: int) -> np.ndarray | None:
    try:
        out = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return out if out.shape == (n,) and np.isfinite(out).all() else None


OPPOSITE = str.maketrans("LRAPHF", "RLPAFH")
MIRRORED = {"L": "R", "R": "L"}


def _update_orientation(ds: Any, jac: np.ndarray) -> None:
    """PatientOrientation (the patient directions of the rows and columns) after the map whose
    ``jac`` is d(source pixel)/d(output pixel): each output axis takes the letters of the
    source axis it mostly runs along, reversed when it runs against it. A mirroring map
    (determinant < 0) swaps ImageLaterality and Laterality (L <-> R): the pixels now show the
    other side."""
    value = ds.get("PatientOrientation")
    letters = [str(v) for v in value] if value is not None and len(value) == 2 else None
    if letters is not None and all(letters):
        out = []
        for k in range(2):  # output x (along a row), then output y (down a column)
            step = jac[:, k]  # one output step, in source (x, y) pixels
            axis = int(abs(step[1]) > abs(step[0]))
            out.append(letters[axis] if step[axis] > 0 else letters[axis].translate(OPPOSITE))
        ds.PatientOrientation = out
    if np.linalg.det(jac) < 0:
        for keyword in ("ImageLaterality", "Laterality"):
            side = str(ds.get(keyword, "") or "").strip().upper()
            if side in MIRRORED:
                setattr(ds, keyword, MIRRORED[side])


def _update_geometry(ds: Any, matrix: Any, height: int, width: int) -> None:
    """Follow ``matrix`` (source pixel -> output pixel coordinates, 3x3) in the spacing and
    patient-space attributes. Exact for affine maps; a perspective map is linearised at the
    output's centre. Per axis, the new spacing is the physical length of one output pixel step:
    a scale by s divides the spacing by s; rotations and flips keep it (and turn the axes)."""
    if matrix is None:
        return
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (3, 3) or np.allclose(m, np.eye(3)):
        return
    inv = np.linalg.inv(m)
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0, 1.0])
    q = inv @ centre
    src = q[:2] / q[2]
    jac = (inv[:2, :2] * q[2] - np.outer(q[:2], inv[2, :2])) / q[2] ** 2  # d(source)/d(output)
    _update_orientation(ds, jac)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        spacing = _floats(ds.get(keyword), 2)
        if spacing is None:
            continue
        dy, dx = spacing  # DICOM order: between rows, between columns
        u = np.array([jac[0, 0] * dx, jac[1, 0] * dy])  # one output column step, in mm
        v = np.array([jac[0, 1] * dx, jac[1, 1] * dy])  # one output row step, in mm
        nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
        if nu == 0 or nv == 0:
            continue
        ds[keyword].value = [dicomkit.number(nv), dicomkit.number(nu)]
        iop = _floats(ds.get("ImageOrientationPatient"), 6)
        ipp = _floats(ds.get("ImagePositionPatient"), 3)
        if keyword != "PixelSpacing" or iop is None or ipp is None:
            continue
        row, col = iop[:3], iop[3:]
        vx, vy = u[0] * row + u[1] * col, v[0] * row + v[1] * col
        middle = ipp + src[0] * dx * row + src[1] * dy * col
        origin = middle - centre[0] * vx - centre[1] * vy  # centre of output pixel (0, 0)
        ds.ImageOrientationPatient = [dicomkit.number(x) for x in (*(vx / nu), *(vy / nv))]
        ds.ImagePositionPatient = [dicomkit.number(x) for x in origin]
