"""The PS3.15 Table E.1-1 attribute actions (``rules/dicom/actions.yaml``), validated at load.

Combined action codes are resolved without IOD knowledge (the Type of an attribute depends on the
IOD, which this project does not model). Rule: pick the least-removing single action that is
conformant whatever the Type is, and that always removes the original value:

* ``X/Z`` -> ``Z`` (zero length is valid for Type 2 and 3; X/Z is never used for Type 1)
* ``X/D``, ``Z/D``, ``X/Z/D`` -> ``D`` (a dummy is valid for Type 1, 2 and 3)
* ``X/Z/U*`` -> ``U`` (keep the reference sequence, remap every UID in it)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from deid.rulefile import load_yaml, require, rules_path

SINGLE = frozenset("DZXKCU")
COMBINED = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D", "X/Z/U*": "U", "X/Z/U": "U"}
VALID_CODES = SINGLE | frozenset(COMBINED)
# when several selected options name an action for one attribute: clean beats keep beats others
OPTION_PRECEDENCE = {"C": 0, "K": 1}

_TAG_RE = re.compile(r"^\(([0-9A-FX]{4}),([0-9A-FX]{4})\)$")


def resolve_code(code: str) -> str:
    """The single action a (possibly combined) code stands for (see module docstring)."""
    return COMBINED.get(code, code)


@dataclass(frozen=True)
class Row:
    tag: str
    name: str
    basic: str
    options: Mapping[str, str] = field(default_factory=dict)
    keyword: str | None = None
    source: str = "PS3.15 E.1-1"

    def code(self, selected: Iterable[str] = ()) -> str:
        """The raw (possibly combined) code for this row given the selected options."""
        hits = [self.options[o] for o in selected if o in self.options]
        if not hits:
            return self.basic
        return sorted(hits, key=lambda c: OPTION_PRECEDENCE.get(c, 9))[0]


@dataclass(frozen=True)
class ActionTable:
    """Lookup of the row for a tag: exact tags, then wildcard groups, then private."""

    exact: Mapping[int, Row]
    patterns: tuple[tuple[int, int, Row], ...]  # (mask, value, row)
    private: Row
    provenance: Mapping[str, str]
    option_columns: frozenset[str]

    def row(self, tag: int) -> Row | None:
        if (tag >> 16) & 1:
            return self.private
        r = self.exact.get(tag)
        if r is not None:
            return r
        for mask, value, row in self.patterns:
            if tag & mask == value:
                return row
        return None

    def action(self, tag: int, selected: Iterable[str] = ()) -> str | None:
        """The resolved single action for ``tag`` or None when the tag is not in the table."""
        r = self.row(tag)
        return None if r is None else resolve_code(r.code(selected))


def _parse_tag(text: str, file: Path, rule: object) -> tuple[int, int]:
    """(mask, value) of a tag pattern such as "(0010,0010)" or "(50XX,XXXX)"."""
    m = _TAG_RE.match(text.upper())
    require(m is not None, file, rule, "tag must look like (gggg,eeee), x for wildcard digits")
    assert m is not None
    digits = m.group(1) + m.group(2)
    mask = value = 0
    for ch in digits:
        mask <<= 4
        value <<= 4
        if ch != "X":
            mask |= 0xF
            value |= int(ch, 16)
    return mask, value


def load_table(path: str | Path | None = None) -> ActionTable:
    p = Path(path) if path else rules_path("dicom", "actions.yaml")
    return _load_table(str(p), p.stat().st_mtime if p.exists() else 0.0)


@lru_cache(maxsize=8)
def _load_table(path: str, _mtime: float) -> ActionTable:
    p = Path(path)
    data = load_yaml(p)
    require(isinstance(data, dict), p, None, "top level must be a mapping")
    rows = data.get("attributes")
    require(isinstance(rows, list) and rows, p, None, "'attributes' must be a non-empty list")
    prov = data.get("provenance")
    require(isinstance(prov, dict) and prov.get("commit"), p, None, "'provenance' with commit required")
    from deid.dicom.profile import option_columns

    columns = option_columns()
    exact: dict[int, Row] = {}
    patterns: list[tuple[int, int, Row]] = []
    private: Row | None = None
    for i, raw in enumerate(rows):
        require(isinstance(raw, dict), p, f"#{i}", "each attribute must be a mapping")
        tag = raw.get("tag")
        rule = tag or f"#{i}"
        require(isinstance(tag, str), p, rule, "missing 'tag'")
        basic = raw.get("basic")
        require(basic in VALID_CODES, p, rule, f"bad basic action code {basic!r}")
        opts = raw.get("options") or {}
        require(isinstance(opts, dict), p, rule, "'options' must be a mapping")
        for k, v in opts.items():
            require(k in columns, p, rule, f"unknown option column {k!r}")
            require(v in VALID_CODES, p, rule, f"bad action code {v!r} for option {k}")
        row = Row(tag=tag, name=str(raw.get("name", "")), basic=basic, options=dict(opts),
                  keyword=raw.get("keyword"), source=str(raw.get("source", "PS3.15 E.1-1")))
        if tag == "private":
            require(private is None, p, rule, "duplicate private row")
            private = row
            continue
        mask, value = _parse_tag(tag, p, rule)
        if mask == 0xFFFFFFFF:
            require(value not in exact, p, rule, "duplicate tag")
            exact[value] = row
        else:
            patterns.append((mask, value, row))
    require(private is not None, p, None, "no 'private' row (private attributes)")
    assert private is not None
    return ActionTable(exact=exact, patterns=tuple(patterns), private=private,
                       provenance={k: str(v) for k, v in prov.items()},
                       option_columns=frozenset(columns))
