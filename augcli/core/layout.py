"""The names of augcli's own files in an output folder, shared by the engine (which writes them)
and by the modalities and tools that must recognise or avoid them."""

from __future__ import annotations

from collections.abc import Iterable

MANIFEST = "manifest.jsonl"
RUN_INFO = "run.json"
STATE_DIR = ".augcli"  # augcli's own state in an output folder (the model response cache)
REPORT = "report.html"  # where `augcli report` writes its HTML by default

# augcli's own names at the top of an output folder, and what each one is
RESERVED = {
    MANIFEST: "the run's manifest",
    RUN_INFO: "the run's record",
    STATE_DIR: "augcli's state folder",
    REPORT: "the report `augcli report` writes",
}


def clash(path: str, reserved: Iterable[str]) -> str | None:
    """The reserved name (a POSIX path relative to the output folder) that ``path`` would
    overwrite, sit inside of, or hold, ignoring case (as macOS's file system does); None if
    none."""
    p = path.casefold()
    for name in reserved:
        q = name.casefold()
        if p == q or p.startswith(q + "/") or q.startswith(p + "/"):
            return name
    return None
