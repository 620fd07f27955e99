"""Near-duplicate text for the dataset checks: records (or documents) with the same text once
case, punctuation and spacing are ignored."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from augcli.core.errors import InputError
from augcli.core.findings import Finding

MAX_GROUPS = 5  # groups listed per warning
_SPACE = re.compile(r"\s+")


def _more(total: int) -> str:
    return f" (and {total - MAX_GROUPS} more)" if total > MAX_GROUPS else ""


def normalise_text(text: str) -> str:
    """Casefolded, punctuation removed, whitespace collapsed."""
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text.casefold())
    return _SPACE.sub(" ", kept).strip()


def near_duplicate_text(
    relpaths: list[str], root: Path, entries: Callable[[Path, str], Iterable[tuple[str, int]]]
) -> list[Finding]:
    """The finding about groups of records with the same normalised text; ``entries`` gives a
    file's (text, line) pairs. A file that cannot be parsed gets a warning of its own, with its
    line (the run fails it); an unreadable one is left to the run to report."""
    seen: dict[str, list[str]] = defaultdict(list)
    broken: list[Finding] = []
    for rel in relpaths:
        try:
            found = list(entries(root / rel, rel))
        except InputError as exc:
            broken.append(Finding("will_fail", f"text: {rel} will fail: {exc}", "text", (rel,)))
            continue
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        for text, line in found:
            key = normalise_text(text)
            if key:
                seen[key].append(f"{rel}:{line}")
    groups = [places for places in seen.values() if len(places) > 1]
    if not groups:
        return broken
    listed = "; ".join(", ".join(g) for g in groups[:MAX_GROUPS])
    files = tuple(sorted({place.rpartition(":")[0] for g in groups for place in g}))
    return [
        *broken,
        Finding(
            "near_duplicates",
            f"text: {len(groups)} group(s) of duplicate records (same text after ignoring "
            f"case, punctuation and spacing): {listed}{_more(len(groups))}",
            "text",
            files,
        ),
    ]
