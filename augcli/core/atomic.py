"""Atomic writes (temporary name in the same folder, then rename) and the sweep of leftovers."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

TMP_MARK = ".augcli-tmp-"


def tmp_name(final: Path) -> Path:
    """A temporary sibling of ``final`` that keeps its extension (encoders choose format by it)."""
    return final.with_name(f"{TMP_MARK}{os.getpid()}-{final.name}")


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path to write; rename it onto ``final`` on success, delete it on failure."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(final)
    try:
        yield tmp
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


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
