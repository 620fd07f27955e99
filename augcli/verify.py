"""`augcli verify`: check an output folder against its manifest: every written file present with
the recorded sha256, and nothing there that the run did not write."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from augcli.core.atomic import sha256_file
from augcli.core.errors import UsageError
from augcli.core.layout import MANIFEST, RUN_INFO, STATE_DIR
from augcli.engine import resume
from augcli.engine.manifest import read_manifest, read_run_info, side_files
from augcli.modality import get_modality


@dataclass
class Verdict:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    sources_changed: list[str] = field(default_factory=list)  # inputs edited since the run

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra or self.sources_changed)


def verify(out: Path) -> Verdict:
    """Compare ``out`` with its manifest (files with a checksum are hashed again)."""
    if not (out / MANIFEST).is_file():
        raise UsageError(f"{out}: no {MANIFEST}; run augcli expand first")
    known = {MANIFEST, RUN_INFO, "report.html", *(read_run_info(out) or {}).get("files", [])}
    verdict = Verdict()
    for rec in read_manifest(out / MANIFEST).values():
        if rec.get("status") != "ok" or not rec.get("output"):
            continue
        known.update(side_files(rec))
        if rec.get("record") is not None:  # a record of a record file: the file's line checks it
            continue
        known.add(rec["output"])
        path = out / rec["output"]
        verdict.checked += 1
        if not path.is_file():
            verdict.missing.append(rec["output"])
        elif rec.get("sha256") and sha256_file(path) != rec["sha256"]:
            verdict.changed.append(rec["output"])
    for dirpath, dirs, files in os.walk(out):
        if Path(dirpath) == out and STATE_DIR in dirs:
            dirs.remove(STATE_DIR)  # augcli's own state (the model response cache)
        for name in files:
            rel = (Path(dirpath) / name).relative_to(out).as_posix()
            if rel not in known:
                verdict.extra.append(rel)
    verdict.extra.sort()
    verdict.sources_changed = changed_sources(out)
    return verdict


def changed_sources(out: Path) -> list[str]:
    """Inputs (under the run's input folder, from run.json) whose digest is no longer the one
    their outputs were made from, or that are gone; none when the input folder is not here.
    Every input is hashed again (no size/mtime shortcut: this is a check)."""
    root = Path((read_run_info(out) or {}).get("input") or "")
    if not root.is_dir():
        return []
    ok = [r for r in read_manifest(out / MANIFEST).values() if r.get("status") == "ok"]
    changed = resume.changed_sources(root, ok, lambda m, path: get_modality(m).digest(path))
    return sorted(changed)
