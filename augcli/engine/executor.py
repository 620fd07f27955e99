"""Executors: run tasks in-process or in a process pool; same tasks, same results, any order."""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from augcli.engine.plan import Job, Task
from augcli.engine.worker import init_worker, run_task


class Executor(Protocol):
    def run(self, tasks: list[Task]) -> Iterator[list[dict[str, Any]]]: ...

    def stop(self) -> None: ...


class SerialExecutor:
    """Runs tasks one by one in this process (workers = 1)."""

    def __init__(self, job: Job, workers: int) -> None:
        init_worker(job, in_pool=False)

    def run(self, tasks: list[Task]) -> Iterator[list[dict[str, Any]]]:
        for task in tasks:
            yield run_task(task)

    def stop(self) -> None:
        pass


class PoolExecutor:
    """Pools of worker processes; each worker reads, augments and writes its own files and
    returns small records.

    Workers come from a fork server that has imported the modalities' heavy libraries once
    (``Modality.preload``): start-up is paid once, not per worker, and no worker inherits the
    parent's library thread pools (forking a process whose OpenCV threads have run can hang).
    A modality whose tasks load a large model (``Modality.worker_limit``) gets its own pool of
    that many processes, so a model is never loaded once per worker blindly."""

    def __init__(self, job: Job, workers: int) -> None:
        methods = mp.get_all_start_methods()
        if "forkserver" in methods:
            ctx = mp.get_context("forkserver")
            preload = ["augcli.engine.worker"]
            for name, m in job.modalities.items():
                sources = [p for paths in job.pools.get(name, {}).values() for p in paths]
                preload.extend(m.preload_modules(sources))
            ctx.set_forkserver_preload(preload)
        else:
            ctx = mp.get_context("spawn")
        self.ctx, self.job, self.workers = ctx, job, workers
        self.limits = {
            name: m.worker_limit(job.graphs[name])
            for name, m in job.modalities.items()
            if name in job.graphs
        }
        self.pools: list[Any] = []

    def _lanes(self, tasks: list[Task]) -> list[tuple[Any, list[Task]]]:
        """Tasks grouped by the pool size they allow; a pool per group."""
        groups: dict[int | None, list[Task]] = {}
        for task in tasks:
            groups.setdefault(self.limits.get(task.modality), []).append(task)
        limited = sum(min(k, self.workers) for k in groups if k is not None)
        lanes = []
        for limit, lane in groups.items():
            size = min(limit, self.workers) if limit else max(1, self.workers - limited)
            pool = self.ctx.Pool(size, initializer=init_worker, initargs=(self.job, True))
            self.pools.append(pool)
            lanes.append((pool, lane))
        return lanes

    def run(self, tasks: list[Task]) -> Iterator[list[dict[str, Any]]]:
        lanes = self._lanes(tasks)
        if len(lanes) == 1:
            pool, lane = lanes[0]
            chunk = max(1, min(8, len(lane) // (self.workers * 8)))
            yield from pool.imap_unordered(run_task, lane, chunksize=chunk)
        else:
            yield from self._merged(lanes)
        for pool in self.pools:
            pool.close()
            pool.join()

    def _merged(self, lanes: list[tuple[Any, list[Task]]]) -> Iterator[list[dict[str, Any]]]:
        """Results of several pools as they arrive (a thread drains each)."""
        results: queue.Queue[tuple[str, Any]] = queue.Queue()

        def drain(pool: Any, lane: list[Task]) -> None:
            try:
                for records in pool.imap_unordered(run_task, lane):
                    results.put(("records", records))
            except BaseException as exc:  # surfaced in the parent's thread
                results.put(("error", exc))
            finally:
                results.put(("done", None))

        for pool, lane in lanes:
            threading.Thread(target=drain, args=(pool, lane), daemon=True).start()
        running = len(lanes)
        while running:
            kind, value = results.get()
            if kind == "done":
                running -= 1
            elif kind == "error":
                raise value
            else:
                yield value

    def stop(self) -> None:
        for pool in self.pools:
            pool.terminate()
            pool.join()


EXECUTORS: dict[str, type[SerialExecutor] | type[PoolExecutor]] = {
    "serial": SerialExecutor,
    "pool": PoolExecutor,
}


def make_executor(job: Job, workers: int) -> SerialExecutor | PoolExecutor:
    return EXECUTORS["serial" if workers <= 1 else "pool"](job, workers)
