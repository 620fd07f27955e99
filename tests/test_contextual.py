"""contextual_substitute with a tiny BERT made here (tests/tinymodels.py): batched in rounds,
seeded, the same bytes for any worker count, replayed without the model, protection kept, and
the recipe-time checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="the contextual extra is not installed")
pytest.importorskip("torch", reason="the contextual extra is not installed")

from conftest import tree_digest, write_recipe
from tinymodels import make_bert, make_marian
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.errors import RecipeError
from augcli.core.seeding import generator
from augcli.ops import registry
from augcli.params import recipe_dir_is
from augcli.text import contextual
from augcli.text.doc import TextDoc
from augcli.text.edits import STOP_WORDS
from augcli.text.models import masked
from augcli.text.models.quality import Rejected
from augcli.text.models.service import ModelService, Pending
from augcli.text.protect import compile_rules

runner = CliRunner()
RULES = compile_rules({"protect_defaults": True, "protect": []}, "text")
NOTES = [
    "No evidence of pneumonia.",
    "Mild cardiomegaly is present. There is no pleural effusion.",
    "The patient denies chest pain.",
    "Heart size is normal and the lungs are clear.",
    "Small nodule in the left upper lobe, 4 mm.",
]
OPEN = {"min_probability": 0.0, "min_similarity": -1.0, "top_k": 5}
CACHE = ("run.json", ".augcli/model-cache.sqlite")


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_bert(tmp_path_factory.mktemp("models") / "bert", seed=0))


def build(params: dict):
    with recipe_dir_is(Path.cwd()):
        return registry("text")["contextual_substitute"].from_recipe(params, "test.op")


def settled(op, doc: TextDoc, seed: int, service: ModelService) -> dict:
    info = {"doc": doc, "models": service, "rules": RULES}

    def once() -> dict:
        try:
            return op.sample(generator(seed), info)
        except Pending:
            return {}

    return service.settle(once)


def dataset(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"text": t, "id": i}) for i, t in enumerate(NOTES)]
    (root / "notes.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")


def recipe(tmp_path: Path, params: dict, out: str = "out", extra: str = "") -> Path:
    body = (
        f"seed: 5\ninput: data\noutput: {out}\ncopies: 2\ntext:\n{extra}  pipeline:\n"
        f"    - contextual_substitute: {json.dumps(params)}\n"
    )
    return write_recipe(tmp_path / f"{out}.yaml", body)


def expand(path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["expand", str(path), "-q", *args])
    return result.exit_code, result.output


def test_params_are_the_chosen_words_and_the_same_seed_gives_them_again(bert):
    op = build({"model": bert, "n": 2, **OPEN})
    doc = TextDoc.parse("Mild cardiomegaly is present.", RULES)
    params = settled(op, doc, 1, ModelService())
    assert set(params) == {"fraction", "n", "replace", "scores"}
    assert len(params["replace"]) == 2 and {i for i, _ in params["replace"]} < {0, 2, 6}
    assert all(-1.0 <= sim <= 1.0 and 0.0 <= p <= 1.0 for p, sim in params["scores"])
    assert params == settled(op, doc, 1, ModelService())
    draws = {json.dumps(settled(op, doc, s, ModelService())["replace"]) for s in range(8)}
    assert len(draws) > 1
    out = [p.text for p in op.apply(doc, params).pieces]
    expected = [p.text for p in doc.pieces]
    for i, word in params["replace"]:
        expected[i] = word
    assert out == expected and out[4] == "is"
    first = next(w for i, w in params["replace"] if i == min(i for i, _ in params["replace"]))
    assert first[0].isupper() == (min(i for i, _ in params["replace"]) == 0)  # the word's case


def test_protected_words_are_never_masked_and_no_candidate_adds_a_negation(bert):
    op = build({"model": bert, "fraction": 1.0, **OPEN})
    doc = TextDoc.parse("There is no pleural effusion. Mild cardiomegaly.", RULES)
    params = settled(op, doc, 0, ModelService())
    masked_at = {i for i, _ in params["replace"]}
    assert masked_at and all(doc.pieces[i].editable for i in masked_at)
    assert not masked_at & {i for i, p in enumerate(doc.pieces) if p.protected}
    span = (0, len(doc.pieces))
    mild = doc.pieces.index(next(p for p in doc.pieces if p.text == "Mild"))
    assert contextual._same_protection(doc, mild, span, "Slight", RULES)
    assert not contextual._same_protection(doc, mild, span, "No", RULES)  # a new negation
    assert not contextual._same_protection(doc, mild, span, "two", RULES)  # a number
    assert not contextual._same_protection(doc, mild, span, "very mild", RULES)  # two words


def test_thresholds_filter_candidates_and_an_empty_draw_is_rejected(bert):
    doc = TextDoc.parse("Mild cardiomegaly is present.", RULES)
    strict = build({"model": bert, "n": 2, **OPEN, "min_similarity": 1.0})
    with pytest.raises(Rejected, match=r"min_similarity 1\.0"):
        settled(strict, doc, 1, ModelService())
    doc = TextDoc.parse("Cardiomegaly.", RULES)  # one word to mask
    answers = masked.MaskedBackend(bert, top_k=5).run(
        [masked.masked_request("", "Cardiomegaly", ".")]
    )
    (cands,) = [masked.read_answer(a) for a in answers]
    usable = [(w.capitalize(), p, sim) for w, p, sim in cands if len(w) > 1 and w not in STOP_WORDS]

    def drawn(**limits) -> set[str]:
        op = build({"model": bert, "n": 1, **OPEN, **limits})
        return {settled(op, doc, seed, ModelService())["replace"][0][1] for seed in range(16)}

    everything = {w for w, _, _ in usable}
    similar = {w for w, _, sim in usable if sim >= 0.0}
    likely = {w for w, p, _ in usable if p >= usable[0][1]}
    assert len(everything) >= 2 and similar < everything and likely < everything
    assert drawn() == everything
    assert drawn(min_similarity=0.0) == similar
    assert drawn(min_probability=usable[0][1]) == likely


def test_requests_go_in_batches_of_equal_length_and_the_model_loads_once(
    tmp_path, bert, monkeypatch
):
    dataset(tmp_path / "data")
    sizes: list[int] = []
    loads: list[str] = []
    predict, load = masked.MaskedBackend._predict, masked.MaskedBackend._load_now

    def counting_predict(self, batch):
        sizes.append(len(batch))
        assert len({len(ids) for ids, _ in batch}) == 1, "no padding: one length per call"
        return predict(self, batch)

    monkeypatch.setattr(masked, "_LOADED", {})
    monkeypatch.setattr(masked.MaskedBackend, "_predict", counting_predict)
    monkeypatch.setattr(
        masked.MaskedBackend, "_load_now", lambda s: loads.append(s.path) or load(s)
    )
    params = {"model": bert, "n": 1, "batch_size": 4, **OPEN}
    code, out = expand(recipe(tmp_path, params), "--executor", "serial")
    assert code == 0, out
    assert loads == [bert]
    counts = json.loads((tmp_path / "out/run.json").read_text())["model_requests"]
    assert sum(sizes) == counts["requests"] >= 5 and counts["batches"] * 4 >= counts["requests"]


@pytest.mark.slow
def test_outputs_identical_for_any_worker_count_and_replayed_without_the_model(
    tmp_path, bert, monkeypatch
):
    dataset(tmp_path / "data")
    params = {"model": bert, "fraction": 0.5, "batch_size": 3, **OPEN}
    one = recipe(tmp_path, params, "one")
    assert expand(one, "--workers", "1")[0] == 0
    two = recipe(tmp_path, params, "two", "  chunk_records: 2\n")
    assert expand(two, "--workers", "2")[0] == 0
    assert tree_digest(tmp_path / "one", CACHE) == tree_digest(tmp_path / "two", CACHE)
    lines = [json.loads(x) for x in (tmp_path / "one/manifest.jsonl").read_text().splitlines()]
    ok = [r for r in lines if r.get("record") and r["status"] == "ok"]
    assert len(ok) >= 6
    assert all(set(r["ops"][0]["params"]) == {"fraction", "n", "replace", "scores"} for r in ok)

    def no_model(*args):
        raise AssertionError("replay must not run the model")

    monkeypatch.setattr(masked, "_LOADED", {})
    monkeypatch.setattr(masked.MaskedBackend, "_load_now", no_model)
    one.write_text(one.read_text().replace(bert, str(tmp_path / "gone")))
    result = runner.invoke(app, ["replay", str(one), "--to", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert "0 differ" in result.output
    again = (tmp_path / "again/notes.jsonl").read_bytes()
    assert again == (tmp_path / "one/notes.jsonl").read_bytes()


def test_a_model_without_a_masked_lm_head_is_a_recipe_error(tmp_path):
    marian = make_marian(tmp_path / "marian")
    with pytest.raises(RecipeError, match="is not a masked language model") as err:
        build({"model": str(marian)})
    assert "MarianMTModel" in str(err.value) and contextual.CLINICAL_MODEL in str(err.value)


def test_a_model_missing_from_the_cache_exits_2_with_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    dataset(tmp_path / "data")
    path = recipe(tmp_path, {"model": contextual.CLINICAL_MODEL})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"hf download {contextual.CLINICAL_MODEL}" in result.output
