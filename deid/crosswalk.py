"""The optional re-identification crosswalk (SQLite). SENSITIVE: it maps surrogates back to
the original identifiers. It is written only when asked for, never beside the outputs by
default, and must be stored and shared like the original data."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mapping (
  kind TEXT NOT NULL,          -- 'text' or 'dicom'
  label TEXT NOT NULL,         -- label or DICOM keyword
  original TEXT NOT NULL,
  replacement TEXT NOT NULL,
  first_seen TEXT,             -- document id / file where it was first seen
  PRIMARY KEY (kind, label, original, replacement)
);
"""


class Crosswalk:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        with contextlib.suppress(OSError):
            self.path.chmod(0o600)

    def add(self, kind: str, rows: Iterable[tuple[str, str, str]], where: str) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO mapping VALUES (?, ?, ?, ?, ?)",
            [(kind, label, orig, new, where) for label, orig, new in rows],
        )

    def lookup(self, replacement: str) -> list[tuple[str, str, str]]:
        cur = self.db.execute(
            "SELECT kind, label, original FROM mapping WHERE replacement = ?", (replacement,)
        )
        return list(cur.fetchall())

    def close(self) -> None:
        self.db.commit()
        self.db.close()
