"""Leak checker: no identifying input value may survive anywhere in a de-identified output.

Identifying values are the values of every attribute, at any depth, whose action is not K
(keep), every PN value, and every private value. A value survives when it occurs (case-
insensitively) in any string value of the output dataset, or when its encoded bytes occur in the
output file. Findings name tags and keyed hashes only, never values.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID
from pydicom.valuerep import PersonName

from deid.dicom.header import HeaderEngine
from deid.dicom.identifiers import collect
from deid.dicom.values import DUMMY_TEXT

# unkeyed hashes of short values (names, dates) can be reversed by guessing: salt them
_SALT = os.urandom(16)
MIN_CHARS = 4
MIN_BYTES = 8
IGNORE_PREFIXES = ("1.2.840.10008.",)  # well-known DICOM UIDs (SOP classes, syntaxes)
DUMMIES = frozenset({str(v).upper() for v in DUMMY_TEXT.values()} | {"ANONYMOUS", "ANON"})
STRINGY = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST",
                     "TM", "UC", "UI", "UR", "UT"})


CLEANED_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "AE", "CS"})


@dataclass(frozen=True)
class Leak:
    path: str
    where: str  # "dataset" or "bytes"
    value_hash: str  # salted sha256 prefix of the value (no value; the salt is per process)


def _walk(ds: Dataset, path: str = "") -> Iterator[tuple[str, DataElement]]:
    for tag in list(ds.keys()):
        if tag >> 16 == 0x7FE0:
            continue
        elem = ds[tag]
        p = f"{path}({tag >> 16:04X},{tag & 0xFFFF:04X})"
        yield p, elem
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or []):
                yield from _walk(item, f"{p}[{i}]>")


def _strings(elem: DataElement) -> list[str]:
    v = elem.value
    items = list(v) if isinstance(v, MultiValue | list | tuple) else [v]
    out: list[str] = []
    for it in items:
        if it is None:
            continue
        if isinstance(it, PersonName):
            out.append(str(it))
            out.extend(c for c in str(it).replace("=", "^").split("^"))
        elif isinstance(it, bytes):
            continue
        else:
            out.append(str(it))
    return [s.strip() for s in out if s and len(s.strip()) >= MIN_CHARS]


def identifying_values(ds: Dataset, engine: HeaderEngine,
                       cleaned_text_ok: bool = False) -> dict[str, set[str]]:
    """path -> identifying string values of the input dataset.

    ``cleaned_text_ok``: free text under a Clean (C) action may survive where the text engine
    found nothing to remove; the identifiers collected from the header (names, IDs, dates,
    addresses...) are then checked everywhere instead (``known:<kind>`` paths).
    """
    found: dict[str, set[str]] = {}
    kept: set[str] = set()
    keeps_time = bool({"retain_long_modified_dates", "retain_long_full_dates"} & engine.options)
    for path, elem in _walk(ds):
        tag = int(elem.tag)
        if tag >> 16 == 0x0002 or elem.VR == "SQ":
            continue
        private = bool((tag >> 16) & 1)
        action = engine.action_for(tag, elem.VR)[0]
        if elem.VR == "TM" and action == "C" and keeps_time:
            action = "K"  # times are kept with the longitudinal options
        values = _strings(elem) if elem.VR in STRINGY or private else []
        if private and elem.VR in ("UN", "OB") and isinstance(elem.value, bytes):
            b = elem.value.rstrip(b"\x00 ")
            if len(b) >= MIN_BYTES and len(set(b)) > 2:
                values.append(b.decode("latin-1"))
        if action == "K" and not private and elem.VR != "PN":
            kept.update(values)
            continue
        if cleaned_text_ok and action == "C" and elem.VR in CLEANED_VRS:
            continue
        for v in values:
            if v.startswith(IGNORE_PREFIXES):
                continue
            found.setdefault(path, set()).add(v)
    if cleaned_text_ok:
        for kind, vals in collect(ds).items():
            found.setdefault(f"known:{kind}", set()).update(v for v in vals if len(v) >= MIN_CHARS)
    # a value that also occurs inside a kept value legitimately reaches the output
    kept_text = "\n".join(kept).lower()
    out = {p: {v for v in vs if v.lower() not in kept_text} for p, vs in found.items()}
    return {p: vs for p, vs in out.items() if vs}


def find_leaks(original: Dataset, output_path: str, engine: HeaderEngine,
               ignore: frozenset[str] = frozenset(), cleaned_text_ok: bool = False) -> list[Leak]:
    """Leaks of ``original``'s identifying values in the file at ``output_path``.

    ``ignore``: values (case-insensitive) that are not identifying in this test set, e.g. the
    input already holds a dummy such as ``Anonymized`` that our own dummies repeat.
    """
    ids = identifying_values(original, engine, cleaned_text_ok)
    skip = DUMMIES | {i.upper() for i in ignore}
    own = (PYDICOM_IMPLEMENTATION_UID + "\n" + "\n".join(DUMMIES)).upper()
    with open(output_path, "rb") as fh:
        raw = fh.read()
    raw_lower = raw.lower()
    out = dcmread(output_path)
    encodings = ["utf-8", "latin-1"]
    charset = original.get("SpecificCharacterSet")
    if charset:
        from pydicom.charset import convert_encodings

        with contextlib.suppress(LookupError, ValueError):
            encodings += convert_encodings(charset if isinstance(charset, str) else list(charset))
    out_text = "\n".join(s for _, e in _walk(out) if e.VR != "SQ"
                         for s in _strings(e) + [str(e.value)] if e.VR in STRINGY).lower()
    leaks: list[Leak] = []
    for path, values in sorted(ids.items()):
        for v in sorted(values):
            if v.upper() in skip or v.upper() in own:
                continue
            h = hashlib.sha256(_SALT + v.encode("utf-8", "replace")).hexdigest()[:12]
            if v.lower() in out_text:
                leaks.append(Leak(path, "dataset", h))
                continue
            for enc in encodings:
                try:
                    b = v.encode(enc).lower()
                except (UnicodeEncodeError, LookupError):
                    continue
                if b in raw_lower:
                    leaks.append(Leak(path, "bytes", h))
                    break
    return leaks
