"""`augcli replay`: re-render a run's outputs from the params its manifest recorded, without
sampling again, into another folder, so a person can check that the manifest is the whole story."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from augcli.core.atomic import atomic_path, sha256_file
from augcli.core.errors import UnsafePath, UsageError
from augcli.core.paths import inside, reads_inside
from augcli.core.salted import input_paths
from augcli.engine.manifest import read_manifest, read_run_info
from augcli.modality import get_modality
from augcli.ops import registry
from augcli.steps import MIX, replay


def replay_run(output: Path, dest: Path, recipe: Any) -> tuple[int, int, list[str]]:
    """Replay every augmented file output of ``output`` into ``dest``; return (replayed, equal
    to the original bytes, outputs skipped with the reason). A line whose output would leave
    ``dest`` (absolute, ``..``, through a symlink) or whose source leaves the run's input folder
    is skipped, never written."""
    manifest = output / "manifest.jsonl"
    info = read_run_info(output)
    if not manifest.is_file() or info is None:
        raise UsageError(f"{output}: no manifest.jsonl/run.json; run augcli expand first")
    input_root = Path(info["input"])
    dest = dest.resolve()
    if dest == output.resolve() or dest.is_relative_to(output.resolve()):
        raise UsageError(f"--output {dest} is inside the run's folder; replay elsewhere")
    mods: dict[str, Any] = {}
    done = same = 0
    skipped: list[str] = []
    known = recipe.names.paths(input_paths(input_root)) if recipe.names.hashed else {}
    lines = [recipe.names.decode(r, known) for r in read_manifest(manifest).values()]
    outside = recipe.follow_symlinks == "outside"  # input links may leave the input folder

    def modality(name: str) -> Any:
        if name not in mods:
            mods[name] = get_modality(name)(recipe.settings_of(name))
            mods[name].bind(input_root, dest, outside)
        return mods[name]

    for rec in lines:
        if rec.get("status") != "ok" or not (_is_file_line(rec) or _is_output_line(rec)):
            continue  # originals, failures, and records (their file is rebuilt whole)
        try:
            inside(dest, rec["output"])
            reads_inside(input_root, rec["source"], outside)
            mod = modality(rec["modality"])
            if _is_file_line(rec):
                target = replay_records(rec, lines, mod, input_root, dest, recipe.keep_originals)
            else:
                target = replay_output(rec, mod, input_root, dest, outside)
        except UnsafePath as exc:
            skipped.append(f"{rec['output']}: {exc}")
            continue
        done += 1
        same += sha256_file(target) == rec.get("sha256")
    return done, same, skipped


def _is_file_line(rec: dict[str, Any]) -> bool:
    """A record file's own line: the file is rebuilt whole from its records' lines."""
    return "records" in rec


def _is_output_line(rec: dict[str, Any]) -> bool:
    """An augmented output of a file input (not an original, not one record of a file)."""
    return bool(rec.get("node")) and rec.get("record") is None


def replay_output(
    rec: dict[str, Any], mod: Any, input_root: Path, dest: Path, outside: bool
) -> Path:
    """Re-render one augmented output from its recorded ops into ``dest``; return its path.
    Its source and mixing partners are read only inside ``input_root`` (links leaving it
    too when ``outside``)."""
    name = rec["modality"]
    source = reads_inside(input_root, rec["source"], outside)
    data = mod.read(source)

    def load(relpath: str) -> Any:
        return mod.read(reads_inside(input_root, relpath, outside))

    result = replay(rec["ops"], data, registry(name), mod.info, load, mod.applier())
    target = dest / rec["output"]
    start = mod.applier().identity()
    matrix = geometry(rec["ops"], registry(name), mod.info(data), start)
    meta = {"matrix": matrix, "ops": rec["ops"], "output": rec["output"], "seed": rec["seed"]}
    with atomic_path(target, dest) as tmp:
        mod.write(result, tmp, source, meta)
    return target


def replay_records(
    file_line: dict[str, Any],
    lines: list[dict[str, Any]],
    mod: Any,
    input_root: Path,
    dest: Path,
    keep_originals: bool,
) -> Path:
    """Rebuild a record file: each augmented record replayed from its ops on the source
    record's text (its recorded ``mentions`` put in place first), at its recorded place; kept
    originals fill the other places in order."""
    from augcli.text.records import render

    out_rel = file_line["output"]
    rf = mod.record_file(input_root / file_line["source"])
    rows: list[Any] = [None] * file_line["records"]["output"]
    for rec in lines:
        record = rec.get("record")
        if rec.get("output") != out_rel or not record or rec.get("status") != "ok":
            continue
        original = rf.records[record["input"]]
        where = f"{file_line['source']}:{original.line}"
        src = mod.sources_of(rf, original, where, rec.get("mentions"))
        result = replay(rec["ops"], src.doc, registry(mod.name), mod.info, None, mod.applier())
        rows[record["output"]] = mod.record_row(rf, src.record, result.text, src.spans, where)
    if keep_originals:
        originals = iter(r.row for r in rf.records)
        rows = [next(originals) if row is None else row for row in rows]
    target = dest / out_rel
    with atomic_path(target, dest) as tmp:
        tmp.write_text(render(rf, rows), encoding=mod.config.get("encoding", "utf-8"), newline="")
    return target


def geometry(log: list[dict[str, Any]], ops: Any, info: dict[str, Any], start: Any) -> Any:
    """The composed geometric transform of a recorded op list (as ``Ctx.track`` builds it while
    running, from ``start``, the modality's identity), for formats that record geometry (DICOM
    spacing and position)."""
    import numpy as np

    matrix = start
    for entry in log:
        if not entry["applied"] or "chain" in entry or entry["op"] == MIX:  # no geometry
            continue
        op = ops[entry["op"]].for_replay()
        m = op.geometry(entry["params"], info)
        if m is not None:
            matrix = np.asarray(m, dtype=np.float64) @ matrix
        info = {**info, **op.out_info(entry["params"], info)}
    return matrix
