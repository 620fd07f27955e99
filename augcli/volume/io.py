"""Reading and writing CT and MRI volumes: NIfTI-1/2 (``.nii``, ``.nii.gz``), NRRD (``.nrrd``,
``.nhdr`` + data file) and MetaImage (``.mha``, ``.mhd`` + data file), 3-D and 4-D; DICOM
series and multi-frame files are read here through ``augcli.volume.dicom``.

Why these libraries. SimpleITK reads and writes NRRD and MetaImage with their geometry
(spacing, origin, direction) and their key/value fields (NRRD ``key:=value`` lines, MetaImage
tags) kept, and it resamples in physical space (the spatial ops use it). For NIfTI it is not
enough: ITK applies ``scl_slope``/``scl_inter`` on read (an int16 CT comes back as float32),
and on write it sets its own qform/sform codes and drops ``intent_*``, ``descrip``,
``aux_file`` and header extensions. So NIfTI goes through nibabel: the voxels are read as
stored (``get_unscaled``: int16 stays int16) and the output is the source header itself,
byte for byte, with only what an op changed (the data shape, the affine when a crop moved the
origin) set in it: qform/sform codes, units, intent, descrip, slope/intercept, TR and
extensions are kept exactly. The scaled values a scaled file means are ``stored * slope +
intercept`` (``Volume.meta["scale"]``); ops move the stored values, and the output keeps the
slope and intercept.

Every size check is made on the header before the voxels are read (nibabel's header for
NIfTI, ``ImageFileReader.ReadImageInformation`` for the others). A truncated or damaged file,
a header that claims more data than the file holds, NaN voxels and non-orthogonal direction
cosines (a sheared grid, which no spatial op could keep) are ``InputError``: that case fails
with its reason, the run goes on. Outputs are written deterministically (gzip with mtime 0 and
no file name), so the same volume gives the same bytes in any process.

What ``Volume.meta`` holds (ops leave it alone; ``write_volume`` needs it): ``format``
(``nifti``/``nrrd``/``meta``); NIfTI: ``header`` (the nibabel header as stored), ``geometry``
(spacing, origin, direction, shape as read: an output on that grid keeps the header's affine
bytes), ``scale`` ((slope, intercept) or None: real values are ``stored * slope + intercept``,
e.g. HU); NRRD/MetaImage: ``keys`` (the header's key/value fields), ``compressed``,
``dimension``, ``components`` (multi-component voxels, held as the first array axis), ``time``
(the 4th axis' spacing, origin and the full direction), ``data_file`` (a detached header's data
file); DICOM (``augcli.volume.dicom``): ``dicom`` (``kind``: series or multiframe, ``files``:
the source files in slice order, ``order``: a multi-frame file's frames by position) and
``scale``. The modality adds ``label`` (the label map's own file, volume and grid as read).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from augcli.core.atomic import TMP_MARK
from augcli.core.errors import InputError
from augcli.volume import dicom
from augcli.volume.base import Volume

NIFTI = (".nii", ".nii.gz")
NRRD = (".nrrd", ".nhdr")
META = (".mha", ".mhd")
EXTENSIONS = (*NIFTI, *NRRD, *META)
DETACHED = (".nhdr", ".mhd")  # a header naming a separate data file
DATA_SUFFIXES = (".raw", ".zraw", ".raw.gz", ".img", ".dat")
INSTALL = "pip install 'augcli[volume]'"
LPS = np.diag([-1.0, -1.0, 1.0])  # NIfTI's RAS world <-> ITK's LPS world
ORTHO_TOL = 1e-4
GZIP_LEVEL = 1  # nibabel's default: fast; the voxels are lossless at any level


def suffix_of(name: str) -> str:
    """The volume suffix of a file name (``.nii.gz``, ``.nrrd``, ...), lower case, or ''."""
    lower = name.lower()
    return next((e for e in sorted(EXTENSIONS, key=len, reverse=True) if lower.endswith(e)), "")


def is_dicom(name: str) -> bool:
    """A DICOM volume's file (a series' slice or a multi-frame image): ``.dcm``, ``.dicom``
    or no suffix (``augcli.volume.dicom``)."""
    return not suffix_of(name) and dicom.candidate(name.rpartition("/")[2])


def format_of(name: str) -> str:
    """``nifti``, ``nrrd``, ``meta`` or ``dicom`` by the file's suffix."""
    if is_dicom(name):
        return "dicom"
    suffix = suffix_of(name)
    if suffix in NIFTI:
        return "nifti"
    if suffix in NRRD:
        return "nrrd"
    if suffix in META:
        return "meta"
    raise InputError(f"not a volume file (takes {', '.join(EXTENSIONS)})")


# -- the header ------------------------------------------------------------------------------
def probe(path: Path) -> dict[str, Any]:
    """What the header says, without reading the voxels: ``size`` (x, y, z[, t]), voxel
    ``components``, ``voxels`` (their product) and ``dtype``."""
    if is_dicom(path.name):
        return dicom.probe(path)
    if format_of(path.name) == "nifti":
        hdr = _nifti_header(path)
        shape = tuple(int(s) for s in hdr.get_data_shape())
        spacing, _origin, direction = geometry_of_affine(np.asarray(hdr.get_best_affine()))
        return {
            "size": shape,
            "components": 1,
            "voxels": int(np.prod(shape, dtype=np.int64)),
            "dtype": str(hdr.get_data_dtype().newbyteorder("=")),
            "spacing": spacing,
            "direction": direction,
        }
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise InputError(f"cannot read the volume's header: {_itk_reason(exc)}") from None
    size = tuple(int(s) for s in reader.GetSize())
    comps = int(reader.GetNumberOfComponents())
    dim = len(size)
    full = np.asarray(reader.GetDirection(), np.float64).reshape(dim, dim)
    return {
        "size": size,
        "components": comps,
        "voxels": int(np.prod(size, dtype=np.int64)) * comps,
        "dtype": sitk.GetPixelIDValueAsString(reader.GetPixelID()),
        "spacing": tuple(float(v) for v in reader.GetSpacing()[:3]),
        "direction": tuple(float(v) for v in full[:3, :3].reshape(-1)),
    }


def orientation(direction: Any) -> str:
    """Where the index axes x, y, z point, one letter each (``LPS``: x to the patient's left,
    y to posterior, z to superior; ``RAS`` for a typical NIfTI)."""
    d = np.asarray(direction, np.float64).reshape(3, 3)
    letters = (("R", "L"), ("A", "P"), ("I", "S"))  # LPS: +x is L, +y is P, +z is S
    out = ""
    for j in range(3):
        world = int(np.argmax(np.abs(d[:, j])))
        out += letters[world][int(d[world, j] > 0)]
    return out


def check_size(path: Path, max_voxels: int | None) -> dict[str, Any]:
    """The header (``probe``); an InputError when it holds more than ``max_voxels`` voxels."""
    head = probe(path)
    if max_voxels is not None and head["voxels"] > max_voxels:
        dims = "x".join(str(s) for s in head["size"])
        raise InputError(
            f"volume is {dims} = {head['voxels']:,} voxels by its header, over "
            f"volume.max_voxels: {max_voxels:,}; it was not loaded. Raise volume.max_voxels "
            "in the recipe (null = no limit) to process it"
        )
    return head


def _itk_reason(exc: Exception) -> str:
    """ITK's message without its source-file lines: the last 'ITK ERROR:' sentence."""
    text = str(exc)
    if "ITK ERROR:" in text:
        text = text.rsplit("ITK ERROR:", 1)[1]
        text = (
            text.split(":", 1)[1] if text.lstrip().startswith(("NiftiImageIO", "Image")) else text
        )
    return " ".join(text.split())[:300] or type(exc).__name__


# -- reading ---------------------------------------------------------------------------------
def read_volume(path: Path, max_voxels: int | None = None, profile: Any = None) -> Volume:
    """One volume as stored (dtype kept), with its geometry in ITK's LPS (x, y, z) order
    (``profile``: a DICOM volume's de-identification, which refuses burned-in text)."""
    fmt = format_of(path.name)
    if fmt == "dicom":
        vol = dicom.read(path, max_voxels, profile)  # sized from the headers before any pixel
    else:
        check_size(path, max_voxels)
        vol = _read_nifti(path) if fmt == "nifti" else _read_itk(path, fmt)
    check_volume(vol)
    return vol


def check_volume(vol: Volume) -> None:
    """Refuse what no op can process faithfully: NaN voxels, non-orthogonal direction cosines."""
    d = np.asarray(vol.direction, np.float64).reshape(3, 3)
    if not np.allclose(d.T @ d, np.eye(3), atol=ORTHO_TOL):
        raise InputError(
            "the direction cosines are not orthogonal (a sheared voxel grid: "
            f"{np.round(d, 4).tolist()}); augcli moves voxels in physical space and cannot keep "
            "a shear. Resample the volume to an orthogonal grid first"
        )
    if vol.array.dtype.kind in "fc":
        bad = int(np.count_nonzero(np.isnan(vol.array)))
        if bad:
            raise InputError(
                f"{bad:,} voxels are NaN; no interpolation can move them. Replace them (e.g. "
                "with the background value) before augmenting"
            )


def _nifti_header(path: Path) -> Any:
    import nibabel as nib

    try:
        return nib.load(str(path), mmap=False).header
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise InputError(f"cannot read the NIfTI header: {_reason(exc)}") from None
    except Exception as exc:  # nibabel's own errors (ImageFileError, HeaderDataError)
        raise InputError(f"cannot read the NIfTI header: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, EOFError) or "end-of-stream" in text or "Compressed file ended" in text:
        return f"the file is truncated ({text})"
    return text


def _read_nifti(path: Path) -> Volume:
    import nibabel as nib

    try:
        img = nib.load(str(path), mmap=False)
        hdr = img.header
        _check_nifti_length(path, hdr)
        raw = np.asarray(img.dataobj.get_unscaled())
    except InputError:
        raise
    except Exception as exc:  # gzip, zlib, short reads, nibabel's own errors
        raise InputError(f"cannot read the NIfTI voxels: {_reason(exc)}") from None
    raw = raw.reshape(raw.shape + (1,) * (3 - raw.ndim)) if raw.ndim < 3 else raw
    while raw.ndim > 4 and raw.shape[-1] == 1:
        raw = raw[..., 0]
    if raw.ndim > 4:
        raise InputError(f"a {raw.ndim}-D NIfTI ({raw.shape}); volumes are 3-D or 4-D")
    array = np.ascontiguousarray(raw.transpose(tuple(reversed(range(raw.ndim)))))
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    spacing, origin, direction = geometry_of_affine(np.asarray(img.affine, np.float64))
    hdr = _stored_header(path, type(hdr))  # as in the file: nibabel's copy has lost the scale
    slope, inter = hdr.get_slope_inter()
    meta = {
        "format": "nifti",
        "header": hdr.copy(),
        "geometry": (spacing, origin, direction, array.shape),
        "scale": None if slope is None else (float(slope), float(inter or 0.0)),
    }
    return Volume(array, spacing, origin, direction, None, meta)


def _stored_header(path: Path, klass: type) -> Any:
    """The header exactly as stored (fields and extensions): the image's own copy has its
    ``scl_slope``/``scl_inter`` moved into the data proxy."""
    from nibabel.openers import ImageOpener

    with ImageOpener(str(path)) as f:
        return klass.from_fileobj(f)


def _check_nifti_length(path: Path, hdr: Any) -> None:
    """An uncompressed NIfTI whose header claims more voxels than the file holds."""
    if path.name.lower().endswith(".gz"):
        return  # known only once decompressed: the read itself fails on the short stream
    shape = hdr.get_data_shape()
    need = (
        int(hdr["vox_offset"]) + int(np.prod(shape, dtype=np.int64)) * hdr.get_data_dtype().itemsize
    )
    have = path.stat().st_size
    if have < need:
        raise InputError(
            f"the header says {'x'.join(map(str, shape))} voxels ({need:,} bytes with its "
            f"offset) but the file has {have:,} bytes: the header lies or the file is truncated"
        )


def geometry_of_affine(affine: np.ndarray) -> tuple[Any, Any, Any]:
    """(spacing, origin, direction) in ITK's LPS convention from a NIfTI (RAS) affine."""
    m = LPS @ affine[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    spacing[spacing == 0] = 1.0
    direction = m / spacing
    origin = LPS @ affine[:3, 3]
    return (
        tuple(float(s) for s in spacing),
        tuple(float(o) for o in origin),
        tuple(float(v) for v in direction.reshape(-1)),
    )


def affine_of_geometry(spacing: Any, origin: Any, direction: Any) -> np.ndarray:
    """The NIfTI (RAS) affine of an ITK (LPS) geometry."""
    out = np.eye(4)
    d = np.asarray(direction, np.float64).reshape(3, 3)
    out[:3, :3] = LPS @ d @ np.diag(np.asarray(spacing, np.float64))
    out[:3, 3] = LPS @ np.asarray(origin, np.float64)
    return out


def _read_itk(path: Path, fmt: str) -> Volume:
    import SimpleITK as sitk

    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"cannot read the volume: {_itk_reason(exc)}") from None
    dim = img.GetDimension()
    if dim not in (3, 4):
        raise InputError(f"a {dim}-D image; volumes are 3-D or 4-D (2-D scans: the image section)")
    comps = img.GetNumberOfComponentsPerPixel()
    array = sitk.GetArrayFromImage(img)  # (z, y, x), (t, z, y, x), components last
    if comps > 1:
        if dim == 4:
            raise InputError("a 4-D volume of multi-component voxels; not supported")
        array = np.ascontiguousarray(np.moveaxis(array, -1, 0))
    spacing = tuple(float(s) for s in img.GetSpacing())
    origin = tuple(float(o) for o in img.GetOrigin())
    full = np.asarray(img.GetDirection(), np.float64).reshape(dim, dim)
    keys = {k: img.GetMetaData(k) for k in img.GetMetaDataKeys() if not k.startswith("ITK_")}
    meta = {
        "format": fmt,
        "keys": keys,
        "compressed": _compressed(path, fmt),
        "dimension": dim,
        "components": comps > 1,
        "time": (spacing[3:], origin[3:], full) if dim == 4 else None,
        "data_file": _data_file(path),
    }
    return Volume(
        array,
        spacing[:3],
        origin[:3],
        tuple(float(v) for v in full[:3, :3].reshape(-1)),
        None,
        meta,
    )


def _header_text(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(1 << 16)
    return head.split(b"\n\n", 1)[0].decode("latin-1")


def _compressed(path: Path, fmt: str) -> bool:
    """Whether the input stores its voxels compressed (kept for the output)."""
    for line in _header_text(path).splitlines():
        key, _, value = line.partition(":" if fmt == "nrrd" else "=")
        key, value = key.strip().lower(), value.strip().lower()
        if fmt == "nrrd" and key == "encoding":
            return value in ("gzip", "gz", "bzip2", "bz2")
        if fmt == "meta" and key == "compresseddata":
            return value == "true"
    return False


def data_file_name(path: Path) -> str | None:
    """The data file a NRRD or MetaImage header names (``ElementDataFile``, ``data file``), as
    written; None when the voxels are in the file itself. A list or pattern of data files is
    an InputError (not supported)."""
    if format_of(path.name) in ("nifti", "dicom"):
        return None
    for line in _header_text(path).splitlines():
        key, sep, value = line.partition("=" if format_of(path.name) == "meta" else ":")
        key = key.strip().lower()
        if not sep or key not in ("elementdatafile", "data file", "datafile"):
            continue
        name = value.strip()
        if name.upper() == "LOCAL":
            return None
        if name.upper().startswith("LIST") or "%" in name or " " in name:
            raise InputError(
                f"the header names a list or pattern of data files ({name!r}); only one data "
                "file per volume is supported"
            )
        return name
    return None


def _data_file(path: Path) -> Path | None:
    """The data file of a header, beside it (checked by the modality before reading)."""
    name = data_file_name(path)
    return None if name is None else path.parent / name


# -- writing ---------------------------------------------------------------------------------
NIFTI_TEXT = ("descrip", "aux_file", "db_name", "intent_name")  # free text a header may hold
KEPT_KEYS = ("NRRD_kinds", "NRRD_space", "NRRD_centerings", "NRRD_thicknesses", "NRRD_labels")


def without_free_text(vol: Volume) -> Volume:
    """``vol`` with the header text that can name a patient cleared (de-identified outputs):
    NIfTI ``descrip``, ``aux_file``, ``db_name``, ``intent_name`` and every header extension
    (they may carry a DICOM header); NRRD and MetaImage key/value fields other than NRRD's
    structural ones (``content``, comments-turned-keys and custom ``key:=value`` lines)."""
    meta = dict(vol.meta)
    hdr = meta.get("header")
    if hdr is not None:
        hdr = hdr.copy()
        for key in NIFTI_TEXT:
            if key in hdr:
                hdr[key] = b""
        del hdr.extensions[:]
        meta["header"] = hdr
    if "keys" in meta:
        meta["keys"] = {k: v for k, v in meta["keys"].items() if k.startswith(KEPT_KEYS)}
    return Volume(vol.array, vol.spacing, vol.origin, vol.direction, vol.label, meta)


def write_volume(vol: Volume, path: Path, final_name: str) -> tuple[str, list[Path]]:
    """Write ``vol`` at ``path`` (a temporary name with the final suffix) in the format and
    with the header ``vol.meta`` carries from its input; ``final_name`` is the name ``path``
    will be renamed to (a detached header names its data file after it). Returns the sha256
    of the file at ``path`` and the data files written beside it (already in place)."""
    fmt = vol.meta.get("format") or format_of(path.name)
    if fmt == "nifti":
        with path.open("wb") as f:
            return write_nifti(vol, f, path.name.lower().endswith(".gz")), []
    return _write_itk(vol, path, final_name)


class _Hashing(io.RawIOBase):
    """A write-only file that hashes what passes through it into ``sink``."""

    def __init__(self, sink: Any) -> None:
        self.sink, self.hash = sink, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.hash.update(b)
        self.sink.write(b)
        return len(b)


def write_nifti(vol: Volume, f: Any, compress: bool) -> str:
    """Write the NIfTI file of ``vol`` to ``f`` and return its sha256: the input's header
    (every field kept) with the data shape and, when an op moved the grid, the affine (same
    qform/sform codes) updated. The voxels are streamed a slice at a time (no second copy of
    the volume in memory); gzip with mtime 0 and no name, so the bytes depend on nothing else."""
    hdr = _output_header(vol)
    head = io.BytesIO()
    hdr.write_to(head)
    offset = int(hdr["vox_offset"])
    if head.tell() > offset:  # a header without room for its extensions: move the data
        offset = -(-head.tell() // 16) * 16
        hdr["vox_offset"] = offset
        head = io.BytesIO()
        hdr.write_to(head)
    head.write(b"\0" * (offset - head.tell()))
    out = _Hashing(f)
    sink: Any = (
        gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=GZIP_LEVEL, mtime=0)
        if compress
        else out
    )
    sink.write(head.getvalue())
    dtype = hdr.get_data_dtype()
    # (z, y, x) in C order is NIfTI's (x, y, z) in Fortran order: the same bytes, slice by slice.
    for plane in vol.array.reshape(-1, *vol.array.shape[-2:]):
        sink.write(np.ascontiguousarray(plane, dtype).tobytes())
    if compress:
        sink.close()
    return out.hash.hexdigest()


def nifti_bytes(vol: Volume, compress: bool) -> bytes:
    """The bytes ``write_nifti`` writes (for tests and small volumes)."""
    buf = io.BytesIO()
    write_nifti(vol, buf, compress)
    return buf.getvalue()


def _output_header(vol: Volume) -> Any:
    import nibabel as nib

    hdr = vol.meta.get("header")
    if hdr is None:  # a volume made elsewhere: a plain NIfTI-1 header
        hdr = nib.Nifti1Header()
        hdr.set_data_dtype(vol.array.dtype)
        hdr.set_xyzt_units("mm", "sec")
        hdr.set_qform(affine_of_geometry(vol.spacing, vol.origin, vol.direction), code=1)
        hdr.set_sform(affine_of_geometry(vol.spacing, vol.origin, vol.direction), code=1)
        hdr["vox_offset"] = 352
    hdr = hdr.copy()
    shape = tuple(reversed(vol.array.shape))
    if tuple(hdr.get_data_shape()) != shape:
        zooms = hdr.get_zooms()
        hdr.set_data_shape(shape)
        hdr.set_zooms(tuple(zooms[: len(shape)]) + (1.0,) * (len(shape) - len(zooms)))
    geometry = vol.meta.get("geometry")
    if geometry is None or geometry[:3] != (vol.spacing, vol.origin, vol.direction):
        affine = affine_of_geometry(vol.spacing, vol.origin, vol.direction)
        qcode, scode = int(hdr["qform_code"]), int(hdr["sform_code"])
        if scode > 0:
            hdr.set_sform(affine, code=scode)
        if qcode > 0 or scode == 0:
            hdr.set_qform(affine, code=max(qcode, 0))
        zooms = list(hdr.get_zooms())
        zooms[:3] = vol.spacing
        hdr.set_zooms(tuple(zooms))
    if np.dtype(hdr.get_data_dtype()).newbyteorder("=") != vol.array.dtype:
        hdr.set_data_dtype(vol.array.dtype)  # an op that changed the dtype (none of augcli's)
    return hdr


def _write_itk(vol: Volume, path: Path, final_name: str) -> tuple[str, list[Path]]:
    """NRRD or MetaImage through SimpleITK, with the input's key/value fields, dimension,
    4th-axis geometry and compression. A detached header is written with its data file in
    a private folder under its final name, then both are moved into place."""
    import SimpleITK as sitk

    meta = vol.meta
    img = to_sitk(vol)
    for key, value in meta.get("keys", {}).items():
        img.SetMetaData(key, value)
    compress = bool(meta.get("compressed"))
    if not path.name.lower().endswith(DETACHED):
        sitk.WriteImage(img, str(path), compress)
        return _sha256(path), []
    work = path.parent / f"{TMP_MARK}{os.getpid()}-{final_name}.d"
    work.mkdir()
    try:
        sitk.WriteImage(img, str(work / final_name), compress)
        moved = []
        for item in sorted(work.iterdir()):
            if item.name != final_name:
                dest = path.parent / item.name
                os.replace(item, dest)
                moved.append(dest)
        os.replace(work / final_name, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _sha256(path), moved


def to_sitk(vol: Volume) -> Any:
    """The SimpleITK image of a volume, with its geometry (4-D: the input's 4th axis)."""
    import SimpleITK as sitk

    meta = vol.meta
    if meta.get("components"):
        img = sitk.GetImageFromArray(np.moveaxis(vol.array, 0, -1), isVector=True)
    else:
        img = sitk.GetImageFromArray(vol.array, isVector=False)
    if img.GetDimension() == 4:
        t_spacing, t_origin, full = meta.get("time") or ((1.0,), (0.0,), np.eye(4))
        direction = np.array(full, np.float64)
        direction[:3, :3] = np.asarray(vol.direction).reshape(3, 3)
        img.SetSpacing((*vol.spacing, *t_spacing))
        img.SetOrigin((*vol.origin, *t_origin))
        img.SetDirection(tuple(direction.reshape(-1)))
    else:
        img.SetSpacing(vol.spacing)
        img.SetOrigin(vol.origin)
        img.SetDirection(vol.direction)
    return img


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_label(label: np.ndarray, like: Volume, path: Path, final_name: str) -> list[Path]:
    """A label map in its own file's format and header (``like.meta``: the label as read),
    with ``like``'s geometry; returns the data files written beside ``path``."""
    _digest, moved = write_volume(like.with_array(label), path, final_name)
    return moved
