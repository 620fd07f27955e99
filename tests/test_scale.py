"""What lets one parent feed many workers on a big dataset: the plan streams, the manifest is
sorted by merging runs instead of in memory, and workers take small tasks in batches while a
crash or an overrun still fails exactly the task that caused it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, run_augcli, tree_digest, write_recipe

from augcli.core.records import COUNTS, OutputRecord, count_of
from augcli.engine import manifest
from augcli.engine.executor import BATCH_MAX, BATCH_SECONDS, Feed, Pace
from augcli.engine.manifest import ManifestWriter, encode
from augcli.engine.plan import Task
from augcli.engine.run import Options, expand, prepare
from augcli.recipe import load_recipe


def _rec(source: str, copy: int, status: str = "ok") -> dict:
    out = f"{source[:-4]}__n_{copy}.png"
    return OutputRecord(
        source, "image", None, output=out, node="n", copy=copy, status=status
    ).line()


def test_spilled_runs_merge_to_one_sorted_line_per_key(tmp_path: Path, monkeypatch) -> None:
    """Four lines to a run: lines out of order, a line replaced in a later run, and a failed
    input's line forgotten after its run was spilled, all come out as an in-memory sort would."""
    monkeypatch.setattr(manifest, "RUN_LINES", 4)
    path = tmp_path / "manifest.jsonl"
    writer = ManifestWriter(path, {})
    failed = {"output": None, "source": "c.png", "modality": "image", "status": "failed"}
    writer.add(failed)
    for source in ("d.png", "b.png", "a.png"):
        for copy in (1, 0):
            writer.add(_rec(source, copy, "failed"))
    assert len(list((tmp_path / ".augcli" / "manifest-runs").iterdir())) == 1
    writer.forget_source("c.png")  # c.png is tried again and now works
    writer.add(_rec("c.png", 0))
    writer.add(_rec("b.png", 1))  # made again: this line replaces the failed one
    writer.close(finalize=True)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(r["source"], r["copy"], r["status"]) for r in lines] == [
        ("a.png", 0, "failed"),
        ("a.png", 1, "failed"),
        ("b.png", 0, "failed"),
        ("b.png", 1, "ok"),
        ("c.png", 0, "ok"),
        ("d.png", 0, "failed"),
        ("d.png", 1, "failed"),
    ]
    assert not (tmp_path / ".augcli" / "manifest-runs").exists(), "run files are removed"
    assert [r["source"] for r in writer.records()] == [r["source"] for r in lines]


def test_the_log_is_flushed_in_batches_and_always_whole_lines(tmp_path: Path) -> None:
    writer = ManifestWriter(tmp_path / "manifest.jsonl", {})
    line = encode(OutputRecord("a.png", "image", None, output="a__n_0.png", node="n", copy=0))
    writer.add_line(line.key, line.order, line.text)
    writer.flush()
    assert (tmp_path / "manifest.jsonl").read_text() == line.text
    writer.close(finalize=False)


def test_a_run_with_tiny_manifest_runs_writes_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    """The text config (record files in chunks, renumbered when joined) with a run file every
    three lines: the same output tree, manifest included, as the CLI's run."""
    recipe = ROOT / "configs" / "text.yaml"
    cli = run_augcli("expand", str(recipe), "--output", str(tmp_path / "cli"), "-q")
    assert cli.returncode == 0, cli.stderr
    monkeypatch.setattr(manifest, "RUN_LINES", 3)
    result = expand(load_recipe(recipe), Options(output=tmp_path / "runs", workers=2))
    assert result.exit_code == 0
    assert tree_digest(tmp_path / "runs") == tree_digest(tmp_path / "cli")


def test_the_plan_is_made_afresh_on_each_pass(tmp_path: Path) -> None:
    _job, inputs, _ignored, plan = prepare(
        load_recipe(ROOT / "configs" / "quickstart.yaml"), Options()
    )
    first, second = list(plan), list(plan)
    assert first == second and len(plan) == len(first) >= len(inputs) > 0
    assert not any(
        isinstance(v, list) and v and isinstance(v[0], Task) for v in vars(plan).values()
    )


def test_batches_are_sized_from_the_measured_pace() -> None:
    pace = Pace()
    assert pace.batch(1000, 2) == 1, "one task at a time until the pace is known"
    pace.update(0.010, 10)  # 1 ms a task
    assert pace.batch(10_000, 2) == min(BATCH_MAX, int(BATCH_SECONDS / 0.001))
    assert pace.batch(12, 2) == 3, "never more than a fair share of what is left"
    pace.update(20.0, 1)  # a model task
    assert pace.batch(10_000, 2) == 1


def test_the_feed_hands_out_by_lane_and_holds_a_bounded_number(monkeypatch) -> None:
    monkeypatch.setattr(Feed, "HELD", 5)
    tasks = [Task(f"i{k}", "image", None) for k in range(20)]
    tasks += [Task("t0", "text", None, lane=1)]
    feed = Feed(iter(tasks), len(tasks))
    assert feed.take(1, 1) == [], "the model lane waits: it would have to hold 20 image tasks"
    assert [t.source for t in feed.take(None, 3)] == ["i0", "i1", "i2"]
    got = feed.take(None, 100)
    feed.back(None, got[-2:])
    assert not feed.done(None) and feed.left == 20 - 3 - len(got) + 2 + 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_crash_inside_a_batch_fails_only_its_input(tmp_path: Path, workers: str) -> None:
    """Sixty quick inputs go to workers many at a time; the one that segfaults the stretch
    library (a WAV at 4 Hz) sits among them: it alone fails, every other input is written."""
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for k in range(60):
        sf.write(data / f"a{k:02d}.wav", rng.normal(0, 0.1, 800).astype("float32"), 8000)
    sf.write(data / "a30x.wav", rng.normal(0, 0.1, 64).astype("float32"), 4)
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "version: 1\ninput: data\noutput: out\naudio:\n  pipeline: [{time_stretch: {rate: 1.2}}]\n",
    )
    proc = run_augcli("expand", str(recipe), "--workers", workers)
    assert proc.returncode == 1, proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    failed = [r for r in rows if r["status"] != "ok"]
    assert [(r["source"], r["error"].split(" while")[0]) for r in failed] == [
        ("a30x.wav", "worker died: SIGSEGV")
    ]
    assert sorted(r["source"] for r in rows if r["status"] == "ok") == [
        f"a{k:02d}.wav" for k in range(60)
    ]


@pytest.mark.parametrize(("run_lines", "run_files"), [(3, 2), (2, 3), (5, 4), (1000, 64)])
def test_merged_runs_match_an_in_memory_manifest(tmp_path: Path, monkeypatch, run_lines, run_files):
    """Random adds, replacements and forgotten failures, spilled and merged (run files merged
    into one at ``run_files``): the same manifest as a dict of the latest line per key, sorted."""
    import random

    monkeypatch.setattr(manifest, "RUN_LINES", run_lines)
    monkeypatch.setattr(manifest, "RUN_FILES", run_files)
    rng = random.Random(run_lines * 100 + run_files)
    writer = ManifestWriter(tmp_path / "manifest.jsonl", {})
    model: dict[str, dict] = {}
    for step in range(300):
        source = f"s{rng.randrange(12):02d}.png"
        if rng.random() < 0.2:
            rec = {"output": None, "source": source, "modality": "image", "status": "failed"}
            rec["error"] = f"attempt {step}"
        else:
            rec = _rec(source, rng.randrange(3), rng.choice(["ok", "failed"]))
            rec["seed"] = step  # a later line for the same output differs from the earlier
        if rng.random() < 0.3:
            writer.forget_source(source)
            model.pop(f"source:{source}", None)
        model[writer.add(rec)] = rec
    writer.close(finalize=True)
    want = [manifest._line(r) for r in sorted(model.values(), key=manifest.order_of)]
    assert (tmp_path / "manifest.jsonl").read_text().splitlines(keepends=True) == want
    # counted on the way through the merge, as parsing the final lines counts them
    counts = dict.fromkeys(COUNTS, 0)
    for rec in model.values():
        counts[count_of(rec)] += 1
    counts["input_files"] = len({r["source"] for r in model.values()})
    assert writer.counts == counts
