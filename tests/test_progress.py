"""Progress off a terminal: a line on stderr every few seconds (count, rate, time left), from
its own thread, so a CI log shows life during a long model run; record files with a model op
run in small chunks, so the count moves every few batches."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from chat_server import ChatServer
from conftest import ROOT

from augcli.cli.console import Ticker, _clock


def test_the_ticker_prints_from_its_own_thread_while_nothing_finishes(capsys) -> None:
    ticker = Ticker(40, 0.05)
    ticker.update(10)
    time.sleep(0.3)  # no update meanwhile: it still shows life
    ticker.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 3
    assert re.fullmatch(
        r"augcli: 10/40 tasks done \(25%\) in 0:00, [\d.]+/s, about \d+:\d\d left", lines[-1]
    )
    assert _clock(42) == "0:42" and _clock(3 * 3600 + 131) == "3:02:11"


def test_a_slow_model_run_off_a_terminal_shows_progress_lines(tmp_path: Path) -> None:
    config = ROOT / "configs" / "text_models.yaml"
    with ChatServer(delay=0.05) as server:
        recipe = config.with_name(f".progress-{tmp_path.name}.yaml")
        recipe.write_text(config.read_text().replace("http://127.0.0.1:11434/v1", server.url))
        try:
            ran = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "augcli",
                    "expand",
                    str(recipe),
                    "--output",
                    str(tmp_path / "o"),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                env={**os.environ, "AUGCLI_PROGRESS_SECONDS": "0.5"},
            )
        finally:
            recipe.unlink()
    assert ran.returncode == 0, ran.stderr
    counts = [
        (int(m[1]), int(m[2])) for m in re.finditer(r"augcli: (\d+)/(\d+) tasks done", ran.stderr)
    ]
    assert counts, ran.stderr
    total = counts[0][1]
    assert total > 8, "80 records with a model op run in chunks of 32, beside 6 documents"
    assert [c for c, _ in counts] == sorted(c for c, _ in counts)
    assert "Traceback" not in ran.stderr
