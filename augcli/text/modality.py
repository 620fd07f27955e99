"""The text modality: record files (JSONL, CSV/TSV, TXT lines) and whole-document TXT, with the
label-preserving safeguards (protected tokens, max_change, no duplicate outputs)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

from augcli.core.atomic import TMP_MARK, atomic_path, fit_name, sha256_file
from augcli.core.errors import InputError, RecipeError
from augcli.core.findings import Finding
from augcli.core.records import Event, OutputRecord, PartWritten, WorkStats
from augcli.modality import Modality, describe_error
from augcli.params import Nullable, Param
from augcli.steps import Applier
from augcli.text.change import changed_share
from augcli.text.doc import TextDoc
from augcli.text.mentions import Source, draw_mentions, mention_pool, substituted
from augcli.text.records import (
    RECORD_SUFFIXES,
    decode,
    read_records,
    render,
    render_part,
    with_text,
)
from augcli.text.spans import Spans, of_record, of_tags, realign, with_spans

SUFFIX_KIND = {".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv"}
CHUNK_RECORDS = 2000  # records per task (chunk_records' default)
MODEL_CHUNK_RECORDS = 32  # ... with a model op: progress and a resume move every few batches


class TextModality(Modality):
    """UTF-8 (or ``encoding``) text: ``.jsonl``, ``.csv``, ``.tsv`` record files give one output
    file each, holding the kept originals and the augmented records; ``.txt`` is one document
    (one output file per copy, named like images) or, with ``unit: line``, a record file."""

    name = "text"
    preview = "augcli.text.preview"
    extensions = (".txt", *RECORD_SUFFIXES)
    extra_keys = ("protect", "lexicon", "substitutions")
    plan_note = "a record file is one output file holding its augmented records"
    settings = {
        "unit": Param(
            kind="choice",
            default="doc",
            choices=("doc", "line"),
            help=".txt files: one document, or one record per line",
        ),
        "text_field": Param(kind="text", default="text", help="JSONL field holding the text"),
        "text_column": Param(kind="text", default="text", help="CSV/TSV column holding the text"),
        "label_field": Param(
            kind="text",
            default="label",
            help="JSONL field / CSV column recorded as the label (if present)",
        ),
        "encoding": Param(kind="text", default="utf-8", help="encoding of the input files"),
        "spans_field": Nullable(
            kind="text",
            default=None,
            sampled=False,
            meaning="no entity spans",
            help="JSONL field (or CSV/TSV column, as JSON) holding each record's entity spans, "
            '[{"start": s, "end": e, "label": L}] or [[s, e, L]] (character offsets, end '
            "exclusive): the spanned text is protected, and each output's spans are "
            "recomputed and written in the same layout; a span that cannot be aligned fails "
            "that output",
        ),
        "tags_field": Nullable(
            kind="text",
            default=None,
            sampled=False,
            meaning="no token tags",
            help="JSONL field holding a tag per token (ner_tags: BIO or any scheme, text or "
            "class numbers; O or 0 outside entities) when text_field is a list of tokens: the "
            "tagged tokens are protected and their tags put back on the same tokens of each "
            "output, every other token tagged O (or 0)",
        ),
        "mention_replace": Nullable(
            kind="float",
            default=None,
            low=0.0,
            high=1.0,
            sampled=False,
            meaning="never",
            unit="probability per span",
            help="the chance that each entity span (spans_field or tags_field) is replaced, "
            "per output and before the pipeline, by another mention of the same label drawn "
            "uniformly from the distinct mention texts of that label in the same input file "
            "(never its own text; a label with one mention text stays); tags_field: the same "
            "tag sequence, so the same token count",
        ),
        "protect_defaults": Param(
            kind="bool", default=True, help="protect negations and their scope, numbers with units"
        ),
        "domain": Param(
            kind="choice",
            default="general",
            choices=("general", "clinical"),
            sampled=False,
            help="clinical: no op replaces, deletes, moves or misspells a finding, anatomy, "
            "device, drug or their abbreviations, or a word of certainty, severity or side "
            "(7,700 terms from WordNet's body and disease, drug and instrument entries, and "
            "lists curated for augcli; augcli/text/data/clinical-terms.tsv)",
        ),
        "max_change": Param(
            kind="float",
            default=1.0,
            low=0.0,
            low_open=True,
            high=1.0,
            sampled=False,
            unit="fraction of words",
            help="an output may differ from its source by at most this share of "
            "words; over it, the record is retried",
        ),
        "chunk_records": Nullable(
            kind="int",
            default=None,
            low=1,
            sampled=False,
            meaning=f"{CHUNK_RECORDS}, or {MODEL_CHUNK_RECORDS} with a model op",
            help="records per task: larger record files run in parallel "
            "chunks, progress and resume move chunk by chunk (outputs do not depend on it)",
        ),
        "retries": Param(
            kind="int",
            default=3,
            low=0,
            high=50,
            sampled=False,
            help="new sub-seeds tried for an output that is a duplicate, over "
            "max_change or rejected by a model op's filters, before it is recorded as unchanged",
        ),
        "model_workers": Param(
            kind="int",
            default=1,
            low=1,
            high=64,
            sampled=False,
            help="processes that run text tasks when the recipe has a model op "
            "(back_translate, paraphrase): each loads the model once",
        ),
    }

    # -- recipe ------------------------------------------------------------------------------
    @classmethod
    def parse_extra(cls, section: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
        from augcli.text.lexicon import Lexicon
        from augcli.text.protect import compile_rules

        values = {
            "protect_defaults": section.get("protect_defaults", True),
            "protect": section.get("protect", []),
            "domain": section.get("domain", "general"),
        }
        out: dict[str, Any] = {"rules": compile_rules(values, where)}
        if section.get("spans_field") is not None and section.get("tags_field") is not None:
            raise RecipeError(
                "spans_field and tags_field are two layouts of the same entities; give one",
                path=f"{where}.tags_field",
                value={"spans_field": section["spans_field"], "tags_field": section["tags_field"]},
                fix="Keep spans_field for character offsets, or tags_field for a tag per token.",
            )
        if section.get("mention_replace") is not None and not (
            section.get("spans_field") or section.get("tags_field")
        ):
            raise RecipeError(
                "replaces entity mentions, but the section names no entities",
                path=f"{where}.mention_replace",
                value=section["mention_replace"],
                fix="Set spans_field (character-offset spans) or tags_field (a tag per token), "
                "or remove mention_replace.",
            )
        for key in ("lexicon", "substitutions"):
            raw = section.get(key)
            if raw is None:
                continue
            if not isinstance(raw, str) or not raw:
                raise RecipeError("must be a file path", path=f"{where}.{key}", value=raw)
            path = (base / raw).resolve()
            table = Lexicon.from_file(path, f"{where}.{key}")  # validated now, loaded per worker
            out[key] = path
            out[f"{key}_fingerprint"] = table.fingerprint
        return out

    # -- files --------------------------------------------------------------------------------
    def kind(self, relpath: str) -> str | None:
        """The record format of an input, or None for a whole document."""
        suffix = PurePosixPath(relpath).suffix.lower()
        if suffix == ".txt":
            return "lines" if self.config.get("unit") == "line" else None
        return SUFFIX_KIND.get(suffix)

    def plan_outputs(self, relpath: str) -> str | None:
        return relpath if self.kind(relpath) else None

    def near_duplicates(self, relpaths: list[str], digests: dict[str, str]) -> list[Finding]:
        from augcli.text.similar import near_duplicate_text

        return near_duplicate_text(relpaths, self.input_root, self._entries)

    def _entries(self, path: Path, relpath: str) -> list[tuple[str, int]]:
        """(text, line) of every record of a file (a document is one record, line 1)."""
        kind = self.kind(relpath)
        if kind is None:
            return [(decode(path.read_bytes(), path, self.config.get("encoding", "utf-8")), 1)]
        return [(r.text, r.line) for r in read_records(path, kind, self.config).records]

    def read(self, path: Path) -> Any:
        text = decode(path.read_bytes(), path, self.config.get("encoding", "utf-8"))
        return TextDoc.parse(text, self.config["rules"])

    def write(self, data: Any, path: Path, source: Path, meta: dict[str, Any]) -> str | None:
        encoded = data.text.encode(self.config.get("encoding", "utf-8"))
        path.write_bytes(encoded)
        return hashlib.sha256(encoded).hexdigest()

    def info(self, data: Any) -> dict[str, Any]:
        return {
            "doc": data,
            "lexicon": self.lexicon,
            "substitutions": self.substitutions,
            "models": self.models,
            "rules": self.config["rules"],  # contextual_substitute keeps protection as it was
        }

    def applier(self) -> Applier:
        return TextApplier(self.config["rules"])

    def worker_limit(self, graph: Any, relpaths: list[str]) -> tuple[int, str] | None:
        if any(getattr(op, "loads_model", False) for op in graph.ops()):
            n = self.config.get("model_workers", 1)
            return n, f"text.model_workers: {n}; each worker loads the model once"
        return None

    @property
    def models(self) -> Any:
        """This process's model service (model ops only; see text.models.service)."""
        if not hasattr(self, "_models"):
            from augcli.text.models.hf import default_threads
            from augcli.text.models.service import ModelService, open_cache

            self._models = ModelService(
                open_cache(self.output_root),
                default_threads(self.config.get("model_workers", 1)),
            )
        return self._models

    def settled(self, run: Any) -> Any:
        """Run one pass over a task's records; with model ops, again until every model request
        it made is answered (batched between passes)."""
        return self.models.settle(run)

    @property
    def lexicon(self) -> Any:
        if not hasattr(self, "_lexicon"):
            from augcli.text.lexicon import Lexicon, merged

            lex = Lexicon.default()
            if self.config.get("lexicon"):
                lex = merged(Lexicon.from_file(self.config["lexicon"]), lex)
            self._lexicon = lex
        return self._lexicon

    @property
    def substitutions(self) -> dict[tuple[str, ...], list[str]]:
        if not hasattr(self, "_subs"):
            from augcli.text.lexicon import Lexicon
            from augcli.text.protect import phrase_key

            subs: dict[tuple[str, ...], list[str]] = {}
            if self.config.get("substitutions"):
                table = Lexicon.from_file(self.config["substitutions"])
                for word in table.words():
                    subs[phrase_key(word)] = table.synonyms(word, "any")
            self._subs = subs
        return self._subs

    # -- running ------------------------------------------------------------------------------
    def process(self, task: Any, job: Any) -> list[Event]:
        before = dict(self.models.stats)
        kind = self.kind(task.source)
        if kind is None:
            events = self._process_document(task, job)
        else:
            events = self._process_records(task, job, kind)
        used = {k: v - before.get(k, 0) for k, v in self.models.stats.items()}
        if any(used.values()):  # the parent sums these for the summary
            events.append(WorkStats(used))
        return events

    def _process_document(self, task: Any, job: Any) -> list[Event]:
        """A whole-document .txt: one file per node and copy, with the same safeguards as
        records (an unchanged or over-max_change output is recorded, not written)."""
        source = job.input_root / task.source
        doc = self.read(source)

        def augment() -> list[MadeText]:
            made = self.make_record(task, job, task.source, doc, task.label, task.outputs)
            for out, one in zip(task.outputs, made, strict=True):
                one.record.output = out.path
            return made

        made = self.settled(augment)
        events: list[Event] = []
        if task.original is not None:
            dest = job.output_root / task.original
            with atomic_path(dest, job.output_root) as tmp:
                shutil.copyfile(source, tmp)
            events.append(task.output_record(output=task.original, sha256=sha256_file(dest)))
        for one in made:
            if one.text is not None:
                dest = job.output_root / one.record.output
                with atomic_path(dest, job.output_root) as tmp:
                    tmp.write_text(
                        one.text, encoding=self.config.get("encoding", "utf-8"), newline=""
                    )
                one.record.sha256 = sha256_file(dest)
            events.append(one.record)
        return events

    def plan_chunks(self, path: Path, models: bool = False) -> list[tuple[int, int]]:
        size = self.config.get("chunk_records") or (
            MODEL_CHUNK_RECORDS if models else CHUNK_RECORDS
        )
        kind = self.kind(path.name)
        try:
            n = len(self._records(path, kind).records) if kind else 0
        except (InputError, OSError):
            return [(0, 0)]  # the worker reports the problem, with its line
        return [(a, min(a + size, n)) for a in range(0, n, size)] or [(0, 0)]

    def _records(self, path: Path, kind: str) -> Any:
        """The parsed record file; the last one is kept, since a worker usually gets several
        chunks of the same file in a row (each chunk would otherwise parse the whole file)."""
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size, kind)
        cached = getattr(self, "_last_records", None)
        if cached is None or cached[0] != key:
            cached = (key, read_records(path, kind, self.config))
            self._last_records = cached
        return cached[1]

    def _process_records(self, task: Any, job: Any, kind: str) -> list[Event]:
        """A record file's (or chunk's) record lines, then its own line or its part."""
        rf = self._records(job.input_root / task.source, kind)
        first, stop = (task.chunk[2], task.chunk[3]) if task.chunk else (0, len(rf.records))
        rows, records = self.settled(lambda: self._augment_records(task, job, rf, first, stop))
        unchanged = sum(r.status == "unchanged" for r in records)
        counts = {"input": stop - first, "output": len(rows), "unchanged": unchanged}
        out_path = task.outputs[0].path
        encoding = self.config.get("encoding", "utf-8")
        if task.chunk is None:
            dest = job.output_root / out_path
            with atomic_path(dest, job.output_root) as tmp:
                tmp.write_text(render(rf, rows), encoding=encoding, newline="")
            summary = task.output_record(
                output=out_path, sha256=sha256_file(dest), extra={"records": counts}
            )
            return [*records, summary]
        index, count = task.chunk[0], task.chunk[1]
        name = PurePosixPath(out_path)
        part = name.parent / fit_name(f"{TMP_MARK}part-{index:06d}-", name.name)
        with atomic_path(job.output_root / part, job.output_root) as tmp:
            tmp.write_text(render_part(rf, rows, index == 0), encoding=encoding, newline="")
        trim = rf.kind == "lines" and not rf.trailing_newline
        marker = PartWritten(
            task.source, task.modality, task.label, out_path, index, count, str(part), counts, trim
        )
        return [*records, marker]

    def _augment_records(
        self, task: Any, job: Any, rf: Any, first: int, stop: int
    ) -> tuple[list[Any], list[OutputRecord]]:
        """One pass over records [first, stop): the rows of the output file (kept originals,
        then each record's new versions) and one record per output."""
        graph = job.graphs[self.name]
        wanted = [
            SimpleNamespace(node=e.id, copy=c) for e in graph.emitters for c in range(job.copies)
        ]
        out_path = task.outputs[0].path
        rows: list[Any] = []
        records: list[OutputRecord] = []
        for i in range(first, stop):
            rec = rf.records[i]
            if job.keep_originals:
                rows.append(rec.row)
            label = rec.label if rec.label is not None else task.label
            where = f"{task.source}:{rec.line}"
            key = record_key(task.source, i)
            try:
                own = self.sources_of(rf, rec, where)
                sources = self.sources(job, rf, key, own, wanted, where)
                docs = [src.doc for src in sources]
                made_all = self.make_record(task, job, key, own.doc, label, wanted, docs)
            except InputError as exc:  # bad spans: this record's outputs fail, not the file
                sources = [Source(rec, None, None)] * len(wanted)
                made_all = [
                    MadeText(
                        task.output_record(
                            node=w.node, copy=w.copy, status="failed", error=str(exc)
                        )
                    )
                    for w in wanted
                ]
            for one, src in zip(made_all, sources, strict=True):
                made = one.record
                made.output, made.label = out_path, label
                made.extra["record"] = {"input": i, "line": rec.line}
                if task.chunk:
                    made.extra["record"]["chunk"] = task.chunk[0]
                if src.mentions:
                    made.extra["mentions"] = src.mentions
                row = self._output_row(rf, src.record, one, src.spans, where)
                if row is not None:
                    made.extra["record"]["output"] = len(rows)
                    rows.append(row)
                records.append(made)
        return rows, records

    def _output_row(self, rf: Any, rec: Any, one: MadeText, spans: Spans | None, where: str) -> Any:
        """The output file's row of a made record (None: not written), its spans moved to the
        new text; a span that cannot be aligned fails the output instead."""
        if one.text is None:
            return None
        try:
            return self.record_row(rf, rec, one.text, spans, where)
        except InputError as exc:
            one.record.status, one.record.error, one.record.sha256 = "failed", str(exc), None
            return None

    def record_row(self, rf: Any, rec: Any, text: str, spans: Spans | None, where: str) -> Any:
        """A record's row with its text replaced by ``text`` and its spans (or tags) moved to
        it (expand and replay); InputError for a span that cannot be aligned."""
        row = with_text(rf, rec, text)
        if spans is None:
            return row
        moved = realign(spans, rec.text, text, where)
        name = self.config.get("spans_field") or self.config["tags_field"]
        return with_spans(rf, row, name, moved, text, where)

    def merge(self, output_root: Path, out_rel: str, parts: list[dict[str, Any]]) -> None:
        parts = sorted(parts, key=lambda p: p["index"])
        dest = output_root / out_rel
        with atomic_path(dest, output_root) as tmp, open(tmp, "wb") as out:
            blobs = [(output_root / p["path"]).read_bytes() for p in parts]
            data = b"".join(blobs)
            if parts and parts[0]["trim_newline"] and data.endswith(b"\n"):
                data = data[:-1]
            out.write(data)
        for p in parts:
            (output_root / p["path"]).unlink(missing_ok=True)

    # -- making records (expand and preview) ---------------------------------------------------
    def record_file(self, path: Path) -> Any:
        """The parsed record file at ``path`` (a ``.jsonl``/``.csv``/``.tsv``, or ``.txt`` with
        ``unit: line``); the last one read is kept."""
        kind = self.kind(path.name)
        if kind is None:
            raise TypeError(f"{path} is a whole document, not a record file")
        return self._records(path, kind)

    def record_doc(self, record: Any, spans: Spans | None = None) -> TextDoc:
        """One record's text, parsed with the section's protection rules (and its entity
        spans protected)."""
        keep = spans.ranges() if spans is not None else ()
        return TextDoc.parse(record.text, self.config["rules"], keep)

    def spans_of(self, rf: Any, record: Any, where: str) -> Spans | None:
        """A record's entity spans (``spans_field``, or ``tags_field``'s runs), or None;
        InputError when they cannot be read, or the record itself cannot (a bad token)."""
        if record.error is not None:
            raise InputError(record.error)
        if self.config.get("tags_field") is not None:
            return of_tags(rf, record, self.config["tags_field"], where)
        return of_record(rf, record, self.config.get("spans_field"), where)

    def make_record(
        self,
        task: Any,
        job: Any,
        key: str,
        doc: TextDoc,
        label: Any,
        outputs: Any,
        docs: list[TextDoc] | None = None,
    ) -> list[MadeText]:
        """Make the outputs (anything with ``node`` and ``copy``) of one text in memory, in
        order: a whole document (``key``: its path) or one record (``key``: ``record_key``).
        Each has its record (seed, op log, status) and, when ok, its text; no output repeats
        the text or an earlier output of it. ``docs``: each output's own source (its mentions
        replaced, see ``sources``; ``max_change`` is measured against it), else ``doc``. Run it
        inside ``settled`` (a model answer not known yet gives a ``pending`` record)."""
        graph = job.graphs[self.name]
        seen = {doc.text}
        made = []
        for out, src in zip(outputs, docs or [doc] * len(outputs), strict=True):
            one = self._one(task, job, graph.emitter(out.node), out.copy, key, src, seen, label)
            kept = [[s, e, src.text[s:e]] for s, e in src.protected_runs()]
            if one.text is not None and kept:
                one.record.extra["protected"] = kept
            made.append(one)
        return made

    def sources(
        self, job: Any, rf: Any, key: str, own: Source, outputs: Any, where: str
    ) -> list[Source]:
        """Each output's source record: ``own`` (the record, its spans and doc) or, with
        ``mention_replace``, a copy with some spans replaced by other mentions of their label
        in the same file, drawn from the output's own seed (prefix ``mentions:<node>``, so no
        op's draws move)."""
        p, spans = self.config.get("mention_replace"), own.spans
        if p is None or spans is None or not spans.items:
            return [own] * len(outputs)
        from augcli.core.seeding import generator

        pool, out = self._pool(rf), []
        for o in outputs:
            rng = generator(job.seed_for(key, f"mentions:{o.node}", o.copy))
            mentions = draw_mentions(spans, own.record.text, pool, p, rng)
            out.append(self.substitute(own, mentions, where) if mentions else own)
        return out

    def sources_of(self, rf: Any, rec: Any, where: str, mentions: Any = None) -> Source:
        """A record's source as an output saw it: its spans and doc (InputError as
        ``spans_of``), with ``mentions`` from the manifest in place (replay; no pool needed)."""
        spans = self.spans_of(rf, rec, where)
        own = Source(rec, spans, self.record_doc(rec, spans))
        if not mentions:
            return own
        if spans is None:
            raise InputError(
                f"{where}: the manifest replaces mentions, but the record has no spans"
            )
        return self.substitute(own, mentions, where)

    def substitute(self, own: Source, mentions: list[list[Any]], where: str) -> Source:
        """``own`` with ``mentions`` ([span index, new text]) in place: the new record, its
        spans at their new offsets, its doc (spans protected); expand and replay."""
        text, moved = substituted(own.record.text, own.spans, mentions, where)
        new = replace(own.record, text=text)
        return Source(new, moved, self.record_doc(new, moved), mentions)

    def _pool(self, rf: Any) -> dict[str, tuple[str, ...]]:
        """The mention texts of each label over every record of ``rf`` (records whose spans
        cannot be read add none); the last file's is kept."""
        cached = getattr(self, "_last_pool", None)
        if cached is None or cached[0] is not rf:
            texts = []
            for rec in rf.records:
                try:
                    spans = self.spans_of(rf, rec, "")
                except InputError:
                    continue
                if spans is not None:
                    texts.append((rec.text, spans))
            cached = (rf, mention_pool(texts))
            self._last_pool = cached
        return cached[1]

    def _one(
        self,
        task: Any,
        job: Any,
        emitter: Any,
        copy: int,
        key: str,
        doc: TextDoc,
        seen: set[str],
        label: str | None = None,
    ) -> MadeText:
        """Make one augmented text (``key`` names it in the seed): retried with new sub-seeds
        while it is a duplicate (of its source or an earlier output of the same text), changes
        more than ``max_change`` or fails a model op's quality filters."""
        where = {"node": emitter.id, "copy": copy}
        reason = ""
        for attempt in range(self.config.get("retries", 3) + 1):
            made = self._attempt(task, job, emitter, copy, key, doc, label, attempt)
            if isinstance(made, MadeText):  # pending or failed
                return made
            if isinstance(made, str):  # rejected by a model op's filters
                reason = made
                continue
            result, log, seed = made
            reason = self._refusal(doc, result, seen)
            if not reason:
                seen.add(result.text)
                sha = hashlib.sha256(result.text.encode("utf-8")).hexdigest()
                rec = task.output_record(**where, seed=seed, ops=log, sha256=sha)
                rec.extra["attempt"] = attempt
                return MadeText(rec, result.text)
        rec = task.output_record(**where, status="unchanged", error=reason)
        rec.extra["attempt"] = attempt
        return MadeText(rec)

    def _attempt(
        self,
        task: Any,
        job: Any,
        emitter: Any,
        copy: int,
        key: str,
        doc: TextDoc,
        label: str | None,
        attempt: int,
    ) -> MadeText | str | tuple[Any, Any, int]:
        """Run the emitter's path once with attempt ``attempt``'s sub-seeds: (result, op log,
        seed); why, when a model op's filters reject it; or the finished record when it is
        pending or failed."""
        from augcli.text.models.quality import Rejected
        from augcli.text.models.service import Pending

        suffix = f"~{attempt}" if attempt else ""

        def seed_of(prefix: str, copy: int = copy) -> int:
            return job.seed_for(key, prefix + suffix, copy)

        def info(data: Any) -> dict[str, Any]:
            return {**self.info(data), "label": label}

        seed = seed_of(".".join(emitter.path))
        where = {"node": emitter.id, "copy": copy, "seed": seed}
        graph, fuse = job.graphs[self.name], job.fuse.get(self.name, True)
        try:
            result, log, _ = graph.run(emitter, doc, seed_of, info, {}, None, fuse, self.applier())
        except Pending:
            return MadeText(task.output_record(**where, status="pending"))
        except Rejected as exc:
            return f"rejected: {exc}"
        except Exception as exc:
            return MadeText(task.output_record(**where, status="failed", error=describe_error(exc)))
        return result, log, seed

    def _refusal(self, doc: TextDoc, result: Any, seen: set[str]) -> str:
        """Why an output is not kept (a duplicate, or over ``max_change``), or ''."""
        max_change = self.config.get("max_change", 1.0)
        share = changed_share(doc.words(), result.words())
        if result.text in seen:
            return "identical to its source or to another output of the record"
        if share > max_change:
            return f"changed {share:.0%} of words, over max_change {max_change:.0%}"
        return ""


@dataclass
class MadeText:
    """One text output made in memory: its record and, when it is ok, the new text."""

    record: OutputRecord
    text: str | None = None


def record_key(source: str, index: int) -> str:
    """What names record ``index`` of the record file ``source`` in its seeds (and a preview)."""
    return f"{source}#{index}"


class TextApplier(Applier):
    """Ops that write a new text (model ops: ``rewrites``) get its protected words marked
    again, so the next op in the pipeline leaves them alone too."""

    def __init__(self, rules: Any) -> None:
        self.rules = rules

    def apply(self, op: Any, data: Any, params: Any, info: Any, load: Any) -> Any:
        out = super().apply(op, data, params, info, load)
        return TextDoc.parse(out.text, self.rules) if getattr(op, "rewrites", False) else out
