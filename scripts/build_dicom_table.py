#!/usr/bin/env python3
"""Derive ``rules/dicom/actions.yaml`` from PS3.15 Table E.1-1 (machine-readable JSON).

Usage: python scripts/build_dicom_table.py [SOURCE_JSON] [OUTPUT_YAML]

The source is innolitics/dicom-standard ``standard/confidentiality_profile_attributes.json``
(see ../shared/dicom/README.md beside the checkout). The JSON itself is not part of this repository; the derived
table is, with its provenance in the header. A few project additions (recall first: attributes
that carry free text or names but are absent from Table E.1-1) are appended, marked
``source: project``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pydicom.datadict import keyword_for_tag

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = ROOT.parent / "shared" / "dicom" / "confidentiality_profile_attributes.json"
DEFAULT_OUT = ROOT / "rules" / "dicom" / "actions.yaml"

PROVENANCE = {
    "repository": "innolitics/dicom-standard",
    "file": "standard/confidentiality_profile_attributes.json",
    "commit": "8670abdd9ad16c61af5146ef857899699bdd9c5f",
    "commit_date": "2024-04-18",
    "standard": "DICOM PS3.15 Annex E, Table E.1-1 (web edition current at 2024-04-18, ~2024b)",
}

# JSON column -> option name used throughout the project (see rules/dicom/options.yaml)
COLUMNS = {
    "rtnSafePrivOpt": "retain_safe_private",
    "rtnUIDsOpt": "retain_uids",
    "rtnDevIdOpt": "retain_device_identity",
    "rtnInstIdOpt": "retain_institution_identity",
    "rtnPatCharsOpt": "retain_patient_characteristics",
    "rtnLongFullDatesOpt": "retain_long_full_dates",
    "rtnLongModifDatesOpt": "retain_long_modified_dates",
    "cleanDescOpt": "clean_descriptors",
    "cleanStructContOpt": "clean_structured_content",
    "cleanGraphOpt": "clean_graphics",
}

# Project additions: public attributes absent from Table E.1-1 that carry identifying free text
# inside structures the table keeps (SR content items). Recall first.
PROJECT_ROWS = [
    {"tag": "(0040,A160)", "name": "Text Value", "basic": "D",
     "options": {"clean_structured_content": "C"},
     "note": "SR TEXT content item value; Content Sequence is D (kept as dummy structure)"},
    {"tag": "(0070,0006)", "name": "Unformatted Text Value", "basic": "D",
     "options": {"clean_graphics": "C"},
     "note": "Graphic annotation text object; Graphic Annotation Sequence is D"},
]

TAG_RE = re.compile(r"^\(([0-9A-Fa-fXx]{4}),([0-9A-Fa-fXx]{4})\)$")


def _row(src: dict) -> dict:
    tag = src["tag"].strip()
    out: dict = {}
    if "WHERE GGGG IS ODD" in tag.upper():
        out["tag"] = "private"
    else:
        m = TAG_RE.match(tag)
        if not m:
            raise SystemExit(f"unexpected tag format in row {src.get('id')}")
        out["tag"] = f"({m.group(1).upper()},{m.group(2).upper()})"
        if "X" not in out["tag"][1:-1]:
            kw = keyword_for_tag(int(m.group(1) + m.group(2), 16))
            if kw:
                out["keyword"] = kw
    name = re.sub(r"\(see Notes? [\d, and]+\)", "", src["name"])
    out["name"] = " ".join(name.split())
    out["basic"] = src["basicProfile"].strip()
    opts = {COLUMNS[c]: src[c].strip() for c in COLUMNS if src.get(c)}
    if opts:
        out["options"] = opts
    if src.get("stdCompIOD"):
        out["in_std_iod"] = src["stdCompIOD"] == "Y"
    return out


def _yaml_scalar(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, ensure_ascii=False)


def render(rows: list[dict]) -> str:
    p = PROVENANCE
    lines = [
        "# DICOM PS3.15 Annex E attribute actions (Basic Application Level Confidentiality Profile",
        "# and its options), derived by scripts/build_dicom_table.py. DO NOT EDIT BY HAND: rerun it.",
        f"# Source: {p['repository']} {p['file']} @ {p['commit']} ({p['commit_date']})",
        f"# Standard: {p['standard']}",
        "# Action codes (PS3.15 E.1.1): D dummy, Z zero-length, X remove, K keep, C clean,",
        "# U remapped UID; combined codes (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) are resolved by",
        "# deid/dicom/table.py (see rules/dicom/README.md). Rows with source: project are",
        "# project additions, not part of Table E.1-1.",
        "provenance:",
    ]
    lines += [f"  {k}: {_yaml_scalar(v)}" for k, v in p.items()]
    lines.append("attributes:")
    for r in rows:
        lines.append(f"  - tag: {_yaml_scalar(r['tag'])}")
        for key in ("keyword", "name", "basic"):
            if key in r:
                lines.append(f"    {key}: {_yaml_scalar(r[key])}")
        if r.get("options"):
            inner = ", ".join(f"{k}: {_yaml_scalar(v)}" for k, v in r["options"].items())
            lines.append(f"    options: {{{inner}}}")
        if "in_std_iod" in r:
            lines.append(f"    in_std_iod: {_yaml_scalar(r['in_std_iod'])}")
        if r.get("source"):
            lines.append(f"    source: {_yaml_scalar(r['source'])}")
        if r.get("note"):
            lines.append(f"    note: {_yaml_scalar(r['note'])}")
    return "\n".join(lines) + "\n"


def build(src: Path) -> list[dict]:
    data = json.loads(src.read_text(encoding="utf-8"))
    rows = sorted((_row(r) for r in data), key=lambda r: r["tag"])
    seen = {r["tag"] for r in rows}
    for extra in PROJECT_ROWS:
        if extra["tag"] in seen:
            continue
        r = dict(extra)
        kw = keyword_for_tag(int(r["tag"][1:5] + r["tag"][6:10], 16))
        if kw:
            r["keyword"] = kw
        r["source"] = "project"
        rows.append(r)
    return rows


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else DEFAULT_SRC
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    rows = build(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
