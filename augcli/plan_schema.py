"""The JSON Schema of ``augcli validate --json`` (``augcli.validate/1``): what a CI step may
rely on. A new version adds fields only; a field's meaning or removal changes the name."""

from __future__ import annotations

from typing import Any

from augcli.core.findings import KINDS

NAME = "augcli.validate/1"
_COUNT = {"type": "integer", "minimum": 0}
_COUNT_OR_NULL = {"anyOf": [_COUNT, {"type": "null"}]}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_TEXTS = {"type": "array", "items": {"type": "string"}}


def _object(props: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these fields, all present."""
    return {
        "type": "object",
        "properties": props,
        "required": sorted(props),
        "additionalProperties": False,
    }


FINDING = _object(
    {
        "kind": {"enum": sorted(KINDS), "description": "what was found (README: the kinds)"},
        "section": _TEXT_OR_NULL,
        "message": {"type": "string"},
        "files": _TEXTS,
    }
)

SECTION = _object(
    {
        "inputs": _COUNT,
        "outputs": _COUNT,
        "originals": _COUNT,
        "records": _COUNT_OR_NULL,
        "record_files": _COUNT_OR_NULL,
        "graph": _object(
            {
                "nodes": {
                    "type": "array",
                    "items": _object(
                        {"name": {"type": "string"}, "after": _TEXTS, "steps": _TEXTS}
                    ),
                },
                "emits": _TEXTS,
            }
        ),
        "graph_lines": _TEXTS,
        "classes": {
            "type": "object",
            "additionalProperties": _object(
                {"inputs": _COUNT, "outputs": _COUNT, "detail": _TEXT_OR_NULL}
            ),
        },
        "note": _TEXT_OR_NULL,
    }
)

_VALID = {
    "schema": {"const": NAME},
    "recipe": {"type": "string"},
    "valid": {"const": True},
    "input": {"type": "string"},
    "output": {"type": "string"},
    "sections": {"type": "object", "additionalProperties": SECTION},
    "resources": {
        "type": "object",
        "additionalProperties": _object(
            {"at": {"type": "string"}, "fingerprint": {"type": "string"}}
        ),
    },
    "notes": _TEXTS,
    "ignored": _COUNT,
    "findings": {"type": "array", "items": FINDING},
}
_STRICT = _object(
    {"allowed": {"type": "array", "items": {"enum": sorted(KINDS)}}, "refused": _COUNT}
)
_INVALID = _object(
    {
        "schema": {"const": NAME},
        "recipe": {"type": "string"},
        "valid": {"const": False},
        "error": {"type": "string"},
        "exit_code": {"type": "integer"},
    }
)


def validate_schema() -> dict[str, Any]:
    """The schema of the document ``validate --json`` prints (draft 2020-12)."""
    valid = _object(_VALID)
    valid["properties"] = {**_VALID, "strict": _STRICT}  # present with --strict only
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": NAME,
        "oneOf": [valid, _INVALID],
    }
