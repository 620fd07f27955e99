"""How the CLI shows a run: notes and warnings on stderr, a progress bar on a terminal, and the
closing summary. The engine only calls a ``Reporter``; all printing is here."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from augcli.core.layout import MANIFEST

MAX_FAILURES_SHOWN = 10
TICK_SECONDS = 10.0  # off a terminal, a progress line this often


class Ticker:
    """Progress off a terminal: every ``every`` seconds, from a thread of its own (so a long
    task still shows life), one line on stderr: tasks done of the total, rate and time left."""

    def __init__(self, total: int, every: float) -> None:
        self.total, self.done, self.every = total, 0, every
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="augcli-progress", daemon=True)
        self._thread.start()

    def update(self, n: int = 1) -> None:
        self.done += n

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def line(self) -> str:
        done, seconds = self.done, time.monotonic() - self.started
        rate = done / seconds if seconds > 0 else 0.0
        left = f", about {_clock((self.total - done) / rate)} left" if rate > 0 else ""
        return (
            f"augcli: {done}/{self.total} tasks done ({done / self.total:.0%}) in "
            f"{_clock(seconds)}, {rate:.2f}/s{left}"
        )

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            print(self.line(), file=sys.stderr, flush=True)


def _tick_seconds() -> float:
    """``AUGCLI_PROGRESS_SECONDS`` (how often, off a terminal), else ``TICK_SECONDS``."""
    try:
        value = float(os.environ.get("AUGCLI_PROGRESS_SECONDS", TICK_SECONDS))
    except ValueError:
        return TICK_SECONDS
    return value if value > 0 else TICK_SECONDS


def _clock(seconds: float) -> str:
    """``0:42``, ``12:05``, ``3:02:11``."""
    s = int(seconds + 0.5)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class ConsoleReporter:
    """Prints to stderr; ``quiet`` hides the notes, the bar and the summary, never warnings or
    failures."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def note(self, msg: str) -> None:
        """Progress prose (hidden when quiet)."""
        if not self.quiet:
            print(msg, file=sys.stderr)

    def warn(self, msg: str) -> None:
        print(msg, file=sys.stderr)

    def progress(self, total: int) -> Any:
        """A bar on a terminal; elsewhere (CI logs, a pipe) a line every ``TICK_SECONDS``."""
        if self.quiet or total == 0:
            return None
        if not sys.stderr.isatty():
            return Ticker(total, _tick_seconds())
        import tqdm

        tqdm.tqdm.monitor_interval = 0  # no monitor thread: workers are forked
        return tqdm.tqdm(total=total, unit="task", file=sys.stderr, dynamic_ncols=True)

    def summary(self, result: Any) -> None:
        """Failures (always), the counts, model requests, and how to resume."""
        s, dst = result.summary, result.output_root
        for line in s.failures[:MAX_FAILURES_SHOWN]:
            self.warn(f"augcli: failed: {line}")
        if len(s.failures) > MAX_FAILURES_SHOWN:
            self.warn(
                f"augcli: ... and {len(s.failures) - MAX_FAILURES_SHOWN} more failures "
                f"(see {dst / MANIFEST})"
            )
        records = f" ({s.records} records)" if s.records else ""
        self.note(
            f"augcli: {result.status}: {s.outputs} outputs, {s.originals} originals, "
            f"{s.unchanged} unchanged, {s.failed} failed, {s.already_done} already "
            f"done, from {s.input_files} input files{records} in {result.seconds:.1f}s -> {dst}"
        )
        d = result.dataset
        if d and s.already_done:  # a resume: the folder holds more than this run made
            records = f" ({d['records']} records)" if d["records"] else ""
            self.note(
                f"augcli: {dst} now holds {d['outputs']} outputs, {d['originals']} originals, "
                f"{d['unchanged']} unchanged, {d['failed']} failed, from {d['input_files']} "
                f"input files{records}"
            )
        if s.stats.get("clipped_outputs"):
            self.warn(
                f"augcli: warning: {s.stats['clipped_outputs']} outputs clipped "
                f"({s.stats.get('clipped_samples', 0)} samples beyond full scale; each output's "
                "audio.clipped_samples in the manifest): lower the gain, or write a float format"
            )
        from augcli.engine.run import MODEL_STATS

        if any(k in s.stats for k in MODEL_STATS):
            self.note(
                f"augcli: model requests: {s.stats.get('requests', 0)} sent in "
                f"{s.stats.get('batches', 0)} batches, {s.stats.get('cache_hits', 0)} answered "
                "from the cache"
            )
        if result.status == "interrupted":
            self.note("augcli: run the same command again to resume where it stopped")
