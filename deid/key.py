"""The user's secret key and everything derived from it with HMAC-SHA256.

Surrogates, date offsets, pseudonyms and UIDs are pure functions of (key, purpose, value), so the
same input gives the same output in every process, file, run and machine, with no shared state.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

ENV_VAR = "DEID_KEY"
MIN_KEY_BYTES = 16


class KeyError_(ValueError):
    """A key that is missing, too short or unreadable."""


def normalize(value: str) -> str:
    """Canonical form of an identifier before hashing: NFKC, case-folded, single spaces."""
    v = unicodedata.normalize("NFKC", value).casefold()
    return " ".join(v.split())


@dataclass(frozen=True)
class Key:
    """A secret key. ``ephemeral`` is True when it was generated for this run only."""

    secret: bytes = field(repr=False)
    ephemeral: bool = False

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise KeyError_(f"key must be at least {MIN_KEY_BYTES} bytes long")

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> Key:
        try:
            data = Path(path).read_bytes().strip()
        except OSError as exc:
            raise KeyError_(f"cannot read key file {path}: {exc.strerror}") from None
        return cls(data)

    @classmethod
    def from_env(cls, var: str = ENV_VAR) -> Key | None:
        v = os.environ.get(var)
        return cls(v.encode("utf-8")) if v else None

    @classmethod
    def random(cls) -> Key:
        return cls(secrets.token_bytes(32), ephemeral=True)

    @classmethod
    def load(cls, key_file: str | Path | None = None) -> Key:
        """Key from a file, else from ``$DEID_KEY``, else a fresh random (ephemeral) key."""
        if key_file:
            return cls.from_file(key_file)
        return cls.from_env() or cls.random()

    # -- derivation ---------------------------------------------------------------------
    def digest(self, purpose: str, *parts: str) -> bytes:
        msg = "\x1f".join((purpose, *parts)).encode("utf-8")
        return hmac.new(self.secret, msg, hashlib.sha256).digest()

    def integer(self, purpose: str, *parts: str) -> int:
        return int.from_bytes(self.digest(purpose, *parts), "big")

    def uniform(self, purpose: str, lo: int, hi: int, *parts: str) -> int:
        """An integer in ``[lo, hi]`` (inclusive)."""
        if hi < lo:
            raise ValueError("empty range")
        return lo + self.integer(purpose, *parts) % (hi - lo + 1)

    def choice(self, purpose: str, options: Sequence[T], *parts: str) -> T:
        if not options:
            raise ValueError("no options to choose from")
        return options[self.integer(purpose, *parts) % len(options)]

    def fingerprint(self) -> str:
        """A short, non-reversible identifier of the key (safe to log)."""
        return self.digest("fingerprint").hex()[:16]

    def hash_id(self, value: str, purpose: str = "id") -> str:
        """A keyed hash of an identifier, safe to write to audit files."""
        return self.digest(purpose, normalize(value)).hex()[:16]

    def day_offset(self, patient: str, min_days: int = 30, max_days: int = 365) -> int:
        """The per-patient date shift in days (negative: dates move into the past)."""
        return -self.uniform("date-shift", min_days, max_days, normalize(patient))

    def uid(self, original: str) -> str:
        """A new UID ``2.25.<int>`` derived from the original UID (at most 64 characters)."""
        n = int.from_bytes(self.digest("uid", original.strip().rstrip("\x00"))[:16], "big")
        return f"2.25.{n}"

    def pseudonym(self, value: str, fmt: str = "{prefix}{n:08d}", prefix: str = "ANON",
                  purpose: str = "pseudonym") -> str:
        """A stable pseudonym for an identifier, e.g. ``ANON03958177``."""
        n = self.integer(purpose, normalize(value)) % 100_000_000
        h = self.digest(purpose, normalize(value)).hex()
        return fmt.format(prefix=prefix, n=n, hex=h[:12])
