"""`expand` and `validate` end to end: paths, plan, resume, execution, manifest, summary."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from augcli import __version__
from augcli.core.atomic import sha256_file, sweep_tmp
from augcli.core.errors import RecipeError, UsageError
from augcli.core.layout import MANIFEST
from augcli.engine.budget import select_splits
from augcli.engine.executor import make_executor
from augcli.engine.manifest import (
    ManifestWriter,
    read_manifest,
    read_run_info,
    side_files,
    sorted_records,
    write_run_info,
)
from augcli.engine.plan import Job, Task, plan, remaining
from augcli.engine.scan import InputFile, scan
from augcli.recipe import Recipe

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
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
    quiet: bool = False


@dataclass
class Summary:
    inputs: int = 0
    outputs: int = 0
    failed: int = 0
    skipped: int = 0
    unchanged: int = 0
    failures: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)  # e.g. model requests, batches


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
            fix="Check the path (relative paths resolve against the recipe file).",
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


def prepare(recipe: Recipe, opts: Options) -> tuple[Job, list[InputFile], int, list[Task]]:
    src, dst = resolve_paths(recipe, opts)
    job = Job.from_recipe(recipe, src, dst).bind()
    skip = [d for m in job.modalities.values() for d in m.ignored_dirs()]
    inputs, ignored = scan(src, recipe.sections, skip)
    inputs, left_out = select_splits(inputs, recipe.splits)
    if left_out:
        job.notes.append(
            f"splits: augmenting {', '.join(recipe.splits or ('train',))}; "
            f"left out: {', '.join(left_out)}"
        )
    job.set_inputs(inputs)
    return job, inputs, ignored, plan(recipe, job, inputs)


def _check_output_folder(recipe: Recipe, dst: Path, overwrite: bool, log: Any) -> None:
    """Resume only the same recipe; with --overwrite, remove only what an earlier run listed."""
    if not dst.exists() or not any(dst.iterdir()):
        return
    info = read_run_info(dst)
    if info is None:
        if overwrite:
            return
        raise UsageError(
            f"output folder {dst} is not empty and was not written by augcli (no run.json). "
            "Choose a new folder, or pass --overwrite to write into it anyway."
        )
    if info.get("fingerprint") == recipe.fingerprint():
        return
    if not overwrite:
        raise UsageError(
            f"output folder {dst} was written by a different recipe (or other --seed/--copies); "
            "resuming would mix outputs of two recipes. Pass --overwrite to replace that run's "
            "outputs, or choose another output folder."
        )
    removed = 0
    for rec in read_manifest(dst / MANIFEST).values():
        for rel in [rec.get("output"), *side_files(rec)]:
            target = (dst / rel).resolve() if rel else None
            if target is not None and target.is_relative_to(dst) and target.is_file():
                target.unlink()
                removed += 1
    for rel in (read_run_info(dst) or {}).get("files", []):
        target = (dst / rel).resolve()
        if target.is_relative_to(dst) and target.is_file():
            target.unlink()
    (dst / MANIFEST).unlink(missing_ok=True)
    log(f"augcli: --overwrite: removed {removed} outputs of the earlier run in {dst}")


def _versions() -> dict[str, str]:
    out = {"augcli": __version__, "python": platform.python_version()}
    for lib in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[lib] = metadata.version(lib)
    return out


def expand(recipe: Recipe, opts: Options) -> int:
    """Run the recipe; return the exit code. Messages and the progress bar go to stderr."""

    def log(msg: str) -> None:
        if not opts.quiet:
            print(msg, file=sys.stderr)

    started = time.time()
    job, inputs, _ignored, tasks = prepare(recipe, opts)
    dst = job.output_root
    for note in job.notes:
        log(f"augcli: {note}")
    if not inputs:
        print(
            f"augcli: warning: no input files found in {job.input_root} for the sections "
            f"{', '.join(recipe.sections)} (check 'include' globs and extensions)",
            file=sys.stderr,
        )
    for note in recipe.fetch():  # downloads a recipe allows, before its fingerprint is taken
        log(f"augcli: {note}")
    _check_output_folder(recipe, dst, opts.overwrite, log)
    dst.mkdir(parents=True, exist_ok=True)
    swept = sweep_tmp(dst)
    previous = read_manifest(dst / MANIFEST)
    # An output is done when its own line says ok and the file exists (a record file's own line
    # comes after its records' lines, so it marks the whole file done).
    done = {k for k, r in previous.items() if r.get("status") == "ok" and (dst / k).is_file()}
    kept = {k: v for k, v in previous.items() if k in done or v.get("output") in done}
    todo, skipped = remaining(tasks, done)
    summary = Summary(inputs=len(inputs), skipped=skipped)
    run_info: dict[str, Any] = {
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
        run_info["resources"] = recipe.resources()
    write_run_info(dst, run_info)
    if swept:
        log(f"augcli: removed {swept} temporary files left by an interrupted run")

    workers = min(worker_count(recipe, opts), max(1, len(todo)))
    writer = ManifestWriter(dst / MANIFEST, kept)
    status = "complete"
    executor = None
    bar = _progress(len(todo), opts.quiet)  # one step per task (an input, or a chunk of one)

    parts: dict[str, list[dict[str, Any]]] = {}

    def add(records: list[dict[str, Any]]) -> None:
        for rec in records:
            writer.forget_source(rec["source"])
        for rec in records:
            if rec["status"] == "stats":  # work counts (model requests), for the summary
                for key, n in rec["stats"].items():
                    summary.stats[key] = summary.stats.get(key, 0) + n
                continue
            if rec["status"] == "part":  # one chunk of a record file is written
                chunks = parts.setdefault(rec["output"], [])
                chunks.append(rec["part"])
                if len(chunks) == rec["part"]["count"]:
                    add([merge_parts(job, writer, rec, chunks)])
                continue
            writer.add(rec)
            if "records" in rec:  # a record file's own line: its records are counted already
                continue
            if rec["status"] == "ok":
                summary.outputs += 1
            elif rec["status"] == "unchanged":
                summary.unchanged += 1
            else:
                summary.failed += 1
                summary.failures.append(f"{rec['output'] or rec['source']}: {rec['error']}")

    found = {f.relpath for f in inputs}
    for name, modality in job.modalities.items():
        for source, reason in modality.missing_inputs(found):
            add(
                [
                    Task(source, name, None).record(
                        None, None, None, [], "failed", reason, None, None
                    )
                ]
            )
    try:
        executor = make_executor(job, workers)
        for records in executor.run(todo):
            add(records)
            if bar is not None:
                bar.update(1)
            if opts.fail_fast and summary.failed:
                status = "stopped"
                break
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        if executor is not None and status != "complete":
            executor.stop()
        if bar is not None:
            bar.close()
        sweep_tmp(dst)
        writer.close(finalize=status == "complete")
        if status == "complete":
            for name, modality in job.modalities.items():
                mine = [r for r in writer.records.values() if r.get("modality") == name]
                run_info.setdefault("files", []).extend(modality.finalize(sorted_records(mine)))
        run_info.update(
            status=status,
            workers=workers,
            counts={
                "inputs": summary.inputs,
                "outputs": summary.outputs,
                "failed": summary.failed,
                "skipped": summary.skipped,
                "unchanged": summary.unchanged,
            },
            wall_seconds=round(time.time() - started, 3),
        )
        if summary.stats:
            run_info["model_requests"] = dict(sorted(summary.stats.items()))
        write_run_info(dst, run_info)

    for line in summary.failures[:10]:  # errors are printed even with --quiet
        print(f"augcli: failed: {line}", file=sys.stderr)
    if len(summary.failures) > 10:
        print(
            f"augcli: ... and {len(summary.failures) - 10} more failures (see {dst / MANIFEST})",
            file=sys.stderr,
        )
    log(
        f"augcli: {status}: {summary.outputs} written, {summary.failed} failed, "
        f"{summary.skipped} already done, from {summary.inputs} inputs in "
        f"{time.time() - started:.1f}s -> {dst}"
    )
    if summary.stats:
        st = summary.stats
        log(
            f"augcli: model requests: {st.get('requests', 0)} sent in {st.get('batches', 0)} "
            f"batches, {st.get('cache_hits', 0)} answered from the cache"
        )
    if status == "interrupted":
        log("augcli: run the same command again to resume where it stopped")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if summary.failed else EXIT_OK


def merge_parts(
    job: Job, writer: ManifestWriter, marker: dict[str, Any], chunks: list[dict[str, Any]]
) -> dict[str, Any]:
    """Join a chunked record file once all its chunks are written: the file, its records'
    output indices made global (re-appended, so the manifest on disk is right at once), and the
    file's own line."""
    out = marker["output"]
    job.modalities[marker["modality"]].merge(job.output_root, out, chunks)
    offsets, total = {}, {"input": 0, "output": 0, "unchanged": 0}
    for chunk in sorted(chunks, key=lambda c: c["index"]):
        offsets[chunk["index"]] = total["output"]
        for key in total:
            total[key] += chunk["counts"][key]
    for rec in list(writer.records.values()):
        record = rec.get("record") or {}
        if rec.get("output") == out and "chunk" in record and "output" in record:
            fixed = {
                **rec,
                "record": {**record, "output": record["output"] + offsets[record["chunk"]]},
            }
            fixed["record"].pop("chunk")
            writer.add(fixed)
    line = Task(marker["source"], marker["modality"], marker["label"]).record(
        None, None, None, [], "ok", None, sha256_file(job.output_root / out), out
    )
    line["records"] = total
    return line


def _progress(total: int, quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty() or total == 0:
        return None
    import tqdm

    tqdm.tqdm.monitor_interval = 0  # no monitor thread: workers are forked
    return tqdm.tqdm(total=total, unit="input", file=sys.stderr, dynamic_ncols=True)
