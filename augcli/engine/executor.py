"""Executors: where tasks run. One class each, chosen by name from ``EXECUTORS``; every executor
runs the same ``Worker`` over the same planned tasks, so outputs are identical whichever runs.

The engine calls only the protocol: ``Executor(worker, workers, timeout, address)``,
``check(job)`` (before anything is written: can the workers reach the input and output roots?),
``run(tasks)`` (yields each task's events as tasks finish, in any order) and ``stop()`` (after
an interrupt or --fail-fast, and at the end; calling it twice is harmless). A new executor is one
more registered class; one that needs an optional library lives in its own module, named in
``EXECUTOR_MODULES`` and imported only when chosen (``dask``: ``engine/dask_executor.py``)."""

from __future__ import annotations

import collections
import contextlib
import difflib
import importlib
import multiprocessing as mp
import multiprocessing.connection as mpc
import signal
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Protocol

from augcli.core.errors import UsageError
from augcli.core.records import Event
from augcli.engine.plan import Job, Task
from augcli.engine.worker import Worker

DEFAULT_EXECUTOR = "local"


class Executor(Protocol):
    name: ClassVar[str]

    def __init__(
        self, worker: Worker, workers: int, timeout: float | None, address: str | None = None
    ) -> None: ...

    def check(self, job: Job) -> None: ...

    def run(self, tasks: Iterable[Task]) -> Iterator[list[Event]]: ...

    def stop(self) -> None: ...


EXECUTORS: dict[str, type[Executor]] = {}
# executors in modules of their own (an optional library), imported when chosen: they register
# themselves on import, as modalities' ops do (``ops.MODALITY_MODULES``)
EXECUTOR_MODULES = {"dask": "augcli.engine.dask_executor"}


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: make an executor available by its ``name``."""
    EXECUTORS[cls.name] = cls
    return cls


def executor_names() -> list[str]:
    """Every executor's name, those of not-yet-imported modules included."""
    return sorted({*EXECUTORS, *EXECUTOR_MODULES})


def executor_class(name: str) -> type[Executor]:
    """The executor called ``name`` (importing its module if it has one); an unknown name is a
    usage error naming the choices, and so is one whose optional library is missing (the
    module's import raises that UsageError)."""
    if name not in EXECUTORS and name in EXECUTOR_MODULES:
        importlib.import_module(EXECUTOR_MODULES[name])
    if name not in EXECUTORS:
        names = executor_names()
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"unknown executor {name!r}; choose one of {', '.join(names)}.{hint}")
    return EXECUTORS[name]


def make_executor(
    name: str,
    worker: Worker,
    workers: int,
    timeout: float | None = None,
    address: str | None = None,
) -> Executor:
    """The executor ``name`` for ``workers`` processes; ``timeout``: seconds one task may run;
    ``address``: where its cluster is (dask: a scheduler; None: start one here)."""
    return executor_class(name)(worker, workers, timeout, address)


def lane_sizes(limits: Iterable[int | None], workers: int) -> dict[int | None, int]:
    """Processes per lane: a lane of tasks with a limit (``Task.lane``, e.g. a model op's
    ``model_workers``) gets at most that many; the unlimited lane gets the rest (at least one)."""
    distinct = set(limits)
    limited = sum(min(k, workers) for k in distinct if k is not None)
    return {k: min(k, workers) if k is not None else max(1, workers - limited) for k in distinct}


def lanes(tasks: Iterable[Task], workers: int) -> list[tuple[int, list[Task]]]:
    """Tasks grouped by lane, in first-seen order, with each lane's process count."""
    groups: dict[int | None, list[Task]] = {}
    for task in tasks:
        groups.setdefault(task.lane, []).append(task)
    sizes = lane_sizes(groups, workers)
    return [(sizes[k], group) for k, group in groups.items()]


class Feed:
    """The run's tasks, taken lazily from the plan and handed out by lane: tasks of other
    lanes met on the way wait in their lane's queue (at most ``HELD`` of them, so a plan of a
    million tasks is never held); tasks a dead worker did not finish go back to the front."""

    HELD = 4096

    def __init__(self, tasks: Iterable[Task], total: int) -> None:
        self.source: Iterator[Task] | None = iter(tasks)
        self.queues: dict[int | None, collections.deque[Task]] = collections.defaultdict(
            collections.deque
        )
        self.left = total  # tasks not handed out yet (an estimate: for sizing batches)

    def take(self, lane: int | None, n: int) -> list[Task]:
        """Up to ``n`` tasks of ``lane`` (fewer, or none, if the plan has no more of them yet)."""
        queue = self.queues[lane]
        while len(queue) < n and self.source is not None and self._held() < self.HELD:
            task = next(self.source, None)
            if task is None:
                self.source = None
            else:
                self.queues[task.lane].append(task)
        got = [queue.popleft() for _ in range(min(n, len(queue)))]
        self.left -= len(got)
        return got

    def back(self, lane: int | None, tasks: list[Task]) -> None:
        self.queues[lane].extendleft(reversed(tasks))
        self.left += len(tasks)

    def done(self, lane: int | None) -> bool:
        """No task of ``lane`` is waiting or can still come."""
        return self.source is None and not self.queues[lane]

    def _held(self) -> int:
        return sum(len(q) for q in self.queues.values())


class OnThisMachine:
    """What the executors on this machine share: their workers see the folders the parent
    does, so the parent's own probe of the output folder (``resume.probe_output``) is the check."""

    def check(self, job: Job) -> None:
        """Nothing more to check (see the class)."""


@register
class SerialExecutor(OnThisMachine):
    """Runs tasks one by one in this process: no process start-up, but a task that crashes the
    interpreter ends the run, and no timeout can stop a task."""

    name = "serial"

    def __init__(
        self,
        worker: Worker,
        workers: int,
        timeout: float | None = None,
        address: str | None = None,
    ) -> None:
        self.worker = Worker(worker.job, pooled=False)

    def run(self, tasks: Iterable[Task]) -> Iterator[list[Event]]:
        for task in tasks:
            yield self.worker(task)

    def stop(self) -> None:
        """Nothing runs outside the calls to ``run``."""


@register
class LocalExecutor(OnThisMachine):
    """Worker processes on this machine, supervised: ``workers`` of them (at least one, so a
    task that crashes the interpreter never takes the run with it), each lane of tasks
    (``lane_sizes``) with its own share.

    Workers come from a fork server that has imported the modalities' heavy libraries once
    (``Modality.preload_modules``): start-up is paid once, not per worker, and no worker
    inherits the parent's library thread pools (forking a process whose OpenCV threads have
    run can hang). Each gets the ``Worker`` once, at start, and then batches of tasks: small
    tasks go many to a message (``Pace``), so the parent's work per task stays small. Each
    worker shows the parent which task of its batch it is running (shared memory), so a
    worker that dies (a crash, an out-of-memory kill) or overruns ``timeout`` seconds on a
    task fails exactly that task with the reason and is replaced; the tasks it had not
    finished go to another worker, and the run goes on."""

    name = "local"

    def __init__(
        self,
        worker: Worker,
        workers: int,
        timeout: float | None = None,
        address: str | None = None,
    ) -> None:
        self.workers, self.timeout = max(1, workers), timeout
        self.worker = Worker(worker.job, pooled=self.workers > 1)  # one process: all its threads
        self.ctx = _context(worker)
        self.slots: list[_Slot] = []

    def run(self, tasks: Iterable[Task]) -> Iterator[list[Event]]:
        if not hasattr(tasks, "lanes"):  # a plain list (a plan or Todo knows its lanes)
            tasks = list(tasks)
        found = getattr(tasks, "lanes", None) or {t.lane for t in tasks}  # type: ignore[attr-defined]
        feed = Feed(tasks, len(tasks))  # type: ignore[arg-type]
        for lane, size in lane_sizes(found, self.workers).items():
            pace = Pace()
            self.slots += [_Slot(self.ctx, self.worker, feed, lane, pace) for _ in range(size)]
        try:
            yield from self._supervise()
        finally:
            self.stop()

    def _supervise(self) -> Iterator[list[Event]]:
        """Hand out tasks, collect results, replace dead or overrunning workers."""
        for slot in self.slots:
            slot.next(len(self.slots))
        while any(slot.sent for slot in self.slots):
            busy = [s for s in self.slots if s.sent]
            ready = set(mpc.wait([w for s in busy for w in s.waitables()], self._wait(busy)))
            for slot in busy:
                yield from slot.poll(ready, self.timeout)
            for slot in self.slots:
                slot.next(len(self.slots))
        if any(not feed.done(slot.lane) for slot in self.slots for feed in [slot.feed]):
            raise RuntimeError("the local executor stopped with tasks left")  # a bug, never a skip

    def _wait(self, busy: list[_Slot]) -> float | None:
        """Seconds until the first running task would overrun (None: no timeout)."""
        if self.timeout is None:
            return None
        now = time.monotonic()
        return max(0.0, min(s.running()[1] + self.timeout - now for s in busy))

    def stop(self) -> None:
        for slot in self.slots:
            slot.close()
        self.slots = []


AHEAD = 2  # batches sent to a worker at once: the next one waits in its pipe, so it never idles
BATCH_SECONDS = 0.05  # a batch is about this much work ...
BATCH_MAX = 64  # ... and at most this many tasks


class Pace:
    """Seconds per task of one lane, as measured (a moving average), and from it how many
    tasks go to a worker at once: about ``BATCH_SECONDS`` of work, one at first, and never
    more than a fair share of what is left, so the last tasks still spread over workers."""

    def __init__(self) -> None:
        self.seconds: float | None = None

    def update(self, seconds: float, tasks: int) -> None:
        each = seconds / max(1, tasks)
        self.seconds = each if self.seconds is None else 0.7 * self.seconds + 0.3 * each

    def batch(self, left: int, slots: int) -> int:
        if self.seconds is None:
            return 1
        size = int(BATCH_SECONDS / max(self.seconds, 1e-6))
        return max(1, min(size, BATCH_MAX, left // (2 * slots)))


class _Slot:
    """One worker process of a lane: its pipe, the batches sent to it (the first is running,
    the rest wait in the pipe), and its shared progress: which task of the running batch it is
    on (-1 between batches) and since when."""

    def __init__(self, ctx: Any, worker: Worker, feed: Feed, lane: int | None, pace: Pace) -> None:
        self.ctx, self.worker, self.feed, self.lane, self.pace = ctx, worker, feed, lane, pace
        self.proc: Any = None
        self.conn: Any = None
        self.progress: Any = None
        self.sent: collections.deque[list[Task]] = collections.deque()
        self.started = 0.0  # when the running batch was sent (or the one before it answered)

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.progress = self.ctx.RawArray("d", 2)
        self.progress[0] = -1
        args = (child, self.worker, self.progress)
        self.proc = self.ctx.Process(target=_serve, args=args, daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def next(self, slots: int) -> None:
        """Top the worker up to ``AHEAD`` batches from the lane (starting a process if there
        is none); free the process when the lane is done."""
        if not self.sent and self.feed.done(self.lane):
            self.close()
            return
        while len(self.sent) < AHEAD:
            batch = self.feed.take(self.lane, self.pace.batch(self.feed.left, slots))
            if not batch:
                return
            if self.proc is None:
                self._start()
            if not self.sent:
                self.started = time.monotonic()
            self.sent.append(batch)
            with contextlib.suppress(OSError):  # the process is gone: poll() reports it
                self.conn.send(batch)

    def waitables(self) -> list[Any]:
        return [self.conn, self.proc.sentinel]

    def running(self) -> tuple[int, float]:
        """The index in the first batch of the task running now (-1: none yet) and since when."""
        index = int(self.progress[0])
        return (index, self.progress[1]) if index >= 0 else (-1, self.started)

    def poll(self, ready: set[Any], timeout: float | None) -> list[list[Event]]:
        """The running batch's events if it finished; if the worker died or ran over
        ``timeout``, the failed events of the task it was on (its other unfinished tasks go
        back to the lane); else nothing."""
        answer = self._answer() if self.conn in ready else None
        if answer is not None:
            results, seconds = answer
            self.pace.update(seconds, len(results))
            self.sent.popleft()
            self.started = time.monotonic()  # the next batch starts now
            return results
        index, since = self.running()
        if self.conn in ready or self.proc.sentinel in ready:  # the worker is gone
            self.proc.join()
            reason = died(self.proc.exitcode)
        elif timeout is not None and time.monotonic() - since >= timeout:
            reason = f"timed out after {timeout:g} s (task_timeout); its worker was stopped"
        else:
            return []
        batch = self.sent.popleft()
        culprit = batch.pop(max(0, index))
        # not finished, or finished with no answer sent: a fresh worker makes them (again)
        self.feed.back(self.lane, batch + [t for b in self.sent for t in b])
        self.sent.clear()
        self.close()
        return [[culprit.failed(reason)]]

    def _answer(self) -> tuple[list[list[Event]], float] | None:
        """The running batch's events from the pipe, or None if the worker died answering."""
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


def _serve(conn: Any, worker: Worker, progress: Any) -> None:
    """A worker process: set up once, then answer one batch of tasks at a time until told to
    stop or the parent goes away, showing in ``progress`` which task it is on. Ctrl-C is the
    parent's: it stops the workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker.setup()
    with contextlib.suppress(EOFError, OSError, KeyboardInterrupt):
        while True:
            batch = conn.recv()
            if batch is None:
                return
            started = time.monotonic()
            results = []
            for k, task in enumerate(batch):
                progress[1] = time.monotonic()
                progress[0] = k
                results.append(worker(task))
            progress[0] = -1
            conn.send((results, time.monotonic() - started))


def _context(worker: Worker) -> Any:
    """A fork-server context preloading what the job's modalities need (spawn where there is
    no fork server)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["augcli.engine.executor", *worker.job.preload])
    return ctx
