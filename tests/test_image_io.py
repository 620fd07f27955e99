"""Image I/O: bit depth and channels kept, EXIF orientation applied, damaged files caught."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_IMAGES, textured

from augcli.errors import InputError
from augcli.image.io import encode_image, exif_orientation, read_image


def with_exif_orientation(jpeg: bytes, orientation: int, order: str = "II") -> bytes:
    """Insert an APP1 Exif segment holding only IFD0/Orientation after the SOI marker."""
    e = "<" if order == "II" else ">"
    tiff = order.encode() + struct.pack(e + "HI", 42, 8)
    tiff += struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(e + "I", 0)
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


# What each orientation's stored pixels need to be shown upright (as PIL's exif_transpose does).
UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: np.rot90(a, k=-1)[::-1],
    8: lambda a: np.rot90(a, k=1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("order", ["II", "MM"])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, order: str) -> None:
    stored = textured(12, 20, 3, np.uint8)
    ok, buf = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    path = tmp_path / "x.jpg"
    path.write_bytes(with_exif_orientation(buf.tobytes(), orientation, order))
    assert exif_orientation(path.read_bytes()) == orientation
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(read_image(path), UPRIGHT[orientation](decoded))


def test_sample_exif_photo_reads_upright() -> None:
    img = read_image(SAMPLE_IMAGES / "scene/coffee_exif6.jpg")
    assert img.shape == (160, 240, 3)  # stored 240x160 portrait, shown as landscape


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16_bit_round_trip_is_lossless(tmp_path: Path, suffix: str, channels: int) -> None:
    img = textured(9, 11, channels, np.uint16)
    img.flat[0] = 65535
    path = tmp_path / f"x{suffix}"
    path.write_bytes(encode_image(img, suffix, 95, 3))
    back = read_image(path)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, img)


def test_sample_scans_are_16_bit_gray() -> None:
    img = read_image(SAMPLE_IMAGES / "medical/ct_small_u16.png")
    assert img.dtype == np.uint16 and img.ndim == 2 and img.max() > 255


def test_16_bit_is_never_squeezed_into_an_8_bit_format() -> None:
    with pytest.raises(InputError, match="cannot hold 16-bit"):
        encode_image(np.zeros((4, 4), np.uint16), ".jpg", 95, 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello, I am text", "cannot be decoded"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "truncated JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "truncated PNG"),
    ],
)
def test_damaged_files_raise_input_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_image(path)
