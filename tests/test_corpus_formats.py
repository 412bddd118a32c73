"""Corpus readers and writers: fixtures, round trips, format detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deid.corpus import conll
from deid.corpus.document import Document
from deid.corpus.io import detect_format, read_corpus, write_corpus
from deid.errors import InputError
from deid.span import Span

DATA = Path(__file__).parent / "data" / "corpus"


def texts(doc: Document) -> list[tuple[str, str]]:
    return [(s.label, doc.text[s.start:s.end]) for s in sorted(doc.spans)]


def squash(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(lab, "".join(t.split())) for lab, t in pairs]


def sample_docs() -> list[Document]:
    t1 = "Seen by Dr. John Smith on 03/04/2021.\r\nMRN 12345, tel (555) 010-2234"
    t2 = "Unicode: Zoë Ångström wohnt in München.\n"
    return [
        Document("n1", t1, (Span(12, 22, "DOCTOR", "gold"), Span(26, 36, "DATE", "gold"),
                            Span(43, 48, "MRN", "gold"), Span(54, 68, "PHONE", "gold")),
                 {"note_type": "progress"}),
        Document("n/2", t2, (Span(9, 21, "PATIENT", "gold"), Span(31, 38, "CITY", "gold")), {}),
        Document("empty", "", (), {}),
    ]


def test_sample_docs_are_what_they_claim() -> None:
    d1, d2, _ = sample_docs()
    assert texts(d1) == [("DOCTOR", "John Smith"), ("DATE", "03/04/2021"), ("MRN", "12345"),
                         ("PHONE", "(555) 010-2234")]
    assert texts(d2) == [("PATIENT", "Zoë Ångström"), ("CITY", "München")]


# -- JSONL -------------------------------------------------------------------------------------


def test_jsonl_round_trip_is_exact(tmp_path: Path) -> None:
    docs = sample_docs()
    assert write_corpus(docs, tmp_path / "c.jsonl", "jsonl") == 3
    back = list(read_corpus(tmp_path / "c.jsonl"))
    assert back == docs
    assert back[0].text.count("\r\n") == 1  # no newline translation


def test_jsonl_folder_reads_all_files_in_order(tmp_path: Path) -> None:
    d = sample_docs()
    write_corpus(d[1:], tmp_path / "b.jsonl", "jsonl")
    write_corpus(d[:1], tmp_path / "a.jsonl", "jsonl")
    assert detect_format(tmp_path) == "jsonl"
    assert [x.id for x in read_corpus(tmp_path)] == ["n1", "n/2", "empty"]


# -- BRAT --------------------------------------------------------------------------------------


def test_brat_fixture_discontinuous_and_other_lines() -> None:
    docs = {d.id: d for d in read_corpus(DATA / "brat")}
    assert set(docs) == {"note-a", "note-b"}
    a = docs["note-a"]
    assert texts(a) == [("DOCTOR", "Oscar Nobody"), ("PATIENT", "Ima Testperson"),
                        ("DATE", "04/07/2069"), ("MRN", "7654321"), ("HOSPITAL", "Springfield"),
                        ("HOSPITAL", "Hospital")]
    assert a.meta["brat_other"] == {"#": 1, "R": 1}
    assert docs["note-b"].spans == ()


def test_jsonl_brat_jsonl_round_trip(tmp_path: Path) -> None:
    docs = sample_docs()
    write_corpus(docs, tmp_path / "brat", "brat")
    assert sorted(p.name for p in (tmp_path / "brat").iterdir())[:2] == ["empty.ann", "empty.txt"]
    back = {d.id: d for d in read_corpus(tmp_path / "brat")}
    for d in docs:
        b = back[d.id.replace("/", "_")]
        assert b.text == d.text and b.spans == d.spans


# -- CoNLL -------------------------------------------------------------------------------------


def test_conll_fixture() -> None:
    docs = list(read_corpus(DATA / "sample.conll"))
    assert [d.id for d in docs] == ["c1", "c2"]
    c1, c2 = docs
    assert c1.text == "Seen by Dr . Oscar Nobody on 04/07/2069 MRN 7654321"
    assert texts(c1) == [("DOCTOR", "Oscar Nobody"), ("DATE", "04/07/2069"), ("MRN", "7654321")]
    assert texts(c2) == [("PATIENT", "Ima Testperson"), ("RELATIVE", "Bob")]


def test_conll_without_docstart_splits_on_blank_lines(tmp_path: Path) -> None:
    p = tmp_path / "x.conll"
    p.write_text("Ima B-PATIENT\nTestperson I-PATIENT\n\n\nBob B-RELATIVE\nleft O\n\n")
    docs = list(read_corpus(p))
    assert [d.id for d in docs] == ["x-1", "x-2"]
    assert texts(docs[0]) == [("PATIENT", "Ima Testperson")]
    assert docs[1].text == "Bob left"


def test_conll_round_trip_keeps_spans_and_is_idempotent(tmp_path: Path) -> None:
    """Writing re-tokenises punctuation ("04/07/2069" -> "04 / 07 / 2069"); after that, exact."""
    docs = list(read_corpus(DATA / "sample.conll"))
    write_corpus(docs, tmp_path / "o.conll", "conll")
    again = list(read_corpus(tmp_path / "o.conll"))
    assert [d.id for d in again] == ["c1", "c2"]
    for a, b in zip(docs, again, strict=True):
        assert squash(texts(a)) == squash(texts(b))
    assert again[1] == docs[1]
    write_corpus(again, tmp_path / "o2.conll", "conll")
    assert list(read_corpus(tmp_path / "o2.conll")) == again
    assert (tmp_path / "o.conll").read_text() == (tmp_path / "o2.conll").read_text()


def test_jsonl_to_conll_keeps_every_span(tmp_path: Path) -> None:
    docs = sample_docs()
    write_corpus(docs, tmp_path / "c.conll", "conll")
    back = list(read_corpus(tmp_path / "c.conll"))
    assert [d.id for d in back] == [d.id for d in docs]
    for a, b in zip(docs, back, strict=True):
        assert squash(texts(a)) == squash(texts(b))
    assert back[0].text.startswith("Seen by Dr . John Smith on 03 / 04 / 2021 .")


def test_conll_splits_tokens_at_span_boundaries() -> None:
    doc = Document("t", "ID:AB12cd", (Span(3, 7, "IDNUM", "gold"),), {})
    assert conll.to_bio(doc) == [("ID", "O"), (":", "O"), ("AB12", "B-IDNUM"), ("cd", "O")]


def test_brat_to_conll_to_brat(tmp_path: Path) -> None:
    docs = list(read_corpus(DATA / "brat"))
    write_corpus(docs, tmp_path / "c.conll", "conll")
    write_corpus(read_corpus(tmp_path / "c.conll"), tmp_path / "b2", "brat")
    back = {d.id: d for d in read_corpus(tmp_path / "b2")}
    for d in docs:
        assert squash(texts(d)) == squash(texts(back[d.id]))


_WORD = st.text(alphabet="abcXYZ019", min_size=1, max_size=6)
_LABELS = st.sampled_from(["PATIENT", "DATE", "MRN", None])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(_WORD, min_size=1, max_size=3), _LABELS), max_size=8))
def test_conll_round_trip_property(chunks: list[tuple[list[str], str | None]]) -> None:
    """Tokenised text with spans on token boundaries survives JSONL -> CoNLL -> JSONL exactly."""
    words: list[str] = []
    spans: list[Span] = []
    pos = 0
    for toks, label in chunks:
        start = pos + (1 if words else 0)
        for t in toks:
            pos += (1 if words else 0) + len(t)
            words.append(t)
        if label:
            spans.append(Span(start, pos, label, "gold"))
    doc = Document("p", " ".join(words), tuple(spans), {})
    rows = conll.to_bio(doc)
    back = conll._to_doc(Path("p.conll"), "p",
                         [(i, f"{t} {tag}") for i, (t, tag) in enumerate(rows, 1)])
    assert back == doc


# -- i2b2 --------------------------------------------------------------------------------------


def test_i2b2_fixture_maps_types_and_keeps_cdata_exactly() -> None:
    docs = list(read_corpus(DATA / "i2b2"))
    assert [d.id for d in docs] == ["110-01", "110-02"]
    a = docs[0]
    assert a.text.startswith("\n\n\nRecord date: 2069-04-07")  # leading newlines kept
    assert texts(a) == [
        ("DATE", "2069-04-07"), ("PATIENT", "Ima Testperson"), ("MRN", "7654321"),
        ("HOSPITAL", "Fakeview Hospital"), ("DOCTOR", "Oscar Nobody"), ("CITY", "Springfield"),
        ("PROFESSION", "carpenter"), ("AGE", "42"), ("PHONE", "555-010-2234"),
        ("LOCATION", "4B"), ("HOSPITAL", "Cardiology"), ("EMAIL", "ima@example.org"),
    ]
    b = docs[1]
    assert "&amp; team <ok>" in b.text  # CDATA is literal
    assert texts(b) == [("DATE", "2070-01-15"), ("DOCTOR", "Quinn Example")]


def test_i2b2_crlf_offsets_count_carriage_returns(tmp_path: Path) -> None:
    text = "\r\nDate: 2069-04-07\r\nDr. Oscar Nobody\r\n"
    s = text.index("Oscar")
    xml = (f'<?xml version="1.0" encoding="UTF-8" ?>\r\n<deIdi2b2><TEXT><![CDATA[{text}]]></TEXT>'
           f'<TAGS><NAME id="P0" start="{s}" end="{s + 12}" text="Oscar Nobody" TYPE="DOCTOR"/>'
           f'</TAGS></deIdi2b2>')
    (tmp_path / "r.xml").write_bytes(xml.encode())
    (doc,) = read_corpus(tmp_path / "r.xml")
    assert doc.text == text
    assert texts(doc) == [("DOCTOR", "Oscar Nobody")]


# -- PhysioNet ---------------------------------------------------------------------------------


def test_physionet_fixture() -> None:
    docs = list(read_corpus(DATA / "physionet"))
    assert [d.id for d in docs] == ["1-1", "1-2", "2-1"]
    a, b, c = docs
    assert a.text.startswith("Pt seen 7/22") and a.text.endswith("555-0100.\n\n")
    assert texts(a) == [("DATE", "7/22"), ("DOCTOR", "Nobody"), ("LOCATION", "Fakeview Hosp"),
                        ("RELATIVE", "Bob"), ("PHONE", "555-0100")]
    assert b.spans == () and b.meta["patient_id"] == "1" and b.meta["note_id"] == "2"
    assert texts(c) == [("PATIENT", "Testperson"), ("AGE", "91"), ("DATE", "2/3")]
    assert "default_labelled" not in a.meta


def _physionet(tmp_path: Path, phrase: str) -> Path:
    (tmp_path / "id.text").write_text(
        "START_OF_RECORD=7||||3||||\nMr Testperson on 2/3.\n||||END_OF_RECORD\n")
    (tmp_path / "id-phi.phrase").write_text(phrase)
    return tmp_path / "id.text"


def test_physionet_category_only_and_phrase_only_variants(tmp_path: Path) -> None:
    p = _physionet(tmp_path, "7 3 3 13 PTName\n7 3 17 20 2/3\n")
    (doc,) = read_corpus(p)
    assert texts(doc) == [("PATIENT", "Testperson"), ("IDNUM", "2/3")]
    assert doc.meta["default_labelled"] == 1


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(DATA / "brat") == "brat"
    assert detect_format(DATA / "i2b2") == "i2b2"
    assert detect_format(DATA / "physionet") == "physionet"
    assert detect_format(DATA / "physionet" / "id.text") == "physionet"
    assert detect_format(DATA / "sample.conll") == "conll"
    assert detect_format(DATA / "eval_gold.jsonl") == "jsonl"
    (tmp_path / "a.ann").write_text("")
    (tmp_path / "b.xml").write_text("")
    with pytest.raises(InputError, match="cannot tell"):
        detect_format(tmp_path)
    with pytest.raises(InputError, match="cannot tell"):
        detect_format(DATA / "brat" / "note-a.txt")


def test_written_jsonl_is_canonical(tmp_path: Path) -> None:
    write_corpus(read_corpus(DATA / "i2b2"), tmp_path / "o.jsonl", "jsonl")
    first = json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])
    assert set(first) == {"id", "text", "spans", "meta"}
    s = first["text"].index("2069-04-07")
    assert first["spans"][0] == {"start": s, "end": s + 10, "label": "DATE"}
