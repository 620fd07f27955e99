"""Contract-table rows for the ops of augcli/audio/dynamics.py: op name -> recipe params."""

from __future__ import annotations

DYNAMICS_ROWS: dict[str, dict] = {}
