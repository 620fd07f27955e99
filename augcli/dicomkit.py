"""What writing a derived DICOM takes, for every modality that writes DICOM (2-D images,
volumes): pydicom imported on first use with the fix when it is missing, numbers as DS, the
attributes new pixels make stale, the derivation marks (ImageType DERIVED, DerivationDescription,
SourceImageSequence), deterministic UIDs, and big-endian sources turned little endian."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from augcli.core.errors import InputError, UsageError

INSTALL = "pip install 'augcli[dicom]'"
MARK = "augcli"
SUFFIXES = (".dcm", ".dicom")  # DICOM file names (a file may also say DICM inside)
# Attributes augmented pixels make stale: pixel value extremes, the icon (thumbnail).
STALE = (0x00280106, 0x00280107, 0x00280108, 0x00280109, 0x00880200)


def check_installed(relpath: str) -> None:
    """``relpath`` is DICOM: refuse (UsageError), before any input is read, if pydicom 3 is
    not installed (found without importing it)."""
    version = _installed_version()
    if version is not None and int(version.split(".")[0]) >= 3:
        return
    got = "is not installed" if version is None else f"is {version}, older than 3"
    raise UsageError(
        f"input {relpath!r} is DICOM, which needs pydicom 3 or later, and pydicom {got}. "
        f"Run: {INSTALL}{' --upgrade' if version else ''} (or leave DICOM files out with the "
        "section's exclude: ['**/*.dcm'])."
    )


def _installed_version() -> str | None:
    """pydicom's version if it is installed (found without importing it), else None."""
    try:
        if importlib.util.find_spec("pydicom") is None:
            return None
    except ImportError:  # a broken install, or an import hook refusing it
        return None
    try:
        return importlib.metadata.version("pydicom")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def pydicom(install: str = INSTALL) -> Any:
    """pydicom 3 or later (reading without warnings), or an InputError saying how to install
    it."""
    try:
        import pydicom as module
    except ImportError:
        raise InputError(f"DICOM needs pydicom, which is not installed. Run: {install}") from None
    if int(module.__version__.split(".")[0]) < 3:
        raise InputError(
            f"DICOM needs pydicom 3 or later; got pydicom {module.__version__}. "
            f"Run: {install} --upgrade"
        )
    # Values that break the standard's VR rules (vendors write many) are read as they are,
    # without a Python warning per value reaching the user; they are written back unchanged.
    module.config.settings.reading_validation_mode = module.config.IGNORE
    return module


def attribute(path: Path, keyword: str) -> str | None:
    """The value of a DICOM attribute of ``path`` as text, or None: not a DICOM file (by its
    suffix or its ``DICM`` preamble), pydicom missing, unreadable, or the attribute absent or
    empty."""
    if not path.name.lower().endswith(SUFFIXES) and not says_dicm(path):
        return None
    try:
        module = pydicom()
        ds = module.dcmread(path, stop_before_pixels=True, specific_tags=[keyword])
    except Exception:  # the input itself fails later with the reason
        return None
    value = ds.get(keyword)
    text = "" if value is None else str(value).strip()
    return text or None


def says_dicm(path: Path) -> bool:
    """Whether a file has DICOM's preamble (``DICM`` at byte 128), whatever its name."""
    try:
        with path.open("rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def number(x: float) -> str:
    """A decimal string (DS) for ``x``: at most 16 characters, rounded to 10 decimals."""
    from pydicom.valuerep import format_number_as_ds

    x = round(float(x), 10)
    return format_number_as_ds(x if x != 0 else 0.0)


def uid(entropy: list[str]) -> str:
    """A UID that depends on ``entropy`` only (the same in every run and process)."""
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[MARK, *entropy])


def drop_stale(ds: Any) -> None:
    """Remove what new pixels make wrong: value extremes, the icon, retired group lengths."""
    for tag in [*STALE, *(e.tag for e in ds if e.tag.element == 0)]:
        if tag in ds:
            del ds[tag]


def mark_derived(ds: Any, ops: list[dict[str, Any]], source_uid: str) -> None:
    """ImageType DERIVED, a DerivationDescription naming the applied ops (appended to any
    earlier one), and the source instance in SourceImageSequence."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    image_type = ds.get("ImageType")
    values = [] if image_type in (None, "") else [str(v) for v in np.atleast_1d(image_type)]
    ds.ImageType = ["DERIVED", *values[1:]] if values else ["DERIVED", "SECONDARY"]
    applied = [e["op"] for e in ops if e.get("applied")]
    text = f"{MARK} augmentation" + (
        f": {', '.join(applied)}" if applied else " (ops and parameters: the run's manifest.jsonl)"
    )
    previous = str(ds.get("DerivationDescription", "") or "")
    ds.DerivationDescription = (f"{previous}; {text}" if previous else text)[:1024]
    if source_uid and ds.get("SOPClassUID"):
        ref = Dataset()
        ref.ReferencedSOPClassUID = ds.SOPClassUID
        ref.ReferencedSOPInstanceUID = source_uid
        ds.SourceImageSequence = Sequence([ref])


def set_file_meta(ds: Any, sop_uid: str) -> None:
    """The new SOP Instance UID, and file meta for Explicit VR Little Endian; a source read as
    big endian has its word-valued elements swapped to match."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds.SOPInstanceUID = sop_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    if ds.original_encoding[1] is False:
        to_little_endian(ds)


def to_little_endian(ds: Any) -> None:
    """Byte-swap the word-valued binary elements of a dataset read as big endian (pydicom keeps
    them as raw bytes; the pixel data has already been replaced)."""
    sizes = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
    for elem in ds.iterall():
        n = sizes.get(elem.VR)
        if n and isinstance(elem.value, bytes) and elem.tag != 0x7FE00010:
            elem.value = np.frombuffer(elem.value, f">u{n}").astype(f"<u{n}").tobytes()
