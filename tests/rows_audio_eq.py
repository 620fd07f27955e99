"""Contract-table rows for the ops of augcli/audio/eq.py: op name -> recipe params."""

from __future__ import annotations

EQ_ROWS: dict[str, dict] = {
    "band_stop": {"low_hz": [300, 600], "high_hz": [1000, 3000]},
    "notch": {"freq_hz": [49.5, 60.5], "harmonics": 5, "q": [20, 40]},
    "peaking": {"center_hz": [200, 6000], "gain_db": [-12, 12], "q": [0.5, 5]},
    "low_shelf": {"cutoff_hz": [80, 1000], "gain_db": [-12, 12], "q": [0.3, 0.707]},
    "high_shelf": {"cutoff_hz": [1000, 7000], "gain_db": [-12, 12], "q": [0.3, 0.707]},
    "seven_band_eq": {"gain_db": [-12, 12], "q": [0.7, 2.0]},
}
