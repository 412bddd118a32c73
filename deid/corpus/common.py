"""Helpers shared by the corpus readers and writers.

- ``Item``: what a reader yields per document, a ``Document`` or the ``DocumentError`` that
  stopped it, so that one broken document does not hide the others (see ``deid.corpus.io``).
- label maps of external corpora (``rules/corpus_labels.yaml``), validated at load;
- span checks whose errors name document and offsets, never the covered text;
- a streaming atomic text writer (temp file in the same folder, fsync, ``os.replace``);
  whole-file writes use ``deid.batch.atomic_write_text``.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

from deid.corpus.document import Document, DocumentError
from deid.labels import load_labels
from deid.rulefile import load_yaml, require, rules_path
from deid.span import Span

Item = Document | DocumentError


_WS = re.compile(r"\s+")


def norm_ws(s: str) -> str:
    """Collapse whitespace runs to one space (for comparing stored span texts; no stripping,
    so an offset that is one character off onto whitespace is still caught)."""
    return _WS.sub(" ", s)


def check_text(doc_id: str, text: str, start: int, end: int, stored: str | None,
               where: str = "") -> None:
    """Raise unless ``[start, end)`` lies in ``text`` and, when given, matches ``stored``.

    The stored text is compared after collapsing whitespace (formats store newlines as spaces).
    """
    if start < 0 or end <= start or end > len(text):
        raise DocumentError(f"{where}document {doc_id!r}: span [{start}, {end}) is outside the "
                            f"text (length {len(text)}) or empty")
    if stored is not None and norm_ws(text[start:end]) != norm_ws(stored):
        raise DocumentError(f"{where}document {doc_id!r}: span [{start}, {end}) does not match "
                            f"the annotated text (misaligned offsets)")


def check_overlap(doc_id: str, spans: list[Span], where: str = "") -> None:
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            raise DocumentError(f"{where}document {doc_id!r}: overlapping spans [{a.start}, "
                                f"{a.end}) {a.label} and [{b.start}, {b.end}) {b.label}")


def check_labels(doc: Document, where: str = "") -> None:
    labels = load_labels()
    for s in doc.spans:
        if s.label not in labels:
            raise DocumentError(f"{where}document {doc.id!r}: span [{s.start}, {s.end}) has "
                                f"unknown label {s.label!r} (see rules/labels.yaml)")


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).casefold()


@dataclass(frozen=True)
class LabelMap:
    """External type -> deid label, matched case- and separator-insensitively."""

    scheme: str
    table: dict[str, str]
    default: str | None = None

    def get(self, external: str) -> str | None:
        return self.table.get(_key(external))

    def __contains__(self, external: object) -> bool:
        return isinstance(external, str) and _key(external) in self.table


@lru_cache(maxsize=8)
def load_label_map(scheme: str, path: str | None = None) -> LabelMap:
    """The ``scheme`` section (``i2b2_2014`` or ``physionet``) of ``rules/corpus_labels.yaml``."""
    p = path or str(rules_path("corpus_labels.yaml"))
    data = load_yaml(p)
    require(isinstance(data, dict) and scheme in data, p, scheme, "section missing")
    sec = data[scheme]
    default = None
    if isinstance(sec, dict) and "categories" in sec:
        default = sec.get("default_label")
        sec = sec["categories"]
    require(isinstance(sec, dict) and bool(sec), p, scheme, "must map external types to labels")
    labels = load_labels()
    table: dict[str, str] = {}
    for ext, label in sec.items():
        require(isinstance(ext, str) and isinstance(label, str), p, ext,
                "external type and label must be strings")
        require(label in labels, p, ext, f"unknown target label {label!r}")
        k = _key(ext)
        require(k not in table, p, ext, "duplicate external type (case/separators ignored)")
        table[k] = label
    if default is not None:
        require(default in labels, p, f"{scheme}.default_label", f"unknown label {default!r}")
    return LabelMap(scheme, table, default)


def corpus_files(path: Path, ext: str) -> list[Path]:
    """A file itself, or the sorted ``*.ext`` files of a folder (an empty folder is an error)."""
    if path.is_dir():
        found = sorted(p for p in path.glob(f"*.{ext}") if p.is_file())
        if not found:
            raise DocumentError(f"{path}: folder holds no *.{ext} files")
        return found
    return [path]


def atomic_writer(path: Path) -> contextlib.AbstractContextManager[IO[str]]:
    """Stream text to ``path`` atomically (``deid.batch.atomic_open``)."""
    from deid.batch import atomic_open

    return atomic_open(path, text=True)


def atomic_write_text(path: Path, text: str) -> None:
    from deid.batch import atomic_write_text as write

    write(path, text)


def read_text_exact(path: Path) -> str:
    """Read UTF-8 text without newline translation (offsets count ``\\r`` as stored)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
