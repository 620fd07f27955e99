"""Error types that carry where a problem is, what it is, the bad value and how to fix it."""

from __future__ import annotations

import errno
from typing import Any


def show(value: Any) -> str:
    """Render a bad value for a message: short, and YAML-like for lists."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class AugcliError(Exception):
    """Base class: a problem that is reported to the user as a message, never a traceback."""

    exit_code = 2


class UsageError(AugcliError):
    """A bad command-line option or environment: exit code 2."""


class StrictFailure(AugcliError):
    """``--strict``: the checks found problems in the dataset (exit code 3, nothing written);
    ``findings`` are the problems, one ``warning: ...`` line each."""

    exit_code = 3

    def __init__(self, findings: list[Any]) -> None:
        self.findings = findings
        kinds = sorted({f.kind for f in findings})
        super().__init__(
            f"--strict: {len(findings)} dataset finding(s) of kind {', '.join(kinds)}; "
            "nothing was written. Fix the inputs or the recipe, or accept a kind with "
            f"--allow KIND (e.g. --allow {kinds[0]})"
        )


class OutputError(AugcliError):
    """The output folder cannot be written (read-only, full, no permission): the run stops
    cleanly (exit 2) and a later run resumes once the folder is writable."""


class ExecutorLost(AugcliError):
    """Where the tasks run went away mid-run (a Dask scheduler stopped answering): the run stops
    cleanly (exit 2), the manifest keeps what was done, and a later run resumes."""


class Unavailable(AugcliError):
    """A service the run needs stopped answering (a model endpoint refusing connections, a name
    that no longer resolves): no other input would do better, so the run stops cleanly (exit 2)
    after the first task's retries, the manifest keeps what was done, and a later run resumes."""


# errno values that no other input would avoid: the output folder itself cannot take writes
OUTPUT_UNWRITABLE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def output_unwritable(exc: BaseException) -> bool:
    """Whether a write failed because of the output folder (full, read-only), not the output."""
    return isinstance(exc, OSError) and exc.errno in OUTPUT_UNWRITABLE


class RecipeError(AugcliError):
    """A recipe problem found before any input is read.

    Rendered as ``<file>:<line>: <yaml.path>: <what>; got <value>. <fix>``.
    """

    def __init__(
        self,
        what: str,
        *,
        path: str = "",
        value: Any = ...,
        fix: str = "",
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.what = what
        self.path = path
        self.value = value
        self.fix = fix
        self.file = file
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.path:
            where.append(self.path)
        msg = ": ".join([*where, self.what])
        if self.value is not ...:
            msg += f"; got {show(self.value)}"
        msg += "."
        if self.fix:
            msg += f" {self.fix}"
        return msg

    def located(self, file: str, line: int | None) -> RecipeError:
        """Return a copy that names the recipe file and line (kept if already set)."""
        return RecipeError(
            self.what,
            path=self.path,
            value=self.value,
            fix=self.fix,
            file=self.file or file,
            line=self.line if self.line is not None else line,
        )


class InputError(Exception):
    """A per-file problem (unreadable, undecodable, unsupported): the file fails, the run goes on."""


class UnsafePath(InputError):
    """A path that would leave its root folder (absolute, ``..``) or pass through a symlink:
    augcli never writes, deletes or replays there."""
