"""The Span type and the recall-preserving merge of detector output.

A Span holds offsets, a label, the detector that produced it and a score. It never holds the
covered text, so spans can be logged, audited and compared without leaking PHI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A half-open character range ``[start, end)`` tagged with a label."""

    start: int
    end: int
    label: str
    source: str = "rule"
    score: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.start, int) or not isinstance(self.end, int):
            raise TypeError("Span offsets must be int")
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"invalid span offsets [{self.start}, {self.end})")
        if not self.label or not isinstance(self.label, str):
            raise ValueError("Span label must be a non-empty string")
        if not 0.0 <= float(self.score) <= 1.0:
            raise ValueError(f"Span score {self.score} outside [0, 1]")

    def __len__(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def within(self, length: int) -> bool:
        return self.end <= length

    def to_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "label": self.label,
            "source": self.source,
            "score": round(float(self.score), 4),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Span:
        return cls(
            int(d["start"]),  # type: ignore[arg-type]
            int(d["end"]),  # type: ignore[arg-type]
            str(d["label"]),
            str(d.get("source", "gold")),
            float(d.get("score", 1.0)),  # type: ignore[arg-type]
        )


# Sources in decreasing authority. A known identifier beats everything; the label of a merged
# group comes from its most authoritative member (see resolve()). A source may carry a detail
# after a colon (``rule:ssn_dashed``, ``known:name``); the part before the colon is ranked.
SOURCE_RANK: dict[str, int] = {"known": 0, "rule": 1, "ner": 2}


def source_kind(source: str) -> str:
    """``rule:ssn_dashed`` -> ``rule``."""
    return source.split(":", 1)[0]


def _rank(span: Span, label_priority: Mapping[str, int]) -> tuple[int, int, float, int, str, str]:
    """Sort key: lower is preferred when choosing the label of a merged group."""
    return (
        SOURCE_RANK.get(source_kind(span.source), 3),
        label_priority.get(span.label, 10_000),
        -float(span.score),
        -(span.end - span.start),
        span.label,
        span.source,
    )


def resolve(
    spans: Iterable[Span],
    label_priority: Mapping[str, int] | None = None,
    merge_adjacent: bool = False,
) -> list[Span]:
    """Merge overlapping spans into their union; never drop a covered character.

    The label of a merged group is that of its preferred member: source first (known > rule >
    ner), then the label priority (lower wins), then higher score, then longer span, then label
    name, so the result is deterministic whatever the input order. The merged score is the
    maximum; the merged source is the preferred member's. With ``merge_adjacent`` spans that
    touch (``a.end == b.start``) and share a label are merged too.
    """
    prio = label_priority or {}
    ordered = sorted(spans)
    out: list[Span] = []
    group: list[Span] = []
    g_end = -1
    for s in ordered:
        if group and (
            s.start < g_end
            or (merge_adjacent and s.start == g_end and s.label == group[0].label)
        ):
            group.append(s)
            g_end = max(g_end, s.end)
            continue
        if group:
            out.append(_merge(group, g_end, prio))
        group = [s]
        g_end = s.end
    if group:
        out.append(_merge(group, g_end, prio))
    return out


def _merge(group: list[Span], end: int, prio: Mapping[str, int]) -> Span:
    if len(group) == 1:
        return group[0]
    best = min(group, key=lambda s: _rank(s, prio))
    return Span(
        group[0].start, end, best.label, best.source, max(float(s.score) for s in group)
    )


def covered(spans: Iterable[Span]) -> set[int]:
    """The set of character offsets covered by any span (used by tests and evaluation)."""
    cov: set[int] = set()
    for s in spans:
        cov.update(range(s.start, s.end))
    return cov
