"""`expand` and `validate` end to end: paths and plan (``prepare``), then ``expand``: start
(notes, fetch, output-folder check), resume, execute, finalize. Printing is the caller's
(a ``Reporter``); the result says how the run ended."""

from __future__ import annotations

import contextlib
import difflib
import os
import platform
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from augcli import __version__
from augcli.core.atomic import sha256_file, sweep_tmp
from augcli.core.errors import (
    ExecutorLost,
    OutputError,
    RecipeError,
    StrictFailure,
    Unavailable,
    UsageError,
    output_unwritable,
)
from augcli.core.findings import Finding
from augcli.core.layout import MANIFEST
from augcli.core.records import InputFailed
from augcli.engine.budget import select_splits
from augcli.engine.checks import all_findings, no_inputs, strict_failures
from augcli.engine.collect import Collector, Summary
from augcli.engine.executor import (
    DEFAULT_EXECUTOR,
    Executor,
    executor_class,
    executor_names,
    make_executor,
)
from augcli.engine.groups import assign
from augcli.engine.manifest import ManifestWriter, write_run_info
from augcli.engine.plan import Job, Plan, Todo, plan, remaining
from augcli.engine.resume import (
    Resume,
    check_output_folder,
    resume_state,
    write_source_cache,
)
from augcli.engine.scan import InputFile, scan
from augcli.engine.worker import Worker, apply_environment
from augcli.recipe import Recipe

EXIT_OK, EXIT_FAILED = 0, 1
SCHEDULER_VARIABLE = "DASK_SCHEDULER_ADDRESS"
LIBRARIES = (
    "numpy",
    "opencv-python-headless",
    "pyyaml",
    "pydicom",
    "soundfile",
    "audiomentations",
    "nlpaug",
)


@dataclass
class Options:
    input: Path | None = None
    output: Path | None = None
    workers: int | None = None
    overwrite: bool = False
    fail_fast: bool = False
    executor: str | None = None  # None: the recipe's executor, else DEFAULT_EXECUTOR
    scheduler: str | None = None  # None: the recipe's scheduler, else DASK_SCHEDULER_ADDRESS
    strict: bool = False  # the dataset checks' findings stop the run before anything is written
    allow: tuple[str, ...] = ()  # with strict: finding kinds that do not stop it


def executor_choice(recipe: Recipe, opts: Options) -> tuple[str, str | None]:
    """The executor's name and address: the option, else the recipe, else the default (the
    address: else the ``DASK_SCHEDULER_ADDRESS`` variable). An address is for ``dask`` only."""
    name = opts.executor or recipe.executor or DEFAULT_EXECUTOR
    if not opts.executor and recipe.executor and name not in executor_names():
        close = difflib.get_close_matches(name, executor_names(), n=1)
        raise recipe.locate(
            RecipeError(
                "unknown executor",
                path="executor",
                value=name,
                fix=(f"Did you mean '{close[0]}'? " if close else "")
                + f"Executors are: {', '.join(executor_names())}.",
            )
        )
    if name != "dask":
        if opts.scheduler:
            raise UsageError(
                f"--scheduler is for --executor dask (the executor here is {name!r}); "
                "pass --executor dask, or leave --scheduler out."
            )
        return name, None
    address = opts.scheduler or recipe.scheduler or os.environ.get(SCHEDULER_VARIABLE) or None
    return name, address


def resolve_paths(recipe: Recipe, opts: Options) -> tuple[Path, Path]:
    """The input and output roots, checked: input exists, neither folder holds the other."""
    try:
        return _resolve_paths(recipe, opts)
    except RecipeError as exc:
        raise recipe.locate(exc) from None


def _resolve_paths(recipe: Recipe, opts: Options) -> tuple[Path, Path]:
    src = opts.input.resolve() if opts.input else recipe.input
    dst = opts.output.resolve() if opts.output else recipe.output

    def where(key: str, cli: Path | None) -> dict[str, Any]:
        return {"path": key} if cli is None else {"path": f"--{key} option"}

    if src is None:
        raise RecipeError(
            "no input folder",
            path="input",
            fix="Add 'input: path/to/data' to the recipe or pass --input DIR.",
        )
    if dst is None:
        raise RecipeError(
            "no output folder",
            path="output",
            fix="Add 'output: path/to/out' to the recipe or pass --output DIR.",
        )
    if not src.is_dir():
        raise RecipeError(
            "input folder does not exist",
            value=str(src),
            fix="Check the path (relative paths resolve against "
            + ("the current folder)." if opts.input else "the recipe's folder)."),
            **where("input", opts.input),
        )
    if dst == src or dst.is_relative_to(src):
        raise RecipeError(
            "output folder is inside the input folder",
            value=str(dst),
            fix="Choose an output folder outside the input, so outputs are never read as inputs.",
            **where("output", opts.output),
        )
    if src.is_relative_to(dst):
        raise RecipeError(
            "input folder is inside the output folder",
            value=str(src),
            fix="Choose an output folder that does not contain the input.",
            **where("output", opts.output),
        )
    if dst.exists() and not dst.is_dir():
        raise RecipeError(
            "output path exists and is not a folder", value=str(dst), **where("output", opts.output)
        )
    return src, dst


def worker_count(recipe: Recipe, opts: Options) -> int:
    n = opts.workers or recipe.workers or os.cpu_count() or 1
    return max(1, n)


def prepare(recipe: Recipe, opts: Options) -> tuple[Job, list[InputFile], int, Plan]:
    """Paths, scan and plan: the job (its ``notes`` carry the scan's warnings), the inputs,
    how many files no section took, and the plan (its tasks, made as they are iterated)."""
    src, dst = resolve_paths(recipe, opts)
    recipe.preflight()  # e.g. an endpoint that must answer: before any input is read
    job = Job.from_recipe(recipe, src, dst).bind()
    apply_environment(job)  # before this process or any worker loads the modalities' libraries
    skip = [d for m in job.modalities.values() for d in m.ignored_dirs()]
    claims = [m.claims for m in job.modalities.values()]
    found = scan(src, recipe.sections, skip, job.links_outside, lambda r: any(c(r) for c in claims))
    job.findings.extend(found.warnings())
    ignored = found.ignored
    inputs, left_out = select_splits(found.inputs, recipe.splits)
    if left_out:
        job.notes.append(
            f"splits: augmenting {', '.join(recipe.splits or ('train',))}; "
            f"left out: {', '.join(left_out)}"
        )
    for name, modality in job.modalities.items():  # before any input is read
        modality.check_installed([f.relpath for f in inputs if f.modality == name])
        modality.check_files()
    job.set_inputs(inputs)
    groups = assign(recipe.groups, found.inputs, src, job.modalities)  # held-out splits too
    note = groups.note(inputs)
    if note:
        job.notes.append(note)
    job.findings.extend(groups.findings)
    tasks = plan(recipe, job, inputs, groups)
    chosen = {f.relpath for f in inputs}
    tasks.held_out = [f for f in found.inputs if f.relpath not in chosen]
    workers = worker_count(recipe, opts)
    for name, why in tasks.limit_notes.items():
        limit = tasks.limits[name]
        if limit is not None and limit < workers:
            if why.startswith("warning: "):
                job.findings.append(Finding("memory", why.removeprefix("warning: "), name))
            else:
                job.notes.append(f"{name}: {why}")
    return job, inputs, ignored, tasks


MODEL_STATS = ("requests", "batches", "cache_hits")  # WorkStats counts about model requests


def _versions() -> dict[str, str]:
    out = {"augcli": __version__, "python": platform.python_version()}
    for lib in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[lib] = metadata.version(lib)
    return out


class Reporter(Protocol):
    """How a run talks to its user; the CLI prints, a library caller may stay silent."""

    def note(self, msg: str) -> None:
        """Progress prose (hidden by --quiet)."""

    def warn(self, msg: str) -> None:
        """A warning that is shown even with --quiet."""

    def progress(self, total: int) -> Any:
        """Something with ``update(n)`` and ``close()`` for ``total`` tasks, or None."""


class Silent:
    """A reporter that says nothing."""

    def note(self, msg: str) -> None:
        pass

    def warn(self, msg: str) -> None:
        pass

    def progress(self, total: int) -> Any:
        return None


@dataclass
class RunResult:
    """How a run ended: its status (complete, stopped, interrupted), counts and where."""

    status: str
    summary: Summary
    output_root: Path
    seconds: float
    dataset: dict[str, int] | None = None  # the output folder as it now stands

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some inputs failed, 128 + the signal when interrupted (130 Ctrl-C,
        143 SIGTERM)."""
        if self.status == "interrupted":
            return 128 + int(self.summary.signal or signal.SIGINT)
        return EXIT_FAILED if self.summary.failed else EXIT_OK


def expand(recipe: Recipe, opts: Options, reporter: Reporter | None = None) -> RunResult:
    """Run the recipe: plan, resume, execute, finalize. Messages go to ``reporter``."""
    say = reporter or Silent()
    started = time.time()
    job, inputs, tasks = _start(recipe, opts, say)
    dst = job.output_root
    workers = min(worker_count(recipe, opts), max(1, len(tasks)))
    executor = _open_executor(recipe, opts, job, workers)  # a cluster that is not there: no write
    try:
        check_output_folder(recipe, dst, opts.overwrite, say.note)
        state = resume_state(job, (f.relpath for f in inputs))
        executor.check(job)  # every worker sees the input and output folders, before run.json
        todo, skipped = remaining(tasks, state.done)
        workers = min(workers, max(1, len(todo)))
        summary = Summary(input_files=len(inputs), already_done=skipped)
        run_info = _run_info(recipe, job)
        write_run_info(dst, run_info)
        _resume_notes(state, say)
        writer = ManifestWriter(dst / MANIFEST, state.kept, job.names)
        collector = Collector(job, writer, summary)
        for rec in state.kept.values():
            if rec.get("source_sha256"):
                collector.digests.setdefault(rec["source"], rec["source_sha256"])
        _missing_inputs(job, inputs, collector)
        status = _execute(executor, job, todo, opts, collector, say)
    finally:
        executor.stop()
    _finalize(job, collector, run_info, status)
    _sum_up(run_info, collector, workers, time.time() - started)
    if collector.stopped_by is None:
        write_run_info(dst, run_info)
        return RunResult(status, summary, dst, time.time() - started, run_info.get("dataset"))
    with contextlib.suppress(OSError):  # best effort: the folder may take no more writes
        write_run_info(dst, run_info)
    raise collector.stopped_by


def _sum_up(run_info: dict[str, Any], collector: Collector, workers: int, seconds: float) -> None:
    """What run.json says of the run once it ended: this invocation's counts, the folder's as
    it stands (counted as the manifest was closed; absent if that failed), model requests and
    clipped audio."""
    summary = collector.summary
    run_info.update(workers=workers, this_run=summary.counts(), wall_seconds=round(seconds, 3))
    if collector.writer.counts:
        run_info["dataset"] = collector.writer.counts
    model = {k: n for k, n in summary.stats.items() if k in MODEL_STATS}
    if model:
        run_info["model_requests"] = dict(sorted(model.items()))
    if summary.stats.get("clipped_outputs"):
        run_info["clipped"] = {
            "outputs": summary.stats["clipped_outputs"],
            "samples": summary.stats.get("clipped_samples", 0),
        }


def _missing_inputs(job: Job, inputs: list[InputFile], collector: Collector) -> None:
    """Inputs a modality expected but the scan did not find (e.g. a mask's image) fail."""
    found = {f.relpath for f in inputs}  # for this check only: not held through the run
    for name, modality in job.modalities.items():
        for source, reason in modality.missing_inputs(found):
            collector.add([InputFailed(source, name, None, reason)])


def _resume_notes(state: Resume, say: Reporter) -> None:
    """What resuming found: leftovers swept, inputs changed since their outputs were made."""
    if state.swept:
        say.note(f"augcli: removed {state.swept} temporary files left by an interrupted run")
    if state.changed:
        listed = ", ".join(state.changed[:5]) + (" ..." if len(state.changed) > 5 else "")
        say.note(
            f"augcli: {len(state.changed)} input files changed since their outputs were made, "
            f"making them again: {listed}"
        )


def _open_executor(recipe: Recipe, opts: Options, job: Job, workers: int) -> Executor:
    """The chosen executor, connected (a Dask scheduler that does not answer is an error here,
    before the output folder is touched); ``Executor.check`` comes once the folder exists."""
    name, address = executor_choice(recipe, opts)
    return make_executor(name, Worker(job), workers, recipe.task_timeout, address)


def _start(recipe: Recipe, opts: Options, say: Reporter) -> tuple[Job, list[InputFile], Plan]:
    """Plan and fetch what the recipe allows (nothing is written in the output folder yet)."""
    executor_class(executor_choice(recipe, opts)[0])  # unknown or not installed: before any write
    job, inputs, _ignored, tasks = prepare(recipe, opts)
    for note in job.notes:
        say.note(f"augcli: {note}")
    findings = (
        all_findings(recipe, job, inputs, tasks.held_out, tasks.groups)
        if opts.strict
        else job.findings
    )
    for finding in [*findings, *([] if opts.strict else no_inputs(recipe, job, inputs))]:
        say.warn(f"augcli: {finding}")
    refused = strict_failures(findings, opts.allow) if opts.strict else []
    if refused:
        raise StrictFailure(refused)
    for note in recipe.fetch():  # downloads a recipe allows, before its fingerprint is taken
        say.note(f"augcli: {note}")
    return job, inputs, tasks


def _run_info(recipe: Recipe, job: Job) -> dict[str, Any]:
    info: dict[str, Any] = {
        "recipe": str(recipe.file),
        "recipe_sha256": recipe.sha256,
        "fingerprint": recipe.fingerprint(),
        "seed": recipe.seed,
        "copies": recipe.copies,
        "input": str(job.input_root),
        "versions": _versions(),
        "status": "running",
    }
    if recipe.resources():
        info["resources"] = recipe.resources()
    return info


def _execute(
    executor: Executor,
    job: Job,
    todo: Todo,
    opts: Options,
    collector: Collector,
    say: Reporter,
) -> str:
    """Run the tasks on the executor; return complete, stopped (--fail-fast) or interrupted
    (Ctrl-C, SIGTERM, a lost cluster). The executor is stopped unless it finished."""
    status = "complete"
    bar = say.progress(len(todo)) if todo else None  # one step per task (an input or a chunk)
    try:
        with _stop_signals():
            for events in executor.run(todo):
                collector.add(events)
                if bar is not None:
                    bar.update(1)
                if opts.fail_fast and collector.summary.failed:
                    status = "stopped"
                    break
    except KeyboardInterrupt as exc:
        status = "interrupted"
        collector.summary.signal = getattr(exc, "signum", signal.SIGINT)
    except (OutputError, ExecutorLost, Unavailable) as exc:  # a full disk, a lost cluster, a
        # model endpoint gone: resumable later
        status, collector.stopped_by = "interrupted", exc
    except OSError as exc:  # the parent's own writes (the manifest)
        if not output_unwritable(exc):
            raise
        status = "interrupted"
        collector.stopped_by = OutputError(
            f"cannot write to the output folder {job.output_root}: {exc.strerror}. Free space "
            "or make it writable, then run the same command again to resume."
        )
    finally:
        if status != "complete":
            executor.stop()
        if bar is not None:
            bar.close()
        sweep_tmp(job.output_root)
        with contextlib.suppress(OSError) if collector.stopped_by else contextlib.nullcontext():
            collector.writer.close(finalize=status == "complete")
    return status


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: a clean stop that a later run resumes."""

    signum = signal.SIGTERM


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """While tasks run: SIGTERM stops the run as Ctrl-C does; after the first of either, a
    second one stops at once (the default action). Handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def first(signum: int, _frame: Any) -> None:
        for s in previous:
            signal.signal(s, signal.SIG_DFL)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    for s in previous:
        signal.signal(s, first)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _finalize(job: Job, collector: Collector, run_info: dict[str, Any], status: str) -> None:
    """After a complete run, each modality writes its whole-dataset files (e.g. COCO)."""
    run_info["status"] = status
    write_source_cache(job, collector.digests)
    if status != "complete":
        return
    for name, modality in job.modalities.items():

        def mine(name: str = name) -> list[dict[str, Any]]:
            return [r for r in collector.writer.records() if r["modality"] == name]

        for rel in modality.finalize(mine):  # checked by verify, as every output is
            run_info.setdefault("files", {})[rel] = sha256_file(job.output_root / rel)
