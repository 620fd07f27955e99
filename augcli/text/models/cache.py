"""The on-disk response cache: model outputs keyed by (backend key, request text, seed), in one
SQLite file inside the output folder, so a resumed or repeated run does not pay for a model call
twice. Several worker processes may read and write it at once (SQLite's locking, a long busy
timeout); a write is one transaction, so a killed run leaves it consistent."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from augcli.text.models.base import Request


def cache_key(backend_key: str, request: Request) -> str:
    raw = f"{backend_key}\x00{request.seed}\x00{request.text}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ResponseCache:
    """Successful responses only: a failure is retried by the next run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, text TEXT)")
            self._db = db
        return self._db

    def get(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        db = self._conn()
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = db.execute(f"SELECT key, text FROM responses WHERE key IN ({marks})", part)
            found.update(rows.fetchall())
        return found

    def put(self, items: dict[str, str]) -> None:
        if not items:
            return
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?)", items.items())
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __getstate__(self) -> dict[str, object]:  # a connection never crosses processes
        return {"path": self.path, "_db": None}
