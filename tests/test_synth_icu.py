"""Tests for the ICU nursing and dictated-transcription families of deid.synth."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from deid.corpus.document import Document
from deid.synth import generate_documents
from deid.synth.data import SPLITS, load_data

NEW_TYPES = {"icu_nursing_note", "dictated_operative", "dictated_consult", "dictated_discharge"}
DICTATED = NEW_TYPES - {"icu_nursing_note"}
KIN = (r"wife|husband|daughter|son|mother|father|sister|brother|niece|nephew|granddaughter|"
       r"grandson|partner|guardian|health care proxy")


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    return list(generate_documents(720, 13))


def _icu(docs: list[Document]) -> list[Document]:
    return [d for d in docs if d.meta["note_type"] == "icu_nursing_note"]


def _labels_at(doc: Document, start: int, end: int) -> set[str]:
    return {s.label for s in doc.spans if s.start == start and s.end == end}


def _overlaps(doc: Document, start: int, end: int) -> bool:
    return any(s.start < end and start < s.end for s in doc.spans)


def test_new_families_in_every_split_and_disjoint() -> None:
    data = load_data()
    for t in NEW_TYPES:
        fams = [f for f in data.families.values() if f.type == t]
        by_split = Counter(f.split for f in fams)
        assert by_split["train"] >= 3 and by_split["dev"] >= 1 and by_split["test"] >= 1, t
    assert data.type_weights["icu_nursing_note"] == 3


def test_new_types_in_every_split_with_their_weight(docs: list[Document]) -> None:
    for split in SPLITS:
        types = Counter(d.meta["note_type"] for d in docs if d.meta["split"] == split)
        assert set(types) >= NEW_TYPES, split
    train = Counter(d.meta["note_type"] for d in docs if d.meta["split"] == "train")
    assert train["icu_nursing_note"] > 2 * train["discharge_summary"]


def test_icu_notes_in_caps_and_lower_case(docs: list[Document]) -> None:
    styles = Counter(d.meta["style"] for d in _icu(docs))
    assert styles["nursing_caps"] and styles["nursing_lower"] and styles["nursing"]
    for d in _icu(docs):
        if d.meta["style"] == "nursing_lower":
            assert d.text == d.text.lower(), d.id
            assert any(s.label in {"DOCTOR", "RELATIVE"} for s in d.spans), d.id


def test_lower_case_kinship_first_names_are_relatives(docs: list[Document]) -> None:
    rx = re.compile(rf"\b(?:{KIN}) ([a-z][a-z'-]+)\b")
    hits = 0
    for d in _icu(docs):
        for m in rx.finditer(d.text):
            if "RELATIVE" in _labels_at(d, m.start(1), m.end(1)):
                hits += 1
    assert hits >= 20


def test_caps_title_first_names_are_doctors(docs: list[Document]) -> None:
    rx = re.compile(r"\b(?:RN|NP|MD|HO|RT|md|rn|np) ([A-Z]{2,})\b")
    hits = 0
    for d in _icu(docs):
        for m in rx.finditer(d.text):
            if "DOCTOR" in _labels_at(d, m.start(1), m.end(1)):
                hits += 1
    assert hits >= 20


def test_lower_case_surnames_after_dr_are_doctors(docs: list[Document]) -> None:
    rx = re.compile(r"\bdr(?:\. ?| )([a-z][a-z'-]+|[a-z]\.)(?= |,|$)")
    hits = 0
    for d in _icu(docs):
        for m in rx.finditer(d.text):
            if m.group(1) in {"aware", "team"}:
                continue
            starts = {sp.label for sp in d.spans if sp.start == m.start(1)}
            assert "DOCTOR" in starts, (d.id, m.group(0))
            hits += 1
    assert hits >= 10


def test_two_digit_years_and_partial_dates_are_dates(docs: list[Document]) -> None:
    rx = re.compile(r"\b(?:CABG (?:x\d )?|MI (?:in )?|AVR \(|chole |TKR |fem-pop |lumpectomy |"
                    r"CVA |PE |PPM |DVT )('\d{2}|\d{1,2}/\d{2}|\d{2})\b", re.IGNORECASE)
    two = partial = 0
    for d in _icu(docs):
        for m in rx.finditer(d.text):
            assert "DATE" in _labels_at(d, m.start(1), m.end(1)), (d.id, m.group(0))
            if "/" in m.group(1):
                partial += 1
            else:
                two += 1
    assert two >= 20 and partial >= 5


def test_hospital_short_forms_buildings_and_pagers(docs: list[Document]) -> None:
    short = floor = pagers = 0
    for d in docs:
        if d.meta["note_type"] not in NEW_TYPES:
            continue
        for s in d.spans:
            t = d.text[s.start:s.end]
            if s.label == "HOSPITAL" and re.fullmatch(r"[A-Z]{2,4}|[A-Za-z.' ]+ (?:Hosp|MC|Gen)", t):
                short += 1
            elif s.label == "HOSPITAL" and re.search(r"[A-Za-z] ?-?\d{1,2}\b", t):
                floor += 1
            elif s.label == "PHONE" and re.fullmatch(r"(?i)[x#]?\d-?\d{4}", t):
                pagers += 1
    assert short >= 10 and floor >= 10 and pagers >= 10


HARD_NEGATIVES = [
    r"\blevo(?:phed)?\b", r"\bpropofol\b", r"\bPICC\b", r"\bA-line\b", r"\bIABP\b", r"\bSwan\b",
    r"\b(?:MICU|SICU|CCU|CVICU)\b", r"\bthe floor\b", r"\bafeb\b", r"\bOOB\b", r"\bMAE\b",
    r"\bcont\b", r"\bfreq\b", r"\bresp\b", r"\btol\b", r"\b7\.\d{2}/\d{2}/\d{2,3}\b",
    r"\b\d{2,3}-\d{2,3}/\d{2}-\d{2,3}\b", r"\bHR \d0s-\d+0s\b", r"\bI/O \d\.\dL/\d\.\dL\b",
    r"\bUOP \d+-\d+cc/hr\b", r"\b(?:vanc|vanco|zosyn)\b",
]
DICTATION_NEGATIVES = [
    r"\bKerrison\b", r"\bMetzenbaum\b", r"\bWeitlaner\b", r"\bVicryl\b", r"\bMonocryl\b",
    r"\bProlene\b", r"\b[CTL]\d{1,2}-[CTLS]?\d{1,2}\b", r"(?<![:\w])[CT]\d{1,2}\b", r"\bCPT:? \d{5}\b",
    r"\b(?:third|fourth|fifth|sixth)\b", r"\b5/5 throughout\b", r"\bEBL|ESTIMATED BLOOD LOSS\b",
]


@pytest.mark.parametrize("pat", HARD_NEGATIVES + DICTATION_NEGATIVES)
def test_hard_negatives_present_and_unannotated(docs: list[Document], pat: str) -> None:
    rx = re.compile(pat, re.IGNORECASE)
    wanted = DICTATED if pat in DICTATION_NEGATIVES else {"icu_nursing_note"}
    hits = 0
    for d in docs:
        for m in rx.finditer(d.text):
            assert not _overlaps(d, m.start(), m.end()), (pat, d.id, m.group(0))
            hits += d.meta["note_type"] in wanted
    assert hits > 0, pat
