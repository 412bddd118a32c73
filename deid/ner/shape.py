"""Word shape (case/digit pattern) feature: the encoder is uncased, names are not."""

from __future__ import annotations

PAD, LOWER, TITLE, UPPER, DIGITS, ALNUM, MIXED, PUNCT, OTHER, INITIAL = range(10)
NUM_SHAPES = 10
SHAPE_NAMES = ("pad", "xxxx", "Xxxx", "XXXX", "dd", "alnum", "xXxX", "punct", "other", "X")


def word_shape(word: str) -> int:
    """The shape class of one pre-tokenized word (a letter/digit run or a punctuation mark)."""
    if not word:
        return PAD
    if word.isdigit():
        return DIGITS
    has_alpha = any(c.isalpha() for c in word)
    has_digit = any(c.isdigit() for c in word)
    if has_alpha and has_digit:
        return ALNUM
    if not has_alpha:
        return PUNCT if all(not c.isalnum() and not c.isspace() for c in word) else OTHER
    if word.isupper():
        return INITIAL if len(word) == 1 else UPPER
    if word.islower():
        return LOWER
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return TITLE
    if word.isalpha() and any(c.isupper() for c in word):
        return MIXED
    return OTHER


def token_shapes(text: str, offsets: list[tuple[int, int]], word_ids: list[int | None]) -> list[int]:
    """Per sub-token shape: the shape of the whole word the sub-token belongs to."""
    spans: dict[int, tuple[int, int]] = {}
    for (s, e), w in zip(offsets, word_ids, strict=True):
        if w is None:
            continue
        lo, hi = spans.get(w, (s, e))
        spans[w] = (min(lo, s), max(hi, e))
    cache = {w: word_shape(text[s:e]) for w, (s, e) in spans.items()}
    return [PAD if w is None else cache[w] for w in word_ids]
