"""A section's ``folders: {name: dir}``: named folders of files that ops draw from (audio's
noises and rooms, images' references), read at recipe load and checked, so a run never
starts with a folder it cannot use."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from augcli.core.errors import RecipeError


def named_folders(
    raw: Any, path: str, base: Path, extensions: Iterable[str], what: str, example: str
) -> dict[str, tuple[str, ...]]:
    """Each named folder's files with one of ``extensions`` (recursively, sorted, absolute);
    folders resolve against ``base`` (the recipe's folder). ``what`` names the files in errors
    ("audio files"), ``example`` is a fix to show (``{noise: ../noises}``)."""
    if not isinstance(raw, dict):
        raise RecipeError(
            "must map names to folders", path=path, value=raw, fix=f"Write e.g. folders: {example}."
        )
    exts = tuple(extensions)
    out = {}
    for name, value in raw.items():
        where = f"{path}.{name}"
        if not isinstance(value, str) or not (base / value).is_dir():
            raise RecipeError(
                "is not a folder",
                path=where,
                value=value,
                fix="Paths resolve against the recipe file.",
            )
        root = (base / value).resolve()
        files = sorted(str(p) for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts)
        if not files:
            raise RecipeError(
                f"holds no {what}",
                path=where,
                value=value,
                fix=f"Put {', '.join(exts)} files in it.",
            )
        out[str(name)] = tuple(files)
    return out


def pick(folders: dict[str, tuple[str, ...]], name: str, op: str, section: str) -> tuple[str, ...]:
    """The files of folder ``name`` for ``op``; an unknown name is the input's error (the op's
    folder is a plain string, checked against the section when it runs)."""
    from augcli.core.errors import InputError

    if name not in folders:
        raise InputError(
            f"{op} names folder {name!r}, which {section}.folders does not define "
            f"(it has: {', '.join(folders) or 'none'}); add e.g. folders: {{{name}: path/to/dir}}"
        )
    return folders[name]
