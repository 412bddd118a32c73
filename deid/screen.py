"""Screening of NER model spans: shape per label, measurement and vocabulary vetoes.

The model learnt synthetic notes; on real clinical text it takes drug names, devices, nursing
shorthand and the numbers of vitals and labs for identifiers. A model span is checked against
its label's shape (relabelled or dropped when it does not fit), dropped when it lies inside an
allow-list span (a measurement, dose, score...), and dropped when every word of it is clinical
vocabulary (or, where case tells nothing, very common English) -- unless something
corroborates it: a known identifier, a PHI rule hit, or name context ("Dr. Bovie"). What is
checked and how is data: ``rules/screen.yaml``; the vocabulary is ``rules/vocab/``.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from deid.dates import parse_date
from deid.errors import RuleError
from deid.rulefile import load_wordlist, load_yaml, require, rules_path
from deid.span import Span, resolve, source_kind
from deid.validators import words_to_int

STAGES = ("shape", "measurements", "vocabulary")

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)*")
_HYPHENATED = re.compile(r"[A-Za-z0-9]+(?:[-/&][A-Za-z0-9]+)+")
_DIGITS = re.compile(r"\d")
_PAGER_WORDS = frozenset(
    ["pager", "pgr", "pg", "beeper", "bpr", "ext", "extension", "x", "page", "pager#", "tel", "phone", "ph", "cell", "call", "fax", "beep"]
)
_DATE_CONTEXT = frozenset(
    ["in", "since", "from", "until", "till", "to", "year", "yr", "yrs", "dated", "on", "of", "circa", "ca", "approx", "s/p"]
)
_MONTH_WORDS = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun"]
)
_FRAGMENT = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2}|\d{4})")
_ORDINAL = re.compile(r"(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)(?:\s+of)?", re.I)


# -- shapes: a closed set, named in rules/screen.yaml -----------------------------------------
def _email(t: str, before: str) -> bool:
    return bool(re.fullmatch(r"\S+@\S+\.\S+|\S+@\S+", t.strip()))


def _url(t: str, before: str) -> bool:
    t = t.strip()
    return "://" in t or t.lower().startswith("www.") or bool(
        re.fullmatch(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?:[/?#]\S*)?", t))


def _ip(t: str, before: str) -> bool:
    try:
        ipaddress.ip_address(t.strip())
    except ValueError:
        return False
    return True


def _phone(t: str, before: str) -> bool:
    n = len(_DIGITS.findall(t))
    if n >= 7:
        return True
    if n >= 2 and _prev_word(before).casefold() in {"x", "ext", "extension"}:
        return True  # an extension: "ext. 445"
    if n < 4:
        return False
    words = set(re.findall(r"[a-z#]+", (before[-14:] + " " + t).lower()))
    return bool(words & _PAGER_WORDS)


def _prev_word(before: str) -> str:
    m = re.search(r"([A-Za-z/'\u2019]+)[\s.:,]*$", before[-24:])
    return m.group(1) if m else ""


_TIME_TAIL = re.compile(r"(?:\s+|T)\d{1,2}:?\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?)?$")


def _date(t: str, before: str) -> bool:
    s = _TIME_TAIL.sub("", t.strip()) or t.strip()
    if parse_date(s) is not None or parse_date(s, order="DMY") is not None:
        return True
    low = s.lower()
    if any(w in _MONTH_WORDS for w in re.findall(r"[a-z]+", low)):
        return True
    m = _FRAGMENT.fullmatch(s)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        if 1 <= a <= 12 and (1 <= b <= 31 or len(m.group(2)) in (2, 4)):
            return True  # m/d, m/yy (4/00), m/yyyy
        return 1 <= b <= 12 and 1 <= a <= 31  # d/m
    m = _ORDINAL.fullmatch(s)
    if m:
        return 1 <= int(m.group(1)) <= 31
    if re.fullmatch(r"['\u2019]\d{2}", s):
        return True
    if re.fullmatch(r"\d{4}s?", s):
        return 1900 <= int(s[:4]) <= 2100
    if re.fullmatch(r"\d{1,2}", s) and re.search(r"\d{1,2}\s*[-/.]$", before):
        return True  # the end of a date the model cut in two ("11-|30")
    if re.fullmatch(r"\d{2}s?", s):  # "MI 97", "s/p CABG '88", "in 97": a year in context
        prev = _prev_word(before)
        return (before.rstrip().endswith(("'", "\u2019")) or prev.lower() in _DATE_CONTEXT
                or (prev.isupper() and prev.isalpha() and 2 <= len(prev) <= 6)
                or bool(re.search(r"\bs/p\b|['\u2019]\d{2}\b", before, re.I)))  # history list
    return False


def _age(t: str, before: str) -> bool:
    """An age that is PHI under Safe Harbor: 90 or more (younger ages are not identifiers)."""
    m = re.search(r"\d+(?:\.\d+)?", t)
    v: float | None = float(m.group()) if m else None
    if v is None:
        n = words_to_int(re.sub(r"[^A-Za-z -]", " ", t).strip() or "x")
        v = float(n) if n is not None else None
    return v is not None and 90 <= v <= 130 and len(_DIGITS.findall(t)) <= 3


def _id(t: str, before: str) -> bool:
    """An identifier: letters at most as a prefix or suffix, four digits or more, no decimals."""
    s = t.strip()
    return len(_DIGITS.findall(s)) >= 4 and bool(
        re.fullmatch(r"[A-Za-z]{0,4}[-#: ]?\d[\d -]*\d[A-Za-z]{0,2}", s))


def _zip(t: str, before: str) -> bool:
    return bool(re.fullmatch(r"\d{5}(?:-\d{4})?", t.strip()))


def _has_digit(t: str, before: str) -> bool:
    return bool(_DIGITS.search(t))


def _has_letter(t: str, before: str) -> bool:
    return any(c.isalpha() for c in t)


def _username(t: str, before: str) -> bool:
    return len(t.strip()) >= 3 and not any(c.isspace() for c in t.strip())


def _name(t: str, before: str) -> bool:
    """Letters, with at most two digits beside a word ("Contreras6" is a ward), not "C5"."""
    if not _DIGITS.search(t):
        return any(c.isalpha() for c in t)
    return bool(re.search(r"[A-Za-z]{2}", t)) and len(_DIGITS.findall(t)) <= 2


SHAPES: dict[str, Callable[[str, str], bool]] = {
    "email": _email, "url": _url, "ip": _ip, "phone": _phone, "date": _date, "age": _age,
    "zip": _zip, "id": _id, "has_digit": _has_digit, "has_letter": _has_letter, "username": _username,
    "name": _name,
}


# -- configuration -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScreenConfig:
    stages: tuple[str, ...]
    shapes: dict[str, tuple[str, tuple[str, ...]]]
    vocabulary_labels: frozenset[str]
    english_zipf: float
    english_zipf_if_name: float
    english_exempt: frozenset[str]
    clinical_max_zipf: float
    clinical_max_zipf_cased: float
    curated_only: frozenset[str]
    short_form_labels: frozenset[str]
    before: frozenset[str]
    after: frozenset[str]
    file: str = ""


def _words(x: Any, path: Path, key: str) -> frozenset[str]:
    require(isinstance(x, list) and all(isinstance(w, str) and w for w in x), path, key,
            "must be a list of words")
    return frozenset(w.casefold() for w in x)


@lru_cache(maxsize=8)
def load_screen(path: str | None = None) -> ScreenConfig:
    """Read and validate ``rules/screen.yaml``."""
    p = Path(path) if path else rules_path("screen.yaml")
    data = load_yaml(p)
    require(isinstance(data, dict), p, None, "top level must be a mapping")
    require(isinstance(data.get("provenance"), str), p, None, "missing 'provenance' string")
    known_keys = {"provenance", "stages", "shapes", "vocabulary_labels", "english_zipf",
                  "english_zipf_if_name", "english_exempt_labels", "name_context",
                  "clinical_max_zipf", "clinical_max_zipf_cased", "curated_only_labels",
                  "short_form_labels"}
    for k in data:
        require(k in known_keys, p, str(k), f"unknown key; known: {sorted(known_keys)}")
    from deid.labels import load_labels

    labels = load_labels()
    stages = data.get("stages", list(STAGES))
    require(isinstance(stages, list) and all(s in STAGES for s in stages), p, "stages",
            f"stages may name only {STAGES}")
    shapes: dict[str, tuple[str, tuple[str, ...]]] = {}
    raw = data.get("shapes") or {}
    require(isinstance(raw, dict), p, "shapes", "must be a mapping label -> {shape, else}")
    for label, spec in raw.items():
        require(label in labels, p, str(label), "unknown label (see rules/labels.yaml)")
        require(isinstance(spec, dict) and set(spec) <= {"shape", "else"}, p, str(label),
                "must be {shape: NAME, else: [LABEL...]}")
        shape = spec.get("shape")
        require(shape in SHAPES, p, str(label), f"unknown shape {shape!r}; known: {sorted(SHAPES)}")
        alt = spec.get("else") or []
        require(isinstance(alt, list) and all(a in labels for a in alt), p, str(label),
                "'else' must list known labels")
        shapes[str(label)] = (str(shape), tuple(str(a) for a in alt))

    def label_list(key: str) -> frozenset[str]:
        v = data.get(key) or []
        require(isinstance(v, list) and all(x in labels for x in v), p, key,
                "must list known labels")
        return frozenset(v)

    def zipf(key: str) -> float:
        v = data.get(key, 9.0)
        require(isinstance(v, int | float) and 0 <= v <= 9, p, key, "must be a number 0..9")
        return float(v)

    ctx = data.get("name_context") or {}
    require(isinstance(ctx, dict) and set(ctx) <= {"before", "after"}, p, "name_context",
            "must be {before: [...], after: [...]}")
    return ScreenConfig(
        stages=tuple(stages), shapes=shapes,
        vocabulary_labels=label_list("vocabulary_labels"),
        english_zipf=zipf("english_zipf"), english_zipf_if_name=zipf("english_zipf_if_name"),
        english_exempt=label_list("english_exempt_labels"),
        clinical_max_zipf=zipf("clinical_max_zipf"),
        clinical_max_zipf_cased=zipf("clinical_max_zipf_cased"),
        curated_only=label_list("curated_only_labels"),
        short_form_labels=label_list("short_form_labels"),
        before=_words(ctx.get("before", []), p, "name_context.before"),
        after=_words(ctx.get("after", []), p, "name_context.after"), file=str(p))


# -- vocabulary --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lexicon:
    """What the vocabulary stage asks of a word.

    ``curated``: project-curated clinical lists (shorthand, wards, devices, instruments, the
    allow-list drugs and eponyms), chosen to hold no usual names; ``clinical``: any clinical
    source (drug dictionary, ICD-10-CM words, abbreviations), broader and noisier.
    """

    curated: Callable[[str], bool]
    clinical: Callable[[str], bool]
    zipf: Callable[[str], float]
    phrases: frozenset[str]
    names: frozenset[str]
    abbreviation: Callable[[str], bool] = lambda w: False


CURATED_GROUPS = frozenset({"abbreviations", "units", "wards", "devices_lines",
                            "nursing_shorthand", "instruments_sutures"})


@lru_cache(maxsize=2)
def default_lexicon() -> Lexicon:
    """Clinical vocabulary (rules/vocab/) + the allow-list word lists + the name lists."""
    from deid.vocab import load_vocab

    # the committed vocabulary only: a machine-dependent dictionary (Hunspell's, when installed)
    # would make the same note come out differently on two machines
    vocab = load_vocab()
    extra = load_wordlist("drugs") | load_wordlist("eponyms") | load_wordlist("medical_terms")
    names = load_wordlist("first_names") | load_wordlist("surnames")

    def curated(w: str) -> bool:
        if w in extra:
            return True
        groups = vocab.sources(w) & CURATED_GROUPS
        # an abbreviation that is also a name (NASH, TED, ED) needs more than the list
        return bool(groups - {"abbreviations"} or (groups and w not in names))

    def abbreviation(w: str) -> bool:
        """Only an abbreviation in the curated lists (not a ward, unit or device)."""
        return w not in extra and vocab.sources(w) & CURATED_GROUPS <= {"abbreviations"}

    return Lexicon(curated, vocab.is_clinical, vocab.zipf,
                   vocab.phrases() | frozenset(e for e in extra if " " in e), names, abbreviation)


# -- screening ---------------------------------------------------------------------------------
@dataclass
class Screened:
    """The model spans kept (some relabelled) and those dropped with the stage that dropped them."""

    kept: list[Span] = field(default_factory=list)
    dropped: list[tuple[Span, str]] = field(default_factory=list)
    relabelled: list[tuple[Span, str]] = field(default_factory=list)


class _Intervals:
    def __init__(self, spans: Iterable[Span]) -> None:
        self.spans = resolve(list(spans))
        self.starts = [s.start for s in self.spans]

    def contains(self, s: Span) -> bool:
        i = bisect_right(self.starts, s.start) - 1
        return i >= 0 and s.end <= self.spans[i].end

    def overlaps(self, s: Span) -> bool:
        i = bisect_right(self.starts, s.end - 1) - 1
        return i >= 0 and self.spans[i].end > s.start


def _case_tells(text: str, start: int, word: str) -> bool:
    """Whether the case of ``word`` (at ``start``) is evidence of a name.

    A lower-case word never is; an all-capitals word only in mixed-case text; a capitalised
    word unless it starts a sentence, a line or a field (after ':').
    """
    if word.islower():
        return False
    if word.isupper():
        window = text[max(0, start - 150):start + len(word) + 150]
        letters = [c for c in window if c.isalpha()]
        return not letters or sum(c.isupper() for c in letters) / len(letters) <= 0.5
    lead = text[max(0, start - 3):start]
    return not (start == 0 or re.search(r"(?:[.!?:;]\s+|\n\s*|^\s*)$", lead))


class Screen:
    """Apply ``rules/screen.yaml`` to the model spans of one note."""

    def __init__(self, config: ScreenConfig | None = None, lexicon: Lexicon | None = None,
                 stages: Iterable[str] | None = None) -> None:
        self.config = config or load_screen()
        self.stages = frozenset(self.config.stages if stages is None else stages)
        bad = self.stages - set(STAGES)
        if bad:
            raise RuleError(self.config.file, "model_screen", f"unknown stage(s) {sorted(bad)}")
        self._lexicon = lexicon

    @property
    def lexicon(self) -> Lexicon:
        if self._lexicon is None:
            self._lexicon = default_lexicon()
        return self._lexicon

    def __call__(self, text: str, model: list[Span], support: list[Span],
                 allow: list[Span]) -> Screened:
        out = Screened()
        if not self.stages:
            out.kept = list(model)
            return out
        backed = _Intervals(support)
        inside = _Intervals(allow)
        for s in model:
            if support and backed.overlaps(s):
                out.kept.append(s)
                continue
            named = self._name_context(text, s)
            if "shape" in self.stages:
                label = self._shape(text, s)
                if label is None:
                    out.dropped.append((s, "shape"))
                    continue
                if label != s.label:
                    out.relabelled.append((s, label))
                    s = replace(s, label=label)
            if named:
                out.kept.append(s)
                continue
            if "measurements" in self.stages and allow and inside.contains(s):
                out.dropped.append((s, "measurements"))
                continue
            if "vocabulary" in self.stages and s.label in self.config.vocabulary_labels \
                    and self._ordinary(text, s):
                out.dropped.append((s, "vocabulary"))
                continue
            out.kept.append(s)
        return out

    def _shape(self, text: str, s: Span) -> str | None:
        spec = self.config.shapes.get(s.label)
        if spec is None:
            return s.label
        frag, before = text[s.start:s.end], text[max(0, s.start - 30):s.start]
        shape, alternatives = spec
        if SHAPES[shape](frag, before):
            return s.label
        for alt in alternatives:
            alt_spec = self.config.shapes.get(alt)
            if alt_spec is not None and SHAPES[alt_spec[0]](frag, before):
                return alt
        return None

    def _name_context(self, text: str, s: Span) -> bool:
        before = text[max(0, s.start - 24):s.start]
        m = re.search(r"([A-Za-z][A-Za-z/-]*)[.:,]?\s*$", before)
        if m and m.group(1).casefold() in self.config.before:
            return True
        after = text[s.end:s.end + 16]
        m = re.match(r"\s*,?\s*([A-Za-z][A-Za-z-]*)\b", after)
        return bool(m and m.group(1).casefold() in self.config.after)

    def _vetoable_word(self, word: str, label: str, tells: bool) -> bool:
        """A word that is no evidence of an identifier (see ``_ordinary``)."""
        lex, cfg = self.lexicon, self.config
        key = re.sub(r"['\u2019]s$", "", word).casefold()
        if label in cfg.short_form_labels and len(key) <= 4 and word.isalpha():
            # hospital and company short forms (RVH, EMH, CVS) collide with abbreviations:
            # only the curated ward, unit and device lists veto them
            return lex.curated(key) and not lex.abbreviation(key)
        if lex.curated(key):
            return True
        named = key in lex.names
        z = lex.zipf(key)
        if any(c.isdigit() for c in key):
            return lex.clinical(key)  # "b12", "a1c"; other tokens with digits are identifiers
        if label in cfg.curated_only:
            return False
        bar = cfg.clinical_max_zipf_cased if tells else cfg.clinical_max_zipf
        if not named and z < bar and lex.clinical(key):
            return True  # a specifically clinical word: levophed, hallux, marcaine
        if label in cfg.english_exempt or tells:
            return False
        return z >= (cfg.english_zipf_if_name if named else cfg.english_zipf)

    def _ordinary(self, text: str, s: Span) -> bool:
        """Every word of the span is clinical vocabulary or (where case tells nothing) common.

        Curated clinical lists veto any word; the broad clinical sources only words that are
        neither names nor common English; common English only where case tells nothing.
        """
        lex = self.lexicon
        frag = text[s.start:s.end]
        whole = " ".join(frag.casefold().split())
        if whole in ("st", "ste") and re.match(r"\.\s*[A-Za-z]|\s+[A-Z]", text[s.end:s.end + 3]):
            return False  # "St. Craig's": Saint, not sinus tachycardia
        if whole in lex.phrases or (len(whole) > 1 and lex.curated(whole)):
            return True
        covered = [False] * len(frag)
        seen = False
        for m in _HYPHENATED.finditer(frag):  # "A-line", "I&O", "s/p" as one word
            if lex.curated(m.group().casefold()):
                covered[m.start():m.end()] = [True] * (m.end() - m.start())
        for m in _TOKEN.finditer(frag):
            if all(covered[m.start():m.end()]):
                seen = True
                continue
            w = m.group()
            if len(w) < 2 and not w.isdigit():
                return False  # an initial: never ordinary
            seen = True
            if not self._vetoable_word(w, s.label, _case_tells(text, s.start + m.start(), w)):
                return False
        return seen


def support_spans(rule_spans: Iterable[Span], known_spans: Iterable[Span]) -> list[Span]:
    """The spans that corroborate a model span: PHI rule hits and known identifiers."""
    return [s for s in list(rule_spans) + list(known_spans)
            if source_kind(s.source) in ("rule", "known")]
