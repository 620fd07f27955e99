#!/usr/bin/env python3
"""Model-op benchmark: augcli ``back_translate`` against the loops users write by hand.

Two MarianMT models built here (random weights, seeded; nothing is downloaded): d_model 256,
3 encoder + 3 decoder layers, 4 heads, FFN 1024, a SentencePiece vocabulary of 4,000 trained on
the benchmark corpus. Forward (seed 1) and backward (seed 2) differ only in their weights. Two
changes make random models behave like translation models for timing purposes, identically
for every contender (they live in the model folders):

- ``generation_config.json`` has ``min_new_tokens`` = ``max_new_tokens`` (48): end-of-sentence
  is suppressed, so every generation runs exactly 48 new tokens, in every contender, batch or
  not (random weights otherwise end at random points, which would favour unbatched loops);
- the decoder's cross-attention is sharpened (q/k and v/out projections x10), so the output
  depends on the input: with the default initialisation most inputs greedy-decode to the same
  few texts, and augcli, which sends each distinct text to the model once, would skip work no
  real model lets it skip (15 distinct outputs for 128 inputs before, 128 after).

Contenders, each a whole process under ``/usr/bin/time -v`` (wall clock, maximum resident set
size), the same model files, the first ``--n`` records (default 400) of the text corpus
(shared/bench/make_text.py), greedy decoding, 48 new tokens, torch's default threads (2 on
2 cores):

- ``hand32``: the loop a user writes today (``HAND_LOOP`` below, written to a temporary
  folder at run time): AutoTokenizer/AutoModelForSeq2SeqLM loaded once, all records forward
  then backward in batches of 32, a JSONL out. The reference.
- ``hand32s``: the same loop on the sentences augcli's ``back_translate`` sends (it translates
  sentence by sentence; split with augcli's own splitter): separates what sentence splitting
  costs from what augcli's machinery costs.
- ``hand1``: the same loop one record at a time (naive loops, per-call augmenter code).
- ``nlpaug``: ``naw.BackTranslationAug(from_model_name=<fwd dir>, to_model_name=<bwd dir>,
  batch_size=32, max_length=49)`` (nlpaug's ``max_length`` counts the decoder start token) and
  ``aug.augment(list_of_texts)``.
- ``augcli1``: ``augcli expand --workers 1``; ``augcli2``: ``--workers 2`` (default
  ``model_workers: 1``: one process runs the model with 2 threads); ``augcli2m2``:
  ``--workers 2`` and ``model_workers: 2`` (two processes, each loading both models, 1 thread
  each). The recipe: ``copies: 1`` and ``beams: 1`` (one greedy output per record, exactly the
  hand loop's work; ``sample: true`` would add the per-row seeded sampling step and
  ``copies: 2`` with greedy decoding a second, identical copy that is retried and recorded
  unchanged), filters off, ``chunk_records`` = n/2 (two tasks, so ``model_workers: 2`` has
  parallel work), no originals.

One untimed warm-up round on the first 32 records (page cache; also a check that hand1 and
nlpaug decode exactly what hand32 does and augcli what hand32s does), then ``--reps`` rounds
(default 3), contenders alternating round-robin, the order rotating. Before every timed run
the script waits (up to 3 minutes) for the machine to be idle, and it records the CPU time
the contender's process tree used (``CPU s``: /usr/bin/time's user + system, or the tree's
times sampled from /proc when larger: time -v misses pool workers nobody waits for) and what
other processes used meanwhile (``other CPU s``: the machine's busy time from /proc/stat
minus the contender's), which flags a disturbed run. torch on 2 threads slows down many
times over when another process competes for the cores. Then one untimed run per contender but
hand1 with its whole process tree sampled from /proc every 50 ms: peak summed PSS (shared
pages counted once) and peak summed RSS (``/usr/bin/time`` reports the largest single
process, and for augcli at W=2 only its parent). Reported: medians, ratios to hand32 (wall,
memory) and the others named in ``RATIOS``.

usage: python benchmarks/run_models.py [--n 400] [--reps 3] [--quick] [--augcli PATH]
       python benchmarks/run_models.py --report benchmarks/.data/results/models-latest.json

Needs: /usr/bin/time, augcli with its ``translate`` extra (torch, transformers, sentencepiece)
and nlpaug in the same environment (the interpreter running this script; ``--python``).
Writes: benchmarks/.data/results/models-latest.{md,json} (and a timestamped copy); models and
inputs under benchmarks/.data/models.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_images import (
    DATA,
    add_report_option,
    ensure_time,
    expand_argv,
    find_augcli,
    find_shared_bench,
    finish,
    loadavg,
    machine,
    med,
    parse_time_v,
    print_saved_report,
    rotated_rounds,
    sampled_run,
    versions,
)

MODELS = DATA / "models"
CORPUS = DATA / "text" / "sentences.jsonl"
MAX_NEW, BATCH, VOCAB, WARM_N = 48, 32, 4000, 32
SPEC = {  # the model files depend on these; changing one rebuilds them
    "d_model": 256,
    "layers": 3,
    "heads": 4,
    "ffn": 1024,
    "vocab": VOCAB,
    "seeds": [1, 2],
    "cross_attention_gain": 10.0,
    "min_new_tokens": MAX_NEW,
    "corpus": "make_text.py sentences.jsonl",
}
QUIET_BUSY, QUIET_WAIT = 0.3, 180.0  # CPUs busy that count as idle; longest wait (s)
PACKAGES = ["augcli", "torch", "transformers", "sentencepiece", "nlpaug", "numpy"]

# The hand-written reference: what a user writes with transformers today (~30 lines).
HAND_LOOP = """\
import json, sys
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

src, out, fwd, bwd = sys.argv[1:5]
batch, max_new = int(sys.argv[5]), int(sys.argv[6])
rows = [json.loads(line) for line in open(src, encoding="utf-8") if line.strip()]


def load(path):
    return AutoTokenizer.from_pretrained(path), AutoModelForSeq2SeqLM.from_pretrained(path).eval()


def translate(texts, tok, model):
    done = []
    for i in range(0, len(texts), batch):
        enc = tok(texts[i : i + batch], return_tensors="pt", padding=True, truncation=True)
        with torch.inference_mode():
            ids = model.generate(**enc, max_new_tokens=max_new, num_beams=1, do_sample=False)
        done += tok.batch_decode(ids, skip_special_tokens=True)
    return done


forward, backward = load(fwd), load(bwd)
back = translate(translate([r["text"] for r in rows], *forward), *backward)
with open(out, "w", encoding="utf-8") as f:
    for row, text in zip(rows, back):
        f.write(json.dumps({**row, "text": text.strip()}) + "\\n")
"""

# nlpaug's back-translation augmenter, given the same local model folders.
NLPAUG_LOOP = """\
import json, sys
import nlpaug.augmenter.word as naw

src, out, fwd, bwd = sys.argv[1:5]
batch, max_new = int(sys.argv[5]), int(sys.argv[6])
rows = [json.loads(line) for line in open(src, encoding="utf-8") if line.strip()]
aug = naw.BackTranslationAug(
    from_model_name=fwd, to_model_name=bwd, device="cpu", batch_size=batch,
    max_length=max_new + 1,  # nlpaug passes max_length: it counts the decoder start token
)
back = aug.augment([r["text"] for r in rows])
assert len(back) == len(rows), (len(back), len(rows))
with open(out, "w", encoding="utf-8") as f:
    for row, text in zip(rows, back):
        f.write(json.dumps({**row, "text": text.strip()}) + "\\n")
"""

# augcli's own sentence split (what back_translate sends to the model), for hand32s.
SPLIT = """\
import json, sys
from augcli.text.doc import TextDoc
from augcli.text.generative import split_sentences
from augcli.text.protect import compile_rules

rules = compile_rules({"protect_defaults": True, "protect": []}, "text")
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for i, line in enumerate(l for l in open(sys.argv[1], encoding="utf-8") if l.strip()):
        parts = split_sentences(TextDoc.parse(json.loads(line)["text"], rules))
        out.write(json.dumps({"record": i, "parts": parts}) + "\\n")
"""

RECIPE = """\
# written by benchmarks/run_models.py
version: 1
seed: 1
copies: 1
keep_originals: false
text:
  text_field: text
  label_field: label
  chunk_records: {chunk}
  model_workers: {model_workers}
  pipeline:
    - back_translate:
        forward_model: {fwd}
        backward_model: {bwd}
        beams: 1
        max_length: {max_new}
        batch_size: {batch}
        keep_protected: false
        min_similarity: 0
        min_length_ratio: 0
        max_length_ratio: 100
"""


# -- models and inputs -------------------------------------------------------------------------
def build_model(python: str, folder: Path, seed: int) -> None:
    """A MarianMT folder as save_pretrained writes it (the approach of tests/tinymodels.py,
    mid-size), built in a child process so this script never imports torch."""
    code = f"""
import json, logging, shutil, warnings
from pathlib import Path
import sentencepiece as spm, torch, transformers
from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer
transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
folder, spec = Path({str(folder)!r}), {SPEC!r}
folder.mkdir(parents=True, exist_ok=True)
texts = [json.loads(l)["text"] for l in open({str(CORPUS)!r}, encoding="utf-8") if l.strip()]
(folder / "corpus.txt").write_text("\\n".join(texts), encoding="utf-8")
spm.SentencePieceTrainer.train(
    input=str(folder / "corpus.txt"), model_prefix=str(folder / "sp"),
    vocab_size=spec["vocab"], model_type="unigram", character_coverage=1.0,
    hard_vocab_limit=False, bos_id=-1, eos_id=1, unk_id=2, pad_id=0, minloglevel=2,
)
sp = spm.SentencePieceProcessor(model_file=str(folder / "sp.model"))
vocab = {{sp.id_to_piece(i): i for i in range(sp.get_piece_size())}}
for name in ("source.spm", "target.spm"):
    shutil.copy(folder / "sp.model", folder / name)
(folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
for leftover in ("sp.model", "sp.vocab", "corpus.txt"):
    (folder / leftover).unlink()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    tok = MarianTokenizer(
        str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
    )
tok.save_pretrained(folder)
config = MarianConfig(
    vocab_size=len(vocab), d_model=spec["d_model"],
    encoder_layers=spec["layers"], decoder_layers=spec["layers"],
    encoder_attention_heads=spec["heads"], decoder_attention_heads=spec["heads"],
    encoder_ffn_dim=spec["ffn"], decoder_ffn_dim=spec["ffn"], max_position_embeddings=512,
    pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    decoder_start_token_id=tok.pad_token_id, forced_eos_token_id=tok.eos_token_id,
)
torch.manual_seed({seed})
model = MarianMTModel(config)
gain = spec["cross_attention_gain"]
with torch.no_grad():
    for layer in model.model.decoder.layers:
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            getattr(layer.encoder_attn, proj).weight.mul_(gain)
model.generation_config = GenerationConfig.from_model_config(config)
model.generation_config.min_new_tokens = spec["min_new_tokens"]
model.save_pretrained(folder)
"""
    subprocess.run([python, "-c", code], check=True, stdout=subprocess.DEVNULL)


def ensure_models(python: str) -> tuple[Path, Path]:
    fwd, bwd = MODELS / "marian-fwd", MODELS / "marian-bwd"
    stamp = MODELS / "spec.json"
    want = json.dumps(SPEC, sort_keys=True)
    if stamp.is_file() and stamp.read_text() == want and fwd.is_dir() and bwd.is_dir():
        return fwd, bwd
    print("run_models: building the two MarianMT models ...", file=sys.stderr)
    for folder, seed in ((fwd, SPEC["seeds"][0]), (bwd, SPEC["seeds"][1])):
        shutil.rmtree(folder, ignore_errors=True)
        build_model(python, folder, seed)
    stamp.write_text(want)
    return fwd, bwd


def ensure_corpus(python: str, bench: Path) -> None:
    if not CORPUS.is_file():
        if not Path("/usr/share/games/fortunes/computers").is_file():
            sys.exit("run_models: apt-get install -y fortunes fortune-mod (make_text.py)")
        CORPUS.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([python, str(bench / "make_text.py"), str(CORPUS)], check=True)


def make_inputs(python: str, n: int, tag: str) -> dict[str, object]:
    """The first ``n`` records in a folder of their own (augcli takes a folder), augcli's
    sentence split of them (parts) and the sentences as a JSONL for hand32s."""
    folder = MODELS / f"text-{tag}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "records").mkdir(parents=True)
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(lines) < n:
        sys.exit(f"run_models: the corpus has {len(lines)} records, fewer than --n {n}")
    records = folder / "records" / "sentences.jsonl"
    records.write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
    parts_file = folder / "parts.jsonl"
    subprocess.run([python, "-c", SPLIT, str(records), str(parts_file)], check=True)
    parts = [json.loads(line)["parts"] for line in parts_file.read_text().splitlines()]
    sentences = folder / "sentences-split.jsonl"
    with sentences.open("w", encoding="utf-8") as f:
        for i, rec in enumerate(parts):
            for text, is_sentence in rec:
                if is_sentence:
                    f.write(json.dumps({"record": i, "text": text}) + "\n")
    n_sent = sum(1 for rec in parts for _, s in rec if s)
    n_unique = len({t for rec in parts for t, s in rec if s})
    return {
        "records": records,
        "sentences": sentences,
        "parts": parts,
        "n": n,
        "n_sentences": n_sent,
        "n_unique_sentences": n_unique,
    }


# -- contenders --------------------------------------------------------------------------------
class Contender:
    def __init__(self, key: str, label: str, workers: int, argv: list[str], kind: str) -> None:
        self.key, self.label, self.workers, self.argv, self.kind = key, label, workers, argv, kind

    def command(self, inputs: dict[str, object], out: Path) -> list[str]:
        src = inputs["sentences"] if self.key == "hand32s" else inputs["records"]
        if self.kind == "augcli":
            src = Path(inputs["records"]).parent
        dest = out if self.kind == "augcli" else self.out_file(out)
        return [a.replace("{IN}", str(src)).replace("{OUT}", str(dest)) for a in self.argv]

    def out_file(self, out: Path) -> Path:
        return out / "sentences.jsonl" if self.kind == "augcli" else out / "augmented.jsonl"

    def expected(self, inputs: dict[str, object]) -> int:
        return int(inputs["n_sentences"] if self.key == "hand32s" else inputs["n"])


def contenders(
    python: str, augcli: str, tmp: Path, fwd: Path, bwd: Path, chunk: int
) -> list[Contender]:
    (tmp / "hand_loop.py").write_text(HAND_LOOP)
    (tmp / "nlpaug_loop.py").write_text(NLPAUG_LOOP)
    recipes = {}
    for mw in (1, 2):
        recipes[mw] = tmp / f"back_translate-mw{mw}.yaml"
        recipes[mw].write_text(
            RECIPE.format(
                chunk=chunk, model_workers=mw, fwd=fwd, bwd=bwd, max_new=MAX_NEW, batch=BATCH
            )
        )

    def script(name: str, batch: int) -> list[str]:
        return [
            python,
            str(tmp / name),
            "{IN}",
            "{OUT}",
            str(fwd),
            str(bwd),
            str(batch),
            str(MAX_NEW),
        ]

    def expand(w: int, mw: int) -> list[str]:
        return expand_argv(augcli, recipes[mw], w)

    return [
        Contender("hand32", "hand loop, batch 32", 1, script("hand_loop.py", BATCH), "hand"),
        Contender(
            "hand32s",
            "hand loop, batch 32, augcli's sentences",
            1,
            script("hand_loop.py", BATCH),
            "hand",
        ),
        Contender("hand1", "hand loop, batch 1", 1, script("hand_loop.py", 1), "hand"),
        Contender(
            "nlpaug",
            "nlpaug BackTranslationAug, batch 32",
            1,
            script("nlpaug_loop.py", BATCH),
            "hand",
        ),
        Contender("augcli1", "augcli expand", 1, expand(1, 1), "augcli"),
        Contender("augcli2", "augcli expand, model_workers 1", 2, expand(2, 1), "augcli"),
        Contender("augcli2m2", "augcli expand, model_workers 2", 2, expand(2, 2), "augcli"),
    ]


# -- measuring -----------------------------------------------------------------------------------
def cpu_busy_seconds() -> float:
    """Busy CPU time of the whole machine so far (all CPUs; /proc/stat, USER_HZ = 100)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit: float = QUIET_WAIT) -> float:
    """Wait until the machine is idle (under QUIET_BUSY CPUs busy over one second); return the
    seconds waited (``limit`` if it never got quiet)."""
    t0 = time.time()
    while time.time() - t0 < limit:
        b0 = cpu_busy_seconds()
        time.sleep(1.0)
        if cpu_busy_seconds() - b0 < QUIET_BUSY:
            break
    return round(time.time() - t0, 1)


def count_lines(path: Path) -> int:
    return sum(1 for line in path.open(encoding="utf-8") if line.strip()) if path.is_file() else 0


def model_rows(c: Contender, out: Path, inputs: dict[str, object]) -> int:
    """Texts sent to a model, forward + backward (augcli: the distinct requests it answered,
    the rows of its response cache)."""
    if c.kind == "augcli":
        db = out / ".augcli" / "model-cache.sqlite"
        with sqlite3.connect(db) as con:
            return int(con.execute("SELECT count(*) FROM responses").fetchone()[0])
    return 2 * c.expected(inputs)


def run_once(
    c: Contender, inputs: dict[str, object], env: dict[str, str], wait: bool = True
) -> dict[str, float]:
    out = DATA / "out" / f"models-{c.key}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if c.kind == "augcli":
        out.rmdir()  # augcli makes its output folder
    waited = wait_quiet() if wait else 0.0
    busy0 = cpu_busy_seconds()
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", tf.name, *c.command(inputs, out)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        tree_cpu = TreeCPU(proc.pid)
        _, err = proc.communicate()
        busy = cpu_busy_seconds() - busy0
        tree_cpu.stop()
        if proc.returncode != 0:
            raise RuntimeError(f"{c.key} failed ({proc.returncode}):\n{err[-3000:]}")
        res: dict[str, float] = parse_time_v(tf.read())
    got = count_lines(c.out_file(out))
    if got != c.expected(inputs):
        raise RuntimeError(f"{c.key}: {got} output records, expected {c.expected(inputs)}")
    res["outputs"] = got
    res["model_rows"] = model_rows(c, out, inputs)
    # time -v counts only the processes that were waited for (not augcli's pool workers,
    # forked by the fork server): the tree's CPU time is sampled from /proc as well.
    res["cpu_s"] = round(max(tree_cpu.total, res["user"] + res["sys"]), 2)
    res["other_cpu_s"] = round(max(0.0, busy - res["cpu_s"]), 2)
    res["waited_s"] = waited
    return res


class TreeCPU:
    """CPU time (user + system) of a process tree, its processes' own times read from /proc
    every 0.1 s (the last ticks of a process that exits between two reads are missed)."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every, self.seen = pid, every, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.is_set():
            for pid in _descendants(self.pid):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    cpu = (int(fields[11]) + int(fields[12])) / tick
                except (OSError, IndexError, ValueError):
                    continue
                self.seen[pid] = max(self.seen.get(pid, 0.0), cpu)
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def total(self) -> float:
        return sum(self.seen.values())


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return found


def _mem_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB, 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            vals = dict(
                (line.split(":")[0], int(line.split()[1])) for line in f if line.endswith("kB\n")
            )
        return vals.get("Rss", 0), vals.get("Pss", 0)
    except (OSError, ValueError, IndexError):
        return 0, 0


def tree_memory(cmd: list[str], env: dict[str, str], every: float = 0.05) -> dict[str, object]:
    """Run ``cmd`` and sample its whole process tree (children of children too: augcli's
    workers are forked by the fork server): peak of the summed RSS, peak of the summed PSS,
    each process's peak RSS and the most processes alive at once."""
    peak_rss = peak_pss = most = 0
    each: dict[int, int] = {}

    def sample(root: int) -> None:
        nonlocal peak_rss, peak_pss, most
        pids = _descendants(root)
        rss = pss = 0
        for pid in pids:
            r, p = _mem_kib(pid)
            rss, pss = rss + r, pss + p
            each[pid] = max(each.get(pid, 0), r)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        most = max(most, sum(1 for p in pids if each.get(p, 0) > 0))

    _, code, err = sampled_run(cmd, env, every, sample)
    if code != 0:
        raise RuntimeError(f"failed ({code}): {' '.join(cmd)}\n{err.decode()[-3000:]}")
    return {
        "tree_peak_rss_mib": round(peak_rss / 1024, 1),
        "tree_peak_pss_mib": round(peak_pss / 1024, 1),
        "process_peak_rss_mib": sorted((round(v / 1024) for v in each.values()), reverse=True),
        "processes": most,
    }


def same_outputs(cs: list[Contender], inputs: dict[str, object]) -> dict[str, float]:
    """Share of warm-up outputs equal to the reference's: hand1 and nlpaug against hand32 (the
    same records), augcli against hand32s's sentences put back together around the text
    between them (what back_translate does). Equal decoding gives 1.0; a few rows may differ
    where padding moves a float in the last bits and greedy search takes another token."""

    def texts(key: str) -> list[str]:
        c = next(x for x in cs if x.key == key)
        path = c.out_file(DATA / "out" / f"models-{key}")
        return [json.loads(line)["text"] for line in path.read_text().splitlines() if line]

    out: dict[str, float] = {}
    ref = texts("hand32")
    for key in ("hand1", "nlpaug"):
        got = texts(key)
        out[f"{key}=hand32"] = sum(a == b for a, b in zip(got, ref, strict=True)) / len(ref)
    it = iter(texts("hand32s"))
    joined = [
        "".join(next(it) if is_sentence else text for text, is_sentence in rec)
        for rec in inputs["parts"]
    ]
    for key in ("augcli1", "augcli2", "augcli2m2"):
        got = texts(key)
        out[f"{key}=hand32s"] = sum(a == b for a, b in zip(got, joined, strict=True)) / len(got)
    return out


# -- report ------------------------------------------------------------------------------------
RATIOS = [  # (name, numerator, denominator, what)
    ("augcli1/hand32", "augcli1", "hand32", "augcli W=1 / hand loop batch 32"),
    ("augcli1/hand1", "augcli1", "hand1", "augcli W=1 / hand loop batch 1"),
    ("nlpaug/hand32", "nlpaug", "hand32", "nlpaug / hand loop batch 32"),
    ("hand1/hand32", "hand1", "hand32", "hand loop batch 1 / batch 32"),
    ("hand32s/hand32", "hand32s", "hand32", "sentence split (hand loop on augcli's sentences)"),
    ("augcli1/hand32s", "augcli1", "hand32s", "augcli W=1 / hand loop on the same sentences"),
    ("augcli2/hand32", "augcli2", "hand32", "augcli W=2, model_workers 1 / hand loop batch 32"),
    ("augcli2m2/hand32", "augcli2m2", "hand32", "augcli W=2, model_workers 2 / hand loop batch 32"),
    ("augcli2m2/augcli1", "augcli2m2", "augcli1", "augcli model_workers 2 / W=1"),
]


def ratios_of(runs: dict[str, list[dict[str, float]]], tree: dict[str, dict]) -> dict[str, float]:
    r: dict[str, float] = {}
    for name, a, b, _ in RATIOS:
        if a in runs and b in runs:
            r[name] = med(runs[a], "wall") / med(runs[b], "wall")
            r[f"rss {name}"] = med(runs[a], "max_rss_mib") / med(runs[b], "max_rss_mib")
            if a in tree and b in tree:
                r[f"pss {name}"] = tree[a]["tree_peak_pss_mib"] / tree[b]["tree_peak_pss_mib"]
    return r


def report(res: dict[str, object]) -> str:
    runs: dict[str, list[dict[str, float]]] = res["runs"]
    labels: dict[str, str] = res["labels"]
    workers: dict[str, int] = res["workers"]
    tree: dict[str, dict] = res["tree"]
    r = res["ratios"]
    m, la, inp = res["machine"], res["loadavg"], res["inputs"]
    hand = med(runs["hand32"], "wall")
    lines = [
        f"Run of {res['date']}: {m['nproc']} CPUs ({m['cpu']}), "
        + ", ".join(f"{k} {v}" for k, v in m["env"].items())
        + f"; load average {la['start'][0]:.2f} at the start, {la['end'][0]:.2f} at the end.",
        "",
        f"{inp['n']} records ({inp['n_sentences']} sentences by augcli's split, "
        f"{inp['n_unique_sentences']} distinct) -> 1 back-translation each; MarianMT "
        f"{res['model']['d_model']}d, {res['model']['layers']}+{res['model']['layers']} layers, "
        f"vocab {res['model']['vocab']}, random weights; greedy, {res['max_new']} new tokens "
        f"every generation; 1 warm-up round ({WARM_N} records), {res['reps']} timed rounds, "
        "medians:",
        "",
        "| contender | W | wall s (median) | min-max | model rows | max RSS MiB | "
        "tree peak PSS MiB | tree peak RSS MiB | CPU s | other CPU s (max) | "
        "x hand loop batch 32 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, rs in runs.items():
        wall = med(rs, "wall")
        lo, hi = min(x["wall"] for x in rs), max(x["wall"] for x in rs)
        rows = "/".join(str(int(v)) for v in sorted({x["model_rows"] for x in rs}))
        t = tree.get(key)
        pss = f"{t['tree_peak_pss_mib']:.0f}" if t else "-"
        trss = f"{t['tree_peak_rss_mib']:.0f} ({t['processes']} proc)" if t else "-"
        other = max(x["other_cpu_s"] for x in rs)
        lines.append(
            f"| {labels[key]} | {workers[key]} | {wall:.2f} | {lo:.2f}-{hi:.2f} | {rows} | "
            f"{med(rs, 'max_rss_mib'):.0f} | {pss} | {trss} | {med(rs, 'cpu_s'):.1f} | "
            f"{other:.1f} | {wall / hand:.2f} |"
        )
    lines += [
        "",
        "max RSS: /usr/bin/time's, the largest single process it waited for; augcli at W=2 "
        "shows its parent only (the pool workers are the fork server's children): compare "
        "the tree columns (one untimed run each, sampled every 50 ms). CPU s: the process "
        "tree's user + system time; other CPU s: what other processes used during the run.",
        "",
        "| ratio (ratio of medians) | wall | CPU s | max RSS | tree peak PSS |",
        "|---|---|---|---|---|",
    ]
    for name, a, b, what in RATIOS:
        if name in r:
            pss = f"{r[f'pss {name}']:.2f}x" if f"pss {name}" in r else "-"
            cpu = med(runs[a], "cpu_s") / med(runs[b], "cpu_s")
            parent_only = workers[a] > 1 and a.startswith("augcli")  # time -v: the parent only
            rss = "-" if parent_only else f"{r[f'rss {name}']:.2f}x"
            lines.append(f"| {what} | **{r[name]:.2f}x** | {cpu:.2f}x | {rss} | {pss} |")
    same = res.get("same_outputs") or {}
    if same:
        lines += [
            "",
            "Same decoding (warm-up outputs equal to the reference's): "
            + ", ".join(f"{k} {v:.0%}" for k, v in same.items())
            + ".",
        ]
    if res.get("notes"):
        lines += ["", *[f"- {n}" for n in res["notes"]]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=400, help="records (default 400)")
    ap.add_argument("--reps", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument("--quick", action="store_true", help="--reps 1 --n 100")
    ap.add_argument("--augcli", default=None, help="the augcli executable")
    ap.add_argument(
        "--python", default=sys.executable, help="interpreter with torch, transformers, nlpaug"
    )
    ap.add_argument("--no-wait", action="store_true", help="do not wait for an idle machine")
    add_report_option(ap)
    a = ap.parse_args()
    if a.report:
        print_saved_report(a.report, report)
        return
    n, reps = (100, 1) if a.quick else (a.n, a.reps)
    ensure_time()
    augcli = find_augcli(a.augcli)
    python = a.python
    ensure_corpus(python, find_shared_bench())
    fwd, bwd = ensure_models(python)
    inputs = make_inputs(python, n, f"n{n}")
    warm = make_inputs(python, WARM_N, "warm")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    load_start = loadavg()
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="augcli-models-") as tmp:
        cs = contenders(python, augcli, Path(tmp), fwd, bwd, chunk=(n + 1) // 2)
        print(
            f"run_models: warm-up round ({len(cs)} contenders, {WARM_N} records)", file=sys.stderr
        )
        for c in cs:
            run_once(c, warm, env, wait=False)
        same = same_outputs(cs, warm)
        runs = rotated_rounds(
            cs,
            reps,
            lambda c: run_once(c, inputs, env, wait=not a.no_wait),
            lambda r: (
                f"{r['wall']:7.2f} s {r['max_rss_mib']:6.0f} MiB"
                f"  other CPU {r['other_cpu_s']:5.1f} s  (waited {r['waited_s']:.0f} s)"
            ),
            10,
        )
        print("run_models: process-tree memory (untimed)", file=sys.stderr)
        tree = {}
        for c in cs:
            if c.key == "hand1":  # one process, as the batched loop; its time -v figure holds
                continue
            out = DATA / "out" / f"models-{c.key}"
            shutil.rmtree(out, ignore_errors=True)
            if c.kind != "augcli":
                out.mkdir(parents=True)
            tree[c.key] = tree_memory(c.command(inputs, out), env)
    mach = machine(augcli, Path(python))
    mach["env"] = versions(python, PACKAGES)
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": mach,
        "reps": reps,
        "max_new": MAX_NEW,
        "batch": BATCH,
        "model": SPEC,
        "inputs": {k: v for k, v in inputs.items() if k.startswith("n")},
        "labels": {c.key: c.label for c in cs},
        "workers": {c.key: c.workers for c in cs},
        "runs": runs,
        "tree": tree,
        "ratios": ratios_of(runs, tree),
        "same_outputs": same,
    }
    finish("models", "run_models", res, report, t0, load_start)


if __name__ == "__main__":
    main()
