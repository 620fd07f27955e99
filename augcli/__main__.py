"""`python -m augcli` runs the CLI."""

from augcli.cli import main

main()
