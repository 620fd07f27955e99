"""``contextual_substitute``: words replaced by what a local masked language model proposes in
their sentence, filtered by the protection rules and a similarity floor (``augcli[contextual]``).

``sample`` asks the process's ``ModelService`` for the model's candidates (batched in rounds
like the other model ops), so the chosen words are part of the params and ``apply`` (pure)
only puts them in place: ``replay`` needs no model."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from augcli.core.errors import RecipeError
from augcli.params import Param, check_resources
from augcli.text.base import TextOp
from augcli.text.doc import TextDoc
from augcli.text.edits import (
    STOP_WORDS,
    choose,
    count_of,
    replace_spans,
    sentence_spans,
    usable_words,
)
from augcli.text.generative import DECODING, ask_all
from augcli.text.lexicon import match_case
from augcli.text.models.base import Backend
from augcli.text.models.quality import Rejected
from augcli.text.models.service import ModelService
from augcli.text.protect import ProtectRules, compile_rules, fold, protected
from augcli.text.tokens import tokenize

CLINICAL_MODEL = "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext"


@functools.cache
def _default_rules() -> ProtectRules:
    return compile_rules({"protect_defaults": True, "protect": []}, "text")


class ContextualSubstitute(TextOp):
    """Replace words by a masked language model's proposals in context (``augcli[contextual]``).

    ``n`` words (when > 0), else ``fraction`` of the editable words (stop words, protected
    words and words with digits excluded) are masked one at a time in their sentence; the
    model (``model``: a Hugging Face name in the local cache or a folder, a BERT-style masked
    LM, e.g. ``microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext`` or
    ``emilyalsentzer/Bio_ClinicalBERT`` for clinical text) proposes its ``top_k`` likeliest
    whole words. A candidate is kept when its probability is at least ``min_probability``, the
    cosine similarity of its input embedding to the word's is at least ``min_similarity``, it is
    no stop word, and putting it in changes no protection (it adds no negation cue or number,
    and every protected word stays protected); one of the kept candidates is drawn, in the
    word's case. A word without one stays; a draw that changes no word is rejected (retried,
    then left unchanged). All records' masked words go to the model in batches; nothing is
    downloaded unless ``allow_download``. Params: ``{"fraction", "n", "replace": [[piece,
    "word"], ...], "scores": [[probability, similarity], ...]}``.
    """

    name = "contextual_substitute"
    group = "model"
    loads_model = True
    params = {
        "model": Param(kind="text", help="masked LM: a Hugging Face name or a local folder"),
        "fraction": Param(
            default=0.15,
            low=0.0,
            high=1.0,
            unit="fraction",
            help="fraction of the editable words (rounded, at least 1 when > 0)",
        ),
        "n": Param(
            kind="int",
            default=0,
            low=0,
            high=1000,
            unit="words",
            help="number of words; 0 uses fraction instead",
        ),
        "top_k": Param(
            kind="int",
            default=10,
            low=1,
            high=200,
            sampled=False,
            unit="words",
            help="candidates the model proposes per masked word",
        ),
        "min_probability": Param(
            default=0.005,
            low=0.0,
            high=1.0,
            sampled=False,
            unit="probability",
            help="the model's probability of a candidate at the mask, at least",
        ),
        "min_similarity": Param(
            default=0.3,
            low=-1.0,
            high=1.0,
            sampled=False,
            unit="cosine",
            help="cosine similarity of the candidate's and the word's input embeddings, at least",
        ),
        "device": DECODING["device"],
        "batch_size": DECODING["batch_size"],
        "allow_download": DECODING["allow_download"],
    }

    def check_config(self, path: str) -> None:
        if not check_resources():
            return
        from augcli.text.models.hf import require_extra, resolve_model

        c = self.config
        require_extra("contextual", self.name, path)
        self.path = resolve_model(c["model"], c["allow_download"], f"{path}.model")
        _check_masked(self.path, f"{path}.model")

    def fetch(self) -> list[str]:
        if not hasattr(self, "path"):
            return []
        from augcli.text.models.hf import fetch_model

        ref, self.path = self.path, fetch_model(self.path)
        return [f"fetched {ref} -> {self.path}"] if ref != self.path else []

    def resources(self) -> dict[str, dict[str, str]]:
        if not hasattr(self, "path"):
            return {}
        from augcli.text.models.hf import describe_model

        return {"model": describe_model(self.path)}

    def backend_for(self, service: ModelService) -> Backend:
        from augcli.text.models.masked import MaskedBackend

        c = self.config
        spec = ("mlm", self.path, c["top_k"], c["batch_size"], c["device"], c["allow_download"])
        return service.backend(
            spec,
            lambda: MaskedBackend(
                self.path,
                top_k=c["top_k"],
                batch_size=c["batch_size"],
                device=c["device"],
                allow_download=c["allow_download"],
                threads=service.threads,
            ),
        )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        from augcli.text.models.masked import masked_request, read_answer

        c = self.config
        fraction = self.params["fraction"].draw(c["fraction"], rng)
        n = self.params["n"].draw(c["n"], rng)
        doc: TextDoc = info["doc"]
        words = [i for i in usable_words(doc) if _maskable(doc.pieces[i].text)]
        chosen = choose(rng, words, count_of(n, fraction, len(words)))
        picks = rng.random(len(chosen)).tolist()  # drawn before any answer is known
        if not chosen:
            raise Rejected("no word to mask")
        spans = [_sentence_of(doc, i) for i in chosen]
        requests = [
            masked_request(*_around(doc, i, span)) for i, span in zip(chosen, spans, strict=True)
        ]
        service: ModelService = info["models"]
        answers = ask_all(service, self.backend_for(service), requests)
        rules = info.get("rules") or _default_rules()
        replace: list[list[Any]] = []
        scores: list[list[float]] = []
        for i, span, answer, pick in zip(chosen, spans, answers, picks, strict=True):
            kept = [cand for cand in read_answer(answer) if self._keeps(doc, i, span, cand, rules)]
            if kept:
                word, prob, sim = kept[int(pick * len(kept))]
                replace.append([i, match_case(doc.pieces[i].text, word)])
                scores.append([prob, sim])
        if not replace:
            raise Rejected(
                f"no candidate passed min_probability {c['min_probability']} and "
                f"min_similarity {c['min_similarity']}"
            )
        return {"fraction": fraction, "n": n, "replace": replace, "scores": scores}

    def _keeps(
        self,
        doc: TextDoc,
        i: int,
        span: tuple[int, int],
        cand: tuple[str, float, float],
        rules: ProtectRules,
    ) -> bool:
        word, prob, sim = cand
        c = self.config
        if prob < c["min_probability"] or sim < c["min_similarity"]:
            return False
        if len(word) < 2 or fold(word) in STOP_WORDS or fold(word) == fold(doc.pieces[i].text):
            return False
        return _same_protection(doc, i, span, match_case(doc.pieces[i].text, word), rules)

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return replace_spans(data, params["replace"])


def _maskable(text: str) -> bool:
    return len(text) >= 2 and text.isalpha() and fold(text) not in STOP_WORDS


def _sentence_of(doc: TextDoc, i: int) -> tuple[int, int]:
    for start, stop in sentence_spans(doc.pieces):
        if start <= i < stop:
            return start, stop
    return 0, len(doc.pieces)


def _around(doc: TextDoc, i: int, span: tuple[int, int]) -> tuple[str, str, str]:
    """The sentence's text before piece ``i``, the word, and the text after it."""
    pieces = doc.pieces
    left = "".join(p.text for p in pieces[span[0] : i])
    right = "".join(p.text for p in pieces[i + 1 : span[1]])
    return left, pieces[i].text, right


def _same_protection(
    doc: TextDoc, i: int, span: tuple[int, int], word: str, rules: ProtectRules
) -> bool:
    """``word`` in place of piece ``i`` is one unprotected word and leaves the rest of its
    sentence protected as before (no new negation scope, no number, no lost protection)."""
    left, _, right = _around(doc, i, span)
    tokens = tokenize(left + word + right)
    if len(tokens) != span[1] - span[0] or tokens[i - span[0]].kind != "word":
        return False
    before = [p.protected for p in doc.pieces[span[0] : span[1]]]
    before[i - span[0]] = False
    return protected(tokens, rules) == before


def _check_masked(path: str, where: str) -> None:
    """A model whose config.json names its architectures must have a masked-LM head."""
    import json
    from pathlib import Path

    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return  # a hub name allowed to download: checked when it loads
    try:
        names = json.loads(cfg.read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError):
        names = []
    if names and not any(str(n).endswith(("ForMaskedLM", "ForPreTraining")) for n in names):
        raise RecipeError(
            f"is not a masked language model (config.json: {', '.join(map(str, names))})",
            path=where,
            value=path,
            fix=f"Use a BERT-style model with a masked-LM head, e.g. {CLINICAL_MODEL}.",
        )
