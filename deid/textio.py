"""Reading notes for ``deid text`` / ``deid detect``: folders of .txt, JSONL, CSV and stdin.

Each note becomes a ``Note`` (id, text) or a ``BadNote`` (id, reason). Reasons describe the
problem (encoding, size, binary, malformed line, missing column), never the content.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BYTES = 10_000_000


@dataclass(frozen=True)
class Note:
    id: str
    text: str
    record: dict[str, object] | None = None  # the JSONL/CSV record (other fields)


@dataclass(frozen=True)
class BadNote:
    id: str
    reason: str


def decode(data: bytes, encoding: str | None, max_bytes: int) -> str:
    """Bytes -> text, or ValueError with a reason that carries no content."""
    if len(data) > max_bytes:
        raise ValueError(
            f"note is {len(data):,} bytes, over the limit of {max_bytes:,}; "
            "raise it with --max-bytes to process it"
        )
    if not data.strip():
        raise ValueError("empty file (nothing to de-identify; no output written)")
    if b"\x00" in data[:8192] and not (encoding or "").lower().startswith("utf-16"):
        raise ValueError("binary file (NUL bytes); not a text note")
    enc = encoding or "utf-8"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        hint = "" if encoding else "; pass --encoding (e.g. cp1252 or latin-1) if it is not UTF-8"
        raise ValueError(f"cannot decode as {enc} at byte {exc.start}{hint}") from None
    except LookupError:
        raise ValueError(f"unknown encoding {enc!r}") from None
    return text.removeprefix("\ufeff")


def iter_txt_folder(root: Path, suffixes: tuple[str, ...] = (".txt",)) -> Iterator[Path]:
    """Files under ``root`` with a note suffix, sorted, recursively (symlinked dirs not followed)."""
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in suffixes and (p.is_file() or p.is_symlink()):
            yield p


def note_id(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel[: -len(path.suffix)] if path.suffix else rel


def read_jsonl(path: Path, id_field: str, text_field: str, encoding: str | None,
               max_bytes: int) -> Iterator[Note | BadNote]:
    with open(path, "rb") as fh:
        for ln, raw in enumerate(fh, start=1):
            line_id = f"line {ln}"
            if isinstance(raw, bytes):
                try:
                    raw = raw.decode(encoding or "utf-8")
                    if ln == 1:
                        raw = raw.removeprefix("\ufeff")
                except UnicodeDecodeError as exc:
                    yield BadNote(line_id, f"cannot decode line at byte {exc.start}")
                    continue
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield BadNote(line_id, f"malformed JSON at column {exc.colno}")
                continue
            if not isinstance(obj, dict):
                yield BadNote(line_id, "line is not a JSON object")
                continue
            if text_field not in obj or not isinstance(obj[text_field], str):
                yield BadNote(line_id, f"no string field {text_field!r}")
                continue
            nid = str(obj.get(id_field, line_id))
            if len(obj[text_field].encode("utf-8", "surrogatepass")) > max_bytes:
                yield BadNote(nid, f"note over the limit of {max_bytes:,} bytes; raise --max-bytes")
                continue
            yield Note(nid, obj[text_field], obj)


def read_csv(path: Path, id_field: str, text_field: str, encoding: str | None,
             max_bytes: int) -> Iterator[Note | BadNote]:
    try:
        text = decode(path.read_bytes(), encoding, max_bytes * 100)
    except ValueError as exc:
        yield BadNote(path.name, str(exc))
        return
    csv.field_size_limit(max(max_bytes, 1 << 20))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or text_field not in reader.fieldnames:
        # never quote the first row: without a header it is a record (id and note text)
        n = len(reader.fieldnames or [])
        yield BadNote(path.name, f"CSV has no column {text_field!r} in its first row ({n} fields); "
                                 "set --text-field / --id-field")
        return
    try:
        for i, row in enumerate(reader, start=1):
            nid = str(row.get(id_field) or f"row {i}")
            val = row.get(text_field)
            if val is None:
                yield BadNote(nid, f"row {i} has no {text_field!r} value")
                continue
            if len(val.encode("utf-8")) > max_bytes:
                yield BadNote(nid, f"note over the limit of {max_bytes:,} bytes; raise --max-bytes")
                continue
            yield Note(nid, val, dict(row))
    except csv.Error as exc:
        yield BadNote(path.name, f"malformed CSV near record {reader.line_num}: {type(exc).__name__}")
