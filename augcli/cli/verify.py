"""`augcli verify`: check an output folder against its manifest's checksums."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from augcli.cli.common import fail


def verify(
    output: Annotated[Path, typer.Argument(help="An output folder of augcli expand.")],
) -> None:
    """Check every file against the manifest's checksums; list missing, changed and extra files,
    and inputs changed since their outputs were made (when the input folder is here).

    Exit 0 when everything matches, 1 when something does not, 2 when there is no manifest.
    """
    from augcli.core.errors import AugcliError
    from augcli.verify import verify as run_verify

    try:
        verdict = run_verify(output)
    except AugcliError as exc:
        raise fail(exc, exc.exit_code) from None
    for kind, paths in (
        ("missing", verdict.missing),
        ("changed", verdict.changed),
        ("extra", verdict.extra),
        ("source changed", verdict.sources_changed),
    ):
        for rel in paths:
            typer.echo(f"{kind}: {rel}")
    typer.echo(
        f"verified {verdict.checked} files: {len(verdict.missing)} missing, "
        f"{len(verdict.changed)} changed, {len(verdict.extra)} extra"
        + (f", {len(verdict.sources_changed)} inputs changed" if verdict.sources_changed else "")
        + (
            f"; {verdict.sources_hashed} inputs named by salted hash (manifest.hash_sources) "
            "were not checked for changes"
            if verdict.sources_hashed
            else ""
        )
    )
    raise typer.Exit(0 if verdict.ok else 1)
