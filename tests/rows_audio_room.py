"""Contract-table rows for the ops of augcli/audio/room.py: op name -> recipe params."""

from __future__ import annotations

ROOM_ROWS: dict[str, dict] = {
    "room_simulator": {
        "size_x_m": [3.6, 5.6],
        "size_y_m": [3.6, 3.9],
        "size_z_m": [2.4, 3.0],
        "absorption": [0.1, 0.4],
        "source_mic_distance_m": [1.0, 2.5],
        "max_order": 8,
        "wet": [0.7, 1.0],
    },
    "air_absorption": {"distance_m": [20, 100], "humidity": [30, 90]},
}
