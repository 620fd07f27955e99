"""Expand every recipe in configs/ into a scratch folder and print a sha256 per output tree.

    python scripts/config_digest.py [--workers N] [--out digests.json]

Each recipe's digest covers every file it wrote (path and bytes) except run.json, whose times and
durations change from run to run; manifest.jsonl is included. Use it around a refactoring: the
digests before and after must match. `text_models.yaml` runs against the tests' loopback fake of
an OpenAI-compatible server (tests/chat_server.py), started here on a free port.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {"run.json"}


def tree_digest(folder: Path) -> tuple[str, int]:
    """sha256 over (relative path, file sha256) of every file in ``folder``, sorted by path."""
    total = hashlib.sha256()
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in SKIP or rel.startswith(".augcli/"):
            continue
        total.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        count += 1
    return total.hexdigest(), count


def expand(recipe: Path, out: Path, workers: int, executor: str = "local") -> int:
    cmd = [sys.executable, "-m", "augcli", "expand", str(recipe), "--output", str(out)]
    cmd += ["--workers", str(workers), "--executor", executor, "--quiet"]
    return subprocess.run(cmd, cwd=ROOT).returncode


def with_fake_endpoint(recipe: Path, scratch: Path, url: str) -> Path:
    """A copy of ``recipe`` (beside the original, so relative paths hold) pointing at ``url``."""
    text = recipe.read_text().replace("http://127.0.0.1:11434/v1", url)
    copy = recipe.with_name(f".digest-{recipe.name}")
    copy.write_text(text)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--executor", default="local", help="local, serial or dask")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from chat_server import ChatServer

    digests = {}
    with tempfile.TemporaryDirectory() as scratch, ChatServer() as server:
        for recipe in sorted((ROOT / "configs").glob("*.yaml")):
            run = recipe
            if recipe.name == "text_models.yaml":
                run = with_fake_endpoint(recipe, Path(scratch), server.url)
            out = Path(scratch) / recipe.stem
            try:
                code = expand(run, out, args.workers, args.executor)
            finally:
                if run != recipe:
                    run.unlink()
            digest, count = tree_digest(out)
            digests[recipe.name] = {"exit": code, "files": count, "sha256": digest}
            print(f"{recipe.name:20} exit {code}  {count:4} files  {digest}")
    if args.out:
        args.out.write_text(json.dumps(digests, indent=2) + "\n")


if __name__ == "__main__":
    main()
