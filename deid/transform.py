"""Apply a policy to resolved spans: redact, tag, mask, surrogate, shift, zip3, age90, keep."""

from __future__ import annotations

import re
from dataclasses import dataclass

from deid.dates import parse_date, shift
from deid.key import Key, normalize
from deid.labels import load_labels
from deid.policy import Policy
from deid.span import Span
from deid.surrogates import NAME_LABELS, keyed_chars, surrogate

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


def shift_date(original: str, order: str, offset: int, key: Key) -> tuple[str, str]:
    """Shift a date in its own format; a year alone is kept (Safe Harbor); anything that
    cannot be parsed is replaced character by character rather than left in place."""
    if _YEAR_ONLY.fullmatch(original):
        return original, "keep-year"
    parsed = parse_date(original, order=order)
    if parsed is None:
        return keyed_chars(key, "date", original), "shift-fallback"
    return shift(parsed, offset), "shift"


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
    order = str(policy.options.get("date_order", "MDY"))
    fmt = str(policy.options["tag_format"])
    numbering: dict[tuple[str, str], int] = {}
    pieces: list[str] = []
    changes: list[Change] = []
    mappings: list[tuple[str, str, str]] = []
    pos = 0
    for sp in sorted(spans, key=lambda s: s.start):
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
            new, action = shift_date(original, order, offset, key)
        elif action == "zip3":
            new = zip3(original, policy.restricted_zip3)
        elif action == "age90":
            new = age90(original)
        elif action == "surrogate":
            if sp.label == "AGE":
                new = age90(original)
            elif sp.label == "ZIP":
                new = zip3(original, policy.restricted_zip3)
            else:
                new = surrogate(key, sp.label, original)
        pieces.append(text[pos:sp.start])
        pieces.append(new)
        pos = sp.end
        changes.append(Change(f"text:{sp.start}-{sp.end}", sp.label, sp.source, action, float(sp.score)))
        if new != original:
            mappings.append((sp.label, original, new))
    pieces.append(text[pos:])
    return "".join(pieces), changes, mappings
