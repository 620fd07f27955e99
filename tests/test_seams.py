"""The seams between engine, executors and modalities: the Worker, the executor registry, the typed
worker stream, what a Job pickles, and file naming through the modality."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from conftest import ROOT, run_augcli, tree_digest, write_recipe

from augcli.core.errors import UsageError
from augcli.core.records import InputFailed, OutputRecord, PartWritten, WorkStats
from augcli.engine.collect import Collector, Summary
from augcli.engine.executor import EXECUTORS, executor_class, lane_sizes
from augcli.engine.manifest import ManifestWriter
from augcli.engine.plan import output_name
from augcli.engine.run import Options, prepare
from augcli.engine.worker import Worker
from augcli.modality import Modality
from augcli.recipe import load_recipe

TEXT_CONFIG = ROOT / "configs" / "text.yaml"


def _image_recipe(tmp_path: Path, images: Path, extra: str = "") -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\nseed: 3\ninput: {images}\noutput: {tmp_path / 'out'}\ncopies: 2\n"
        f"keep_originals: true\n{extra}image:\n  pipeline: [hflip, {{rotate: {{degrees: 10}}}}]\n",
    )


# -- the typed stream --------------------------------------------------------------------------
def test_an_output_record_is_its_manifest_line_in_a_fixed_key_order() -> None:
    rec = OutputRecord("a.png", "image", "cat", output="a__n_0.png", node="n", copy=0, seed=9)
    rec.extra["soft_label"] = {"cat": 1.0}
    line = rec.line()
    assert list(line) == [
        "output",
        "source",
        "modality",
        "label",
        "node",
        "copy",
        "seed",
        "ops",
        "status",
        "error",
        "sha256",
        "source_sha256",
        "soft_label",
    ]
    assert OutputRecord.from_line(line) == rec


def test_the_collector_counts_lines_sums_stats_and_never_writes_control_events(
    tmp_path: Path,
) -> None:
    writer = ManifestWriter(tmp_path / "manifest.jsonl", {})
    summary = Summary()
    collector = Collector(None, writer, summary)  # type: ignore[arg-type] - no parts here
    collector.add(
        [
            OutputRecord("a.txt", "text", None, output="a__n_0.txt", node="n", sha256="x"),
            OutputRecord("a.txt", "text", None, output="a__n_1.txt", node="n", status="unchanged"),
            InputFailed("b.txt", "text", None, "cannot read"),
            WorkStats({"requests": 2}),
            WorkStats({"requests": 3, "batches": 1}),
        ]
    )
    writer.close(finalize=True)
    lines = [json.loads(x) for x in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert [(x["output"], x["source"], x["status"]) for x in lines] == [
        ("a__n_0.txt", "a.txt", "ok"),
        ("a__n_1.txt", "a.txt", "unchanged"),
        (None, "b.txt", "failed"),
    ]
    assert (summary.outputs, summary.unchanged, summary.failed) == (1, 1, 1)
    assert summary.failures == ["b.txt: cannot read"]
    assert summary.stats == {"requests": 5, "batches": 1}


def test_parts_are_joined_in_chunk_order_when_the_last_arrives(tmp_path: Path) -> None:
    recipe = load_recipe(TEXT_CONFIG)
    job, *_ = prepare(recipe, Options(output=tmp_path / "out"))
    (tmp_path / "out").mkdir()
    for i, body in enumerate([b"one\n", b"two\n"]):
        (tmp_path / "out" / f".part{i}").write_bytes(body)
    writer = ManifestWriter(tmp_path / "out" / "manifest.jsonl", {})
    collector = Collector(job, writer, Summary())
    counts = {"input": 1, "output": 1, "unchanged": 0}
    part = {"source": "f.txt", "modality": "text", "label": None, "output": "f.txt", "count": 2}
    collector.add([PartWritten(**part, index=1, path=".part1", counts=counts)])
    assert not (tmp_path / "out" / "f.txt").exists()
    collector.add([PartWritten(**part, index=0, path=".part0", counts=counts)])
    assert (tmp_path / "out" / "f.txt").read_bytes() == b"one\ntwo\n"
    assert not list((tmp_path / "out").glob(".part*"))
    (line,) = writer.records()
    assert line["records"] == {"input": 2, "output": 2, "unchanged": 0}


# -- the worker and the job ----------------------------------------------------------------------
def test_a_job_pickles_without_the_parents_caches(tmp_path: Path) -> None:
    recipe = load_recipe(TEXT_CONFIG)
    job, _inputs, _ignored, tasks = prepare(recipe, Options(output=tmp_path / "out"))
    fresh = len(pickle.dumps(Worker(job)))
    worker = Worker(job, pooled=False)
    for task in tasks:  # fills the text modality's caches (parsed record files, lexicon)
        worker(task)
    assert hasattr(job.modalities["text"], "_lexicon")
    assert len(pickle.dumps(worker)) == fresh < 4000
    copy = pickle.loads(pickle.dumps(worker))
    assert not copy._ready and not hasattr(copy.job.modalities["text"], "_lexicon")


def test_a_worker_turns_any_failure_into_an_input_failed_event(tmp_path: Path, images) -> None:
    recipe = load_recipe(_image_recipe(tmp_path, images))
    job, _inputs, _ignored, plan = prepare(recipe, Options())
    tasks = list(plan)
    (images / tasks[0].source).write_bytes(b"not an image")
    (events,) = [Worker(job, pooled=False)(tasks[0])]
    assert len(events) == 1 and isinstance(events[0], InputFailed)
    assert events[0].source == tasks[0].source and events[0].error


def test_worker_setup_sets_the_decoder_guard_before_opencv_loads(tmp_path: Path, images) -> None:
    """The pixel limit reaches a process that unpickles a Worker (as on another machine), not
    only the one that built the job."""
    recipe = load_recipe(_image_recipe(tmp_path, images, ""))
    job, *_ = prepare(recipe, Options())
    job.modalities["image"].config["max_pixels"] = 4321
    blob = tmp_path / "worker.pickle"
    blob.write_bytes(pickle.dumps(Worker(job)))
    code = (
        "import os, pickle, sys\n"
        "w = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "assert 'cv2' not in sys.modules and 'OPENCV_IO_MAX_IMAGE_PIXELS' not in os.environ\n"
        "w.setup()\n"
        "print(os.environ['OPENCV_IO_MAX_IMAGE_PIXELS'])\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(blob)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4321"


# -- executors -----------------------------------------------------------------------------------
def test_executors_are_chosen_by_name_and_an_unknown_name_says_the_choices() -> None:
    assert {"serial", "local"} <= set(EXECUTORS)
    assert executor_class("local").name == "local"
    with pytest.raises(UsageError, match=r"unknown executor 'lcoal'.*Did you mean 'local'"):
        executor_class("lcoal")


def test_lane_sizes_share_the_workers() -> None:
    assert lane_sizes([None, 1], 4) == {None: 3, 1: 1}
    assert lane_sizes([None], 3) == {None: 3}
    assert lane_sizes([2], 1) == {2: 1}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_executor_writes_the_same_bytes(tmp_path: Path, images, workers: str) -> None:
    recipe = _image_recipe(tmp_path, images)
    trees = {}
    for name in ("serial", "local"):
        out = tmp_path / name
        proc = run_augcli(
            "expand", str(recipe), "--output", str(out), "--executor", name, "--workers", workers
        )
        assert proc.returncode == 0, proc.stderr
        trees[name] = tree_digest(out)
    assert trees["serial"] == trees["local"] and len(trees["local"]) > 3


def test_an_unknown_executor_is_a_usage_error_before_anything_is_written(
    tmp_path: Path, images
) -> None:
    proc = run_augcli("expand", str(_image_recipe(tmp_path, images)), "--executor", "dusk")
    assert proc.returncode == 2
    assert "unknown executor 'dusk'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


# -- names through the modality -----------------------------------------------------------------
class _Volumes(Modality):
    """A modality with a two-part extension, for naming only (not registered)."""

    extensions = (".nii", ".nii.gz")

    def read(self, path):  # pragma: no cover - not read here
        raise NotImplementedError

    def write(self, data, path, source, meta):  # pragma: no cover
        raise NotImplementedError

    def info(self, data):  # pragma: no cover
        return {}


def test_a_full_suffix_names_outputs_and_selects_inputs() -> None:
    assert _Volumes.split_name("ct/brain.nii.gz") == ("brain", ".nii.gz")
    assert _Volumes.split_name("ct/BRAIN.NII") == ("BRAIN", ".NII")
    assert _Volumes.split_name("a.b.gz") == ("a.b", ".gz")  # not one of ours: the last suffix
    assert _Volumes.accepts("x/brain.nii.gz") and not _Volumes.accepts("x/notes.gz")
    stem, suffix = _Volumes.split_name("ct/brain.nii.gz")
    assert output_name("ct/brain.nii.gz", "n", 0, suffix, stem) == "ct/brain__n_0.nii.gz"
    assert PurePosixPath(output_name("a/b.png", "n", 1, ".png")).name == "b__n_1.png"
