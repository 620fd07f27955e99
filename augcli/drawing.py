"""Drawing contact sheets: display windows for 16-bit data, tiles, annotation overlays, caption
text (OpenCV's Hershey fonts are ASCII only) and the sheet's grid."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from augcli.core.atomic import atomic_path
from augcli.core.errors import InputError, UsageError
from augcli.preview_kit import DEGREE

# Layout, in sheet pixels.
TILE_HEIGHT = 192  # every tile is resized to this height, keeping its aspect ratio (at most
# twice as wide as tall: a panorama fits that width instead)
MIN_CELL_WIDTH = 128  # room for a caption under narrow tiles
MARGIN = 8
GAP = 8
HEADER_HEIGHT = 20
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.36
LINE_HEIGHT = 12
CAPTION_LINES = 2  # the caption strip's height in lines at least; a sheet's strip has as many
# as its longest caption needs (``caption_lines``), so every op and value that fired is shown
CAPTION_HEIGHT = CAPTION_LINES * LINE_HEIGHT + 6
CHECKER = 8  # px per square of the checkerboard behind transparent pixels
WINDOW_PERCENTILES = (0.5, 99.5)

BACKGROUND = (38, 38, 38)
TEXT = (230, 230, 230)
TITLE = (120, 220, 255)
FAILED = (40, 40, 150)
UNCHANGED = (90, 90, 90)
# Annotation colours (BGR), picked per box label or mask value.
PALETTE = (
    (0, 0, 255),
    (0, 210, 0),
    (255, 128, 0),
    (0, 215, 255),
    (255, 0, 255),
    (255, 255, 0),
    (128, 0, 255),
    (0, 128, 255),
    (255, 0, 128),
    (128, 255, 0),
)
MASK_ALPHA = 0.45


# -- display -----------------------------------------------------------------------------------
Window = tuple[float, float]


def window_of(image: np.ndarray) -> Window | None:
    """The display window of a 16-bit image: its 0.5-99.5 percentiles (colour channels, not
    alpha). None for 8-bit images, which are shown as stored."""
    if image.dtype != np.uint16:
        return None
    colour = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
    lo, hi = (float(v) for v in np.percentile(colour, WINDOW_PERCENTILES))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def to_display(image: np.ndarray, window: Window | None) -> tuple[np.ndarray, np.ndarray | None]:
    """8-bit BGR for the colour, and alpha in [0, 1] (None when opaque). 16-bit data is mapped
    through ``window`` (its own window when None); gray stays gray."""
    alpha = None
    if image.ndim == 3 and image.shape[2] == 4:
        full = float(np.iinfo(image.dtype).max)
        alpha = image[..., 3].astype(np.float32) / full
        image = image[..., :3]
    if image.dtype == np.uint16:
        lo, hi = window or window_of(image) or (0.0, 65535.0)
        scaled = (image.astype(np.float32) - lo) * (255.0 / (hi - lo))
        image = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise InputError(f"cannot display {image.dtype} pixels")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(image), alpha


def tile_size(h: int, w: int, height: int = TILE_HEIGHT) -> tuple[int, int]:
    """(th, tw): ``height`` tall keeping the aspect, or narrower if that would be too wide."""
    max_w = 2 * height
    tw = max(1, round(w * height / h))
    if tw <= max_w:
        return height, tw
    return max(1, round(h * max_w / w)), max_w


def _resize(img: np.ndarray, th: int, tw: int, nearest: bool = False) -> np.ndarray:
    h, w = img.shape[:2]
    if (h, w) == (th, tw):
        return img
    # Enlarged (or a mask): nearest, to show the pixels as they are; shrunk: area averaging.
    interp = cv2.INTER_NEAREST if nearest or th > h else cv2.INTER_AREA
    return cv2.resize(img, (tw, th), interpolation=interp)


def checkerboard(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    light = ((yy // CHECKER + xx // CHECKER) % 2 == 0)[..., None]
    return np.where(light, np.uint8(200), np.uint8(150)).astype(np.float32) * np.ones(3, np.float32)


def tile(image: np.ndarray, window: Window | None, height: int = TILE_HEIGHT) -> np.ndarray:
    """The display tile of an image: windowed, ``tile_size`` large, BGR uint8, transparent
    pixels over a checkerboard."""
    colour, alpha = to_display(image, window)
    th, tw = tile_size(*image.shape[:2], height=height)
    colour = _resize(colour, th, tw)
    if alpha is None:
        return colour
    a = _resize(alpha, th, tw)[..., None]
    out = colour.astype(np.float32) * a + checkerboard(th, tw) * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def colour_for(label: Any) -> tuple[int, int, int]:
    """A stable colour per box label (int ids by value, names by crc32: no salted hash())."""
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        return PALETTE[int(label) % len(PALETTE)]
    return PALETTE[zlib.crc32(str(label).encode("utf-8")) % len(PALETTE)]


def draw_annotations(tile_img: np.ndarray, ann: Any) -> np.ndarray:
    """The mask (translucent colour per label value; 0 is background), boxes with their label,
    and keypoints (visible: filled dot, occluded: ring, unlabelled: skipped) of ``ann`` (an
    image.targets.Annotated) on a tile."""
    out = tile_img.copy()
    th, tw = out.shape[:2]
    h, w = ann.image.shape[:2]
    sx, sy = tw / w, th / h
    if ann.mask is not None:
        mask = _resize(ann.mask, th, tw, nearest=True)
        overlay = out.astype(np.float32)
        for value in np.unique(mask):
            if value == 0:
                continue
            sel = mask == value
            colour = np.asarray(PALETTE[(int(value) - 1) % len(PALETTE)], np.float32)
            overlay[sel] = overlay[sel] * (1 - MASK_ALPHA) + colour * MASK_ALPHA
        out = np.clip(np.rint(overlay), 0, 255).astype(np.uint8)
    objs = ann.objects
    if objs is None or not len(objs):
        return out
    thick = 2 if th >= 128 else 1
    for i, (box, label) in enumerate(zip(objs.boxes, objs.labels, strict=True)):
        colour = colour_for(label)
        x0 = int(np.clip(np.floor(box[0] * sx), 0, tw - 1))
        y0 = int(np.clip(np.floor(box[1] * sy), 0, th - 1))
        x1 = int(np.clip(np.ceil(box[2] * sx) - 1, 0, tw - 1))
        y1 = int(np.clip(np.ceil(box[3] * sy) - 1, 0, th - 1))
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thick)
        text = _ascii(str(label))
        (lw, lh), base = cv2.getTextSize(text, FONT, FONT_SCALE, 1)
        ty = y0 - 2 if y0 - lh - base - 2 >= 0 else min(th - 1, y0 + lh + 2)
        cv2.rectangle(out, (x0, ty - lh - 1), (min(tw - 1, x0 + lw + 1), ty + 2), colour, -1)
        cv2.putText(out, text, (x0 + 1, ty), FONT, FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
        if objs.keypoints is not None:
            for x, y, v in objs.keypoints[i]:
                if v <= 0:
                    continue
                centre = (int(x * sx), int(y * sy))
                cv2.circle(out, centre, 3, colour, -1 if v >= 2 else 1, cv2.LINE_AA)
    return out


# -- text --------------------------------------------------------------------------------------
def _ascii(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 or c == DEGREE else "?" for c in text)


def _width(text: str) -> int:
    parts = text.split(DEGREE)
    w = sum(cv2.getTextSize(p, FONT, FONT_SCALE, 1)[0][0] for p in parts if p)
    return w + 5 * (len(parts) - 1)


def put_text(img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int]) -> None:
    """``cv2.putText`` at baseline (x, y), drawing the degree sign as a small ring."""
    parts = text.split(DEGREE)
    for i, part in enumerate(parts):
        if part:
            cv2.putText(img, part, (x, y), FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)
            x += cv2.getTextSize(part, FONT, FONT_SCALE, 1)[0][0]
        if i < len(parts) - 1:
            cv2.circle(img, (x + 2, y - 7), 2, colour, 1, cv2.LINE_AA)
            x += 5


def wrap(tokens: list[str], width: int, lines: int, indent: int = 0) -> list[str]:
    """Greedy wrap of ``tokens`` (joined by ", ") into at most ``lines`` lines of ``width`` px,
    the first line starting ``indent`` px in; what does not fit ends the last line with '...'."""
    out: list[str] = []
    current = ""
    rest = [_ascii(t) for t in tokens]
    while rest and len(out) < lines:
        room = width - (indent if not out else 0)
        cand = f"{current}, {rest[0]}" if current else rest[0]
        if _width(cand) <= room:
            current = cand
            rest.pop(0)
            continue
        if not current and not out and indent:  # the title is long: start on the next line
            out.append("")
            continue
        if not current:  # one token wider than the line: cut it
            cut = rest[0]
            while len(cut) > 1 and _width(cut) > room:
                cut = cut[:-1]
            current, rest[0] = cut, rest[0][len(cut) :]
            if not rest[0]:
                rest.pop(0)
        out.append(current)
        current = ""
    if current:
        out.append(current)
    if rest and out:  # fill the last line with what is left, then cut it with "..."
        room = width - (indent if len(out) == 1 else 0)
        last = ", ".join([out[-1], *rest])
        while last and _width(last + "...") > room:
            last = last[:-1]
        out[-1] = last.rstrip(", ") + "..."
    return out


# -- the sheet ---------------------------------------------------------------------------------
def caption_height(lines: int) -> int:
    """The caption strip's height in px for captions of ``lines`` lines (at least CAPTION_LINES)."""
    return max(lines, CAPTION_LINES) * LINE_HEIGHT + 6


def blank_sheet(
    rows: int, cols: int, cell_w: int, height: int, header: str, lines: int = CAPTION_LINES
) -> np.ndarray:
    """An empty sheet of ``rows`` x ``cols`` cells ``cell_w`` wide, each a tile ``height`` tall
    over its caption strip of ``lines`` lines, under the header line."""
    cell_h = height + caption_height(lines)
    sheet_w = 2 * MARGIN + cols * cell_w + (cols - 1) * GAP
    sheet_h = 2 * MARGIN + HEADER_HEIGHT + rows * cell_h + max(0, rows - 1) * GAP
    sheet = np.empty((sheet_h, sheet_w, 3), np.uint8)
    sheet[:] = BACKGROUND
    for line in wrap([header], sheet_w - 2 * MARGIN, 1):
        put_text(sheet, line, MARGIN, MARGIN + LINE_HEIGHT, TEXT)
    return sheet


def cell_origin(
    row: int, col: int, cell_w: int, height: int, lines: int = CAPTION_LINES
) -> tuple[int, int]:
    """(y, x): the top-left of a cell's tile on a ``blank_sheet`` of the same ``lines``."""
    return (
        MARGIN + HEADER_HEIGHT + row * (height + caption_height(lines) + GAP),
        MARGIN + col * (cell_w + GAP),
    )


def draw_failed(
    sheet: np.ndarray,
    y: int,
    x: int,
    size: tuple[int, int],
    title: str,
    error: str,
    lines: int,
    unchanged: bool = False,
) -> None:
    """A failed cell (``size`` = tile height, cell width): red, the reason wrapped into at most
    ``lines`` lines, and the caption 'failed'. ``unchanged``: an output expand records as
    unchanged and does not write (gray, 'unchanged')."""
    height, cell_w = size
    word = "unchanged" if unchanged else "failed"
    sheet[y : y + height, x : x + cell_w] = UNCHANGED if unchanged else FAILED
    for i, line in enumerate(wrap([f"{word}: {error}"], cell_w - 8, lines)):
        put_text(sheet, line, x + 4, y + (i + 1) * LINE_HEIGHT + 4, TEXT)
    caption(sheet, x, y + height, cell_w, title, ["unchanged, not written" if unchanged else word])


def _fit_left(text: str, width: int) -> str:
    """``text``, cut from the left with '...' to fit ``width`` px (paths keep their ends)."""
    if _width(text) <= width:
        return text
    while len(text) > 1 and _width("..." + text) > width:
        text = text[1:]
    return "..." + text


def caption_lines(title: str, tokens: list[str], width: int) -> list[str]:
    """A tile's caption as lines of at most ``width`` px as drawn: the title and a colon (cut
    from the left to fit), then the tokens (``hflip``, ``rotate 12.3°``) joined by ", " on as
    many lines as they need, nothing left out. A line breaks at a space, so an op's name is
    never split (only a word wider than a whole line is, where it must)."""
    head = _fit_left(f"{_ascii(title)}:", width)
    lines = [head]

    def fits(text: str) -> bool:  # the first line's text is drawn after the title, apart
        if len(lines) > 1:
            return _width(text) <= width
        return _width(f"{head} ") + _width(text[len(head) + 1 :]) <= width

    for i, token in enumerate(tokens):
        words = [w for w in _ascii(token).split(" ") if w]
        for j, word in enumerate(words):
            piece = word + ("," if j == len(words) - 1 and i < len(tokens) - 1 else "")
            if fits(f"{lines[-1]} {piece}"):
                lines[-1] = f"{lines[-1]} {piece}"
                continue
            while _width(piece) > width:  # a word wider than a line: cut where it must be
                cut = piece
                while len(cut) > 1 and _width(cut) > width:
                    cut = cut[:-1]
                lines.append(cut)
                piece = piece[len(cut) :]
            if piece:
                lines.append(piece)
    return lines


def caption(sheet: np.ndarray, x: int, y: int, width: int, title: str, tokens: list[str]) -> None:
    """Draw ``caption_lines`` under a tile whose bottom is at ``y``, the title highlighted."""
    lines = caption_lines(title, tokens, width)
    head = _fit_left(f"{_ascii(title)}:", width)
    put_text(sheet, head, x, y + LINE_HEIGHT + 2, TITLE)
    first = lines[0][len(head) + 1 :]
    if first:
        put_text(sheet, first, x + _width(f"{head} "), y + LINE_HEIGHT + 2, TEXT)
    for i, line in enumerate(lines[1:], start=2):
        put_text(sheet, line, x, y + i * LINE_HEIGHT + 2, TEXT)


def write_png(image: np.ndarray, dest: Path) -> None:
    """Encode a sheet as PNG and write it at ``dest`` atomically."""
    ok, blob = cv2.imencode(".png", image)
    if not ok:
        raise UsageError(f"could not encode the preview sheet for {dest}")
    with atomic_path(dest, None) as tmp:
        tmp.write_bytes(blob.tobytes())
