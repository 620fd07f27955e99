"""Audio decoding and encoding with soundfile: rate, channels, container and subtype kept,
clipping counted, and byte-identical files (libsndfile's time stamps and random Ogg serials are
replaced with deterministic values)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augcli.audio.base import Audio
from augcli.core.errors import InputError

EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif")
FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3", "aiff": "AIFF"}
INTEGER_SUBTYPES = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "ALAW", "ULAW")


@dataclass(frozen=True)
class Format:
    container: str  # soundfile format: WAV, FLAC, OGG, MP3, AIFF
    subtype: str  # PCM_16, PCM_24, FLOAT, VORBIS, ...
    rate: int
    channels: int


def probe(path: Path) -> Format:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile's own message says what is wrong
        raise InputError(f"cannot be read as audio ({_reason(exc)})") from None
    return Format(info.format, info.subtype, int(info.samplerate), int(info.channels))


def read_audio(path: Path) -> Audio:
    """Decode as float32 (channels, frames); empty, non-finite or unreadable audio fails."""
    import soundfile as sf

    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes)")
    fmt = probe(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise InputError(f"cannot be decoded as audio ({_reason(exc)})") from None
    if data.shape[0] == 0:
        raise InputError(f"no audio frames (a {fmt.container} header with no samples)")
    if not np.isfinite(data).all():
        raise InputError("samples include NaN or infinity")
    return Audio(np.ascontiguousarray(data.T), int(rate))


def encode_audio(audio: Audio, path: Path, fmt: Format, stable_id: int) -> int:
    """Write ``audio`` to ``path`` as ``fmt``; return how many samples were clipped to fit an
    integer format. ``stable_id`` replaces libsndfile's random/time-based header values."""
    import soundfile as sf

    samples = audio.samples
    clipped = 0
    if fmt.subtype in INTEGER_SUBTYPES or fmt.container in ("MP3", "OGG"):
        over = np.abs(samples) > 1.0
        clipped = int(over.sum())
        if clipped:
            samples = np.clip(samples, -1.0, 1.0)
    try:
        sf.write(str(path), samples.T, audio.rate, format=fmt.container, subtype=fmt.subtype)
    except Exception as exc:
        raise InputError(
            f"cannot write {fmt.container}/{fmt.subtype} at {audio.rate} Hz ({_reason(exc)}); "
            "set 'format', 'subtype' or 'sample_rate' in the audio section"
        ) from None
    _stabilise(path, fmt, stable_id)
    return clipped


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _stabilise(path: Path, fmt: Format, stable_id: int) -> None:
    data = bytearray(path.read_bytes())
    changed = False
    if fmt.container in ("WAV", "AIFF"):
        peak = data.find(b"PEAK", 0, 512)
        if peak >= 0:  # PEAK chunk: id, size, version, time stamp (seconds since 1970)
            data[peak + 12 : peak + 16] = b"\0\0\0\0"
            changed = True
    if fmt.container == "WAV":
        changed = _fmt_extension(data) or changed
    elif fmt.container == "OGG":
        changed = _ogg_serial(data, stable_id & 0x7FFFFFFF)
    if changed:
        path.write_bytes(bytes(data))


def _fmt_extension(data: bytearray) -> bool:
    """Give a non-PCM WAV's 16-byte fmt chunk its extension size field (cbSize = 0), as the
    format requires for every format tag but PCM (1) and as libsndfile already writes A-law and
    mu-law: its float WAVs lack it, and readers such as sox warn ("wave header missing extended
    part of fmt chunk"). The chunk grows to 18 bytes, the RIFF size by 2; nothing else moves
    relative to its chunk."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    pos = 12  # after "RIFF", its size and "WAVE"
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] != b"fmt ":
            pos += 8 + size + (size & 1)
            continue
        if size != 16 or int.from_bytes(data[pos + 8 : pos + 10], "little") == 1:
            return False
        data[pos + 4 : pos + 8] = (18).to_bytes(4, "little")
        data[pos + 24 : pos + 24] = b"\0\0"
        riff = int.from_bytes(data[4:8], "little")
        data[4:8] = (riff + 2).to_bytes(4, "little")
        return True
    return False


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) & 0xFF) ^ byte]
    return crc


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc_table()


def _ogg_serial(data: bytearray, serial: int) -> bool:
    """Give every page of a single-stream Ogg file the same fixed serial, and fix the CRCs."""
    pos, changed = 0, False
    while pos + 27 <= len(data) and data[pos : pos + 4] == b"OggS":
        segments = data[pos + 26]
        body = sum(data[pos + 27 : pos + 27 + segments])
        end = pos + 27 + segments + body
        data[pos + 14 : pos + 18] = serial.to_bytes(4, "little")
        data[pos + 22 : pos + 26] = b"\0\0\0\0"
        data[pos + 22 : pos + 26] = _ogg_crc(bytes(data[pos:end])).to_bytes(4, "little")
        pos, changed = end, True
    return changed


def stable_id(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))
