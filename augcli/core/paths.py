"""Paths that stay inside their root folder: the checks before augcli writes or deletes a
path (no ``..``, no symlink on the way) and before it reads a file beside an input (a regular
file, inside the folder unless the recipe follows links out)."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path, PurePath

from augcli.core.errors import InputError, UnsafePath

OUTSIDE_FIX = "the recipe's 'follow_symlinks: outside' follows such links"


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
    real = path.resolve()
    if not links_outside and not real.is_relative_to(root.resolve()):
        raise UnsafePath(f"{path} is a symlink to {real}, outside {root} ({OUTSIDE_FIX})")
    return path


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message ("a FIFO", ...)."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def side_file(path: Path, root: Path, links_outside: bool = False) -> Path | None:
    """``path`` if it is a regular file (a link to one inside ``root``, anywhere with
    ``links_outside``); None if nothing is there. Anything else there (a FIFO, a device, a
    broken link, a link out of ``root``) is an InputError: the input it belongs to fails with
    the reason, instead of being read without it or blocking on it."""
    if not os.path.lexists(path):
        return None
    try:
        mode = os.stat(path).st_mode  # follows a link
    except OSError as exc:
        raise InputError(
            f"{path}: {'a broken symlink' if path.is_symlink() else exc.strerror}"
        ) from None
    real = path.resolve()
    if not links_outside and not real.is_relative_to(root.resolve()):
        raise InputError(f"{path} is a symlink to {real}, outside {root} ({OUTSIDE_FIX})")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path} is {file_kind(mode)}, not a regular file; it was not opened")
    return path
