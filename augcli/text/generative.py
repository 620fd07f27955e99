"""Model-backed text ops (optional extras): ``back_translate`` through MarianMT models and
generative ``paraphrase`` with a local Hugging Face model or an OpenAI-compatible endpoint.

``sample`` asks the process's ``ModelService`` (``info["models"]``) for the model's answers, so
the generated text is part of the params: the manifest shows it and ``apply`` (pure) only puts
it in place, which makes ``replay`` exact without the model. A request whose answer is not known
yet raises ``Pending``; the modality sends every pending request of a task in batches and runs
the task's records again (see ``augcli.text.models.service``)."""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from augcli.core.errors import RecipeError
from augcli.params import Nullable, Param, check_resources
from augcli.text.base import TextOp
from augcli.text.doc import Piece, TextDoc
from augcli.text.edits import sentence_spans
from augcli.text.models.base import Backend, Request
from augcli.text.models.quality import Rejected, check, clean_output
from augcli.text.models.service import ModelService, Pending
from augcli.text.tokens import tokenize

SEED_SPACE = 2**31
DEFAULT_PROMPT = (
    "Paraphrase the following text. Keep its meaning, every negation, number and name "
    "exactly; change the wording. Reply with the paraphrase only.\n\n{text}"
)
_LANG = re.compile(r"^[a-z]{2,3}([_-][A-Za-z]{2,8})?$")

DECODING = {
    "device": Param(
        kind="choice", default="cpu", choices=("cpu", "cuda"), help="where a local model runs"
    ),
    "batch_size": Param(
        kind="int", default=16, low=1, high=4096, sampled=False, help="requests per model call"
    ),
    "beams": Param(
        kind="int",
        default=4,
        low=1,
        high=32,
        sampled=False,
        help="beam-search width when not sampling (1 = greedy)",
    ),
    "max_length": Param(
        kind="int",
        default=256,
        low=1,
        high=4096,
        sampled=False,
        unit="tokens",
        help="most tokens generated per sentence or text",
    ),
    "sample": Param(
        kind="bool",
        default=False,
        help="sample tokens (seeded per record, so still reproducible) instead of beam search",
    ),
    "temperature": Param(
        default=1.0, low=0.0, low_open=True, high=5.0, sampled=False, help="sampling temperature"
    ),
    "top_p": Param(
        default=1.0,
        low=0.0,
        low_open=True,
        high=1.0,
        sampled=False,
        help="sampling: smallest token set with this total probability (1 = all)",
    ),
    "top_k": Param(
        kind="int",
        default=0,
        low=0,
        sampled=False,
        help="sampling: only the k likeliest tokens (0 = no limit)",
    ),
    "allow_download": Param(
        kind="bool",
        default=False,
        help="fetch a model missing from the local Hugging Face cache (off: never download)",
    ),
}

FILTERS = {
    "keep_protected": Param(
        kind="bool",
        default=True,
        help="reject outputs that lost a protected word of the source (negations, numbers, ...)",
    ),
    "min_length_ratio": Param(
        default=0.5,
        low=0.0,
        sampled=False,
        help="reject outputs shorter than this times the source (characters)",
    ),
    "max_length_ratio": Param(
        default=2.0,
        low=0.0,
        low_open=True,
        sampled=False,
        help="reject outputs longer than this times the source (characters)",
    ),
    "min_similarity": Param(
        default=0.3,
        low=0.0,
        high=1.0,
        sampled=False,
        help="reject outputs less similar to the source than this (character-trigram Dice; "
        "0 turns it off)",
    ),
}


def split_sentences(doc: TextDoc) -> list[tuple[str, bool]]:
    """The text as consecutive (chunk, is_sentence) parts; joining the chunks gives it back."""
    pieces = doc.pieces
    parts: list[tuple[str, bool]] = []
    at = 0
    for start, stop in sentence_spans(pieces):
        if start > at:
            parts.append(("".join(p.text for p in pieces[at:start]), False))
        parts.append(("".join(p.text for p in pieces[start:stop]), True))
        at = stop
    if at < len(pieces):
        parts.append(("".join(p.text for p in pieces[at:]), False))
    return parts


def ask_all(service: ModelService, backend: Backend, requests: list[Request]) -> list[str]:
    """Every answer, or ``Pending`` once all the unknown ones are queued (one round for all)."""
    answers: list[str] = []
    pending: Pending | None = None
    for request in requests:
        try:
            answers.append(service.ask(backend, request))
        except Pending as exc:
            pending = exc
    if pending is not None:
        raise pending
    return answers


class ModelOp(TextOp):
    """Shared by the model ops: decoding and filter params, the filters, and ``apply``, which
    puts the generated text (``params["text"]``) in place. The modality marks the new text's
    protected words again before the next op sees it (``rewrites``)."""

    group = "model"
    loads_model: ClassVar[bool] = True
    rewrites: ClassVar[bool] = True

    def filters(self, doc: TextDoc, text: str) -> None:
        c = self.config
        check(
            doc,
            text,
            min_length_ratio=c["min_length_ratio"],
            max_length_ratio=c["max_length_ratio"],
            min_similarity=c["min_similarity"],
            keep_protected=c["keep_protected"],
        )

    def check_config(self, path: str) -> None:
        c = self.config
        if c["min_length_ratio"] > c["max_length_ratio"]:
            raise RecipeError(
                "min_length_ratio is above max_length_ratio",
                path=f"{path}.min_length_ratio",
                value=c["min_length_ratio"],
                fix=f"Use a value up to max_length_ratio ({c['max_length_ratio']}).",
            )

    def decoding(self) -> Any:
        from augcli.text.models.hf import Decoding

        c = self.config
        return Decoding(
            beams=c["beams"],
            max_new_tokens=c["max_length"],
            temperature=c["temperature"],
            top_p=c["top_p"],
            top_k=c["top_k"],
        )

    def local_backend(self, service: ModelService, path: str, chat: bool = True) -> Backend:
        from augcli.text.models.hf import HFBackend

        c = self.config
        spec = (
            "hf",
            path,
            self.decoding(),
            c["batch_size"],
            c["device"],
            c["allow_download"],
            chat,
        )
        return service.backend(
            spec,
            lambda: HFBackend(
                path,
                self.decoding(),
                batch_size=c["batch_size"],
                device=c["device"],
                allow_download=c["allow_download"],
                threads=service.threads,
                chat=chat,
            ),
        )

    def draw_seed(self, rng: np.random.Generator) -> int | None:
        return int(rng.integers(SEED_SPACE)) if self.config["sample"] else None

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return TextDoc.of([Piece(t.text, t.kind, False) for t in tokenize(params["text"])])


class BackTranslate(ModelOp):
    """Translate to a pivot language and back (MarianMT models, ``augcli[translate]``).

    ``pivot: de`` uses ``Helsinki-NLP/opus-mt-<source>-de`` and ``opus-mt-de-<source>`` from
    the local Hugging Face cache (nothing is downloaded unless ``allow_download: true``);
    ``forward_model``/``backward_model`` give other names or local folders (one pivot only).
    Several pivots: each output draws one. Sentences are translated one by one (the text
    between them is kept) and all records' sentences go to the model in batches. Beam search
    by default, so every copy with the same pivot is the same text (duplicates are retried with
    another pivot, then left unchanged); ``sample: true`` draws varied outputs, seeded per record.
    Params: ``{"pivot", "seed", "pivot_text", "text"}``: the output is in the manifest.
    """

    name = "back_translate"
    params = {
        "pivot": Param(
            kind="texts",
            default="de",
            help="pivot language code(s), e.g. de or [de, fr, ru]",
        ),
        "source": Param(kind="text", default="en", help="the language of the data"),
        "forward_model": Nullable(
            kind="text",
            default=None,
            meaning="Helsinki-NLP/opus-mt-<source>-<pivot>",
            help="source -> pivot model: a Hugging Face name or a local folder",
        ),
        "backward_model": Nullable(
            kind="text",
            default=None,
            meaning="Helsinki-NLP/opus-mt-<pivot>-<source>",
            help="pivot -> source model: a Hugging Face name or a local folder",
        ),
        **DECODING,
        **FILTERS,
    }

    def check_config(self, path: str) -> None:
        super().check_config(path)
        from augcli.text.models.hf import require_extra, resolve_model

        c = self.config
        for key in ("source", *[f"pivot[{i}]" for i in range(len(c["pivot"]))]):
            code = c["source"] if key == "source" else c["pivot"][int(key[6:-1])]
            if not _LANG.match(code):
                raise RecipeError(
                    "is not a language code",
                    path=f"{path}.{key.split('[')[0]}",
                    value=code,
                    fix="Use an ISO 639 code such as en, de, fr, zh (as in opus-mt model names).",
                )
        if c["source"] in c["pivot"]:
            raise RecipeError(
                "a pivot is the source language", path=f"{path}.pivot", value=list(c["pivot"])
            )
        custom = [k for k in ("forward_model", "backward_model") if c[k] is not None]
        if custom and len(c["pivot"]) > 1:
            raise RecipeError(
                f"{custom[0]} needs a single pivot",
                path=f"{path}.{custom[0]}",
                value=list(c["pivot"]),
                fix="Use one back_translate op per pivot, each with its models, in a one_of.",
            )
        _check_sampling(c, path)
        if not check_resources():
            return
        require_extra("translate", self.name, path)
        self.models: dict[str, tuple[str, str]] = {}
        for pivot in c["pivot"]:
            fwd = c["forward_model"] or f"Helsinki-NLP/opus-mt-{c['source']}-{pivot}"
            bwd = c["backward_model"] or f"Helsinki-NLP/opus-mt-{pivot}-{c['source']}"
            self.models[pivot] = (
                resolve_model(fwd, c["allow_download"], f"{path}.forward_model"),
                resolve_model(bwd, c["allow_download"], f"{path}.backward_model"),
            )

    def fetch(self) -> list[str]:
        from augcli.text.models.hf import fetch_model

        done = []
        for pivot, pair in getattr(self, "models", {}).items():
            fetched = tuple(fetch_model(ref) for ref in pair)
            done += [f"fetched {a} -> {b}" for a, b in zip(pair, fetched, strict=True) if a != b]
            self.models[pivot] = fetched  # type: ignore[assignment]
        return done

    def resources(self) -> dict[str, dict[str, str]]:
        from augcli.text.models.hf import describe_model

        out = {}
        src = self.config["source"]
        for pivot, (fwd, bwd) in getattr(self, "models", {}).items():
            out[f"{src}-{pivot}"] = describe_model(fwd)
            out[f"{pivot}-{src}"] = describe_model(bwd)
        return out

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        doc: TextDoc = info["doc"]
        pivots = self.config["pivot"]
        pivot = pivots[int(rng.integers(len(pivots)))]
        seed = self.draw_seed(rng)
        parts = split_sentences(doc)
        sentences = [text for text, is_sentence in parts if is_sentence]
        if not sentences:
            raise Rejected("no sentence to translate")
        service: ModelService = info["models"]
        fwd_path, bwd_path = self.models[pivot]
        fwd = self.local_backend(service, fwd_path)
        bwd = self.local_backend(service, bwd_path)

        def requests(texts: list[str]) -> list[Request]:
            return [
                Request(t, None if seed is None else (seed + i) % SEED_SPACE)
                for i, t in enumerate(texts)
            ]

        mids = [
            clean_output(t, s)
            for t, s in zip(ask_all(service, fwd, requests(sentences)), sentences, strict=True)
        ]
        backs = [
            clean_output(t, s)
            for t, s in zip(ask_all(service, bwd, requests(mids)), sentences, strict=True)
        ]
        text, pivot_text = _rejoin(parts, backs), _rejoin(parts, mids)
        self.filters(doc, text)
        return {"pivot": pivot, "seed": seed, "pivot_text": pivot_text, "text": text}


def _rejoin(parts: list[tuple[str, bool]], sentences: list[str]) -> str:
    it = iter(sentences)
    return "".join(next(it) if is_sentence else text for text, is_sentence in parts)


def _check_sampling(c: dict[str, Any], path: str) -> None:
    if c["sample"] and c["beams"] > 1:
        raise RecipeError(
            "beams and sample exclude each other",
            path=f"{path}.beams",
            value=c["beams"],
            fix="With sample: true, set beams: 1 (each output draws its own tokens).",
        )


class Paraphrase(ModelOp):
    """New wording of the whole text from a generative model (``augcli[llm]``).

    ``backend: local``: a Hugging Face model folder or cached name as ``model``, seq2seq (T5,
    BART, Pegasus: the input is ``prompt``, ``{text}`` by default) or causal (the prompt, as a
    chat message when the tokenizer has a chat template). ``backend: openai``: an
    OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp, hosted services) at
    ``base_url``, key read from the environment variable named by ``api_key_env``; an endpoint
    outside this machine (not loopback) is refused unless ``allow_remote: true``. ``prompt``
    takes ``{text}`` and ``{label}``. Sampling is on by default, seeded per record; answers are
    cached in the output folder (``.augcli/model-cache.sqlite``), so a resumed run does not pay
    twice. Params: ``{"seed", "text"}``.
    """

    name = "paraphrase"
    params = {
        "backend": Param(
            kind="choice",
            default="local",
            choices=("local", "openai"),
            help="local Hugging Face model, or an OpenAI-compatible endpoint",
        ),
        "model": Param(kind="text", help="model folder or name (local), or the endpoint's model"),
        "prompt": Nullable(
            kind="text",
            default=None,
            meaning="'{text}' for seq2seq models, an instruction for chat models",
            help="the model's input; {text} is the record, {label} its label",
        ),
        "base_url": Nullable(
            kind="text",
            default=None,
            meaning="none (required for backend: openai)",
            help="endpoint URL, e.g. http://127.0.0.1:11434/v1",
        ),
        "api_key_env": Nullable(
            kind="text",
            default=None,
            meaning="no key",
            help="NAME of the environment variable holding the API key (never the key)",
        ),
        "allow_remote": Param(
            kind="bool",
            default=False,
            help="allow a non-loopback endpoint (the text leaves this machine)",
        ),
        "timeout": Param(
            default=60.0, low=0.0, low_open=True, sampled=False, unit="s", help="per request"
        ),
        "retries": Param(
            kind="int",
            default=4,
            low=0,
            high=20,
            sampled=False,
            help="retries on 429/5xx and connection errors, with exponential backoff",
        ),
        "backoff": Param(
            default=1.0, low=0.0, sampled=False, unit="s", help="first retry delay (doubles)"
        ),
        "concurrency": Param(
            kind="int",
            default=4,
            low=1,
            high=256,
            sampled=False,
            help="endpoint requests in flight per model worker",
        ),
        **DECODING,
        # generative paraphrase wants variety: sampling on, moderate temperature (0 = greedy)
        "sample": replace(DECODING["sample"], default=True),
        "beams": replace(DECODING["beams"], default=1),
        "temperature": replace(DECODING["temperature"], default=0.7, low_open=False),
        "top_p": replace(DECODING["top_p"], default=0.95),
        **FILTERS,
        "min_similarity": replace(FILTERS["min_similarity"], default=0.25),
    }

    def check_config(self, path: str) -> None:
        super().check_config(path)
        c = self.config
        if c["prompt"] is not None:
            fields = {f for _, f, _, _ in string.Formatter().parse(c["prompt"]) if f is not None}
            bad = fields - {"text", "label"}
            if "text" not in fields or bad:
                raise RecipeError(
                    "prompt must contain {text} and no other field than {label}",
                    path=f"{path}.prompt",
                    value=c["prompt"],
                    fix="Write e.g. 'Reword this: {text}'; double literal braces ({{ }}).",
                )
        _check_sampling(c, path)
        if not check_resources():
            return
        if c["backend"] == "openai":
            from augcli.text.models.endpoint import check_endpoint, check_key_env

            if c["base_url"] is None:
                raise RecipeError(
                    "backend openai needs base_url",
                    path=path,
                    fix="Add base_url: e.g. http://127.0.0.1:11434/v1 (Ollama).",
                )
            self.base_url = check_endpoint(c["base_url"], c["allow_remote"], f"{path}.base_url")
            self.where = f"{path}.base_url"
            check_key_env(c["api_key_env"], f"{path}.api_key_env")
            return
        for key in ("base_url", "api_key_env"):
            if c[key] is not None:
                raise RecipeError(
                    f"{key} is only for backend: openai",
                    path=f"{path}.{key}",
                    value=c[key],
                    fix="Remove it, or set backend: openai.",
                )
        from augcli.text.models.hf import model_kind, require_extra, resolve_model

        require_extra("llm", self.name, path)
        self.path = resolve_model(c["model"], c["allow_download"], f"{path}.model")
        self.kind = model_kind(self.path)

    def preflight(self) -> None:
        """An endpoint must answer (a connection, a few seconds at most) before any input is
        read: a server that is not running is one located error, not a failed run."""
        if self.config["backend"] == "openai" and hasattr(self, "base_url"):
            from augcli.text.models.endpoint import check_reachable

            check_reachable(self.base_url, self.where)

    def fetch(self) -> list[str]:
        if self.config["backend"] != "local" or not hasattr(self, "path"):
            return []
        from augcli.text.models.hf import fetch_model, model_kind

        ref, self.path = self.path, fetch_model(self.path)
        self.kind = model_kind(self.path)
        return [f"fetched {ref} -> {self.path}"] if ref != self.path else []

    def resources(self) -> dict[str, dict[str, str]]:
        c = self.config
        if c["backend"] == "openai":
            if not hasattr(self, "base_url"):
                return {}
            ident = hashlib.sha256(f"{self.base_url}|{c['model']}".encode()).hexdigest()[:16]
            return {"endpoint": {"url": self.base_url, "model": c["model"], "fingerprint": ident}}
        if not hasattr(self, "path"):
            return {}
        from augcli.text.models.hf import describe_model

        return {"model": describe_model(self.path)}

    def backend_for(self, service: ModelService) -> Backend:
        c = self.config
        if c["backend"] == "local":
            return self.local_backend(service, self.path)
        from augcli.text.models.endpoint import EndpointBackend

        spec = ("openai", self.base_url, c["model"], c["sample"], c["temperature"], c["max_length"])
        return service.backend(
            spec,
            lambda: EndpointBackend(
                base_url=self.base_url,
                model=c["model"],
                api_key_env=c["api_key_env"],
                temperature=c["temperature"] if c["sample"] else 0.0,
                max_tokens=c["max_length"],
                timeout=c["timeout"],
                retries=c["retries"],
                backoff=c["backoff"],
                concurrency=c["concurrency"],
            ),
        )

    def prompt(self) -> str:
        if self.config["prompt"] is not None:
            return self.config["prompt"]
        local_seq2seq = self.config["backend"] == "local" and self.kind == "seq2seq"
        return "{text}" if local_seq2seq else DEFAULT_PROMPT

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        doc: TextDoc = info["doc"]
        seed = self.draw_seed(rng)
        if not doc.words():
            raise Rejected("no words to paraphrase")
        template = self.prompt()
        label = info.get("label")
        if "{label}" in template and label is None:
            raise ValueError("the prompt uses {label} but this record has no label")
        prompt = template.replace("{{", "\0").replace("}}", "\1")
        prompt = prompt.replace("{label}", str(label)).replace("{text}", doc.text)
        prompt = prompt.replace("\0", "{").replace("\1", "}")
        service: ModelService = info["models"]
        answer = ask_all(service, self.backend_for(service), [Request(prompt, seed)])[0]
        text = clean_output(answer, doc.text)
        self.filters(doc, text)
        return {"seed": seed, "text": text}
