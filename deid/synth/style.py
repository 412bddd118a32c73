"""Style transforms over a note's pieces: ALL CAPS, all lower case, shorthand, dropped punctuation, typos
(outside PHI, and inside names with gold following), doubled spaces, hard line wrapping.

Transforms only change piece texts; offsets are computed afterwards from the pieces, so gold
spans always cover exactly the (possibly transformed) PHI text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from deid.synth.build import Piece, merge_text
from deid.synth.data import NAME_LABELS, STYLE_KEYS, NamePools

__all__ = ["STYLE_KEYS", "apply_style", "typo", "wrap"]

_WORD = re.compile(r"[A-Za-z]{4,}")
_PERIOD = re.compile(r"\.(?=[ \n]|$)")
_KEYS = "qwertyuiopasdfghjklzxcvbnm"


@lru_cache(maxsize=4)
def _abbrev_re(rules: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    table = {k.casefold(): v for k, v in rules}
    alts = sorted(table, key=len, reverse=True)
    pat = r"\b(?:" + "|".join(re.escape(a) + (r"\b" if a[-1].isalnum() else "") for a in alts) + ")"
    return re.compile(pat, re.IGNORECASE), table


def typo(word: str, rng: random.Random) -> str:
    """One keyboard-style typo: transposition, deletion, doubling or substitution."""
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    c = rng.choice(_KEYS)
    return word[:i] + (c.upper() if word[i].isupper() else c) + word[i + 1:]


def apply_style(pieces: list[Piece], spec: Mapping[str, Any], rng: random.Random,
                abbreviations: tuple[tuple[str, str], ...], pools: NamePools) -> list[Piece]:
    pieces = merge_text(pieces)
    p_ab = float(spec.get("abbreviate", 0))
    p_dp = float(spec.get("drop_punct", 0))
    p_ty = float(spec.get("typos", 0))
    p_pt = float(spec.get("phi_typos", 0))
    p_ds = float(spec.get("double_space", 0))
    ab_re, ab_table = _abbrev_re(abbreviations) if p_ab else (None, {})

    def abbrev(m: re.Match[str]) -> str:
        return ab_table[m.group(0).casefold()] if rng.random() < p_ab else m.group(0)

    def drop(m: re.Match[str]) -> str:
        return "" if rng.random() < p_dp else "."

    def mistype(m: re.Match[str]) -> str:
        return typo(m.group(0), rng) if rng.random() < p_ty else m.group(0)

    for piece in pieces:
        text, label = piece
        if label is None:
            if ab_re is not None:
                text = ab_re.sub(abbrev, text)
            if p_dp:
                text = _PERIOD.sub(drop, text)
            if p_ty:
                text = _WORD.sub(mistype, text)
            if p_ds:
                text = re.sub(" ", lambda m: "  " if rng.random() < p_ds else " ", text)
        elif p_pt and label in NAME_LABELS and rng.random() < p_pt:
            words = _WORD.findall(text)
            if words:
                w = rng.choice(words)
                new = text.replace(w, typo(w, rng), 1)
                # a misspelt name must still belong to this split's name pool
                if pools.in_split(new):
                    text = new
        piece[0] = text
    if spec.get("upper"):
        for piece in pieces:
            piece[0] = piece[0].upper()
    elif spec.get("lower"):
        for piece in pieces:
            piece[0] = piece[0].lower()
    if spec.get("wrap"):
        lo, hi = spec["wrap"]
        wrap(pieces, rng.randint(int(lo), int(hi)))
    return [p for p in pieces if p[0]]


def wrap(pieces: list[Piece], width: int) -> None:
    """Hard-wrap at ``width`` by turning spaces outside PHI into newlines (mid-sentence)."""
    col = 0
    for piece in pieces:
        text, label = piece
        if label is not None:
            col += len(text)
            continue
        out = []
        for ch in text:
            if ch == "\n":
                col = 0
            elif ch == " " and col >= width:
                ch = "\n"
                col = 0
            else:
                col += 1
            out.append(ch)
        piece[0] = "".join(out)
