"""Op-contract table rows for geometric image ops: recipe params that exercise each op."""

GEOMETRIC_ROWS: dict[str, dict] = {
    "hflip": {},
    "vflip": {},
    "rotate": {"degrees": [-30, 30], "border_mode": "reflect"},
    "random_crop": {"scale": [0.3, 0.9]},
    "scale": {"factor": [0.5, 1.5]},
}
