"""Reading and writing annotated corpora in any supported format.

Formats: ``jsonl`` (canonical, read/write; a file or a folder of ``*.jsonl``), ``brat`` (folder
of ``.txt``/``.ann``, read/write), ``conll`` (BIO, read/write), ``i2b2`` (2014 XML, read) and
``physionet`` (``id.text`` + ``id-phi.phrase``, read). ``fmt="auto"`` picks the format from the
file extension or the folder's contents.

Every document read is checked: spans inside the text, stored span texts matching, no overlaps,
labels known to ``rules/labels.yaml``, ids unique. A bad document raises ``DocumentError`` naming
file, document and offsets (never the text) or, with ``on_error``, is reported there and skipped
while reading goes on; either way nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from deid.corpus import brat, conll, i2b2, jsonl, physionet
from deid.corpus.common import check_labels
from deid.corpus.document import Document, DocumentError
from deid.errors import InputError

READERS = {"jsonl": jsonl.read, "brat": brat.read, "conll": conll.read, "i2b2": i2b2.read,
           "physionet": physionet.read}
WRITERS = {"jsonl": jsonl.write, "brat": brat.write, "conll": conll.write}
FORMATS = tuple(READERS)
_EXT = {".jsonl": "jsonl", ".conll": "conll", ".bio": "conll", ".iob": "conll", ".xml": "i2b2",
        ".text": "physionet"}
_DIR_MARKERS = (("*.ann", "brat"), ("*.xml", "i2b2"), ("*.jsonl", "jsonl"),
                ("*.text", "physionet"))


def detect_format(path: Path) -> str:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: not found")
    if path.is_file():
        fmt = _EXT.get(path.suffix.lower())
        if fmt is None:
            raise InputError(f"{path}: cannot tell the corpus format from the extension; "
                             f"give --from/--format ({', '.join(FORMATS)})")
        return fmt
    kinds = [fmt for pattern, fmt in _DIR_MARKERS if any(path.glob(pattern))]
    if len(kinds) != 1:
        what = ", ".join(kinds) if kinds else "no .ann, .xml, .jsonl or .text files"
        raise InputError(f"{path}: cannot tell the corpus format of this folder ({what}); "
                         f"give --from/--format")
    return kinds[0]


def read_corpus(
    path: str | Path,
    fmt: str = "auto",
    on_error: Callable[[DocumentError], None] | None = None,
    labels: bool = True,
) -> Iterator[Document]:
    """Yield the documents of a corpus, checked (see module docstring).

    ``on_error``: called with each bad document's error, and reading goes on; without it the
    first error is raised. ``labels=False`` accepts labels outside ``rules/labels.yaml``.
    """
    path = Path(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in READERS:
        raise InputError(f"unknown corpus format {fmt!r} (one of {', '.join(FORMATS)})")
    if not path.exists():
        raise InputError(f"{path}: not found")
    seen: set[str] = set()
    for item in READERS[fmt](path):
        if isinstance(item, Document):
            try:
                if item.id in seen:
                    raise DocumentError(f"{path}: document id {item.id!r} appears twice")
                if labels:
                    check_labels(item, f"{path}: ")
            except DocumentError as exc:
                item = exc
            else:
                seen.add(item.id)
        if isinstance(item, DocumentError):
            if on_error is None:
                raise item
            on_error(item)
            continue
        yield item


def write_corpus(docs: Iterable[Document], path: str | Path, fmt: str) -> int:
    """Write ``docs`` to ``path`` in ``fmt`` (jsonl, brat, conll); returns the document count.

    Files are written atomically; a JSONL or CoNLL output appears only once complete.
    """
    if fmt not in WRITERS:
        raise InputError(f"cannot write corpus format {fmt!r} (one of {', '.join(WRITERS)})")
    return WRITERS[fmt](docs, Path(path))
