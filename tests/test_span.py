from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deid.span import Span, covered, resolve

LABELS = ["PATIENT", "DATE", "MRN", "CITY"]
SOURCES = ["rule:a", "ner", "known:name", "rule:b"]


def test_span_checks_itself():
    with pytest.raises(ValueError):
        Span(5, 5, "DATE")
    with pytest.raises(ValueError):
        Span(-1, 3, "DATE")
    with pytest.raises(ValueError):
        Span(0, 3, "")
    with pytest.raises(ValueError):
        Span(0, 3, "DATE", score=1.5)
    with pytest.raises(TypeError):
        Span(0.0, 3, "DATE")  # type: ignore[arg-type]
    s = Span(1, 4, "DATE")
    with pytest.raises(AttributeError):
        s.start = 2  # type: ignore[misc]


def test_span_holds_no_text():
    assert set(Span(0, 4, "DATE").to_dict()) == {"start", "end", "label", "source", "score"}


def test_resolve_union_and_priority():
    spans = [Span(0, 5, "CITY", "rule:x"), Span(3, 9, "PATIENT", "ner"), Span(20, 22, "DATE")]
    out = resolve(spans, {"PATIENT": 1, "CITY": 2})
    assert out[0] == Span(0, 9, "CITY", "rule:x", 1.0)  # rule outranks ner, union kept
    assert out[1] == Span(20, 22, "DATE")


def test_known_outranks_everything():
    out = resolve([Span(0, 5, "CITY", "rule:x"), Span(0, 5, "PATIENT", "known:name")], {})
    assert out == [Span(0, 5, "PATIENT", "known:name")]


def test_adjacent_kept_apart_unless_asked():
    a, b = Span(0, 3, "DATE"), Span(3, 6, "DATE")
    assert resolve([a, b]) == [a, b]
    assert resolve([a, b], merge_adjacent=True) == [Span(0, 6, "DATE")]


span_st = st.builds(
    lambda s, n, lab, src, sc: Span(s, s + n, lab, src, sc),
    st.integers(0, 200), st.integers(1, 30), st.sampled_from(LABELS), st.sampled_from(SOURCES),
    st.floats(0, 1),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(span_st, max_size=25))
def test_resolve_never_drops_a_character(spans):
    out = resolve(spans, {"PATIENT": 0, "DATE": 1})
    assert covered(out) == covered(spans)


@settings(max_examples=300, deadline=None)
@given(st.lists(span_st, max_size=25), st.randoms())
def test_resolve_is_deterministic_and_disjoint(spans, rnd):
    out = resolve(spans, {"PATIENT": 0})
    shuffled = list(spans)
    rnd.shuffle(shuffled)
    assert resolve(shuffled, {"PATIENT": 0}) == out
    for a, b in zip(out, out[1:], strict=False):
        assert a.end <= b.start
    # each output label belongs to one of the spans it covers
    for o in out:
        assert any(s.label == o.label and o.start <= s.start and s.end <= o.end for s in spans)


@settings(max_examples=200, deadline=None)
@given(st.lists(span_st, max_size=20))
def test_resolve_is_idempotent(spans):
    once = resolve(spans)
    assert resolve(once) == once
