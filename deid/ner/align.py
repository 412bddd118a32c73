"""Sub-word tokenisation with character offsets, BIO label alignment and sliding windows.

A text is tokenised once (no special tokens, no truncation); windows of ``max_length - 2``
content tokens with ``stride`` tokens of overlap are cut from it, so notes of any length are
covered. Each content token belongs to exactly one window's *core* (the overlap is split in
half), which is where its prediction is taken from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deid.corpus.document import Document, DocumentError
from deid.ner.shape import token_shapes
from deid.span import Span

IGNORE = -100
OUTSIDE = "O"


@dataclass(frozen=True)
class Encoded:
    """Content sub-tokens of one text: ids, character offsets, word index, shape."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    word_ids: list[int]
    shapes: list[int]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Window:
    """Content tokens ``[start, end)`` of a text; predictions are kept for ``[core_start, core_end)``."""

    start: int
    end: int
    core_start: int
    core_end: int


def encode(tokenizer: object, text: str) -> Encoded:
    """Tokenise ``text`` keeping only tokens with a non-empty character range."""
    if not text:
        return Encoded([], [], [], [])
    enc = tokenizer(  # type: ignore[operator]
        text, add_special_tokens=False, return_offsets_mapping=True, truncation=False
    )
    return _from_encoding(text, enc.encodings[0] if enc.encodings else enc)


def encode_batch(tokenizer: object, texts: Sequence[str]) -> list[Encoded]:
    """Tokenise many texts in one call to the fast tokenizer."""
    out: list[Encoded | None] = [None] * len(texts)
    todo = [i for i, t in enumerate(texts) if t]
    if todo:
        enc = tokenizer(  # type: ignore[operator]
            [texts[i] for i in todo], add_special_tokens=False, return_offsets_mapping=True,
            truncation=False,
        )
        for j, i in enumerate(todo):
            out[i] = _from_encoding(texts[i], enc.encodings[j])
    return [o if o is not None else Encoded([], [], [], []) for o in out]


def _from_encoding(text: str, e: object) -> Encoded:
    ids: list[int] = []
    offs: list[tuple[int, int]] = []
    wids: list[int] = []
    n = len(text)
    for tid, (s, t), w in zip(e.ids, e.offsets, e.word_ids, strict=True):  # type: ignore[attr-defined]
        if w is None or t <= s or s < 0 or t > n:
            continue
        ids.append(int(tid))
        offs.append((int(s), int(t)))
        wids.append(int(w))
    return Encoded(ids, offs, wids, token_shapes(text, offs, list(wids)))


def plan_windows(n: int, max_length: int, stride: int) -> list[Window]:
    """The fewest windows of at most ``max_length - 2`` content tokens covering ``n`` tokens.

    Consecutive windows overlap by at least ``stride`` tokens. All windows of a text have the
    same width (the text is split evenly rather than leaving a short last window), so batches
    of windows from many texts carry little padding. Each token's prediction comes from the
    window where it is most central: the overlap is split at its middle.
    """
    size = max_length - 2
    if size < 2:
        raise ValueError("max_length must be at least 4")
    if not 0 <= stride < size:
        raise ValueError("stride must be >= 0 and smaller than max_length - 2")
    if n == 0:
        return []
    if n <= size:
        return [Window(0, n, 0, n)]
    k = -(-(n - stride) // (size - stride))  # k windows cover k * (size - stride) + stride tokens
    width = -(-(n + (k - 1) * stride) // k)  # <= size; width - stride >= every step below
    starts = [j * (n - width) // (k - 1) for j in range(k)]
    ends = [s + width for s in starts]
    cuts = [(starts[j + 1] + ends[j]) // 2 for j in range(k - 1)]  # middle of each overlap
    bounds = [0, *cuts, n]
    return [Window(starts[j], ends[j], bounds[j], bounds[j + 1]) for j in range(k)]


def bio_labels(entities: Sequence[str]) -> list[str]:
    """``["O", "B-X", "I-X", ...]`` for the given entity labels (in the given order)."""
    out = [OUTSIDE]
    for ent in entities:
        out += [f"B-{ent}", f"I-{ent}"]
    return out


class AlignmentError(DocumentError):
    """Gold spans that cannot be aligned to sub-word tokens (named by document and offset)."""


def check_alignment(doc: Document, enc: Encoded) -> list[str]:
    """Problems with the gold spans of ``doc`` (no text in the messages); empty if aligned."""
    problems: list[str] = []
    text = doc.text
    try:
        doc.check_no_overlap()
    except DocumentError as exc:
        problems.append(str(exc))
    starts = [s for s, _ in enc.offsets]
    import bisect

    for sp in doc.spans:
        where = f"document {doc.id!r}: span [{sp.start}, {sp.end}) {sp.label}"
        frag = text[sp.start:sp.end]
        if not frag.strip():
            problems.append(f"{where} covers only whitespace")
            continue
        if frag[0].isspace() or frag[-1].isspace():
            problems.append(f"{where} starts or ends with whitespace")
            continue
        i = bisect.bisect_right(starts, sp.start) - 1
        inside = []
        for j in range(max(i, 0), len(enc.offsets)):
            s, e = enc.offsets[j]
            if s >= sp.end:
                break
            if e > sp.start:
                inside.append((s, e))
        if not inside:
            if any(c.isalnum() for c in frag):
                problems.append(f"{where} covers no token")
            continue
        if inside[0][0] < sp.start or inside[-1][1] > sp.end:
            problems.append(f"{where} cuts through a sub-word token (offsets do not match the text?)")
    return problems


def align_labels(doc: Document, enc: Encoded, label2id: dict[str, int]) -> list[int]:
    """BIO label id per content token; call ``check_alignment`` first."""
    labels = [label2id[OUTSIDE]] * len(enc)
    spans = sorted(doc.spans, key=lambda s: (s.start, s.end))
    j = 0
    for idx, (s, e) in enumerate(enc.offsets):
        while j < len(spans) and spans[j].end <= s:
            j += 1
        if j < len(spans) and spans[j].start < e:
            sp = spans[j]
            tag = "B" if s <= sp.start else "I"
            if tag == "I" and idx > 0 and enc.offsets[idx - 1][1] <= sp.start:
                tag = "B"
            key = f"{tag}-{sp.label}"
            if key not in label2id:
                raise AlignmentError(f"document {doc.id!r}: label {sp.label!r} is not in the model")
            labels[idx] = label2id[key]
    return labels


def gold_token_mask(spans: Sequence[Span], offsets: Sequence[tuple[int, int]]) -> list[bool]:
    """Which tokens overlap any of ``spans``."""
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    out = []
    j = 0
    for s, e in offsets:
        while j < len(ordered) and ordered[j].end <= s:
            j += 1
        out.append(j < len(ordered) and ordered[j].start < e)
    return out
