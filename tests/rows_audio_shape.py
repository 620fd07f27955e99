"""Contract-table rows for the ops of augcli/audio/shape.py: op name -> recipe params."""

from __future__ import annotations

SHAPE_ROWS: dict[str, dict] = {
    "resample": {"rate_hz": [4000, 11025]},
    "padding": {"fraction": [0.05, 0.5], "mode": "reflect", "side": "start"},
    "adjust_duration": {"seconds": [0.6, 1.4], "padding_mode": "wrap"},
    "reverse": {},
    "repeat_part": {"part_seconds": [0.1, 0.3], "repeats": [1, 3], "mode": "replace"},
}
