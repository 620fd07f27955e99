"""Walk the input tree: which files belong to which modality, and their class label."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from augcli.modality import get_modality
from augcli.recipe import Section


@dataclass(frozen=True)
class InputFile:
    relpath: str  # POSIX, relative to the input root
    modality: str
    label: str | None  # the folder holding the file, or None at the root


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``*`` and ``?`` stay within a folder, ``**/`` spans folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class _Matcher:
    def __init__(self, section: Section) -> None:
        self.modality = section.modality
        self.accepts = get_modality(section.modality).accepts
        self.include = [glob_regex(g) for g in section.include] if section.include else None
        self.exclude = [glob_regex(g) for g in section.exclude]

    def __call__(self, relpath: str) -> bool:
        if any(rx.match(relpath) for rx in self.exclude):
            return False
        if self.include is not None:
            return any(rx.match(relpath) for rx in self.include)
        return self.accepts(relpath)


def scan(
    root: Path, sections: dict[str, Section], skip: list[Path] | None = None
) -> tuple[list[InputFile], int]:
    """Return the inputs (sorted by path) and how many files no section took.

    Hidden files and folders (starting with '.') are skipped, and so are the ``skip`` folders
    (side files such as masks); symlinked folders are not followed."""
    matchers = [_Matcher(s) for s in sections.values()]
    skipped = {p.resolve() for p in skip or []}
    found: list[InputFile] = []
    ignored = 0
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and (Path(dirpath) / d).resolve() not in skipped
        )
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in sorted(files):
            if name.startswith("."):
                continue
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            for match in matchers:
                if match(rel):
                    label = None if rel_dir == "." else Path(rel_dir).name
                    found.append(InputFile(rel, match.modality, label))
                    break
            else:
                ignored += 1
    found.sort(key=lambda f: f.relpath)
    return found, ignored
