"""Locating and reading the data files under ``rules/`` with errors that name file and rule."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from deid.errors import RuleError

RULES_ENV = "DEID_RULES"


def rules_dir() -> Path:
    """The rules folder: ``$DEID_RULES`` or the ``rules/`` folder beside the package."""
    return _rules_dir(os.environ.get(RULES_ENV))


@lru_cache(maxsize=8)
def _rules_dir(env: str | None) -> Path:
    return Path(env) if env else Path(__file__).resolve().parent.parent / "rules"


@lru_cache(maxsize=1)
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def rules_path(*parts: str) -> Path:
    return rules_dir().joinpath(*parts)


@lru_cache(maxsize=256)
def _load_yaml_cached(path: str, mtime: float) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file, reporting syntax errors with the file name and line."""
    p = Path(path)
    try:
        return _load_yaml_cached(str(p), p.stat().st_mtime)
    except FileNotFoundError:
        raise RuleError(p, None, "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "syntax"
        raise RuleError(p, None, f"invalid YAML ({where}): {getattr(exc, 'problem', exc)}") from None


def require(cond: bool, file: object, rule: object | None, message: str) -> None:
    if not cond:
        raise RuleError(file, rule, message)


def load_wordlist(name: str, base: Path | None = None) -> frozenset[str]:
    """A word list ``rules/wordlists/<name>.txt``: one entry a line, ``#`` comments, casefolded."""
    return _wordlist_by_name(name, base, os.environ.get(RULES_ENV))


@lru_cache(maxsize=256)
def _wordlist_by_name(name: str, base: Path | None, env: str | None) -> frozenset[str]:
    path = (base or rules_path("wordlists")) / f"{name}.txt"
    return _load_wordlist(str(path))


@lru_cache(maxsize=128)
def _load_wordlist(path: str) -> frozenset[str]:
    p = Path(path)
    if not p.exists():
        raise RuleError(p, None, "word list not found")
    words: set[str] = set()
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                words.add(" ".join(line.casefold().split()))
    if not words:
        raise RuleError(p, None, "word list is empty")
    return frozenset(words)


def wordlist_entries(name: str) -> list[str]:
    """The entries of a word list in file order, original case (for surrogate pools)."""
    p = rules_path("wordlists", f"{name}.txt")
    if not p.exists():
        raise RuleError(p, None, "word list not found")
    out: list[str] = []
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(line)
    return out
