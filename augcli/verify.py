"""`augcli verify`: check an output folder against its manifest: every written file present with
the recorded sha256, and nothing there that the run did not write."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from augcli.core.atomic import sha256_file
from augcli.core.errors import UsageError
from augcli.core.layout import MANIFEST, RUN_INFO, STATE_DIR
from augcli.core.records import side_files
from augcli.core.salted import HASHED
from augcli.engine import resume
from augcli.engine.manifest import read_manifest, read_run_info, run_files
from augcli.modality import get_modality


@dataclass
class Verdict:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    sources_changed: list[str] = field(default_factory=list)  # inputs edited since the run
    sources_hashed: int = 0  # inputs named by salted hash (hash_sources): not checked

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra or self.sources_changed)


def verify(out: Path) -> Verdict:
    """Compare ``out`` with its manifest (files with a checksum are hashed again)."""
    if not (out / MANIFEST).is_file():
        raise UsageError(f"{out}: no {MANIFEST}; run augcli expand first")
    known = {MANIFEST, RUN_INFO, "report.html"}
    verdict = Verdict()
    for rel, digest in run_files(read_run_info(out)).items():  # COCO document, classes.txt
        _check(out, rel, digest, verdict, known)
    for rec in read_manifest(out / MANIFEST).values():
        if rec.get("status") != "ok" or not rec.get("output"):
            continue
        files = rec.get("files") if isinstance(rec.get("files"), dict) else {}
        for rel in side_files(rec):  # mask, annotation sidecar, transcript sidecars
            _check(out, rel, files.get(rel), verdict, known)
        if rec.get("record") is None:  # a record of a record file: the file's line checks it
            _check(out, rec["output"], rec.get("sha256"), verdict, known)
    for dirpath, dirs, files in os.walk(out):
        if Path(dirpath) == out and STATE_DIR in dirs:
            dirs.remove(STATE_DIR)  # augcli's own state (the model response cache)
        for name in files:
            rel = (Path(dirpath) / name).relative_to(out).as_posix()
            if rel not in known:
                verdict.extra.append(rel)
    verdict.extra.sort()
    verdict.sources_changed = changed_sources(out)
    verdict.sources_hashed = len(
        {r["source"] for r in read_manifest(out / MANIFEST).values() if HASHED.match(r["source"])}
    )
    return verdict


def _check(out: Path, rel: str, digest: str | None, verdict: Verdict, known: set[str]) -> None:
    """One listed file: there, and with its recorded sha256 (when one was recorded)."""
    if rel in known:
        return
    known.add(rel)
    verdict.checked += 1
    path = out / rel
    if not path.is_file():
        verdict.missing.append(rel)
    elif digest and sha256_file(path) != digest:
        verdict.changed.append(rel)


def changed_sources(out: Path) -> list[str]:
    """Inputs (under the run's input folder, from run.json) whose digest is no longer the one
    their outputs were made from, or that are gone; none when the input folder is not here.
    Every input is hashed again (no size/mtime shortcut: this is a check)."""
    root = Path((read_run_info(out) or {}).get("input") or "")
    if not root.is_dir():
        return []
    ok = [
        r
        for r in read_manifest(out / MANIFEST).values()
        if r.get("status") == "ok" and not HASHED.match(r["source"])  # hashed: not findable
    ]
    changed = resume.changed_sources(root, ok, lambda m, path: get_modality(m).digest(path))
    return sorted(changed)
