"""BRAT standoff: a folder of ``ID.txt`` + ``ID.ann`` pairs.

Only text-bound annotations (``T1<TAB>LABEL start end[;start end...]<TAB>text``) become spans; a
discontinuous annotation becomes one span per fragment, and its stored text must equal the
fragments joined by single spaces (whitespace-insensitive). Other annotation lines (relations,
events, attributes, notes) carry no offsets: they are counted in ``meta["brat_other"]`` rather
than dropped silently. Offsets count characters of the ``.txt`` file as stored (``\\r`` included).
A ``.txt`` without ``.ann`` is a document without spans; an ``.ann`` without ``.txt`` is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from deid.corpus.common import (
    Item,
    atomic_write_text,
    check_overlap,
    check_text,
    norm_ws,
    read_text_exact,
)
from deid.corpus.document import Document, DocumentError
from deid.span import Span

_T_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]")


def read(path: Path) -> Iterator[Item]:
    path = Path(path)
    if not path.is_dir():
        raise DocumentError(f"{path}: BRAT input must be a folder of .txt/.ann files")
    txts = {p.stem: p for p in path.glob("*.txt") if p.is_file()}
    for ann in sorted(path.glob("*.ann")):
        if ann.stem not in txts:
            yield DocumentError(f"{ann}: no matching .txt file")
    for stem in sorted(txts):
        try:
            yield _read_pair(txts[stem], txts[stem].with_suffix(".ann"))
        except DocumentError as exc:
            yield exc


def _read_pair(txt: Path, ann: Path) -> Document:
    doc_id = txt.stem
    text = read_text_exact(txt)
    spans: list[Span] = []
    other: dict[str, int] = {}
    if ann.exists():
        for n, line in enumerate(read_text_exact(ann).split("\n"), 1):
            line = line.rstrip("\r")
            if not line.strip():
                continue
            where = f"{ann}:{n}: "
            if not line.startswith("T"):
                kind = line[:1]
                if kind not in "REAMN#*":
                    raise DocumentError(f"{where}document {doc_id!r}: unrecognised annotation line")
                other[kind] = other.get(kind, 0) + 1
                continue
            m = _T_LINE.match(line)
            if not m:
                raise DocumentError(f"{where}document {doc_id!r}: malformed text-bound annotation")
            label = m.group(2)
            frags = [tuple(int(x) for x in part.split()) for part in m.group(3).split(";")]
            for s, e in frags:
                check_text(doc_id, text, s, e, None, where)
            joined = " ".join(text[s:e] for s, e in frags)
            if norm_ws(joined) != norm_ws(m.group(4)):
                raise DocumentError(f"{where}document {doc_id!r}: annotation {m.group(1)} does "
                                    f"not match the text at its offsets (misaligned)")
            spans.extend(Span(s, e, label, "gold") for s, e in frags)
    check_overlap(doc_id, spans, f"{ann}: ")
    meta = {"brat_other": other} if other else {}
    return Document(doc_id, text, tuple(sorted(spans)), meta)


def safe_id(doc_id: str) -> str:
    out = _SAFE_ID.sub("_", doc_id)
    return out if out.strip("._") else "doc"


def write(docs: Iterable[Document], path: Path) -> int:
    """Write ``ID.txt`` and ``ID.ann`` per document into folder ``path`` (ids made file-safe)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DocumentError(f"{path}: BRAT output must be a folder")
    path.mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}
    n = 0
    for doc in docs:
        stem = safe_id(doc.id)
        if stem in seen:
            raise DocumentError(f"document {doc.id!r}: file name {stem!r} already used by "
                                f"document {seen[stem]!r}")
        seen[stem] = doc.id
        lines = []
        for i, s in enumerate(sorted(doc.spans), 1):
            frag = " ".join(doc.text[s.start:s.end].split("\n")).replace("\r", " ")
            lines.append(f"T{i}\t{s.label} {s.start} {s.end}\t{frag}\n")
        atomic_write_text(path / f"{stem}.txt", doc.text)
        atomic_write_text(path / f"{stem}.ann", "".join(lines))
        n += 1
    return n
