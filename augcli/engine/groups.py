"""Which patient (or study) each input belongs to, by the recipe's ``groups``
(``augcli.groups``): a DICOM attribute read through the modality (``Modality.attribute``), a
pattern on the path, or a mapping file. An input with no group counts as a group of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from augcli.core.findings import Finding
from augcli.engine.scan import InputFile
from augcli.groups import GroupSpec
from augcli.modality import Modality

SHOWN = 5  # paths listed in a finding


@dataclass
class Groups:
    """``of``: input path -> its group (inputs without one are left out); ``how`` says how
    they were found; ``findings``: inputs an explicit ``groups`` could not place."""

    of: dict[str, str] = field(default_factory=dict)
    how: str = ""
    findings: list[Finding] = field(default_factory=list)

    def key(self, relpath: str) -> str:
        """The group an input counts in: its own, or the input itself."""
        return self.of.get(relpath, f"\0{relpath}")

    def note(self, inputs: list[InputFile]) -> str | None:
        """``groups: 12 by PatientID over 40 inputs (...)``, or None when nothing is grouped."""
        mine = [f for f in inputs if f.relpath in self.of]
        if not mine:
            return None
        n = len({self.of[f.relpath] for f in mine})
        alone = len(inputs) - len(mine)
        rest = f"; {alone} without one, each its own" if alone else ""
        return f"groups: {n} by {self.how} over {len(mine)} inputs{rest}"


def assign(
    spec: GroupSpec, inputs: list[InputFile], root: Path, modalities: dict[str, Modality]
) -> Groups:
    """Each input's group by ``spec``."""
    out = Groups(how=spec.describe())
    missing = []
    for f in inputs:
        if spec.kind == "attribute":
            group = modalities[f.modality].attribute(root / f.relpath, spec.attribute)
        else:
            group = spec.of_path(f.relpath)
        if group is None:
            missing.append(f.relpath)
        else:
            out.of[f.relpath] = group
    if spec.explicit and missing:
        listed = ", ".join(missing[:SHOWN]) + (
            f" (and {len(missing) - SHOWN} more)" if len(missing) > SHOWN else ""
        )
        out.findings.append(
            Finding(
                "groups",
                f"{len(missing)} input(s) have no group by {out.how}: {listed}; each counts as "
                "a patient of its own in leakage checks and max_outputs_per_group. Fix the "
                "groups setting (or the mapping file) to place them",
                files=tuple(missing),
            )
        )
    return out
