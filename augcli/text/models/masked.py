"""A local masked language model (BERT and its kin) that proposes words for a masked position.

A request's text is the JSON ``[left, word, right]``: the sentence around the word, and the word.
The backend puts the tokenizer's mask token in the word's place and answers, as JSON,
``[[candidate, probability, similarity], ...]``: the ``top_k`` likeliest whole words (no
sub-word pieces, special tokens or the word itself), with the model's probability at the mask
and the cosine similarity of the candidate's input embedding to the word's (the mean over the
word's pieces). Numbers are rounded to 4 decimals.

Inputs of the same length go to the model together, unpadded, and each input's answer depends
on it alone: a record's candidates never depend on which records shared its batch."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

from augcli.text.models.base import ModelError, Request
from augcli.text.models.hf import fingerprint

_LOADED: dict[tuple[str, str, bool], tuple[Any, Any]] = {}  # this process's models
DIGITS = 4
WIDEN = 5  # how many more predictions to look at than top_k, since some are not words


def masked_request(left: str, word: str, right: str) -> Request:
    """The request for ``word`` between ``left`` and ``right``."""
    return Request(json.dumps([left, word, right], ensure_ascii=False))


def read_answer(answer: str) -> list[tuple[str, float, float]]:
    """A backend's answer as (candidate, probability, similarity) triples."""
    return [(str(w), float(p), float(s)) for w, p, s in json.loads(answer)]


def is_whole_word(text: str) -> bool:
    """A candidate made of letters (an inner hyphen or apostrophe allowed)."""
    core = text.replace("-", "").replace("'", "")
    return bool(core) and core.isalpha() and text[0].isalpha() and text[-1].isalpha()


class MaskedBackend:
    """A masked language model, loaded on first use in the process that uses it."""

    def __init__(
        self,
        path: str,
        *,
        top_k: int = 10,
        batch_size: int = 16,
        device: str = "cpu",
        allow_download: bool = False,
        threads: int | None = None,
    ) -> None:
        self.path = path
        self.top_k = top_k
        self._batch_size = batch_size
        self.device = device
        self.allow_download = allow_download
        self.threads = threads
        self._key = f"mlm|{fingerprint(path)}|top_k={top_k}"
        self._model: Any = None
        self._tokenizer: Any = None
        self._failed: ModelError | None = None

    @property
    def key(self) -> str:
        return self._key

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def __getstate__(self) -> dict[str, Any]:  # loaded weights never cross processes
        return {**self.__dict__, "_model": None, "_tokenizer": None}

    def _load(self) -> None:
        if self._failed is not None:
            raise self._failed
        if self._model is not None:
            return
        where = (self.path, self.device, self.allow_download)
        try:
            if where not in _LOADED:
                _LOADED[where] = self._load_now()
            self._model, self._tokenizer = _LOADED[where]
        except ModelError as exc:
            self._failed = exc
            raise
        except Exception as exc:
            self._failed = ModelError(
                f"could not load model {self.path}: {type(exc).__name__}: {exc}"
            )
            raise self._failed from None

    def _load_now(self) -> tuple[Any, Any]:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        import torch
        import transformers

        transformers.utils.logging.set_verbosity_error()
        if self.threads:
            torch.set_num_threads(self.threads)
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ModelError(f"device: cuda was asked for {self.path}, but no CUDA GPU is usable")
        offline = not self.allow_download
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tok = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=offline)
            model = transformers.AutoModelForMaskedLM.from_pretrained(
                self.path, local_files_only=offline
            )
        if tok.mask_token is None:
            raise ModelError(f"{self.path}: the tokenizer has no mask token")
        model.to(self.device).eval()
        return model, tok

    def run(self, requests: list[Request]) -> list[str | ModelError]:
        self._load()
        tok = self._tokenizer
        encoded = []
        for r in requests:
            left, word, right = json.loads(r.text)
            ids = tok(left + tok.mask_token + right, truncation=True, max_length=512)["input_ids"]
            encoded.append((ids, word))
        out: list[str | ModelError] = [ModelError("not run")] * len(requests)
        by_length: dict[int, list[int]] = {}
        for k, (ids, _) in enumerate(encoded):
            by_length.setdefault(len(ids), []).append(k)
        for group in by_length.values():
            for k, answer in zip(group, self._predict([encoded[k] for k in group]), strict=True):
                out[k] = answer
        return out

    def _predict(self, batch: list[tuple[list[int], str]]) -> list[str | ModelError]:
        """Answers for inputs of one length (no padding)."""
        import torch

        tok, model = self._tokenizer, self._model
        ids = torch.tensor([i for i, _ in batch], device=self.device)
        with torch.inference_mode():
            logits = model(input_ids=ids).logits
        table = model.get_input_embeddings().weight.detach()
        answers: list[str | ModelError] = []
        for row, (seq, word) in enumerate(batch):
            if tok.mask_token_id not in seq:
                answers.append(ModelError("the word's context is too long for the model"))
                continue
            probs = logits[row, seq.index(tok.mask_token_id)].float().softmax(-1)
            answers.append(json.dumps(self._candidates(probs, word, table)))
        return answers

    def _candidates(self, probs: Any, word: str, table: Any) -> list[list[Any]]:
        import torch

        tok = self._tokenizer
        own = tok(word, add_special_tokens=False)["input_ids"] or [tok.unk_token_id]
        target = table[own].float().mean(0)
        top = torch.topk(probs, min(self.top_k * WIDEN, probs.shape[-1]))
        special = set(tok.all_special_ids)
        found: list[list[Any]] = []
        for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            piece = tok.convert_ids_to_tokens(i)
            text = tok.convert_tokens_to_string([piece]).strip()
            if i in special or piece.startswith("##") or not is_whole_word(text):
                continue
            if text.casefold() == word.casefold():
                continue
            sim = torch.nn.functional.cosine_similarity(table[i].float(), target, dim=0)
            found.append([text, round(p, DIGITS), round(float(sim), DIGITS)])
            if len(found) == self.top_k:
                break
        return found
