"""The parent's side of the worker stream: events in, manifest lines and run counts out.

``Collector.add`` takes the events of one finished task: output records become manifest lines
(appended and flushed at once), a failed input becomes its source's line, work stats are summed,
and a chunked record file's parts are joined when its last part arrives."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from augcli.core.atomic import sha256_file
from augcli.core.errors import AugcliError, OutputError, Unavailable
from augcli.core.records import (
    COUNTS,
    Event,
    InputFailed,
    InputSeen,
    Line,
    OutputRecord,
    OutputUnwritable,
    PartWritten,
    ServiceDown,
    WorkStats,
    count_of,
    records_of,
)
from augcli.engine.manifest import ManifestWriter
from augcli.engine.plan import Job


@dataclass
class Summary:
    """What one invocation did, in the ``COUNTS`` nouns (run.json's ``this_run``; the folder as
    it stands is ``dataset``): input files the scan took, records read from record files,
    outputs, originals, unchanged and failed lines written, and planned outputs already done."""

    input_files: int = 0
    records: int = 0
    outputs: int = 0
    originals: int = 0
    unchanged: int = 0
    failed: int = 0
    already_done: int = 0
    failures: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)  # e.g. model requests, batches
    signal: int | None = None  # the signal that interrupted the run

    def counts(self) -> dict[str, int]:
        return {**{name: getattr(self, name) for name in COUNTS}, "already_done": self.already_done}


class Collector:
    """Turns a run's events into manifest lines and a ``Summary``."""

    def __init__(self, job: Job, writer: ManifestWriter, summary: Summary) -> None:
        self.job, self.writer, self.summary = job, writer, summary
        self.parts: dict[str, list[PartWritten]] = {}
        self.stopped_by: AugcliError | None = None  # why the run had to stop, if it did
        self.chunked: dict[str, list[dict[str, Any]]] = {}  # record file -> its chunks' lines
        # input -> its digest (from an earlier run's line) or its size, mtime and digest as read
        # now (``InputSeen.packed``): one small entry per input, for the next run's source cache
        self.digests: dict[str, str | bytes] = {}

    def add(self, events: list[Event]) -> None:
        """The events of one finished task (or of inputs that failed before any task ran)."""
        for event in events:
            if isinstance(event, (OutputRecord, Line, InputFailed)):
                self.writer.forget_source(event.source)
        for event in events:
            if isinstance(event, Line):
                self.writer.add_line(event.key, event.order, event.text, event.count, event.records)
                self._count(event.count, event.records, event.what, event.error)
            elif isinstance(event, InputSeen):
                # the name interned: the scan's copy of it, not one more per input
                self.digests[sys.intern(event.source)] = event.packed()
            elif isinstance(event, WorkStats):
                for key, n in event.counts.items():
                    self.summary.stats[key] = self.summary.stats.get(key, 0) + n
            elif isinstance(event, PartWritten):
                self._part(event)
            elif isinstance(event, InputFailed):
                self._line(event.record())
            elif isinstance(event, ServiceDown):
                raise Unavailable(
                    f"{event.error} (making the outputs of {event.source}). The run stopped "
                    "rather than fail every input the same way; what was done is kept: start "
                    "the service (or fix base_url), then run the same command again to resume."
                )
            elif isinstance(event, OutputUnwritable):
                raise OutputError(
                    f"cannot write to the output folder {self.job.output_root}: {event.error} "
                    f"(writing the outputs of {event.source}). Free space or make it writable, "
                    "then run the same command again to resume."
                )
            else:
                self._line(event)

    def _line(self, rec: OutputRecord) -> None:
        line = rec.line()
        self.writer.add(line)
        if "chunk" in (rec.extra.get("record") or {}):  # made global when its file is joined
            self.chunked.setdefault(rec.output or "", []).append(line)
        self._count(count_of(line), records_of(line), rec.output or rec.source, rec.error)

    def _count(self, count: str | None, records: int, what: str | None, error: str | None) -> None:
        """One line's share of the summary (``count_of`` it, and a record file's records)."""
        s = self.summary
        s.records += records
        if count is None:
            return
        setattr(s, count, getattr(s, count) + 1)
        if count == "failed":
            s.failures.append(f"{what}: {error}")

    def _part(self, part: PartWritten) -> None:
        chunks = self.parts.setdefault(part.output, [])
        chunks.append(part)
        if len(chunks) == part.count:
            self.add([self._merged(part, chunks)])

    def _merged(self, last: PartWritten, chunks: list[PartWritten]) -> OutputRecord:
        """Join a chunked record file once all its chunks are written: the file, its records'
        output indices made global (re-appended, so the manifest on disk is right at once), and
        the file's own line."""
        out = last.output
        meta = [_part_meta(c) for c in chunks]
        self.job.modalities[last.modality].merge(self.job.output_root, out, meta)
        offsets, total = {}, {"input": 0, "output": 0, "unchanged": 0}
        for chunk in sorted(chunks, key=lambda c: c.index):
            offsets[chunk.index] = total["output"]
            for key in total:
                total[key] += chunk.counts[key]
        for rec in self.chunked.pop(out, []):  # unchanged and failed records lose their chunk too
            record = dict(rec["record"])
            chunk = record.pop("chunk")
            if "output" in record:
                record["output"] += offsets[chunk]
            self.writer.add({**rec, "record": record})
        return OutputRecord(
            last.source,
            last.modality,
            last.label,
            output=out,
            sha256=sha256_file(self.job.output_root / out),
            source_sha256=last.source_sha256,
            extra={"records": total},
        )


def _part_meta(part: PartWritten) -> dict[str, Any]:
    """What ``Modality.merge`` reads of a part."""
    return {"index": part.index, "path": part.path, "trim_newline": part.trim_newline}
