"""i2b2/n2c2 2014 de-identification XML (read only): one ``.xml`` file or a folder of them.

``<deIdi2b2><TEXT><![CDATA[...]]></TEXT><TAGS><NAME id="P0" start="16" end="20" text="..."
TYPE="PATIENT"/>...</TAGS></deIdi2b2>``. Offsets are relative to the CDATA content exactly as
stored in the file, so the text is cut from the raw file (an XML parser would turn ``\\r\\n``
into ``\\n`` and shift every later offset); the parser is used for well-formedness and the tags.
TYPE values map onto deid labels through ``rules/corpus_labels.yaml`` (section ``i2b2_2014``);
an unknown TYPE, a missing attribute, a span outside the text, a ``text=`` that differs from the
text at the offsets, or overlapping tags are errors naming file, tag id and offsets.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from deid.corpus.common import Item, check_overlap, check_text, corpus_files, load_label_map
from deid.corpus.document import Document, DocumentError
from deid.span import Span

_CDATA = re.compile(r"<TEXT>\s*<!\[CDATA\[(.*?)\]\]>\s*</TEXT>", re.DOTALL)


def read(path: Path) -> Iterator[Item]:
    for f in corpus_files(Path(path), "xml"):
        try:
            yield read_file(f)
        except DocumentError as exc:
            yield exc


def read_file(path: Path) -> Document:
    doc_id = path.stem
    raw = path.read_bytes()
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        line, col = exc.position
        raise DocumentError(f"{path}: malformed XML (line {line}, column {col})") from None
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    m = _CDATA.search(decoded)
    if m:
        text = m.group(1)
    else:
        node = root.find("TEXT")
        if node is None:
            raise DocumentError(f"{path}: no <TEXT> element")
        text = node.text or ""
    tags = root.find("TAGS")
    labels = load_label_map("i2b2_2014")
    spans: list[Span] = []
    for i, tag in enumerate(tags if tags is not None else []):
        tid = tag.get("id") or f"#{i}"
        where = f"{path}: tag {tid!r}: "
        typ, start, end = tag.get("TYPE"), tag.get("start"), tag.get("end")
        if typ is None or start is None or end is None:
            raise DocumentError(f"{where}document {doc_id!r}: needs TYPE, start and end")
        try:
            s, e = int(start), int(end)
        except ValueError:
            raise DocumentError(f"{where}document {doc_id!r}: start/end are not integers") from None
        check_text(doc_id, text, s, e, tag.get("text"), where)
        label = labels.get(typ)
        if label is None:
            raise DocumentError(f"{where}document {doc_id!r}: TYPE {typ!r} is not mapped in "
                                f"rules/corpus_labels.yaml (i2b2_2014)")
        spans.append(Span(s, e, label, "gold"))
    check_overlap(doc_id, spans, f"{path}: ")
    return Document(doc_id, text, tuple(sorted(spans)), {"corpus": "i2b2_2014"})
