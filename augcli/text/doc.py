"""A record's text as text ops see it: tokens that join back to the exact text, each marked
protected or not. Ops never edit a protected token, and new tokens they add are unprotected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from augcli.text.protect import ProtectRules, protected
from augcli.text.tokens import tokenize


@dataclass(frozen=True)
class Piece:
    """One token: its exact text, kind (word/number/punct/space/other), and protection."""

    text: str
    kind: str
    protected: bool = False

    @property
    def editable(self) -> bool:
        """A word an op may replace, delete, move or misspell."""
        return self.kind == "word" and not self.protected


@dataclass(frozen=True)
class TextDoc:
    pieces: tuple[Piece, ...]

    @classmethod
    def parse(cls, text: str, rules: ProtectRules, keep: Sequence[tuple[int, int]] = ()) -> TextDoc:
        """The text's tokens, protected by ``rules`` and wherever they overlap a character
        range of ``keep`` (entity spans: [start, end))."""
        tokens = tokenize(text)
        flags = protected(tokens, rules)
        if keep:
            at = 0
            for k, tok in enumerate(tokens):
                end = at + len(tok.text)
                if tok.kind != "space" and any(s < end and at < e for s, e in keep):
                    flags[k] = True
                at = end
        return cls(tuple(Piece(t.text, t.kind, p) for t, p in zip(tokens, flags, strict=True)))

    @classmethod
    def of(cls, pieces: Sequence[Piece]) -> TextDoc:
        return cls(tuple(pieces))

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.pieces)

    def editable(self) -> list[int]:
        """Indices of the pieces ops may change."""
        return [i for i, p in enumerate(self.pieces) if p.editable]

    def protected_runs(self) -> list[tuple[int, int]]:
        """The character ranges [start, end) of the runs of protected tokens (the whitespace
        between two protected tokens joins them into one run)."""
        runs: list[tuple[int, int]] = []
        at, start, end = 0, None, 0
        for piece in self.pieces:
            stop = at + len(piece.text)
            if piece.protected:
                start, end = (at if start is None else start), stop
            elif piece.kind != "space" and start is not None:
                runs.append((start, end))
                start = None
            at = stop
        if start is not None:
            runs.append((start, end))
        return runs

    def words(self) -> list[str]:
        """The word and number texts, for comparing how much an output changed."""
        return [p.text for p in self.pieces if p.kind in ("word", "number")]

    def __len__(self) -> int:
        return len(self.pieces)
