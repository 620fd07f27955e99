"""The audio modality: WAV, FLAC, OGG/Vorbis, MP3 and AIFF read with soundfile and written back
with the same container, subtype, rate and channels (unless the recipe asks otherwise), label
sidecars carried along, and clipping counted."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from augcli.audio.base import Audio
from augcli.audio.io import EXTENSIONS, FORMATS, Format, encode_audio, probe, read_audio, stable_id
from augcli.core.atomic import atomic_path
from augcli.core.errors import RecipeError
from augcli.core.folders import named_folders
from augcli.core.records import Event, OutputRecord, WorkStats
from augcli.modality import RETRIES, Modality
from augcli.params import Nullable

SIDE_EXTENSIONS = (".txt", ".lab")
# after these a transcript may no longer be true (words cut, repeated, reversed)
CONTENT_OPS = ("crop", "time_mask", "adjust_duration", "padding", "repeat_part", "reverse")
PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


class AudioModality(Modality):
    """Audio files: decoded to float32 (channels, frames); written in the input's own container,
    subtype, rate and channel count, or as ``format``/``subtype``/``sample_rate`` say."""

    name = "audio"
    preview = "augcli.audio.preview"
    preload = ("soundfile", "audiomentations")
    extensions = EXTENSIONS
    extra_keys = ("sidecars", "folders")
    settings = {
        "format": Nullable(
            kind="choice",
            default=None,
            choices=tuple(FORMATS),
            sampled=False,
            meaning="each input's own container",
            help="container of the outputs; null = the input's own",
        ),
        "subtype": Nullable(
            kind="text",
            default=None,
            meaning="the input's own subtype",
            help="sample format of the outputs (PCM_16, PCM_24, FLOAT, VORBIS, "
            "...); null = the input's own",
        ),
        "sample_rate": Nullable(
            kind="int",
            default=None,
            low=1000,
            high=768_000,
            sampled=False,
            meaning="each input's own rate",
            help="resample outputs to this rate (Hz); null = keep",
        ),
        "retries": RETRIES,
    }

    @classmethod
    def parse_extra(cls, section: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
        raw = section.get("sidecars", {})
        path = f"{where}.sidecars"
        if not isinstance(raw, dict) or set(raw) - {"extensions", "unless"}:
            raise RecipeError(
                "must be a mapping with 'extensions' and 'unless'",
                path=path,
                value=raw,
                fix="Write e.g. sidecars: {extensions: [.txt, .lab], unless: [crop, time_mask]}.",
            )
        exts = raw.get("extensions", list(SIDE_EXTENSIONS))
        unless = raw.get("unless", list(CONTENT_OPS))
        for key, value in (("extensions", exts), ("unless", unless)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise RecipeError("must be a list of names", path=f"{path}.{key}", value=value)
        if any(not e.startswith(".") for e in exts):
            raise RecipeError(
                "extensions start with a dot",
                path=f"{path}.extensions",
                value=exts,
                fix="Write e.g. [.txt, .lab].",
            )
        folders = named_folders(
            section.get("folders", {}),
            f"{where}.folders",
            base,
            EXTENSIONS,
            "audio files",
            "{noise: ../noises, rooms: ../irs}",
        )
        return {
            "side_extensions": tuple(exts),
            "side_unless": tuple(unless),
            "folders": folders,
            "folder_roots": tuple(
                str((base / d).resolve()) for d in section.get("folders", {}).values()
            ),
        }

    def ignored_dirs(self) -> list[Path]:
        return [Path(p) for p in self.config.get("folder_roots", ())]

    def read(self, path: Path) -> Audio:
        return read_audio(path)

    def facts(self, path: Path, data: Audio) -> dict[str, Any]:
        """The outputs' PCM step (one LSB in full-scale units: 1/32768 for PCM_16; None for
        float and lossy subtypes) and the input's peak."""
        out = Path("x" + self.output_suffix(PurePosixPath(path.name).suffix))
        subtype = self.target(path, out).subtype
        bits = PCM_BITS.get(subtype)
        return {
            "subtype": subtype,
            "bits": bits,
            "lsb": None if bits is None else 2.0 ** (1 - bits),
            "peak": float(np.abs(data.samples).max()) if data.samples.size else 0.0,
        }

    def content(self, data: Audio) -> tuple[Any, ...]:
        """The samples and the rate (the format is the recipe's, the same for every output)."""
        return (data.samples, np.array([data.rate], dtype=np.int64))

    def info(self, data: Audio) -> dict[str, Any]:
        return {
            "rate": data.rate,
            "channels": data.channels,
            "frames": data.frames,
            "seconds": data.seconds,
            "folders": self.config.get("folders", {}),
        }

    def output_suffix(self, source_suffix: str) -> str:
        fmt = self.config.get("format")
        return source_suffix if fmt is None else f".{fmt}"

    def target(self, source: Path, path: Path) -> Format:
        """The output's container, subtype, rate and channels: the input's, unless overridden."""
        src = probe(source)
        container = FORMATS.get(path.suffix.lower().lstrip("."), src.container)
        subtype = self.config.get("subtype") or (
            src.subtype if container == src.container else _default_subtype(container)
        )
        return Format(container, subtype, self.config.get("sample_rate") or src.rate, src.channels)

    def write(self, data: Audio, path: Path, source: Path, meta: dict[str, Any]) -> str | None:
        fmt = self.target(source, path)
        if fmt.rate != data.rate:
            data = resample(data, fmt.rate)
        clipped = encode_audio(data, path, fmt, stable_id(meta["output"]))
        record: dict[str, Any] = {
            "audio": {
                "format": fmt.container,
                "subtype": fmt.subtype,
                "rate": fmt.rate,
                "channels": data.channels,
                "seconds": round(data.seconds, 6),
                "clipped_samples": clipped,
            }
        }
        applied = {e["op"] for e in meta.get("ops", []) if e["applied"]}
        if not applied & set(self.config.get("side_unless", CONTENT_OPS)):
            sides = self._copy_sidecars(source, meta["output"])
            if sides:
                record["sidecars"] = sides
        meta["record"] = record
        return None  # soundfile wrote the file: it is read back to hash it

    def process(self, task: Any, job: Any) -> list[Event]:
        """As every modality, plus the clipped outputs counted for the run's summary (a
        warning at the end, not only a field in the manifest)."""
        events = super().process(task, job)
        clipped = [
            e.extra["audio"]["clipped_samples"]
            for e in events
            if isinstance(e, OutputRecord) and (e.extra.get("audio") or {}).get("clipped_samples")
        ]
        if clipped:
            events.append(
                WorkStats({"clipped_outputs": len(clipped), "clipped_samples": sum(clipped)})
            )
        return events

    def keep_original(self, data: Any, out_rel: str) -> dict[str, Any]:
        sides = self._copy_sidecars(self.input_root / out_rel, out_rel)
        return {"sidecars": sides} if sides else {}

    def _copy_sidecars(self, source: Path, out_rel: str) -> list[str]:
        out = []
        for ext in self.config.get("side_extensions", SIDE_EXTENSIONS):
            side = self.side_file(source.with_suffix(ext))
            if side is not None:
                rel = str(PurePosixPath(out_rel).with_suffix(ext))
                with atomic_path(self.output_root / rel, self.output_root) as tmp:
                    shutil.copyfile(side, tmp)
                out.append(rel)
        return out


def _default_subtype(container: str) -> str:
    import soundfile as sf

    return sf.default_subtype(container)


def resample(audio: Audio, rate: int) -> Audio:
    """Band-limited polyphase resampling to ``rate`` (scipy)."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, audio.rate)
    out = resample_poly(audio.samples, rate // g, audio.rate // g, axis=1)
    return audio.with_samples(out.astype("float32"), rate)
