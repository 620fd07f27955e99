"""How one input becomes its outputs in memory, for every modality: each output drawn from its
own seeds (retries from sub-seeds), made again while it is identical to its source or to an
earlier output or lost its lesion (``keep_foreground``), and whether its ops mirrored it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from augcli.core.errors import InputError
from augcli.core.sameness import Seen
from augcli.steps import Item

RETRIES_DEFAULT = 3  # new sub-seeds tried for an output that is no new output


def make_outputs(modality: Any, task: Any, job: Any, data: Any, outputs: Any) -> Iterator[Made]:
    """Make outputs (anything with ``node`` and ``copy``) of one input in memory, in order:
    the same seeds, partners, fusion and applier for ``expand`` and ``preview``. An output
    identical to its source or to an earlier output is made again with new sub-seeds, up
    to ``retries`` times, then marked ``Made.unchanged``. A failure fails only its output
    (``Made.error``)."""
    graph = job.graphs[modality.name]
    partners: dict[str, Any] = {}

    def load(relpath: str) -> Any:
        if relpath not in partners:
            partners[relpath] = (
                data if relpath == task.source else modality.read(job.input_root / relpath)
            )
        return partners[relpath]

    no_mirror = task.label in (modality.config.get("no_mirror") or ())
    item = Item(
        task.source,
        task.label,
        job.pools.get(modality.name, {}),
        load,
        no_mirror,
        modality.context(job.input_root / task.source),
    )
    applier = modality.applier()
    fuse = job.fuse.get(modality.name, True)
    caches: dict[int, dict[str, Any]] = {}
    seen = Seen(modality.content(data))
    retries = modality.config.get("retries", RETRIES_DEFAULT)
    keep = modality.config.get("keep_foreground")
    source_fg = modality.foreground(data) if keep else None  # None or 0: nothing to keep

    def attempt(out: Any, k: int) -> Made:
        """Attempt ``k``: attempt 0 draws from the output's own seeds (shared prefixes
        computed once per copy); a retry from sub-seeds (``<node path>~<k>``), as text."""
        emitter = graph.emitter(out.node)
        suffix = f"~{k}" if k else ""

        def seed_of(prefix: str, copy: int = out.copy) -> int:
            return job.seed_for(task.source, prefix + suffix, copy)

        cache = caches.setdefault(out.copy, {}) if k == 0 else {}
        made = Made(out.node, out.copy, seed_of(".".join(emitter.path)), attempt=k)
        try:
            made.result, made.log, made.matrix = graph.run(
                emitter, data, seed_of, modality.info, cache, item, fuse, applier
            )
        except Exception as exc:  # an op bug must not kill the run: record it
            made.error = exc
        return made

    def settled(out: Any) -> Made:
        """The first attempt that kept its foreground and is new; else the last one,
        ``unchanged`` or failed (``ForegroundLost``, with the best draw's share)."""
        best = 0.0
        for k in range(retries + 1):
            made = attempt(out, k)
            if made.error is not None:
                return made
            if source_fg:
                made.kept = (modality.foreground(made.result, made.matrix) or 0.0) / source_fg
                if made.kept < keep:
                    best = max(best, made.kept)
                    continue
            why, key = seen.refusal(modality.content(made.result))
            if not why:
                seen.keep(key)
                return made
            made.unchanged = why
        if made.kept is not None and made.kept < keep:
            made.kept, made.error = best, ForegroundLost(modality.name, best, keep, retries + 1)
        return made

    info = modality.info(data)
    for out in outputs:
        made = settled(out)
        if made.error is None and not made.unchanged:
            made.mirrored = mirrored(graph, made.log, info)
        yield made


def mirrored(graph: Any, log: list[dict[str, Any]], info: dict[str, Any]) -> bool:
    """Whether the ops applied (``log``) mirror the data as a whole: an odd number of them
    mirror (``Op.mirrors`` on its drawn params: a flip, a negative determinant), since the
    determinant of the composition is the product of theirs (two flips make a half turn)."""
    ops = {(op.name): op for op in graph.ops()}
    odd = False
    for entry in log:
        op = ops.get(entry.get("op"))
        if entry.get("applied") and op is not None and entry.get("params") is not None:
            odd ^= bool(op.mirrors(entry["params"], info))
    return odd


@dataclass
class Made:
    """One output made in memory (or why it could not be)."""

    node: str
    copy: int
    seed: int
    result: Any = None
    log: list[dict[str, Any]] = field(default_factory=list)
    matrix: Any = None
    error: Exception | None = None
    attempt: int = 0  # 0, or the retry that made it (new sub-seeds)
    unchanged: str = ""  # why it is no new output (after every retry), or ''
    kept: float | None = None  # foreground kept / the source's (``keep_foreground``), or None
    mirrored: bool = False  # the applied ops mirror it as a whole (``mirror_classes``)


class ForegroundLost(InputError):
    """Every draw of an output lost more of its source's foreground than ``keep_foreground``
    allows: it fails, rather than be written as a positive case without its lesion."""

    def __init__(self, section: str, best: float, keep: float, draws: int) -> None:
        super().__init__(
            f"the output kept at most {best:.2f} of its source's foreground in {draws} draw(s), "
            f"under {section}.keep_foreground: {keep:g}, so it was not written. Lower "
            f"{section}.keep_foreground, or crop with random_crop: {{around: foreground}}"
        )
