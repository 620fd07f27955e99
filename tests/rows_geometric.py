"""Op-contract table rows for geometric image ops: recipe params that exercise each op."""

GEOMETRIC_ROWS: dict[str, dict] = {
    "hflip": {},
    "vflip": {},
    "rot90": {"k": [1, 3]},
    "transpose": {},
    "d4": {},
    "rotate": {"degrees": [-30, 30], "border_mode": "reflect"},
    "affine": {
        "degrees": [-20, 20],
        "scale": [0.8, 1.2],
        "translate": [-0.1, 0.1],
        "shear": [-10, 10],
    },
    "perspective": {"distortion": [0.05, 0.15], "border_mode": "replicate"},
    "random_crop": {"scale": [0.3, 0.9], "around": "foreground"},  # anywhere without a mask
    "random_resized_crop": {"scale": [0.2, 1.0], "size": [24, 30]},
    "center_crop": {"size": [20, 30]},
    "box_safe_crop": {"scale": [0.3, 0.9]},
    "resize": {"size": [50, 40], "interpolation": "cubic"},
    "scale": {"factor": [0.5, 1.5]},
    "pad": {"pixels": [2, 6], "border_mode": "reflect"},
    "elastic": {"alpha": [10, 30], "sigma": [3, 5]},
    "grid_distortion": {"steps": 4, "distort": [-0.3, 0.3]},
    "optical_distortion": {"k": [-0.3, 0.3]},
    "thin_plate_spline": {"scale": [0.02, 0.06], "points": 3},
}
