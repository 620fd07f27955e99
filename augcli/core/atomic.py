"""Atomic writes (temporary name in the same folder, then rename), confined to their root
folder with no symlink on the way (``core.paths``), and the sweep of leftovers."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from augcli.core.errors import UnsafePath
from augcli.core.paths import check_no_links, relative_parts

TMP_MARK = ".augcli-tmp-"


NAME_MAX = 255  # bytes in one file name (ext4, XFS, Btrfs, tmpfs, APFS, NTFS in UTF-16 units)


def tmp_name(final: Path) -> Path:
    """A temporary sibling of ``final`` that keeps its extension (encoders choose format by
    it): ``<mark><pid>-<final name>``, or, when that would pass ``NAME_MAX``, the final name
    replaced by a hash of it (its last two suffixes kept)."""
    return final.with_name(fit_name(f"{TMP_MARK}{os.getpid()}-", final.name))


def fit_name(prefix: str, name: str) -> str:
    """``prefix + name`` if it fits in ``NAME_MAX`` bytes, else ``prefix`` + a hash of
    ``name`` + its extension (``.png``, ``.nii.gz``; dropped if it is itself long)."""
    whole = prefix + name
    if len(os.fsencode(whole)) <= NAME_MAX:
        return whole
    p = Path(name)
    ext = "".join(p.suffixes[-2:])
    if len(os.fsencode(ext)) > 32:
        ext = p.suffix if len(os.fsencode(p.suffix)) <= 32 else ""
    return f"{prefix}{hashlib.sha256(os.fsencode(name)).hexdigest()[:20]}{ext}"


def _confine(final: Path, root: Path, make: bool) -> None:
    try:
        rel = final.relative_to(root)
    except ValueError:
        raise UnsafePath(f"{final} is outside {root}") from None
    check_no_links(root, relative_parts(rel), make)


@contextlib.contextmanager
def atomic_path(final: Path, root: Path | None) -> Iterator[Path]:
    """Yield a temporary path to write; rename it onto ``final`` on success, delete it on failure.

    With ``root`` (the output folder), ``final`` must lie inside it with no symlink on the way
    (UnsafePath): checked as its folders are made, and again right before the rename. None is
    for a file the user named (a preview sheet), written wherever that is."""
    if root is None:
        final.parent.mkdir(parents=True, exist_ok=True)
    else:
        root.mkdir(parents=True, exist_ok=True)
        _confine(final, root, make=True)
    tmp = tmp_name(final)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # a leftover (or planted link) of that name is never written through
        yield tmp
        if root is not None:
            _confine(final, root, make=False)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sweep_tmp(root: Path) -> int:
    """Delete temporary files an interrupted run left under ``root``; return how many."""
    n = 0
    if not root.is_dir():
        return 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(TMP_MARK):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
                    n += 1
    return n


def write_text_atomic(path: Path, text: str, root: Path | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (inside ``root`` when given)."""
    with atomic_path(path, root) as tmp:
        tmp.write_text(text, encoding="utf-8")
