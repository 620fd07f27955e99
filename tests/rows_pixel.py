"""Op-contract table rows for colour, filter and noise image ops: recipe params for each op."""

PIXEL_ROWS: dict[str, dict] = {
    # colour
    "brightness_contrast": {"brightness": [-0.1, 0.1], "contrast": [-0.2, 0.2]},
    "gamma": {"gamma": [0.5, 2.0]},
    "hsv": {"hue": [-30, 30], "saturation": [-0.5, 0.5], "value": [-0.2, 0.2]},
    "channel_shuffle": {},
    "grayscale": {"method": "weighted_average"},
    "invert": {},
    "posterize": {"bits": [2, 5]},
    "solarize": {"threshold": [0.3, 0.7]},
    "clahe": {"clip_limit": [1.0, 4.0], "tile_grid": 4},
    "equalize": {"by_channels": False},
    "rgb_shift": {"r": [-0.1, 0.1], "g": [-0.1, 0.1], "b": [-0.1, 0.1]},
    "auto_contrast": {"cutoff": [0, 2]},
    "tone_curve": {"scale": 0.15, "per_channel": True},
    "hed_stain": {"alpha": [-0.1, 0.1], "beta": [-0.03, 0.03]},
    "rescale": {"by": "percentiles", "low_percentile": [0.5, 2.0], "high_percentile": [98, 99.5]},
    # kernel filters
    "gaussian_blur": {"sigma": [0.5, 2.0]},
    "sharpen": {"amount": [0.5, 1.0]},
    "box_blur": {"size": [3, 7]},
    "median_blur": {"size": 7},  # > 5: the 16-bit path OpenCV lacks
    "motion_blur": {"length": [5, 11], "angle": [0, 180]},
    "unsharp_mask": {"sigma": [0.5, 2.0], "amount": [0.5, 1.5], "threshold": 0.02},
    "emboss": {"strength": [0.5, 1.0], "alpha": [0.3, 0.7]},
    # noise and degradation
    "gaussian_noise": {"std": [5, 20], "mean": [-2, 2]},
    "speckle_noise": {"std": [0.05, 0.2], "per_channel": False},
    "salt_pepper": {"amount": [0.02, 0.1], "salt_vs_pepper": [0.3, 0.7]},
    "jpeg_compression": {"quality": [30, 80]},
    "downscale": {"factor": [0.25, 0.5], "interpolation": "auto"},
    "shot_noise": {"photons": [50, 500]},
    "iso_noise": {"color_shift": [0.01, 0.05], "intensity": [0.2, 0.5]},
    "grid_dropout": {"ratio": [0.3, 0.6], "unit": [0.15, 0.3], "fill": 7},
    "mask_dropout": {"max_objects": 2},
    "cutout": {"holes": [2, 5], "size": [0.1, 0.3], "fill": 128},
}
