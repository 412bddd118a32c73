"""Regex and word-list rules loaded from ``rules/patterns/*.yaml``; the rule detector.

A rule is a pattern (or a word list) plus a label, a score, optional context words and an
optional validator. Every field is checked at load time; an error names the file and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from deid.errors import RuleError
from deid.labels import load_labels
from deid.rulefile import load_wordlist, load_yaml, require, rules_path
from deid.span import Span
from deid.validators import VALIDATORS

_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "VERBOSE": re.VERBOSE,
          "DOTALL": re.DOTALL}
_RULE_KEYS = {"name", "label", "pattern", "terms", "flags", "group", "score", "validator",
              "context", "lists", "not_lists", "vetoable", "case", "description", "examples",
              "counterexamples", "requires", "anchors"}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’.\-]*[A-Za-z]|[A-Za-z]")


@dataclass(frozen=True)
class Context:
    words: tuple[str, ...]
    window: int = 40
    required: bool = False
    boost: float = 0.1
    after: bool = False  # also look after the match

    def found(self, text_lower: str, start: int, end: int) -> bool:
        lo = max(0, start - self.window)
        before = text_lower[lo:start]
        if any(w in before for w in self.words):
            return True
        if self.after:
            return any(w in text_lower[end:end + self.window] for w in self.words)
        return False


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    file: str
    score: float = 0.8
    regex: re.Pattern[str] | None = None
    group: str | int = 0
    terms: frozenset[str] | None = None
    terms_max_words: int = 1
    terms_first: Mapping[str, int] = field(default_factory=dict)  # first token -> max tokens
    case: str = "any"  # for terms: any | title | upper
    validator: str | None = None
    context: Context | None = None
    lists: Mapping[str, frozenset[str]] = field(default_factory=dict)
    not_lists: Mapping[str, frozenset[str]] = field(default_factory=dict)
    vetoable: bool = True
    requires: tuple[str, ...] = ()  # lowercase substrings; the rule runs only if one occurs
    anchors: tuple[str, ...] = ()  # lowercase prefixes; every match starts at one of them

    @property
    def source(self) -> str:
        return f"rule:{self.name}"

    # -- matching --------------------------------------------------------------------------
    def find(self, text: str, lower: str) -> Iterable[Span]:
        if self.requires and not any(w in lower for w in self.requires):
            return
        if self.regex is not None:
            yield from self._find_regex(text, lower)
        elif self.terms is not None:
            yield from self._find_terms(text, lower)

    def _accept(self, m: re.Match[str]) -> bool:
        for g, words in self.lists.items():
            v = m.group(g)
            if v is not None and _norm(v) not in words:
                return False
        for g, words in self.not_lists.items():
            v = m.group(g)
            if v is not None and _norm(v) in words:
                return False
        return True

    def _emit(self, start: int, end: int, text: str, lower: str) -> Span | None:
        if end <= start:
            return None
        if self.validator and not VALIDATORS[self.validator](text[start:end]):
            return None
        score = self.score
        if self.context is not None:
            if self.context.found(lower, start, end):
                score = min(1.0, score + self.context.boost)
            elif self.context.required:
                return None
        return Span(start, end, self.label, self.source, score)

    def _find_regex(self, text: str, lower: str) -> Iterable[Span]:
        """Scan like ``finditer``, but after a rejected match (lists, validator, context) try
        again one character later, so a rejected candidate never hides an overlapping hit.
        With ``anchors`` the pattern is only tried where an anchor word starts."""
        assert self.regex is not None
        rx = self.regex
        anchored = bool(self.anchors) and len(lower) == len(text)
        starts: list[int] = []
        if anchored:
            found: set[int] = set()
            for w in self.anchors:
                i = lower.find(w)
                while i >= 0:
                    found.add(i)
                    i = lower.find(w, i + 1)
            starts = sorted(found)
        k = 0
        pos = 0
        n = len(text)
        while pos <= n:
            if anchored:
                while k < len(starts) and starts[k] < pos:
                    k += 1
                if k == len(starts):
                    return
                pos = starts[k]
                m = rx.match(text, pos)
                if m is None:
                    pos += 1
                    continue
            else:
                m = rx.search(text, pos)
                if m is None:
                    return
            sp = self._span_of(m, text, lower)
            if sp is not None:
                yield sp
                pos = max(m.end(), m.start() + 1)
            else:
                pos = m.start() + 1

    def _span_of(self, m: re.Match[str], text: str, lower: str) -> Span | None:
        if not self._accept(m):
            return None
        s, e = m.span(self.group)
        if s < 0:
            return None
        return self._emit(s, e, text, lower)

    def _find_terms(self, text: str, lower: str) -> Iterable[Span]:
        assert self.terms is not None
        toks, index = _tokens(text)
        starts = sorted(i for w in index.keys() & self.terms_first.keys() for i in index[w])
        n = len(toks)
        nxt = 0  # tokens before this index are inside an earlier hit
        for i in starts:
            if i < nxt:
                continue
            kmax = self.terms_first[toks[i][2]]
            for k in range(min(kmax, n - i), 0, -1):
                s, e = toks[i][0], toks[i + k - 1][1]
                frag = text[s:e]
                if _norm(frag) in self.terms and self._case_ok(frag):
                    sp = self._emit(s, e, text, lower)
                    if sp is not None:
                        yield sp
                    nxt = i + k
                    break

    def _case_ok(self, frag: str) -> bool:
        if self.case == "title":
            return all(w[:1].isupper() for w in frag.split())
        if self.case == "upper":
            return frag.isupper()
        if self.case == "cap_or_upper":
            return frag[:1].isupper()
        return True


def _norm(s: str) -> str:
    return " ".join(s.casefold().replace("’", "'").split())


@lru_cache(maxsize=4)
def _tokens(text: str) -> tuple[list[tuple[int, int, str]], dict[str, list[int]]]:
    """Word tokens of ``text`` as (start, end, normalised token), and token -> positions.

    Shared by all term rules. Tokens are ASCII letters and ``'’.-`` only, so lower() is
    their casefold and no white space needs collapsing.
    """
    low = text.lower()
    if len(low) != len(text):  # a character whose lower case is longer: take the slow path
        toks = [(m.start(), m.end(), _norm(m.group())) for m in _WORD.finditer(text)]
    else:
        if "’" in low:
            low = low.replace("’", "'")
        words = _WORD.findall(low)
        toks = [(*m.span(), w) for m, w in zip(_WORD.finditer(low), words, strict=True)]
    index: dict[str, list[int]] = {}
    for i, t in enumerate(toks):
        index.setdefault(t[2], []).append(i)
    return toks, index


def _first_tokens(terms: frozenset[str]) -> dict[str, int]:
    """Map each term's first word token to the most word tokens of a term starting with it."""
    out: dict[str, int] = {}
    for t in terms:
        toks = [_norm(w) for w in _WORD.findall(t)]
        if toks:
            out[toks[0]] = max(out.get(toks[0], 0), len(toks))
    return out


# -- loading ------------------------------------------------------------------------------

def _compile_rule(spec: Any, file: Path, index: int, labels: frozenset[str] | None) -> Rule:
    require(isinstance(spec, dict), file, index, "each rule must be a mapping")
    name = spec.get("name")
    require(isinstance(name, str) and name, file, index, "rule needs a 'name'")
    unknown = set(spec) - _RULE_KEYS
    require(not unknown, file, name, f"unknown keys {sorted(unknown)}")
    label = spec.get("label")
    require(isinstance(label, str), file, name, "rule needs a 'label'")
    if labels is not None:
        require(label in labels, file, name, f"unknown label {label!r} (see rules/labels.yaml)")
    score = spec.get("score", 0.8)
    require(isinstance(score, int | float) and 0 <= score <= 1, file, name, "score must be in [0, 1]")
    validator = spec.get("validator")
    require(validator is None or validator in VALIDATORS, file, name,
            f"unknown validator {validator!r}; known: {sorted(VALIDATORS)}")
    has_pat, has_terms = "pattern" in spec, "terms" in spec
    require(has_pat != has_terms, file, name, "give exactly one of 'pattern' or 'terms'")
    ctx = None
    if spec.get("context") is not None:
        c = spec["context"]
        require(isinstance(c, dict) and isinstance(c.get("words"), list) and c["words"], file, name,
                "context needs a non-empty 'words' list")
        ctx = Context(tuple(str(w).lower() for w in c["words"]), int(c.get("window", 40)),
                      bool(c.get("required", False)), float(c.get("boost", 0.1)),
                      bool(c.get("after", False)))
    lists = {}
    not_lists = {}
    for key, target in (("lists", lists), ("not_lists", not_lists)):
        v = spec.get(key) or {}
        require(isinstance(v, dict), file, name, f"'{key}' must map group names to word lists")
        for g, lst in v.items():
            names = lst if isinstance(lst, list) else [lst]
            try:
                target[g] = frozenset().union(*(load_wordlist(str(n)) for n in names))
            except RuleError as exc:
                raise RuleError(file, name, str(exc)) from None
    kw: dict[str, Any] = {}
    if has_pat:
        flags = 0
        for f in spec.get("flags", []) or []:
            require(f in _FLAGS, file, name, f"unknown flag {f!r}")
            flags |= _FLAGS[f]
        try:
            rx = re.compile(spec["pattern"], flags)
        except (re.error, TypeError) as exc:
            raise RuleError(file, name, f"invalid regex: {exc}") from None
        group = spec.get("group", "phi" if "phi" in rx.groupindex else 0)
        require(group == 0 or group in rx.groupindex or (isinstance(group, int) and group <= rx.groups),
                file, name, f"pattern has no group {group!r}")
        for g in list(lists) + list(not_lists):
            require(g in rx.groupindex, file, name, f"pattern has no group {g!r} named in lists")
        kw.update(regex=rx, group=group)
    else:
        lst = spec["terms"]
        names = lst if isinstance(lst, list) else [lst]
        try:
            terms = frozenset().union(*(load_wordlist(str(n)) for n in names))
        except RuleError as exc:
            raise RuleError(file, name, str(exc)) from None
        case = spec.get("case", "any")
        require(case in ("any", "title", "upper", "cap_or_upper"), file, name, f"unknown case {case!r}")
        kw.update(terms=terms, terms_max_words=max(len(t.split()) for t in terms), case=case,
                  terms_first=_first_tokens(terms))
    req = spec.get("requires") or []
    require(isinstance(req, list) and all(isinstance(w, str) and w for w in req), file, name,
            "'requires' must be a list of non-empty strings")
    anchors = spec.get("anchors") or []
    require(isinstance(anchors, list) and all(isinstance(w, str) and w for w in anchors), file,
            name, "'anchors' must be a list of non-empty strings")
    require(not anchors or has_pat, file, name, "'anchors' need a 'pattern'")
    return Rule(name=name, label=label, file=str(file), score=float(score), validator=validator,
                context=ctx, lists=lists, not_lists=not_lists,
                vetoable=bool(spec.get("vetoable", True)),
                requires=tuple(w.lower() for w in req),
                anchors=tuple(w.lower() for w in anchors), **kw)


def load_rule_file(path: str | Path, labels: frozenset[str] | None = None) -> list[Rule]:
    p = Path(path)
    data = load_yaml(p)
    require(isinstance(data, dict), p, None, "top level must be a mapping")
    require(isinstance(data.get("provenance"), str), p, None, "missing 'provenance' string")
    rules = data.get("rules")
    require(isinstance(rules, list) and rules, p, None, "missing non-empty 'rules' list")
    out = [_compile_rule(spec, p, i, labels) for i, spec in enumerate(rules)]
    names = [r.name for r in out]
    dup = {n for n in names if names.count(n) > 1}
    require(not dup, p, sorted(dup)[0] if dup else None, "duplicate rule name")
    return out


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    allow: tuple[Rule, ...]

    def detect(self, text: str) -> list[Span]:
        lower = text.lower()
        spans: list[Span] = []
        for r in self.rules:
            spans.extend(r.find(text, lower))
        return spans

    def allow_spans(self, text: str) -> list[Span]:
        lower = text.lower()
        out: list[Span] = []
        for r in self.allow:
            out.extend(r.find(text, lower))
        return out

    def names(self) -> dict[str, Rule]:
        return {r.name: r for r in self.rules}


@lru_cache(maxsize=8)
def load_ruleset(pattern_dir: str | None = None, allow_file: str | None = None) -> RuleSet:
    """Load every ``rules/patterns/*.yaml`` plus the allow-list file ``rules/allow.yaml``."""
    labels = frozenset(load_labels().labels)
    pdir = Path(pattern_dir) if pattern_dir else rules_path("patterns")
    files = sorted(pdir.glob("*.yaml"))
    if not files:
        raise RuleError(pdir, None, "no rule files (*.yaml) found")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for f in files:
        for r in load_rule_file(f, labels):
            if r.name in seen:
                raise RuleError(f, r.name, f"rule name also used in {seen[r.name]}")
            seen[r.name] = str(f)
            rules.append(r)
    afile = Path(allow_file) if allow_file else rules_path("allow.yaml")
    allow = load_rule_file(afile, None) if afile.exists() else []
    return RuleSet(tuple(rules), tuple(allow))
