"""The command line: the Typer app, one module per command, and the console entry point.
Parses options and maps errors to messages and exit codes; imports nothing heavy."""

from __future__ import annotations

import os
import sys

import typer

from augcli.cli import expand, init, ops, preview, replay, report, schema, validate, verify
from augcli.cli.common import root

__all__ = ["app", "main"]

app = typer.Typer(
    name="augcli",
    help="Grow a small image, volume (CT/MRI), text or audio dataset from one YAML recipe, "
    "reproducibly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,  # main() reports an unexpected error, without a traceback
    rich_markup_mode=None,  # plain help: rich's formatter alone doubles the start-up time
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


EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in augcli, not in the recipe or the data


def main() -> None:
    """Console entry point: run the app; Ctrl-C exits 130. An error no check foresaw is a bug:
    one line saying so (set AUGCLI_TRACEBACK=1 for the traceback), exit 70, never a trace."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("AUGCLI_TRACEBACK"):
            raise
        print(
            f"augcli: internal error: {type(exc).__name__}: {exc}. This is a bug in augcli; "
            "please report it with the command and the recipe (AUGCLI_TRACEBACK=1 shows where).",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERNAL)
