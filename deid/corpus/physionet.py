"""PhysioNet deid gold standard (read only): ``id.text`` plus ``id-phi.phrase`` beside it.

``id.text`` holds records ``START_OF_RECORD=PID||||NID||||`` newline, the note, then a line
``||||END_OF_RECORD``. A record's text is everything between the header line and the end marker,
exactly as stored; document ids are ``PID-NID`` (``meta`` keeps ``patient_id`` and ``note_id``).

``id-phi.phrase`` lines are ``PID NID START END [CATEGORY] [PHRASE]`` with end-exclusive offsets
into the record text. Three variants occur and all are read:

- ``PID NID START END CATEGORY PHRASE`` (the deid 1.1 release): the category is mapped through
  ``rules/corpus_labels.yaml`` (section ``physionet``) and the phrase must match the text;
- ``PID NID START END CATEGORY``: mapped, offsets checked against the record length only;
- ``PID NID START END PHRASE`` or bare ``PID NID START END`` (no category): a phrase must match
  the text, and the span gets
  ``physionet.default_label`` (IDNUM: Safe Harbor's catch-all "any other unique identifying
  number, characteristic, or code", so it still counts as PHI to remove). Such documents carry
  ``meta["default_labelled"]`` = the number of spans labelled that way, so per-label figures
  can be read with care. The label-blind headline metrics are unaffected. A generic "PHI"
  label would say this better; it would have to be added to ``rules/labels.yaml`` first.

A line whose remainder is neither a known category nor the text at its offsets, offsets outside
the record, a record the phrase file does not know, or overlapping spans are errors naming the
file, line, document and offsets (never the text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from deid.corpus.common import (
    Item,
    LabelMap,
    check_overlap,
    check_text,
    load_label_map,
    norm_ws,
    read_text_exact,
)
from deid.corpus.document import Document, DocumentError
from deid.span import Span

END = "||||END_OF_RECORD"
_START = re.compile(r"^START_OF_RECORD=([^|\s]+)\|\|\|\|([^|\s]+)\|\|\|\|\s*$")
_PHRASE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\d+)\s+(\d+)(?:[ \t](.*))?$")


def text_file(path: Path) -> Path:
    if path.is_dir():
        found = sorted(p for p in path.glob("*.text") if p.is_file())
        if len(found) != 1:
            raise DocumentError(f"{path}: PhysioNet folder must hold exactly one *.text file "
                                f"(found {len(found)})")
        return found[0]
    return path


def phrase_file(text_path: Path) -> Path:
    return text_path.with_name(f"{text_path.stem}-phi.phrase")


def read_records(path: Path) -> dict[tuple[str, str], str]:
    """``(pid, nid) -> record text`` in file order."""
    records: dict[tuple[str, str], str] = {}
    cur: tuple[str, str] | None = None
    buf: list[str] = []
    lines = read_text_exact(path).split("\n")
    for n, raw in enumerate(lines, 1):
        line = raw + ("\n" if n < len(lines) else "")
        if cur is None:
            if not raw.strip():
                continue
            m = _START.match(raw.rstrip("\r"))
            if not m:
                raise DocumentError(f"{path}:{n}: expected START_OF_RECORD=PID||||NID||||")
            cur = (m.group(1), m.group(2))
            if cur in records:
                raise DocumentError(f"{path}:{n}: record {cur[0]}-{cur[1]} appears twice")
            buf = []
            continue
        idx = line.find(END)
        if idx < 0:
            buf.append(line)
            continue
        buf.append(line[:idx])
        records[cur] = "".join(buf)
        cur = None
    if cur is not None:
        raise DocumentError(f"{path}: record {cur[0]}-{cur[1]} has no {END} line")
    return records


def _label(rest: str, span_text: str, cats: LabelMap) -> tuple[str | None, bool]:
    """``(label, defaulted)`` for a phrase-line remainder; label None when nothing matches.

    A leading category wins over reading the whole remainder as the phrase.
    """
    if not rest.strip():
        return cats.default, True
    words = rest.split(" ")
    for k in range(1, min(3, len(words)) + 1):
        cat = " ".join(words[:k])
        if cat in cats:
            tail = " ".join(words[k:])
            if not tail.strip() or norm_ws(tail) == norm_ws(span_text):
                return cats.get(cat), False
    if norm_ws(rest) == norm_ws(span_text):
        return cats.default, True
    return None, False


def read(path: Path) -> Iterator[Item]:
    tpath = text_file(Path(path))
    ppath = phrase_file(tpath)
    if not ppath.exists():
        raise DocumentError(f"{tpath}: annotation file {ppath.name} not found beside it")
    records = read_records(tpath)
    cats = load_label_map("physionet")
    spans: dict[tuple[str, str], list[Span]] = {k: [] for k in records}
    defaulted: dict[tuple[str, str], int] = {}
    errors: dict[tuple[str, str], DocumentError] = {}
    for n, raw in enumerate(read_text_exact(ppath).split("\n"), 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        m = _PHRASE.match(line)
        if not m:
            yield DocumentError(f"{ppath}:{n}: expected 'PID NID START END [CATEGORY] [PHRASE]'")
            continue
        key = (m.group(1), m.group(2))
        doc_id = f"{key[0]}-{key[1]}"
        if key not in records:
            yield DocumentError(f"{ppath}:{n}: document {doc_id!r} is not in {tpath.name}")
            continue
        if key in errors:
            continue
        text = records[key]
        s, e = int(m.group(3)), int(m.group(4))
        where = f"{ppath}:{n}: "
        try:
            check_text(doc_id, text, s, e, None, where)
            label, dflt = _label(m.group(5) or "", text[s:e], cats)
            if label is None:
                raise DocumentError(f"{where}document {doc_id!r}: span [{s}, {e}): field 5 is "
                                    f"neither a known category (rules/corpus_labels.yaml) nor "
                                    f"the text at the offsets (misaligned)")
        except DocumentError as exc:
            errors[key] = exc
            continue
        if dflt:
            defaulted[key] = defaulted.get(key, 0) + 1
        spans[key].append(Span(s, e, label, "gold"))
    for key, text in records.items():
        if key in errors:
            yield errors[key]
            continue
        doc_id = f"{key[0]}-{key[1]}"
        try:
            check_overlap(doc_id, spans[key], f"{ppath}: ")
        except DocumentError as exc:
            yield exc
            continue
        meta: dict[str, object] = {"corpus": "physionet", "patient_id": key[0], "note_id": key[1]}
        if key in defaulted:
            meta["default_labelled"] = defaulted[key]
        yield Document(doc_id, text, tuple(sorted(spans[key])), meta)

