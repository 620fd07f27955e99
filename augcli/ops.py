"""The op contract (name, params, ``sample`` with all randomness, pure ``apply``) and the op registry."""

from __future__ import annotations

import difflib
import importlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from augcli.core.errors import RecipeError
from augcli.params import REQUIRED, Param

# modality -> modules whose import registers that modality's ops and its Modality class.
MODALITY_MODULES: dict[str, tuple[str, ...]] = {
    "image": (
        "augcli.image.modality",
        "augcli.image.ops.geometric",
        "augcli.image.ops.dihedral",
        "augcli.image.ops.safe_crop",
        "augcli.image.ops.distort",
        "augcli.image.ops.lens",
        "augcli.image.ops.mixing",
        "augcli.image.ops.color",
        "augcli.image.ops.tone",
        "augcli.image.ops.filters",
        "augcli.image.ops.histogram",
        "augcli.image.ops.reference",
        "augcli.image.ops.stain",
        "augcli.image.ops.noise",
        "augcli.image.ops.sensor",
        "augcli.image.ops.dropout",
        "augcli.image.ops.scanner",
        "augcli.image.ops.policy",
    ),
    "text": (
        "augcli.text.modality",
        "augcli.text.eda",
        "augcli.text.substitute",
        "augcli.text.chars",
        "augcli.text.generative",
        "augcli.text.contextual",
    ),
    "audio": (
        "augcli.audio.modality",
        "augcli.audio.noise",
        "augcli.audio.time",
        "augcli.audio.level",
        "augcli.audio.mix",
        "augcli.audio.eq",
        "augcli.audio.dynamics",
        "augcli.audio.room",
        "augcli.audio.shape",
    ),
    "volume": (
        "augcli.volume.modality",
        "augcli.volume.spatial",
        "augcli.volume.intensity",
        "augcli.volume.artefacts",
    ),
}

_REGISTRY: dict[str, dict[str, type[Op]]] = {}


class Op(ABC):
    """One augmentation. Subclasses set ``name``, ``modality``, ``params`` and implement ``apply``.

    ``sample(rng, info)`` draws every random value for one output (override it to draw more than the
    declared params, e.g. a crop position); ``apply(data, params)`` is pure: no RNG, no I/O, no state.
    ``info`` describes the data the op is about to see (for images: height, width, channels, dtype).
    """

    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    group: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    partners: ClassVar[int] = 0  # other inputs the op mixes in (their paths are in params)
    fusable: ClassVar[bool] = False  # consecutive fusable ops may be applied as one (apply_chain)
    where: str = ""  # the op's YAML path in its recipe (set by ``from_recipe``)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            ops = _REGISTRY.setdefault(cls.modality, {})
            if cls.name in ops and ops[cls.name] is not cls:
                raise TypeError(f"op {cls.modality}/{cls.name} is registered twice")
            ops[cls.name] = cls

    def __init__(self, **config: Any) -> None:
        self.config = config

    @classmethod
    def from_recipe(cls, raw: dict[str, Any], path: str) -> Op:
        """Validate a recipe mapping of params (``p`` already removed) and build the op."""
        config: dict[str, Any] = {}
        for key in raw:
            if key not in cls.params:
                known = [*sorted(cls.params), "p"]
                close = difflib.get_close_matches(str(key), known, n=1)
                fix = f"Did you mean '{close[0]}'?" if close else ""
                fix += f" {cls.name} takes: {', '.join(known)}."
                raise RecipeError(
                    f"unknown parameter for {cls.name}",
                    path=f"{path}.{key}",
                    value=key,
                    fix=fix.strip(),
                )
        for key, spec in cls.params.items():
            if key in raw:
                config[key] = spec.validate(raw[key], f"{path}.{key}")
            elif spec.default is REQUIRED:
                raise RecipeError(
                    f"{cls.name} needs parameter '{key}'",
                    path=path,
                    fix=f"Add '{key}:' ({spec.help}).",
                )
            else:
                config[key] = spec.validate(spec.default, f"{path}.{key}")
        op = cls(**config)
        op.where = path
        op.check_config(path)
        return op

    @classmethod
    def for_replay(cls) -> Op:
        """An instance that re-applies recorded params: default settings and no recipe-time
        checks (``apply`` needs only the params; a model op does not need its model)."""
        return cls(
            **{
                k: spec.validate(spec.default, f"{cls.name}.{k}")
                for k, spec in cls.params.items()
                if spec.default is not REQUIRED
            }
        )

    def check_config(self, path: str) -> None:  # noqa: B027 - optional hook
        """Cross-parameter checks at recipe time; raise RecipeError with ``path``."""

    def resources(self) -> dict[str, dict[str, str]]:
        """Outside things that decide this op's outputs (e.g. models): name -> description with
        a ``fingerprint``. Recorded in run.json; a changed fingerprint makes it another recipe."""
        return {}

    def fetch(self) -> list[str]:
        """Before a run, in the parent: get what the recipe allows fetching (e.g. a model with
        ``allow_download: true``) so workers find it locally; return what was done."""
        return []

    def preflight(self) -> None:  # noqa: B027 - optional hook
        """In ``validate`` and before ``expand`` reads any input: checks that need the world
        outside the recipe (an endpoint that must answer); raise RecipeError with the path."""

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """For ``validate`` and ``preview``: why this op's settings look wrong for an input
        described by ``facts`` (``Modality.facts``: e.g. its full scale, whether it has only
        two values), naming the parameter, its unit and the value that would matter; None
        when they look plausible (default)."""
        return None

    def check_input(self, info: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Per-file checks (e.g. a channel count the op cannot handle); raise InputError."""

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        """Draw concrete, JSON-safe params for one output."""
        return {k: spec.draw(self.config[k], rng) for k, spec in self.params.items()}

    @abstractmethod
    def apply(self, data: Any, params: dict[str, Any]) -> Any:
        """Return the augmented data; pure. Ops with ``partners`` also get ``partners=[data]``."""

    def out_info(self, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        """What ``info`` will be after this op, without running it (fusable ops override)."""
        return info

    def geometry(self, params: dict[str, Any], info: dict[str, Any]) -> Any:
        """The op's transform of sample coordinates (a 3x3 matrix for images), or None."""
        return None

    def mirrors(self, params: dict[str, Any], info: dict[str, Any]) -> bool:
        """Whether these params mirror the data (turn left into right): by default, whether
        ``geometry`` has a negative determinant (an op without one never mirrors). The
        recipe's ``no_mirror`` classes refuse such an op (``steps``)."""
        m = self.geometry(params, info)
        return m is not None and bool(np.linalg.det(np.asarray(m, dtype=np.float64)) < 0)

    @classmethod
    def apply_chain(
        cls, data: Any, chain: list[tuple[Op, dict[str, Any], dict[str, Any]]]
    ) -> tuple[Any, list[int]]:
        """Apply consecutive fusable ops ``(op, params, info before)`` at once; return the data
        and, per op, the index of the combined application it was part of."""
        raise TypeError(f"{cls.__name__} is not fusable")

    @classmethod
    def describe(cls) -> dict[str, Any]:
        doc = (cls.__doc__ or "").strip()
        summary, _, details = doc.partition("\n\n")
        return {
            "name": cls.name,
            "modality": cls.modality,
            "group": cls.group,
            "summary": " ".join(line.strip() for line in summary.splitlines()),
            "details": " ".join(line.strip() for line in details.splitlines()),
            "params": {"p": _P_SPEC.describe(), **{k: s.describe() for k, s in cls.params.items()}},
        }


_P_SPEC = Param(
    kind="float",
    default=1.0,
    low=0.0,
    high=1.0,
    sampled=False,
    help="probability that the op fires for an output",
)


def p_spec() -> Param:
    """The spec of ``p``, which every op and combinator takes."""
    return _P_SPEC


def load_modality(modality: str) -> None:
    """Import the modules that register a modality's ops (cheap: heavy libraries load lazily)."""
    for module in MODALITY_MODULES[modality]:
        importlib.import_module(module)


def registry(modality: str) -> dict[str, type[Op]]:
    load_modality(modality)
    return dict(sorted(_REGISTRY.get(modality, {}).items()))


def modalities() -> list[str]:
    return list(MODALITY_MODULES)
