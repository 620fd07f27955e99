"""Op-contract table rows for the model text ops: recipe params, where ``{marian}``,
``{marian_back}``, ``{causal}``, ``{bert}`` and ``{url}`` are filled in with the tiny test models and a
loopback chat server (tests/tinymodels.py, tests/chat_server.py). Filters are off: tiny models
with random weights write nonsense, which the default filters reject."""

NO_FILTERS = {
    "keep_protected": False,
    "min_similarity": 0.0,
    "min_length_ratio": 0.0,
    "max_length_ratio": 100.0,
}

MODEL_ROWS: dict[str, list[dict]] = {
    "back_translate": [
        {
            "forward_model": "{marian}",
            "backward_model": "{marian_back}",
            "max_length": 24,
            "beams": 2,
            **NO_FILTERS,
        },
        {
            "forward_model": "{marian}",
            "backward_model": "{marian_back}",
            "max_length": 24,
            "beams": 1,
            "sample": True,
            "top_k": 20,
            "top_p": 0.9,
            **NO_FILTERS,
        },
    ],
    "paraphrase": [
        {"model": "{causal}", "max_length": 12, **NO_FILTERS},
        {"model": "{marian}", "max_length": 12, "sample": False, "beams": 2, **NO_FILTERS},
        {"backend": "openai", "base_url": "{url}", "model": "fake", "backoff": 0.01},
    ],
    "contextual_substitute": [
        {"model": "{bert}", "n": 2, "top_k": 5, "min_probability": 0.0, "min_similarity": -1.0},
    ],
}
