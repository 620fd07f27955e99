"""Batching model calls across records: ops ask, the service answers from memory or the disk
cache, or takes the request down and raises ``Pending``. The text modality runs a task's records
in rounds: after a round that left requests pending it sends them all, in batches, and runs the
round again; requests already answered come from memory, so every round is the same pure
computation until nothing is pending. Records stay independent (per-record seeds), so outputs
do not depend on which other records shared a batch with them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from augcli.core.errors import Unavailable
from augcli.core.layout import STATE_DIR
from augcli.text.models.base import Backend, ModelError, Request
from augcli.text.models.cache import ResponseCache, cache_key

T = TypeVar("T")
CACHE_FILE = Path(STATE_DIR) / "model-cache.sqlite"
MAX_ROUNDS = 1000  # a safety net: every round answers what the previous one asked


class Pending(Exception):
    """The answer to a model request is not known yet; the round is run again once it is."""


class ModelService:
    """One per process: the loaded backends (each made once, on first use), the answers known
    in this task, the requests waiting for the next batch, and counts for the run summary."""

    def __init__(self, cache: ResponseCache | None = None, threads: int | None = None) -> None:
        self.cache = cache
        self.threads = threads  # torch threads for local models (None: the library's choice)
        self._backends: dict[Any, Backend] = {}
        self._answers: dict[str, str | ModelError] = {}
        self._waiting: dict[str, tuple[Backend, dict[str, Request]]] = {}
        self.stats: Counter[str] = Counter()

    def backend(self, spec: Any, make: Callable[[], Backend]) -> Backend:
        """The backend for ``spec`` (a hashable description), made once per process."""
        if spec not in self._backends:
            self._backends[spec] = make()
        return self._backends[spec]

    def ask(self, backend: Backend, request: Request) -> str:
        """The answer to ``request``, or ``Pending`` (it is queued for the next batch); a
        request that failed raises its ``ModelError``."""
        key = cache_key(backend.key, request)
        if key in self._answers:
            answer = self._answers[key]
            if isinstance(answer, ModelError):
                raise answer
            return answer
        self._waiting.setdefault(backend.key, (backend, {}))[1][key] = request
        raise Pending(key)

    @property
    def pending(self) -> bool:
        return bool(self._waiting)

    def flush(self) -> None:
        """Answer every waiting request: from the disk cache, else in batches (shortest inputs
        together, which pads least)."""
        waiting, self._waiting = self._waiting, {}
        for backend, requests in waiting.values():
            keys = list(requests)
            hits = self.cache.get(keys) if self.cache is not None else {}
            self.stats["cache_hits"] += len(hits)
            self._answers.update(hits)
            todo = sorted(
                (k for k in keys if k not in hits), key=lambda k: (len(requests[k].text), k)
            )
            size = max(1, backend.batch_size)
            for start in range(0, len(todo), size):
                batch = todo[start : start + size]
                try:
                    answers: list[str | ModelError] = backend.run([requests[k] for k in batch])
                except ModelError as exc:  # the model could not run at all: every request fails
                    answers = [exc] * len(batch)
                except Unavailable:  # the endpoint is down: the run stops, nothing is recorded
                    raise
                except Exception as exc:  # e.g. out of memory: this batch's records fail
                    answers = [ModelError(f"{type(exc).__name__}: {exc}")] * len(batch)
                self.stats["batches"] += 1
                self.stats["requests"] += len(batch)
                fresh = {k: a for k, a in zip(batch, answers, strict=True) if isinstance(a, str)}
                self._answers.update(zip(batch, answers, strict=True))
                if self.cache is not None:
                    self.cache.put(fresh)

    def settle(self, run: Callable[[], T]) -> T:
        """Run ``run`` (one pass over a task's records, catching ``Pending`` per record) until
        a pass leaves nothing pending; return that pass's result."""
        self._answers.clear()  # answers of the previous task are in the disk cache
        for _ in range(MAX_ROUNDS):
            result = run()
            if not self._waiting:
                return result
            self.flush()
        raise RuntimeError(f"model requests still pending after {MAX_ROUNDS} rounds")


def open_cache(output_root: Path) -> ResponseCache | None:
    """The cache of an output folder that exists (``expand`` makes it before running; a preview
    of a run not made yet uses no cache)."""
    return ResponseCache(output_root / CACHE_FILE) if output_root.is_dir() else None
