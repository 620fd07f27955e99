"""DICOM volumes written back (``augcli.volume.dicom`` reads them): a derived series of its own
(deterministic new Series and SOP Instance UIDs, ``DERIVED``, each slice referencing the source
slice at its position, the SeriesDescription marked), de-identified first when the section asks,
in Explicit VR Little Endian, with the geometry per slice updated: slices ``0001.dcm``,
``0002.dcm``, ... in a folder of their own (renamed into place together), or one multi-frame
file (per-frame functional groups, or ``GridFrameOffsetVector``)."""

from __future__ import annotations

import copy
import hashlib
import io
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from augcli import dicomkit
from augcli.core.atomic import atomic_path
from augcli.deidentify import Profile, new_series
from augcli.volume.base import Volume
from augcli.volume.dicom import INSTALL, read_dataset


def slice_name(k: int, suffix: str) -> str:
    """The file name of slice ``k`` (from 0) of a written series: ``0001.dcm``, ..."""
    return f"{k + 1:04d}{suffix}"


@dataclass(frozen=True)
class Output:
    """What names one output: its path in the output folder, its seed, the op log; the
    de-identification ``profile`` (None: off) and the recipe's key (the new series)."""

    rel: str
    seed: Any
    ops: list[dict[str, Any]]
    profile: Profile | None = None
    recipe_key: str = ""


def write(vol: Volume, path: Path, out: Output, root: Path) -> tuple[str, list[Path]]:
    """Write ``vol`` at ``path`` (the temporary name of ``out.rel``) as a derived DICOM of its
    source's kind. A series' first slice goes to ``path``, the others beside it
    (``0002.dcm``, ...: written under temporary names, all renamed once every slice is
    written); returns the sha256 of ``path`` and the other files written."""
    pydicom = dicomkit.pydicom(INSTALL)
    sources = [Path(p) for p in vol.meta["dicom"]["files"]]
    if vol.meta["dicom"]["kind"] == "multiframe":
        ds = _derived(read_dataset(pydicom, sources[0], pixels=False), vol, 0, out)
        _multiframe_geometry(ds, vol)
        return _save(pydicom, ds, path), []
    suffix = Path(out.rel).suffix or ".dcm"
    written = []
    with ExitStack() as stack:
        for k in range(1, vol.shape[0]):
            dest = path.parent / slice_name(k, suffix)
            tmp = stack.enter_context(atomic_path(dest, root))
            source = read_dataset(pydicom, sources[min(k, len(sources) - 1)], pixels=False)
            _save(pydicom, _derived(source, vol, k, out), tmp, digest=False)
            written.append(dest)
        first = read_dataset(pydicom, sources[0], pixels=False)
        digest = _save(pydicom, _derived(first, vol, 0, out), path)
    return digest, written


def _derived(ds: Any, vol: Volume, k: int, out: Output) -> Any:
    """Slice ``k`` of ``vol`` (every frame, for a multi-frame source) as a derived copy of the
    source dataset ``ds`` (changed in place): de-identified first when asked (every UID it
    holds is then the remapped one), pixel module, slice geometry, a new series of its own,
    UIDs, derivation."""
    if out.profile is not None:
        out.profile.check_burned_in(ds)
        out.profile.apply(ds)
    multiframe = vol.meta["dicom"]["kind"] == "multiframe"
    raw = _set_pixels(ds, vol.array if multiframe else vol.array[k])
    if multiframe:
        ds.NumberOfFrames = int(vol.shape[0])
    else:
        _slice_geometry(ds, vol, k)
    source_uid = str(ds.get("SOPInstanceUID", ""))
    dicomkit.mark_derived(ds, out.ops, source_uid)
    new_series(ds, out.recipe_key, out.rel)  # each output volume is a series of its own
    entropy = [source_uid, out.rel, str(out.seed), str(k), out.recipe_key, str(len(raw))]
    dicomkit.set_file_meta(ds, dicomkit.uid(entropy))
    return ds


def _set_pixels(ds: Any, data: np.ndarray) -> bytes:
    """The pixel module from stored values ``data`` (the source's dtype); BitsStored widened
    when an op made values it cannot hold."""
    alloc = int(ds.BitsAllocated)
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    kind = np.dtype(f"<{'i' if signed else 'u'}{alloc // 8}")
    info = np.iinfo(kind)
    values = np.clip(data, info.min, info.max).astype(kind)
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    need = (
        max(high.bit_length(), max(0, -low - 1).bit_length()) + 1 if signed else high.bit_length()
    )
    bits = min(alloc, max(int(ds.get("BitsStored", alloc)), need, 1))
    dicomkit.drop_stale(ds)
    ds.Rows, ds.Columns = int(values.shape[-2]), int(values.shape[-1])
    ds.BitsStored, ds.HighBit = bits, bits - 1
    raw = values.tobytes()
    if len(raw) % 2:
        raw += b"\0"
    ds.add_new(0x7FE00010, "OW" if alloc > 8 else "OB", raw)
    return raw


def _position(vol: Volume, k: int) -> np.ndarray:
    d = np.asarray(vol.direction, np.float64).reshape(3, 3)
    return np.asarray(vol.origin) + k * vol.spacing[2] * d[:, 2]


def _numbers(values: Any) -> list[str]:
    return [dicomkit.number(v) for v in values]


def _orientation(vol: Volume) -> list[str]:
    d = np.asarray(vol.direction, np.float64).reshape(3, 3)
    return _numbers((*d[:, 0], *d[:, 1]))


def _pixel_spacing(vol: Volume) -> list[str]:
    return _numbers((vol.spacing[1], vol.spacing[0]))  # DICOM order: rows, then columns


def _slice_geometry(ds: Any, vol: Volume, k: int) -> None:
    ipp = _position(vol, k)
    ds.ImagePositionPatient = _numbers(ipp)
    ds.ImageOrientationPatient = _orientation(vol)
    ds.PixelSpacing = _pixel_spacing(vol)
    if "SpacingBetweenSlices" in ds:
        ds.SpacingBetweenSlices = dicomkit.number(vol.spacing[2])
    if "SliceLocation" in ds:
        d = np.asarray(vol.direction, np.float64).reshape(3, 3)
        ds.SliceLocation = dicomkit.number(float(ipp @ d[:, 2]))
    ds.InstanceNumber = k + 1


def _multiframe_geometry(ds: Any, vol: Volume) -> None:
    if "PerFrameFunctionalGroupsSequence" in ds:
        _functional_groups(ds, vol)
        return
    ds.ImagePositionPatient = _numbers(_position(vol, 0))
    ds.ImageOrientationPatient = _orientation(vol)
    ds.PixelSpacing = _pixel_spacing(vol)
    ds.GridFrameOffsetVector = _numbers(k * vol.spacing[2] for k in range(vol.shape[0]))
    if "SpacingBetweenSlices" in ds:
        ds.SpacingBetweenSlices = dicomkit.number(vol.spacing[2])


def _functional_groups(ds: Any, vol: Volume) -> None:
    """Per-frame positions (and orientation and pixel measures wherever the source keeps
    them), output frame k taking the functional groups of source frame k (the last for more)."""
    from pydicom.sequence import Sequence

    order = vol.meta["dicom"].get("order") or [0]
    items = list(ds.PerFrameFunctionalGroupsSequence)
    out = []
    for k in range(vol.shape[0]):
        item = copy.deepcopy(items[order[min(k, len(order) - 1)]])
        _set_group(
            item, "PlanePositionSequence", "ImagePositionPatient", _numbers(_position(vol, k))
        )
        content = item.get("FrameContentSequence")
        if content is not None and len(content) and "InStackPositionNumber" in content[0]:
            content[0].InStackPositionNumber = k + 1
        out.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(out)
    for item in [*out, *(ds.get("SharedFunctionalGroupsSequence") or [])]:
        _update_group(
            item, "PlaneOrientationSequence", "ImageOrientationPatient", _orientation(vol)
        )
        _update_group(item, "PixelMeasuresSequence", "PixelSpacing", _pixel_spacing(vol))
        _update_group(
            item, "PixelMeasuresSequence", "SpacingBetweenSlices", dicomkit.number(vol.spacing[2])
        )


def _set_group(item: Any, seq: str, key: str, value: Any) -> None:
    """``item.<seq>[0].<key> = value``, the sequence made when missing."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    if not len(item.get(seq) or []):
        setattr(item, seq, Sequence([Dataset()]))
    setattr(item.get(seq)[0], key, value)


def _update_group(item: Any, seq: str, key: str, value: Any) -> None:
    """``item.<seq>[0].<key> = value`` where the item holds that attribute already."""
    inner = item.get(seq)
    if inner is not None and len(inner) and key in inner[0]:
        setattr(inner[0], key, value)


def _save(pydicom: Any, ds: Any, path: Path, digest: bool = True) -> str:
    """Write ``ds`` at ``path``; the sha256 of its bytes (``digest``), else ''. The other
    slices of a series are hashed once, by the caller that records them."""
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    data = buffer.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest() if digest else ""
