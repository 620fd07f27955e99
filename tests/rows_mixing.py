"""Op-contract table rows for image mixing ops (they need partner inputs: see test_mixing.py)."""

MIXING_ROWS: dict[str, dict] = {
    "mixup": {"alpha": 0.4},
    "cutmix": {"alpha": 1.0},
    "mosaic": {},
}
