"""`augcli preview` for audio and text: what it shows is exactly what `expand` writes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf
from conftest import write_recipe
from typer.testing import CliRunner

from augcli.audio.preview import AUDIO_TILE_HEIGHT, AUDIO_TILE_WIDTH
from augcli.cli import app
from augcli.drawing import CAPTION_HEIGHT, GAP, HEADER_HEIGHT, MARGIN
from augcli.text.preview import diff_html

runner = CliRunner()

AUDIO = """\
version: 1
seed: 8
input: data
output: out
copies: 2
audio:
  pipeline:
    - gain: {db: [-6, 6]}
    - polarity_inversion: {p: 0.5}
"""

TEXT = """\
version: 1
seed: 3
input: data
output: out
copies: 2
text:
  pipeline:
    - synonym_replace: {fraction: 0.5}
    - random_swap: {n: 1, p: 0.5}
"""

SENTENCES = [
    "The big dog ran quickly across the green field.",
    "A small cat <sat> on the warm & quiet mat.",
    "She bought fresh bread at the busy market today.",
]


def tone(rate: int, seconds: float, freq: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype("float32")


def test_audio_sheet_grid_and_clips_equal_expand(tmp_path: Path) -> None:
    for cls, freq in (("a", 330.0), ("b", 550.0)):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for k in range(3):
            sf.write(
                str(tmp_path / "data" / cls / f"s{k}.wav"),
                tone(16000, 0.3, freq * (k + 1)),
                16000,
                subtype="PCM_16",
            )
    recipe = write_recipe(tmp_path / "r.yaml", AUDIO)
    sheet = tmp_path / "prev" / "sheet.png"
    res = runner.invoke(app, ["preview", str(recipe), "-n", "3", "--output", str(sheet)])
    assert res.exit_code == 0, res.output
    img = cv2.imread(str(sheet))
    rows, cols = 4, 4  # 2 per class x 2 classes; original + 3
    assert img.shape[1] == 2 * MARGIN + cols * AUDIO_TILE_WIDTH + (cols - 1) * GAP
    assert img.shape[0] == (
        2 * MARGIN + HEADER_HEIGHT + rows * (AUDIO_TILE_HEIGHT + CAPTION_HEIGHT) + (rows - 1) * GAP
    )
    folder = tmp_path / "prev" / "sheet_audio"
    clips = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*__*.wav"))
    assert len(clips) == rows * 3 and "a/s0__aug_2.wav" in clips
    assert not (folder / "a" / "s2__aug_0.wav").exists()  # only the first K per class

    res = runner.invoke(app, ["expand", str(recipe), "-q"])
    assert res.exit_code == 0, res.output
    compared = 0
    for rel in clips:
        written = tmp_path / "out" / rel
        if written.exists():
            assert (folder / rel).read_bytes() == written.read_bytes(), rel
            compared += 1
    assert compared == rows * 2  # copies 0 and 1 are in the plan; copy 2 is preview-only


def test_text_html_marks_changes_and_records_equal_expand(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.jsonl").write_text(
        "".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(SENTENCES))
    )
    recipe = write_recipe(tmp_path / "r.yaml", TEXT)
    sheet = tmp_path / "prev" / "p.png"
    res = runner.invoke(app, ["preview", str(recipe), "-n", "2", "--output", str(sheet)])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "prev" / "p.html").read_text(encoding="utf-8")
    assert "The big dog ran quickly across the green field." in page
    assert "A small cat &lt;sat&gt; on the warm &amp; quiet mat." in page
    assert "<mark>" in page
    assert SENTENCES[2] not in page  # per_class 2: the first two records
    assert "notes.jsonl#0" in res.stdout and "original: " + SENTENCES[0] in res.stdout

    res = runner.invoke(app, ["expand", str(recipe), "-q"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x)["text"] for x in (tmp_path / "out/notes.jsonl").read_text().splitlines()]
    shown = [
        line.split(": ", 1)[1] for line in res_lines(tmp_path, recipe) if line.startswith("  aug_")
    ]
    assert len(shown) == 4 and all(text in rows for text in shown)


def res_lines(tmp_path: Path, recipe: Path) -> list[str]:
    sheet = tmp_path / "prev2" / "p.png"
    res = runner.invoke(app, ["preview", str(recipe), "-n", "2", "--output", str(sheet)])
    return res.stdout.splitlines()


def test_diff_html_marks_only_changed_words_and_escapes() -> None:
    out = diff_html("the <big> dog ran", "the <large> dog ran")
    assert out == "the <mark>&lt;large&gt;</mark> dog ran"
    assert "<mark>" not in diff_html("a b c", "a b c")


CLINICAL = """\
version: 1
seed: 3
input: data
output: out
copies: 1
text:
  domain: clinical
  protect: [Dr Hale]
  pipeline:
    - synonym_replace: {fraction: 0.5}
"""


def test_text_preview_marks_the_protected_words(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    sentence = "No pleural effusion seen by Dr Hale, the heart looks stable at 12 mm."
    (tmp_path / "data" / "notes.jsonl").write_text(json.dumps({"text": sentence}) + "\n")
    recipe = write_recipe(tmp_path / "r.yaml", CLINICAL)
    sheet = tmp_path / "prev" / "p.png"
    res = runner.invoke(app, ["preview", str(recipe), "-n", "1", "--output", str(sheet)])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "prev" / "p.html").read_text(encoding="utf-8")
    kept = [line for line in res.stdout.splitlines() if line.startswith("  protected: ")]
    assert len(kept) == 1, res.stdout
    runs = kept[0].removeprefix("  protected: ").split(" | ")
    # a negation with its scope (to the comma) is one run; then the domain's terms, a number
    assert runs == ["No pleural effusion seen by Dr Hale", "heart", "stable", "12 mm"]
    assert '<u class="kept">pleural</u> <u class="kept">effusion</u>' in page
    assert '<u class="kept">Hale</u>' in page and ">looks<" not in page
