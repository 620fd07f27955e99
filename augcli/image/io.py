"""Image decoding and encoding with OpenCV: 8/16-bit, gray/BGR/BGRA kept, EXIF orientation applied."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from augcli.errors import InputError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".bmp", ".webp")


def read_image(path: Path) -> np.ndarray:
    """Decode ``path`` as it is stored (no conversion), upright per its EXIF orientation."""
    import cv2

    buf = np.fromfile(path, dtype=np.uint8)
    if buf.size == 0:
        raise InputError("empty file (0 bytes)")
    kind = _sniff(buf)
    _check_complete(buf, kind)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(
            "cannot be decoded as an image (corrupt, or not the format its extension says)"
        )
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{img.dtype} pixels are not supported; augcli reads 8- and 16-bit images")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3 and img.shape[2] not in (3, 4):
        raise InputError(f"{img.shape[2]}-channel images are not supported (1, 3 or 4 channels)")
    if kind == "jpeg":
        img = orient(img, exif_orientation(buf.tobytes()))
    return np.ascontiguousarray(img)


def encode_image(img: np.ndarray, suffix: str, jpeg_quality: int, png_compression: int) -> bytes:
    """Encode in the format ``suffix`` names; refuse to drop bits the format cannot hold."""
    import cv2

    suffix = suffix.lower()
    if img.dtype == np.uint16 and suffix in EIGHT_BIT_ONLY:
        raise InputError(f"{suffix} cannot hold 16-bit pixels; use .png or .tif for 16-bit data")
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
    while i + 4 <= n and data[i] == 0xFF:
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
