"""`augcli ops`: print the op reference (text, JSON or Markdown) that augcli.opdocs renders."""

from __future__ import annotations

from typing import Annotated

import typer


def ops(
    modality: Annotated[str | None, typer.Option(help="Only this modality (image, ...).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown", help="The Markdown op reference (augcli ops --markdown > docs/OPS.md)."
        ),
    ] = False,
) -> None:
    """List every op with its parameters, defaults, ranges and units."""
    from augcli.opdocs import describe_ops, ops_json, ops_markdown, ops_text
    from augcli.ops import modalities

    names = modalities()
    if modality is not None and modality not in names:
        typer.echo(
            f"augcli: error: --modality: unknown modality {modality!r}. "
            f"Use one of: {', '.join(names)}.",
            err=True,
        )
        raise typer.Exit(2)
    if as_json and markdown:
        typer.echo("augcli: error: use --json or --markdown, not both.", err=True)
        raise typer.Exit(2)
    described = describe_ops(modality)
    if as_json:
        typer.echo(ops_json(described))
    elif markdown:
        typer.echo(ops_markdown(described), nl=False)
    else:
        typer.echo(ops_text(described))
