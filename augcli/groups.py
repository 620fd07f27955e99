"""The recipe's ``groups`` setting: what one patient (or study) is, so that leakage checks and
output budgets count patients, not files.

``groups: PatientID`` (or ``{attribute: StudyInstanceUID}``): a DICOM attribute of each input.
``groups: {pattern: 'sub-(\\d+)'}``: a regular expression searched in each input's path (the
first capture group names the group, else the whole match), e.g. BIDS ``sub-01/...`` trees.
``groups: {file: patients.csv}``: a mapping file, CSV (``path,group`` rows; a ``path,group``
header is allowed) or JSON (``{"path": "group"}``), paths relative to the input folder.
Without ``groups``, DICOM inputs are grouped by their PatientID when they have one.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augcli.core.errors import RecipeError

DEFAULT_ATTRIBUTE = "PatientID"
KINDS = ("attribute", "pattern", "file")
KEYWORD = re.compile(r"[A-Z][A-Za-z0-9]{1,63}\Z")
FIX = (
    "Write groups: PatientID (a DICOM attribute), groups: {pattern: 'sub-(\\d+)'} (a regular "
    "expression on the path) or groups: {file: patients.csv} (path,group rows)."
)


@dataclass(frozen=True)
class GroupSpec:
    """How inputs are grouped: ``kind`` (attribute, pattern or file), the attribute's
    keyword, the compiled pattern, or the mapping read from the file; ``explicit`` when the
    recipe says so (else the default: DICOM inputs by PatientID)."""

    kind: str = "attribute"
    attribute: str = DEFAULT_ATTRIBUTE
    pattern: re.Pattern[str] | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    explicit: bool = False

    def describe(self) -> str:
        """How the groups were found, for notes: ``PatientID``, ``pattern 'sub-(\\d+)'``..."""
        if self.kind == "pattern" and self.pattern is not None:
            return f"pattern {self.pattern.pattern!r}"
        if self.kind == "file":
            return "the groups file"
        return self.attribute

    def of_path(self, relpath: str) -> str | None:
        """The group a path or mapping gives ``relpath`` (None: not given)."""
        if self.kind == "file":
            return self.mapping.get(relpath)
        if self.kind == "pattern" and self.pattern is not None:
            m = self.pattern.search(relpath)
            if m is None:
                return None
            return m.group(1) if m.re.groups and m.group(1) is not None else m.group(0)
        return None


def parse_groups(raw: Any, base: Path, path: str = "groups") -> GroupSpec:
    """The recipe's ``groups`` (None: the default), paths resolved against ``base``."""
    if raw is None:
        return GroupSpec()
    if isinstance(raw, str):
        return GroupSpec("attribute", _keyword(raw, path), explicit=True)
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in KINDS:
        raise RecipeError("is not a way to group inputs", path=path, value=raw, fix=FIX)
    ((kind, value),) = raw.items()
    where = f"{path}.{kind}"
    if kind == "attribute":
        return GroupSpec("attribute", _keyword(value, where), explicit=True)
    if kind == "pattern":
        return GroupSpec("pattern", pattern=_pattern(value, where), explicit=True)
    return GroupSpec("file", mapping=_mapping(value, base, where), explicit=True)


def _keyword(value: Any, where: str) -> str:
    if not isinstance(value, str) or not KEYWORD.match(value):
        raise RecipeError(
            "must be a DICOM attribute keyword",
            path=where,
            value=value,
            fix="Write e.g. PatientID or StudyInstanceUID (the keyword, not the tag).",
        )
    return value


def _pattern(value: Any, where: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise RecipeError("must be a regular expression", path=where, value=value, fix=FIX)
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise RecipeError(
            f"is not a valid regular expression ({exc})",
            path=where,
            value=value,
            fix="Quote it in single quotes in YAML, e.g. pattern: 'sub-(\\d+)'.",
        ) from None
    if compiled.groups > 1:
        raise RecipeError(
            f"has {compiled.groups} capture groups; at most one names the group",
            path=where,
            value=value,
            fix="Make the others non-capturing: (?:...).",
        )
    return compiled


def _mapping(value: Any, base: Path, where: str) -> dict[str, str]:
    if not isinstance(value, str) or not value:
        raise RecipeError("must be a file path", path=where, value=value, fix=FIX)
    file = base / value
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(
            f"cannot be read ({getattr(exc, 'strerror', None) or exc})",
            path=where,
            value=value,
            fix="Paths resolve against the recipe's folder; the file is UTF-8.",
        ) from None
    if file.suffix.lower() == ".json":
        return _json_mapping(text, str(file), where)
    return _csv_mapping(text, str(file), where)


def _json_mapping(text: str, name: str, where: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(
            f"{name}:{exc.lineno}: is not JSON ({exc.msg})", path=where, value=name
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int) for k, v in data.items()
    ):
        raise RecipeError(
            f"{name}: must be a JSON object of path -> group",
            path=where,
            value=name,
            fix='Write e.g. {"train/a.dcm": "patient-1"}.',
        )
    return {_clean(k): str(v) for k, v in data.items()}


def _csv_mapping(text: str, name: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or (n == 1 and [c.strip().lower() for c in row] == ["path", "group"]):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise RecipeError(
                f"{name}:{n}: a row must be path,group",
                path=where,
                value=",".join(row),
                fix="One input per line: its path relative to the input folder, a comma, its group.",
            )
        key = _clean(row[0])
        if key in out and out[key] != row[1].strip():
            raise RecipeError(
                f"{name}:{n}: {key} is given two groups ({out[key]!r} and {row[1].strip()!r})",
                path=where,
                value=key,
                fix="Give each path one group.",
            )
        out[key] = row[1].strip()
    return out


def _clean(path: str) -> str:
    """A mapping file's path as the scan names inputs: POSIX, no leading ./"""
    p = path.strip().replace("\\", "/")
    return p[2:] if p.startswith("./") else p
