"""Tiny Hugging Face models made inside the tests (random weights, tokenizers trained here on a
few clinical sentences) and saved with save_pretrained, so the model ops load them through
exactly the code path a real model takes. Nothing is downloaded."""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from pathlib import Path

CORPUS = [
    "No evidence of pneumonia.",
    "The patient denies chest pain.",
    "Mild cardiomegaly is present.",
    "There is no pleural effusion.",
    "Heart size is normal and the lungs are clear.",
    "Small nodule in the left upper lobe, 4 mm.",
    "Keine Hinweise auf eine Lungenentzundung.",
    "Der Patient verneint Brustschmerzen.",
]

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a test that tried to download would fail


def _quiet() -> None:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("sentencepiece").setLevel(logging.ERROR)


def make_marian(folder: Path, seed: int = 0) -> Path:
    """A MarianMT model (d_model 16, one layer each side) with a SentencePiece vocabulary
    trained on ``CORPUS``: the files a Helsinki-NLP opus-mt folder holds."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    _quiet()
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(CORPUS * 20), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "sp"),
        vocab_size=120,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        bos_id=-1,
        eos_id=1,
        unk_id=2,
        pad_id=0,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(folder / "sp.model"))
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    for name in ("source.spm", "target.spm"):
        shutil.copy(folder / "sp.model", folder / name)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    for leftover in ("sp.model", "sp.vocab", "corpus.txt"):
        (folder / leftover).unlink()
    with warnings.catch_warnings():  # "Recommended: pip install sacremoses" (not needed here)
        warnings.simplefilter("ignore")
        tok = MarianTokenizer(
            str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
        )
    tok.save_pretrained(folder)
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.pad_token_id,
        forced_eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    MarianMTModel(config).save_pretrained(folder)
    return folder


def make_causal(folder: Path, seed: int = 0) -> Path:
    """A GPT-2 (two layers, d 32) with a byte-level BPE tokenizer trained on ``CORPUS`` and a
    chat template, as instruction-tuned causal models have."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    _quiet()
    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 20, vocab_size=300, special_tokens=["<|end|>"])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|end|>")
    tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    tok.save_pretrained(folder)
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=512,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def make_bert(folder: Path, seed: int = 0) -> Path:
    """A BERT masked LM (one layer, hidden 16) with a WordPiece vocabulary of ``CORPUS``'s
    lower-cased words, a few synonyms and the letters: the files a BERT checkpoint holds."""
    import re

    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    _quiet()
    folder.mkdir(parents=True, exist_ok=True)
    words = sorted({w for line in CORPUS for w in re.findall(r"[a-z]+", line.lower())})
    extra = ["slight", "minor", "large", "lung", "heart", "normal", "small", "seen", "not"]
    letters = [c for c in "abcdefghijklmnopqrstuvwxyz"] + [
        f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"
    ]
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = special + list(".,;:") + sorted(set(words + extra)) + letters
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tok = BertTokenizer(str(folder / "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    BertForMaskedLM(config).save_pretrained(folder)
    return folder
