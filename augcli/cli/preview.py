"""`augcli preview`: render contact sheets of what expand would write, writing only those."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from augcli.cli.common import InputOpt, RecipeArg, SeedOpt, fail, load


def preview(
    recipe: RecipeArg,
    n: Annotated[
        int,
        typer.Option(
            "-n",
            "--augmented",
            min=1,
            help="Augmented versions per input: copies 0..N-1 (a graph cycles through its "
            "emitting nodes).",
        ),
    ] = 4,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="The PNG contact sheet (default: ./augcli-preview.png); never inside the "
            "recipe's input or output folder.",
        ),
    ] = None,
    per_class: Annotated[
        int, typer.Option(min=1, help="Inputs shown per class: the first K by path.")
    ] = 2,
    draw_annotations: Annotated[
        bool,
        typer.Option(
            "--draw-annotations",
            help="Draw boxes, keypoints and masks as they would be written (needs masks: or "
            "boxes: in the image section), and the outlines of volumes' label maps (needs "
            "labels: in the volume section).",
        ),
    ] = False,
    input: InputOpt = None,
    seed: SeedOpt = None,
) -> None:
    """Render a contact sheet of the image section: per class, the first K inputs, each with
    the N augmented versions expand would write for it, captioned with the ops that fired.
    An audio section gets a sheet of waveforms and spectrograms, with the clips in a folder
    beside it; a text section an HTML page (and plain text here) with changed words marked.
    Writes only these, and prints their paths.

    Exit codes: 0 written, 1 written with failed outputs (red tiles), 2 recipe/usage error.
    """
    from augcli.core.errors import AugcliError
    from augcli.preview import PreviewOptions, preview_all

    def log(msg: str) -> None:
        typer.echo(msg, err=True)

    try:
        r = load(recipe, seed)
        opts = PreviewOptions(n, per_class, output, draw_annotations, input)
        paths, failed = preview_all(r, opts, log, typer.echo)
    except AugcliError as exc:
        raise fail(exc, exc.exit_code) from None
    for line in failed[:10]:
        log(f"augcli: failed: {line}")
    if len(failed) > 10:
        log(f"augcli: ... and {len(failed) - 10} more failures (shown on the sheet)")
    for path in paths:
        typer.echo(str(path))
    raise typer.Exit(1 if failed else 0)
