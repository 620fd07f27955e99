"""manifest.jsonl (one line per output, appended and flushed by the parent) and run.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from augcli.core.atomic import atomic_path, write_text_atomic
from augcli.core.layout import RUN_INFO


def record_key(rec: dict[str, Any]) -> str:
    """What a line is about: its output path (with the record and copy for a line about one
    record of a record file), or its source for an input that failed as a whole."""
    if rec.get("record") is not None:
        return f"{rec['output']}#{rec['record']['input']}/{rec['node']}/{rec['copy']}"
    return rec["output"] if rec.get("output") else f"source:{rec['source']}"


def side_files(rec: dict[str, Any]) -> list[str]:
    """Files a line's output brought along (mask, annotation sidecar, transcript sidecars)."""
    side = rec.get("annotations") or {}
    return [p for p in (side.get("mask"), side.get("sidecar"), *rec.get("sidecars", [])) if p]


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


def _sort_key(rec: dict[str, Any]) -> tuple[str, int, str, int, str]:
    """Source, record (record files), node, copy; a record file's summary line last."""
    copy = rec.get("copy")
    record = rec.get("record")
    index = record["input"] if record else (1 << 62 if "records" in rec else -1)
    node = rec.get("node") or ""
    return (rec["source"], index, node, -1 if copy is None else copy, rec.get("output") or "")


def sorted_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records in manifest order: by source, node and copy."""
    return sorted(records, key=_sort_key)


def _line(rec: dict[str, Any]) -> str:
    """One manifest line: compact JSON, UTF-8 as it is. A lone surrogate (a file name that was
    not UTF-8, if one ever got this far) becomes its JSON escape ``\\udce9``, so the line is
    still valid JSON that reads back to the same string, instead of failing to encode."""
    text = json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ManifestWriter:
    """Appends records as they arrive (crash-safe), then rewrites them in a stable order. Each
    record is kept as its JSON line (a few hundred bytes, not a dict of a few kilobytes), so
    the parent's memory per output stays small."""

    def __init__(self, path: Path, previous: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self._lines = {key: _line(rec) for key, rec in previous.items()}
        self._fh: TextIO | None = None
        if path.is_file():
            self._drop_torn_tail()
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held for the run

    def _drop_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    def forget_source(self, source: str) -> None:
        """A whole-input failure line is superseded when that input is tried again."""
        self._lines.pop(f"source:{source}", None)

    def add(self, rec: dict[str, Any]) -> str:
        """Append ``rec``; return its key (what a later line about the same output replaces)."""
        key = record_key(rec)
        line = _line(rec)
        self._lines[key] = line
        assert self._fh is not None
        self._fh.write(line)
        self._fh.flush()
        return key

    def get(self, key: str) -> dict[str, Any]:
        return json.loads(self._lines[key])

    def records(self) -> Iterator[dict[str, Any]]:
        """Every current record (the latest line per key), parsed one at a time."""
        for line in self._lines.values():
            yield json.loads(line)

    def close(self, finalize: bool) -> None:
        """Close; with ``finalize``, rewrite the manifest sorted (identical whatever the order)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if finalize:
            keys = {k: _sort_key(json.loads(line)) for k, line in self._lines.items()}
            order = sorted(keys, key=keys.__getitem__)  # stable: ties keep their order
            del keys
            with atomic_path(self.path, None) as tmp, open(tmp, "w", encoding="utf-8") as f:
                for k in order:  # line by line: no second copy of the whole manifest
                    f.write(self._lines[k])


def read_run_info(output_root: Path) -> dict[str, Any] | None:
    path = output_root / RUN_INFO
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_run_info(output_root: Path, info: dict[str, Any]) -> None:
    write_text_atomic(output_root / RUN_INFO, json.dumps(info, indent=2, sort_keys=True) + "\n")
