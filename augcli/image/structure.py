"""What an image file's own structure says, read without decoding it: TIFF directories, how
many frames or pages it holds (APNG, animated WebP, multi-page TIFF), whether a JPEG's scans
sent every coefficient, a gray PNG's transparent value."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_TYPES = {1: 1, 3: 2, 4: 4, 16: 8}  # BYTE, SHORT, LONG, LONG8: their sizes in bytes
# Bounds on what a hostile file can make these walks do (no real file comes near them).
_MAX_TIFF_ENTRIES = 200_000  # directory entries read per file (thousands of pages)
MAX_SEGMENTS = 10_000  # JPEG marker segments walked
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT, JPG, DAC)
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}


def u(data: bytes, at: int, n: int, order: str = "little") -> int:
    """The unsigned ``n``-byte integer at ``at``; IndexError when the data is cut short."""
    if at < 0 or at + n > len(data):
        raise IndexError("header is cut short")
    return int.from_bytes(data[at : at + n], order)  # type: ignore[arg-type]


# -- TIFF ----------------------------------------------------------------------------------------
def tiff_ifds(d: bytes) -> Iterator[dict[int, int]]:
    """Each image file directory of a classic or BigTIFF file, in chain order, as tag -> first
    value (tags of the integer types only). Stops at a loop or an offset outside the file."""
    if d[:2] not in (b"II", b"MM"):
        return
    order = "little" if d[:2] == b"II" else "big"
    version = u(d, 2, 2, order)
    if version == 42:
        ifd, layout = u(d, 4, 4, order), (2, 12, 4)
    elif version == 43 and u(d, 4, 2, order) == 8:
        ifd, layout = u(d, 8, 8, order), (8, 20, 8)
    else:
        return
    seen: set[int] = set()
    budget = _MAX_TIFF_ENTRIES
    while ifd and ifd not in seen and ifd < len(d):
        seen.add(ifd)
        count = u(d, ifd, layout[0], order)
        budget -= count + 1
        if budget < 0:
            return
        tags, ifd = _tiff_ifd(d, ifd, count, order, layout)
        yield tags


def _tiff_ifd(
    d: bytes, at: int, count: int, order: str, layout: tuple[int, int, int]
) -> tuple[dict[int, int], int]:
    """One directory's integer tags (first value each) and the offset of the next directory."""
    count_size, entry_size, value_size = layout
    tags: dict[int, int] = {}
    for k in range(count):
        e = at + count_size + k * entry_size
        tag, kind = u(d, e, 2, order), u(d, e + 2, 2, order)
        size = _TIFF_TYPES.get(kind)
        if size is None:
            continue
        n = u(d, e + 4, value_size, order)
        where = e + 4 + value_size  # the value itself (left-justified), or its offset
        with contextlib.suppress(IndexError):  # a value outside the file: that tag is unknown
            if n * size > value_size:
                where = u(d, where, value_size, order)
            tags[tag] = u(d, where, size, order)
    end = at + count_size + count * entry_size
    return tags, u(d, end, value_size, order)


def tiff_pages(d: bytes) -> int:
    """The images a TIFF holds: its directories, less reduced-resolution copies (thumbnails,
    NewSubfileType bit 0)."""
    return sum(1 for tags in tiff_ifds(d) if not tags.get(254, 0) & 1)


# -- frames --------------------------------------------------------------------------------------
def frames(d: bytes) -> tuple[int, str, str]:
    """(count, what one is called, the file's kind) of the frames of an animated PNG or WebP
    or the pages of a TIFF; (1, "", "") for everything else. Only the file's own counts are
    read."""
    if d.startswith(PNG_SIGNATURE):
        return _apng_frames(d), "frame", "an animated PNG"
    if d[:4] == b"RIFF" and d[8:12] == b"WEBP":
        return _webp_frames(d), "frame", "an animated WebP"
    if d[:2] in (b"II", b"MM"):
        return max(1, tiff_pages(d)), "page", "a multi-page TIFF"
    return 1, "", ""


def png_chunks(d: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, data start, data length) of each PNG chunk, up to IEND or the end of the data."""
    i = len(PNG_SIGNATURE)
    while i + 8 <= len(d):
        n, kind = u(d, i, 4, "big"), d[i + 4 : i + 8]
        yield kind, i + 8, n
        if kind == b"IEND":
            return
        i += 12 + n


def _apng_frames(d: bytes) -> int:
    """acTL's frame count, which must come before the first IDAT; 1 without it."""
    for kind, at, _n in png_chunks(d):
        if kind == b"acTL":
            return max(1, u(d, at, 4, "big"))
        if kind == b"IDAT":
            break
    return 1


def _webp_frames(d: bytes) -> int:
    """ANMF chunks of an extended WebP whose VP8X says it is animated; 1 otherwise."""
    if d[12:16] != b"VP8X" or not d[20] & 0x02:
        return 1
    count, i = 0, 12
    while i + 8 <= len(d):
        n = u(d, i + 4, 4)
        count += d[i : i + 4] == b"ANMF"
        i += 8 + n + (n & 1)  # chunks are padded to an even size
    return max(1, count)


# -- JPEG scans ----------------------------------------------------------------------------------
def jpeg_unsent(buf: np.ndarray, d: bytes) -> int | None:
    """The first frame component whose coefficients no scan sent in full, or None when every
    one was (or the structure is not one this reads: the decoder then decides).

    A file cut between two scans and closed with an end marker decodes without a warning, from
    the scans it still has; this catches it. Sequential frames need each component in a scan;
    progressive ones need every coefficient (0-63) of each, to the last bit (Al = 0). ``buf``
    and ``d`` are the same file as an array and as bytes."""
    try:
        frame, scans = _jpeg_frame_and_scans(d, _markers(buf))
    except IndexError:
        return None
    if frame is None or not scans:
        return None
    marker, components = frame
    for c in components:
        mine = [s for s in scans if c in s[0]]
        if marker not in _PROGRESSIVE:
            if not mine:
                return c
            continue
        sent = {k for comps, ss, se, al in mine if al == 0 for k in range(ss, se + 1)}
        if not sent >= set(range(64)):
            return c
    return None


def _markers(buf: np.ndarray) -> np.ndarray:
    """Offsets of every 0xFF that starts a marker segments can end at: not a stuffed 0xFF00,
    a fill byte or a restart marker (which live inside the entropy-coded data)."""
    ff = np.flatnonzero(buf[:-1] == 0xFF)
    nxt = buf[ff + 1]
    return ff[(nxt != 0x00) & (nxt != 0xFF) & ((nxt < 0xD0) | (nxt > 0xD7))]


Scan = tuple[bytes, int, int, int]  # components, Ss, Se, Al


def _jpeg_frame_and_scans(
    d: bytes, markers: np.ndarray
) -> tuple[tuple[int, bytes] | None, list[Scan]]:
    """The frame header (marker, component ids) and each scan's (components, Ss, Se, Al), the
    segments walked by their lengths and each scan's data skipped to the next marker."""
    frame: tuple[int, bytes] | None = None
    scans: list[Scan] = []
    i = 2
    for _ in range(MAX_SEGMENTS):
        if i + 4 > len(d):
            break
        if d[i] != 0xFF:
            raise IndexError("no marker where one must be")
        marker = d[i + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD7:  # fill, TEM, RST
            i = _next(markers, i + 1 if marker == 0xFF else i + 2)
            continue
        if marker == 0xD9:
            break
        if marker in (0xDE, 0xDF) or (marker in _SOF and frame is not None):
            return None, []  # hierarchical: several frames, not checked here
        end = i + 2 + u(d, i + 2, 2, "big")
        seg = d[i + 4 : end]
        if marker in _SOF:
            frame = (marker, bytes(seg[6 + 3 * k] for k in range(seg[5])))
        if marker == 0xDA:
            ns = seg[0]
            scans.append(
                (seg[1 : 1 + 2 * ns : 2], seg[1 + 2 * ns], seg[2 + 2 * ns], seg[3 + 2 * ns] & 15)
            )
            i = _next(markers, end)
            continue
        i = end
    else:
        raise IndexError("too many segments")  # not a real file: the decoder decides
    return frame, scans


def _next(markers: np.ndarray, at: int) -> int:
    """The first marker at or after ``at`` (past the end of the data when there is none)."""
    k = int(np.searchsorted(markers, at))
    return int(markers[k]) if k < len(markers) else 1 << 62


# -- PNG transparency ----------------------------------------------------------------------------
def png_gray_key(d: bytes) -> int | None:
    """The gray value a gray PNG's tRNS chunk makes transparent, scaled as OpenCV decodes it
    (low bit depths are stretched to 8 bits); None for other PNGs."""
    if not d.startswith(PNG_SIGNATURE) or d[12:16] != b"IHDR" or d[25] != 0:
        return None
    depth = d[24]
    for kind, at, n in png_chunks(d):
        if kind == b"tRNS" and n >= 2:
            key = u(d, at, 2, "big")
            return key * (255 // ((1 << depth) - 1)) if depth < 8 else key
        if kind == b"IDAT":
            break
    return None
