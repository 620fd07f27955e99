"""The command line: the Typer app, one module per command, and the console entry point.
Parses options and maps errors to messages and exit codes; imports nothing heavy."""

from __future__ import annotations

import sys

import typer

from augcli.cli import expand, init, ops, preview, replay, report, schema, validate, verify
from augcli.cli.common import root

__all__ = ["app", "main"]

app = typer.Typer(
    name="augcli",
    help="Grow a small image, text or audio dataset from one YAML recipe, reproducibly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.callback()(root)
# In this order in `augcli --help`.
for _command in (
    expand.expand,
    validate.validate,
    preview.preview,
    ops.ops,
    report.report,
    verify.verify,
    schema.schema,
    init.init,
    replay.replay,
):
    app.command()(_command)


def main() -> None:
    """Console entry point: run the app; Ctrl-C exits 130."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
