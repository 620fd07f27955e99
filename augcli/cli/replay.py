"""`augcli replay`: re-render a run's outputs from its manifest and compare them byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from augcli.cli.common import RecipeArg, fail, load


def replay(
    recipe: RecipeArg,
    output: Annotated[
        Path | None, typer.Option(help="The run's output folder (default: the recipe's).")
    ] = None,
    to: Annotated[Path, typer.Option("--to", help="Where to write the replayed files.")] = Path(
        "augcli-replay"
    ),
) -> None:
    """Re-render a run's outputs from the params in its manifest, without sampling again, and
    report how many are byte-identical to the files the run wrote. Exit 1 if any differ, or
    if a manifest path that would leave the folders was skipped."""
    from augcli.core.errors import AugcliError
    from augcli.params import resources_unchecked
    from augcli.replay import replay_run

    try:
        with resources_unchecked():  # recorded params need no model, endpoint or key
            r = load(recipe)
        folder = output or r.output
        if folder is None:
            raise AugcliError("no output folder: pass --output DIR")
        done, same, skipped = replay_run(folder.resolve(), to, r)
    except AugcliError as exc:
        raise fail(exc, exc.exit_code) from None
    for line in skipped:
        typer.echo(f"skipped: {line}")
    typer.echo(f"replayed {done} outputs into {to}: {same} byte-identical, {done - same} differ")
    raise typer.Exit(0 if same == done and not skipped else 1)
