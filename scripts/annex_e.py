"""Regenerate augcli/data/annex_e.csv, DICOM PS3.15 Table E.1-1 (the Basic Application Level
Confidentiality Profile and its options), from innolitics/dicom-standard's extraction of the
standard: ``standard/confidentiality_profile_attributes.json``, parsed from the standard's own
HTML by that project's ``extract_conf_profile_attributes.py``.

    git clone https://github.com/innolitics/dicom-standard
    python scripts/annex_e.py dicom-standard/standard/confidentiality_profile_attributes.json \
        --edition 2024b --source "innolitics/dicom-standard@8670abdd9ad1"

The rows are written sorted by tag, one per attribute, with the source's action codes as they
are (``X/Z/U*`` included); empty option cells mean the option does not change the basic action.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "augcli" / "data" / "annex_e.csv"

# The source's keys, in the standard's column order, and the names the shipped file uses.
COLUMNS = {
    "tag": "tag",
    "name": "name",
    "basicProfile": "basic",
    "rtnSafePrivOpt": "retain_safe_private",
    "rtnUIDsOpt": "retain_uids",
    "rtnDevIdOpt": "retain_device_identity",
    "rtnInstIdOpt": "retain_institution_identity",
    "rtnPatCharsOpt": "retain_patient_characteristics",
    "rtnLongFullDatesOpt": "retain_full_dates",
    "rtnLongModifDatesOpt": "retain_modified_dates",
    "cleanDescOpt": "clean_descriptors",
    "cleanStructContOpt": "clean_structured_content",
    "cleanGraphOpt": "clean_graphics",
}
CODES = {"X", "Z", "D", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}


def rows(source: list[dict[str, str]]) -> list[list[str]]:
    """The table's rows in the shipped file's column order, sorted by tag; every code checked."""
    out = []
    for entry in source:
        row = [" ".join(str(entry.get(key, "")).split()) for key in COLUMNS]
        row[0] = row[0].upper()
        bad = [code for code in row[2:] if code and code not in CODES]
        if bad:
            raise SystemExit(f"{row[0]} {row[1]}: unknown action code(s) {bad}")
        out.append(row)
    return sorted(out, key=lambda r: r[0])


def render(table: list[list[str]], edition: str, source: str) -> str:
    buf = io.StringIO()
    buf.write(
        f"# DICOM PS3.15 {edition}, Table E.1-1: Application Level Confidentiality Profile "
        "Attributes.\n"
        f"# Extracted from the standard by {source} "
        "(standard/confidentiality_profile_attributes.json);\n"
        "# regenerate with scripts/annex_e.py. Codes as in the standard: X remove, Z zero "
        "length, D dummy, K keep,\n# C clean, U new UID; compound codes (X/Z, ...) as "
        "augcli/deidentify.py documents.\n"
    )
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS.values())
    writer.writerows(table)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", type=Path, help="confidentiality_profile_attributes.json")
    parser.add_argument("--edition", required=True, help="the standard's edition, e.g. 2024b")
    parser.add_argument("--source", required=True, help="repository@commit it was taken from")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    table = rows(json.loads(args.json.read_text(encoding="utf-8")))
    args.out.write_text(render(table, args.edition, args.source), encoding="utf-8")
    print(f"{args.out}: {len(table)} attributes")


if __name__ == "__main__":
    main()
