"""YAML recipe → a validated Recipe, with every error located by file, line and YAML path."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augcli.balance import MAX_COPIES, parse_balance, parse_splits
from augcli.core.errors import RecipeError
from augcli.core.salted import DEFAULT_SALT_ENV, SourceNames, env_name, read_salt
from augcli.core.yamlfile import line_of, load_yaml
from augcli.graph import Graph, parse_section_graph
from augcli.groups import GroupSpec, parse_groups
from augcli.modality import get_modality
from augcli.ops import modalities
from augcli.params import Nullable, Param, physical_units, recipe_dir_is

RECIPE_VERSION = 1
SECTION_KEYS = ("include", "exclude", "pipeline", "graph", "balance")

TOP_LEVEL: dict[str, Param] = {
    "version": Param(
        kind="int",
        default=RECIPE_VERSION,
        low=1,
        high=1,
        sampled=False,
        help="recipe format version",
    ),
    "seed": Param(
        kind="int",
        default=0,
        low=0,
        high=2**63 - 1,
        sampled=False,
        help="the recipe seed every output's seed derives from",
    ),
    "copies": Param(
        kind="int",
        default=1,
        low=1,
        high=MAX_COPIES,
        sampled=False,
        help="outputs per input per emitting node",
    ),
    "keep_originals": Param(kind="bool", default=False, help="copy each input to the output too"),
    "imbalance_ratio": Param(
        kind="float",
        default=3.0,
        low=1.0,
        sampled=False,
        help="validate warns (an imbalance finding; an error with --strict) when one class has "
        "more than this many times the inputs of another",
    ),
    "follow_symlinks": Param(
        kind="choice",
        default="inside",
        choices=("inside", "outside"),
        sampled=False,
        help="input symlinks (files and folders) are followed when their target is inside the "
        "input folder; 'outside' follows links that leave it too (others are skipped with a "
        "warning)",
    ),
}
PATH_KEYS = ("input", "output")
_MAX_OUTPUTS = Nullable(
    kind="int",
    default=None,
    low=0,
    sampled=False,
    meaning="no budget",
    help="most augmented outputs the run writes",
)
TASK_TIMEOUT = Nullable(
    kind="float",
    default=3600.0,
    low=0.0,
    low_open=True,
    sampled=False,
    unit="s",
    meaning="no limit",
    help="longest one input (or chunk of records) may take in a worker before it is stopped "
    "and recorded failed",
)
_PER_GROUP = Nullable(
    kind="int",
    default=None,
    low=0,
    sampled=False,
    meaning="no budget per group",
    help="most augmented outputs per group (patient: see groups), taken round-robin over its "
    "inputs, so a 40-slice patient does not outweigh forty one-image patients",
)
OTHER_KEYS = (
    "workers",
    "max_outputs",
    "groups",
    "max_outputs_per_group",
    "manifest",
    "splits",
    "allow_test_split",
    "task_timeout",
    "executor",
    "scheduler",
)


@dataclass
class Section:
    """One modality's part of a recipe."""

    modality: str
    include: list[str] | None
    exclude: list[str]
    settings: dict[str, Any]
    graph: Graph
    raw: dict[str, Any]
    balance: Any = None


@dataclass
class Recipe:
    file: Path
    sha256: str
    seed: int
    copies: int
    keep_originals: bool
    input: Path | None
    output: Path | None
    workers: int | None
    sections: dict[str, Section] = field(default_factory=dict)
    version: int = RECIPE_VERSION
    max_outputs: int | None = None
    splits: tuple[str, ...] | None = None
    groups: GroupSpec = field(default_factory=GroupSpec)
    max_outputs_per_group: int | None = None
    names: SourceNames = field(default_factory=SourceNames)  # manifest: {hash_sources: true}
    task_timeout: float | None = TASK_TIMEOUT.default
    executor: str | None = None  # where tasks run (the engine knows the names); None: local
    scheduler: str | None = None  # a Dask scheduler's address, for executor: dask
    lines: dict[str, int] = field(default_factory=dict, repr=False)
    follow_symlinks: str = "inside"  # or "outside": input links may leave the input folder
    imbalance_ratio: float = 3.0  # classes more unequal than this are an imbalance finding

    def locate(self, exc: RecipeError) -> RecipeError:
        """Name this recipe's file and line in an error found after loading (CLI options stay
        as they are: they are not in the file)."""
        if exc.path.startswith("--"):
            return exc
        return exc.located(str(self.file), line_of(exc.path, self.lines))

    def where(self, path: str) -> str:
        """``<file>:<line>: <path>``: where a YAML path of this recipe is (for warnings)."""
        line = line_of(path, self.lines)
        return f"{self.file}:{line}: {path}" if line is not None else f"{self.file}: {path}"

    def resources(self) -> dict[str, dict[str, str]]:
        """What each op uses from outside the recipe (models), by ``<modality>.<op>.<name>``."""
        return {
            f"{m}.{op.name}.{name}": desc
            for m, s in sorted(self.sections.items())
            for op in s.graph.ops()
            for name, desc in op.resources().items()
        }

    def fetch(self) -> list[str]:
        """Let every op fetch what the recipe allows (models); what was done, for the log."""
        return [note for s in self.sections.values() for op in s.graph.ops() for note in op.fetch()]

    def preflight(self) -> None:
        """Every op's checks of the world outside the recipe (``Op.preflight``), located."""
        try:
            for s in self.sections.values():
                for op in s.graph.ops():
                    op.preflight()
        except RecipeError as exc:
            raise self.locate(exc) from None

    def settings_of(self, modality: str) -> dict[str, Any]:
        """A section's settings as its modality is made with them, plus ``recipe_key``: what
        tells this recipe's outputs from another's (the seed and the section as written), for
        formats that record where an output belongs (a derived DICOM's new series)."""
        s = self.sections[modality]
        blob = json.dumps([self.seed, modality, s.raw], sort_keys=True, default=str).encode()
        return {**s.settings, "recipe_key": hashlib.sha256(blob).hexdigest()[:32]}

    def fingerprint(self) -> str:
        """Hash of everything that decides output bytes (not paths, not the worker count)."""
        doc = {
            "version": self.version,
            "seed": self.seed,
            "copies": self.copies,
            "keep_originals": self.keep_originals,
            "max_outputs": self.max_outputs,
            "splits": self.splits,
            "max_outputs_per_group": self.max_outputs_per_group,
            "hash_sources": self.names.hashed,
            "groups": [self.groups.describe(), sorted(self.groups.mapping.items())],
            "sections": {m: s.raw for m, s in sorted(self.sections.items())},
            # files a section names (lexicons, tables) by content, not by path
            "files": {
                m: {k: v for k, v in sorted(s.settings.items()) if k.endswith("_fingerprint")}
                for m, s in sorted(self.sections.items())
            },
            # models and endpoints the ops use, by fingerprint (a new snapshot: another recipe)
            "resources": {
                m: sorted(r["fingerprint"] for op in s.graph.ops() for r in op.resources().values())
                for m, s in sorted(self.sections.items())
            },
        }
        blob = json.dumps(doc, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


# -- the recipe --------------------------------------------------------------------------------
def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file; raise RecipeError located in it."""
    file = Path(path)
    shown = str(path)
    try:
        raw_bytes = file.read_bytes()
    except OSError as exc:
        raise RecipeError(
            f"cannot read the recipe file ({exc.strerror})",
            file=shown,
            fix="Check the path.",
        ) from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise RecipeError(
            "is not UTF-8 text", file=shown, fix="Save the recipe as UTF-8."
        ) from None
    data, lines = load_yaml(text, shown)
    try:
        recipe = parse_recipe(data, file)
    except RecipeError as exc:
        raise exc.located(shown, line_of(exc.path, lines)) from None
    recipe.sha256 = hashlib.sha256(raw_bytes).hexdigest()
    recipe.lines = lines
    return recipe


def parse_recipe(data: Any, file: Path) -> Recipe:
    if not isinstance(data, dict):
        raise RecipeError(
            "a recipe must be a YAML mapping",
            value=data if data is not None else "an empty file",
            fix="Start from configs/quickstart.yaml.",
        )
    known = [*TOP_LEVEL, *PATH_KEYS, *OTHER_KEYS, *modalities()]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            raise RecipeError(
                "unknown top-level key",
                path=str(key),
                value=key,
                fix=(f"Did you mean '{close[0]}'? " if close else "")
                + f"Top-level keys are: {', '.join(known)}.",
            )
    values = {k: spec.validate(data.get(k, spec.default), k) for k, spec in TOP_LEVEL.items()}
    base = file.resolve().parent
    with recipe_dir_is(base):
        return _parse_recipe(data, values, file, base)


def _parse_recipe(data: dict[str, Any], values: dict[str, Any], file: Path, base: Path) -> Recipe:
    """The recipe's settings and sections; relative paths resolve against ``base``."""
    paths: dict[str, Path | None] = {}
    for key in PATH_KEYS:
        v = data.get(key)
        if v is not None and (not isinstance(v, str) or not v.strip()):
            raise RecipeError("must be a folder path", path=key, value=v)
        paths[key] = (base / os.path.expanduser(v)).resolve() if v else None
    recipe = Recipe(
        file=file,
        sha256="",
        seed=values["seed"],
        copies=values["copies"],
        keep_originals=values["keep_originals"],
        input=paths["input"],
        output=paths["output"],
        workers=parse_workers(data.get("workers"), "workers"),
        version=values["version"],
        max_outputs=_MAX_OUTPUTS.validate(data.get("max_outputs"), "max_outputs"),
        splits=parse_splits(data.get("splits"), data.get("allow_test_split"), "splits"),
        groups=parse_groups(data.get("groups"), base),
        max_outputs_per_group=_PER_GROUP.validate(
            data.get("max_outputs_per_group"), "max_outputs_per_group"
        ),
        names=parse_manifest(data.get("manifest"), "manifest"),
        task_timeout=TASK_TIMEOUT.validate(
            data.get("task_timeout", TASK_TIMEOUT.default), "task_timeout"
        ),
        follow_symlinks=values["follow_symlinks"],
        imbalance_ratio=values["imbalance_ratio"],
        executor=parse_word(data.get("executor"), "executor", "e.g. 'local' or 'dask'"),
        scheduler=parse_word(
            data.get("scheduler"), "scheduler", "a Dask scheduler's address, e.g. tcp://host:8786"
        ),
    )
    for modality in modalities():
        if modality in data:
            recipe.sections[modality] = parse_section(data[modality], modality, base)
    _check_deidentified(recipe)
    if not recipe.sections:
        raise RecipeError(
            "the recipe has no modality section",
            fix=f"Add one of: {', '.join(modalities())}, each with a 'pipeline:' of ops.",
        )
    return recipe


def _check_deidentified(recipe: Recipe) -> None:
    """A section that de-identifies its outputs cannot also keep the originals: they are
    copied byte for byte, the patient's identity with them."""
    if not recipe.keep_originals:
        return
    for name, s in recipe.sections.items():
        if s.settings.get("deidentify") is not None:
            raise RecipeError(
                f"keep_originals copies every input byte for byte, so the {name} section's "
                "de-identified outputs would sit beside their identified sources",
                path="keep_originals",
                value=True,
                fix=f"Set keep_originals: false, or turn {name}.deidentify off.",
            )


def parse_manifest(raw: Any, where: str) -> SourceNames:
    """``manifest: {hash_sources: true, salt_env: NAME}``: input paths and patient groups
    written as salted names (the salt from the environment)."""
    if raw is None:
        return SourceNames()
    keys = ("hash_sources", "salt_env")
    if not isinstance(raw, dict) or not set(raw) <= set(keys):
        raise RecipeError(
            "must be a mapping of hash_sources and salt_env",
            path=where,
            value=raw,
            fix="Write e.g. manifest: {hash_sources: true}.",
        )
    on = raw.get("hash_sources", False)
    if not isinstance(on, bool):
        raise RecipeError("must be true or false", path=f"{where}.hash_sources", value=on)
    name = env_name(raw.get("salt_env", DEFAULT_SALT_ENV), f"{where}.salt_env")
    if not on:
        return SourceNames()
    return SourceNames(read_salt(name, f"{where}.salt_env", "manifest.hash_sources"))


def parse_workers(value: Any, where: str) -> int | None:
    """``workers``: a positive whole number, or ``auto``/null for one per CPU."""
    if value is None or value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RecipeError(
            "must be a positive whole number or 'auto'",
            path=where,
            value=value,
            fix="Use e.g. 4, or 'auto' for one worker per CPU.",
        )
    return value


def parse_word(value: Any, where: str, example: str) -> str | None:
    """A run setting that is one word (an executor name, an address), or null for the
    default."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise RecipeError(
            "must be one word (no spaces)", path=where, value=value, fix=f"Use {example}."
        )
    return value


def parse_section(raw: Any, modality: str, base: Path) -> Section:
    if not isinstance(raw, dict):
        raise RecipeError(
            f"the {modality} section must be a mapping",
            path=modality,
            value=raw,
            fix=f"Write '{modality}:' then an indented 'pipeline:' list.",
        )
    mod = get_modality(modality)
    allowed = [*SECTION_KEYS, *mod.settings, *mod.extra_keys]
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            raise RecipeError(
                f"unknown key in the {modality} section",
                path=f"{modality}.{key}",
                value=key,
                fix=(f"Did you mean '{close[0]}'? " if close else "")
                + f"It takes: {', '.join(allowed)}.",
            )
    include = _globs(raw.get("include"), f"{modality}.include")
    exclude = _globs(raw.get("exclude"), f"{modality}.exclude") or []
    settings = {
        k: spec.validate(raw.get(k, spec.default), f"{modality}.{k}")
        for k, spec in mod.settings.items()
    }
    settings.update(mod.parse_extra(raw, modality, base))
    exclude = [*exclude, *mod.excludes(settings)]
    with physical_units(settings.get("units") == "physical"):
        graph = parse_section_graph(raw, modality, modality)
    mod.check_graph(settings, graph, modality)
    balance = parse_balance(raw.get("balance"), f"{modality}.balance")
    return Section(modality, include, exclude, settings, graph, raw, balance)


def _globs(value: Any, path: str) -> list[str] | None:
    if value is None:
        return None
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise RecipeError(
            "must be a glob or a list of globs",
            path=path,
            value=value,
            fix="Write e.g. ['**/*.png', 'scans/*.tif'] (paths relative to the input folder).",
        )
    return value
