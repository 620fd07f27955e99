"""What runs a task wherever an executor puts it: a picklable ``Worker`` that holds the job, sets
its process up once, then makes one task's outputs at a time and never raises."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from augcli.core.errors import Unavailable, output_unwritable
from augcli.core.records import (
    Event,
    InputSeen,
    OutputRecord,
    OutputUnwritable,
    PartWritten,
    ServiceDown,
)
from augcli.engine.manifest import encode
from augcli.engine.plan import Job, Task
from augcli.modality import describe_error


def apply_environment(job: Job) -> dict[str, str]:
    """Set the variables the job's modalities need before their libraries load (e.g. OpenCV's
    decoder guard) in this process; a process started afterwards inherits them. Returns them."""
    env: dict[str, str] = {}
    for m in job.modalities.values():
        env.update(m.environment())
    os.environ.update(env)
    return env


class Worker:
    """Runs the tasks of one job. Executors ship it to their processes (pickled once per
    process, with only what workers need: see ``Modality.__getstate__``) and call ``setup``
    once there before the first task; calling it is cheap after that."""

    def __init__(self, job: Job, pooled: bool = True) -> None:
        self.job = job
        self.pooled = pooled  # one of several worker processes (limit library threads)
        self._ready = False
        self._last: tuple[tuple[str, int, int], str] | None = None  # the last input's digest
        self._down: str | None = None  # a service this process found down (the breaker is open)

    def __getstate__(self) -> dict[str, object]:
        return {"job": self.job, "pooled": self.pooled, "_ready": False, "_last": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state, _down=None)

    def _digest(self, modality: Any, task: Task) -> InputSeen:
        """The input's digest, size and mtime; the last one is kept, since the chunks of one
        record file usually reach the same worker in a row (each would otherwise hash the
        whole file)."""
        path = self.job.input_root / task.source
        size, mtime = modality.stamp(path)
        key = (str(path), size, mtime)
        if self._last is None or self._last[0] != key:
            self._last = (key, modality.digest(path))
        return InputSeen(task.source, size, mtime, self._last[1])

    def setup(self) -> None:
        """Once per process: the modalities' environment and per-process guards."""
        if self._ready:
            return
        apply_environment(self.job)
        for m in self.job.modalities.values():
            m.setup_process(self.pooled)
        self._ready = True

    def __call__(self, task: Task) -> list[Event]:
        """Make a task's outputs; any failure of the input as a whole becomes an event."""
        self.setup()
        if self._down is not None:  # the rest of a batch: no second wait for the same absence
            return [ServiceDown(task.source, self._down)]
        modality = self.job.modalities[task.modality]
        try:
            seen = self._digest(modality, task)
            made = [encoded(stamped(e, seen.digest)) for e in modality.process(task, self.job)]
            return [*made, seen]
        except OSError as exc:
            if output_unwritable(exc):
                return [OutputUnwritable(task.source, f"{exc.strerror or exc}")]
            return [task.failed(f"{exc.strerror or exc}")]
        except Unavailable as exc:  # not this input's fault: the run stops (circuit breaker)
            self._down = str(exc)
            return [ServiceDown(task.source, self._down)]
        except Exception as exc:
            return [task.failed(describe_error(exc))]


def encoded(event: Event) -> Event:
    """An output's record as its manifest line (``manifest.encode``), so the parent only
    appends it; a line about one record of a chunked record file stays a record (the parent
    renumbers it when the file is joined)."""
    if isinstance(event, OutputRecord) and "chunk" not in (event.extra.get("record") or {}):
        return encode(event)
    return event


def stamped(event: Event, digest: str) -> Event:
    """An output's record (or a part's) with the digest of the input it was made from, so a
    resume and ``verify`` can tell when that input has changed since."""
    if isinstance(event, OutputRecord):
        event.source_sha256 = digest
    elif isinstance(event, PartWritten):
        return replace(event, source_sha256=digest)
    return event
