"""Contract-table rows for the ops of augcli/audio/shape.py: op name -> recipe params."""

from __future__ import annotations

SHAPE_ROWS: dict[str, dict] = {}
