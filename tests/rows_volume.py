"""Contract-table rows for the volume modality's spatial ops: op name -> recipe params (ranges
where the op samples). The intensity and artefact ops have their own table."""

from __future__ import annotations

SPATIAL_ROWS: dict[str, dict] = {
    "flip": {"axes": ["LR", "z"], "label_swap": [[1, 2]]},
    "affine": {
        "rotate_x": [-10, 10],
        "rotate_z": [-15, 15],
        "scale": [0.9, 1.1],
        "isotropic": False,
        "translate_x": [-4, 4],
        "translate_z": [-3, 3],
    },
    "elastic": {"max_displacement_mm": [1, 3], "control_points": 5},
    "anisotropy": {"axis": "z", "factor": [2, 4]},
    "crop_or_pad": {"shape": [20, 36, 6]},
    "random_crop": {"shape": [16, 16, 5], "around": "foreground"},
}
