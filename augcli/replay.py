"""`augcli replay`: re-render a run's outputs from the params its manifest recorded, without
sampling again, into another folder, so a person can check that the manifest is the whole story."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from augcli.core.atomic import atomic_path, sha256_file
from augcli.core.errors import UsageError
from augcli.engine.manifest import read_manifest, read_run_info
from augcli.modality import get_modality
from augcli.ops import registry
from augcli.steps import replay


def replay_run(output: Path, dest: Path, recipe: Any) -> tuple[int, int, list[str]]:
    """Replay every augmented file output of ``output`` into ``dest``; return (replayed, equal
    to the original bytes, outputs skipped with the reason)."""
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
    lines = list(read_manifest(manifest).values())

    def modality(name: str) -> Any:
        if name not in mods:
            mods[name] = get_modality(name)(recipe.sections[name].settings)
            mods[name].bind(input_root, dest)
        return mods[name]

    for rec in lines:
        if rec.get("status") == "ok" and "records" in rec:  # a record file, rebuilt whole
            target = replay_records(
                rec, lines, modality(rec["modality"]), input_root, dest, recipe.keep_originals
            )
            done += 1
            same += sha256_file(target) == rec.get("sha256")
        if rec.get("status") != "ok" or not rec.get("node") or rec.get("record") is not None:
            continue  # originals, failures, and records (their file is rebuilt above)
        name = rec["modality"]
        mod = modality(name)
        source = input_root / rec["source"]
        data = mod.read(source)

        def load(relpath: str, mod: Any = mod) -> Any:
            return mod.read(input_root / relpath)

        result = replay(rec["ops"], data, registry(name), mod.info, load, mod.applier())
        target = dest / rec["output"]
        start = mod.applier().identity()
        matrix = geometry(rec["ops"], registry(name), mod.info(data), start)
        meta = {"matrix": matrix, "ops": rec["ops"], "output": rec["output"], "seed": rec["seed"]}
        with atomic_path(target) as tmp:
            mod.write(result, tmp, source, meta)
        done += 1
        same += sha256_file(target) == rec.get("sha256")
    return done, same, skipped


def replay_records(
    file_line: dict[str, Any],
    lines: list[dict[str, Any]],
    mod: Any,
    input_root: Path,
    dest: Path,
    keep_originals: bool,
) -> Path:
    """Rebuild a record file: each augmented record replayed from its ops on the source
    record's text, at its recorded place; kept originals fill the other places in order."""
    from augcli.text.records import render, with_text

    out_rel = file_line["output"]
    rf = mod.record_file(input_root / file_line["source"])
    rows: list[Any] = [None] * file_line["records"]["output"]
    for rec in lines:
        record = rec.get("record")
        if rec.get("output") != out_rel or not record or rec.get("status") != "ok":
            continue
        original = rf.records[record["input"]]
        doc = mod.record_doc(original)
        result = replay(rec["ops"], doc, registry(mod.name), mod.info, None, mod.applier())
        rows[record["output"]] = with_text(rf, original, result.text)
    if keep_originals:
        originals = iter(r.row for r in rf.records)
        rows = [next(originals) if row is None else row for row in rows]
    target = dest / out_rel
    with atomic_path(target) as tmp:
        tmp.write_text(render(rf, rows), encoding=mod.config.get("encoding", "utf-8"), newline="")
    return target


def geometry(log: list[dict[str, Any]], ops: Any, info: dict[str, Any], start: Any) -> Any:
    """The composed geometric transform of a recorded op list (as ``Ctx.track`` builds it while
    running, from ``start``, the modality's identity), for formats that record geometry (DICOM
    spacing and position)."""
    import numpy as np

    matrix = start
    for entry in log:
        if not entry["applied"]:
            continue
        op = ops[entry["op"]].for_replay()
        m = op.geometry(entry["params"], info)
        if m is not None:
            matrix = np.asarray(m, dtype=np.float64) @ matrix
        info = {**info, **op.out_info(entry["params"], info)}
    return matrix
