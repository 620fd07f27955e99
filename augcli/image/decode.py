"""OpenCV's decoding of an image file, with what its C decoders print read back: damage libjpeg
only warns about (a cut-short scan, invented pixels) fails the file as an error does, and every
refusal quotes the decoder's own words."""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from augcli.core.errors import InputError


def decode(buf: np.ndarray, kind: str) -> np.ndarray:
    """OpenCV's decoding of the file; what its decoders report on stderr is read, so damage
    they only warn about (libjpeg's cut-short scan) fails the file like an error does."""
    import cv2

    raised: list[str] = []
    with decoder_messages() as said:
        try:
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:  # e.g. OpenCV's own size guard (ImageModality.environment)
            guard = "CV_IO_MAX_IMAGE" in str(exc)
            img = _OVER_GUARD if guard else None
            raised = [line for line in str(exc).splitlines() if line.strip()][-1:]
    said += raised
    damage = [line for line in said if _damaged(line)]
    if damage:
        raise InputError(
            f"{_FORMAT_NAMES.get(kind, 'image')} data is damaged or cut short (the decoder "
            f"reports: {_cleaned(damage[0])!r}); decoding would invent the missing pixels. "
            "Re-export or re-download the file"
        )
    if img is _OVER_GUARD:
        raise InputError(
            "image is over OpenCV's decoder limit (OPENCV_IO_MAX_IMAGE_PIXELS, which augcli "
            "sets from image.max_pixels when it loads OpenCV); its header was not readable "
            "by augcli. Raise image.max_pixels in the recipe to process it"
        )
    if img is None:
        reported = f" (the decoder reports: {_cleaned(said[0])!r})" if said else ""
        raise InputError(
            "cannot be decoded as an image (corrupt, or not the format its extension says)"
            + reported
        )
    _pass_on(said)
    return img


_OVER_GUARD = np.empty(0)  # a marker: OpenCV refused the size
_FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG"}
# libjpeg's warnings that mean pixels were invented (it goes on decoding after them); others,
# such as "extraneous bytes before marker" or an unknown JFIF revision, leave the pixels whole.
_DAMAGE = (
    "premature end of jpeg file",
    "premature end of data segment",
    "bad huffman code",
    "bad arithmetic code",
    "instead of rst",
    "inconsistent progression sequence",
)


def _damaged(line: str) -> bool:
    low = line.lower()
    return any(words in low for words in _DAMAGE)


def _cleaned(line: str) -> str:
    """A decoder's line without OpenCV's log prefix (``[ WARN:0@0.1] global file.cpp:12``)."""
    line = re.sub(r"^\[\s*\w+:[^\]]*\]\s*(global\s+\S+\s+)?", "", line.strip())
    return line[:200]


@contextmanager
def decoder_messages() -> Iterator[list[str]]:
    """The lines C libraries write to this process's stderr (file descriptor 2) inside the
    block, kept from the terminal: libjpeg reports a cut-short scan only there. The caller
    passes on what it does not use (``echo``). One block at a time per process."""
    said: list[str] = []
    with _CAPTURE:
        try:
            sink = _sink()
            saved = os.dup(2)
        except OSError:  # no stderr at all, or no file to catch it in: nothing to read
            yield said
            return
        if sys.stderr is not None:
            sys.stderr.flush()  # Python's pending text goes out first, not into the sink
        os.dup2(sink, 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            said.extend(_drain(sink).decode("utf-8", "replace").splitlines())


_CAPTURE = threading.Lock()
_SINKS: dict[int, int] = {}  # process id -> its sink (a forked child makes its own)


def _sink() -> int:
    """This process's file for ``decoder_messages``, made once (an unlinked temporary file)."""
    pid = os.getpid()
    if pid not in _SINKS:
        fd, name = tempfile.mkstemp(prefix="augcli-decoder-")
        os.unlink(name)
        _SINKS[pid] = fd
    return _SINKS[pid]


def _drain(fd: int) -> bytes:
    """Everything written to ``fd`` since it was last drained; it is emptied."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    return b"".join(chunks)


_KEPT: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("kept", default=None)


@contextmanager
def decoder_notes() -> Iterator[list[str]]:
    """Inside the block, what the decoders say about files they still decode (libtiff's
    "Error fetching directory count" on a broken page chain) is kept in the yielded list,
    cleaned of OpenCV's log prefix, instead of going to stderr: ``validate`` turns it into a
    warning naming the file."""
    kept: list[str] = []
    token = _KEPT.set(kept)
    try:
        yield kept
    finally:
        _KEPT.reset(token)


def _pass_on(lines: list[str]) -> None:
    kept = _KEPT.get()
    if kept is None:
        echo(lines)
    else:
        kept.extend(_cleaned(line) for line in lines if line.strip())


def echo(lines: list[str]) -> None:
    """Pass decoder lines on to stderr, as they would have gone without ``decoder_messages``."""
    if lines:
        with contextlib.suppress(OSError):
            os.write(2, ("\n".join(lines) + "\n").encode("utf-8", "replace"))
