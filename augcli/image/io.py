"""Image decoding and encoding with OpenCV (8/16-bit, gray/BGR/BGRA kept, EXIF orientation
applied), and image sizes read from file headers so oversized images are refused undecoded."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augcli.core.errors import InputError
from augcli.image.decode import decode
from augcli.image.structure import MAX_SEGMENTS, frames, jpeg_unsent, png_gray_key, tiff_ifds
from augcli.image.structure import u as _u

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FORMATS = tuple(e[1:] for e in EXTENSIONS)  # the values of the image section's ``format``
EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".bmp", ".webp")
NO_ALPHA = (".jpg", ".jpeg", ".bmp")  # BMP readers mostly ignore a 4th byte: alpha is lost
DICOM_MAGIC = b"DICM\x02\x00"  # after the 128-byte preamble: "DICM", then group 0002's first tag


def read_image(path: Path, max_pixels: int | None = None) -> np.ndarray:
    """Decode ``path`` as it is stored (no conversion), upright per its EXIF orientation.

    With ``max_pixels``, an image whose header says it is larger is refused before decoding.
    Nothing is reduced silently: a file of several frames or pages, or one cut short (even when
    closed again with an end marker), is refused, naming the reason."""
    buf = np.fromfile(path, dtype=np.uint8)
    if buf.size == 0:
        raise InputError("empty file (0 bytes)")
    facts = _inspect(buf, max_pixels)
    img = decode(buf, facts.kind)
    del buf  # the file's bytes are not needed past here
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{img.dtype} pixels are not supported; augcli reads 8- and 16-bit images")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3 and img.shape[2] not in (3, 4):
        raise InputError(f"{img.shape[2]}-channel images are not supported (1, 3 or 4 channels)")
    img = _kept_whole(img, facts)
    return np.ascontiguousarray(orient(img, facts.orientation))


@dataclass
class _Facts:
    """What the file's own bytes say, gathered before decoding so they can be let go."""

    kind: str
    gray_key: int | None = None  # a gray PNG's transparent value
    tiff_samples: tuple[int, int] | None = None
    orientation: int = 1


def _inspect(buf: np.ndarray, max_pixels: int | None) -> _Facts:
    """Every check and fact that needs the file's bytes (one copy, freed on return): the pixel
    limit from the header, completeness, frames, JPEG scans, transparency, samples, EXIF."""
    data = buf.tobytes()
    if data[128:134] == DICOM_MAGIC:  # e.g. a DICOM whose preamble says TIFF: not libtiff's
        raise InputError(
            "is a DICOM file (DICM at byte 128) named as an image, so the image decoders "
            "would misread it; rename it to .dcm so that augcli reads it as DICOM"
        )
    if max_pixels is not None:
        size = header_size(data)
        if size is not None:
            check_pixels(*size, max_pixels)
    facts = _Facts(_sniff(buf))
    _check_complete(buf, facts.kind)
    _check_single_frame(data)
    if facts.kind == "jpeg":
        _check_scans(buf, data)
        facts.orientation = exif_orientation(data)
    with contextlib.suppress(IndexError):  # a cut-short structure: the decoder decides
        facts.gray_key = png_gray_key(data)
        facts.tiff_samples = _tiff_samples(data)
    return facts


def _check_scans(buf: np.ndarray, data: bytes) -> None:
    """Refuse a JPEG whose scans end early at a scan boundary (libjpeg says nothing then)."""
    unsent = jpeg_unsent(buf, data)
    if unsent is not None:
        raise InputError(
            f"JPEG ends before its last scan: component {unsent}'s data was never sent in "
            "full (a file cut short and closed again with an end marker?); decoding would "
            "show a blurred or discoloured image. Re-export or re-download the file"
        )


def _check_single_frame(data: bytes) -> None:
    """Refuse files of several frames or pages: OpenCV would keep the first one silently."""
    try:
        count, noun, kind = frames(data)
    except IndexError:  # a cut-short structure: the decoder decides
        return
    if count > 1:
        raise InputError(
            f"holds {count} {noun}s ({kind}); augcli reads single-{noun} images and does not "
            f"keep only the first {noun} silently. Split it into one file per {noun} first "
            f"({_SPLITTERS[kind]})"
        )


_SPLITTERS = {
    "an animated PNG": "e.g. with apngdis, or ffmpeg -i in.png out_%03d.png",
    "an animated WebP": "e.g. with anim_dump from libwebp",
    "a multi-page TIFF": "e.g. with tiffsplit from libtiff",
}


def _kept_whole(img: np.ndarray, facts: _Facts) -> np.ndarray:
    """The decoded image with nothing the file holds left out: a gray PNG's transparent value
    (tRNS, which OpenCV ignores) becomes an alpha channel (gray in B, G and R, as OpenCV reads
    gray+alpha PNGs); a TIFF OpenCV would reduce (gray+alpha, or 16 bits read as 8) is refused."""
    if facts.gray_key is not None and img.ndim == 2:
        top = np.iinfo(img.dtype).max
        alpha = np.where(img == facts.gray_key, 0, top).astype(img.dtype)
        return np.dstack([img, img, img, alpha])
    if facts.tiff_samples is not None:
        spp, bits = facts.tiff_samples
        channels = 1 if img.ndim == 2 else img.shape[2]
        depth = 16 if img.dtype == np.uint16 else 8
        if channels < spp or depth < bits:
            raise InputError(
                f"TIFF stores {spp} samples of {bits} bits per pixel"
                + (" (gray + alpha)" if spp == 2 else "")
                + f", but OpenCV decodes it as {channels}-channel {depth}-bit pixels, and "
                "augcli never drops channels or bits silently. Save it as a PNG (gray + alpha "
                "PNGs are read with their alpha) or as a gray, RGB or RGBA TIFF"
            )
    return img


def _tiff_samples(data: bytes) -> tuple[int, int] | None:
    """(samples per pixel, bits per sample) of a gray or RGB TIFF's first page, whose pixels
    OpenCV otherwise keeps as stored; None for other files and colour models."""
    first = next(tiff_ifds(data), None)
    if first is None or first.get(262, 1) not in (0, 1, 2):
        return None
    return first.get(277, 1), first.get(258, 1)


def encode_image(img: np.ndarray, suffix: str, jpeg_quality: int, png_compression: int) -> bytes:
    """Encode in the format ``suffix`` names; refuse to drop bits or alpha the format cannot hold."""
    import cv2

    suffix = suffix.lower()
    if img.dtype == np.uint16 and suffix in EIGHT_BIT_ONLY:
        raise InputError(
            f"{suffix} cannot hold 16-bit pixels; got a 16-bit image. Use format: png or tif "
            "for 16-bit data (augcli never drops bits silently)"
        )
    if img.ndim == 3 and img.shape[2] == 4 and suffix in NO_ALPHA:
        raise InputError(
            f"{suffix} cannot hold an alpha channel; got a BGRA image. Use format: png, tif or "
            "webp for images with alpha (augcli never drops alpha silently)"
        )
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, png_compression]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, jpeg_quality]
    ok, out = cv2.imencode(suffix, img, params)
    if not ok:
        raise InputError(f"OpenCV could not encode a {img.dtype} {img.shape} image as {suffix}")
    return out.tobytes()


def _sniff(buf: np.ndarray) -> str:
    head = buf[:8].tobytes()
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return "other"


def _check_complete(buf: np.ndarray, kind: str) -> None:
    """Catch truncated files, which decoders may silently pad with gray instead of failing."""
    tail = buf[-4096:].tobytes()
    if kind == "jpeg" and not tail.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        raise InputError("truncated JPEG (no end-of-image marker)")
    if kind == "png" and b"IEND" not in tail:
        raise InputError("truncated PNG (no IEND chunk)")


def exif_orientation(data: bytes) -> int:
    """The EXIF Orientation (1-8) of a JPEG, 1 when absent or unreadable."""
    i = 2
    n = len(data)
    for _ in range(MAX_SEGMENTS):
        if i + 4 > n or data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            break
        size = int.from_bytes(data[i + 2 : i + 4], "big")
        seg = data[i + 4 : i + 2 + size]
        if marker == 0xE1 and seg.startswith(b"Exif\x00\x00"):
            return _tiff_orientation(seg[6:])
        i += 2 + size
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "little" if tiff[:2] == b"II" else "big"
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return 1
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    for k in range(count):
        e = ifd + 2 + 12 * k
        if e + 12 > len(tiff):
            break
        if int.from_bytes(tiff[e : e + 2], order) == 0x0112:
            value = int.from_bytes(tiff[e + 8 : e + 10], order)
            return value if 1 <= value <= 8 else 1
    return 1


def orient(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF ``orientation`` upright (the same as PIL's exif_transpose)."""
    t = (1, 0, 2) if img.ndim == 3 else (1, 0)
    if orientation == 2:
        return img[:, ::-1]
    if orientation == 3:
        return img[::-1, ::-1]
    if orientation == 4:
        return img[::-1]
    if orientation == 5:
        return img.transpose(t)
    if orientation == 6:
        return img.transpose(t)[:, ::-1]
    if orientation == 7:
        return img.transpose(t)[::-1, ::-1]
    if orientation == 8:
        return img.transpose(t)[::-1]
    return img


# -- sizes from headers, without decoding -------------------------------------------------------
def check_pixels(width: int, height: int, max_pixels: int | None, frames: int = 1) -> None:
    """Refuse an image of ``width`` x ``height`` (x ``frames``) over ``max_pixels`` (None: no limit)."""
    total = width * height * frames
    if max_pixels is not None and total > max_pixels:
        size = f"{width}x{height}" + (f"x{frames} frames" if frames > 1 else "")
        raise InputError(
            f"image is over the pixel limit (image.max_pixels: {max_pixels:,}); got {size} = "
            f"{total:,} pixels by its header, so it was not decoded. Raise image.max_pixels in "
            "the recipe (null = no limit) to process it"
        )


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as stored, read from a PNG, JPEG, BMP, WebP or TIFF header; None when the
    format is not one of these or its header cannot be parsed (the decoder then decides)."""
    for parse in (_png_size, _jpeg_size, _bmp_size, _webp_size, _tiff_size):
        try:
            size = parse(data)
        except (IndexError, ValueError):
            size = None
        if size is not None:
            return size if size[0] > 0 and size[1] > 0 else None
    return None


def _png_size(d: bytes) -> tuple[int, int] | None:
    if not d.startswith(b"\x89PNG\r\n\x1a\n") or d[12:16] != b"IHDR":
        return None
    return _u(d, 16, 4, "big"), _u(d, 20, 4, "big")


def _jpeg_size(d: bytes) -> tuple[int, int] | None:
    """The frame header (SOF0-15) of the image itself: segments are walked by their lengths, so
    an EXIF thumbnail's own SOF inside APP1 is never mistaken for it."""
    if not d.startswith(b"\xff\xd8"):
        return None
    i = 2
    for _ in range(MAX_SEGMENTS * 100):  # fill bytes are walked one by one
        if i + 1 >= len(d) or d[i] != 0xFF:
            return None
        marker = d[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length field
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header found
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return _u(d, i + 7, 2, "big"), _u(d, i + 5, 2, "big")
        i += 2 + _u(d, i + 2, 2, "big")
    return None


def _bmp_size(d: bytes) -> tuple[int, int] | None:
    if not d.startswith(b"BM"):
        return None
    header = _u(d, 14, 4)
    if header == 12:  # BITMAPCOREHEADER: 16-bit sizes
        return _u(d, 18, 2), _u(d, 20, 2)
    width = int.from_bytes(d[18:22], "little", signed=True)
    height = int.from_bytes(d[22:26], "little", signed=True)  # negative: stored top-down
    return (width, abs(height)) if header >= 40 and len(d) >= 26 else None


def _webp_size(d: bytes) -> tuple[int, int] | None:
    if d[:4] != b"RIFF" or d[8:12] != b"WEBP":
        return None
    chunk = d[12:16]
    if chunk == b"VP8 ":  # lossy: frame tag, start code, 14-bit sizes
        if d[23:26] != b"\x9d\x01\x2a":
            return None
        return _u(d, 26, 2) & 0x3FFF, _u(d, 28, 2) & 0x3FFF
    if chunk == b"VP8L":  # lossless: signature 0x2f, then 14-bit (size - 1) fields
        if d[20] != 0x2F:
            return None
        bits = _u(d, 21, 4)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit (canvas size - 1) fields
        return _u(d, 24, 3) + 1, _u(d, 27, 3) + 1
    return None


def _tiff_size(d: bytes) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) of the first IFD; classic and BigTIFF, either
    byte order."""
    first = next(tiff_ifds(d), None)
    if first is None or 256 not in first or 257 not in first:
        return None
    return first[256], first[257]
