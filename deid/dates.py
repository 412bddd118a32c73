"""Parsing and format-preserving rewriting of the many ways clinicians write dates.

``parse_date`` splits a date string into fields (year, month, day) and remembers where and how
each field was written (digits, zero padding, month names, ordinals, 2-digit years). ``render``
writes new field values back into the same string, so ``3/14/62`` shifted by -30 days becomes
``2/12/62`` and ``March 14th`` becomes ``February 12th``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}
MONTH_ABBR = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_TOKEN = re.compile(r"(?P<apos>['’]\d{2}\b)|(?P<num>\d+)(?P<ord>st|nd|rd|th)?|(?P<word>[A-Za-z]+)")


@dataclass(frozen=True)
class Field:
    kind: str  # "y", "m", "d"
    start: int
    end: int
    style: str  # "num", "num0" (zero padded), "yy", "yyyy", "full", "abbr", "sept"
    case: str = ""  # "upper", "title", "lower" for month names
    ordinal: str = ""  # original ordinal suffix, e.g. "th"


@dataclass(frozen=True)
class ParsedDate:
    text: str
    fields: tuple[Field, ...]
    year: int | None
    month: int | None
    day: int | None

    @property
    def has(self) -> str:
        return "".join(k for k in "ymd" if getattr(self, {"y": "year", "m": "month", "d": "day"}[k]) is not None)


def _case(word: str) -> str:
    if word.isupper() and len(word) > 1:
        return "upper"
    if word[:1].isupper():
        return "title"
    return "lower"


def _year4(yy: int, pivot: int) -> int:
    return 2000 + yy if yy <= pivot else 1900 + yy


def parse_date(text: str, order: str = "MDY", pivot: int = 30) -> ParsedDate | None:
    """Parse a date-like string; return None when it is not a calendar-valid date."""
    nums: list[tuple[int, int, str, str]] = []  # start, end, digits, ordinal
    month: tuple[int, int, int, str, str] | None = None
    apos: tuple[int, int] | None = None
    for m in _TOKEN.finditer(text):
        if m.group("apos"):
            apos = (m.start() + 1, m.end())
        elif m.group("num"):
            nums.append((m.start("num"), m.end(), m.group("num"), m.group("ord") or ""))
        else:
            w = m.group("word")
            lw = w.lower()
            if lw in MONTHS or lw in MONTH_ABBR:
                if month is not None:
                    return None
                style = "full" if lw in MONTHS else ("sept" if lw == "sept" else "abbr")
                month = (m.start(), m.end(), MONTHS.get(lw) or MONTH_ABBR[lw], style, _case(w))
            elif lw in {"of", "the"}:
                continue
            else:
                return None
    fields: list[Field] = []
    y = mo = d = None

    def numfield(kind: str, tok: tuple[int, int, str, str]) -> Field:
        s, e, digits, ordn = tok
        if kind == "y":
            style = "yyyy" if len(digits) == 4 else "yy"
        else:
            style = "num0" if len(digits) == 2 and digits.startswith("0") else "num"
        return Field(kind, s, e, style, ordinal=ordn)

    if month is not None:
        ms, me, mo, mstyle, mcase = month
        fields.append(Field("m", ms, me, mstyle, mcase))
        for tok in nums:
            digits = tok[2]
            if len(digits) == 4 and y is None and not tok[3]:
                y = int(digits)
                fields.append(numfield("y", tok))
            elif len(digits) <= 2 and d is None and 1 <= int(digits) <= 31:
                d = int(digits)
                fields.append(numfield("d", tok))
            elif len(digits) == 2 and y is None and d is not None and not tok[3]:
                y = _year4(int(digits), pivot)
                fields.append(numfield("y", tok))
            else:
                return None
        if apos is not None:
            if y is not None:
                return None
            y = _year4(int(text[apos[0]:apos[1]]), pivot)
            fields.append(Field("y", apos[0], apos[1], "yy"))
    else:
        if apos is not None:
            return None
        if len(nums) == 1:
            s, e, digits, ordn = nums[0]
            if len(digits) == 8 and not ordn:  # compact YYYYMMDD
                y, mo, d = int(digits[:4]), int(digits[4:6]), int(digits[6:])
                fields = [Field("y", s, s + 4, "yyyy"), Field("m", s + 4, s + 6, "num0"),
                          Field("d", s + 6, e, "num0")]
            elif ordn and 1 <= int(digits) <= 31:  # "the 14th"
                d = int(digits)
                fields.append(numfield("d", nums[0]))
            else:
                return None
        elif len(nums) == 2:
            a, b = nums
            if len(b[2]) == 4:  # M/YYYY
                mo, y = int(a[2]), int(b[2])
                fields += [numfield("m", a), numfield("y", b)]
            elif len(a[2]) == 4:  # YYYY-MM
                y, mo = int(a[2]), int(b[2])
                fields += [numfield("y", a), numfield("m", b)]
            elif int(b[2]) > 31 and len(b[2]) == 2 and int(a[2]) <= 12:  # M/YY, e.g. 9/99
                mo, y = int(a[2]), _year4(int(b[2]), pivot)
                fields += [numfield("m", a), Field("y", b[0], b[1], "yy")]
            elif order == "DMY" or (int(a[2]) > 12 and int(b[2]) <= 12):
                d, mo = int(a[2]), int(b[2])
                fields += [numfield("d", a), numfield("m", b)]
            else:
                mo, d = int(a[2]), int(b[2])
                fields += [numfield("m", a), numfield("d", b)]
        elif len(nums) == 3:
            a, b, c = nums
            if len(a[2]) == 4:
                kinds = ("y", "m", "d")
            elif order == "DMY" or (int(a[2]) > 12 and int(b[2]) <= 12):  # 14.03.1962
                kinds = ("d", "m", "y")
            else:
                kinds = ("m", "d", "y")
            vals = {}
            for kind, tok in zip(kinds, (a, b, c), strict=True):
                if kind == "y" and len(tok[2]) not in (2, 4):
                    return None
                if kind != "y" and len(tok[2]) > 2:
                    return None
                vals[kind] = int(tok[2])
                fields.append(numfield(kind, tok))
            y, mo, d = vals["y"], vals["m"], vals["d"]
            if len(c[2] if kinds[2] == "y" else a[2]) == 2:
                y = _year4(y, pivot)
        else:
            return None
    if mo is not None and not 1 <= mo <= 12:
        return None
    if d is not None:
        if not 1 <= d <= 31:
            return None
        if mo is not None:
            yr = y if y is not None else 2000  # leap year admits Feb 29
            if d > calendar.monthrange(yr, mo)[1]:
                return None
    if y is not None and not 1800 <= y <= 2199:
        return None
    if mo is None and d is None:
        return None
    return ParsedDate(text, tuple(sorted(fields, key=lambda f: f.start)), y, mo, d)


def shift(p: ParsedDate, days: int) -> str:
    """Shift a parsed date by ``days`` and write it back in the original format."""
    ref_year = p.year if p.year is not None else (2000 if (p.month, p.day) == (2, 29) else 2001)
    ref_month = p.month if p.month is not None else 1
    ref_day = p.day if p.day is not None else 15
    if p.day is None:
        # month precision: shift the middle of the month so the month moves with the offset
        base = dt.date(ref_year, ref_month, ref_day)
    else:
        base = dt.date(ref_year, ref_month, min(ref_day, calendar.monthrange(ref_year, ref_month)[1]))
    new = base + dt.timedelta(days=days)
    if p.month is None:  # day only ("the 14th"): keep the day-of-month arithmetic in one month
        new = dt.date(2001, 1, 1) + dt.timedelta(days=(ref_day - 1 + days) % 28)
    return render(p, new.year, new.month, new.day)


def render(p: ParsedDate, year: int, month: int, day: int) -> str:
    out: list[str] = []
    pos = 0
    for f in p.fields:
        out.append(p.text[pos:f.start])
        out.append(_render_field(f, p.text[f.start:f.end], year, month, day))
        pos = f.end
    out.append(p.text[pos:])
    return "".join(out)


def _render_field(f: Field, orig: str, year: int, month: int, day: int) -> str:
    if f.kind == "y":
        return f"{year % 100:02d}" if f.style == "yy" else f"{year:04d}"
    if f.kind == "m" and f.style in ("full", "abbr", "sept"):
        name = calendar.month_name[month]
        if f.style == "abbr" or (f.style == "sept" and month != 9):
            name = calendar.month_abbr[month]
        elif f.style == "sept":
            name = "Sept"
        if f.case == "upper":
            return name.upper()
        return name.lower() if f.case == "lower" else name
    val = month if f.kind == "m" else day
    s = f"{val:02d}" if f.style == "num0" or (len(orig) == 2 and f.kind == "m" and orig[0] == "0") else str(val)
    if f.ordinal:
        suf = ordinal_suffix(val)
        s += suf.upper() if f.ordinal.isupper() else suf
    return s


def ordinal_suffix(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
