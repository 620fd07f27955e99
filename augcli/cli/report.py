"""`augcli report`: summarise an expanded dataset and write its HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from augcli.cli.common import fail


def report(
    output_dir: Annotated[
        Path, typer.Argument(help="An output folder written by augcli expand.", show_default=False)
    ],
    html: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Where to write the HTML report (default: OUTPUT_DIR/report.html)."
        ),
    ] = None,
) -> None:
    """Summarise an expanded dataset from its manifest: counts per modality and class, how often
    each op fired, failures by reason. Prints the summary and writes a self-contained
    report.html with charts.

    Exit codes: 0 written, 2 no readable manifest.
    """
    from augcli.report import ReportError, build, text, write_html

    try:
        rep = build(output_dir)
    except ReportError as exc:
        raise fail(exc) from None
    target = html if html is not None else output_dir / "report.html"
    try:
        write_html(rep, target)
    except OSError as exc:
        raise fail(
            ValueError(f"{target}: cannot write the report ({exc.strerror or exc})")
        ) from None
    typer.echo(text(rep))
    typer.echo(f"\nhtml: {target}")
