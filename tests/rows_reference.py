"""Op-contract table rows for image ops that draw a reference image from the section's
folders (tests/test_reference_ops.py gives them a folder)."""

REFERENCE_ROWS: dict[str, dict] = {
    "histogram_matching": {"folder": "refs", "blend": [0.5, 1.0]},
    "fda": {"folder": "refs", "beta": [0.01, 0.05]},
    "stain_normalize": {"folder": "refs", "method": "macenko"},
}
