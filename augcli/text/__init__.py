"""The text modality's building blocks: tokenizer, protected tokens, synonym lexicon."""
