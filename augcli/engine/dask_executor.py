"""The ``dask`` executor: the same ``Worker`` over the same planned tasks, on a Dask cluster.

Without an address it starts a ``LocalCluster`` of worker processes (one thread each) and closes
it at the end; with one (``--scheduler``, the recipe's ``scheduler:``, ``DASK_SCHEDULER_ADDRESS``)
it connects as a client and never shuts the cluster down. The job is shipped once per Dask worker
process, in a worker plugin that also sets the process up (``Worker.setup``) and checks the
shared storage; tasks then carry only the ``Task``. Tasks go in batches sized from their measured
pace, as in the local pool (``executor.Pace``: small tasks many to a Dask task, so the scheduler's
few milliseconds per task are paid once per batch); submission is windowed (a few batches in
flight per worker thread), results are yielded as they complete, and a task whose workers all
died (the cluster's retry budget) is a failed task, not a failed run: a batch that killed its
workers is sent again one task at a time, so only the task that kills them fails.

Imported only when chosen (``executor.EXECUTOR_MODULES``): without Dask, choosing it is a usage
error saying what to install."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from augcli.core.atomic import TMP_MARK
from augcli.core.errors import ExecutorLost, UsageError
from augcli.core.layout import STATE_DIR
from augcli.core.records import Event
from augcli.engine.executor import AHEAD, Pace, lane_sizes, register
from augcli.engine.plan import Job, Task
from augcli.engine.worker import Worker

try:
    import dask
    import distributed
    from distributed import Client, LocalCluster, as_completed
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # the optional extra is not installed
    raise UsageError(
        "--executor dask needs Dask's distributed scheduler, which is not installed: "
        "pip install 'augcli[dask]'"
    ) from None

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler before giving up
WORKERS_TIMEOUT = 60.0  # seconds a scheduler may take to have its first worker
CLOSE_TIMEOUT = 10.0  # seconds closing the client (and a cluster we started) may take
LANE_REFRESH = 2.0  # seconds between looks at which workers are alive, for lane tasks
LOGGERS = ("distributed", "tornado", "bokeh", "asyncio")
KILLED = (
    "worker died while making this input's outputs (every Dask worker that ran it died: the "
    "cluster's retry budget, distributed.scheduler.allowed-failures)"
)
# run first in each worker process of a LocalCluster (a preload script: Dask runs text with a
# space in it as code, in the process's main thread): Ctrl-C in the terminal reaches the whole
# process group, and stopping the workers is the parent's job, as with the local pool
IGNORE_SIGINT = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)"
# what a LocalCluster's nannies put in their workers' environment: Dask's default, less its
# MALLOC_TRIM_THRESHOLD_, which switches glibc's adaptive mmap threshold off, so every image
# buffer is mapped, faulted in and unmapped again: it halved the workers' speed here
WORKER_ENVIRON = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}


class _Setup(WorkerPlugin):
    """Runs once in every Dask worker process (those there now and any that join later): holds
    the job's ``Worker``, sets the process up and checks that it sees the shared storage."""

    def __init__(self, worker: Worker, name: str) -> None:
        self.worker, self.name = worker, name
        self.problem: str | None = None  # why this process cannot run tasks (storage)

    def setup(self, worker: Any) -> None:
        self.problem = probe(str(self.worker.job.input_root), str(state_dir(self.worker.job)))
        self.worker.setup()

    def run(self, task: Task, timeout: float | None) -> tuple[list[Event], bool]:
        """The task's events, and whether it overran ``timeout`` (then this process should be
        restarted: the thread still running it cannot be stopped)."""
        if self.problem is not None:
            return [task.failed(f"Dask worker {_address()}: {self.problem}")], False
        if timeout is None:
            return self.worker(task), False
        box: list[list[Event]] = []
        thread = threading.Thread(target=lambda: box.append(self.worker(task)), daemon=True)
        thread.start()
        thread.join(timeout)
        if box:
            return box[0], False
        reason = f"timed out after {timeout:g} s (task_timeout); its Dask worker was restarted"
        return [task.failed(reason)], True


def _address() -> str:
    with contextlib.suppress(ValueError):
        return str(distributed.get_worker().address)
    return "?"


def _run_batch(
    tasks: list[Task], plugin: str, timeout: float | None
) -> tuple[list[list[Event]], float, str | None]:
    """A Dask task: run a batch of ``tasks`` with this process's plugin, in order; the events of
    each task run, the seconds they took, and this worker's address if a task overran its time
    (that task is failed, the rest are not run: the parent sends them again and restarts this
    worker)."""
    me = distributed.get_worker()
    started = time.monotonic()
    results = []
    for task in tasks:
        events, overran = me.plugins[plugin].run(task, timeout)
        results.append(events)
        if overran:
            return results, time.monotonic() - started, me.address
    return results, time.monotonic() - started, None


def _kill_self() -> None:
    """Run on a worker whose task overran: end the process at once (a graceful close would
    wait for, or abort in, the thread still running the task)."""
    os.kill(os.getpid(), signal.SIGKILL)


def state_dir(job: Job) -> Path:
    return job.output_root / STATE_DIR


def probe(input_root: str, state: str) -> str | None:
    """Why this process cannot read ``input_root`` or create and remove a file in ``state``
    (the output folder's state folder), or None if it can."""
    try:
        os.listdir(input_root)
    except OSError as exc:
        return f"cannot read the input folder {input_root}: {exc.strerror or exc}"
    path = os.path.join(state, f"{TMP_MARK}probe-{uuid.uuid4().hex[:8]}")
    try:
        with open(path, "xb") as f:
            f.write(b"augcli")
        os.unlink(path)
    except OSError as exc:
        return f"cannot write in the output folder ({state}): {exc.strerror or exc}"
    return None


def _probe_here(input_root: str, state: str) -> str | None:
    """``probe`` as run on each worker by ``Client.run``."""
    return probe(input_root, state)


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Dask's own logging (worker restarts, lost connections) stays off the user's stderr:
    what matters reaches the manifest or an error message."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in LOGGERS]
    loggers = [logging.getLogger(n) for n in {*names, *LOGGERS}]
    levels = [lg.level for lg in loggers]
    for lg in loggers:  # each configured one has its own handler: set every level
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def connect(address: str | None, workers: int) -> tuple[Any, Any]:
    """(cluster we started or None, client): a quiet ``LocalCluster`` of ``workers`` processes
    with one thread each when there is no address, else a client of the scheduler there."""
    if address is None:
        cluster = _local_cluster(workers)
        return cluster, Client(cluster, set_as_default=False)
    return None, _client(address)


def _local_cluster(workers: int) -> Any:
    """A quiet ``LocalCluster`` of ``workers`` processes with one thread each."""
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,  # no dashboard; its plain HTTP server on a free port,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # not a busy 8787
        memory_limit=0,  # as the local pool: no per-worker memory cap, no spilling
        preload=[IGNORE_SIGINT],
        silence_logs=logging.CRITICAL + 1,
    )


def _client(address: str) -> Any:
    """A client of the scheduler at ``address``, which must answer and have a worker."""
    problem = asyncio.run(_unanswered(address))
    if problem is not None:
        raise UsageError(
            f"cannot reach the Dask scheduler at {address}: {problem}. Check the address "
            "(--scheduler, the recipe's scheduler:, DASK_SCHEDULER_ADDRESS) and that the "
            "scheduler is running, or leave the address out to start a cluster on this machine."
        )
    client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except Exception as exc:
        with contextlib.suppress(Exception):
            client.close(timeout=CLOSE_TIMEOUT)
        why = (
            f"has no workers (waited {WORKERS_TIMEOUT:g} s); start some (e.g. "
            f"`dask worker {address}`) and run again"
            if isinstance(exc, TimeoutError)
            else f"stopped answering ({type(exc).__name__})"
        )
        raise UsageError(f"the Dask scheduler at {address} {why}.") from None
    return client


async def _unanswered(address: str) -> str | None:
    """Why ``address`` is not a Dask scheduler answering within ``CONNECT_TIMEOUT`` seconds
    (asked before a ``Client`` is made: a client that failed to start lingers and is slow to
    close), or None if it answers."""
    try:
        comm = await distributed.comm.connect(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return str(exc).splitlines()[0] if str(exc) else "no answer"
    except ValueError as exc:  # a malformed address
        return f"{exc}"
    except Exception:  # something answered the handshake, but not in Dask's protocol
        return "what answers there is not a Dask scheduler"
    try:
        await comm.write({"op": "identity", "reply": True})
        answer = await asyncio.wait_for(comm.read(), CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncio.TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT:g} s"
    except Exception:  # something answered, but not in Dask's protocol
        return "what answers there is not a Dask scheduler"
    finally:
        comm.abort()
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        return "what answers there is not a Dask scheduler"
    return None


@register
class DaskExecutor:
    """Tasks as Dask tasks on a cluster (see the module docstring). ``workers``: processes of
    the ``LocalCluster`` started when there is no ``address``; the window of tasks in flight
    follows the cluster's threads."""

    name = "dask"

    def __init__(
        self,
        worker: Worker,
        workers: int,
        timeout: float | None = None,
        address: str | None = None,
    ) -> None:
        # one LocalCluster worker may use every core, as the local pool's one worker does
        self.worker = Worker(worker.job, pooled=address is not None or workers > 1)
        self.timeout, self.address = timeout, address
        self.plugin = f"augcli-{uuid.uuid4().hex[:12]}"
        self.futures: dict[Any, list[Task]] = {}  # a batch of tasks per future
        self.retry: collections.deque[list[Task]] = collections.deque()  # batches to send again
        self.carry: Task | None = None  # taken from the plan, of another lane than its batch
        self.paces: dict[int | None, Pace] = {}
        self.left = self.threads = 1
        self.submitted = 0  # tasks submitted so far: key ``<plugin>-<n>`` is the n-th
        self.lanes: dict[int, list[str]] = {}
        self.seen = 0.0  # when the live workers were last read (for lanes)
        self.live: list[str] = []
        self._logs = quiet_logs()
        self._logs.__enter__()
        # for the cluster's life (its nannies read it again when they restart a worker)
        self._environ = dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON})
        try:
            self.cluster, self.client = connect(address, max(1, workers))
        except BaseException:
            self._restore()
            raise

    def check(self, job: Job) -> None:
        """Every worker reads the input root and creates and removes a probe file in the output
        folder's state folder; the first that cannot is a usage error naming it and the path."""
        state = state_dir(job)
        made = not state.exists()
        state.mkdir(parents=True, exist_ok=True)
        answers = self.client.run(_probe_here, str(job.input_root), str(state))
        bad = sorted((addr, why) for addr, why in answers.items() if why is not None)
        if not bad:
            return
        if made:
            with contextlib.suppress(OSError):
                state.rmdir()
        addr, why = bad[0]
        more = f" (and {len(bad) - 1} more workers)" if len(bad) > 1 else ""
        raise UsageError(
            f"Dask worker {addr}{more} {why}. Every worker must see the input and output "
            "folders at the same paths (a shared file system), readable and writable by the "
            "user it runs as."
        )

    def run(self, tasks: Iterable[Task]) -> Iterator[list[Event]]:
        self.left = len(tasks) if hasattr(tasks, "__len__") else 1 << 30  # type: ignore[arg-type]
        try:
            yield from self._run(iter(tasks))
        finally:
            self.stop()

    def _run(self, tasks: Iterator[Task]) -> Iterator[list[Event]]:
        """Keep a window of batches submitted; yield each task's events as its batch completes."""
        self.client.register_plugin(_Setup(self.worker, self.plugin), name=self.plugin)
        self.threads = max(1, self._threads())
        window = AHEAD * self.threads
        done = as_completed(loop=self.client.loop)
        more = self._top_up(tasks, done, window)
        while self.futures:
            future = self._next(done)
            batch = self.futures.pop(future)
            yield from self._events(future, batch)
            future.release()
            if more or self.retry:
                more = self._top_up(tasks, done, window)

    def _next(self, done: Any) -> Any:
        """The next finished future; a lost scheduler is ``ExecutorLost``."""
        future = next(done)
        if future.status in ("cancelled", "lost") and future in self.futures:
            raise self._lost()
        return future

    def _lost(self) -> ExecutorLost:
        return ExecutorLost(
            f"lost the Dask scheduler{' at ' + self.address if self.address else ''} "
            "mid-run; the manifest keeps what was done: run the same command again to resume."
        )

    def _top_up(self, tasks: Iterator[Task], done: Any, window: int) -> bool:
        """Submit batches until ``window`` are in flight (tasks to try again first); False
        once ``tasks`` is exhausted."""
        while len(self.futures) < window:
            batch = self.retry.popleft() if self.retry else self._take(tasks)
            if not batch:
                return False
            future = self.client.submit(
                _run_batch,
                batch,
                self.plugin,
                self.timeout,
                key=f"{self.plugin}-{self.submitted}",
                pure=False,
                **self._where(batch[0]),
            )
            self.futures[future] = batch
            self.submitted += 1
            done.add(future)
        return True

    def _take(self, tasks: Iterator[Task]) -> list[Task]:
        """The next batch from the plan: tasks of one lane, as many as the lane's measured pace
        says make ``executor.BATCH_SECONDS`` of work (one at first, as in the local pool)."""
        first = self.carry if self.carry is not None else next(tasks, None)
        self.carry = None
        if first is None:
            return []
        size = self.paces.setdefault(first.lane, Pace()).batch(self.left, self.threads)
        batch = [first]
        while len(batch) < size:
            task = next(tasks, None)
            if task is None:
                break
            if task.lane != first.lane:
                self.carry = task
                break
            batch.append(task)
        self.left -= len(batch)
        return batch

    def _events(self, future: Any, batch: list[Task]) -> list[list[Event]]:
        """A finished batch's events per task. A batch every worker died running is sent again
        one task at a time, so only the task that kills workers fails (with why)."""
        try:
            results, seconds, overran = future.result()
        except distributed.KilledWorker:
            if len(batch) > 1:
                self.retry.extend([task] for task in batch)
                return []
            return [[batch[0].failed(KILLED)]]
        except (Exception, asyncio.CancelledError) as exc:
            # the cluster went away under the task (not the input's fault): stop, resumable
            gone = isinstance(exc, (asyncio.CancelledError, distributed.comm.CommClosedError))
            if gone or future.status in ("cancelled", "lost") or self.client.status != "running":
                raise self._lost() from None
            return [[task.failed(f"Dask: {type(exc).__name__}: {exc}")] for task in batch]
        self.paces.setdefault(batch[0].lane, Pace()).update(seconds, len(results))
        if overran is not None:  # its thread still runs the task: stop the process (its nanny
            with contextlib.suppress(Exception):  # starts a fresh one, as the local pool does)
                self.client.run(_kill_self, workers=[overran], on_error="ignore")
            if len(results) < len(batch):  # the tasks after the one that overran
                self.retry.append(batch[len(results) :])
        return results

    def _threads(self) -> int:
        info = self.client.scheduler_info(n_workers=-1)
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())

    def _where(self, task: Task) -> dict[str, Any]:
        """Placement of a lane's task (a model op's worker limit): a bounded set of workers,
        chosen among the live ones (a lane's workers run nothing else's lane); elsewhere only
        if all of them are gone."""
        if task.lane is None:
            return {}
        now = time.monotonic()
        if now - self.seen > LANE_REFRESH:
            self.live = sorted(self.client.scheduler_info(n_workers=-1).get("workers", {}))
            self.seen = now
            self._place(task.lane)
        if task.lane not in self.lanes:
            self._place(task.lane)
        return {"workers": self.lanes[task.lane], "allow_other_workers": True}

    def _place(self, lane: int) -> None:
        """Keep each lane's live workers and top it up to its size from the free ones."""
        sizes = lane_sizes([*self.lanes, lane, None], len(self.live) or 1)
        for k in sorted(set(self.lanes) | {lane}):
            self.lanes[k] = [a for a in self.lanes.get(k, []) if a in self.live]
        for k in sorted(self.lanes):
            taken = {a for other, ws in self.lanes.items() if other != k for a in ws}
            free = [a for a in self.live if a not in taken and a not in self.lanes[k]]
            self.lanes[k] += free[: max(0, sizes[k] - len(self.lanes[k]))]
            if not self.lanes[k]:
                self.lanes[k] = self.live[: sizes[k]]

    def stop(self) -> None:
        """Cancel what is in flight, drop the job from the workers, close the client (and the
        cluster if this run started it). Fast, and harmless twice."""
        client, self.client = getattr(self, "client", None), None
        if client is None:
            return
        with contextlib.suppress(Exception):
            if self.futures:
                client.cancel(list(self.futures), force=True)
            self.futures = {}
        if self.cluster is None:  # a shared cluster: leave no job behind on its workers
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(self.plugin)
        with contextlib.suppress(Exception):
            client.close(timeout=CLOSE_TIMEOUT)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=CLOSE_TIMEOUT)
            self.cluster = None
        self._restore()

    def _restore(self) -> None:
        """Dask's logging and configuration as they were before this executor."""
        self._environ.__exit__(None, None, None)
        self._logs.__exit__(None, None, None)
