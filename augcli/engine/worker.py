"""What runs inside a worker: set-up once per process, then one task at a time, never crashing."""

from __future__ import annotations

import signal
from typing import Any

from augcli.core.errors import InputError
from augcli.engine.plan import Job, Task

_JOB: Job | None = None


def init_worker(job: Job, in_pool: bool) -> None:
    """Keep the job for this process; pool workers leave Ctrl-C to the parent."""
    global _JOB
    _JOB = job
    if in_pool:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for m in job.modalities.values():
            m.prepare_worker()


def run_task(task: Task) -> list[dict[str, Any]]:
    """Make a task's outputs; any failure becomes a record with its reason."""
    assert _JOB is not None, "init_worker was not called"
    modality = _JOB.modalities[task.modality]
    try:
        return modality.process(task, _JOB)
    except InputError as exc:
        return [task.record(None, None, None, [], "failed", str(exc), None, None)]
    except OSError as exc:
        return [task.record(None, None, None, [], "failed", f"{exc.strerror or exc}", None, None)]
    except Exception as exc:
        return [
            task.record(None, None, None, [], "failed", f"{type(exc).__name__}: {exc}", None, None)
        ]
