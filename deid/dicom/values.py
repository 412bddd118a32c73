"""Value transformations by VR: dummies, date shifts, age capping (no I/O, no logging)."""

from __future__ import annotations

import re
from datetime import date, timedelta

# Non-zero-length dummy values valid for each VR (PS3.5 6.2 lengths and character repertoires).
DUMMY_TEXT = {
    "AE": "ANONYMOUS", "CS": "ANONYMIZED", "LO": "ANONYMIZED", "SH": "ANONYMIZED",
    "LT": "ANONYMIZED", "ST": "ANONYMIZED", "UT": "ANONYMIZED", "UC": "ANONYMIZED",
    "UR": "urn:oid:2.25.0", "DA": "19000101", "TM": "000000", "DT": "19000101000000",
    "AS": "000D", "IS": "0", "DS": "0",
}
NUMERIC_BINARY = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"})
BYTES_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "PN", "AE", "CS"})

MAX_AGE_YEARS = 89
_AS_RE = re.compile(r"^(\d{3})([DWMY])$")
_DA_RE = re.compile(r"^(\d{4})(\d{2})?(\d{2})?$")


def dummy_for_vr(vr: str) -> object:
    """A non-zero-length dummy value for ``vr`` (bytes for binary VRs)."""
    if vr in DUMMY_TEXT:
        return DUMMY_TEXT[vr]
    if vr in NUMERIC_BINARY:
        return 0
    if vr in BYTES_VRS:
        return b"\x00\x00"
    if vr == "PN":
        return "ANONYMOUS"
    return "ANONYMIZED"


def zero_for_vr(vr: str) -> object:
    if vr in BYTES_VRS:
        return b""
    if vr in NUMERIC_BINARY:
        return None
    return ""


def age_over_limit(value: str) -> bool:
    """True when an AS value (e.g. ``095Y``) is over 89 years."""
    m = _AS_RE.match(value.strip())
    if not m:
        return False
    n, unit = int(m.group(1)), m.group(2)
    days = {"D": 1, "W": 7, "M": 30.4375, "Y": 365.25}[unit] * n
    return days > MAX_AGE_YEARS * 365.25 + 365.25 - 1  # 90 years or more


def cap_age(value: str) -> str:
    """``090Y`` for ages of 90 or more; a malformed Age String is emptied (recall first)."""
    v = value.strip()
    if v and not _AS_RE.match(v):
        return ""
    return "090Y" if age_over_limit(v) else value


def shift_da(value: str, days: int) -> str | None:
    """Shift one DA value (YYYYMMDD, or the partial YYYY / YYYYMM some writers use).

    Returns None when the value cannot be parsed (the caller removes it: recall first).
    """
    v = value.strip()
    if not v:
        return v
    m = _DA_RE.match(v)
    if not m:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        new = date(y, mo, d) + timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    if m.group(3):
        return f"{new.year:04d}{new.month:02d}{new.day:02d}"
    if m.group(2):
        return f"{new.year:04d}{new.month:02d}"
    return f"{new.year:04d}"


def shift_da_value(value: str, days: int) -> str | None:
    """A DA value that may be a range ``A-B`` (query form) shifted part by part."""
    parts = value.split("-")
    out = [shift_da(p, days) if p else "" for p in parts]
    return None if any(o is None for o in out) else "-".join(o for o in out if o is not None)


def shift_dt(value: str, days: int) -> str | None:
    """Shift the date part of a DT value (YYYYMMDDHHMMSS.FFFFFF&ZZXX); time stays as is."""
    v = value.strip()
    if not v:
        return v
    m = re.match(r"^(\d{4}(?:\d{2}(?:\d{2})?)?)(.*)$", v)
    if not m:
        return None
    d = shift_da(m.group(1), days)
    if d is None:
        return None
    return d + m.group(2)
