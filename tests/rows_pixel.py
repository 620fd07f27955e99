"""Op-contract table rows for colour, filter and noise image ops: recipe params for each op."""

PIXEL_ROWS: dict[str, dict] = {
    "brightness_contrast": {"brightness": [-0.1, 0.1], "contrast": [-0.2, 0.2]},
    "gaussian_blur": {"sigma": [0.5, 2.0]},
    "sharpen": {"amount": [0.5, 1.0]},
}
