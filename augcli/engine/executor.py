"""Executors: where tasks run. One class each, chosen by name from ``EXECUTORS``; every executor
runs the same ``Worker`` over the same planned tasks, so outputs are identical whichever runs.

The engine calls only the protocol: ``Executor(worker, workers)``, ``run(tasks)`` (yields each
task's events as tasks finish, in any order) and ``stop()`` (after an interrupt or --fail-fast).
A new executor (e.g. one that maps tasks over a cluster) is one more registered class."""

from __future__ import annotations

import difflib
import multiprocessing as mp
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Protocol

from augcli.core.errors import UsageError
from augcli.core.records import Event
from augcli.engine.plan import Task
from augcli.engine.worker import Worker

DEFAULT_EXECUTOR = "local"


class Executor(Protocol):
    name: ClassVar[str]

    def __init__(self, worker: Worker, workers: int) -> None: ...

    def run(self, tasks: list[Task]) -> Iterator[list[Event]]: ...

    def stop(self) -> None: ...


EXECUTORS: dict[str, type[Executor]] = {}


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: make an executor available by its ``name``."""
    EXECUTORS[cls.name] = cls
    return cls


def executor_class(name: str) -> type[Executor]:
    """The executor called ``name``; an unknown name is a usage error naming the choices."""
    if name not in EXECUTORS:
        close = difflib.get_close_matches(name, EXECUTORS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(
            f"unknown executor {name!r}; choose one of {', '.join(sorted(EXECUTORS))}.{hint}"
        )
    return EXECUTORS[name]


def make_executor(name: str, worker: Worker, workers: int) -> Executor:
    return executor_class(name)(worker, workers)


def lane_sizes(limits: Iterable[int | None], workers: int) -> dict[int | None, int]:
    """Processes per lane: a lane of tasks with a limit (``Task.lane``, e.g. a model op's
    ``model_workers``) gets at most that many; the unlimited lane gets the rest (at least one)."""
    distinct = set(limits)
    limited = sum(min(k, workers) for k in distinct if k is not None)
    return {k: min(k, workers) if k is not None else max(1, workers - limited) for k in distinct}


def lanes(tasks: list[Task], workers: int) -> list[tuple[int, list[Task]]]:
    """Tasks grouped by lane, in first-seen order, with each lane's process count."""
    groups: dict[int | None, list[Task]] = {}
    for task in tasks:
        groups.setdefault(task.lane, []).append(task)
    sizes = lane_sizes(groups, workers)
    return [(sizes[k], group) for k, group in groups.items()]


@register
class SerialExecutor:
    """Runs tasks one by one in this process."""

    name = "serial"

    def __init__(self, worker: Worker, workers: int) -> None:
        self.worker = Worker(worker.job, pooled=False)

    def run(self, tasks: list[Task]) -> Iterator[list[Event]]:
        for task in tasks:
            yield self.worker(task)

    def stop(self) -> None:
        pass


# The worker of this pool process, installed once by the pool's initializer: a process pool has
# no other way to keep per-process state without shipping the job again with every batch.
_INSTALLED: Worker | None = None


def _install(worker: Worker) -> None:
    global _INSTALLED
    worker.setup()
    _INSTALLED = worker


def _run_installed(task: Task) -> list[Event]:
    assert _INSTALLED is not None, "the pool initializer installs the worker"
    return _INSTALLED(task)


@register
class LocalExecutor:
    """Process pools on this machine (``workers`` processes; with one worker, this process).

    Workers come from a fork server that has imported the modalities' heavy libraries once
    (``Modality.preload_modules``): start-up is paid once, not per worker, and no worker
    inherits the parent's library thread pools (forking a process whose OpenCV threads have
    run can hang). Each lane of tasks (``lanes``) gets a pool of its own size, so a model is
    never loaded once per worker blindly."""

    name = "local"

    def __init__(self, worker: Worker, workers: int) -> None:
        self.worker, self.workers = worker, workers
        self.pools: list[Any] = []
        self.ctx: Any = None
        if workers > 1:
            self.ctx = _context(worker)

    def run(self, tasks: list[Task]) -> Iterator[list[Event]]:
        if self.workers <= 1:
            yield from SerialExecutor(self.worker, 1).run(tasks)
            return
        started = []
        for size, lane in lanes(tasks, self.workers):
            pool = self.ctx.Pool(size, initializer=_install, initargs=(self.worker,))
            self.pools.append(pool)
            started.append((pool, lane))
        if len(started) == 1:
            pool, lane = started[0]
            chunk = max(1, min(8, len(lane) // (self.workers * 8)))
            yield from pool.imap_unordered(_run_installed, lane, chunksize=chunk)
        else:
            yield from _merged(started)
        for pool in self.pools:
            pool.close()
            pool.join()

    def stop(self) -> None:
        for pool in self.pools:
            pool.terminate()
            pool.join()


def _context(worker: Worker) -> Any:
    """A fork-server context preloading what the job's modalities need (spawn where there is
    no fork server)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    job = worker.job
    preload = ["augcli.engine.executor"]
    for name, m in job.modalities.items():
        sources = [p for paths in job.pools.get(name, {}).values() for p in paths]
        preload.extend(m.preload_modules(sources))
    ctx.set_forkserver_preload(preload)
    return ctx


def _merged(started: list[tuple[Any, list[Task]]]) -> Iterator[list[Event]]:
    """Results of several pools as they arrive (a thread drains each)."""
    results: queue.Queue[tuple[str, Any]] = queue.Queue()

    def drain(pool: Any, lane: list[Task]) -> None:
        try:
            for events in pool.imap_unordered(_run_installed, lane):
                results.put(("events", events))
        except BaseException as exc:  # surfaced in the parent's thread
            results.put(("error", exc))
        finally:
            results.put(("done", None))

    for pool, lane in started:
        threading.Thread(target=drain, args=(pool, lane), daemon=True).start()
    running = len(started)
    while running:
        kind, value = results.get()
        if kind == "done":
            running -= 1
        elif kind == "error":
            raise value
        else:
            yield value
