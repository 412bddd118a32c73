"""CoNLL/BIO: one ``token label`` line per token (extra middle columns are ignored).

Documents: when the file has ``-DOCSTART- ID`` lines, each starts a document (blank lines inside
are sentence breaks); otherwise a blank line ends a document and ids are ``<file stem>-<n>``. The
text is rebuilt by joining tokens with single spaces, and BIO tags become character spans. An
``I-X`` that does not continue a ``B-X``/``I-X`` is an error (naming document and line), as is a
line without a label.

Writing tokenises the text into word runs (``\\w+``) and single punctuation characters, split
at span boundaries so that every span maps onto whole tokens, and emits ``-DOCSTART- ID`` per
document. Metadata and the original whitespace are not kept by this format; a span that covers
no token (whitespace only) is an error rather than being dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from deid.corpus.common import Item, atomic_writer, read_text_exact
from deid.corpus.document import Document, DocumentError
from deid.span import Span

DOCSTART = "-DOCSTART-"
_TOKEN = re.compile(r"\w+|[^\w\s]")


def read(path: Path) -> Iterator[Item]:
    path = Path(path)
    if path.is_dir():
        raise DocumentError(f"{path}: CoNLL input must be a file")
    lines = read_text_exact(path).split("\n")
    has_docstart = any(line.startswith(DOCSTART) for line in lines)
    blocks: list[tuple[str, list[tuple[int, str]]]] = []
    auto = 0

    def new_block(doc_id: str | None) -> None:
        nonlocal auto
        auto += 1
        blocks.append((doc_id or f"{path.stem}-{auto}", []))

    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        if line.startswith(DOCSTART):
            rest = line[len(DOCSTART):].strip()
            new_block(None if not rest or rest.startswith("-X-") else rest)
        elif not line.strip():
            if not has_docstart and blocks and blocks[-1][1]:
                new_block(None)
        else:
            if not blocks:
                new_block(None)
            blocks[-1][1].append((n, line))
    if blocks and not has_docstart and not blocks[-1][1]:
        blocks.pop()  # the block opened by trailing blank lines
    for doc_id, rows in blocks:
        try:
            yield _to_doc(path, doc_id, rows)
        except DocumentError as exc:
            yield exc


def _to_doc(path: Path, doc_id: str, rows: list[tuple[int, str]]) -> Document:
    parts: list[str] = []
    spans: list[Span] = []
    pos = 0
    cur: tuple[int, int, str] | None = None  # start, end, label of the open span
    for n, line in rows:
        cols = line.split()
        where = f"{path}:{n}: document {doc_id!r}"
        if len(cols) < 2:
            raise DocumentError(f"{where}: token line needs 'token label'")
        tok, tag = cols[0], cols[-1]
        start = pos + (1 if parts else 0)
        end = start + len(tok)
        if tag == "O":
            if cur:
                spans.append(Span(cur[0], cur[1], cur[2], "gold"))
            cur = None
        elif tag.startswith(("B-", "I-")) and len(tag) > 2:
            label = tag[2:]
            if tag[0] == "I":
                if cur is None or cur[2] != label:
                    raise DocumentError(f"{where}: {tag} does not continue a {label} span "
                                        f"(offset {start})")
                cur = (cur[0], end, label)
            else:
                if cur:
                    spans.append(Span(cur[0], cur[1], cur[2], "gold"))
                cur = (start, end, label)
        else:
            raise DocumentError(f"{where}: the tag column is not O, B-X or I-X (offset {start})")
        parts.append(tok)
        pos = end
    if cur:
        spans.append(Span(cur[0], cur[1], cur[2], "gold"))
    return Document(doc_id, " ".join(parts), tuple(spans), {})


def tokens(text: str, spans: Iterable[Span]) -> list[tuple[int, int]]:
    """Token offsets: word runs and punctuation characters, split at every span boundary."""
    cuts = sorted({0, len(text), *(b for s in spans for b in (s.start, s.end))})
    out: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        out.extend((a + m.start(), a + m.end()) for m in _TOKEN.finditer(text[a:b]))
    return out


def to_bio(doc: Document) -> list[tuple[str, str]]:
    spans = sorted(doc.spans)
    toks = tokens(doc.text, spans)
    tags: list[tuple[str, str]] = []
    i = 0
    used: set[int] = set()
    for a, b in toks:
        while i < len(spans) and spans[i].end <= a:
            i += 1
        if i < len(spans) and spans[i].start <= a and b <= spans[i].end:
            first = i not in used
            used.add(i)
            tags.append((doc.text[a:b], ("B-" if first else "I-") + spans[i].label))
        else:
            tags.append((doc.text[a:b], "O"))
    for j, s in enumerate(spans):
        if j not in used:
            raise DocumentError(f"document {doc.id!r}: span [{s.start}, {s.end}) {s.label} "
                                f"covers no token; CoNLL cannot represent it")
    return tags


def write(docs: Iterable[Document], path: Path) -> int:
    n = 0
    with atomic_writer(Path(path)) as fh:
        for doc in docs:
            if "\n" in doc.id or "\r" in doc.id or not doc.id.strip():
                raise DocumentError(f"document {doc.id!r}: id cannot be written as a CoNLL "
                                    f"-DOCSTART- line")
            rows = to_bio(doc)
            fh.write(f"{DOCSTART} {doc.id}\n")
            fh.writelines(f"{tok} {tag}\n" for tok, tag in rows)
            fh.write("\n")
            n += 1
    return n
