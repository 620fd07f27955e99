"""Walk the input tree: which files belong to which modality, and their class label."""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from augcli.core.findings import Finding
from augcli.core.paths import OUTSIDE_FIX, file_kind
from augcli.modality import get_modality
from augcli.recipe import Section

MAX_WARNINGS = 20  # skipped files and folders shown; the rest are counted


@dataclass(frozen=True, slots=True)  # slots: a million of them are held for a whole run
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
        kind = get_modality(section.modality)
        self.accepts, self.inspects, self.inspect = kind.accepts, kind.inspects, kind.inspect
        self.include = [glob_regex(g) for g in section.include] if section.include else None
        self.exclude = [glob_regex(g) for g in section.exclude]

    def allowed(self, relpath: str) -> bool:
        """Not excluded, and included when the section names what it includes."""
        if any(rx.match(relpath) for rx in self.exclude):
            return False
        return self.include is None or any(rx.match(relpath) for rx in self.include)

    def __call__(self, relpath: str) -> bool:
        if not self.allowed(relpath):
            return False
        return self.include is not None or self.accepts(relpath)


def _match(matchers: list[_Matcher], root: Path, rel: str) -> tuple[str | None, _Matcher | None]:
    """Who takes a file: a section whose modality inspects it by content first ('input';
    'folder': an input standing for its folder's files; 'part': read with one of its inputs),
    then the first section that takes it by name."""
    for m in matchers:
        if m.inspects(rel) and m.allowed(rel):
            role = m.inspect(root, rel)
            if role is not None:
                return role, m
    match = next((m for m in matchers if m(rel)), None)
    return ("input" if match is not None else None), match


@dataclass
class Scan:
    """What a walk of the input tree found."""

    inputs: list[InputFile]  # sorted by path
    ignored: int  # files no section took (side files a modality reads with its inputs aside)
    skipped: list[str] = field(default_factory=list)  # "<path>: <why>", left out with a warning

    def warnings(self, most: int = MAX_WARNINGS) -> list[Finding]:
        """The skips as findings (the first ``most``, then how many more)."""
        out = [Finding("skipped", f"skipped {line}") for line in self.skipped[:most]]
        if len(self.skipped) > most:
            more = f"... and {len(self.skipped) - most} more files or folders skipped"
            out.append(Finding("skipped", more))
        return out


def scan(
    root: Path,
    sections: dict[str, Section],
    skip: list[Path] | None = None,
    links_outside: bool = False,
    claims: Callable[[str], bool] | None = None,
) -> Scan:
    """The inputs under ``root`` (sorted by path), how many files no section took, and what
    was left out with a warning.

    Hidden files and folders (starting with '.') are skipped, and so are the ``skip`` folders
    (side files such as masks). Only regular files are inputs (a FIFO, device or socket is
    never opened). Symlinks, to files or folders, are followed when their target is inside
    ``root`` (anywhere with ``links_outside``); a loop, or a second link to a folder walked
    through a link already, is not. A name that is not valid UTF-8, or a folder that cannot
    be read, is skipped. Every skip is recorded in ``Scan.skipped``, never silent. A file no
    section takes is ignored unless ``claims`` says a modality reads it with its inputs (a label
    sidecar, ``classes.txt``)."""
    matchers = [_Matcher(s) for s in sections.values()]
    walk = _Walk(root, skip or [], links_outside)
    found: list[InputFile] = []
    ignored = 0
    for rel, entry in walk.files():
        role, match = _match(matchers, root, rel)
        if match is None:
            ignored += not (claims is not None and claims(rel))
        elif role in ("input", "folder") and walk.usable(rel, entry):
            rel_dir = rel.rpartition("/")[0]
            if role == "folder":  # an input standing for its folder: the class is the one above
                rel_dir = rel_dir.rpartition("/")[0]
            label = sys.intern(rel_dir.rpartition("/")[2]) if rel_dir else None
            found.append(InputFile(sys.intern(rel), match.modality, label))  # one copy per name
    found.sort(key=lambda f: f.relpath)
    return Scan(found, ignored, walk.skipped)


def _shown(rel: str) -> str:
    """A path for a message: bytes that are not UTF-8 shown as ``\\xe9``."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


class _Walk:
    """A sorted walk of the input tree that records every file or folder it leaves out."""

    def __init__(self, root: Path, skip: list[Path], links_outside: bool) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.skip = [p.resolve() for p in skip]
        self.links_outside = links_outside
        self.linked: set[Path] = set()  # real folders walked through a link already
        self.skipped: list[str] = []

    def files(self) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """(relpath, entry) of every non-hidden entry that is not a folder; folders (and
        links to folders that may be followed) are walked, in sorted order."""
        stack: list[tuple[str, str]] = [("", str(self.root))]
        while stack:
            rel, path = stack.pop()
            subdirs = []
            for entry in self._entries(rel, path):
                sub = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not self._skipped(Path(entry.path).resolve()) and self._named(sub):
                        subdirs.append((sub, entry.path))
                elif entry.is_symlink() and _is_dir(entry):
                    if self._named(sub) and self._follow(sub, entry):
                        subdirs.append((sub, entry.path))
                else:
                    yield sub, entry
            stack.extend(reversed(subdirs))

    def _skipped(self, real: Path) -> bool:
        """Inside a side-file folder (``skip``): not inputs, and not worth a warning."""
        return any(real.is_relative_to(s) for s in self.skip)

    def _entries(self, rel: str, path: str) -> list[os.DirEntry[str]]:
        """A folder's non-hidden entries, sorted; an unreadable folder is recorded as skipped
        with its reason."""
        try:
            with os.scandir(path) as it:
                return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            self.skipped.append(f"{_shown(rel or '.')}/: the folder cannot be read ({why})")
            return []

    def _named(self, rel: str) -> bool:
        """Whether a name is valid UTF-8 (every file augcli writes holds names as UTF-8);
        otherwise it is recorded as skipped, with the fix."""
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            self.skipped.append(
                f"{_shown(rel)}: the name is not valid UTF-8 (augcli's manifest and annotation "
                "files are UTF-8); rename it, e.g. convmv -f latin1 -t utf8 --notest"
            )
            return False
        return True

    def _follow(self, rel: str, entry: os.DirEntry[str]) -> bool:
        """Whether to walk a symlink to a folder: not if it leaves the input (unless allowed),
        holds itself (a loop), or leads where another link led (recorded as skipped)."""
        target = Path(entry.path).resolve()
        if self._skipped(target) or self._outside(rel, target):
            return False
        if Path(entry.path).parent.resolve().is_relative_to(target):
            self.skipped.append(f"{rel}/: a symlink to {target}, which holds it (a loop)")
            return False
        if target in self.linked:
            self.skipped.append(f"{rel}/: a symlink to {target}, walked already through a link")
            return False
        self.linked.add(target)
        return True

    def _outside(self, rel: str, target: Path) -> bool:
        """A link whose target leaves the input folder (recorded as skipped) unless allowed."""
        if self.links_outside or target.is_relative_to(self.real_root):
            return False
        self.skipped.append(
            f"{rel}: a symlink to {target}, outside the input folder ({OUTSIDE_FIX})"
        )
        return True

    def usable(self, rel: str, entry: os.DirEntry[str]) -> bool:
        """Whether a file a section takes may be read: a regular file, or a link to one that
        stays inside the input folder; otherwise it is recorded as skipped (never opened)."""
        if not self._named(rel):
            return False
        link = entry.is_symlink()
        if not link and entry.is_file(follow_symlinks=False):
            return True  # the common case, known from the folder listing alone
        try:
            mode = entry.stat().st_mode  # follows a link
        except OSError as exc:
            self.skipped.append(f"{rel}: {'a broken symlink' if link else exc.strerror}")
            return False
        if link:
            target = Path(entry.path).resolve()
            if self._skipped(target) or self._outside(rel, target):
                return False
        if not stat.S_ISREG(mode):
            self.skipped.append(f"{rel}: {file_kind(mode)}, not a regular file; never opened")
            return False
        return True


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether a symlink leads to a folder (False when it is broken)."""
    try:
        return entry.is_dir()
    except OSError:
        return False
