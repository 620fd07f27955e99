"""manifest.jsonl (one line per output, appended and flushed by the parent) and run.json."""

from __future__ import annotations

import heapq
import json
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from augcli.core.atomic import atomic_path, write_text_atomic
from augcli.core.layout import RUN_INFO, STATE_DIR
from augcli.core.records import COUNTS, Line, OutputRecord, count_of, records_of
from augcli.core.salted import SourceNames


def record_key(rec: dict[str, Any]) -> str:
    """What a line is about: its output path (with the record and copy for a line about one
    record of a record file), or its source for an input that failed as a whole."""
    if rec.get("record") is not None:
        return f"{rec['output']}#{rec['record']['input']}/{rec['node']}/{rec['copy']}"
    return rec["output"] if rec.get("output") else f"source:{rec['source']}"


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """The latest line per key; a torn last line (from a killed run) is ignored."""
    records: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, RecursionError):  # torn, or not a line augcli wrote
                continue
            if isinstance(rec, dict) and "source" in rec:
                try:
                    records[record_key(rec)] = rec
                except (KeyError, TypeError):  # not a line augcli wrote: no key to file it by
                    continue
    return records


def order_of(rec: dict[str, Any]) -> str:
    """Where a line sorts in the final manifest, as one string: by source, record (record
    files), node, copy and output, a record file's own line after its records' lines.
    Fields are joined by NUL (no path or node holds one) and numbers are zero-padded, so
    comparing the strings compares the fields in turn."""
    copy = rec.get("copy")
    record = rec.get("record")
    index = record.get("input") if isinstance(record, dict) else None
    if not isinstance(index, int):
        index = 1 << 62 if "records" in rec else -1
    copy = copy if isinstance(copy, int) else -1
    node = rec.get("node") or ""
    fields = (rec["source"], f"{index + 1:020d}", str(node), f"{copy + 1:020d}")
    return "\0".join((*fields, rec.get("output") or ""))


def sorted_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records in manifest order: by source, node and copy."""
    return sorted(records, key=order_of)


def _line(rec: dict[str, Any]) -> str:
    """One manifest line: compact JSON, UTF-8 as it is. A lone surrogate (a file name that was
    not UTF-8, if one ever got this far) becomes its JSON escape ``\\udce9``, so the line is
    still valid JSON that reads back to the same string, instead of failing to encode."""
    text = json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def encode(rec: OutputRecord) -> Line:
    """An output's record as the manifest line the parent appends (encoded where the output
    was made, so the parent does not spend its time on JSON)."""
    line = rec.line()
    what = rec.output or rec.source
    return Line(
        record_key(line),
        order_of(line),
        _line(line),
        rec.source,
        rec.status,
        what,
        rec.error,
        rec.source_sha256,
        count_of(line),
        records_of(line),
    )


RUN_LINES = 5_000  # lines held before they are sorted into a run file in the state folder
RUN_FILES = 64  # run files open at once at most: that many are merged into one
FLUSH_BYTES = 1 << 16  # appended lines are written out at this size ...
FLUSH_SECONDS = 0.1  # ... or this long after the first of them


class ManifestWriter:
    """Appends lines as they arrive (the log on disk is always a manifest a resume can read),
    then writes them sorted and with one line per key (the latest). Lines are held only until
    ``RUN_LINES`` of them have arrived; then they are sorted into a run file in the state
    folder, and the final manifest is a merge of the runs, so the parent's memory does not
    grow with the dataset."""

    def __init__(
        self, path: Path, previous: dict[str, dict[str, Any]], names: SourceNames | None = None
    ) -> None:
        self.path = path
        self.names = names or SourceNames()  # how lines name inputs on disk (hash_sources)
        self.spill = path.parent / STATE_DIR / "manifest-runs"
        # key -> (order, line, tag: what it counts as, ``_tag``): the lines of the current run
        self._held: dict[str, tuple[str, str, str]] = {}
        self._runs: list[Path] = []
        self._made = 0  # run files made so far (their names)
        self._gone: dict[str, int] = {}  # key -> runs before its forget_source
        self._failed: set[str] = set()  # keys of whole-input failure lines in the runs
        self._buffer: list[str] = []
        self._size = 0
        self._since = 0.0  # when the oldest unwritten line arrived
        self._fh: TextIO | None = None
        self._final = False  # the sorted manifest is written: records() reads it
        self.counts: dict[str, int] = {}  # once closed: the folder as it stands (``COUNTS``)
        shutil.rmtree(self.spill, ignore_errors=True)  # runs of an interrupted run
        lines = [_line(rec) for rec in previous.values()]
        if path.is_file():  # keep only what the resume kept: the log starts as those lines
            with atomic_path(path, None) as tmp, open(tmp, "w", encoding="utf-8") as f:
                f.writelines(map(self.names.line, lines))
        for rec, text in zip(previous.values(), lines, strict=True):
            self._hold(record_key(rec), order_of(rec), text, _tag(count_of(rec), records_of(rec)))
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held for the run

    def forget_source(self, source: str) -> None:
        """A whole-input failure line is superseded when that input is tried again."""
        key = f"source:{source}"
        self._held.pop(key, None)
        if key in self._failed:
            self._gone[key] = len(self._runs)

    def add(self, rec: dict[str, Any]) -> str:
        """Append ``rec``; return its key (what a later line about the same output replaces)."""
        key = record_key(rec)
        self.add_line(key, order_of(rec), _line(rec), count_of(rec), records_of(rec))
        return key

    def add_line(
        self, key: str, order: str, text: str, count: str | None = None, records: int = 0
    ) -> None:
        """Append an encoded line (``encode``) and what it counts as (``count_of``, and a
        record file's records). Lines are written to the log in batches (see
        ``FLUSH_BYTES``): a run killed before a batch is written loses only lines whose
        outputs a resume then makes again."""
        self._hold(key, order, text, _tag(count, records))
        now = time.monotonic()
        if not self._buffer:
            self._since = now
        self._buffer.append(text)
        self._size += len(text)
        if self._size >= FLUSH_BYTES or now - self._since >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the appended lines to the log."""
        if self._buffer and self._fh is not None:
            self._fh.write("".join(map(self.names.line, self._buffer)))
            self._fh.flush()
        self._buffer, self._size = [], 0

    def _hold(self, key: str, order: str, text: str, tag: str) -> None:
        self._held[key] = (order, text, tag)
        if key.startswith("source:"):
            self._failed.add(key)
        if len(self._held) >= RUN_LINES:
            self._spill()

    def _spill(self) -> None:
        """Sort the held lines into the next run file; at ``RUN_FILES`` runs, merge them into
        one (so a run of millions of outputs never holds thousands of files open)."""
        self.spill.mkdir(parents=True, exist_ok=True)
        if len(self._runs) + 1 >= RUN_FILES:
            self._write_run(self._sorted_runs())
            for run in self._runs[:-1]:
                run.unlink()
            self._runs = self._runs[-1:]
            self._gone = {}  # applied in the merge; a later forget counts from here
        self._write_run(self._held_sorted())  # one line per key
        self._held = {}

    def _held_sorted(self) -> list[Item]:
        return sorted((o, k, t, g) for k, (o, t, g) in self._held.items())

    def _write_run(self, lines: Iterable[Item]) -> None:
        """(order, key, line, tag) items, in order, as the next run file (a new name each)."""
        path = self.spill / f"{self._made:06d}.jsonl"
        self._made += 1
        with open(path, "w", encoding="utf-8") as f:
            for order, key, text, tag in lines:
                f.write(json.dumps([order, key, tag]) + "\t" + text)
        self._runs.append(path)

    def _sorted_runs(self) -> Iterator[Item]:
        """The run files' items, merged: the latest line per order."""
        streams = [_read_run(run, k, self._gone) for k, run in enumerate(self._runs)]
        return _latest(heapq.merge(*streams, key=_order))

    def _merged(self) -> Iterator[Item]:
        """Every current line in manifest order: the runs and the held lines merged, the
        latest line per key."""
        return _latest(heapq.merge(self._sorted_runs(), iter(self._held_sorted()), key=_order))

    def records(self) -> Iterator[dict[str, Any]]:
        """Every current record in manifest order, parsed one at a time."""
        lines = _lines_of(self.path) if self._final else (i[2] for i in self._merged())
        for line in lines:
            yield json.loads(line)

    def close(self, finalize: bool) -> None:
        """Close; with ``finalize``, rewrite the manifest sorted (identical whatever the order).
        Either way ``counts`` then holds the folder as its manifest stands (every line's tag
        counted on the way: no line is parsed again)."""
        if self._fh is not None:
            self.flush()
            self._fh.close()
            self._fh = None
        tally = _Tally()
        if finalize:
            with atomic_path(self.path, None) as tmp, open(tmp, "w", encoding="utf-8") as f:
                f.writelines(map(self.names.line, tally.passing(self._merged())))
            self._final = True
        else:
            for _item in tally.passing(self._merged()):
                pass
        self.counts = tally.counts
        shutil.rmtree(self.spill, ignore_errors=True)


Item = tuple[str, str, str, str]  # (order, key, line, tag) of one manifest line
_CODES = {"outputs": "o", "originals": "k", "unchanged": "u", "failed": "f", None: "-"}
_NOUNS = {code: noun for noun, code in _CODES.items()}


def _tag(count: str | None, records: int) -> str:
    """What a line counts as, in a few characters: ``o``, ``k``, ``u``, ``f`` or ``-`` (a
    record file's own line, then its records: ``-80``)."""
    return _CODES[count] + (str(records) if records else "")


class _Tally:
    """Counts the final lines as they pass (sorted: one source's lines are together)."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(COUNTS, 0)
        self._source: str | None = None

    def passing(self, items: Iterator[Item]) -> Iterator[str]:
        counts = self.counts
        for order, _key, text, tag in items:
            source = order.partition("\0")[0]
            if source != self._source:
                counts["input_files"] += 1
                self._source = source
            noun = _NOUNS[tag[0]]
            if noun is not None:
                counts[noun] += 1
            if len(tag) > 1:
                counts["records"] += int(tag[1:])
            yield text


def _read_run(run: Path, index: int, gone: dict[str, int]) -> Iterator[Item]:
    """A run file's items, without the lines of a key forgotten after it."""
    with open(run, encoding="utf-8") as f:
        for raw in f:
            head, _, text = raw.partition("\t")
            order, key, tag = json.loads(head)
            if gone.get(key, -1) <= index:
                yield order, key, text, tag


def _order(item: Item) -> str:
    return item[0]


def _latest(items: Iterator[Item]) -> Iterator[Item]:
    """Of consecutive items with one order (one key: the same output), the last: ``heapq.merge``
    by order alone is stable, so that is the one from the latest run."""
    last: Item | None = None
    for item in items:
        if last is not None and item[0] != last[0]:
            yield last
        last = item
    if last is not None:
        yield last


def _lines_of(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        yield from f


def run_files(info: dict[str, Any] | None) -> dict[str, str | None]:
    """The whole-dataset files run.json lists (COCO document, classes.txt, ...) and their
    sha256 (None where an older run.json listed names only)."""
    files = (info or {}).get("files")
    if isinstance(files, dict):
        return {k: v if isinstance(v, str) else None for k, v in files.items()}
    return {k: None for k in files if isinstance(k, str)} if isinstance(files, list) else {}


def read_run_info(output_root: Path) -> dict[str, Any] | None:
    path = output_root / RUN_INFO
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_run_info(output_root: Path, info: dict[str, Any]) -> None:
    write_text_atomic(output_root / RUN_INFO, json.dumps(info, indent=2, sort_keys=True) + "\n")
