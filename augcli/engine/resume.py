"""Before a run writes anything: is the output folder ours to write (the same recipe resumes;
``--overwrite`` removes only what an earlier run listed), and what is already done (an output
made from an input that has changed since is not)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augcli.core.atomic import TMP_MARK, sweep_tmp, write_text_atomic
from augcli.core.errors import InputError, OutputError, UnsafePath, UsageError
from augcli.core.layout import MANIFEST, RUN_INFO, STATE_DIR
from augcli.core.paths import inside
from augcli.core.records import side_files, unpack_seen
from augcli.engine.manifest import read_manifest, read_run_info, run_files
from augcli.engine.plan import Job
from augcli.recipe import Recipe

SOURCE_CACHE = f"{STATE_DIR}/sources.json"  # size, mtime and digest of each input, last run


@dataclass
class Resume:
    """What an output folder already holds for this recipe."""

    done: set[str]  # output paths complete: their own line says ok and the file exists
    kept: dict[str, dict[str, Any]]  # manifest lines carried over into this run's manifest
    swept: int  # temporary files an interrupted run left, now removed
    changed: list[str] = field(default_factory=list)  # inputs edited since: made again


def check_output_folder(recipe: Recipe, dst: Path, overwrite: bool, log: Callable) -> None:
    """Resume only the same recipe; with --overwrite, remove only what an earlier run listed."""
    if not dst.exists() or not any(dst.iterdir()):
        return
    refuse_links(dst)
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
    removed = remove_earlier_run(dst, info)
    log(f"augcli: --overwrite: removed {removed} outputs of the earlier run in {dst}")


def refuse_links(dst: Path) -> None:
    """An output folder holding a symlink is refused before anything is written: writing or
    deleting through it would reach outside the folder."""
    stack = [str(dst)]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue  # an unreadable folder: writing there fails on its own, with the path
        with it:
            for entry in it:
                if entry.is_symlink():
                    raise UsageError(
                        f"output folder {dst} holds a symlink, {entry.path} -> "
                        f"{os.readlink(entry.path)}; augcli writes only inside its output "
                        "folder, never through a link. Remove the link (or choose another "
                        "output folder)."
                    )
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)


def remove_earlier_run(dst: Path, info: dict[str, Any]) -> int:
    """Delete the files an earlier run's manifest and run.json list, and its manifest; return
    how many outputs were removed. Every listed path is checked first: if one would leave
    ``dst`` (absolute, ``..``, through a symlink), nothing is deleted (UsageError)."""
    listed = [
        rel
        for rec in read_manifest(dst / MANIFEST).values()
        for rel in [rec.get("output"), *side_files(rec)]
        if rel
    ]
    outputs = len(listed)
    listed += [rel for rel in run_files(info) if rel]
    try:
        targets = [inside(dst, rel) for rel in listed]
    except UnsafePath as exc:
        raise UsageError(
            f"--overwrite: the earlier run's {MANIFEST} or {RUN_INFO} in {dst} lists a path "
            f"that leaves the folder ({exc}); it was edited or damaged, so nothing was "
            "removed. Delete the old outputs yourself, or choose another output folder."
        ) from None
    removed = 0
    for k, target in enumerate(targets):
        if target.is_symlink() or target.is_file():
            target.unlink()  # a link itself, never what it points to
            if k < outputs:
                removed += 1
    (dst / MANIFEST).unlink(missing_ok=True)
    return removed


def probe_output(dst: Path) -> None:
    """Make the output folder and write (then remove) a file in it, so a folder that cannot
    take writes (read-only, no permission, full) is found before any work."""
    probe = dst / f"{TMP_MARK}probe"
    try:
        dst.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"augcli")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"cannot write to the output folder {dst}: {exc.strerror or exc}. Choose another "
            "folder (--output or the recipe's output:), or make this one writable."
        ) from None


def resume_state(job: Job, relpaths: Iterable[str] = ()) -> Resume:
    """Sweep leftovers, then read what is done: an output whose line says ok, whose file exists
    and whose input has not changed since it was made. A record file's own line comes after its
    records' lines, so it marks the whole file done. A manifest with salted names
    (``hash_sources``) is read back with the paths of ``relpaths`` (the run's inputs)."""
    dst = job.output_root
    probe_output(dst)
    swept = sweep_tmp(dst)
    known = job.names.paths(relpaths)
    previous = {k: job.names.decode(r, known) for k, r in read_manifest(dst / MANIFEST).items()}
    cache = {known.get(k, k): v for k, v in _read_cache(dst).items()}
    changed = changed_sources(
        job.input_root,
        previous.values(),
        lambda modality, path: job.modalities[modality].digest(path),
        cache,
        lambda modality, path: job.modalities[modality].stamp(path),
    )
    done = {
        k
        for k, r in previous.items()
        if r.get("status") == "ok" and r["source"] not in changed and (dst / k).is_file()
    }
    # an output moved to its mirror class (mirror_classes) is done under its planned path too
    done |= {p for k in done if isinstance(p := previous[k].get("planned"), str)}
    kept = {k: v for k, v in previous.items() if k in done or v.get("output") in done}
    return Resume(done, kept, swept, sorted(changed))


def changed_sources(
    input_root: Path,
    lines: Iterable[dict[str, Any]],
    digest_of: Callable[[str, Path], str],
    cache: dict[str, Any] | None = None,
    stamp_of: Callable[[str, Path], tuple[int, int]] | None = None,
) -> set[str]:
    """Inputs whose digest (``digest_of(modality, path)``) differs from the one their outputs
    were made from, or that are gone or cannot be hashed. With ``cache`` (the last run's size,
    mtime and digest per input), an input whose ``stamp_of`` (size and mtime; a file's own by
    default) still matches it is not hashed again."""
    recorded = {
        r["source"]: (r["source_sha256"], r.get("modality") or "")
        for r in lines
        if r.get("source_sha256")
    }
    return {
        source
        for source, (digest, modality) in recorded.items()
        if not _same(
            input_root / source, digest, (modality, digest_of, stamp_of), cache or {}, source
        )
    }


def _same(
    path: Path,
    digest: str,
    how: tuple[str, Callable[[str, Path], str], Callable[[str, Path], tuple[int, int]] | None],
    cache: dict[str, Any],
    source: str,
) -> bool:
    modality, digest_of, stamp_of = how
    try:
        size, mtime = stamp_of(modality, path) if stamp_of else _stamp(path)
        if cache.get(source) == [size, mtime, digest]:
            return True
        return digest_of(modality, path) == digest
    except (OSError, KeyError, InputError):  # gone, unreadable, or a modality not in the recipe
        return False


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def write_source_cache(job: Job, digests: dict[str, str | bytes]) -> None:
    """Remember each input's size, mtime and digest in the state folder, so the next run
    hashes only inputs that look different (best effort). ``digests``: input -> its size,
    mtime and digest as a worker read it (``InputSeen.packed``), or the digest an earlier
    run's outputs were made from."""
    cache: dict[str, list[Any]] = {}
    for source, digest in digests.items():
        if isinstance(digest, bytes):
            cache[source] = unpack_seen(digest)
            continue
        with contextlib.suppress(OSError):
            stat = (job.input_root / source).stat()
            cache[source] = [stat.st_size, stat.st_mtime_ns, digest]
    cache = {job.names.name(source): entry for source, entry in cache.items()}
    with contextlib.suppress(OSError):
        write_text_atomic(
            job.output_root / SOURCE_CACHE, json.dumps(cache, sort_keys=True), job.output_root
        )


def _read_cache(dst: Path) -> dict[str, list[Any]]:
    try:
        data = json.loads((dst / SOURCE_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
