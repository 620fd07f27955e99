"""The text op base: ops take a TextDoc and return a new one; sampling sees the lexicon."""

from __future__ import annotations

from typing import ClassVar

from augcli.ops import Op


class TextOp(Op):
    """Base of text ops. ``sample(rng, info)`` gets ``info["doc"]`` (the TextDoc it will edit)
    and ``info["lexicon"]`` (user lexicon first, then the shipped WordNet one), and returns
    concrete edits (indices into ``doc.pieces`` and the new texts); ``apply(doc, params)``
    performs exactly those edits. Protected pieces are never edited; pieces an op inserts are
    unprotected. ``group`` is ``eda``, ``substitution`` or ``character``."""

    modality = "text"
    group: ClassVar[str] = "eda"
