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
            "--modality",
            "-m",
            help="image, text, audio or volume; repeat for several (default: image).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the recipe here (never over an existing file)."),
    ] = None,
) -> None:
    """Print (or write) a commented starter recipe that validates: edit input/output and go.
    With --output, its input folder (input/, beside the recipe) is made too, so that
    `augcli validate` passes at once; put your files in input/<class>/.

    Exit codes: 0 written, 2 unknown modality, the --output file already exists, or input/
    cannot be made.
    """
    from augcli.starter import INPUT, MODALITIES, starter_recipe

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
    folder = output.parent / INPUT
    if folder.exists() and not folder.is_dir():
        raise fail(ValueError(f"{folder}: exists and is not a folder; the starter reads {INPUT}/"))
    try:
        with output.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise fail(ValueError(f"{output}: already exists; not overwriting it")) from None
    except OSError as exc:
        raise fail(ValueError(f"{output}: cannot write ({exc.strerror or exc})")) from None
    made = _make_folder(folder)
    typer.echo(
        f"wrote {output}{made}; put your files in {folder}/ (a subfolder per class), then "
        f"check with: augcli validate {output}",
        err=True,
    )


def _make_folder(folder: Path) -> str:
    """Make the recipe's input folder if it is missing; what was made, for the message."""
    if folder.is_dir():
        return ""
    try:
        folder.mkdir()
    except OSError as exc:
        raise fail(
            ValueError(f"{folder}: cannot make the input folder ({exc.strerror or exc})")
        ) from None
    return f" and the empty folder {folder}/"
