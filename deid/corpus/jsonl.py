"""Canonical JSONL: one ``{"id","text","spans":[{"start","end","label"}],"meta"}`` per line.

A folder is read as the concatenation of its ``*.jsonl`` files in name order. Blank lines are
skipped; a line that is not a JSON object is an error naming file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from deid.corpus.common import Item, atomic_writer, check_overlap, check_text, corpus_files
from deid.corpus.document import Document, DocumentError


def read(path: Path) -> Iterator[Item]:
    for f in corpus_files(Path(path), "jsonl"):
        yield from _read_file(f)


def _read_file(path: Path) -> Iterator[Item]:
    with open(path, encoding="utf-8", newline="") as fh:
        for n, line in enumerate(_lines(fh, path), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}: "
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield DocumentError(f"{where}invalid JSON (column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                yield DocumentError(f"{where}a line must hold a JSON object")
                continue
            try:
                doc = Document.from_obj(obj, where)
                for s in doc.spans:
                    check_text(doc.id, doc.text, s.start, s.end, None, where)
                check_overlap(doc.id, list(doc.spans), where)
            except DocumentError as exc:
                yield exc
                continue
            except ValueError as exc:  # Span() rejects negative/empty offsets
                yield DocumentError(f"{where}document {obj.get('id')!r}: {exc}")
                continue
            yield doc


def _lines(fh: Iterable[str], path: Path) -> Iterator[str]:
    """Lines split on ``\\n`` only, so that a ``\\r`` inside JSON strings cannot split a record."""
    buf = ""
    try:
        for chunk in fh:
            buf += chunk
            *done, buf = buf.split("\n")
            yield from done
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    if buf:
        yield buf


def write(docs: Iterable[Document], path: Path) -> int:
    n = 0
    with atomic_writer(Path(path)) as fh:
        for doc in docs:
            fh.write(doc.to_json() + "\n")
            n += 1
    return n
