"""The audio modality end to end: container, subtype, rate and channels kept (or converted on
request), byte-identical outputs, clipping counted, sidecars carried, bad files failing alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, tree_digest, write_recipe
from typer.testing import CliRunner

from augcli.cli import app

runner = CliRunner()

RECIPE = """\
version: 1
seed: 8
input: data
output: {out}
copies: 2
keep_originals: true
audio:
{extra}  pipeline:
    - gain: {{db: [-3, 3]}}
    - polarity_inversion: {{p: 0.5}}
"""

# (name, container, subtype, rate, channels)
FORMATS = [
    ("a.wav", "WAV", "PCM_16", 16000, 1),
    ("b.wav", "WAV", "PCM_24", 22050, 2),
    ("c.wav", "WAV", "FLOAT", 8000, 1),
    ("d.flac", "FLAC", "PCM_16", 44100, 2),
    ("e.ogg", "OGG", "VORBIS", 16000, 1),
    ("f.wav", "WAV", "PCM_32", 16000, 3),
]


def tone(rate: int, channels: int, seconds: float = 0.5, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.stack(
        [level * np.sin(2 * np.pi * (330 + 110 * c) * t) for c in range(channels)], axis=1
    ).astype("float32")


def dataset(root: Path) -> None:
    (root / "cls").mkdir(parents=True, exist_ok=True)
    for name, container, subtype, rate, ch in FORMATS:
        sf.write(str(root / "cls" / name), tone(rate, ch), rate, format=container, subtype=subtype)


def expand(tmp_path: Path, extra: str = "", out: str = "out", *args: str) -> tuple[int, str]:
    recipe = write_recipe(tmp_path / f"{out}.yaml", RECIPE.format(out=out, extra=extra))
    result = runner.invoke(app, ["expand", str(recipe), "-q", *args])
    return result.exit_code, result.output


def manifest(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def test_format_rate_channels_and_subtype_are_kept(tmp_path: Path) -> None:
    dataset(tmp_path / "data")
    code, out = expand(tmp_path)
    assert code == 0, out
    for name, container, subtype, rate, ch in FORMATS:
        stem, ext = name.split(".")
        for k in (0, 1):
            info = sf.info(str(tmp_path / f"out/cls/{stem}__aug_{k}.{ext}"))
            assert (info.format, info.subtype, info.samplerate, info.channels) == (
                container,
                subtype,
                rate,
                ch,
            ), name
            assert abs(info.duration - 0.5) < 0.01
        assert (tmp_path / f"out/cls/{name}").read_bytes() == (
            tmp_path / f"data/cls/{name}"
        ).read_bytes()
    for rec in manifest(tmp_path / "out"):
        if rec["node"]:
            assert rec["audio"]["clipped_samples"] == 0


def test_outputs_are_byte_identical_for_any_worker_count(tmp_path: Path) -> None:
    dataset(tmp_path / "data")
    digests = []
    for w in ("1", "3"):
        code, out = expand(tmp_path, "", f"o{w}", "--workers", w)
        assert code == 0, out
        digests.append(tree_digest(tmp_path / f"o{w}"))
    assert digests[0] == digests[1]


def test_gain_is_exact_and_clipping_is_counted(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    sf.write(str(tmp_path / "data/x.wav"), tone(16000, 1, level=0.8), 16000, subtype="PCM_16")
    text = (
        RECIPE.format(out="out", extra="")
        .replace("{db: [-3, 3]}", "{db: 6}")
        .replace("    - polarity_inversion: {p: 0.5}\n", "")
    )
    path = write_recipe(tmp_path / "g.yaml", text)
    result = runner.invoke(app, ["expand", str(path), "-q"])
    assert result.exit_code == 0, result.output
    src, _ = sf.read(str(tmp_path / "data/x.wav"), dtype="float32")
    got, _ = sf.read(str(tmp_path / "out/x__aug_0.wav"), dtype="float32")
    want = np.clip(src * 10 ** (6 / 20), -1, 1)
    assert np.abs(got - want).max() < 2 / 32768
    rec = next(r for r in manifest(tmp_path / "out") if r["node"])
    assert rec["audio"]["clipped_samples"] == int((np.abs(src * 10 ** (6 / 20)) > 1).sum()) > 0
    # said at the end too (even with -q), not only in the manifest
    n = rec["audio"]["clipped_samples"]
    assert f"warning: 1 outputs clipped ({n} samples beyond full scale" in result.output
    info = json.loads((tmp_path / "out/run.json").read_text())
    assert info["clipped"] == {"outputs": 1, "samples": n} and "model_requests" not in info


def test_format_subtype_and_rate_conversion(tmp_path: Path) -> None:
    dataset(tmp_path / "data")
    code, out = expand(tmp_path, "  format: flac\n  subtype: PCM_24\n  sample_rate: 16000\n")
    assert code == 0, out
    info = sf.info(str(tmp_path / "out/cls/d__aug_0.flac"))
    assert (info.format, info.subtype, info.samplerate, info.channels) == (
        "FLAC",
        "PCM_24",
        16000,
        2,
    )
    assert abs(info.duration - 0.5) < 0.01
    assert (tmp_path / "out/cls/a__aug_1.flac").is_file()


def test_sidecars_follow_unless_the_content_changed(tmp_path: Path) -> None:
    dataset(tmp_path / "data")
    (tmp_path / "data/cls/a.txt").write_text("hello there\n")
    code, out = expand(tmp_path)
    assert code == 0, out
    assert (tmp_path / "out/cls/a__aug_0.txt").read_text() == "hello there\n"
    assert (tmp_path / "out/cls/a.txt").read_text() == "hello there\n"
    code, out = expand(tmp_path, "  sidecars: {unless: [gain]}\n", "o2")
    assert code == 0, out
    assert not (tmp_path / "o2/cls/a__aug_0.txt").exists(), "gain was declared content-changing"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "cannot be read as audio"),
        (b"\x00" * 300, "cannot be read as audio"),
    ],
)
def test_bad_files_fail_alone(tmp_path: Path, content: bytes, reason: str) -> None:
    dataset(tmp_path / "data")
    (tmp_path / "data/cls/bad.wav").write_bytes(content)
    code, _ = expand(tmp_path)
    assert code == 1
    failed = {
        r["source"]: r["error"] for r in manifest(tmp_path / "out") if r["status"] == "failed"
    }
    assert list(failed) == ["cls/bad.wav"] and reason in failed["cls/bad.wav"]


def test_header_only_and_nan_files_fail(tmp_path: Path) -> None:
    dataset(tmp_path / "data")
    sf.write(str(tmp_path / "data/cls/empty.wav"), np.zeros((0, 1), "float32"), 16000)
    x = tone(16000, 1)
    x[10] = np.nan
    sf.write(str(tmp_path / "data/cls/nan.wav"), x, 16000, subtype="FLOAT")
    code, _ = expand(tmp_path)
    assert code == 1
    failed = {
        r["source"]: r["error"] for r in manifest(tmp_path / "out") if r["status"] == "failed"
    }
    assert "no audio frames" in failed["cls/empty.wav"] and "NaN" in failed["cls/nan.wav"]


def test_the_sample_speech_expands(tmp_path: Path) -> None:
    from conftest import run_augcli

    recipe = write_recipe(
        tmp_path / "s.yaml",
        RECIPE.format(out="s", extra="").replace(
            "input: data", f"input: {ROOT / 'sample_data/audio'}"
        ),
    )
    proc = run_augcli("expand", str(recipe), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert len([r for r in manifest(tmp_path / "s") if r["node"]]) == 10 * 2


def test_overwrite_removes_the_earlier_runs_sidecars(tmp_path: Path) -> None:
    dataset(tmp_path / "data")
    (tmp_path / "data/cls/a.txt").write_text("hello\n")
    assert expand(tmp_path)[0] == 0
    assert (tmp_path / "out/cls/a__aug_1.txt").is_file()
    code, out = expand(tmp_path, "", "out", "--copies", "1", "--overwrite")
    assert code == 0, out
    assert not (tmp_path / "out/cls/a__aug_1.txt").exists()
    assert (tmp_path / "out/cls/a__aug_0.txt").is_file()


def _wav_chunks(path: Path) -> dict[bytes, bytes]:
    """A RIFF/WAVE file's chunks by id: their data (a repeated id keeps the first)."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8, "RIFF size"
    chunks, pos = {}, 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        chunks.setdefault(data[pos : pos + 4], data[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    assert pos == len(data), "chunks end where the file does"
    return chunks


def test_float_wav_outputs_have_the_fmt_extension_and_pcm_ones_are_unchanged(
    tmp_path: Path,
) -> None:
    """Non-PCM WAV needs cbSize in its fmt chunk (sox: "wave header missing extended part of
    fmt chunk"); the sample's float WAV has it, and so must its outputs. PCM WAV outputs are
    exactly what libsndfile writes for their samples."""
    import shutil
    import subprocess

    dataset(tmp_path / "data")
    float_sample = ROOT / "sample_data/audio/no/no_thanks_float32.wav"
    shutil.copy(float_sample, tmp_path / "data/cls/g.wav")
    code, out = expand(tmp_path)
    assert code == 0, out
    for stem in ("c", "g"):
        for k in (0, 1):
            path = tmp_path / f"out/cls/{stem}__aug_{k}.wav"
            chunks = _wav_chunks(path)
            fmt = chunks[b"fmt "]
            assert int.from_bytes(fmt[:2], "little") == 3  # WAVE_FORMAT_IEEE_FLOAT, as the input
            assert len(fmt) == 18 and fmt[16:18] == b"\0\0", "cbSize present and 0"
            assert b"fact" in chunks
            assert sf.info(str(path)).subtype == "FLOAT"
            if shutil.which("sox"):
                said = subprocess.run(["sox", str(path), "-n"], capture_output=True, text=True)
                assert said.returncode == 0 and "wav:" not in said.stderr, said.stderr  # header
    for name, _, subtype, _, _ in FORMATS:
        if not name.endswith(".wav") or subtype == "FLOAT":
            continue
        path = tmp_path / f"out/cls/{name[:-4]}__aug_0.wav"
        assert int.from_bytes(_wav_chunks(path)[b"fmt "][:2], "little") in (1, 0xFFFE)
        samples, rate = sf.read(str(path), dtype="int32")
        ref = tmp_path / f"ref-{name}"
        sf.write(str(ref), samples, rate, format="WAV", subtype=subtype)
        assert path.read_bytes() == ref.read_bytes(), name
