"""Contract-table rows for the ops of augcli/audio/room.py: op name -> recipe params."""

from __future__ import annotations

ROOM_ROWS: dict[str, dict] = {}
