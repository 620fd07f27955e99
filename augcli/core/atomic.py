"""Atomic writes (temporary name in the same folder, then rename), confined to their root
folder with no symlink on the way, and the sweep of leftovers."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath

from augcli.core.errors import UnsafePath

TMP_MARK = ".augcli-tmp-"


def tmp_name(final: Path) -> Path:
    """A temporary sibling of ``final`` that keeps its extension (encoders choose format by it)."""
    return final.with_name(f"{TMP_MARK}{os.getpid()}-{final.name}")


def relative_parts(rel: str | PurePath) -> tuple[str, ...]:
    """The components of a path that must stay inside its root: relative, no ``..``, not
    empty, no NUL; raise UnsafePath otherwise."""
    p = PurePath(rel)
    text = str(rel)
    if not text or "\0" in text or p.is_absolute() or p.anchor:
        raise UnsafePath(f"{text!r} is not a path relative to the folder")
    if ".." in p.parts:
        raise UnsafePath(f"{text!r} leaves the folder (it contains '..')")
    return p.parts


def check_no_links(root: Path, parts: tuple[str, ...], make: bool = False) -> None:
    """Each folder from ``root`` down to ``root/parts[:-1]`` is a real folder, not a symlink
    (``make``: missing ones are created, one at a time, so none is made through a link). The
    last part may be anything: a rename replaces a link there instead of following it."""
    cur = root
    for part in parts[:-1]:
        cur = cur / part
        try:
            mode = os.lstat(cur).st_mode
        except FileNotFoundError:
            if not make:
                return  # nothing below exists, so nothing below can be a link
            with contextlib.suppress(FileExistsError):
                os.mkdir(cur)
            mode = os.lstat(cur).st_mode
        if stat.S_ISLNK(mode):
            raise UnsafePath(
                f"{cur} is a symlink; augcli writes only inside {root}, never through a link "
                "(remove the link)"
            )


def inside(root: Path, rel: str | PurePath) -> Path:
    """``root / rel``, refused (UnsafePath) if ``rel`` is absolute, climbs out with ``..`` or
    passes through a symlink: the check for a path read from a manifest before it is written
    or deleted."""
    parts = relative_parts(rel)
    check_no_links(root, parts)
    return root.joinpath(*parts)


def reads_inside(root: Path, rel: str | PurePath, links_outside: bool = False) -> Path:
    """``root / rel`` for reading, refused (UnsafePath) if ``rel`` is absolute or climbs out
    with ``..``, or (unless ``links_outside``) if following its symlinks leaves ``root``."""
    path = root.joinpath(*relative_parts(rel))
    if not links_outside and not path.resolve().is_relative_to(root.resolve()):
        raise UnsafePath(f"{path} is a symlink to {path.resolve()}, outside {root}")
    return path


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
