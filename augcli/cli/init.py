"""`augcli init`: print or write a commented starter recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from augcli.cli.common import fail


def init(
    modality: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Option(
            "--modality", "-m", help="image, text or audio; repeat for several (default: image)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the recipe here (never over an existing file)."),
    ] = None,
) -> None:
    """Print (or write) a commented starter recipe that validates: edit input/output and go.

    Exit codes: 0 written, 2 unknown modality or the --output file already exists.
    """
    from augcli.starter import MODALITIES, starter_recipe

    chosen = modality or ["image"]
    for m in chosen:
        if m not in MODALITIES:
            typer.echo(
                f"augcli: error: --modality: unknown modality {m!r}. "
                f"Use one of: {', '.join(MODALITIES)}.",
                err=True,
            )
            raise typer.Exit(2)
    text = starter_recipe(chosen, output.name if output is not None else "recipe.yaml")
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        with output.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise fail(ValueError(f"{output}: already exists; not overwriting it")) from None
    except OSError as exc:
        raise fail(ValueError(f"{output}: cannot write ({exc.strerror or exc})")) from None
    typer.echo(f"wrote {output}; check it with: augcli validate {output}", err=True)
