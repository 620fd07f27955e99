"""Local Hugging Face models (the optional extras): finding a model without downloading it,
checking the extra is installed, and a batched backend for seq2seq (MarianMT, T5, BART, ...)
and causal language models.

Decoding is deterministic: beam search (or greedy) by default; sampling, when asked, draws each
request's tokens from its own seeded generator (the Gumbel-max trick on top of greedy search),
so a record's output never depends on which other records shared its batch."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augcli.core.errors import RecipeError, UsageError
from augcli.params import recipe_dir
from augcli.text.models.base import ModelError, Request

EXTRAS = {
    "translate": ("torch", "transformers", "sentencepiece", "huggingface_hub"),
    "llm": ("torch", "transformers", "huggingface_hub"),
    "contextual": ("torch", "transformers", "huggingface_hub"),
}


def require_extra(extra: str, op: str, where: str) -> None:
    """Raise a RecipeError naming the install command when an extra's modules are missing."""
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise RecipeError(
            f"{op} needs the optional extra '{extra}' ({', '.join(missing)} not installed)",
            path=where,
            fix=f"Install it: pip install 'augcli[{extra}]' (CPU torch: pip install torch first).",
        )


def _looks_like_path(ref: str) -> bool:
    """Hub names are ``name`` or ``org/name``; anything else is a folder."""
    return ref.startswith((".", "/", "~")) or ref.count("/") > 1 or "\\" in ref


def resolve_model(ref: str, allow_download: bool, where: str) -> str:
    """A model reference as a local folder: a path (relative to the recipe's folder), or a hub
    name found in the local Hugging Face cache. A name not in the cache is an error saying how
    to fetch it, unless ``allow_download`` (then the name is returned and loaded from the hub)."""
    local = (recipe_dir() / os.path.expanduser(ref)).resolve()
    if _looks_like_path(ref) or local.is_dir():
        if not local.is_dir():
            raise RecipeError(
                "model folder does not exist",
                path=where,
                value=ref,
                fix="Give a folder holding config.json and the weights (paths are relative to "
                "the recipe's folder), or a Hugging Face model name.",
            )
        if not (local / "config.json").is_file():
            raise RecipeError(
                "model folder has no config.json",
                path=where,
                value=str(local),
                fix="Point at the folder that save_pretrained() wrote (config.json, weights, "
                "tokenizer files).",
            )
        return str(local)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(ref, local_files_only=True)
    except (LocalEntryNotFoundError, OSError, ValueError):
        if allow_download:
            return ref
        raise RecipeError(
            "model is not in the local Hugging Face cache, and downloads are off",
            path=where,
            value=ref,
            fix=f"Fetch it once with: hf download {ref}  (or set allow_download: true on the "
            "op, or give a local model folder).",
        ) from None


def fetch_model(ref: str) -> str:
    """A model the recipe allows downloading (``allow_download``), fetched into the local
    Hugging Face cache now, in the parent, so every worker loads the same local snapshot and
    run.json fingerprints its files. Returns its folder; a folder is returned as it is."""
    if Path(ref).is_dir():
        return ref
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(ref)
    except Exception as exc:
        raise UsageError(
            f"could not download model {ref} (allow_download: true): {type(exc).__name__}: "
            f"{exc}. Check the name and the network, or fetch it with: hf download {ref}"
        ) from None


SAMPLE_BYTES = 1 << 16  # per sample of a large file
SAMPLES = 32


@functools.lru_cache(maxsize=64)
def fingerprint(path: str) -> str:
    """What identifies a model's outputs: every file's name, size and content (small files
    whole; large weight files by ``SAMPLES`` evenly spaced 64 KiB samples, which any change to
    the weights of a fine-tuned or replaced checkpoint touches). A hub name that is not
    downloaded yet is its own fingerprint."""
    folder = Path(path)
    if not folder.is_dir():
        return path
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = f.stat().st_size
        h.update(f"{f.relative_to(folder).as_posix()}:{size};".encode())
        with open(f, "rb") as fh:
            if size <= SAMPLES * SAMPLE_BYTES:
                h.update(fh.read())
                continue
            for k in range(SAMPLES):
                fh.seek((size - SAMPLE_BYTES) * k // (SAMPLES - 1))
                h.update(fh.read(SAMPLE_BYTES))
    return h.hexdigest()[:16]


def describe_model(path: str) -> dict[str, str]:
    """A model as run.json records it: its folder (or hub name) and fingerprint."""
    return {"path": path, "fingerprint": fingerprint(path)}


def model_kind(path: str) -> str:
    """``seq2seq`` or ``causal``, from config.json (no library import)."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return "auto"
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"could not read {cfg}: {exc}") from None
    return "seq2seq" if data.get("is_encoder_decoder") else "causal"


@dataclass(frozen=True)
class Decoding:
    """How tokens are chosen: beams (1 = greedy) or, for requests with a seed, sampling."""

    beams: int = 4
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0

    def key(self) -> str:
        return (
            f"beams={self.beams}|max={self.max_new_tokens}|t={self.temperature}"
            f"|top_p={self.top_p}|top_k={self.top_k}"
        )


_LOADED: dict[tuple[str, str, bool], tuple[Any, Any, str]] = {}  # this process's models


class HFBackend:
    """A local model, loaded on first use in the process that uses it, run in batches."""

    def __init__(
        self,
        path: str,
        decoding: Decoding,
        *,
        batch_size: int = 16,
        device: str = "cpu",
        allow_download: bool = False,
        threads: int | None = None,
        chat: bool = True,
    ) -> None:
        self.path = path
        self.decoding = decoding
        self._batch_size = batch_size
        self.device = device
        self.allow_download = allow_download
        self.threads = threads
        self.chat = chat
        self._key = f"hf|{fingerprint(path)}|{decoding.key()}|chat={chat}"
        self._model: Any = None
        self._tokenizer: Any = None
        self._kind = ""
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
            if where not in _LOADED:  # backends that differ only in decoding share the weights
                _LOADED[where] = self._load_now()
            self._model, self._tokenizer, self._kind = _LOADED[where]
        except ModelError as exc:
            self._failed = exc
            raise
        except Exception as exc:
            self._failed = ModelError(
                f"could not load model {self.path}: {type(exc).__name__}: {exc}"
            )
            raise self._failed from None

    def _load_now(self) -> tuple[Any, Any, str]:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        import torch
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        if self.threads:
            torch.set_num_threads(self.threads)
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ModelError(f"device: cuda was asked for {self.path}, but no CUDA GPU is usable")
        kind = model_kind(self.path)
        offline = not self.allow_download
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tok = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=offline)
            if kind == "auto":
                cfg = transformers.AutoConfig.from_pretrained(self.path, local_files_only=offline)
                kind = "seq2seq" if cfg.is_encoder_decoder else "causal"
            auto = (
                transformers.AutoModelForSeq2SeqLM
                if kind == "seq2seq"
                else transformers.AutoModelForCausalLM
            )
            model = auto.from_pretrained(self.path, local_files_only=offline)
        if kind == "causal":
            tok.padding_side = "left"
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
        model.to(self.device).eval()
        return model, tok, kind

    def _inputs(self, requests: list[Request]) -> list[str]:
        texts = [r.text for r in requests]
        if self._kind == "causal" and self.chat and getattr(self._tokenizer, "chat_template", None):
            texts = [
                self._tokenizer.apply_chat_template(
                    [{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True
                )
                for t in texts
            ]
        return texts

    def run(self, requests: list[Request]) -> list[str | ModelError]:
        self._load()
        out: list[str | ModelError] = [ModelError("not run")] * len(requests)
        greedy = [i for i, r in enumerate(requests) if r.seed is None]
        sampled = [i for i, r in enumerate(requests) if r.seed is not None]
        for group, seeds in ((greedy, None), (sampled, [requests[i].seed for i in sampled])):
            if group:
                texts = self._generate([requests[i] for i in group], seeds)
                for i, text in zip(group, texts, strict=True):
                    out[i] = text if text.strip() else ModelError("the model returned no text")
        return out

    def _generate(self, requests: list[Request], seeds: list[Any] | None) -> list[str]:
        import torch

        tok, model, d = self._tokenizer, self._model, self.decoding
        limit = getattr(tok, "model_max_length", 512)
        limit = 512 if not isinstance(limit, int) or limit > 100_000 else limit
        enc = tok(
            self._inputs(requests),
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=limit,
        ).to(self.device)
        kwargs: dict[str, Any] = {"max_new_tokens": d.max_new_tokens, "do_sample": False}
        if seeds is None:
            kwargs["num_beams"] = d.beams
        else:
            kwargs["num_beams"] = 1
            kwargs["logits_processor"] = _gumbel_processor(seeds, d)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ids = model.generate(**enc, **kwargs)
        if self._kind == "causal":
            ids = ids[:, enc["input_ids"].shape[1] :]
        return [t.strip() for t in tok.batch_decode(ids, skip_special_tokens=True)]


def _gumbel_processor(seeds: list[int], d: Decoding) -> Any:
    """Sampling by perturbing each row's scores with Gumbel noise from that row's own generator
    (argmax of scores/T + Gumbel is a draw from softmax(scores/T)), after top-k/top-p."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class Gumbel(LogitsProcessor):
        def __init__(self) -> None:
            self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            scores = scores.float() / max(d.temperature, 1e-6)
            if d.top_k and d.top_k < scores.shape[-1]:
                kth = torch.topk(scores, d.top_k, dim=-1).values[:, -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            if d.top_p < 1.0:
                sorted_scores, order = torch.sort(scores, descending=True, dim=-1)
                cum = sorted_scores.softmax(-1).cumsum(-1)
                drop = cum - sorted_scores.softmax(-1) > d.top_p  # keep the first token always
                scores = scores.scatter(-1, order, sorted_scores.masked_fill(drop, float("-inf")))
            noise = torch.stack(
                [torch.rand(scores.shape[-1], generator=g) for g in self.gens]
            ).clamp_(1e-10, 1 - 1e-10)
            return scores - torch.log(-torch.log(noise)).to(scores.device)

    return LogitsProcessorList([Gumbel()])


def default_threads(model_workers: int) -> int:
    """Torch threads per model worker: the cores shared out among them."""
    return max(1, (os.cpu_count() or 1) // max(1, model_workers))
