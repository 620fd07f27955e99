"""Record files (JSONL, CSV/TSV, TXT one record per line): read them with every other field
kept, and write them back in the same format. Problems name the file and line."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augcli.core.errors import InputError

RECORD_SUFFIXES = (".jsonl", ".csv", ".tsv")
MAX_JSON_DEPTH = 100  # lists and objects inside each other in one JSONL line


@dataclass
class Record:
    """One record: its text, the whole row as read (to write back with the text replaced), the
    line it starts on, its label (the configured label field, when present), and why it cannot
    be augmented (a token list with a bad token: its outputs fail, not the file)."""

    text: str
    row: Any
    line: int
    label: Any = None
    error: str | None = None


@dataclass
class RecordFile:
    kind: str  # jsonl, csv, tsv, lines
    records: list[Record]
    header: list[str] = field(default_factory=list)
    text_key: Any = None  # the JSON field, or the CSV column's index
    trailing_newline: bool = True


def decode(data: bytes, path: Path, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}:{line}: cannot be decoded as {encoding} (byte {data[exc.start]:#04x} at offset "
            f"{exc.start}); set 'encoding:' in the text section (e.g. latin-1, cp1252)"
        ) from None
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_records(path: Path, kind: str, settings: dict[str, Any]) -> RecordFile:
    """Parse ``path`` as ``kind`` (jsonl, csv, tsv or lines); InputError naming the file (and
    line) for one that cannot be read, or that cannot hold the section's entity fields."""
    rf = _read(path, kind, settings)
    _check_entity_fields(rf, path, settings)
    return rf


def _read(path: Path, kind: str, settings: dict[str, Any]) -> RecordFile:
    text = decode(path.read_bytes(), path, settings.get("encoding", "utf-8"))
    label_key = settings.get("label_field")
    if kind == "jsonl":
        return _read_jsonl(text, path, settings.get("text_field", "text"), label_key)
    if kind in ("csv", "tsv"):
        return _read_csv(text, path, kind, settings.get("text_column", "text"), label_key)
    lines = text.split("\n")
    trailing = text.endswith("\n")
    if trailing:
        lines = lines[:-1]
    records = [Record(line, line, i + 1) for i, line in enumerate(lines)]
    return RecordFile("lines", records, trailing_newline=trailing)


def _check_entity_fields(rf: RecordFile, path: Path, settings: dict[str, Any]) -> None:
    """A file the section's ``tags_field`` or ``spans_field`` cannot apply to fails as a whole
    (once, not once per record): tags on anything but JSONL token records, spans in a CSV/TSV
    column it lacks."""
    tags, spans = settings.get("tags_field"), settings.get("spans_field")
    if tags is not None and rf.kind != "jsonl":
        raise InputError(
            f"{path}: tags_field {tags!r} takes JSONL token records (a list of tokens and a tag "
            f"per token), not a {rf.kind.upper()} file; for character-offset spans in a column "
            "use spans_field"
        )
    texts = [r.row[rf.text_key] for r in rf.records] if tags is not None else []
    if texts and not any(isinstance(t, list) for t in texts):  # (an empty file is let be)
        raise InputError(
            f"{path}: tags_field {tags!r} needs token records, but no record's "
            f"{rf.text_key!r} is a list of tokens; set text_field to the tokens' field "
            "(e.g. text_field: tokens)"
        )
    if spans is not None and rf.kind in ("csv", "tsv") and spans not in rf.header:
        raise InputError(
            f"{path}:1: spans_field {spans!r} is not a column (columns: "
            f"{', '.join(rf.header)}); name the column of spans, or leave this file out"
        )


def _read_jsonl(text: str, path: Path, key: str, label_key: str | None) -> RecordFile:
    """One JSON object per line. Lines end at ``\n`` only (a ``\r`` before it is JSON
    whitespace): U+2028, U+0085 and the other characters ``str.splitlines`` breaks at are
    valid raw inside JSON strings, and our own writer emits them raw."""
    records = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        obj = _json_line(line, path, n)
        if not isinstance(obj, dict):
            raise InputError(
                f"{path}:{n}: each line must be a JSON object; got {type(obj).__name__}"
            )
        if key not in obj or not isinstance(obj[key], (str, list)):
            raise InputError(
                f"{path}:{n}: no text field {key!r} (fields: {', '.join(map(str, obj))}); set "
                "'text_field:' in the text section"
            )
        label = obj.get(label_key) if label_key else None
        text, error = obj[key], None
        if isinstance(text, list):
            try:
                text = joined(text, f"{path}:{n}", key)
            except InputError as exc:
                text, error = " ".join(map(str, text)), str(exc)
        records.append(Record(text, obj, n, label, error))
    return RecordFile("jsonl", records, text_key=key)


def joined(tokens: list[Any], where: str, key: str) -> str:
    """A token list's text: the tokens joined by single spaces (each output is split on
    whitespace back into tokens). Tokens must be non-empty text without whitespace."""
    for k, tok in enumerate(tokens):
        if not isinstance(tok, str) or not tok or any(c.isspace() for c in tok):
            raise InputError(
                f"{where}: token {k} of {key!r} is {json.dumps(tok)[:40]}; a token list must "
                "hold non-empty words without spaces (they are joined by spaces to be augmented "
                "and split on whitespace again)"
            )
    return " ".join(tokens)


def _json_line(line: str, path: Path, n: int) -> Any:
    """One line's JSON value; invalid JSON, or nesting deeper than ``MAX_JSON_DEPTH``, is an
    ``InputError`` naming the file and line."""
    deep = InputError(
        f"{path}:{n}: JSON nested more than {MAX_JSON_DEPTH} levels deep; a record's fields "
        "are written back as they are, so keep them shallower"
    )
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise deep from None
    if line.count("[") + line.count("{") > MAX_JSON_DEPTH and _depth(obj) > MAX_JSON_DEPTH:
        raise deep
    return obj


def _depth(obj: Any) -> int:
    """How deep lists and objects nest in ``obj`` (without recursion)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        value, d = stack.pop()
        if isinstance(value, (list, dict)):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def _read_csv(text: str, path: Path, kind: str, column: str, label_key: str | None) -> RecordFile:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if kind == "tsv" else ",")
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: malformed {kind.upper()} ({exc})") from None
    if not rows:
        return RecordFile(kind, [], [], 0)
    header = rows[0]
    if column not in header:
        raise InputError(
            f"{path}:1: no column {column!r} (columns: {', '.join(header)}); set 'text_column:' "
            "in the text section"
        )
    index = header.index(column)
    label_index = header.index(label_key) if label_key and label_key in header else None
    records = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if kind == "tsv" else ",")
    next(reader)
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(
                f"{path}:{reader.line_num}: {len(row)} fields, but the header has {len(header)}; "
                "quote fields that contain the delimiter or line breaks"
            )
        label = row[label_index] if label_index is not None else None
        records.append(Record(row[index], row, reader.line_num, label))
    return RecordFile(kind, records, header, index)


def with_text(rf: RecordFile, record: Record, text: str) -> Any:
    """A copy of the record's row with its text replaced (every other field unchanged)."""
    if rf.kind == "jsonl":
        tokens = isinstance(record.row[rf.text_key], list)
        return {**record.row, rf.text_key: text.split() if tokens else text}
    if rf.kind in ("csv", "tsv"):
        row = list(record.row)
        row[rf.text_key] = text
        return row
    return text


def render_part(rf: RecordFile, rows: list[Any], first: bool) -> str:
    """One chunk's share of the file: rows each ending in a newline, the CSV header only in the
    first chunk. Joined in order (and a lines file's last newline dropped if the input had
    none) they equal ``render`` of all rows."""
    if rf.kind == "lines":
        return "".join(r + "\n" for r in rows)
    if rf.kind in ("csv", "tsv") and not first:
        return render(rf, rows).split("\n", 1)[1]
    return render(rf, rows)


def render(rf: RecordFile, rows: list[Any]) -> str:
    """The file's text for ``rows`` in ``rf``'s format."""
    if rf.kind == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if rf.kind in ("csv", "tsv"):
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter="\t" if rf.kind == "tsv" else ",", lineterminator="\n")
        writer.writerow(rf.header)
        writer.writerows(rows)
        return out.getvalue()
    body = "\n".join(rows)
    return body + "\n" if rows and rf.trailing_newline else body
