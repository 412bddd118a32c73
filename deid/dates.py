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
    style: str  # "num", "num0" (zero padded), "num2" (two digits, 10-31), "yy", "yyyy", "full", ...
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
        elif len(digits) == 2:
            style = "num0" if digits.startswith("0") else "num2"
        else:
            style = "num"
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


def shift(p: ParsedDate, days: int, pad: bool | None = None, drop_year: bool = False) -> str:
    """Shift a parsed date by ``days`` and write it back in the original format.

    ``pad`` says whether two-digit fields that show no padding of their own (``30.07``) are
    zero padded when the new value has one digit; ``None`` decides from the date itself.
    ``drop_year`` leaves the year (and the separator before or after it) out.
    """
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
    return render(p, new.year, new.month, new.day, pad=pad, drop_year=drop_year)


def date_pad(p: ParsedDate) -> bool | None:
    """Whether the date's numeric day and month fields are zero padded (None: it does not say)."""
    styles = {f.style for f in p.fields if f.kind in "md"}
    if "num0" in styles:
        return True
    if "num" in styles:
        return False
    return None


def render(p: ParsedDate, year: int, month: int, day: int, pad: bool | None = None,
           drop_year: bool = False) -> str:
    """Write new field values into the parsed date's text, keeping its layout."""
    own = date_pad(p)
    named = any(f.kind == "m" and not f.style.startswith("num") for f in p.fields)
    if own is not None:
        pad2 = own
    elif named:  # "Dec 31" -> "Jan 1"
        pad2 = False
    else:  # "30.07.2016" -> "03.12.2015": keep the width unless the note writes 3.7.2016
        pad2 = True if pad is None else pad
    fields = list(p.fields)
    text = p.text
    if drop_year:
        years = [f for f in fields if f.kind == "y"]
        if years and len(fields) > 1:
            y = years[0]
            i = fields.index(y)
            if i == len(fields) - 1:  # "April 17, 1930": drop ", 1930"
                cut = (fields[i - 1].end, y.end)
            else:  # "1930-04-17": drop "1930-"
                cut = (y.start, fields[i + 1].start)
            text = text[:cut[0]] + text[cut[1]:]
            width = cut[1] - cut[0]
            fields = [f if f.end <= cut[0] else Field(f.kind, f.start - width, f.end - width, f.style,
                                                       f.case, f.ordinal)
                      for f in fields if f is not y]
    out: list[str] = []
    pos = 0
    for f in fields:
        out.append(text[pos:f.start])
        out.append(_render_field(f, text[f.start:f.end], year, month, day, pad2))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def infer_orders(texts: list[str], default: str = "MDY") -> dict[str, str]:
    """The day/month order of a note's numeric dates, per separator (``.``, ``/``, ``-``) and
    overall (key ``""``): day first (DMY) when more of them can only be read day first
    (``30.07.2016``) than only month first (``07/30/2016``), month first when the reverse, and
    for a separator without such dates the note's overall order (``default`` on a tie)."""
    votes: dict[str, list[int]] = {}
    for t in texts:
        t = t.strip()
        m = re.fullmatch(r"(\d{1,2})([./-])(\d{1,2})(?:\2(\d{2}|\d{4}))?", t)
        if m is None:
            continue
        a, b = int(m.group(1)), int(m.group(3))
        v = votes.setdefault(m.group(2), [0, 0])
        if 12 < a <= 31 and 1 <= b <= 12:
            v[0] += 1
        elif 12 < b <= 31 and 1 <= a <= 12:
            v[1] += 1

    def decide(dmy: int, mdy: int, fallback: str) -> str:
        return "DMY" if dmy > mdy else "MDY" if mdy > dmy else fallback

    overall = decide(sum(v[0] for v in votes.values()), sum(v[1] for v in votes.values()), default)
    out = {sep: decide(v[0], v[1], overall) for sep, v in votes.items()}
    out[""] = overall
    return out


def infer_order(texts: list[str], default: str = "MDY") -> str:
    """The overall day/month order of a note's numeric dates (see ``infer_orders``)."""
    return infer_orders(texts, default)[""]


def order_for(text: str, orders: dict[str, str]) -> str:
    """The order to read ``text`` in: that of its separator, else the note's."""
    m = re.search(r"\d([./-])\d", text)
    return orders.get(m.group(1), orders[""]) if m else orders[""]


def _render_field(f: Field, orig: str, year: int, month: int, day: int, pad2: bool = True) -> str:
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
    padded = f.style == "num0" or (f.style == "num2" and pad2)
    s = f"{val:02d}" if padded else str(val)
    if f.ordinal:
        suf = ordinal_suffix(val)
        s += suf.upper() if f.ordinal.isupper() else suf
    return s


def ordinal_suffix(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
