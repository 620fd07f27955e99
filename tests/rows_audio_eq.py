"""Contract-table rows for the ops of augcli/audio/eq.py: op name -> recipe params."""

from __future__ import annotations

EQ_ROWS: dict[str, dict] = {}
