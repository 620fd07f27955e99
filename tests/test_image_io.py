"""Image I/O: bit depth and channels kept, EXIF orientation applied, damaged files caught."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_IMAGES, run_augcli, textured, write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.errors import InputError
from augcli.image.io import encode_image, exif_orientation, header_size, read_image


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


# -- output format ------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".bmp", ".webp"])
def test_16_bit_into_an_8_bit_format_says_how_to_fix_it(suffix: str) -> None:
    with pytest.raises(InputError, match=r"cannot hold 16-bit.*format: png or tif"):
        encode_image(np.zeros((4, 4), np.uint16), suffix, 95, 3)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_alpha_is_never_dropped_into_jpeg_or_bmp(suffix: str) -> None:
    with pytest.raises(InputError, match=r"cannot hold an alpha channel.*format: png"):
        encode_image(textured(6, 8, 4, np.uint8), suffix, 95, 3)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_formats_with_alpha_keep_it(tmp_path: Path, suffix: str) -> None:
    img = textured(6, 8, 4, np.uint8)
    path = tmp_path / f"x{suffix}"
    params = 101 if suffix == ".webp" else 95  # WebP quality > 100 is lossless
    path.write_bytes(encode_image(img, suffix, params, 3))
    np.testing.assert_array_equal(read_image(path)[..., 3], img[..., 3])


# -- sizes from headers -------------------------------------------------------------------------
def make_tiff(img: np.ndarray, order: str = "II", big: bool = False) -> bytes:
    """A minimal uncompressed 8-bit grayscale TIFF (one strip), classic or BigTIFF."""
    e = "<" if order == "II" else ">"
    h, w = img.shape
    pixels = img.tobytes()
    if big:
        head = order.encode() + struct.pack(e + "HHHQ", 43, 8, 0, 16)
        ent, cnt, val = "HHQ", "Q", "Q"
    else:
        head = order.encode() + struct.pack(e + "HI", 42, 8)
        ent, cnt, val = "HHI", "H", "I"
    tags = [(256, 3, w), (257, 3, h), (258, 3, 8), (259, 3, 1), (262, 3, 1)]
    tags += [(273, 4, 0), (277, 3, 1), (278, 3, h), (279, 4, len(pixels))]
    value_size = struct.calcsize(e + val)
    entry_size = struct.calcsize(e + ent) + value_size
    data_at = len(head) + struct.calcsize(e + cnt) + len(tags) * entry_size + value_size
    ifd = struct.pack(e + cnt, len(tags))
    for tag, kind, value in tags:
        value = data_at if tag == 273 else value
        raw = struct.pack(e + ("H" if kind == 3 else "I"), value).ljust(value_size, b"\0")
        ifd += struct.pack(e + ent, tag, kind, 1) + raw  # values are left-justified
    return head + ifd + struct.pack(e + val, 0) + pixels


def encoded(suffix: str, channels: int, quality: int | None = None) -> bytes:
    img = textured(37, 53, channels, np.uint8)
    params = [] if quality is None else [cv2.IMWRITE_WEBP_QUALITY, quality]
    ok, buf = cv2.imencode(suffix, img, params)
    assert ok
    return buf.tobytes()


GRAY = textured(37, 53, 1, np.uint8)
HEADERS = {
    "png": lambda: encoded(".png", 3),
    "png-gray": lambda: encoded(".png", 1),
    "jpeg": lambda: encoded(".jpg", 3),
    "jpeg-gray": lambda: encoded(".jpg", 1),
    "bmp": lambda: encoded(".bmp", 3),
    "bmp-gray": lambda: encoded(".bmp", 1),
    "webp-lossy": lambda: encoded(".webp", 3, 80),  # VP8
    "webp-lossless": lambda: encoded(".webp", 3, 101),  # VP8L
    "webp-alpha": lambda: encoded(".webp", 4, 80),  # VP8X
    "tiff-opencv": lambda: encoded(".tif", 3),
    "tiff-II": lambda: make_tiff(GRAY, "II"),
    "tiff-MM": lambda: make_tiff(GRAY, "MM"),
    "bigtiff-II": lambda: make_tiff(GRAY, "II", big=True),
    "bigtiff-MM": lambda: make_tiff(GRAY, "MM", big=True),
}


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_header_size_matches_the_decoded_shape(kind: str) -> None:
    data = HEADERS[kind]()
    if kind == "webp-lossy":
        assert data[12:16] == b"VP8 "
    if kind == "webp-lossless":
        assert data[12:16] == b"VP8L"
    if kind == "webp-alpha":
        assert data[12:16] == b"VP8X"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None
    assert header_size(data) == (decoded.shape[1], decoded.shape[0]) == (53, 37)


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_pixel_limit_refuses_before_decoding(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.img"
    path.write_bytes(HEADERS[kind]())
    np.testing.assert_array_equal(read_image(path, 53 * 37).shape[:2], (37, 53))  # at the limit

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded an image over the pixel limit")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    with pytest.raises(InputError, match=r"max_pixels: 1,960.*53x37 = 1,961 pixels.*null"):
        read_image(path, 53 * 37 - 1)


def test_a_forged_header_is_refused_without_decoding(tmp_path: Path) -> None:
    """A tiny PNG whose header claims 100000 x 100000 pixels (a decompression bomb)."""
    png = bytearray(encoded(".png", 1))
    png[16:24] = struct.pack(">II", 100_000, 100_000)
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(png))
    with pytest.raises(InputError, match="100000x100000 = 10,000,000,000 pixels"):
        read_image(path, 1 << 26)


def test_a_jpeg_thumbnail_is_not_taken_for_the_image() -> None:
    """An APP1 segment holding an SOF0 for a 1x1 image must be skipped by its length."""
    jpeg = encoded(".jpg", 3)
    fake_sof = b"\xff\xc0\x00\x11\x08\x00\x01\x00\x01\x03" + b"\x00" * 9
    payload = b"Exif\x00\x00" + fake_sof
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    assert header_size(jpeg[:2] + app1 + jpeg[2:]) == (53, 37)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am text",
        b"\xff\xd8\xff\xe0\x00",
        b"\x89PNG\r\n\x1a\n\x00",
        b"RIFF1234WEBPVP8 ",
    ],
)
def test_unparseable_headers_fall_through_to_the_decoder(data: bytes) -> None:
    assert header_size(data) is None


# -- format and max_pixels in a run -------------------------------------------------------------
runner = CliRunner()


def expand(tmp_path: Path, settings: str, *args: str) -> tuple[int, str, dict[str, dict]]:
    """Run `augcli expand` on ``tmp_path/data`` with ``settings`` in the image section; return
    the exit code, the output and the manifest by output (or by source for unreadable inputs)."""
    recipe = (
        "version: 1\nseed: 1\ninput: data\noutput: out\ncopies: 1\nkeep_originals: true\n"
        f"image:\n{settings}  pipeline:\n    - hflip\n"
    )
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    result = runner.invoke(app, ["expand", str(path), "--quiet", "--workers", "1", *args])
    lines = []
    if (tmp_path / "out/manifest.jsonl").is_file():
        lines = (tmp_path / "out/manifest.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    return result.exit_code, result.output, {r["output"] or r["source"]: r for r in recs}


def test_format_png_converts_every_output_and_keeps_originals(tmp_path: Path, images: Path) -> None:
    code, out, recs = expand(tmp_path, "  format: png\n")
    assert code == 0, out
    dst = tmp_path / "out"
    assert recs["scene/astronaut__aug_0.png"]["status"] == "ok"
    for rel, rec in recs.items():
        if rec["node"] is None:  # originals: their own name and bytes
            assert (dst / rel).read_bytes() == (images / rec["source"]).read_bytes()
            continue
        assert rel.endswith("__aug_0.png") and (dst / rel).read_bytes()[:4] == b"\x89PNG"
        source = read_image(images / rec["source"])
        np.testing.assert_array_equal(read_image(dst / rel), source[:, ::-1])  # lossless
    assert not list(dst.rglob("*__aug_0.jpg"))


def test_format_jpg_fails_16_bit_and_alpha_inputs_alone(tmp_path: Path, images: Path) -> None:
    code, _, recs = expand(tmp_path, "  format: jpg\n")
    assert code == 1
    failed = {rel: r["error"] for rel, r in recs.items() if r["status"] == "failed"}
    assert set(failed) == {
        "medical/ct_small_u16__aug_0.jpg",
        "medical/mr_abdomen_u16__aug_0.jpg",
        "medical/mr_small_u16__aug_0.jpg",
        "scene/chelsea_rgba__aug_0.jpg",
    }
    assert "cannot hold 16-bit pixels" in failed["medical/ct_small_u16__aug_0.jpg"]
    assert "format: png or tif for 16-bit data" in failed["medical/ct_small_u16__aug_0.jpg"]
    assert "cannot hold an alpha channel" in failed["scene/chelsea_rgba__aug_0.jpg"]
    for rel in failed:
        assert not (tmp_path / "out" / rel).exists()
    gray = cv2.imread(str(tmp_path / "out/scene/camera_gray__aug_0.jpg"), cv2.IMREAD_UNCHANGED)
    assert gray is not None and gray.ndim == 2  # 8-bit PNGs became JPEGs
    assert recs["medical/ct_small_u16.png"]["status"] == "ok"  # originals are copied as they are


def test_max_pixels_fails_large_inputs_alone(tmp_path: Path, images: Path) -> None:
    code, _, recs = expand(tmp_path, "  max_pixels: 4096\n")
    assert code == 1
    failed = {r["source"]: r["error"] for r in recs.values() if r["status"] == "failed"}
    assert "medical/mr_small_u16.png" not in failed  # 64 x 64 = 4096: at the limit
    assert len(failed) == len(list(images.rglob("*.*"))) - 1
    assert "256x256 = 65,536 pixels" in failed["scene/astronaut.jpg"]
    assert "Raise image.max_pixels" in failed["scene/astronaut.jpg"]
    assert not (tmp_path / "out/scene/astronaut.jpg").exists(), "not copied as an original"
    code, _, recs = expand(tmp_path, "  max_pixels: null\n", "--overwrite")
    assert code == 0 and all(r["status"] == "ok" for r in recs.values())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("  format: gif\n", "image.format: is not a known choice; got 'gif'. Use one of: png"),
        ("  max_pixels: 0\n", "image.max_pixels: is out of range [1, inf]; got 0."),
        ("  max_pixels: 0\n", "Or null for no limit."),
    ],
)
def test_bad_format_and_max_pixels_are_recipe_errors(
    tmp_path: Path, images: Path, settings: str, message: str
) -> None:
    code, out, _ = expand(tmp_path, settings)
    assert code == 2 and message in out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_opencv_guard_backs_up_the_header_check(tmp_path: Path, workers: str) -> None:
    """With augcli's header parsing switched off (a header it cannot read), OpenCV's own limit,
    which augcli sets from max_pixels before OpenCV loads, still refuses the image, in-process
    and in pool workers."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import augcli.image.io as io\nio.header_size = lambda data: None\n"
    )
    data = tmp_path / "data"
    data.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(data / name), textured(100, 100, 1, np.uint8))
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "version: 1\ninput: data\noutput: out\nimage:\n  max_pixels: 5000\n  pipeline: [hflip]\n",
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    env["PYTHONPATH"] = str(hook)
    proc = run_augcli("expand", str(recipe), "--workers", workers, env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("over OpenCV's decoder limit") == 3
