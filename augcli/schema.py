"""`augcli schema`: a JSON Schema of the recipe, generated from the op registry and the params,
so editors (the YAML language server) complete and check recipes in step with the code."""

from __future__ import annotations

from typing import Any

from augcli.graph import AUGMIX_DEPTH
from augcli.modality import get_modality
from augcli.ops import modalities, p_spec, registry
from augcli.params import Nullable, Param
from augcli.policies import menu
from augcli.recipe import PATH_KEYS, SECTION_KEYS, TASK_TIMEOUT, TOP_LEVEL

SCHEMA_URL = "https://json-schema.org/draft/2020-12/schema"
_COUNTS = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
    ]
}
BALANCE = {
    "anyOf": [
        {"const": "match_largest"},
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 2,
            "properties": {
                "target": _COUNTS,
                "copies": _COUNTS,
                "match_largest": {"const": True},
                "by": {"enum": ["inputs", "groups"]},
            },
        },
    ],
    "description": "outputs per class: match_largest, {target: ...} or {copies: ...}; "
    "by: groups spreads them over each class's patients (copies per patient)",
}


def param_schema(spec: Param) -> dict[str, Any]:
    """How one parameter may be written: a value, or a [lo, hi] range where it is sampled."""
    out: dict[str, Any]
    if spec.kind in ("float", "int"):
        number: dict[str, Any] = {"type": "number" if spec.kind == "float" else "integer"}
        if spec.low is not None:
            number["exclusiveMinimum" if spec.low_open else "minimum"] = spec.low
        if spec.high is not None:
            number["maximum"] = spec.high
        out = number
        if spec.sampled:
            out = {
                "anyOf": [number, {"type": "array", "items": number, "minItems": 2, "maxItems": 2}]
            }
    elif spec.kind == "bool":
        out = {"type": "boolean"}
    elif spec.kind == "choice":
        out = {"enum": list(spec.choices)}
        if spec.choice_list:
            out = {"anyOf": [out, {"type": "array", "items": out, "minItems": 1}]}
    elif spec.kind == "text":
        out = {"type": "string", "minLength": 1}
    elif spec.kind == "texts":
        one = {"type": "string", "minLength": 1}
        out = {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}
    elif spec.kind == "pairs":
        out = {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string", "minLength": 1},
        }
    else:  # size
        out = {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": {"type": "integer", "minimum": 1},
                },
            ]
        }
    if isinstance(spec, Nullable):
        out = {"anyOf": [{"type": "null"}, out]}
    desc = spec.help + (f" ({spec.unit})" if spec.unit else "")
    return {**out, "description": desc}


def _op_schema(name: str, cls: Any) -> dict[str, Any]:
    props = {"p": param_schema(p_spec()), **{k: param_schema(s) for k, s in cls.params.items()}}
    doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    body = {"type": ["object", "null"], "properties": props, "additionalProperties": False}
    return {
        "type": "object",
        "properties": {name: body},
        "required": [name],
        "additionalProperties": False,
        "description": doc,
    }


def _steps(modality: str) -> dict[str, Any]:
    ops = registry(modality)
    step_ref = {"$ref": f"#/$defs/{modality}_step"}
    steps = {"type": "array", "minItems": 1, "items": step_ref}
    combinator = {
        "one_of": {
            "anyOf": [
                steps,
                {
                    "type": "object",
                    "required": ["ops"],
                    "additionalProperties": False,
                    "properties": {
                        "ops": steps,
                        "p": param_schema(p_spec()),
                        "weights": {"type": "array"},
                    },
                },
            ]
        },
        "some_of": {
            "anyOf": [
                steps,
                {
                    "type": "object",
                    "required": ["ops"],
                    "additionalProperties": False,
                    "properties": {"ops": steps, "p": param_schema(p_spec()), "n": {}},
                },
            ]
        },
    }
    combinator.update(_policies(modality))
    names = [*ops, *(k for k in combinator if k not in COMBINATOR_NAMES)]
    variants: list[dict[str, Any]] = [{"enum": sorted(names)}]
    variants += [_op_schema(n, c) for n, c in ops.items()]
    variants += [
        {"type": "object", "properties": {k: v}, "required": [k], "additionalProperties": False}
        for k, v in combinator.items()
    ]
    return {"anyOf": variants}


COMBINATOR_NAMES = ("one_of", "some_of")  # need ops; a policy alone is a step


def _policies(modality: str) -> dict[str, Any]:
    """``rand_augment`` and ``trivial_augment``: a set's name or a list of policy ops."""
    known, sets = menu(modality)
    if not known:
        return {}
    ops = {
        "anyOf": [
            {"enum": sorted(sets)},
            {"type": "array", "minItems": 1, "items": {"enum": sorted(known)}},
        ]
    }
    p = param_schema(p_spec())
    magnitude = {"type": "integer", "minimum": 0, "maximum": 30}
    rand = {"ops": ops, "p": p, "n": {"type": "integer", "minimum": 1}, "magnitude": magnitude}
    mix = {
        "ops": ops,
        "p": p,
        "magnitude": magnitude,
        "width": {"type": "integer", "minimum": 1, "maximum": 10},
        "depth": param_schema(AUGMIX_DEPTH),
        "alpha": {"type": "number", "exclusiveMinimum": 0},
    }
    kinds = (("rand_augment", rand), ("trivial_augment", {"ops": ops, "p": p}), ("augmix", mix))
    return {
        name: {"type": ["object", "null"], "additionalProperties": False, "properties": props}
        for name, props in kinds
    }


GROUPS = {
    "description": "what a patient is: a DICOM attribute keyword, {attribute: K}, {pattern: "
    "REGEX} on the path (its capture group), or {file: CSV or JSON of path -> group}",
    "anyOf": [
        {"type": "string", "pattern": "^[A-Z][A-Za-z0-9]+$"},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {
                "attribute": {"type": "string", "pattern": "^[A-Z][A-Za-z0-9]+$"},
                "pattern": {"type": "string", "minLength": 1},
                "file": {"type": "string", "minLength": 1},
            },
            "additionalProperties": False,
        },
    ],
}


def _section(modality: str) -> dict[str, Any]:
    mod = get_modality(modality)
    steps = {"type": "array", "minItems": 1, "items": {"$ref": f"#/$defs/{modality}_step"}}
    node = {
        "type": "object",
        "required": ["ops"],
        "additionalProperties": False,
        "properties": {
            "ops": steps,
            "after": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            },
        },
    }
    globs = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    props: dict[str, Any] = {
        "include": globs,
        "exclude": globs,
        "pipeline": steps,
        "graph": {"type": "object", "additionalProperties": node},
        "balance": BALANCE,
    }
    props.update({k: param_schema(s) for k, s in mod.settings.items()})
    extra = mod.extra_schema  # a modality may describe its richer keys
    props.update({k: extra.get(k, {"description": "see the README"}) for k in mod.extra_keys})
    assert set(SECTION_KEYS) <= set(props)
    return {
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "oneOf": [{"required": ["pipeline"]}, {"required": ["graph"]}],
    }


def recipe_schema() -> dict[str, Any]:
    """The whole recipe's schema (draft 2020-12)."""
    props: dict[str, Any] = {k: param_schema(s) for k, s in TOP_LEVEL.items()}
    props.update(
        {
            k: {"type": "string", "description": f"{k} folder, relative to the recipe"}
            for k in PATH_KEYS
        }
    )
    props["workers"] = {
        "anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}, {"type": "null"}]
    }
    props["max_outputs"] = {
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
        "description": "most augmented outputs the run writes",
    }
    props["splits"] = {
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
        "description": "top-level folders to augment (default: train, if there is one)",
    }
    props["allow_test_split"] = {"type": "boolean"}
    props["groups"] = GROUPS
    props["manifest"] = {
        "type": "object",
        "properties": {
            "hash_sources": {"type": "boolean", "default": False},
            "salt_env": {"type": "string", "default": "AUGCLI_DEID_SALT"},
        },
        "additionalProperties": False,
        "description": "hash_sources: input paths, groups and mixing partners written to the "
        "manifest as salted names (the salt from the environment variable salt_env)",
    }
    props["max_outputs_per_group"] = {
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
        "description": "most augmented outputs per group (patient)",
    }
    props["task_timeout"] = {
        "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}],
        "description": TASK_TIMEOUT.help,
    }
    props["executor"] = {
        "anyOf": [{"type": "string", "pattern": "^\\S+$"}, {"type": "null"}],
        "description": "where tasks run: local (default), serial or dask",
    }
    props["scheduler"] = {
        "anyOf": [{"type": "string", "pattern": "^\\S+$"}, {"type": "null"}],
        "description": "a Dask scheduler's address (executor: dask); none: a cluster on "
        "this machine",
    }
    defs = {}
    for m in modalities():
        props[m] = _section(m)
        defs[f"{m}_step"] = _steps(m)
    return {
        "$schema": SCHEMA_URL,
        "title": "augcli recipe",
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "$defs": defs,
        "anyOf": [{"required": [m]} for m in modalities()],
    }
