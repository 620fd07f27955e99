"""What a worker sends back to the parent, as types: an ``OutputRecord`` for every output (it
becomes one manifest line; workers send it already encoded, as a ``Line``), and events that
are not manifest lines: ``InputSeen`` (an input's size, mtime and digest as read),
``PartWritten`` (one chunk of a record file is on disk), ``WorkStats`` (counts for the run
summary, e.g. model requests), ``InputFailed`` (an input failed as a whole) and
``OutputUnwritable`` (the output folder cannot take writes: the run stops) and ``ServiceDown``
(a model endpoint is down: the run stops). All are small and picklable."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass
class OutputRecord:
    """One manifest line: an output made from ``source`` (or, with ``output`` None, a line
    about the input itself). ``extra`` holds the fields a modality adds (annotations, the
    record of a record file, soft labels, ...), written after the common ones in order."""

    source: str
    modality: str
    label: str | None
    output: str | None = None
    node: str | None = None
    copy: int | None = None
    seed: int | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    sha256: str | None = None
    source_sha256: str | None = None  # the input's digest when it was read
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> OutputRecord:
        """The record of a manifest-shaped dict (its unknown keys become ``extra``, in order)."""
        extra = {k: v for k, v in line.items() if k not in _COMMON}
        return cls(**{k: line[k] for k in _COMMON if k in line}, extra=extra)

    def line(self) -> dict[str, Any]:
        """The manifest line (a JSON object; key order is part of the manifest's bytes)."""
        return {
            "output": self.output,
            "source": self.source,
            "modality": self.modality,
            "label": self.label,
            "node": self.node,
            "copy": self.copy,
            "seed": self.seed,
            "ops": self.ops,
            "status": self.status,
            "error": self.error,
            "sha256": self.sha256,
            "source_sha256": self.source_sha256,
            **self.extra,
        }


_COMMON = ("output", "source", "modality", "label", "node", "copy", "seed", "ops", "status")
_COMMON += ("error", "sha256", "source_sha256")


COUNTS = ("input_files", "records", "outputs", "originals", "unchanged", "failed")
"""The nouns every command counts in (README, "Counts"): input files the scan took; records
read from record files; outputs (augmented, written); originals (inputs kept as they are);
unchanged (an output that came out the same as its source or another output of it, recorded
but not written); failed."""


def count_of(line: dict[str, Any]) -> str | None:
    """Which of ``COUNTS`` a manifest line adds one to; None for a record file's own line (its
    records have lines of their own, and it brings its ``records`` count instead)."""
    if "records" in line:
        return None
    status = line.get("status")
    if status == "ok":
        return "originals" if line.get("node") is None else "outputs"
    return "unchanged" if status == "unchanged" else "failed"


def records_of(line: dict[str, Any]) -> int:
    """The records a record file's own line says its input held (0 for any other line)."""
    records = line.get("records")
    n = records.get("input") if isinstance(records, dict) else 0
    return n if isinstance(n, int) and not isinstance(n, bool) else 0


def side_files(line: dict[str, Any]) -> list[str]:
    """Files a line's output brought along (mask, annotation sidecar, transcript sidecars): the
    ``files`` map (path -> sha256), and the paths named where the map is missing (a manifest
    written before it existed)."""
    files = line.get("files")
    side = line.get("annotations")
    side = side if isinstance(side, dict) else {}
    named = [side.get("mask"), side.get("sidecar"), *(line.get("sidecars") or [])]
    listed = list(files) if isinstance(files, dict) else []
    return listed + [p for p in named if isinstance(p, str) and p and p not in listed]


class Line(NamedTuple):
    """An ``OutputRecord`` already encoded as its manifest line, where it was made: the parent
    only appends ``text``, keeps ``order`` to sort the final manifest by, and counts ``count``
    (``count_of`` the line) and ``records``."""

    key: str  # what the line is about (a later line with this key replaces it)
    order: str  # where it sorts
    text: str  # the JSON line, newline included
    source: str
    status: str
    what: str  # the output (or the source, for a line about the input)
    error: str | None
    source_sha256: str | None
    count: str | None = None
    records: int = 0


@dataclass(frozen=True)
class PartWritten:
    """One chunk of a chunked record file is written (a hidden part file); the parent joins the
    parts when the last one arrives (``Modality.merge``)."""

    source: str
    modality: str
    label: str | None
    output: str  # the record file's output path
    index: int
    count: int
    path: str  # the part file, relative to the output root
    counts: dict[str, int]  # records in, records out, unchanged
    trim_newline: bool = False
    source_sha256: str | None = None


class InputSeen(NamedTuple):
    """An input as a worker read it: its size, mtime and digest (the next run's source cache)."""

    source: str
    size: int
    mtime_ns: int
    digest: str

    def packed(self) -> bytes:
        """Size, mtime and digest as one bytes object (a fifth of the memory of a tuple of
        them: the parent keeps one per input)."""
        return _SEEN.pack(self.size, self.mtime_ns) + self.digest.encode("utf-8")


_SEEN = struct.Struct("<qq")  # size, mtime_ns


def unpack_seen(packed: bytes) -> list[Any]:
    """[size, mtime_ns, digest] of ``InputSeen.packed``."""
    size, mtime = _SEEN.unpack_from(packed)
    return [size, mtime, packed[_SEEN.size :].decode("utf-8")]


@dataclass(frozen=True)
class WorkStats:
    """Counts a task adds to the run summary (e.g. model requests, batches, cache hits)."""

    counts: dict[str, int]


@dataclass(frozen=True)
class InputFailed:
    """A whole input failed (unreadable, a worker error): one manifest line for its source."""

    source: str
    modality: str
    label: str | None
    error: str

    def record(self) -> OutputRecord:
        return OutputRecord(
            self.source, self.modality, self.label, status="failed", error=self.error
        )


@dataclass(frozen=True)
class OutputUnwritable:
    """Writing an output failed because of the output folder (no space, read-only): no other
    input would do better, so the parent stops the run cleanly."""

    source: str
    error: str


@dataclass(frozen=True)
class ServiceDown:
    """A service the run needs is down (``core.errors.Unavailable`` in a worker): the parent
    stops the run cleanly, as for ``OutputUnwritable``."""

    source: str
    error: str


Event = (
    OutputRecord
    | Line
    | InputSeen
    | PartWritten
    | WorkStats
    | InputFailed
    | OutputUnwritable
    | ServiceDown
)
