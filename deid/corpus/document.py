"""The canonical annotated document: ``{"id","text","spans":[{"start","end","label"}],"meta"}``.

Offsets are Python string indices, end-exclusive. ``Document`` checks itself: every span lies
inside the text, and errors name the document and the offset (never the text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deid.errors import InputError
from deid.span import Span


class DocumentError(InputError):
    """A misaligned, overlapping or malformed annotation."""


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    spans: tuple[Span, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.text)
        for s in self.spans:
            if s.end > n:
                raise DocumentError(
                    f"document {self.id!r}: span [{s.start}, {s.end}) ({s.label}) ends beyond "
                    f"the text (length {n})"
                )

    def check_no_overlap(self) -> None:
        ordered = sorted(self.spans, key=lambda s: (s.start, s.end))
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.start < a.end:
                raise DocumentError(
                    f"document {self.id!r}: overlapping spans [{a.start}, {a.end}) {a.label} and "
                    f"[{b.start}, {b.end}) {b.label}"
                )

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "text": self.text,
                "spans": [{"start": s.start, "end": s.end, "label": s.label}
                          for s in sorted(self.spans)],
                "meta": dict(self.meta),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any], where: str = "") -> Document:
        try:
            doc_id = str(obj["id"])
            text = obj["text"]
            if not isinstance(text, str):
                raise TypeError
            spans = []
            for i, s in enumerate(obj.get("spans") or []):
                try:
                    spans.append(Span(int(s["start"]), int(s["end"]), str(s["label"]), "gold",
                                      float(s.get("score", 1.0))))
                except (KeyError, TypeError, ValueError) as exc:
                    raise DocumentError(f"{where}document {doc_id!r}: span #{i} is invalid "
                                        f"({type(exc).__name__})") from None
        except (KeyError, TypeError):
            raise DocumentError(f"{where}record needs string 'id' and 'text' fields") from None
        return cls(doc_id, text, tuple(spans), dict(obj.get("meta") or {}))
