"""Op-contract table rows for the scanner artefact image ops (augcli/image/ops/scanner.py)."""

SCANNER_ROWS: dict[str, dict] = {
    "rician_noise": {"std": [5, 20]},
    "bias_field": {"coefficients": 0.5, "order": 3},
    "mri_motion": {"degrees": [2, 10], "translation": [2, 8], "num_transforms": [1, 3]},
    "mri_ghosting": {"num_ghosts": [2, 6], "axis": "random", "intensity": [0.5, 1.0]},
    "mri_spike": {"num_spikes": [1, 2], "intensity": [0.2, 0.5]},
    "gibbs_ringing": {"alpha": [0.3, 0.6]},
    "patch_swap": {"patch_size": 8, "num_iterations": [5, 20]},
}
