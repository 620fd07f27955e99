"""Salted names: secrets read from the environment (never from the recipe, never written), and
what a manifest with ``hash_sources`` writes for input paths and patient groups.

``SourceNames`` turns a manifest line's ``source``, ``group`` and mixing partners
(``ops[].params.partners``) into ``h-`` + 24 hex digits of an HMAC-SHA256 keyed by the salt:
the same path and salt, the same name, in every run; nothing leads back to the path without
the salt. Only lines written to disk are named so; the run itself works on paths, and a resume
or ``replay`` finds each path again by naming the input folder's files the same way."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from augcli.core.errors import RecipeError

DEFAULT_SALT_ENV = "AUGCLI_DEID_SALT"
MIN_SALT = 16
HASHED = re.compile(r"h-[0-9a-f]{24}\Z")


def env_name(value: Any, where: str) -> str:
    """An environment variable's name from the recipe (``salt_env``)."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise RecipeError(
            "must be the name of an environment variable",
            path=where,
            value=value,
            fix=f"Use e.g. {DEFAULT_SALT_ENV} (the default).",
        )
    return value


def read_salt(
    name: str, where: str, purpose: str, environ: Mapping[str, str] | None = None
) -> bytes:
    """The secret salt in the variable ``name``: missing or shorter than ``MIN_SALT``, a
    RecipeError (never showing the value) saying how to set it."""
    salt = (os.environ if environ is None else environ).get(name)
    if salt is None or len(salt) < MIN_SALT:
        what = "is not set" if salt is None else f"is shorter than {MIN_SALT} characters"
        raise RecipeError(
            f"{purpose} needs a secret salt in the environment variable {name}, which {what}",
            path=where,
            fix=f"Set it to a long random secret kept outside the recipe, e.g. "
            f"export {name}=$(openssl rand -hex 32); the same salt gives the same names in "
            "every run.",
        )
    return salt.encode()


@dataclass(frozen=True)
class SourceNames:
    """How a manifest names inputs: as they are (no salt), or salted (``hash_sources``)."""

    salt: bytes = field(default=b"", repr=False)

    @property
    def hashed(self) -> bool:
        return bool(self.salt)

    def name(self, value: str) -> str:
        """``value`` as the manifest writes it (a name already salted stays as it is)."""
        if not self.salt or HASHED.match(value):
            return value
        mac = hmac.new(self.salt, b"augcli-source\0" + value.encode(), hashlib.sha256)
        return "h-" + mac.hexdigest()[:24]

    def line(self, text: str) -> str:
        """A manifest line (JSON text) with its source, group and partners named."""
        if not self.salt:
            return text
        rec = json.loads(text)
        for key in ("source", "group"):
            if isinstance(rec.get(key), str):
                rec[key] = self.name(rec[key])
        for entry in rec.get("ops") or []:
            params = entry.get("params") if isinstance(entry, dict) else None
            if isinstance(params, dict) and isinstance(params.get("partners"), list):
                params["partners"] = [
                    self.name(p) if isinstance(p, str) else p for p in params["partners"]
                ]
        return json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"

    def paths(self, relpaths: Iterable[str]) -> dict[str, str]:
        """name -> path for ``relpaths`` (to read a salted manifest back)."""
        return {self.name(p): p for p in relpaths} if self.salt else {}

    def decode(self, rec: dict[str, Any], known: Mapping[str, str]) -> dict[str, Any]:
        """A line read back with its source and partners as paths again, where ``known``
        (``paths``) has them; the group stays as written."""
        if not self.salt:
            return rec
        out = dict(rec)
        if isinstance(out.get("source"), str):
            out["source"] = known.get(out["source"], out["source"])
        ops = []
        for entry in out.get("ops") or []:
            params = entry.get("params") if isinstance(entry, dict) else None
            if isinstance(params, dict) and isinstance(params.get("partners"), list):
                partners = [known.get(p, p) for p in params["partners"]]
                entry = {**entry, "params": {**params, "partners": partners}}
            ops.append(entry)
        if "ops" in out:
            out["ops"] = ops
        return out


def input_paths(root: str | os.PathLike[str]) -> list[str]:
    """Every file's POSIX path under ``root`` (to name them as a salted manifest does)."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(folder, root)
        for name in sorted(files):
            out.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return out
