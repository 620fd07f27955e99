"""Contract-table rows for the ops of augcli/audio/dynamics.py: op name -> recipe params."""

from __future__ import annotations

DYNAMICS_ROWS: dict[str, dict] = {
    "loudness_normalize": {"lufs": [-31, -13]},
    "limiter": {"threshold_db": [-24, -2], "attack_ms": 5, "release_ms": 50},
    "colored_noise": {"color": "pink", "snr_db": [15, 30]},
    "tanh_distortion": {"distortion": [0.01, 0.7]},
    "bit_crush": {"bits": [4, 12]},
    "aliasing": {"rate_hz": [8000, 30000]},
}
