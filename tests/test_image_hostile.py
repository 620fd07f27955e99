"""Hostile and unusual image files from the user's side (issue 13, D10 and D11): a file cut short
and closed again, several frames or pages, gray + alpha. Each is either carried whole or fails
alone with a message saying why; the run goes on (exit 1) and never reduces one silently."""

from __future__ import annotations

import os
import struct
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_manifest, run_augcli, textured, write_recipe

from augcli.core.errors import InputError
from augcli.image.decode import decoder_messages, echo
from augcli.image.io import read_image
from augcli.image.structure import frames, jpeg_unsent

RECIPE = """\
version: 1
seed: 1
input: data
output: out
copies: 1
image:
  pipeline: [hflip]
"""


def expand(tmp_path: Path, files: dict[str, bytes]) -> tuple[int, str, dict[str, dict]]:
    """``augcli expand`` (a subprocess) on ``files`` plus one good image; the exit code, stderr
    and the manifest records by source."""
    data = tmp_path / "data"
    data.mkdir()
    cv2.imwrite(str(data / "good.png"), textured(20, 30, 3, np.uint8))
    for name, content in files.items():
        (data / name).write_bytes(content)
    recipe = write_recipe(tmp_path / "recipe.yaml", RECIPE)
    proc = run_augcli("expand", str(recipe), "--workers", "1")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr, {r["source"]: r for r in read_manifest(tmp_path / "out")}


def assert_failed_alone(code: int, recs: dict[str, dict], name: str, *words: str) -> None:
    assert code == 1
    assert recs["good.png"]["status"] == "ok"
    assert recs[name]["status"] == "failed"
    for w in words:
        assert w in recs[name]["error"], recs[name]["error"]


# -- crafted files ------------------------------------------------------------------------------
def jpeg(progressive: bool = False) -> bytes:
    params = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if progressive else []
    ok, buf = cv2.imencode(".jpg", textured(64, 96, 3, np.uint8), params)
    assert ok
    return buf.tobytes()


def cut_and_closed(data: bytes, at: int) -> bytes:
    """The first ``at`` bytes with an end-of-image marker put back: a disguised truncation."""
    return data[:at] + b"\xff\xd9"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(arr: np.ndarray, color_type: int, extra: bytes = b"") -> bytes:
    """A PNG of ``arr`` (8- or 16-bit) with ``color_type``, every chunk's CRC right."""
    h, w = arr.shape[:2]
    depth = 16 if arr.dtype == np.uint16 else 8
    rows = arr.astype(">u2" if depth == 16 else "u1").reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
    return head + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def tiff(arr: np.ndarray, samples: int) -> bytes:
    """An uncompressed one-strip gray TIFF with ``samples`` per pixel (2: gray + alpha)."""
    h, w = arr.shape[:2]
    bits = 16 if arr.dtype == np.uint16 else 8
    pixels = arr.astype("<u2" if bits == 16 else "u1").tobytes()
    tags = [(256, 3, w), (257, 3, h), (258, 3, bits), (259, 3, 1), (262, 3, 1), (273, 4, 0)]
    tags += [(277, 3, samples), (278, 3, h), (279, 4, len(pixels))]
    if samples == 2:
        tags.append((338, 3, 2))  # ExtraSamples: unassociated alpha
    data_at = 8 + 2 + 12 * len(tags) + 4
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        value = data_at if tag == 273 else value
        raw = struct.pack("<H" if kind == 3 else "<I", value).ljust(4, b"\0")
        ifd += struct.pack("<HHI", tag, kind, 1) + raw
    return b"II" + struct.pack("<HI", 42, 8) + ifd + struct.pack("<I", 0) + pixels


def two_frames(tmp_path: Path, suffix: str) -> bytes:
    a = textured(20, 30, 3, np.uint8)
    path = tmp_path / f"frames{suffix}"
    if suffix == ".tif":
        assert cv2.imwritemulti(str(path), [a, 255 - a])
    else:
        anim = cv2.Animation()
        anim.frames, anim.durations = [a, 255 - a], [100, 100]
        assert cv2.imwriteanimation(str(path), anim)
    data = path.read_bytes()
    path.unlink()
    return data


def gray_alpha(dtype: type = np.uint8) -> np.ndarray:
    gray = textured(20, 30, 1, dtype)
    top = np.iinfo(dtype).max
    alpha = np.tile(np.linspace(0, top, 30).astype(dtype), (20, 1))
    return np.dstack([gray, alpha])


# -- D10: truncation disguised by an end marker -------------------------------------------------
def test_a_cut_jpeg_closed_again_fails_alone(tmp_path: Path) -> None:
    """Before: decoded with a grey lower half and recorded ok. libjpeg only warns on stderr."""
    data = jpeg()
    code, err, recs = expand(tmp_path, {"cut.jpg": cut_and_closed(data, len(data) // 2)})
    assert_failed_alone(code, recs, "cut.jpg", "premature end of data segment", "cut short")
    assert "cut.jpg" in err and not (tmp_path / "out/cut__aug_0.jpg").exists()
    assert err.count("premature end of data segment") == 1  # in augcli's message, not echoed


def test_a_progressive_jpeg_cut_between_scans_fails_alone(tmp_path: Path) -> None:
    """Cut at a scan boundary and closed again, libjpeg decodes the scans left without a word
    (a blurred image); the scans that are missing give it away, wherever the cut is."""
    data = jpeg(progressive=True)
    scans = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xda"]
    assert len(scans) > 5
    cuts = {"between.jpg": cut_and_closed(data, scans[5])}
    cuts["inside.jpg"] = cut_and_closed(data, (scans[5] + scans[6]) // 2)
    code, _, recs = expand(tmp_path, cuts)
    assert_failed_alone(code, recs, "between.jpg", "ends before its last scan", "cut short")
    assert_failed_alone(code, recs, "inside.jpg", "ends before its last scan", "cut short")


def test_a_png_cut_inside_valid_chunks_fails_alone(tmp_path: Path) -> None:
    """Half the compressed pixels in a chunk whose length and CRC are right, then IEND."""
    whole = png(textured(40, 60, 3, np.uint8), 2)
    at = whole.index(b"IDAT")
    n = struct.unpack(">I", whole[at - 4 : at])[0]
    short = whole[: at - 4] + chunk(b"IDAT", whole[at + 4 : at + 4 + n // 2]) + chunk(b"IEND", b"")
    code, _, recs = expand(tmp_path, {"cut.png": short})
    assert_failed_alone(code, recs, "cut.png", "cannot be decoded", "Not enough image data")


def test_whole_jpegs_pass_the_scan_check() -> None:
    for progressive in (False, True):
        data = jpeg(progressive)
        assert jpeg_unsent(np.frombuffer(data, np.uint8), data) is None


# -- D11: frames, pages, gray + alpha ------------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "words"),
    [
        (".tif", "holds 2 pages (a multi-page TIFF)"),
        (".png", "holds 2 frames (an animated PNG)"),
        (".webp", "holds 2 frames (an animated WebP)"),
    ],
)
def test_several_frames_fail_alone(tmp_path: Path, suffix: str, words: str) -> None:
    """Before: the first frame or page was kept and the rest dropped silently."""
    code, _, recs = expand(tmp_path, {f"anim{suffix}": two_frames(tmp_path, suffix)})
    assert_failed_alone(code, recs, f"anim{suffix}", words, "Split it into one file per")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_gray_alpha_tiff_fails_alone(tmp_path: Path, dtype: type) -> None:
    """Before: OpenCV read it as 8-bit gray, alpha (and 8 of 16 bits) dropped silently."""
    code, _, recs = expand(tmp_path, {"ga.tif": tiff(gray_alpha(dtype), 2)})
    assert_failed_alone(code, recs, "ga.tif", "2 samples", "gray + alpha", "Save it as a PNG")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_gray_alpha_png_is_carried_whole(tmp_path: Path, dtype: type) -> None:
    """Read as BGRA (gray in B, G and R): the output keeps every gray value and the alpha."""
    ga = gray_alpha(dtype)
    code, err, _ = expand(tmp_path, {"ga.png": png(ga, 4)})
    assert code == 0, err
    out = cv2.imread(str(tmp_path / "out/ga__aug_0.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == dtype and out.shape == (20, 30, 4)
    np.testing.assert_array_equal(out[..., 3], ga[:, ::-1, 1])
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], ga[:, ::-1, 0])


def test_a_gray_png_with_a_transparent_value_keeps_it_as_alpha(tmp_path: Path) -> None:
    """A gray PNG's tRNS chunk names one transparent gray value; OpenCV ignores it (before:
    a plain gray output, the transparency gone)."""
    gray = textured(20, 30, 1, np.uint8)
    key = int(gray[0, 0])
    code, err, _ = expand(
        tmp_path, {"key.png": png(gray, 0, chunk(b"tRNS", struct.pack(">H", key)))}
    )
    assert code == 0, err
    out = cv2.imread(str(tmp_path / "out/key__aug_0.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (20, 30, 4)
    np.testing.assert_array_equal(out[..., 3], np.where(gray[:, ::-1] == key, 0, 255))
    np.testing.assert_array_equal(out[..., 0], gray[:, ::-1])


def test_single_frame_files_are_not_counted_as_animations(tmp_path: Path) -> None:
    a = textured(20, 30, 3, np.uint8)
    for suffix in (".png", ".webp", ".tif"):
        path = tmp_path / f"one{suffix}"
        cv2.imwrite(str(path), a)
        assert frames(path.read_bytes())[0] == 1
        assert read_image(path).shape[:2] == (20, 30)
    anim = cv2.Animation()
    anim.frames, anim.durations = [a], [100]
    assert cv2.imwriteanimation(str(tmp_path / "one_anim.png"), anim)
    assert frames((tmp_path / "one_anim.png").read_bytes())[0] == 1


# -- reading what decoders print ----------------------------------------------------------------
def test_decoder_messages_catch_fd_2_and_give_it_back(capfd: pytest.CaptureFixture[str]) -> None:
    with decoder_messages() as said:
        os.write(2, b"from C\n")
        sys.stderr.write("")
    assert said == ["from C"]
    os.write(2, b"after\n")
    echo(["passed on"])
    err = capfd.readouterr().err
    assert "from C" not in err and "after" in err and "passed on" in err
    with decoder_messages() as again:
        pass
    assert again == []  # the sink was emptied


# -- hostile structures stay cheap --------------------------------------------------------------
def test_structure_walks_are_bounded(tmp_path: Path) -> None:
    """Fill bytes, empty segments and a chain of 300,000 directories: each walk has a bound, so
    a crafted file fails in well under a second or two instead of looping for minutes."""
    chain = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for k in range(300_000):
        chain += struct.pack("<HI", 0, 8 + 6 * (k + 1))
    files = {
        "fill.jpg": b"\xff\xd8" + b"\xff" * 5_000_000 + b"\xff\xd9",
        "empty.jpg": b"\xff\xd8" + b"\xff\xe0\x00\x02" * 1_000_000 + b"\xff\xd9",
        "chain.tif": bytes(chain[:-4]) + b"\0\0\0\0",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        start = time.perf_counter()
        with pytest.raises(InputError):
            read_image(path, 1 << 26)
        assert time.perf_counter() - start < 10, name
