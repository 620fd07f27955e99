"""Executors: run tasks in-process or in a process pool; same tasks, same results, any order."""

from __future__ import annotations

import multiprocessing as mp
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
    """A pool of worker processes; each reads, augments and writes its own files and returns
    small records.

    Workers come from a fork server that has imported the modalities' heavy libraries once
    (``Modality.preload``): start-up is paid once, not per worker, and no worker inherits the
    parent's library thread pools (forking a process whose OpenCV threads have run can hang)."""

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
        self.workers = workers
        self.pool = ctx.Pool(workers, initializer=init_worker, initargs=(job, True))

    def run(self, tasks: list[Task]) -> Iterator[list[dict[str, Any]]]:
        chunk = max(1, min(8, len(tasks) // (self.workers * 8)))
        yield from self.pool.imap_unordered(run_task, tasks, chunksize=chunk)
        self.pool.close()
        self.pool.join()

    def stop(self) -> None:
        self.pool.terminate()
        self.pool.join()


EXECUTORS: dict[str, type[SerialExecutor] | type[PoolExecutor]] = {
    "serial": SerialExecutor,
    "pool": PoolExecutor,
}


def make_executor(job: Job, workers: int) -> SerialExecutor | PoolExecutor:
    return EXECUTORS["serial" if workers <= 1 else "pool"](job, workers)
