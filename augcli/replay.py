"""`augcli replay`: re-render a run's outputs from the params its manifest recorded, without
sampling again, into another folder, so a person can check that the manifest is the whole story."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from augcli.engine.atomic import atomic_path, sha256_file
from augcli.engine.manifest import read_manifest, read_run_info
from augcli.errors import UsageError
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
    for rec in read_manifest(manifest).values():
        if rec.get("status") != "ok" or not rec.get("node") or rec.get("record") is not None:
            continue  # originals, failures, and records inside record files are not replayed
        name = rec["modality"]
        if name not in mods:
            section = recipe.sections[name]
            mod = get_modality(name)(section.settings)
            mod.bind(input_root, dest)
            mods[name] = mod
        mod = mods[name]
        source = input_root / rec["source"]
        data = mod.read(source)
        if type(mod).__name__ == "TextModality" and mod.kind(rec["source"]) is not None:
            skipped.append(f"{rec['output']}: record files are not replayed yet")
            continue

        def load(relpath: str, mod: Any = mod) -> Any:
            return mod.read(input_root / relpath)

        result = replay(rec["ops"], data, registry(name), mod.info, load, mod.applier())
        target = dest / rec["output"]
        matrix = geometry(rec["ops"], registry(name), mod.info(data))
        meta = {"matrix": matrix, "ops": rec["ops"], "output": rec["output"], "seed": rec["seed"]}
        with atomic_path(target) as tmp:
            mod.write(result, tmp, source, meta)
        done += 1
        same += sha256_file(target) == rec.get("sha256")
    return done, same, skipped


def geometry(log: list[dict[str, Any]], ops: Any, info: dict[str, Any]) -> Any:
    """The composed geometric transform of a recorded op list (as ``Ctx.track`` builds it while
    running), for formats that record geometry (DICOM spacing and position)."""
    import numpy as np

    matrix = np.eye(3)
    for entry in log:
        if not entry["applied"]:
            continue
        op = ops[entry["op"]].from_recipe({}, "replay")
        m = op.geometry(entry["params"], info)
        if m is not None:
            matrix = np.asarray(m, dtype=np.float64) @ matrix
        info = {**info, **op.out_info(entry["params"], info)}
    return matrix
