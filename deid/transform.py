"""Apply a policy to resolved spans: redact, tag, mask, surrogate, shift, zip3, age90, keep."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from deid.dates import ParsedDate, date_pad, infer_orders, order_for, parse_date, shift
from deid.key import Key, normalize
from deid.labels import load_labels
from deid.policy import Policy
from deid.span import Span
from deid.surrogates import NAME_LABELS, match_case, surrogate

# a year alone: 1998, '98, the 1990s, '90s (a bare two-digit number is not taken for a year)
_YEAR_ONLY = re.compile(r"\s*(?:in\s+)?(?:(?:1[89]|2[01])\d{2}s?|['’]\d{2}s?|\d{2}s)\s*", re.IGNORECASE)
_AGE_NUM = re.compile(r"\d+(?:\.\d+)?")
_AGE_WORDS = re.compile(
    r"(?i)\b(?:(?:one\s+)?hundred(?:\s+and)?[\s-]*)?(?:ninety|one\s+hundred|hundred)(?:[\s-]+\w+)?"
)


@dataclass(frozen=True)
class Change:
    """One audit record. ``where`` is ``text:START-END``; it never holds the original text."""

    where: str
    label: str
    source: str
    action: str
    score: float

    def to_dict(self) -> dict[str, object]:
        return {"where": self.where, "label": self.label, "source": self.source,
                "action": self.action, "score": round(self.score, 4)}


def _group(label: str) -> str:
    return "NAME" if label in NAME_LABELS else label


def age90(original: str) -> str:
    if _AGE_NUM.search(original):
        return _AGE_NUM.sub("90+", original, count=1)
    return "90+" if not _AGE_WORDS.search(original) else _AGE_WORDS.sub("90+", original, count=1)


def zip3(original: str, restricted: frozenset[str]) -> str:
    digits = re.sub(r"\D", "", original)
    if len(digits) < 5:
        return re.sub(r"\d", "X", original)
    head = "000" if digits[:3] in restricted else digits[:3]
    out, seen = [], 0
    for ch in original:
        if ch.isdigit():
            out.append(head[seen] if seen < 3 else "X")
            seen += 1
        else:
            out.append(ch)
    return "".join(out)


# where a date's own text says it is a birth date ("DOB", "born on", "date of birth: ")
_BIRTH_CUE = re.compile(
    r"(?i)(?:\bdob|\bd\.o\.b\.?|\bdate\s+of\s+birth|\bbirth\s*(?:date|day)|\bborn(?:\s+on|\s+in)?"
    r"|\bb\.)[\s:#=.-]*(?:\w+[ \t]+){0,1}$"
)
# pieces of a span that parse as a date on their own (for spans that hold more than a date)
_DATE_PIECE = re.compile(
    r"(?i)(?<!\d)\d{1,4}[./-]\d{1,2}(?:[./-](?:\d{4}|\d{2}))?(?!\d)"
    r"|(?:\d{1,2}(?:st|nd|rd|th)?[ \t-]+(?:of[ \t]+)?)?"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
    r"(?:[ \t-]+\d{1,2}(?:st|nd|rd|th)?\b)?(?:,?[ \t-]*(?:\d{4}|['’]\d{2})\b)?"
)
_JOINERS = frozenset({"on", "and", "to", "from", "through", "thru", "until", "till", "or", "of",
                      "the", "between", "at", "since", "by", "in", "vs"})
_ARTICLE = re.compile(r"(?<![\w'’])([Aa]n?)(\s+)$")


@dataclass(frozen=True)
class DatePlan:
    """How one note's dates are rewritten.

    ``orders``: the note's day/month order per date separator and overall (key ``""``): the
    policy's, or inferred from its unambiguous dates when the policy says ``auto``
    (``deid.dates.infer_orders``). ``pad``: whether the note zero pads day and month.
    ``over89``: the note shows a patient older than 89, so ``no_year`` (the start offsets of
    the DATE spans that reveal the age: birth dates and dates 90 or more years before the
    note's latest date) lose their year (45 CFR 164.514(b)(2)(i)(C)).
    """

    orders: dict[str, str] = field(default_factory=lambda: {"": "MDY"})
    pad: bool | None = None
    offset: int = 0
    over89: bool = False
    no_year: frozenset[int] = frozenset()


def _parse(original: str, order: str) -> ParsedDate | None:
    """Parse in the note's order, then in the other one (``3/14`` in a day-first note)."""
    if _YEAR_ONLY.fullmatch(original):
        return None
    p = parse_date(original, order=order)
    if p is None:
        p = parse_date(original, order="MDY" if order == "DMY" else "DMY")
    return p


def _age_value(original: str) -> int | None:
    m = _AGE_NUM.search(original)
    if m:
        return int(float(m.group()))
    if _AGE_WORDS.search(original):
        return 90
    return None


def _is_birth(text: str, sp: Span) -> bool:
    line_start = text.rfind("\n", 0, sp.start) + 1
    return bool(_BIRTH_CUE.search(text[max(line_start, sp.start - 30):sp.start]))


def _years_between(a: dt.date, b: dt.date) -> int:
    return b.year - a.year - ((b.month, b.day) < (a.month, a.day))


def _as_date(p: ParsedDate) -> dt.date | None:
    if p.year is None:
        return None
    try:
        return dt.date(p.year, p.month or 1, p.day or 1)
    except ValueError:
        return None


def plan_dates(text: str, spans: list[Span], policy: Policy, offset: int,
               today: dt.date | None = None) -> DatePlan:
    """Look at all of a note's dates and ages before any is rewritten (see ``DatePlan``)."""
    dates = [sp for sp in spans if sp.label == "DATE"]
    originals = [text[sp.start:sp.end] for sp in dates]
    forced = str(policy.options.get("date_order", "auto"))
    orders = {"": forced} if forced in ("MDY", "DMY") else infer_orders(originals)
    parsed = {sp.start: _parse(o.strip(), order_for(o, orders))
              for sp, o in zip(dates, originals, strict=True)}
    pads = {date_pad(p) for p in parsed.values() if p is not None}
    pad = True if True in pads else (False if False in pads else None)
    births = {sp.start for sp in dates if _is_birth(text, sp)}
    events = [d for st, p in parsed.items() if p is not None and st not in births
              and (d := _as_date(p)) is not None]
    ref = max(events) if events else (today or dt.date.today())
    over89 = any((a := _age_value(text[sp.start:sp.end])) is not None and a >= 90
                 for sp in spans if sp.label == "AGE")
    birth_dates: list[dt.date] = []
    for sp in dates:
        if sp.start not in births:
            continue
        p = parsed[sp.start]
        if p is not None and (d := _as_date(p)) is not None:
            birth_dates.append(d)
        elif (y := re.search(r"(?:1[89]|2[01])\d{2}", text[sp.start:sp.end])) is not None:
            birth_dates.append(dt.date(int(y.group()), 12, 31))
    over89 = over89 or any(_years_between(b, ref) >= 90 for b in birth_dates)
    no_year: set[int] = set()
    if over89:
        for sp in dates:
            p = parsed[sp.start]
            year = p.year if p is not None else None
            if year is None and (y := re.search(r"(?:1[89]|2[01])\d{2}", text[sp.start:sp.end])):
                year = int(y.group())
            if sp.start in births or (year is not None and year <= ref.year - 90):
                no_year.add(sp.start)
    return DatePlan(orders, pad, offset, over89, frozenset(no_year))


def shift_date(original: str, order: str, offset: int, key: Key, pad: bool | None = None,
               drop_year: bool = False, tag: str = "[DATE]") -> tuple[str, str]:
    """Shift a date in its own format; a year alone is kept (Safe Harbor).

    ``drop_year`` (a date that shows an age over 89) shifts the day and month and leaves the
    year out, a year alone becomes ``tag``. A span that holds more than a date (``13.07.1999 /
    27``) has each date in it shifted and the rest replaced by ``tag``; one with no date at all
    becomes ``tag``. Nothing is ever scrambled character by character.
    """
    if _YEAR_ONLY.fullmatch(original):
        return (tag, "redact-year") if drop_year else (original, "keep-year")
    lead = original[:len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()):]
    core = original.strip()
    parsed = _parse(core, order)
    if parsed is not None:
        return lead + _shift_parsed(parsed, offset, pad, drop_year, tag) + trail, (
            "shift-no-year" if drop_year else "shift")
    out: list[str] = []
    pos = 0
    found = False
    for m in _DATE_PIECE.finditer(original):
        p = _parse(m.group(), order)
        if p is None:
            continue
        out.append(_tag_rest(original[pos:m.start()], tag, drop_year))
        out.append(_shift_parsed(p, offset, pad, drop_year, tag))
        pos = m.end()
        found = True
    if not found:
        return lead + tag + trail, "shift-fallback"
    out.append(_tag_rest(original[pos:], tag, drop_year))
    return "".join(out), "shift-fallback"


def _shift_parsed(p: ParsedDate, offset: int, pad: bool | None, drop_year: bool, tag: str) -> str:
    if drop_year and p.year is not None:
        fields = p.fields
        compact = all(a.end == b.start for a, b in zip(fields, fields[1:], strict=False))
        if compact or p.month is None or p.day is None:
            return tag  # 19300417 or "April 1930": nothing worth keeping without the year
        return shift(p, offset, pad=pad, drop_year=True)
    return shift(p, offset, pad=pad)


def _tag_rest(piece: str, tag: str, drop_year: bool) -> str:
    """What is left of a DATE span between its dates: separators stay, the rest is ``tag``."""
    if not any(c.isalnum() for c in piece):
        return piece
    if _YEAR_ONLY.fullmatch(piece) and not drop_year:
        return piece
    if all(w in _JOINERS for w in re.findall(r"\w+", piece)):  # "3/4 and 3/9", "on 3/4"
        return piece
    lead = piece[:len(piece) - len(piece.lstrip(" \t\n/,;-"))]
    trail = piece[len(piece.rstrip(" \t\n/,;-")):]
    return lead + tag + trail


def _article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (by its sound, roughly: an hour, a unit, an MRI)."""
    w = word.strip()
    if not w:
        return "a"
    first = w.split()[0]
    if first.isupper() and len(first) > 1:
        return "an" if first[0] in "AEFHILMNORSX" else "a"
    low = first.casefold()
    if low.startswith(("hour", "honest", "honor", "honour", "heir")):
        return "an"
    if re.match(r"u[bcdfghjklmnpqrstvwxyz][aeiou]", low) and not low.startswith(("un", "ut", "ug")):
        return "a"  # a unit, a urologist, a user
    if low.startswith(("uni", "eu", "one", "once", "ewe", "uk")):
        return "a"
    return "an" if low[0] in "aeiou" else "a"


def _fix_article(before: str, new: str) -> str:
    """Make an ``a``/``an`` right before a replaced span agree with the replacement."""
    m = _ARTICLE.search(before)
    if m is None:
        return before
    art = _article(new)
    if m.group(1).casefold() == art:
        return before
    art = art[0].upper() + art[1:] if m.group(1)[0].isupper() else art
    return before[:m.start(1)] + art + m.group(2)


# labels whose surrogate is one entity in a note whatever label each mention got
_PLACE_OR_ORG = {"HOSPITAL", "ORGANIZATION", "CITY", "LOCATION", "COUNTY", "STATE", "COUNTRY",
                 "STREET"}


def _entity_key(original: str) -> str:
    return re.sub(r"['’]s?$", "", normalize(original)).strip(" .,")


def apply(
    text: str,
    spans: list[Span],
    policy: Policy,
    key: Key,
    patient: str,
) -> tuple[str, list[Change], list[tuple[str, str, str]]]:
    """Return the new text, the audit changes and the (label, original, replacement) mappings."""
    labels = load_labels()
    lo, hi = policy.shift_range
    offset = key.day_offset(patient, lo, hi)
    ordered = sorted(spans, key=lambda s: s.start)
    plan = plan_dates(text, ordered, policy, offset)
    fmt = str(policy.options["tag_format"])
    date_tag = "[" + (labels.labels["DATE"].tag if "DATE" in labels else "DATE") + "]"
    numbering: dict[tuple[str, str], int] = {}
    entities: dict[str, str] = {}
    pieces: list[str] = []
    changes: list[Change] = []
    mappings: list[tuple[str, str, str]] = []
    pos = 0
    for sp in ordered:
        if sp.start < pos:
            raise ValueError("apply() needs resolved, non-overlapping spans")
        original = text[sp.start:sp.end]
        action = policy.action(sp.label)
        new = original
        if action == "keep":
            pass
        elif action == "redact":
            new = str(policy.options["redact_text"])
        elif action == "mask":
            ch = str(policy.options["mask_char"])
            new = "".join(c if c.isspace() else ch for c in original)
        elif action == "tag":
            tag = labels.labels[sp.label].tag if sp.label in labels else sp.label
            grp = (_group(sp.label), normalize(original))
            n = numbering.setdefault(grp, len([g for g in numbering if g[0] == grp[0]]) + 1)
            num = key.integer("tag", *grp) % 10_000
            new = fmt.format(tag=tag, label=sp.label, n=n, num=num)
        elif action == "shift" or (action == "surrogate" and sp.label == "DATE"):
            new, action = shift_date(original, order_for(original, plan.orders), offset, key,
                                     pad=plan.pad,
                                     drop_year=sp.start in plan.no_year, tag=date_tag)
        elif action == "zip3":
            new = zip3(original, policy.restricted_zip3)
        elif action == "age90":
            new = age90(original)
        elif action == "surrogate":
            if sp.label == "AGE":
                new = age90(original)
            elif sp.label == "ZIP":
                new = zip3(original, policy.restricted_zip3)
            elif sp.label in _PLACE_OR_ORG and _entity_key(original) in entities:
                new = _same_entity(original, entities[_entity_key(original)])
            else:
                new = surrogate(key, sp.label, original)
                if sp.label in _PLACE_OR_ORG:
                    entities.setdefault(_entity_key(original), new)
        before = text[pos:sp.start]
        if new != original and action not in ("redact", "tag", "mask"):
            before = _fix_article(before, new)
        pieces.append(before)
        pieces.append(new)
        pos = sp.end
        changes.append(Change(f"text:{sp.start}-{sp.end}", sp.label, sp.source, action, float(sp.score)))
        if new != original:
            mappings.append((sp.label, original, new))
    pieces.append(text[pos:])
    return "".join(pieces), changes, mappings


def _same_entity(original: str, first: str) -> str:
    """The surrogate of an entity's first mention, in this mention's case and possessive."""
    base = re.sub(r"['’]s?$", "", first)
    poss = re.search(r"['’]s?$", original)
    out = base + (poss.group() if poss else "")
    return match_case(original, out) if original.isupper() or original.islower() else out
