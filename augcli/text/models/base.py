"""What every model backend shares: a request, a per-request failure, and the backend protocol.

A backend turns a batch of requests into texts. It never raises for one bad request: that
request's slot holds a ``ModelError`` and the others go on (a bad response fails one record, not
the run). Loading problems (a missing extra, a model that cannot load) raise ``ModelError`` from
``run`` for the whole batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ModelError(Exception):
    """A model or endpoint could not produce a usable text for a request (or at all)."""


@dataclass(frozen=True)
class Request:
    """One generation: ``text`` is the full input the backend sees (any prompt template already
    applied); ``seed`` seeds sampling for this request alone (None: deterministic decoding)."""

    text: str
    seed: int | None = None


class Backend(Protocol):
    """A loaded model or an endpoint client, reused for every batch in a process."""

    @property
    def key(self) -> str:
        """Identity for the response cache: model (and its fingerprint) plus every setting that
        changes outputs. Never contains secrets."""
        ...

    @property
    def batch_size(self) -> int:
        """How many requests ``run`` should get at once."""
        ...

    def run(self, requests: list[Request]) -> list[str | ModelError]:
        """One text (or the reason there is none) per request, in order."""
        ...
