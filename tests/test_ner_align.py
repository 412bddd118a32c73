"""Sub-word alignment, windowing and word shapes (tokenizer only; no model)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deid.corpus.document import Document
from deid.ner.align import (
    AlignmentError,
    align_labels,
    bio_labels,
    check_alignment,
    encode,
    encode_batch,
    plan_windows,
)
from deid.ner.backbone import find_backbone, load_tokenizer
from deid.ner.shape import DIGITS, INITIAL, LOWER, MIXED, PUNCT, TITLE, UPPER, word_shape
from deid.ner.train import check_corpus
from deid.span import Span


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(find_backbone())


@given(n=st.integers(0, 3000), max_len=st.integers(4, 512), data=st.data())
@settings(max_examples=200, deadline=None)
def test_window_cores_partition_tokens(n, max_len, data):
    stride = data.draw(st.integers(0, max_len - 3))
    wins = plan_windows(n, max_len, stride)
    covered = []
    for w in wins:
        assert 0 <= w.start <= w.core_start < w.core_end <= w.end <= n
        assert w.end - w.start <= max_len - 2
        covered += range(w.core_start, w.core_end)
    assert covered == list(range(n))
    # the fewest windows, all of one width, neighbours overlapping by at least the stride
    size = max_len - 2
    assert len(wins) == (0 if n == 0 else 1 if n <= size else -(-(n - stride) // (size - stride)))
    assert len({w.end - w.start for w in wins}) <= 1
    for a, b in zip(wins, wins[1:], strict=False):
        assert a.end - b.start >= stride and a.start < b.start


def test_window_rejects_bad_settings():
    with pytest.raises(ValueError):
        plan_windows(10, 3, 0)
    with pytest.raises(ValueError):
        plan_windows(10, 10, 8)


def test_word_shapes():
    assert word_shape("smith") == LOWER
    assert word_shape("Smith") == TITLE
    assert word_shape("SMITH") == UPPER
    assert word_shape("J") == INITIAL
    assert word_shape("2024") == DIGITS
    assert word_shape("McDonald") == MIXED
    assert word_shape("-") == PUNCT


def test_encode_offsets_and_shapes(tok):
    text = "Dr. Xiaoming McDonald\x00 saw MRN12345 \u2013 Zoë  "
    enc = encode(tok, text)
    assert len(enc.ids) == len(enc.offsets) == len(enc.shapes) == len(enc.word_ids)
    for s, e in enc.offsets:
        assert 0 <= s < e <= len(text)
    # sub-tokens of "Xiaoming" share the word's Title shape, not the lowercase piece's
    xs = [sh for (s, e), sh in zip(enc.offsets, enc.shapes, strict=True) if 4 <= s < 12]
    assert len(xs) >= 2 and set(xs) == {TITLE}
    assert encode(tok, "").ids == []
    assert [len(e) for e in encode_batch(tok, ["", "a b", ""])] == [0, 2, 0]


def test_bio_alignment_multi_piece_and_multi_word(tok):
    text = "Seen by Xiaoming Okonkwo-Smith on 2020-01-05."
    s1 = text.index("Xiaoming")
    s2 = text.index("2020")
    doc = Document("d1", text, (Span(s1, s1 + len("Xiaoming Okonkwo-Smith"), "PATIENT", "gold"),
                                Span(s2, s2 + 10, "DATE", "gold")))
    enc = encode(tok, text)
    assert check_alignment(doc, enc) == []
    labels = bio_labels(["DATE", "PATIENT"])
    ids = align_labels(doc, enc, {lab: i for i, lab in enumerate(labels)})
    names = [labels[i] for i in ids]
    starts = [s for s, _ in enc.offsets]
    assert names[starts.index(s1)] == "B-PATIENT"
    assert names[starts.index(s2)] == "B-DATE"
    inside = [n for (s, _), n in zip(enc.offsets, names, strict=True)
              if s1 < s < s1 + len("Xiaoming Okonkwo-Smith")]
    assert inside and set(inside) == {"I-PATIENT"}
    assert names.count("B-PATIENT") == 1 and names.count("B-DATE") == 1
    assert names[0] == "O" and names[-1] == "O"


def test_long_note_windows_cover_every_token(tok):
    text = " ".join(f"word{i} Smith" for i in range(600))
    enc = encode(tok, text)
    assert len(enc) > 1500
    wins = plan_windows(len(enc), 128, 32)
    assert len(wins) > 10 and wins[-1].end == len(enc)


@pytest.mark.parametrize("span,reason", [
    ((9, 12), "cuts through"),      # "Xia" of "Xiaoming": inside a sub-word token
    ((7, 16), "whitespace"),        # leading space
    ((4, 5), "whitespace"),          # a lone space
])
def test_misaligned_spans_are_reported_by_document(tok, span, reason):
    text = "Seen by Xiaoming today."
    doc = Document("note-77", text, (Span(*span, "PATIENT", "gold"),))
    enc = encode(tok, text)
    probs = check_alignment(doc, enc)
    assert len(probs) == 1 and "note-77" in probs[0] and reason in probs[0]
    assert "Xiao" not in probs[0] and "Seen" not in probs[0]
    with pytest.raises(AlignmentError, match="note-77"):
        check_corpus([doc], [enc], "train corpus")


def test_overlapping_gold_spans_are_reported(tok):
    text = "John Smith was here"
    doc = Document("ov", text, (Span(0, 10, "PATIENT", "gold"), Span(5, 10, "NAME", "gold")))
    assert any("overlapping" in p for p in check_alignment(doc, encode(tok, text)))
