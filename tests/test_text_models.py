"""The model text ops (back_translate, paraphrase) with tiny local models made in the tests and
a loopback chat server: the op contract, batching, one load per process, determinism, the
response cache, filters, replay, and the recipe-time checks (extras, missing models, privacy)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="the translate/llm extras are not installed")

from chat_server import ChatServer
from conftest import ROOT, tree_digest, write_recipe
from rows_text_models import MODEL_ROWS, NO_FILTERS
from tinymodels import make_bert, make_causal, make_marian
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.errors import RecipeError
from augcli.core.seeding import generator
from augcli.ops import registry
from augcli.params import recipe_dir_is
from augcli.text.doc import TextDoc
from augcli.text.models import hf
from augcli.text.models.quality import Rejected
from augcli.text.models.service import ModelService, Pending
from augcli.text.protect import compile_rules

runner = CliRunner()
RULES = compile_rules({"protect_defaults": True, "protect": []}, "text")
NOTES = [
    ("No evidence of pneumonia.", "normal"),
    ("Mild cardiomegaly is present. There is no pleural effusion.", "abnormal"),
    ("The patient denies chest pain.", "normal"),
    ("Heart size is normal and the lungs are clear.", "normal"),
    ("Small nodule in the left upper lobe, 4 mm.", "abnormal"),
]
CACHE = ("run.json", ".augcli/model-cache.sqlite")


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("models")
    return {
        "marian": str(make_marian(root / "marian-en-de", seed=0)),
        "marian_back": str(make_marian(root / "marian-de-en", seed=1)),
        "causal": str(make_causal(root / "causal", seed=0)),
        "bert": str(make_bert(root / "bert", seed=0)),
    }


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


def fill(value, names: dict[str, str]):
    if isinstance(value, str):
        return value.format(**names) if "{" in value else value
    return value


def build(name: str, row: dict, names: dict[str, str]):
    with recipe_dir_is(Path.cwd()):
        return registry("text")[name].from_recipe(
            {k: fill(v, names) for k, v in row.items()}, f"test.{name}"
        )


def sample_settled(op, doc: TextDoc, seed: int, service: ModelService) -> dict:
    """sample() with its model requests answered, as the modality's rounds do."""
    info = {"doc": doc, "models": service, "label": "normal"}

    def once() -> dict:
        try:
            return op.sample(generator(seed), info)
        except Pending:
            return {}

    return service.settle(once)


def dataset(root: Path, n: int = len(NOTES)) -> None:
    root.mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"text": t, "label": lab, "id": i}) for i, (t, lab) in enumerate(NOTES[:n])]
    (root / "notes.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")


def recipe(tmp_path: Path, op: str, params: dict, out: str = "out", extra: str = "") -> Path:
    body = (
        f"seed: 5\ninput: data\noutput: {out}\ncopies: 2\ntext:\n{extra}  pipeline:\n"
        f"    - {op}: {json.dumps(params)}\n"
    )
    return write_recipe(tmp_path / f"{out}.yaml", body)


def expand(path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["expand", str(path), "-q", *args])
    return result.exit_code, result.output


def lines(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def bt(models: dict[str, str], **kw) -> dict:
    base = {"forward_model": models["marian"], "backward_model": models["marian_back"]}
    return {**base, "max_length": 24, **NO_FILTERS, **kw}


# -- the op contract ------------------------------------------------------------------------------
def test_every_model_op_has_rows():
    model_ops = {n for n, c in registry("text").items() if getattr(c, "loads_model", False)}
    assert model_ops == set(MODEL_ROWS)


ROWS = [(name, i) for name, rows in sorted(MODEL_ROWS.items()) for i in range(len(rows))]


@pytest.mark.parametrize(("name", "row"), ROWS)
def test_model_op_contract(name: str, row: int, models, server) -> None:
    op = build(name, MODEL_ROWS[name][row], {**models, "url": server.url})
    doc = TextDoc.parse("No evidence of pneumonia. The heart is normal.", RULES)
    service = ModelService()
    params = sample_settled(op, doc, 3, service)
    assert params and params == sample_settled(op, doc, 3, service), "same generator, same params"
    assert json.loads(json.dumps(params)) == params, "params must be JSON-safe"
    out = op.apply(doc, params)
    if getattr(op, "rewrites", False):  # a new text, recorded whole
        assert isinstance(params["text"], str) and params["text"].strip()
        assert out.text == params["text"]
    else:  # words replaced in place (contextual_substitute)
        assert params["replace"] and out.text != doc.text
    assert op.apply(doc, params) == out, "apply is pure"
    assert doc.text == "No evidence of pneumonia. The heart is normal."
    replayed = type(op).for_replay().apply(doc, json.loads(json.dumps(params)))
    assert replayed.text == out.text, "the manifest's params replay it without the model"
    clone = pickle.loads(pickle.dumps(op))
    assert sample_settled(clone, doc, 3, ModelService()) == params
    desc = type(op).describe()
    assert desc["group"] == "model" and "p" in desc["params"]


def test_sampling_draws_differ_by_seed_and_beam_search_does_not(models):
    doc = TextDoc.parse("Mild cardiomegaly is present.", RULES)
    sampled = build("back_translate", MODEL_ROWS["back_translate"][1], models)
    texts = {sample_settled(sampled, doc, s, ModelService())["text"] for s in range(6)}
    assert len(texts) > 1
    beams = build("back_translate", MODEL_ROWS["back_translate"][0], models)
    texts = {sample_settled(beams, doc, s, ModelService())["text"] for s in range(4)}
    assert len(texts) == 1


def test_back_translate_keeps_the_text_between_sentences(models):
    op = build("back_translate", MODEL_ROWS["back_translate"][0], models)
    doc = TextDoc.parse("  No evidence of pneumonia.\n\nThe heart is normal.  ", RULES)
    params = sample_settled(op, doc, 0, ModelService())
    assert params["text"].startswith("  ") and params["text"].endswith("  ")
    assert "\n\n" in params["text"] and "\n\n" in params["pivot_text"]


# -- batching, loading, determinism -----------------------------------------------------------------
def test_records_go_to_the_model_in_batches_and_it_loads_once(tmp_path, models, monkeypatch):
    dataset(tmp_path / "data")
    calls: list[int] = []
    loads: list[str] = []
    generate, load = hf.HFBackend._generate, hf.HFBackend._load_now

    def counting_generate(self, requests, seeds):
        calls.append(len(requests))
        return generate(self, requests, seeds)

    def counting_load(self):
        loads.append(self.path)
        return load(self)

    monkeypatch.setattr(hf, "_LOADED", {})
    monkeypatch.setattr(hf.HFBackend, "_generate", counting_generate)
    monkeypatch.setattr(hf.HFBackend, "_load_now", counting_load)
    params = bt(models, batch_size=4, beams=1, sample=True)
    code, out = expand(recipe(tmp_path, "back_translate", params), "--executor", "serial")
    assert code == 0, out
    sentences = 6  # five records, one of them two sentences
    requests = 2 * sentences * 2  # forward and backward, two copies (own seeds)
    assert sum(calls) == requests
    assert max(calls) <= 4 and len(calls) == 2 * 3  # 12 per direction in batches of 4
    assert sorted(loads) == sorted([models["marian"], models["marian_back"]])


@pytest.mark.slow
def test_outputs_identical_for_any_worker_count_and_chunking(tmp_path, models):
    dataset(tmp_path / "data")
    params = bt(models, beams=1, sample=True, batch_size=3)
    code, out = expand(recipe(tmp_path, "back_translate", params, "one"), "--workers", "1")
    assert code == 0, out
    code, out = expand(
        recipe(tmp_path, "back_translate", params, "two", "  chunk_records: 2\n"),
        "--workers",
        "2",
    )
    assert code == 0, out
    assert tree_digest(tmp_path / "one", CACHE) == tree_digest(tmp_path / "two", CACHE)
    ok = [r for r in lines(tmp_path / "one") if r.get("record") and r["status"] == "ok"]
    assert len(ok) >= 6
    for rec in ok:
        (entry,) = rec["ops"]
        assert entry["op"] == "back_translate" and entry["params"]["pivot"] == "de"
        assert set(entry["params"]) == {"pivot", "seed", "pivot_text", "text"}


def test_replay_rebuilds_model_outputs_without_the_model(tmp_path, models, monkeypatch):
    dataset(tmp_path / "data")
    path = recipe(tmp_path, "back_translate", bt(models, beams=1, sample=True))
    code, out = expand(path)
    assert code == 0, out

    def no_model(*args):
        raise AssertionError("replay must not run the model")

    monkeypatch.setattr(hf, "_LOADED", {})
    monkeypatch.setattr(hf.HFBackend, "_load_now", no_model)
    result = runner.invoke(app, ["replay", str(path), "--to", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert "0 differ" in result.output
    body = path.read_text().replace(models["marian"], str(tmp_path / "gone"))
    path.write_text(body)  # the model is not even there any more
    result = runner.invoke(app, ["replay", str(path), "--to", str(tmp_path / "third")])
    assert result.exit_code == 0, result.output
    assert "0 differ" in result.output
    again = (tmp_path / "again/notes.jsonl").read_bytes()
    assert again == (tmp_path / "out/notes.jsonl").read_bytes()


def test_resume_answers_from_the_cache(tmp_path, models, monkeypatch):
    dataset(tmp_path / "data")
    path = recipe(tmp_path, "back_translate", bt(models, beams=1, sample=True))
    result = runner.invoke(app, ["expand", str(path)])
    assert result.exit_code == 0, result.output
    assert "model requests: 24 sent in 2 batches, 0 answered from the cache" in result.output
    first = (tmp_path / "out/notes.jsonl").read_bytes()
    calls: list[int] = []
    generate = hf.HFBackend._generate
    monkeypatch.setattr(
        hf.HFBackend, "_generate", lambda s, r, seeds: calls.append(len(r)) or generate(s, r, seeds)
    )
    (tmp_path / "out/notes.jsonl").unlink()  # as if the run had stopped before writing it
    code, out = expand(path, "--workers", "1")
    assert code == 0, out
    assert calls == [], "every answer came from .augcli/model-cache.sqlite"
    counts = json.loads((tmp_path / "out/run.json").read_text())["model_requests"]
    assert counts.get("requests", 0) == 0 and counts["cache_hits"] == 2 * 6 * 2
    assert (tmp_path / "out/notes.jsonl").read_bytes() == first
    assert (tmp_path / "out/.augcli/model-cache.sqlite").is_file()
    result = runner.invoke(app, ["verify", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output


def test_default_filters_reject_nonsense_and_say_why(tmp_path, models):
    dataset(tmp_path / "data")
    params = {"forward_model": models["marian"], "backward_model": models["marian_back"]}
    code, out = expand(recipe(tmp_path, "back_translate", {**params, "max_length": 24}))
    assert code == 0, out
    recs = [r for r in lines(tmp_path / "out") if r.get("record")]
    assert recs and all(r["status"] == "unchanged" for r in recs)
    assert all(r["error"].startswith("rejected: ") for r in recs)
    rows = (tmp_path / "out/notes.jsonl").read_text().splitlines()
    assert rows == [], "nothing is written for rejected records (keep_originals is off)"


def test_paraphrase_local_causal_end_to_end(tmp_path, models):
    dataset(tmp_path / "data")
    params = {"model": models["causal"], "max_length": 10, "prompt": "[{label}] {text}"}
    params.update(NO_FILTERS)
    code, out = expand(recipe(tmp_path, "paraphrase", params), "--workers", "2")
    assert code == 0, out
    ok = [r for r in lines(tmp_path / "out") if r.get("record") and r["status"] == "ok"]
    assert ok and all(r["ops"][0]["params"]["seed"] is not None for r in ok)


# -- the endpoint backend end to end -----------------------------------------------------------------
def test_paraphrase_endpoint_cache_and_secret(tmp_path, server, monkeypatch):
    dataset(tmp_path / "data")
    secret = "sk-test-Zq81x0NEVERWRITTEN"
    monkeypatch.setenv("AUGCLI_TEST_KEY", secret)
    params = {
        "backend": "openai",
        "base_url": server.url,
        "model": "fake-llm",
        "api_key_env": "AUGCLI_TEST_KEY",
        "backoff": 0.01,
    }
    path = recipe(tmp_path, "paraphrase", params)
    code, out = expand(path, "--executor", "serial")
    assert code == 0, out
    first = len(server.requests)
    # The fake server ignores the seed: copy 1 repeats copy 0, so it is retried 3 times and left
    # unchanged (5 records x (1 + 1 + 3) requests).
    assert first == len(NOTES) * 5
    recs = [r for r in lines(tmp_path / "out") if r.get("record")]
    assert sorted(r["status"] for r in recs) == ["ok"] * 5 + ["unchanged"] * 5
    assert all("identical" in r["error"] for r in recs if r["status"] == "unchanged")
    assert all(h.get("Authorization") == f"Bearer {secret}" for _, h in server.requests)
    bodies = [b for b, _ in server.requests]
    assert {b["model"] for b in bodies} == {"fake-llm"}
    assert all(isinstance(b["seed"], int) for b in bodies)
    rows = [json.loads(x) for x in (tmp_path / "out/notes.jsonl").read_text().splitlines()]
    assert "evidence No of pneumonia." in {r["text"] for r in rows}
    assert {r["label"] for r in rows} == {"normal", "abnormal"}
    for file in (tmp_path / "out").rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file
    (tmp_path / "out/notes.jsonl").unlink()  # as if the run had stopped before writing it
    code, out = expand(path, "--executor", "serial")
    assert code == 0, out
    assert len(server.requests) == first, "a resumed run is answered from the cache"
    assert (tmp_path / "out/notes.jsonl").is_file()
    assert json.loads((tmp_path / "out/run.json").read_text())["model_requests"]["cache_hits"]


def test_protected_words_filter_and_reprotection(tmp_path, server):
    """An answer that drops the negation is rejected; an accepted answer's negation is
    protected again, so a later random_delete cannot remove it."""
    dataset(tmp_path / "data", 1)

    def respond(body: dict):
        text = body["messages"][-1]["content"].rsplit("\n\n", 1)[-1]
        answer = (
            "Evidence of pneumonia." if body["seed"] % 2 else "There is no evidence for pneumonia."
        )
        assert text == NOTES[0][0]
        return 200, {}, {"choices": [{"message": {"role": "assistant", "content": answer}}]}

    server.responder = respond
    params = {"backend": "openai", "base_url": server.url, "model": "m", "min_similarity": 0}
    body = (
        "seed: 5\ninput: data\noutput: out\ncopies: 2\ntext:\n  retries: 6\n  pipeline:\n"
        f"    - paraphrase: {json.dumps(params)}\n    - random_delete: {{fraction: 1.0}}\n"
    )
    code, out = expand(write_recipe(tmp_path / "r.yaml", body), "--workers", "1")
    assert code == 0, out
    recs = [r for r in lines(tmp_path / "out") if r.get("record")]
    ok = [r for r in recs if r["status"] == "ok"]
    assert ok, recs
    rows = [json.loads(x)["text"] for x in (tmp_path / "out/notes.jsonl").read_text().splitlines()]
    assert all("no evidence for pneumonia" in r for r in rows), rows
    assert all(r["ops"][0]["params"]["text"] == "There is no evidence for pneumonia." for r in ok)
    rejected = [r for r in recs if r["status"] == "unchanged"]
    assert all("identical" in r["error"] or "rejected" in r["error"] for r in rejected)


# -- recipe-time checks -------------------------------------------------------------------------------
def validate(path: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "augcli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_missing_model_exits_2_with_the_fetch_command(tmp_path):
    dataset(tmp_path / "data")
    path = recipe(tmp_path, "back_translate", {"pivot": "de"})
    result = validate(path, {"HF_HUB_CACHE": str(tmp_path / "empty-cache")})
    assert result.returncode == 2
    assert "out.yaml:" in result.stderr and "text.pipeline[0].back_translate" in result.stderr
    assert "hf download Helsinki-NLP/opus-mt-en-de" in result.stderr
    assert "allow_download: true" in result.stderr


@pytest.mark.slow
def test_names_resolve_in_the_local_hub_cache_and_pivots_vary(tmp_path, models):
    """pivot: [de, fr] finds Helsinki-NLP/opus-mt-en-de, -de-en, -en-fr and -fr-en in a Hugging
    Face cache folder (offline); each output draws one pivot."""
    import shutil

    cache = tmp_path / "hub"
    for pair in ("en-de", "de-en", "en-fr", "fr-en"):
        src = models["marian"] if pair.startswith("en") else models["marian_back"]
        repo = cache / f"models--Helsinki-NLP--opus-mt-{pair}"
        shutil.copytree(src, repo / "snapshots" / ("0" * 40))
        (repo / "refs").mkdir()
        (repo / "refs/main").write_text("0" * 40)
    dataset(tmp_path / "data")
    params = {"pivot": ["de", "fr"], "max_length": 16, "beams": 1, "sample": True, **NO_FILTERS}
    path = recipe(tmp_path, "back_translate", params)
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    checked = validate(path, env)
    assert checked.returncode == 0, checked.stderr
    snapshot = cache / "models--Helsinki-NLP--opus-mt-fr-en" / "snapshots" / ("0" * 40)
    assert f"uses text.back_translate.fr-en: {snapshot} (fingerprint " in checked.stdout
    result = subprocess.run(
        [sys.executable, "-m", "augcli", "expand", str(path), "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    ok = [r for r in lines(tmp_path / "out") if r.get("record") and r["status"] == "ok"]
    assert {r["ops"][0]["params"]["pivot"] for r in ok} == {"de", "fr"}


def test_a_document_is_translated_sentence_by_sentence(tmp_path, models):
    (tmp_path / "data").mkdir()
    text = "No evidence of pneumonia.\n\nThe heart is normal. Lungs are clear.\n"
    (tmp_path / "data/report.txt").write_text(text, encoding="utf-8")
    code, out = expand(recipe(tmp_path, "back_translate", bt(models, beams=1, sample=True)))
    assert code == 0, out
    written = sorted((tmp_path / "out").glob("report__aug_*.txt"))
    assert len(written) == 2
    for f in written:
        new = f.read_text(encoding="utf-8")
        assert new.count("\n\n") == 1 and new.endswith("\n") and new != text
    (line,) = [r for r in lines(tmp_path / "out") if r["output"] == "report__aug_0.txt"]
    assert line["ops"][0]["params"]["text"] == written[0].read_text(encoding="utf-8")


def test_quality_filters_and_cleaning():
    from augcli.text.models.quality import check, clean_output, protected_words, similarity

    doc = TextDoc.parse("No evidence of pneumonia. A 4 mm nodule.", RULES)
    assert protected_words(doc) == ["no", "evidence", "pneumonia", "4", "mm"]
    kw = {"min_length_ratio": 0.5, "max_length_ratio": 2.0, "min_similarity": 0.3}
    check(doc, "There is no evidence for pneumonia. One 4 mm nodule.", keep_protected=True, **kw)
    for bad, reason in [
        ("Evidence of pneumonia. A 4 mm nodule.", "lost protected words 'no'"),
        ("No evidence of pneumonia. A 5 mm nodule.", "'4'"),
        ("no evidence of pneumonia a 4 mm nodule", "same as the source"),
        ("No evidence of pneumonia. A 4 mm nodule. " * 3, "length"),
        ("", "no text"),
    ]:
        with pytest.raises(Rejected, match=reason):
            check(doc, bad, keep_protected=True, **kw)
    off_topic = "The weather in Paris is lovely in the spring, no 4 mm umbrellas needed."
    assert similarity(doc.text, off_topic) < 0.3
    with pytest.raises(Rejected, match="similarity"):
        check(doc, off_topic, keep_protected=False, **{**kw, "max_length_ratio": 5})
    assert similarity("Mild cardiomegaly is present.", "There is mild cardiomegaly.") > 0.4
    src = "No evidence of pneumonia."
    assert clean_output('"No sign of pneumonia."', src) == "No sign of pneumonia."
    assert clean_output("Here is a paraphrase:\n\nNo sign of pneumonia.\nHope it helps!", src) == (
        "No sign of pneumonia."
    )
    assert clean_output("Line one.\nLine two.", "a\nb") == "Line one.\nLine two."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"backend": "openai", "base_url": "http://10.1.2.3:8000/v1", "model": "m"},
            "allow_remote",
        ),
        ({"backend": "openai", "model": "m"}, "needs base_url"),
        ({"model": "./nowhere"}, "model folder does not exist"),
        (
            {
                "backend": "openai",
                "base_url": "http://127.0.0.1:1/v1",
                "model": "m",
                "prompt": "Reword {txt}",
            },
            "prompt must contain {text}",
        ),
        ({"model": "x", "base_url": "http://127.0.0.1:1/v1"}, "only for backend: openai"),
    ],
)
def test_paraphrase_recipe_errors(tmp_path, params, message):
    dataset(tmp_path / "data")
    result = validate(recipe(tmp_path, "paraphrase", params))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "text.pipeline[0].paraphrase" in result.stderr


def test_back_translate_recipe_errors(models):
    with pytest.raises(RecipeError, match="needs a single pivot"):
        build("back_translate", {"pivot": ["de", "fr"], "forward_model": models["marian"]}, {})
    with pytest.raises(RecipeError, match="is not a language code"):
        build("back_translate", {"pivot": "German"}, {})
    with pytest.raises(RecipeError, match="beams and sample exclude"):
        build("back_translate", bt(models, sample=True, beams=4), {})


def test_a_missing_extra_names_the_install_command(monkeypatch):
    real = hf.importlib.util.find_spec
    monkeypatch.setattr(
        hf.importlib.util, "find_spec", lambda m: None if m == "sentencepiece" else real(m)
    )
    with pytest.raises(RecipeError, match=r"pip install 'augcli\[translate\]'"):
        build("back_translate", {"pivot": "de"}, {})


def test_a_model_that_fails_to_load_fails_its_records_with_path_and_reason(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "marian", "is_encoder_decoder": true}')
    dataset(tmp_path / "data", 2)
    params = {"model": str(broken), **NO_FILTERS}
    code, _ = expand(recipe(tmp_path, "paraphrase", params))
    assert code == 1
    recs = [r for r in lines(tmp_path / "out") if r.get("record")]
    assert recs and all(r["status"] == "failed" for r in recs)
    assert all(f"could not load model {broken}" in r["error"] for r in recs)


def test_preview_shows_what_expand_writes_with_a_model_op(tmp_path, server):
    dataset(tmp_path / "data", 3)
    params = {"backend": "openai", "base_url": server.url, "model": "m", "backoff": 0.01}
    path = recipe(tmp_path, "paraphrase", params)
    sheet = tmp_path / "prev" / "p.png"
    result = runner.invoke(app, ["preview", str(path), "-n", "1", "--output", str(sheet)])
    assert result.exit_code == 0, result.output
    shown = [x.split(": ", 1)[1] for x in result.stdout.splitlines() if x.startswith("  aug_")]
    assert "evidence No of pneumonia." in shown
    assert not (tmp_path / "out").exists(), "preview writes nothing into the output folder"
    code, out = expand(path)
    assert code == 0, out
    rows = [json.loads(x)["text"] for x in (tmp_path / "out/notes.jsonl").read_text().splitlines()]
    assert shown and all(text in rows for text in shown)


# -- model workers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("workers", "limit", "sizes"),
    [
        (4, 1, {"image": 3, "text": 1}),
        (4, 2, {"image": 2, "text": 2}),
        (1, 2, {"image": 1, "text": 1}),
    ],
)
def test_model_tasks_get_their_own_smaller_pool(workers, limit, sizes):
    from augcli.engine.executor import lanes
    from augcli.engine.plan import Task

    tasks = [
        Task(f"{m}{i}", m, None, lane=limit if m == "text" else None)
        for m in ("image", "text")
        for i in range(3)
    ]
    got = {lane[0].modality: size for size, lane in lanes(tasks, workers)}
    assert got == sizes
    assert sorted(t.source for _, lane in lanes(tasks, workers) for t in lane) == sorted(
        t.source for t in tasks
    )


def test_worker_limit_only_with_a_model_op(tmp_path, models):
    from augcli.recipe import load_recipe

    dataset(tmp_path / "data")
    plain = load_recipe(recipe(tmp_path, "random_swap", {"n": 1}, "a", "  model_workers: 3\n"))
    with_model = load_recipe(
        recipe(tmp_path, "back_translate", bt(models), "b", "  model_workers: 3\n")
    )
    from augcli.modality import get_modality

    text = get_modality("text")
    assert (
        text(plain.sections["text"].settings).worker_limit(plain.sections["text"].graph, []) is None
    )
    section = with_model.sections["text"]
    assert text(section.settings).worker_limit(section.graph, [])[0] == 3


def test_run_json_names_the_models_and_a_changed_model_is_another_recipe(tmp_path, models):
    import shutil

    local = tmp_path / "fwd"
    shutil.copytree(models["marian"], local)
    dataset(tmp_path / "data", 2)
    params = bt(models, beams=1, sample=True, forward_model=str(local))
    path = recipe(tmp_path, "back_translate", params)
    code, out = expand(path)
    assert code == 0, out
    info = json.loads((tmp_path / "out/run.json").read_text())
    res = info["resources"]
    assert res["text.back_translate.en-de"]["path"] == str(local)
    assert len(res["text.back_translate.de-en"]["fingerprint"]) == 16
    (local / "extra.txt").write_text("a new snapshot")
    hf.fingerprint.cache_clear()
    code, out = expand(path)
    assert code == 2 and "different recipe" in out


def test_ops_sharing_a_model_load_it_once(tmp_path, models, monkeypatch):
    dataset(tmp_path / "data", 3)
    loads: list[str] = []
    load = hf.HFBackend._load_now
    monkeypatch.setattr(hf, "_LOADED", {})
    monkeypatch.setattr(hf.HFBackend, "_load_now", lambda s: loads.append(s.path) or load(s))
    a = json.dumps(bt(models, beams=1, sample=True))
    b = json.dumps(bt(models, beams=2))
    body = (
        "seed: 5\ninput: data\noutput: out\ncopies: 4\ntext:\n  pipeline:\n"
        f"    - one_of:\n        - back_translate: {a}\n        - back_translate: {b}\n"
    )
    code, out = expand(write_recipe(tmp_path / "r.yaml", body), "--executor", "serial")
    assert code == 0, out
    recs = [r for r in lines(tmp_path / "out") if r.get("ops")]
    assert {i for r in recs for i, e in enumerate(r["ops"]) if e["applied"]} == {0, 1}
    assert sorted(loads) == sorted([models["marian"], models["marian_back"]])


def test_allow_download_fetches_once_in_the_parent_before_the_fingerprint(
    tmp_path, models, monkeypatch
):
    """With allow_download, a model missing from the cache is fetched before any work (here a
    stand-in for the hub copies the tiny model), so workers load a local snapshot and a resumed
    run has the same fingerprint."""
    import shutil

    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    hub = tmp_path / "hub"
    fetched: list[str] = []

    def snapshot_download(repo_id, local_files_only=False, **kw):
        target = hub / repo_id.replace("/", "--")
        if target.is_dir():
            return str(target)
        if local_files_only:
            raise LocalEntryNotFoundError(f"{repo_id} is not cached")
        fetched.append(repo_id)
        shutil.copytree(models["marian" if repo_id.endswith("en-de") else "marian_back"], target)
        return str(target)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    dataset(tmp_path / "data", 2)
    params = {"pivot": "de", "allow_download": True, "max_length": 16, **NO_FILTERS}
    path = recipe(tmp_path, "back_translate", params)
    result = runner.invoke(app, ["expand", str(path)])
    assert result.exit_code == 0, result.output
    assert "augcli: fetched Helsinki-NLP/opus-mt-en-de -> " in result.output
    assert fetched == ["Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en"]
    info = json.loads((tmp_path / "out/run.json").read_text())
    assert info["resources"]["text.back_translate.en-de"]["path"] == str(
        hub / "Helsinki-NLP--opus-mt-en-de"
    )
    code, out = expand(path)
    assert code == 0, out
    assert len(fetched) == 2, "the second run found them in the cache"


def test_models_that_differ_only_in_weights_are_told_apart(tmp_path, models):
    """Two checkpoints of the same shape (a fine-tune replacing a model in place) have
    different fingerprints: the response cache and batching never mix them up."""
    import shutil

    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(models["marian"], a)
    shutil.copytree(models["marian"], b)
    weights = b / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF  # one byte of the weights
    weights.write_bytes(bytes(data))
    assert hf.fingerprint(str(a)) != hf.fingerprint(str(b))
    assert hf.fingerprint(str(a)) == hf.fingerprint(models["marian"])


def test_large_weight_files_are_sampled_across_their_length(tmp_path):
    import numpy as np

    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    weights = np.random.default_rng(0).standard_normal(2_000_000).astype(np.float32)
    (folder / "model.safetensors").write_bytes(weights.tobytes())  # 8 MB: sampled, not read whole
    before = hf.fingerprint.__wrapped__(str(folder))
    (folder / "model.safetensors").write_bytes((weights * 1.001).tobytes())  # a fine-tune
    assert hf.fingerprint.__wrapped__(str(folder)) != before
