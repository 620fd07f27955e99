"""`--executor dask` on real Dask clusters, from the CLI: a LocalCluster started by augcli, and a
cluster of separate processes on loopback (`dask scheduler` + two `dask worker`) it connects to.
Outputs and manifest are byte-identical to the local pool; resume crosses executors; a killed
worker, a lost scheduler, an unreachable address and a worker that cannot write are handled."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    ROOT,
    SAMPLE_IMAGES,
    read_manifest,
    run_augcli,
    start_expand,
    tree_digest,
    wait_for_lines,
    write_recipe,
)

pytest.importorskip("distributed")

IMAGES = """\
version: 1
seed: 3
input: data
output: {out}
copies: {copies}
keep_originals: true
image:
  pipeline:
    - hflip: {{p: 0.5}}
    - rotate: {{degrees: [-20, 20], border_mode: reflect}}
    - random_crop: {{scale: [0.7, 1.0], p: 0.5}}
    - gaussian_blur: {{sigma: [0.5, 1.5]}}
"""

TEXT = """\
version: 1
seed: 2
input: text
output: {out}
copies: 2
keep_originals: true
text:
  chunk_records: 40
  pipeline:
    - synonym_replace: {{fraction: 0.4}}
    - random_swap: {{n: 1}}
"""


def _volumes_recipe(name: str = "volume") -> str:
    """configs/<name>.yaml reading ``data`` and writing ``{out}``."""
    text = (ROOT / f"configs/{name}.yaml").read_text().replace("{", "{{").replace("}", "}}")
    text = text.replace(f"input: ../sample_data/{name}", "input: data")
    return text.replace(f"output: ../out/{name}", "output: {out}")


VOLUMES = _volumes_recipe()
DICOM_SERIES = _volumes_recipe("volume_dicom")


def _text_data(root: Path) -> Path:
    """Three JSONL record files of 100 records (three chunks each) and a small CSV."""
    data = root / "text"
    data.mkdir()
    for k in range(3):
        rows = [
            {"text": f"The quick dog {i} ran across the wide field {k}.", "i": i}
            for i in range(100)
        ]
        (data / f"f{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    shutil.copy(ROOT / "sample_data/text/clinical_notes.csv", data / "notes.csv")
    return data


def _many(root: Path, times: int = 5) -> Path:
    """The sample images under several names: enough work to interrupt mid-run."""
    data = root / "data"
    for src in sorted(SAMPLE_IMAGES.rglob("*")):
        if src.is_file():
            rel = src.relative_to(SAMPLE_IMAGES)
            for k in range(times):
                dst = data / rel.parent / f"{src.stem}_{k}{src.suffix}"
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
    return data


def _expand(recipe: Path, *args: str, env: dict[str, str] | None = None):
    proc = run_augcli("expand", str(recipe), "-q", *args, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


# -- a cluster of separate processes on loopback, as a user's cluster is used ----------------
class Cluster:
    """`dask scheduler` and `dask worker` processes; ``address`` once the scheduler is up."""

    def __init__(self, root: Path, workers: int = 2, wrap: list[str] | None = None) -> None:
        self.root, self.procs = root, []
        file = root / "scheduler.json"
        self._spawn(
            ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"],
            ["--no-dashboard", "--scheduler-file", str(file)],
        )
        deadline = time.time() + 30
        while not (file.is_file() and file.stat().st_size):
            assert time.time() < deadline, "the scheduler did not start"
            time.sleep(0.05)
        time.sleep(0.1)  # the file is written whole, but give it a moment
        self.address = json.loads(file.read_text())["address"]
        for k in range(workers):
            self.add_worker(f"w{k}", wrap)
        self.wait_for(workers)

    def _spawn(self, module: list[str], args: list[str], wrap: list[str] | None = None) -> None:
        cmd = [*(wrap or []), sys.executable, "-m", *module, *args]
        log = open(self.root / f"proc{len(self.procs)}.log", "w")  # noqa: SIM115
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True))

    def add_worker(self, name: str, wrap: list[str] | None = None) -> None:
        self._spawn(
            ["distributed.cli.dask_worker", self.address],
            [
                "--nthreads",
                "1",
                "--no-dashboard",
                "--name",
                name,
                "--local-directory",
                str(self.root),
            ],
            wrap,
        )

    def info(self) -> dict:
        """The scheduler's view, asked by a separate client process (as an operator would)."""
        code = (
            "import json, sys\nfrom distributed import Client\n"
            f"c = Client({self.address!r}, timeout=5)\n"
            "print(json.dumps({'workers': len(c.scheduler_info(n_workers=-1)['workers'])}))\n"
            "c.close()\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    def wait_for(self, n: int) -> None:
        deadline = time.time() + 60
        while self.info()["workers"] < n:
            assert time.time() < deadline, "the workers did not join"
            time.sleep(0.2)

    def kill_scheduler(self) -> None:
        os.killpg(self.procs[0].pid, signal.SIGKILL)

    def close(self) -> None:
        for p in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.close()


# -- byte identity ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["images", "text", "volumes", "dicom_series"])
def test_a_local_cluster_writes_what_the_local_pool_writes(tmp_path: Path, kind: str) -> None:
    if kind == "images":
        shutil.copytree(SAMPLE_IMAGES, tmp_path / "data")
        body = IMAGES.replace("{copies}", "2")
    elif kind == "volumes":  # the shipped recipe: NIfTI, NRRD and 4-D MetaImage with label maps
        pytest.importorskip("SimpleITK")
        shutil.copytree(ROOT / "sample_data/volume", tmp_path / "data")
        body = VOLUMES
    elif kind == "dicom_series":  # a DICOM CT series written as new derived series of slices
        pytest.importorskip("pydicom")
        shutil.copytree(ROOT / "sample_data/volume_dicom", tmp_path / "data")
        body = DICOM_SERIES
    else:
        _text_data(tmp_path)
        body = TEXT
    local = write_recipe(tmp_path / "local.yaml", body.format(out="local"))
    dask = write_recipe(tmp_path / "dask.yaml", body.format(out="dask"))
    assert _expand(local, "--workers", "2").returncode == 0
    proc = _expand(dask, "--workers", "2", "--executor", "dask")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # quiet: no Dask logging, no dashboard warnings
    ref, got = tree_digest(tmp_path / "local"), tree_digest(tmp_path / "dask")
    assert "manifest.jsonl" in got and len(read_manifest(tmp_path / "dask")) > (
        {"volumes": 8, "dicom_series": 1}.get(kind, 20)
    )
    assert got == ref
    info = json.loads((tmp_path / "dask/run.json").read_text())
    assert info["status"] == "complete"
    assert info["workers"] == (1 if kind == "dicom_series" else 2)  # one series: one task


def test_a_cluster_by_address_writes_the_same_and_stays_up(
    tmp_path: Path, cluster: Cluster
) -> None:
    shutil.copytree(SAMPLE_IMAGES, tmp_path / "data")
    body = IMAGES.replace("{copies}", "2")
    local = write_recipe(tmp_path / "local.yaml", body.format(out="local"))
    dask = write_recipe(tmp_path / "dask.yaml", body.format(out="dask"))
    assert _expand(local, "--workers", "1").returncode == 0
    proc = _expand(dask, "--executor", "dask", "--scheduler", cluster.address)
    assert proc.returncode == 0, proc.stderr
    assert tree_digest(tmp_path / "dask") == tree_digest(tmp_path / "local")
    assert cluster.info()["workers"] == 2, "augcli must never shut a user's cluster down"
    assert all(p.poll() is None for p in cluster.procs)


def test_the_address_comes_from_the_option_the_recipe_or_the_variable(
    tmp_path: Path, cluster: Cluster
) -> None:
    """Precedence: --scheduler > recipe scheduler: > DASK_SCHEDULER_ADDRESS; executor: in the
    recipe chooses Dask without the option."""
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE_IMAGES / "scene/rocket.jpg", tmp_path / "data/rocket.jpg")
    dead = "tcp://127.0.0.1:9"  # discard port: nothing listens
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": dead}
    body = IMAGES.replace("{copies}", "1")
    # the variable alone: used (and here it does not answer)
    by_env = write_recipe(tmp_path / "env.yaml", body.format(out="env") + "executor: dask\n")
    proc = _expand(by_env, env=env)
    assert proc.returncode == 2 and dead in proc.stderr
    # the recipe's scheduler: wins over the variable
    by_recipe = write_recipe(
        tmp_path / "recipe.yaml",
        body.format(out="recipe") + f"executor: dask\nscheduler: {cluster.address}\n",
    )
    assert _expand(by_recipe, env=env).returncode == 0
    # the option wins over both; the option --executor local wins over the recipe's dask
    bad = write_recipe(
        tmp_path / "bad.yaml", body.format(out="opt") + f"executor: dask\nscheduler: {dead}\n"
    )
    assert _expand(bad, "--scheduler", cluster.address, env=env).returncode == 0
    assert _expand(bad, "--executor", "local", "--output", str(tmp_path / "l")).returncode == 0
    assert tree_digest(tmp_path / "opt") == tree_digest(tmp_path / "recipe")
    assert tree_digest(tmp_path / "l") == tree_digest(tmp_path / "recipe")


def test_executor_and_scheduler_in_the_recipe_are_checked_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    body = IMAGES.replace("{copies}", "1").format(out="out")
    at = f"r.yaml:{body.count(chr(10)) + 1}:"
    for extra, where, what in (
        ("executor: daks\n", f"{at} executor: unknown executor", "Did you mean 'dask'?"),
        ("executor: [dask]\n", f"{at} executor: must be one word", "e.g. 'local' or 'dask'"),
        ("scheduler: tcp://a b\n", f"{at} scheduler: must be one word", "tcp://host:8786"),
    ):
        recipe = write_recipe(tmp_path / "r.yaml", body + extra)
        proc = run_augcli("expand", str(recipe))
        assert proc.returncode == 2, proc.stderr
        assert where in proc.stderr and what in proc.stderr, proc.stderr
    recipe = write_recipe(tmp_path / "r.yaml", body)
    proc = run_augcli("expand", str(recipe), "--executor", "local", "--scheduler", "tcp://x:1")
    assert proc.returncode == 2 and "--scheduler is for --executor dask" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_lanes_tasks_run_on_a_bounded_set_of_workers(tmp_path: Path, cluster: Cluster) -> None:
    """Tasks of a lane (a model op's worker limit) all run on at most that many workers, as the
    scheduler's task stream records (key ``<run>-<n>``: the n-th task submitted)."""
    from distributed import Client, get_task_stream

    from augcli.core.records import Line
    from augcli.engine.dask_executor import DaskExecutor
    from augcli.engine.run import Options, prepare
    from augcli.engine.worker import Worker
    from augcli.recipe import load_recipe

    _many(tmp_path, times=2)
    recipe = write_recipe(tmp_path / "r.yaml", IMAGES.replace("{copies}", "2").format(out="out"))
    job, _inputs, _ignored, planned = prepare(load_recipe(recipe), Options())
    tasks = list(planned)
    for task in tasks[::2]:
        task.lane = 1
    watch = Client(cluster.address, timeout=10, set_as_default=False)
    try:
        executor = DaskExecutor(Worker(job), 2, None, cluster.address)
        executor.check(job)
        plugin = executor.plugin
        with get_task_stream(client=watch) as ts:
            events = [e for batch in executor.run(tasks) for e in batch]
        stream = ts.data
    finally:
        watch.close()
    lines = [e for e in events if isinstance(e, Line)]  # one manifest line per output
    assert len(lines) == sum(t.size for t in tasks) and all(e.status == "ok" for e in lines)
    ran = {
        int(r["key"].rsplit("-", 1)[1]): r["worker"] for r in stream if r["key"].startswith(plugin)
    }
    assert sorted(ran) == list(range(len(tasks)))
    lane = {ran[n] for n, t in enumerate(tasks) if t.lane == 1}
    assert len(lane) == 1, lane
    assert cluster.info()["workers"] == 2


# -- what cannot run ---------------------------------------------------------------------------
def test_an_address_that_does_not_answer_is_a_quick_usage_error(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_IMAGES, tmp_path / "data")
    recipe = write_recipe(tmp_path / "r.yaml", IMAGES.replace("{copies}", "1").format(out="out"))
    started = time.time()
    proc = _expand(recipe, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert time.time() - started < 15
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "augcli: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9"
    )
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists(), "nothing may be written, not even the folder"


def test_a_scheduler_that_is_not_there_leaves_an_earlier_run_alone(tmp_path: Path) -> None:
    """--overwrite removes an earlier run's outputs only once the cluster answers."""
    shutil.copytree(SAMPLE_IMAGES, tmp_path / "data")
    recipe = write_recipe(tmp_path / "r.yaml", IMAGES.replace("{copies}", "1").format(out="out"))
    assert _expand(recipe).returncode == 0
    before = tree_digest(tmp_path / "out")
    proc = _expand(
        recipe,
        "--copies",
        "2",
        "--overwrite",
        "--executor",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    assert proc.returncode == 2, proc.stderr
    assert tree_digest(tmp_path / "out") == before


def test_without_dask_installed_the_executor_is_a_usage_error_naming_the_extra(
    tmp_path: Path,
) -> None:
    """A sitecustomize on PYTHONPATH makes `dask` and `distributed` unimportable."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoDask:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('dask', 'distributed'):\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, _NoDask())\n"
    )
    shutil.copytree(SAMPLE_IMAGES, tmp_path / "data")
    recipe = write_recipe(tmp_path / "r.yaml", IMAGES.replace("{copies}", "1").format(out="out"))
    path = os.pathsep.join([str(shim), str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    proc = _expand(recipe, "--executor", "dask", env=env)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'augcli[dask]'" in proc.stderr
    assert not (tmp_path / "out").exists()
    # the local pool still runs, and the shim is really in place
    assert _expand(recipe, env=env).returncode == 0
    check = subprocess.run(
        [sys.executable, "-c", "import distributed"], env=env, capture_output=True, text=True
    )
    assert check.returncode != 0


def test_help_and_a_local_run_never_import_dask(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_IMAGES / "texture", tmp_path / "data")
    recipe = write_recipe(tmp_path / "r.yaml", IMAGES.replace("{copies}", "1").format(out="out"))
    code = (
        "import sys\nfrom augcli.cli import app\n"
        f"for argv in (['--help'], ['expand', '--help'], ['expand', {str(recipe)!r}, '-q']):\n"
        "    try:\n        app(argv)\n    except SystemExit:\n        pass\n"
        "print([m for m in ('dask', 'distributed') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out/manifest.jsonl").is_file()


def test_a_worker_that_cannot_write_the_output_is_named_before_anything_is_written(
    tmp_path: Path,
) -> None:
    """One worker sees the output folder read-only (its own mount namespace, a read-only bind
    mount: as a node whose share is mounted read-only): exit 2 naming it and the path."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (a private mount namespace)")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a mount namespace here")
    shutil.copytree(SAMPLE_IMAGES, tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    c = Cluster(tmp_path, workers=1)
    try:
        ro = ["unshare", "-m", "sh", "-c", f'mount --bind -o ro "{out}" "{out}" && exec "$0" "$@"']
        c.add_worker("readonly", ro)
        c.wait_for(2)
        recipe = write_recipe(
            tmp_path / "r.yaml", IMAGES.replace("{copies}", "1").format(out="out")
        )
        proc = _expand(recipe, "--executor", "dask", "--scheduler", c.address)
        assert proc.returncode == 2, proc.stderr
        assert "augcli: error: Dask worker tcp://127.0.0.1:" in proc.stderr
        assert f"cannot write in the output folder ({out}/.augcli)" in proc.stderr
        assert "Read-only file system" in proc.stderr and "shared file system" in proc.stderr
        assert [p.name for p in out.rglob("*")] == [], "nothing may be written"
    finally:
        c.close()


# -- faults -------------------------------------------------------------------------------------
def _worker_pids(parent: int) -> list[int]:
    """The LocalCluster's worker processes (spawned by the run's nannies)."""
    out = subprocess.run(
        ["pgrep", "-P", str(parent), "-f", "spawn_main"], capture_output=True, text=True
    )
    return [int(p) for p in out.stdout.split()]


@pytest.mark.slow
def test_a_killed_dask_worker_is_replaced_and_every_input_is_accounted(tmp_path: Path) -> None:
    data = _many(tmp_path)
    recipe = write_recipe(tmp_path / "r.yaml", IMAGES.replace("{copies}", "12").format(out="out"))
    proc = start_expand(recipe, "--executor", "dask", "--workers", "2")
    wait_for_lines(tmp_path / "out/manifest.jsonl", 60, proc)
    pids = _worker_pids(proc.pid)
    assert len(pids) == 2
    os.kill(pids[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    lines = read_manifest(tmp_path / "out")
    sources = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    assert {r["source"] for r in lines} == sources
    assert all(r["status"] == "ok" for r in lines) and len(lines) == len(sources) * 13
    ref = write_recipe(tmp_path / "ref.yaml", IMAGES.replace("{copies}", "12").format(out="ref"))
    assert _expand(ref).returncode == 0
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "ref")


def test_a_task_that_kills_every_worker_is_failed_and_the_run_goes_on(tmp_path: Path) -> None:
    """The stretch library segfaults on a WAV sampled at 4 Hz: every worker that runs it dies;
    after the cluster's retry budget the input is failed with the reason, the others written."""
    import soundfile as sf

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    sf.write(data / "tiny.wav", rng.normal(0, 0.1, 64).astype("float32"), 4)
    sf.write(data / "ok.wav", rng.normal(0, 0.1, 8000).astype("float32"), 8000)
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "version: 1\ninput: data\noutput: out\naudio:\n  pipeline: [{time_stretch: {rate: 1.2}}]\n",
    )
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    proc = run_augcli("expand", str(recipe), "--executor", "dask", "--workers", "2", env=env)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = {r["output"] or r["source"]: r for r in read_manifest(tmp_path / "out")}
    assert lines["tiny.wav"]["status"] == "failed"
    assert lines["tiny.wav"]["error"].startswith("worker died while making this input's outputs")
    assert lines["ok__aug_0.wav"]["status"] == "ok"
    assert json.loads((tmp_path / "out/run.json").read_text())["status"] == "complete"


@pytest.mark.slow
@pytest.mark.parametrize(("first", "then"), [("local", "dask"), ("dask", "local")])
def test_a_killed_run_resumes_on_the_other_executor(tmp_path: Path, first: str, then: str) -> None:
    _many(tmp_path)
    recipe = write_recipe(tmp_path / "r.yaml", IMAGES.replace("{copies}", "12").format(out="out"))
    proc = start_expand(recipe, "--executor", first, "--workers", "2")
    wait_for_lines(tmp_path / "out/manifest.jsonl", 60, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, no chance to clean up
    proc.wait()
    done = (tmp_path / "out/manifest.jsonl").read_text().count("\n")
    assert done < 60 * 13, "the run was really interrupted"
    resumed = _expand(recipe, "--executor", then, "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((tmp_path / "out/run.json").read_text())
    assert info["status"] == "complete" and info["this_run"]["already_done"] >= 40
    ref = write_recipe(tmp_path / "ref.yaml", IMAGES.replace("{copies}", "12").format(out="ref"))
    assert _expand(ref).returncode == 0
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "ref")
    assert not [p for p in (tmp_path / "out").rglob("*") if ".augcli-tmp-" in p.name]


@pytest.mark.slow
def test_ctrl_c_stops_the_cluster_quickly_and_the_run_resumes(tmp_path: Path) -> None:
    _many(tmp_path)
    recipe = write_recipe(tmp_path / "r.yaml", IMAGES.replace("{copies}", "12").format(out="out"))
    proc = start_expand(recipe, "--executor", "dask", "--workers", "2")
    wait_for_lines(tmp_path / "out/manifest.jsonl", 60, proc)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
    started = time.time()
    _, err = proc.communicate(timeout=60)
    assert time.time() - started < 20, err  # seconds; about 1 s on an idle machine
    assert proc.returncode == 130, err
    assert err == "", f"no traceback from the parent or the workers: {err}"
    assert json.loads((tmp_path / "out/run.json").read_text())["status"] == "interrupted"
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("worker processes outlived the run")
    assert _expand(recipe, "--executor", "dask", "--workers", "2").returncode == 0


@pytest.mark.slow
def test_a_lost_scheduler_is_one_clear_line_and_a_rerun_resumes(tmp_path: Path) -> None:
    _many(tmp_path)
    (tmp_path / "c").mkdir()
    c = Cluster(tmp_path / "c")
    try:
        recipe = write_recipe(
            tmp_path / "r.yaml", IMAGES.replace("{copies}", "12").format(out="out")
        )
        proc = start_expand(recipe, "--executor", "dask", "--scheduler", c.address)
        wait_for_lines(tmp_path / "out/manifest.jsonl", 60, proc)
        c.kill_scheduler()
        _, err = proc.communicate(timeout=60)
    finally:
        c.close()
    assert proc.returncode == 2, err
    assert err.startswith(f"augcli: error: lost the Dask scheduler at {c.address} mid-run")
    assert len(err.strip().splitlines()) == 1, err
    info = json.loads((tmp_path / "out/run.json").read_text())
    assert info["status"] == "interrupted"
    kept = read_manifest(tmp_path / "out")  # every line whole
    assert kept and all(r["status"] == "ok" for r in kept), [
        r for r in kept if r["status"] != "ok"
    ][:3]
    resumed = _expand(recipe)
    assert resumed.returncode == 0, resumed.stderr
    ref = write_recipe(tmp_path / "ref.yaml", IMAGES.replace("{copies}", "12").format(out="ref"))
    assert _expand(ref).returncode == 0
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "ref")
