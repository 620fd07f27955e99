"""Hostile or odd input and output trees (issue 13): augcli's own names are reserved, nothing is
written, deleted or replayed outside its folder, input links stay inside the input, only
regular files are read, names that are not UTF-8 and unreadable folders are skipped with a
warning, never silently and never with a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_manifest, run_augcli, textured, write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.atomic import atomic_path
from augcli.core.errors import UnsafePath
from augcli.engine.manifest import ManifestWriter
from augcli.engine.manifest import read_manifest as read_lines

TEXT = """\
version: 1
seed: 1
input: data
output: out
{extra}
text:
{section}  pipeline:
    - random_swap: {{p: 1}}
"""

IMAGE = """\
version: 1
seed: 1
input: data
output: out
{extra}
image:
{section}  pipeline:
    - hflip: {{p: 1}}
"""


def text_recipe(tmp_path: Path, extra: str = "", section: str = "") -> Path:
    return write_recipe(tmp_path / "r.yaml", TEXT.format(extra=extra, section=section))


def image_recipe(tmp_path: Path, extra: str = "", section: str = "") -> Path:
    return write_recipe(tmp_path / "r.yaml", IMAGE.format(extra=extra, section=section))


def write_text(path: Path, text: str = "the quick brown fox jumps\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_image(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), textured(12, 16, 3, np.uint8, seed))


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout


# -- D1: augcli's own names are reserved --------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("manifest.jsonl", ""),  # a record file is written under its own name
        ("Manifest.JSONL", ""),  # and case does not save it on a case-blind disk
        ("run.json", "keep_originals: true"),  # a kept original under its own name
        ("report.html", "keep_originals: true"),
    ],
)
def test_an_input_named_like_augclis_own_file_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, extra: str
) -> None:
    write_text(tmp_path / "data" / name, '{"text": "the cat sat on the mat"}\n')
    write_text(tmp_path / "data/b.txt")
    section = "  include: ['*.jsonl', '*.JSONL', '*.json', '*.html', '*.txt']\n"
    proc = run_augcli("expand", str(text_recipe(tmp_path, extra, section)), "-q")
    assert proc.returncode == 2, proc.stderr
    assert f"input {name!r}" in proc.stderr and "augcli's own" in proc.stderr
    assert "exclude" in proc.stderr  # the fix
    assert not (tmp_path / "out").exists()
    no_traceback(proc)
    proc = run_augcli("validate", str(text_recipe(tmp_path, extra, section)))
    assert proc.returncode == 2 and "augcli's own" in proc.stderr


def coco_dataset(tmp_path: Path, folder: str) -> str:
    """An image in ``data/<folder>/`` and a COCO file listing it; the boxes section to use."""
    write_image(tmp_path / "data" / folder / "a.png")
    doc = {
        "images": [{"id": 1, "file_name": f"{folder}/a.png", "width": 16, "height": 12}],
        "annotations": [],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    return "  boxes: {format: coco, file: coco.json}\n"


def test_an_output_inside_the_coco_file_a_modality_declares_is_refused(tmp_path: Path) -> None:
    boxes = coco_dataset(tmp_path, "annotations.json")  # a folder named like the COCO output
    proc = run_augcli("expand", str(image_recipe(tmp_path, section=boxes)), "-q")
    assert proc.returncode == 2, proc.stderr
    assert "'annotations.json'" in proc.stderr and "whole dataset" in proc.stderr
    assert not (tmp_path / "out").exists()
    no_traceback(proc)


def test_a_coco_output_named_like_the_manifest_is_refused(tmp_path: Path) -> None:
    boxes = coco_dataset(tmp_path, "cls").replace("}", ", output: manifest.jsonl}")
    proc = run_augcli("validate", str(image_recipe(tmp_path, section=boxes)))
    assert proc.returncode == 2, proc.stderr
    assert "whole-dataset file 'manifest.jsonl'" in proc.stderr
    no_traceback(proc)


# -- D2: no write through a symlink in the output folder ----------------------------------------
def test_a_symlinked_output_subfolder_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    for k in range(2):
        write_image(tmp_path / f"data/cats/c{k}.png", k)
    recipe = image_recipe(tmp_path)
    assert run_augcli("expand", str(recipe), "-q").returncode == 0
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    (victim / "c0__aug_0.png").write_bytes(b"precious")
    for p in (tmp_path / "out/cats").iterdir():
        p.unlink()
    (tmp_path / "out/cats").rmdir()
    (tmp_path / "out/cats").symlink_to(victim)
    for args in ([], ["--overwrite", "--seed", "7"]):  # resume, and replacing the run
        proc = run_augcli("expand", str(recipe), "-q", *args)
        assert proc.returncode == 2, proc.stderr
        assert "symlink" in proc.stderr and "out/cats" in proc.stderr
        no_traceback(proc)
        assert sorted(p.name for p in victim.iterdir()) == ["c0__aug_0.png"]
        assert (victim / "c0__aug_0.png").read_bytes() == b"precious"


def test_atomic_path_never_writes_through_a_link_even_one_made_while_writing(
    tmp_path: Path,
) -> None:
    root, victim = tmp_path / "out", tmp_path / "victim"
    root.mkdir()
    victim.mkdir()
    (root / "sub").symlink_to(victim)
    with pytest.raises(UnsafePath, match="symlink"), atomic_path(root / "sub/x.txt", root) as tmp:
        tmp.write_text("no")
    with pytest.raises(UnsafePath, match="outside"), atomic_path(tmp_path / "x.txt", root) as tmp:
        tmp.write_text("no")
    with pytest.raises(UnsafePath, match=r"\.\."), atomic_path(root / "a/../../x", root) as tmp:
        tmp.write_text("no")
    # a folder swapped for a link between the write and the rename: the rename is refused
    with pytest.raises(UnsafePath), atomic_path(root / "d/x.txt", root) as tmp:
        tmp.write_text("no")
        os.replace(root / "d", tmp_path / "moved")
        (root / "d").symlink_to(victim)
    assert list(victim.iterdir()) == [] and not (tmp_path / "x.txt").exists()
    with atomic_path(root / "e/f/x.txt", root) as tmp:  # a plain write still works
        tmp.write_text("yes")
    assert (root / "e/f/x.txt").read_text() == "yes"


# -- D3: replay and --overwrite refuse manifest paths that leave their folder -------------------
def tamper(out: Path, edit) -> None:
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    for rec in lines:
        edit(rec)
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def test_replay_skips_manifest_paths_that_leave_its_folders(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        write_text(tmp_path / f"data/{name}.txt", f"{name} alpha beta gamma delta epsilon\n")
    recipe = text_recipe(tmp_path)
    assert run_augcli("expand", str(recipe), "-q").returncode == 0
    write_text(tmp_path / "secret.txt", "not an input at all here\n")

    def edit(rec: dict) -> None:
        if rec["source"] == "a.txt":
            rec["output"] = "../../escaped.txt"
        elif rec["source"] == "b.txt":
            rec["output"] = str(tmp_path / "absolute.txt")
        elif rec["source"] == "c.txt":
            rec["source"] = "../secret.txt"

    tamper(tmp_path / "out", edit)
    proc = run_augcli("replay", str(recipe), "--to", str(tmp_path / "rep"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("skipped:") == 3 and "replayed 1 outputs" in proc.stdout
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not (tmp_path / "absolute.txt").exists()
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["d__aug_0.txt"]
    no_traceback(proc)


def test_overwrite_refuses_a_manifest_path_outside_and_deletes_nothing(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_text(tmp_path / f"data/{name}.txt", f"{name} alpha beta gamma delta epsilon\n")
    recipe = text_recipe(tmp_path)
    assert run_augcli("expand", str(recipe), "-q").returncode == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")

    def edit(rec: dict) -> None:
        if rec["source"] == "a.txt":
            rec["output"] = "../victim.txt"

    tamper(tmp_path / "out", edit)
    proc = run_augcli("expand", str(recipe), "-q", "--overwrite", "--seed", "9")
    assert proc.returncode == 2, proc.stderr
    assert "../victim.txt" in proc.stderr and "nothing was removed" in proc.stderr
    assert victim.read_text() == "keep me"
    assert (tmp_path / "out/b__aug_0.txt").is_file()  # not half-deleted either
    no_traceback(proc)


# -- D22: input links stay inside the input folder ---------------------------------------------
def test_input_links_leaving_the_input_are_skipped_with_a_warning(tmp_path: Path) -> None:
    write_text(tmp_path / "data/a.txt", "alpha beta gamma delta epsilon\n")
    write_text(tmp_path / "store/notes/s.txt", "secret words from outside here\n")
    write_text(tmp_path / "store/passwd.txt", "root x zero zero root\n")
    (tmp_path / "data/passwd.txt").symlink_to(tmp_path / "store/passwd.txt")
    (tmp_path / "data/notes").symlink_to(tmp_path / "store/notes")
    (tmp_path / "data/inner").mkdir()
    (tmp_path / "data/inner/a_link.txt").symlink_to("../a.txt")  # stays inside: followed
    (tmp_path / "data/inner/loop").symlink_to("..")  # a loop: skipped, never hangs
    recipe = text_recipe(tmp_path, "keep_originals: true")
    proc = run_augcli("expand", str(recipe), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "passwd.txt: a symlink to" in proc.stderr and "outside the input" in proc.stderr
    assert "notes: a symlink to" in proc.stderr and "follow_symlinks: outside" in proc.stderr
    assert "inner/loop/: a symlink to" in proc.stderr and "a loop" in proc.stderr
    sources = {r["source"] for r in read_manifest(tmp_path / "out")}
    assert sources == {"a.txt", "inner/a_link.txt"}
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*.txt"))
    assert "secret" not in written and "root" not in written
    no_traceback(proc)

    opted = text_recipe(tmp_path, "keep_originals: true\nfollow_symlinks: outside")
    proc = run_augcli("validate", str(opted), "--output", str(tmp_path / "out2"))
    assert proc.returncode == 0, proc.stderr
    assert "outside the input" not in proc.stdout and "4 input files" in proc.stdout


# -- D5 (regular files only) --------------------------------------------------------------------
def test_a_fifo_or_device_named_like_an_input_is_skipped_never_opened(tmp_path: Path) -> None:
    write_image(tmp_path / "data/ok.png")
    os.mkfifo(tmp_path / "data/x.png")  # opening it would block the run forever
    (tmp_path / "data/null.png").symlink_to(os.devnull)
    recipe = image_recipe(tmp_path, "follow_symlinks: outside")  # so /dev/null is not "outside"
    proc = run_augcli("expand", str(recipe), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "x.png: a FIFO, not a regular file" in proc.stderr
    assert "null.png: a device, not a regular file" in proc.stderr
    assert [r["source"] for r in read_manifest(tmp_path / "out")] == ["ok.png"]
    proc = run_augcli("validate", str(recipe))
    assert (
        proc.returncode == 0 and "x.png: a FIFO" in proc.stdout and "1 input files" in proc.stdout
    )
    no_traceback(proc)


# -- D6: names that are not UTF-8 ---------------------------------------------------------------
def test_a_name_that_is_not_utf8_is_skipped_and_every_tool_reads_the_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_text(data / "b.txt", "alpha beta gamma delta epsilon\n")
    with open(os.path.join(os.fsencode(data), b"caf\xe9.txt"), "w") as f:
        f.write("a latin-1 name on disk\n")
    os.mkdir(os.path.join(os.fsencode(data), b"cl\xe4ss"))
    with open(os.path.join(os.fsencode(data), b"cl\xe4ss", b"x.txt"), "w") as f:
        f.write("in a folder with a latin-1 name\n")
    recipe = text_recipe(tmp_path)
    proc = run_augcli("expand", str(recipe), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "caf\\xe9.txt: the name is not valid UTF-8" in proc.stderr
    assert "cl\\xe4ss: the name is not valid UTF-8" in proc.stderr and "convmv" in proc.stderr
    raw = (tmp_path / "out/manifest.jsonl").read_bytes().decode("utf-8")  # strict UTF-8
    assert [json.loads(line)["source"] for line in raw.splitlines()] == ["b.txt"]
    again = run_augcli("expand", str(recipe))
    assert again.returncode == 0 and "1 already done" in again.stderr
    assert run_augcli("verify", str(tmp_path / "out")).returncode == 0
    report = run_augcli("report", str(tmp_path / "out"))
    assert report.returncode == 0, report.stderr
    for p in (proc, again, report):
        no_traceback(p)


def test_the_manifest_stays_valid_json_even_given_a_surrogate(tmp_path: Path) -> None:
    """Defence in depth: a lone surrogate that reached the writer is escaped, not a crash."""
    path = tmp_path / "manifest.jsonl"
    writer = ManifestWriter(path, {})
    rec = {"source": "caf\udce9.txt", "output": "caf\udce9__aug_0.txt", "status": "ok"}
    writer.add(rec)
    writer.close(finalize=True)
    text = path.read_bytes().decode("utf-8")
    assert "\\udce9" in text
    assert read_lines(path) == {"caf\udce9__aug_0.txt": rec}


# -- D9: an unreadable class folder is a warning ------------------------------------------------
def class_folders(tmp_path: Path) -> Path:
    write_image(tmp_path / "data/cats/c.png")
    write_image(tmp_path / "data/dogs/d.png", 1)
    return image_recipe(tmp_path)


def test_an_unreadable_class_folder_is_a_warning_for_real(tmp_path: Path) -> None:
    recipe = class_folders(tmp_path)
    dogs = tmp_path / "data/dogs"
    dogs.chmod(0)
    try:
        if os.access(dogs, os.R_OK):
            pytest.skip("this user reads a chmod 000 folder anyway (root)")
        proc = run_augcli("expand", str(recipe), "-q")
        assert proc.returncode == 0, proc.stderr
        assert "dogs/: the folder cannot be read (Permission denied)" in proc.stderr
        proc = run_augcli("validate", str(recipe))
        assert "dogs/: the folder cannot be read" in proc.stdout
    finally:
        dogs.chmod(0o755)


def test_an_unreadable_class_folder_is_a_warning_in_validate_and_expand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as the test above for a user (root) that chmod cannot deny: listing the folder
    fails as it would for anyone else."""
    recipe = class_folders(tmp_path)
    dogs = str(tmp_path / "data/dogs")
    real = os.scandir

    def scandir(path: str = ".") -> object:
        if os.fspath(path) == dogs:
            raise PermissionError(13, "Permission denied", dogs)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(recipe)])
    assert result.exit_code == 0, result.output
    assert "warning: skipped dogs/: the folder cannot be read (Permission denied)" in result.output
    assert "image: 1 input files" in result.output
    result = runner.invoke(app, ["expand", str(recipe), "-q", "--executor", "serial"])
    assert result.exit_code == 0, result.output
    assert "augcli: warning: skipped dogs/: the folder cannot be read" in result.output
    assert [r["source"] for r in read_manifest(tmp_path / "out")] == ["cats/c.png"]


# -- files beside an input (sidecars, masks) follow the same rules ------------------------------
def test_a_sidecar_that_is_a_fifo_or_leaves_the_input_fails_its_image(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write_image(tmp_path / f"data/{name}.png")
    write_text(tmp_path / "store/a.txt", "0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "data/a.txt").symlink_to(tmp_path / "store/a.txt")
    os.mkfifo(tmp_path / "data/b.txt")  # read as "no boxes", or opened, it would be wrong
    write_text(tmp_path / "data/c.txt", "0 0.5 0.5 0.2 0.2\n")
    recipe = image_recipe(tmp_path, section="  boxes: {format: yolo}\n")
    proc = run_augcli("expand", str(recipe), "-q")
    assert proc.returncode == 1, proc.stderr
    failed = {r["source"]: r["error"] for r in read_manifest(tmp_path / "out") if r["error"]}
    assert set(failed) == {"a.png", "b.png"}
    assert "a.txt is a symlink to" in failed["a.png"] and "outside" in failed["a.png"]
    assert "b.txt is a FIFO, not a regular file" in failed["b.png"]
    assert (tmp_path / "out/c__aug_0.txt").is_file()
    no_traceback(proc)


def test_an_audio_sidecar_leaving_the_input_is_not_copied(tmp_path: Path) -> None:
    import soundfile as sf

    sf.write(tmp_path / "data.wav", np.zeros((800, 1), np.float32), 8000)
    (tmp_path / "data").mkdir()
    os.replace(tmp_path / "data.wav", tmp_path / "data/a.wav")
    write_text(tmp_path / "secret.txt", "a secret transcript\n")
    (tmp_path / "data/a.txt").symlink_to(tmp_path / "secret.txt")
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "version: 1\ninput: data\noutput: out\nkeep_originals: true\n"
        "audio:\n  pipeline:\n    - gain: {db: 1}\n",
    )
    proc = run_augcli("expand", str(recipe), "-q")
    assert proc.returncode == 1, proc.stderr
    [line] = [r for r in read_manifest(tmp_path / "out") if r["status"] == "failed"]
    assert "a.txt is a symlink to" in line["error"]
    assert not any("secret" in p.read_text() for p in (tmp_path / "out").rglob("*.txt"))
    no_traceback(proc)
