"""Op-contract table rows for text ops: recipe params for each op."""

TEXT_ROWS: dict[str, dict] = {
    # EDA
    "synonym_replace": {"fraction": [0.2, 0.5]},
    "random_insert": {"n": [1, 3]},
    "random_swap": {"n": [1, 3]},
    "random_delete": {"fraction": [0.1, 0.4]},
    "word_shuffle": {},
    "sentence_shuffle": {},
    # substitution
    "substitute": {"fraction": [0.5, 1.0]},
    # character level
    "keyboard_typo": {"fraction": [0.2, 0.5], "max_chars": [1, 2]},
    "ocr_error": {"fraction": [0.2, 0.5], "max_chars": [1, 2]},
    "char_swap": {"fraction": [0.2, 0.5], "max_chars": [1, 2]},
    "char_insert": {"fraction": [0.2, 0.5], "max_chars": [1, 2]},
    "char_delete": {"fraction": [0.2, 0.5], "max_chars": [1, 2]},
}
