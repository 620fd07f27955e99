"""DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile (and the options the
standard names) applied to a pydicom Dataset, from the standard's Table E.1-1 shipped as data
(``augcli/data/annex_e.csv``); the ``deidentify`` recipe setting; salted, deterministic UIDs;
the new series every derived DICOM starts (``new_series``).

Modality-free: the image section applies it to derived 2-D DICOM, a DICOM series can use the
same ``Profile``. pydicom is imported only inside the functions that touch a Dataset.

How each code of the table is carried out (where the attribute's type in the IOD is unknown, a
compound code takes the variant that keeps the file valid whatever that type, which leaks
nothing either way: ``Z/D`` -> D, ``X/Z`` -> Z, ``X/D`` -> D, ``X/Z/D`` -> D, ``X/Z/U*`` -> U):

- X: removed. Z: emptied (a sequence: no items). K: kept (a sequence's items still go through
  the table). U: every UID replaced by ``remap_uid`` (the same source UID, the same new UID,
  in any file and at any depth); UIDs the standard itself defines (``1.2.840.10008.*``) kept.
- D: a dummy value of the element's VR (``DUMMY``); a sequence becomes one empty item; a UID is
  remapped; Patient ID becomes a salted pseudonym, so patient-level grouping survives.
- C (an option's clean): the dates of ``retain_dates: {shift_days: N}`` are shifted by N days
  (DA, DT; TM kept as it is; another VR in that column, a time zone offset, as the basic code
  says); any other C is carried out as D.
- Private elements: removed (the table's row for odd groups) unless ``keep_private`` names them.

An option's K or C replaces the basic code where that option is on (K first, then C)."""

from __future__ import annotations

import csv
import datetime
import hashlib
import hmac
import os
import re
from collections import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from augcli.core.errors import InputError, RecipeError
from augcli.core.salted import DEFAULT_SALT_ENV, env_name, read_salt

TABLE_FILE = Path(__file__).resolve().parent / "data" / "annex_e.csv"
EDITION = "2024b"
# MIN_SALT (core.salted): a short salt can be guessed from a known source UID and its output
MAX_SHIFT_DAYS = 36525

# Recipe flag -> (the table's column, CID 7050 code, its meaning).
OPTIONS = {
    "retain_patient_characteristics": (
        "retain_patient_characteristics",
        "113108",
        "Retain Patient Characteristics Option",
    ),
    "retain_device_identity": ("retain_device_identity", "113109", "Retain Device Identity Option"),
    "retain_institution_identity": (
        "retain_institution_identity",
        "113112",
        "Retain Institution Identity Option",
    ),
    "retain_uids": ("retain_uids", "113110", "Retain UIDs Option"),
}
FULL_DATES = (
    "retain_full_dates",
    "113106",
    "Retain Longitudinal Temporal Information Full Dates Option",
)
MODIFIED_DATES = (
    "retain_modified_dates",
    "113107",
    "Retain Longitudinal Temporal Information Modified Dates Option",
)
BASIC = ("113100", "Basic Application Confidentiality Profile")
KEYS = (*OPTIONS, "salt_env", "retain_dates", "keep_private", "allow_burned_in")

# Compound codes where the attribute's type is unknown: the variant valid for any type.
COMPOUND = {"Z/D": "D", "X/Z": "Z", "X/D": "D", "X/Z/D": "D", "X/Z/U*": "U"}
TEXT = "ANONYMIZED"
DUMMY: dict[str, Any] = {
    **dict.fromkeys(("AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"), TEXT),
    "AS": "000Y",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "DS": "0",
    "IS": "0",
    **dict.fromkeys(("FL", "FD"), 0.0),
    **dict.fromkeys(("SL", "SS", "UL", "US", "SV", "UV", "AT"), 0),
    **dict.fromkeys(("OB", "OD", "OF", "OL", "OV", "OW", "UN"), bytes(8)),
}
STANDARD_UID = "1.2.840.10008."
PATIENT_ID = 0x00100020
_PRIVATE_ROW = "GGGGEEEE"


@dataclass(frozen=True)
class Rule:
    """One row of Table E.1-1: the basic code and each option column's code ('' = none)."""

    tag: str
    name: str
    basic: str
    options: Mapping[str, str]


@lru_cache(maxsize=1)
def table() -> dict[str, Rule]:
    """The shipped Table E.1-1 by normalised tag (``00100010``, ``60XX3000``, ``GGGGEEEE``)."""
    with TABLE_FILE.open(encoding="utf-8", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    out = {}
    for row in csv.DictReader(lines):
        key = re.sub(r"[^0-9A-FX]", "", row["tag"].upper().split(" ")[0].replace("G", "X"))
        key = _PRIVATE_ROW if "WHERE" in row["tag"] else key
        options = {k: v for k, v in row.items() if k not in ("tag", "name", "basic") and v}
        out[key] = Rule(row["tag"], row["name"], row["basic"], options)
    return out


def rule_for(tag: int) -> Rule | None:
    """The table's row for a tag: its own, its repeating group's (50xx curves, 60xx overlays),
    the private attributes' row for an odd group; None for an attribute the table leaves alone."""
    group, element = tag >> 16, tag & 0xFFFF
    rows = table()
    if group % 2:
        return rows[_PRIVATE_ROW]
    exact = rows.get(f"{tag:08X}")
    if exact is not None:
        return exact
    if 0x5000 <= group <= 0x50FF:
        return rows.get("50XXXXXX")
    if 0x6000 <= group <= 0x60FF:
        return rows.get(f"60XX{element:04X}")
    return None


def uid_from(digest: bytes) -> str:
    """A ``2.25.<int>`` UID from the first 16 bytes of a digest, made a UUID version 8
    (RFC 9562: custom) so the UID is a valid UUID-derived one; at most 44 characters."""
    b = bytearray(digest[:16])
    b[6] = (b[6] & 0x0F) | 0x80
    b[8] = (b[8] & 0x3F) | 0x80
    return f"2.25.{int.from_bytes(bytes(b), 'big')}"


def remap_uid(uid: str, salt: bytes) -> str:
    """The de-identified UID for ``uid``: HMAC-SHA256 keyed by ``salt``, so the same source UID
    and salt give the same UID in every run and process, and nothing without the salt links it
    back."""
    mac = hmac.new(salt, b"augcli-uid\x00" + str(uid).strip().encode(), hashlib.sha256)
    return uid_from(mac.digest())


SERIES_SUFFIX = " augcli"


def new_series(ds: Any, recipe_key: str, tail: str) -> None:
    """Put a derived image in a series of its own, never its source's (de-identified or not; 2-D
    images and series alike): SeriesInstanceUID from the source's (as ``ds`` holds it: remapped
    when de-identified), the recipe (``recipe_key``) and what tells the outputs of one source
    apart (``tail``: the node and copy), so the outputs of one source series, node and copy
    share one new series in every run; SeriesDescription gets `` augcli``."""
    series = str(ds.get("SeriesInstanceUID", "") or "")
    digest = hashlib.sha256("\x00".join(["augcli-series", recipe_key, series, tail]).encode())
    ds.SeriesInstanceUID = uid_from(digest.digest())
    described = str(ds.get("SeriesDescription", "") or "").strip()
    if not described.endswith(SERIES_SUFFIX.strip()):
        ds.SeriesDescription = (described[: 64 - len(SERIES_SUFFIX)] + SERIES_SUFFIX).strip()


def pseudonym(value: str, salt: bytes) -> str:
    """A salted stand-in for an identifier (Patient ID): the same value and salt, the same
    stand-in, so outputs of one patient still group together; 27 characters."""
    mac = hmac.new(salt, b"augcli-id\x00" + value.strip().encode(), hashlib.sha256)
    return "AUGCLI-" + mac.hexdigest()[:20].upper()


@dataclass(frozen=True)
class Profile:
    """What a recipe's ``deidentify`` asks for. ``apply`` works on a Dataset read from the source,
    before the writer sets its own UIDs and derivation attributes: the writer then takes the
    dataset's (remapped) UIDs for its references, and never sees the source's."""

    salt: bytes = field(repr=False, compare=False)
    salt_env: str = DEFAULT_SALT_ENV
    options: tuple[str, ...] = ()  # OPTIONS flags that are on
    shift_days: int | None = None  # retain_dates: None = dates go as the basic profile says
    keep_private: tuple[str, ...] = ()  # tags ('0029,1010') or private creators, as written
    allow_burned_in: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The table columns in force: the options on, and the dates option if any."""
        cols = [OPTIONS[o][0] for o in self.options]
        if self.shift_days is not None:
            cols.append((FULL_DATES if self.shift_days == 0 else MODIFIED_DATES)[0])
        return tuple(cols)

    def action(self, rule: Rule, vr: str = "") -> str:
        """The one code carried out for ``rule`` on an element of ``vr``: an option's K, else its
        C, else the basic code (a compound code resolved as the module says). The dates option's
        C is ``S`` (shift) for DA and DT, K for TM, and the basic code for anything else."""
        codes = [rule.options.get(c, "") for c in self.columns]
        if "K" in codes:
            return "K"
        basic = COMPOUND.get(rule.basic, rule.basic)
        if "C" not in codes:
            return basic
        if rule.options.get(MODIFIED_DATES[0]) == "C" and MODIFIED_DATES[0] in self.columns:
            return {"DA": "S", "DT": "S", "TM": "K"}.get(vr, basic)
        return "C"

    def check_burned_in(self, ds: Any) -> None:
        """Refuse (InputError) a file that says its pixels show identifying text."""
        value = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
        if value == "YES" and not self.allow_burned_in:
            raise InputError(
                "DICOM BurnedInAnnotation is YES: its pixels show text (a name, an ID, a date) "
                "that de-identification cannot remove, so it is not augmented. Leave it out, "
                "or set the section's deidentify.allow_burned_in: true if the text is known to "
                "be safe"
            )

    def apply(self, ds: Any) -> None:
        """De-identify ``ds`` in place (elements at any depth, its file meta too: the table
        has rows for group 0002), then mark it de-identified."""
        walk = _Walk(self)
        walk.dataset(ds)
        if getattr(ds, "file_meta", None) is not None:
            walk.dataset(ds.file_meta)
        self.mark(ds)

    def mark(self, ds: Any) -> None:
        """PatientIdentityRemoved, DeidentificationMethod (and its codes),
        LongitudinalTemporalInformationModified."""
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = self.method()
        items = []
        for value, meaning in self.codes():
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        dates = {None: "REMOVED", 0: "UNMODIFIED"}.get(self.shift_days, "MODIFIED")
        ds.LongitudinalTemporalInformationModified = dates

    def codes(self) -> list[tuple[str, str]]:
        """(code, meaning) of the profile and of each option in force (CID 7050)."""
        chosen = [OPTIONS[o][1:] for o in self.options]
        if self.shift_days is not None:
            chosen.append((FULL_DATES if self.shift_days == 0 else MODIFIED_DATES)[1:])
        return [BASIC, *chosen]

    def method(self) -> list[str]:
        """DeidentificationMethod's values (LO, 64 characters each): the profile, its options.
        The shift in days is not written: it would undo itself."""
        return [f"augcli: PS3.15 {EDITION} E.1 Basic Profile"] + [m for _, m in self.codes()[1:]]

    def keeps_private(self, ds: Any, tag: int) -> bool:
        """Whether ``keep_private`` names this private element: by its tag, or by its block's
        creator; a creator element is kept with its block or with a named tag in its block."""
        tags = {t for t in map(_tag_key, self.keep_private) if t is not None}
        creators = {k for k in self.keep_private if _tag_key(k) is None}
        group, element = tag >> 16, tag & 0xFFFF
        if tag in tags:
            return True
        if element < 0x10:  # a group length: rebuilt by the writer
            return False
        if element <= 0xFF:  # a private creator, reserving the block (gggg,xx00-xxFF)
            named = any(t >> 16 == group and (t & 0xFFFF) >> 8 == element for t in tags)
            return named or _text(ds[tag].value) in creators
        creator = (group << 16) | (element >> 8)
        return creator in ds and _text(ds[creator].value) in creators


def _tag_key(text: str) -> int | None:
    """``(0029,1010)``, ``0029,1010`` or ``00291010`` as an int; None for anything else."""
    digits = re.fullmatch(r"\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?", text.strip())
    return int(digits[1] + digits[2], 16) if digits else None


class _Walk:
    """One pass of a Profile over a dataset and the items of its sequences."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def dataset(self, ds: Any) -> None:
        for elem in list(ds):
            self.element(ds, elem)

    def element(self, ds: Any, elem: Any) -> None:
        tag = int(elem.tag)
        if (tag >> 16) % 2 and self.profile.keeps_private(ds, tag):
            return  # kept by name: as it is, sequences included
        rule = rule_for(tag)
        vr = str(elem.VR).split(" or ")[0]
        code = "K" if rule is None else self.profile.action(rule, vr)
        if code == "X":
            del ds[elem.tag]
        elif code == "Z":
            elem.value = [] if vr == "SQ" else None
        elif code == "S":
            self.shift(elem, vr)
        elif code in ("D", "C"):
            self.dummy(elem, vr)
        elif code == "U" and vr not in ("UI", "SQ"):
            self.dummy(elem, vr)  # never in the table: a U is a UID or a sequence of them
        elif vr == "UI" and code == "U":
            elem.value = self.uids(elem.value)
        elif vr == "SQ":  # K, or U on a sequence: its items go through the table
            for item in elem.value or []:
                self.dataset(item)

    def uids(self, value: Any) -> Any:
        values = [str(v) for v in _values(value)]
        new = [
            v if not v or v.startswith(STANDARD_UID) else remap_uid(v, self.profile.salt)
            for v in values
        ]
        return new[0] if len(new) == 1 else new

    def dummy(self, elem: Any, vr: str) -> None:
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        if vr == "SQ":
            elem.value = Sequence([Dataset()])
        elif vr == "UI":
            elem.value = self.uids(elem.value) if elem.value else remap_uid("", self.profile.salt)
        elif int(elem.tag) == PATIENT_ID and elem.value:
            elem.value = pseudonym(str(elem.value), self.profile.salt)
        else:
            elem.value = DUMMY.get(vr, TEXT if isinstance(elem.value, str) else bytes(8))

    def shift(self, elem: Any, vr: str) -> None:
        """Dates moved by ``shift_days`` (a DT's time and offset kept); a value that is not a
        whole date is replaced by the dummy date."""
        if not elem.value:
            return
        days = self.profile.shift_days or 0
        out = [_shifted(str(v), days) or DUMMY[vr] for v in _values(elem.value)]
        elem.value = out[0] if len(out) == 1 else out


def _values(value: Any) -> list[Any]:
    """An element's values as a list (pydicom's MultiValue is a Sequence; a str is one value)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, abc.Sequence):
        return [value]
    return list(value)


def _text(value: Any) -> str:
    return str(value or "").strip()


def _shifted(value: str, days: int) -> str | None:
    """``YYYYMMDD...`` with its date moved by ``days``, the rest kept; None if not a date."""
    value = value.strip()
    try:
        day = datetime.datetime.strptime(value[:8], "%Y%m%d").date()
        return (day + datetime.timedelta(days=days)).strftime("%Y%m%d") + value[8:]
    except (ValueError, OverflowError):
        return None


# -- the recipe setting -------------------------------------------------------------------------
_FLAG = {"type": "boolean", "default": False}
SCHEMA: dict[str, Any] = {
    "description": "DICOM outputs: the PS3.15 Annex E Basic Application Level Confidentiality "
    "Profile (Table E.1-1) and the options named; the salt for new UIDs is read from the "
    "environment variable salt_env. No effect on other formats (see the README)",
    "anyOf": [
        {"type": "boolean"},
        {"type": "null"},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                **{k: {**_FLAG, "description": OPTIONS[k][2]} for k in OPTIONS},
                "salt_env": {"type": "string", "default": DEFAULT_SALT_ENV},
                "retain_dates": {
                    "anyOf": [
                        {"type": "null"},
                        {"const": False},
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["shift_days"],
                            "properties": {
                                "shift_days": {
                                    "type": "integer",
                                    "minimum": -MAX_SHIFT_DAYS,
                                    "maximum": MAX_SHIFT_DAYS,
                                }
                            },
                        },
                    ]
                },
                "keep_private": {
                    "anyOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "array", "items": {"type": "string", "minLength": 1}},
                    ],
                    "description": "private tags ('(0029,1010)') or private creators kept",
                },
                "allow_burned_in": _FLAG,
            },
        },
    ],
}


def parse(value: Any, where: str, environ: Mapping[str, str] | None = None) -> Profile | None:
    """``deidentify``: true (the basic profile), false/null (off), or a mapping of ``KEYS``. The
    salt is read here from the variable ``salt_env`` names: missing or short, a RecipeError
    before any file is touched. The salt itself is never in a message."""
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise RecipeError(
            "must be true, false or a mapping",
            path=where,
            value=value,
            fix="Write 'deidentify: true', or e.g. 'deidentify: {retain_dates: {shift_days: -30}}'.",
        )
    _known_keys(value, where)
    for key in (*OPTIONS, "allow_burned_in"):
        if not isinstance(value.get(key, False), bool):
            raise RecipeError(
                "must be true or false",
                path=f"{where}.{key}",
                value=value[key],
                fix="Use true or false.",
            )
    salt_env = _salt_env(value.get("salt_env", DEFAULT_SALT_ENV), f"{where}.salt_env")
    return Profile(
        salt=_salt(salt_env, f"{where}.salt_env", os.environ if environ is None else environ),
        salt_env=salt_env,
        options=tuple(o for o in OPTIONS if value.get(o)),
        shift_days=_shift(value.get("retain_dates"), f"{where}.retain_dates"),
        keep_private=_keep_private(value.get("keep_private"), f"{where}.keep_private"),
        allow_burned_in=bool(value.get("allow_burned_in", False)),
    )


def _known_keys(value: dict[str, Any], where: str) -> None:
    import difflib

    for key in value:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            raise RecipeError(
                "unknown key in deidentify",
                path=f"{where}.{key}",
                value=key,
                fix=(f"Did you mean '{close[0]}'? " if close else "")
                + f"It takes: {', '.join(KEYS)}.",
            )


def _salt_env(value: Any, where: str) -> str:
    return env_name(value, where)


def _salt(name: str, where: str, environ: Mapping[str, str]) -> bytes:
    return read_salt(name, where, "de-identification", environ)


def _shift(value: Any, where: str) -> int | None:
    if value is None or value is False:
        return None
    days = (
        value.get("shift_days") if isinstance(value, dict) and set(value) == {"shift_days"} else ...
    )
    if isinstance(days, bool) or not isinstance(days, int) or abs(days) > MAX_SHIFT_DAYS:
        raise RecipeError(
            f"must be {{shift_days: N}}, N a whole number of days within ±{MAX_SHIFT_DAYS}",
            path=where,
            value=value,
            fix="Write e.g. 'retain_dates: {shift_days: -365}' (0 keeps the dates as they are), "
            "or leave it out to remove dates as the basic profile does.",
        )
    return days


def _keep_private(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RecipeError(
            "must be a list of private tags or private creators",
            path=where,
            value=value,
            fix="Write e.g. ['(0029,1010)', 'SIEMENS CSA HEADER'].",
        )
    for v in value:
        tag = _tag_key(v)
        if tag is not None and not (tag >> 16) % 2:
            raise RecipeError(
                "names a standard attribute, not a private one",
                path=where,
                value=v,
                fix="Standard attributes follow the profile's table; keep_private takes tags of "
                "odd groups, e.g. '(0029,1010)', or a private creator's name.",
            )
    return tuple(v.strip() for v in value)
