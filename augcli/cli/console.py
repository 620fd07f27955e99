"""How the CLI shows a run: notes and warnings on stderr, a progress bar on a terminal, and the
closing summary. The engine only calls a ``Reporter``; all printing is here."""

from __future__ import annotations

import sys
from typing import Any

from augcli.core.layout import MANIFEST

MAX_FAILURES_SHOWN = 10


class ConsoleReporter:
    """Prints to stderr; ``quiet`` hides the notes, the bar and the summary, never warnings or
    failures."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def note(self, msg: str) -> None:
        """Progress prose; a note that is a warning (the scan's ``warning: ...`` notes) is
        shown even when quiet."""
        if not self.quiet or msg.startswith("augcli: warning:"):
            print(msg, file=sys.stderr)

    def warn(self, msg: str) -> None:
        print(msg, file=sys.stderr)

    def progress(self, total: int) -> Any:
        if self.quiet or not sys.stderr.isatty() or total == 0:
            return None
        import tqdm

        tqdm.tqdm.monitor_interval = 0  # no monitor thread: workers are forked
        return tqdm.tqdm(total=total, unit="input", file=sys.stderr, dynamic_ncols=True)

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
        self.note(
            f"augcli: {result.status}: {s.outputs} written, "
            + (f"{s.unchanged} unchanged (not written), " if s.unchanged else "")
            + f"{s.failed} failed, {s.skipped} already done, from {s.inputs} inputs in "
            f"{result.seconds:.1f}s -> {dst}"
        )
        if s.stats:
            self.note(
                f"augcli: model requests: {s.stats.get('requests', 0)} sent in "
                f"{s.stats.get('batches', 0)} batches, {s.stats.get('cache_hits', 0)} answered "
                "from the cache"
            )
        if result.status == "interrupted":
            self.note("augcli: run the same command again to resume where it stopped")
