"""Notes are built as a list of pieces ``[text, label]`` (label None = not PHI); gold offsets are
computed only when the pieces are joined, so no transform can misalign them."""

from __future__ import annotations

from deid.span import Span

Piece = list  # [text: str, label: str | None]


class Builder:
    """Collects pieces while templates render."""

    __slots__ = ("pieces",)

    def __init__(self) -> None:
        self.pieces: list[Piece] = []

    def text(self, s: str) -> None:
        if s:
            self.pieces.append([s, None])

    def phi(self, s: str, label: str) -> None:
        if not s or s != s.strip():
            raise ValueError(f"internal: empty or padded {label} piece")
        self.pieces.append([s, label])

    def extend(self, pieces: list[Piece]) -> None:
        self.pieces.extend([p[0], p[1]] for p in pieces)


def merge_text(pieces: list[Piece]) -> list[Piece]:
    """Join runs of adjacent non-PHI pieces (PHI pieces stay separate)."""
    out: list[Piece] = []
    for text, label in pieces:
        if not text:
            continue
        if label is None and out and out[-1][1] is None:
            out[-1][0] += text
        else:
            out.append([text, label])
    return out


def assemble(pieces: list[Piece], doc_id: str) -> tuple[str, tuple[Span, ...]]:
    """Concatenate pieces, recording each PHI piece's offsets; verify every span."""
    parts: list[str] = []
    spans: list[Span] = []
    pos = 0
    for text, label in pieces:
        if label is not None:
            spans.append(Span(pos, pos + len(text), label, "gold"))
        parts.append(text)
        pos += len(text)
    full = "".join(parts)
    phi = [p[0] for p in pieces if p[1] is not None]
    for s, want in zip(spans, phi, strict=True):
        if full[s.start:s.end] != want:
            raise AssertionError(f"document {doc_id!r}: span [{s.start}, {s.end}) misaligned")
    return full, tuple(spans)
