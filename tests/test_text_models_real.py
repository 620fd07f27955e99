"""Opt-in checks with real models, run when they are already on this machine (nothing is
downloaded): MarianMT opus-mt en<->de in the local Hugging Face cache, a paraphrase model named
by AUGCLI_TEST_PARAPHRASE_MODEL (a folder or cached name), an OpenAI-compatible endpoint given by
AUGCLI_TEST_OPENAI_URL and AUGCLI_TEST_OPENAI_MODEL. Otherwise each test is skipped, saying why
(pytest -ra prints the reason)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, write_recipe
from typer.testing import CliRunner

from augcli.cli import app

pytest.importorskip("transformers", reason="the translate/llm extras are not installed")

runner = CliRunner()
NOTES = ROOT / "sample_data" / "text" / "clinical_notes.jsonl"


def cached(repo: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo, "config.json"), str)


def run(tmp_path: Path, op: str, params: dict) -> list[dict]:
    (tmp_path / "data").mkdir()
    shutil.copy(NOTES, tmp_path / "data" / NOTES.name)
    body = (
        f"seed: 1\ninput: data\noutput: out\ncopies: 1\ntext:\n  pipeline:\n"
        f"    - {op}: {json.dumps(params)}\n"
    )
    result = runner.invoke(app, ["expand", str(write_recipe(tmp_path / "r.yaml", body)), "-q"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (tmp_path / "out/manifest.jsonl").read_text().splitlines()]
    return [r for r in lines if r.get("record")]


def check_outputs(records: list[dict]) -> None:
    ok = [r for r in records if r["status"] == "ok"]
    assert len(ok) >= len(records) // 2, [r.get("error") for r in records]
    sources = {i: json.loads(x)["text"] for i, x in enumerate(NOTES.read_text().splitlines())}
    for r in ok:
        src, new = sources[r["record"]["input"]], r["ops"][0]["params"]["text"]
        if src.lower().startswith("no "):
            assert "no" in new.lower().split(), (src, new)


@pytest.mark.skipif(
    not (cached("Helsinki-NLP/opus-mt-en-de") and cached("Helsinki-NLP/opus-mt-de-en")),
    reason="Helsinki-NLP/opus-mt-en-de and -de-en are not in the local Hugging Face cache "
    "(hf download Helsinki-NLP/opus-mt-en-de Helsinki-NLP/opus-mt-de-en to run this)",
)
def test_real_back_translation(tmp_path: Path) -> None:
    check_outputs(run(tmp_path, "back_translate", {"pivot": "de"}))


@pytest.mark.skipif(
    not os.environ.get("AUGCLI_TEST_PARAPHRASE_MODEL"),
    reason="set AUGCLI_TEST_PARAPHRASE_MODEL to a local paraphrase model to run this",
)
def test_real_local_paraphrase(tmp_path: Path) -> None:
    model = os.environ["AUGCLI_TEST_PARAPHRASE_MODEL"]
    check_outputs(run(tmp_path, "paraphrase", {"model": model}))


@pytest.mark.skipif(
    not (os.environ.get("AUGCLI_TEST_OPENAI_URL") and os.environ.get("AUGCLI_TEST_OPENAI_MODEL")),
    reason="set AUGCLI_TEST_OPENAI_URL and AUGCLI_TEST_OPENAI_MODEL (a loopback endpoint) to run this",
)
def test_real_endpoint_paraphrase(tmp_path: Path) -> None:
    params = {
        "backend": "openai",
        "base_url": os.environ["AUGCLI_TEST_OPENAI_URL"],
        "model": os.environ["AUGCLI_TEST_OPENAI_MODEL"],
    }
    check_outputs(run(tmp_path, "paraphrase", params))


def masked_model() -> str | None:
    """A masked LM to try: AUGCLI_TEST_MLM_MODEL, else a clinical BERT in the local cache."""
    if os.environ.get("AUGCLI_TEST_MLM_MODEL"):
        return os.environ["AUGCLI_TEST_MLM_MODEL"]
    for repo in (
        "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext",
        "emilyalsentzer/Bio_ClinicalBERT",
    ):
        if cached(repo):
            return repo
    return None


@pytest.mark.skipif(
    masked_model() is None,
    reason="set AUGCLI_TEST_MLM_MODEL, or hf download "
    "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext, to run this",
)
def test_real_contextual_substitute(tmp_path: Path) -> None:
    from augcli.text.doc import TextDoc
    from augcli.text.protect import compile_rules

    rules = compile_rules({"protect_defaults": True, "protect": []}, "text")
    records = run(tmp_path, "contextual_substitute", {"model": masked_model(), "n": 1})
    ok = [r for r in records if r["status"] == "ok"]
    assert len(ok) >= len(records) // 2, [r.get("error") or r.get("reason") for r in records]
    sources = [json.loads(x)["text"] for x in NOTES.read_text().splitlines()]
    for r in ok:
        doc = TextDoc.parse(sources[r["record"]["input"]], rules)
        params = r["ops"][0]["params"]
        for (i, word), (prob, sim) in zip(params["replace"], params["scores"], strict=True):
            assert doc.pieces[i].editable and word.isalpha() and prob >= 0.005 and sim >= 0.3
