"""Known identifiers of a note's patient (sidecar JSON or CSV), and the detector that finds them.

Every occurrence of a known value is found case-insensitively, with token variants (each name
part, ``LAST, FIRST``, initials), separator-insensitive numbers and the usual date layouts.
Known spans are never vetoed by allow-lists.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from deid.dates import parse_date
from deid.errors import InputError
from deid.span import Span

# field name -> label of the spans it produces
FIELDS: dict[str, str] = {
    "name": "PATIENT", "patient": "PATIENT", "relative": "RELATIVE", "doctor": "DOCTOR",
    "mrn": "MRN", "id": "IDNUM", "ssn": "SSN", "account": "ACCOUNT", "healthplan": "HEALTHPLAN",
    "dob": "DATE", "date": "DATE", "address": "STREET", "street": "STREET", "city": "CITY",
    "zip": "ZIP", "phone": "PHONE", "fax": "FAX", "email": "EMAIL", "institution": "HOSPITAL",
    "hospital": "HOSPITAL",
}
NAME_FIELDS = {"name", "patient", "relative", "doctor"}
NUMBER_FIELDS = {"mrn", "id", "ssn", "account", "healthplan", "phone", "fax", "zip"}
DATE_FIELDS = {"dob", "date"}
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "md", "do", "phd", "rn", "np", "pa", "jr", "sr", "ii",
           "iii", "iv", "prof"}
_NAME_TOKEN = re.compile(r"[^\W\d_][^\W\d_'’\-]*(?:['’\-][^\W\d_]+)*", re.UNICODE)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


@dataclass(frozen=True)
class Known:
    """Identifiers known for one patient. ``values`` maps a field (see FIELDS) to its values."""

    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    patient_id: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Known:
        vals: dict[str, tuple[str, ...]] = {}
        pid = data.get("patient_id")
        for k, v in data.items():
            key = str(k).strip().lower()
            if key in ("patient_id", "note_id", "id_field"):
                continue
            if key not in FIELDS:
                raise InputError(f"unknown known-identifier field {k!r}; use one of {sorted(FIELDS)}")
            items = v if isinstance(v, list | tuple) else [v]
            clean = tuple(str(x).strip() for x in items if x is not None and str(x).strip())
            if clean:
                vals[key] = vals.get(key, ()) + clean
        if isinstance(pid, list | tuple):
            pid = next((str(x).strip() for x in pid if str(x).strip()), None)
        if pid is None and vals.get("mrn"):
            pid = vals["mrn"][0]
        return cls(vals, str(pid).strip() if pid is not None else None)

    def __bool__(self) -> bool:
        return bool(self.values)

    def merged(self, other: Known | None) -> Known:
        if not other:
            return self
        vals = dict(self.values)
        for k, v in other.values.items():
            vals[k] = vals.get(k, ()) + v
        return Known(vals, self.patient_id or other.patient_id)

    @cached_property
    def _patterns(self) -> tuple[tuple[re.Pattern[str], str, str], ...]:
        pats: list[tuple[re.Pattern[str], str, str]] = []
        for fname, values in sorted(self.values.items()):
            label = FIELDS[fname]
            alts: set[str] = set()
            for v in values:
                alts.update(_variants(fname, v))
            alts.discard("")
            if alts:
                body = "|".join(sorted(alts, key=lambda a: (-len(a), a)))
                rx = re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])", re.IGNORECASE | re.UNICODE)
                pats.append((rx, label, fname))
        return tuple(pats)

    def detect(self, text: str) -> list[Span]:
        out: list[Span] = []
        for rx, label, fname in self._patterns:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    out.append(Span(m.start(), m.end(), label, f"known:{fname}", 1.0))
        return out


def _flex(s: str) -> str:
    """A literal whose internal whitespace may vary."""
    return r"\s+".join(re.escape(p) for p in s.split())


def _variants(fname: str, value: str) -> set[str]:
    if fname in NAME_FIELDS:
        return _name_variants(value)
    if fname in NUMBER_FIELDS:
        return _number_variants(value)
    if fname in DATE_FIELDS:
        return _date_variants(value)
    if fname in ("address", "street"):
        parts = [p.strip() for p in re.split(r"[,\n^]", value) if p.strip()]
        return {_flex(value.replace("^", " "))} | {_flex(p) for p in parts if len(p) > 2}
    return {_flex(value)}


def _name_variants(value: str) -> set[str]:
    toks = [t for t in _NAME_TOKEN.findall(value.replace("^", " ")) if t.lower().strip(".") not in _TITLES]
    out: set[str] = set()
    long_toks = [t for t in toks if len(t) > 1]
    for t in long_toks:
        out.add(re.escape(t))
        for piece in re.split(r"[-'’]", t):  # hyphenated surnames: each part too
            if len(piece) > 2:
                out.add(re.escape(piece))
    if len(long_toks) >= 2:
        first, last = long_toks[0], long_toks[-1]
        if "^" in value:  # DICOM PN: Family^Given^Middle
            last, first = long_toks[0], long_toks[1]
        out.add(rf"{re.escape(last)},?\s*{re.escape(first)}")
        out.add(rf"{re.escape(first)}\s+(?:[^\W\d_]\.?\s+)?{re.escape(last)}")
        out.add(rf"{re.escape(first[0])}\.\s*{re.escape(last)}")
        out.add(rf"{re.escape(first[0])}\.\s*{re.escape(last[0])}\.")
    return out


def _number_variants(value: str) -> set[str]:
    chars = re.sub(r"[^0-9A-Za-z]", "", value)
    if len(chars) < 3:
        return set()
    sep = r"[\s\-./()]*"
    out = {sep.join(re.escape(c) for c in chars)}
    stripped = chars.lstrip("0")
    if stripped != chars and len(stripped) >= 3:
        out.add(sep.join(re.escape(c) for c in stripped))
    if chars.isdigit() and len(chars) == 11 and chars.startswith("1"):
        out.add(sep.join(chars[1:]))
    return out


def _date_variants(value: str) -> set[str]:
    v = value.strip()
    p = parse_date(v)
    if p is None or p.year is None or p.month is None or p.day is None:
        return {_flex(v)}
    y, m, d = p.year, p.month, p.day
    mon, mon3 = _MONTHS[m - 1], _MONTHS[m - 1][:3]
    yy = f"{y % 100:02d}"
    sep = r"\s*[-/.]\s*"
    md = [rf"0?{m}{sep}0?{d}", rf"0?{d}{sep}0?{m}"]
    out = {rf"{a}{sep}(?:{y}|{yy})" for a in md}
    out |= {rf"{y}{sep}0?{m}{sep}0?{d}", f"{y}{m:02d}{d:02d}"}
    ordn = r"(?:st|nd|rd|th)?"
    for name in (mon, mon3 + r"\.?", "Sept" if m == 9 else mon):
        out.add(rf"{name}\s+0?{d}{ordn},?\s+(?:{y}|'?{yy})")
        out.add(rf"0?{d}{ordn}\s+(?:of\s+)?{name},?\s+(?:{y}|'?{yy})")
        out.add(rf"{name}[-\s]0?{d}[-\s]{y}")
    return out


# -- loading sidecars ---------------------------------------------------------------------

def load_known_file(path: str | Path, id_field: str = "note_id") -> dict[str, Known]:
    """Known identifiers keyed by note id, from a JSON object/JSONL or a CSV with ``id_field``.

    JSON: ``{"note-1": {"name": "...", "mrn": "..."}, ...}``; JSONL: one object per line with
    ``id_field``; CSV: a column ``id_field`` plus columns named as FIELDS (repeated columns and
    ``;``-separated values give several values).
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8-sig")  # spreadsheets often write a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read known-identifiers file {p}: {type(exc).__name__}") from None
    out: dict[str, Known] = {}
    if p.suffix.lower() == ".csv":
        reader = csv.reader(io.StringIO(raw, newline=""))  # quoted fields may hold newlines
        header = next(reader, None)
        if not header or id_field not in header:
            raise InputError(f"{p}: CSV needs a column named {id_field!r}")
        for ln, row in enumerate(reader, start=2):
            rec: dict[str, list[str]] = {}
            nid = None
            for col, val in zip(header, row, strict=False):
                if col == id_field:
                    nid = val.strip()
                elif val.strip():
                    rec.setdefault(col.strip().lower(), []).extend(
                        x.strip() for x in val.split(";") if x.strip())
            if not nid:
                raise InputError(f"{p}: line {ln} has no {id_field!r} value")
            out[nid] = Known.from_mapping(rec).merged(out.get(nid))
        return out
    try:
        if p.suffix.lower() == ".jsonl":
            items: Iterable[tuple[str, Mapping[str, object]]] = []
            recs = []
            for ln, line in enumerate(raw.splitlines(), start=1):
                if line.strip():
                    obj = json.loads(line)
                    if not isinstance(obj, dict) or id_field not in obj:
                        raise InputError(f"{p}: line {ln} needs an object with {id_field!r}")
                    recs.append((str(obj[id_field]), {k: v for k, v in obj.items() if k != id_field}))
            items = recs
        else:
            obj = json.loads(raw)
            if not isinstance(obj, dict):
                raise InputError(f"{p}: top level must map note ids to objects")
            items = [(str(k), v) for k, v in obj.items()]
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: invalid JSON at line {exc.lineno} column {exc.colno}") from None
    for nid, rec in items:
        if not isinstance(rec, dict):
            raise InputError(f"{p}: entry for a note id must be an object")
        out[nid] = Known.from_mapping(rec).merged(out.get(nid))
    return out
