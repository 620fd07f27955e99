"""Model-backed text ops: back-translation and generative paraphrase (optional extras)."""
