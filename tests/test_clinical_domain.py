"""domain: clinical: the shipped vocabulary (its size, the issue's examples, the build script
reproducing it), clinical phrases surviving every text op at full strength (iterated over the
op registry, so a new op is covered), and configs/text.yaml on its sample changing no finding
or anatomy term."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import run_augcli
from test_text_ops import TABLE, all_out, text_ops

from augcli.core.errors import RecipeError
from augcli.core.seeding import generator
from augcli.text.doc import TextDoc
from augcli.text.lexicon import Lexicon
from augcli.text.protect import compile_rules, domain_table, domain_terms, protected
from augcli.text.tokens import tokenize

ROOT = Path(__file__).resolve().parents[1]
CLINICAL = compile_rules({"domain": "clinical"})
SENTENCES = [
    (
        "Small left pleural effusion with basal atelectasis.",
        ["left pleural effusion", "atelectasis"],
    ),
    (
        "Possible ground-glass opacity in the right lower lobe.",
        ["Possible ground-glass opacity", "right lower lobe"],
    ),
    ("Heart size is enlarged; mild pulmonary oedema.", ["Heart", "mild pulmonary oedema"]),
    (
        "Cannot exclude a small pneumothorax at the left apex.",
        ["Cannot exclude", "pneumothorax", "left apex"],
    ),
    (
        "The ETT tip lies above the carina, NG tube in the stomach.",
        ["ETT", "carina", "NG tube", "stomach"],
    ),
]


def test_the_vocabulary_holds_findings_anatomy_drugs_devices_and_hedges() -> None:
    terms = domain_terms("clinical")
    assert len(terms) > 5000
    for term, category in [
        ("pleural effusion", "finding"),
        ("ground-glass opacity", "finding"),
        ("atelectasis", "finding"),
        ("oedema", "finding"),
        ("chest", "anatomy"),
        ("heart", "anatomy"),
        ("cannot exclude", "hedge"),
        ("no evidence of", "hedge"),
        ("likely", "hedge"),
        ("copd", "abbreviation"),
        ("warfarin", "drug"),
        ("endotracheal tube", "device"),
        ("bilateral", "place"),
        ("severe", "severity"),
    ]:
        assert terms.get(term) == category, term
    assert {"build", "figure", "case", "system"}.isdisjoint(terms), "everyday words left out"
    table = domain_table("clinical")
    assert ("effusions",) in table["effusions"] and ("ground", "glass", "opacity") in table[
        "ground"
    ]
    assert ("metastases",) in table["metastases"]


def flags(text: str) -> list[str]:
    toks = tokenize(text)
    return [
        t.text
        for t, f in zip(toks, protected(toks, CLINICAL), strict=True)
        if f and t.kind != "space"
    ]


def test_clinical_terms_are_protected_and_everyday_words_are_not() -> None:
    got = flags("Possible small left pleural effusions; the patient walked home happily.")
    assert got == ["Possible", "small", "left", "pleural", "effusions"]
    general = compile_rules({})
    toks = tokenize("left pleural effusion")
    assert not any(protected(toks, general))
    with pytest.raises(RecipeError, match="is not a known domain") as err:
        compile_rules({"domain": "radiology"}, "text")
    assert err.value.path == "text.domain"


@pytest.mark.parametrize("name", sorted(text_ops()))
@pytest.mark.parametrize(("text", "kept"), SENTENCES)
def test_clinical_phrases_survive_every_text_op(name: str, text: str, kept: list[str]) -> None:
    cls = text_ops()[name]
    op = cls.from_recipe(all_out(name), f"test.{name}")
    doc = TextDoc.parse(text, CLINICAL)
    for seed in range(8):
        params = op.sample(
            generator(seed), {"doc": doc, "lexicon": Lexicon.default(), "substitutions": TABLE}
        )
        out = op.apply(doc, params).text
        for phrase in kept:
            assert phrase in out, f"{name} seed {seed}: {out!r} lost {phrase!r}"


def test_the_build_script_reproduces_the_shipped_vocabulary(tmp_path: Path) -> None:
    if not Path("/usr/share/wordnet/data.noun").exists():
        pytest.skip("WordNet 3.0 is not installed (apt-get install wordnet-base)")
    out = tmp_path / "terms.tsv"
    script = ROOT / "scripts/build_clinical_terms.py"
    subprocess.run(
        [sys.executable, str(script), "--out", str(out)], check=True, capture_output=True
    )
    assert out.read_text() == (ROOT / "augcli/text/data/clinical-terms.tsv").read_text()


def clinical_terms_in(text: str) -> Counter:
    """The finding and anatomy terms of ``text`` (folded), by the domain's own matcher."""
    toks = [t for t in tokenize(text) if t.kind != "space"]
    words = [t.text.casefold() for t in toks]
    table, terms = domain_table("clinical"), domain_terms("clinical")
    found: Counter = Counter()
    for k, word in enumerate(words):
        for key in table.get(word, ()):
            if tuple(words[k : k + len(key)]) == key:
                found[" ".join(key)] += 1
    keep = {t for t, c in terms.items() if c in ("finding", "anatomy")}
    return Counter({t: n for t, n in found.items() if t in keep or t.rstrip("s") in keep})


def texts_of(path: Path) -> list[str]:
    """The texts of a JSONL or CSV record file, in order."""
    import csv

    if path.suffix == ".jsonl":
        return [json.loads(x)["text"] for x in path.read_text().splitlines() if x.strip()]
    with path.open(newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


def test_the_text_config_changes_no_finding_or_anatomy_term(tmp_path: Path) -> None:
    config = (ROOT / "configs/text.yaml").read_text()
    assert "domain: clinical" in config
    shutil.copytree(ROOT / "sample_data/text", tmp_path / "data")
    recipe = tmp_path / "text.yaml"
    recipe.write_text(config.replace("../sample_data/text", "data").replace("../out/text", "out"))
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 0, proc.stderr
    checked = changed = protected_runs = 0
    for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines():
        rec = json.loads(line)
        where = rec.get("record")
        if rec["status"] != "ok" or not rec.get("ops") or not isinstance(where, dict):
            continue
        source = texts_of(tmp_path / "data" / rec["source"])[where["input"]]
        output = texts_of(tmp_path / "out" / rec["output"])[where["output"]]
        terms = clinical_terms_in(source)
        assert clinical_terms_in(output) == terms, (source, output)
        # the manifest names what was protected: runs of the source, each kept in the output
        for start, end, kept in rec.get("protected", []):
            assert source[start:end] == kept and kept in output, (kept, output)
        protected_runs += len(rec.get("protected", []))
        checked += bool(terms)
        changed += output != source
    assert protected_runs > 20
    assert checked > 10 and changed > 10  # records with terms were augmented, and kept them
