"""Executors: where tasks run. One class each, chosen by name from ``EXECUTORS``; every executor
runs the same ``Worker`` over the same planned tasks, so outputs are identical whichever runs.

The engine calls only the protocol: ``Executor(worker, workers)``, ``run(tasks)`` (yields each
task's events as tasks finish, in any order) and ``stop()`` (after an interrupt or --fail-fast).
A new executor (e.g. one that maps tasks over a cluster) is one more registered class."""

from __future__ import annotations

import collections
import contextlib
import difflib
import multiprocessing as mp
import multiprocessing.connection as mpc
import signal
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Protocol

from augcli.core.errors import UsageError
from augcli.core.records import Event
from augcli.engine.plan import Task
from augcli.engine.worker import Worker

DEFAULT_EXECUTOR = "local"


class Executor(Protocol):
    name: ClassVar[str]

    def __init__(self, worker: Worker, workers: int, timeout: float | None) -> None: ...

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


def make_executor(
    name: str, worker: Worker, workers: int, timeout: float | None = None
) -> Executor:
    """The executor ``name`` for ``workers`` processes; ``timeout``: seconds one task may run."""
    return executor_class(name)(worker, workers, timeout)


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
    """Runs tasks one by one in this process: no process start-up, but a task that crashes the
    interpreter ends the run, and no timeout can stop a task."""

    name = "serial"

    def __init__(self, worker: Worker, workers: int, timeout: float | None = None) -> None:
        self.worker = Worker(worker.job, pooled=False)

    def run(self, tasks: list[Task]) -> Iterator[list[Event]]:
        for task in tasks:
            yield self.worker(task)

    def stop(self) -> None:
        pass


@register
class LocalExecutor:
    """Worker processes on this machine, supervised: ``workers`` of them (at least one, so a
    task that crashes the interpreter never takes the run with it), each lane of tasks
    (``lanes``) with its own share.

    Workers come from a fork server that has imported the modalities' heavy libraries once
    (``Modality.preload_modules``): start-up is paid once, not per worker, and no worker
    inherits the parent's library thread pools (forking a process whose OpenCV threads have
    run can hang). Each gets the ``Worker`` once, at start, and then one task at a time. A
    worker that dies (a crash, an out-of-memory kill) or overruns ``timeout`` seconds on a
    task fails that task with the reason and is replaced; the run goes on."""

    name = "local"

    def __init__(self, worker: Worker, workers: int, timeout: float | None = None) -> None:
        self.workers, self.timeout = max(1, workers), timeout
        self.worker = Worker(worker.job, pooled=self.workers > 1)  # one process: all its threads
        self.ctx = _context(worker)
        self.slots: list[_Slot] = []

    def run(self, tasks: list[Task]) -> Iterator[list[Event]]:
        for size, lane in lanes(tasks, self.workers):
            todo = collections.deque(lane)
            self.slots += [_Slot(self.ctx, self.worker, todo) for _ in range(min(size, len(lane)))]
        try:
            yield from self._supervise()
        finally:
            self.stop()

    def _supervise(self) -> Iterator[list[Event]]:
        """Hand out tasks, collect results, replace dead or overrunning workers."""
        for slot in self.slots:
            slot.next()
        while any(slot.sent for slot in self.slots):
            busy = [s for s in self.slots if s.sent]
            ready = set(mpc.wait([w for s in busy for w in s.waitables()], self._wait(busy)))
            for slot in busy:
                events = slot.poll(ready, self.timeout)
                if events is not None:
                    yield events
                    slot.next()

    def _wait(self, busy: list[_Slot]) -> float | None:
        """Seconds until the first running task would overrun (None: no timeout)."""
        if self.timeout is None:
            return None
        now = time.monotonic()
        return max(0.0, min(s.started + self.timeout - now for s in busy))

    def stop(self) -> None:
        for slot in self.slots:
            slot.close()
        self.slots = []


AHEAD = 2  # tasks sent to a worker at once: the next one waits in its pipe, so it never idles


class _Slot:
    """One worker process of a lane: its pipe, the tasks sent to it (the first is running,
    the rest wait in the pipe), and when the running one started."""

    def __init__(self, ctx: Any, worker: Worker, todo: collections.deque[Task]) -> None:
        self.ctx, self.worker, self.todo = ctx, worker, todo
        self.proc: Any = None
        self.conn: Any = None
        self.sent: collections.deque[Task] = collections.deque()
        self.started = 0.0

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_serve, args=(child, self.worker), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def next(self) -> None:
        """Top the worker up to ``AHEAD`` tasks from the lane (starting a process if there is
        none); free the process when the lane is done."""
        if not self.sent and not self.todo:
            self.close()
            return
        if self.proc is None:
            self._start()
        if not self.sent:
            self.started = time.monotonic()
        while self.todo and len(self.sent) < AHEAD:
            task = self.todo.popleft()
            self.sent.append(task)
            with contextlib.suppress(OSError):  # the process is gone: poll() reports it
                self.conn.send(task)

    def waitables(self) -> list[Any]:
        return [self.conn, self.proc.sentinel]

    def poll(self, ready: set[Any], timeout: float | None) -> list[Event] | None:
        """The running task's events if it finished, failed events if the worker died or ran
        over ``timeout`` (the tasks waiting behind it go back to the lane), else None."""
        task = self.sent[0]
        events = self._answer() if self.conn in ready else None
        if events is not None:
            self.sent.popleft()
            self.started = time.monotonic()  # the next one starts now
            return events
        if self.conn in ready or self.proc.sentinel in ready:  # the worker is gone
            self.proc.join()
            reason = died(self.proc.exitcode)
        elif timeout is not None and time.monotonic() - self.started >= timeout:
            reason = f"timed out after {timeout:g} s (task_timeout); its worker was stopped"
        else:
            return None
        self.sent.popleft()
        self.todo.extendleft(reversed(self.sent))  # not started: a fresh worker takes them
        self.sent.clear()
        self.close()
        return [task.failed(reason)]

    def _answer(self) -> list[Event] | None:
        """The running task's events from the pipe, or None if the worker died answering."""
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            return None

    def close(self) -> None:
        """Stop this slot's process (it is started again for the next task)."""
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
        if self.proc is not None and self.proc.pid is not None:  # it may have failed to start
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join()
        self.proc = self.conn = None


def died(exitcode: int | None) -> str:
    """Why a worker process ended while running a task, for its manifest line."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (possibly out of memory)" if name == "SIGKILL" else ""
        return f"worker died: {name}{hint} while making this input's outputs"
    return f"worker died: exit code {exitcode} while making this input's outputs"


def _serve(conn: Any, worker: Worker) -> None:
    """A worker process: set up once, then answer one task at a time until told to stop or
    the parent goes away. Ctrl-C is the parent's: it stops the workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker.setup()
    with contextlib.suppress(EOFError, OSError, KeyboardInterrupt):
        while True:
            task = conn.recv()
            if task is None:
                return
            conn.send(worker(task))


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
