"""Tests for the synthetic annotated note generator (deid.synth)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from deid.corpus.document import Document
from deid.errors import RuleError
from deid.labels import load_labels
from deid.rulefile import repo_root
from deid.synth import generate_corpus, generate_documents
from deid.synth.build import assemble
from deid.synth.corpus import plan, render_pieces
from deid.synth.data import SPLITS, load_data, name_pools, synth_dir
from deid.synth.dates import FORMATS
from deid.synth.style import apply_style, wrap

NAME_LABELS = {"PATIENT", "DOCTOR", "RELATIVE", "NAME"}
TYPES = {"discharge_summary", "admission_hp", "progress_note", "nursing_note", "ed_triage",
         "radiology_report", "pathology_report", "operative_report", "referral_letter",
         "telephone_encounter", "medication_list", "problem_list", "icu_nursing_note",
         "dictated_operative", "dictated_consult", "dictated_discharge"}
WORDS = {"ninety": 90, "one hundred": 100}


@pytest.fixture(scope="module")
def docs500() -> list[Document]:
    return list(generate_documents(500, 7))


def _overlaps(doc: Document, start: int, end: int) -> bool:
    return any(s.start < end and start < s.end for s in doc.spans)


def _name_tokens(doc: Document) -> set[str]:
    out: set[str] = set()
    for s in doc.spans:
        if s.label in NAME_LABELS:
            out.update(re.findall(r"[^\W\d_]{2,}", doc.text[s.start:s.end].casefold()))
    return out


# ------------------------------------------------------------------------------ determinism


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    stats = generate_corpus(80, 123, a)
    generate_corpus(80, 123, b)
    generate_corpus(80, 124, c)
    assert sorted(p.name for p in a.iterdir()) == ["dev.jsonl", "stats.json", "test.jsonl",
                                                    "train.jsonl"]
    assert _digest(a) == _digest(b)
    assert _digest(a)["train.jsonl"] != _digest(c)["train.jsonl"]
    assert json.loads((a / "stats.json").read_text()) == stats


def test_determinism_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from deid.synth import generate_corpus; "
            "generate_corpus(36, 5, Path(sys.argv[1]))")
    outs = []
    for hs in ("1", "987"):
        out = tmp_path / hs
        env = dict(os.environ, PYTHONHASHSEED=hs)
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env,
                       cwd=repo_root())
        outs.append(_digest(out))
    assert outs[0] == outs[1]


def test_split_subset_yields_same_documents() -> None:
    full = [d for d in generate_documents(60, 9) if d.meta["split"] == "test"]
    only = list(generate_documents(60, 9, splits=("test",)))
    assert [d.to_json() for d in full] == [d.to_json() for d in only]


# ------------------------------------------------------------------------------ gold offsets


def test_every_span_is_exactly_the_inserted_text() -> None:
    data = load_data()
    checked = 0
    for split, fam, seed, doc_id in plan(240, 31, data):
        pieces, style = render_pieces(data, fam, split, seed)
        phi = [(t, lab) for t, lab in pieces if lab is not None]
        doc = generate_one(data, fam, split, seed, doc_id, style)
        got = [(doc.text[s.start:s.end], s.label) for s in sorted(doc.spans)]
        assert got == phi, doc_id
        assert "".join(t for t, _ in pieces) == doc.text
        checked += len(got)
    assert checked > 2000


def generate_one(data, fam, split, seed, doc_id, style) -> Document:  # type: ignore[no-untyped-def]
    from deid.synth.corpus import make_document

    return make_document(data, fam, split, seed, doc_id, style)


def test_spans_are_clean_and_roundtrip(docs500: list[Document]) -> None:
    for doc in docs500:
        doc.check_no_overlap()
        for s in doc.spans:
            t = doc.text[s.start:s.end]
            assert t and t == t.strip(), (doc.id, s)
            assert "\n" not in t, (doc.id, s)
        back = Document.from_obj(json.loads(doc.to_json()))
        assert back.text == doc.text
        assert [(s.start, s.end, s.label) for s in back.spans] == \
            [(s.start, s.end, s.label) for s in sorted(doc.spans)]


def test_assemble_detects_nothing_wrong_and_styles_keep_offsets() -> None:
    import random

    pools = name_pools("train")
    name = next(iter(pools.first[0][0]))
    pieces = [["Pt seen with the patient's wife ", None], [name, "RELATIVE"],
              [" on ", None], ["3/14/62", "DATE"], [" and will follow up. BP 120/80.", None]]
    spec = {"upper": True, "abbreviate": 1.0, "drop_punct": 1.0, "typos": 0.5,
            "phi_typos": 1.0, "double_space": 0.5, "wrap": [5, 6]}
    out = apply_style([list(p) for p in pieces], spec, random.Random(3),
                      (("patient", "pt"), ("with", "w/")), pools)
    text, spans = assemble(out, "t")
    phi = [p for p in out if p[1]]
    assert [text[s.start:s.end] for s in spans] == [p[0] for p in phi]
    assert text[spans[1].start:spans[1].end] == "3/14/62"
    assert "W/" in text and "\n" in text
    assert pools.in_split(text[spans[0].start:spans[0].end])


def test_wrap_never_breaks_inside_phi() -> None:
    pieces = [["a " * 30, None], ["John Smith Jones", "PATIENT"], [" b" * 30, None]]
    wrap(pieces, 4)
    assert pieces[1][0] == "John Smith Jones"
    assert "\n" in pieces[0][0] and "\n" in pieces[2][0]


# ------------------------------------------------------------------------------ labels and content


def test_every_label_is_defined(docs500: list[Document]) -> None:
    labels = load_labels()
    used = {s.label for d in docs500 for s in d.spans}
    assert used <= set(labels.labels)
    expected = {"PATIENT", "DOCTOR", "RELATIVE", "NAME", "USERNAME", "PROFESSION", "HOSPITAL",
                "ORGANIZATION", "STREET", "CITY", "STATE", "COUNTRY", "ZIP", "LOCATION", "DATE",
                "AGE", "PHONE", "FAX", "EMAIL", "URL", "IP", "MRN", "ACCOUNT", "SSN", "LICENSE",
                "DEVICE", "VEHICLE", "HEALTHPLAN", "IDNUM", "COUNTY"}
    assert expected <= used, expected - used


def test_all_note_types_in_every_split(tmp_path: Path) -> None:
    stats = generate_corpus(500, 11, tmp_path)
    assert {k: v["documents"] for k, v in stats["splits"].items()} == \
        {"train": 400, "dev": 50, "test": 50}
    for split in SPLITS:
        assert set(stats["splits"][split]["note_types"]) == TYPES, split
    assert set(stats["total"]["note_types"]) == TYPES
    assert len(stats["total"]["template_families"]) >= 50
    assert len(stats["total"]["styles"]) >= 6
    # stats agree with the files
    n_spans = 0
    for split in SPLITS:
        lines = (tmp_path / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == stats["splits"][split]["documents"]
        for line in lines:
            rec = json.loads(line)
            assert set(rec["meta"]) == {"note_type", "template_family", "style", "split"}
            assert rec["meta"]["split"] == split
            n_spans += len(rec["spans"])
    assert n_spans == stats["total"]["span_total"]


def test_template_families_cover_types_and_splits() -> None:
    data = load_data()
    assert len(data.families) >= 50
    assert set(data.type_titles) == TYPES
    for t in TYPES:
        fams = [f for f in data.families.values() if f.type == t]
        assert len(fams) >= 4, t
        assert {f.split for f in fams} == set(SPLITS), t


def test_dates_parse_and_ages_are_over_89(docs500: list[Document]) -> None:
    from deid.dates import parse_date

    n_dates = parsed = 0
    formats_seen: set[str] = set()
    for doc in docs500:
        for s in doc.spans:
            t = doc.text[s.start:s.end]
            if s.label == "DATE":
                n_dates += 1
                parsed += (parse_date(t) is not None
                           or re.fullmatch(r"\d{4}|'?\d{2}", t) is not None)  # years, '88, 97
                formats_seen.add(re.sub(r"[A-Za-z]+", "A", re.sub(r"\d", "9", t)))
            elif s.label == "AGE":
                low = t.casefold()
                value = int(t) if t.isdigit() else next(v for w, v in WORDS.items()
                                                        if low.startswith(w))
                assert value >= 90, (doc.id, s)
    assert n_dates > 1000
    assert parsed / n_dates > 0.9
    assert len(formats_seen) >= 20
    assert len(FORMATS) >= 20


def test_young_ages_present_but_not_annotated(docs500: list[Document]) -> None:
    young = 0
    for doc in docs500:
        for m in re.finditer(r"\b(\d{1,2})(?=(?:-year-old| yo\b| y/o| year old|-yr-old))",
                             doc.text):
            if int(m.group(1)) < 90:
                assert not _overlaps(doc, m.start(1), m.end(1)), doc.id
                young += 1
            else:
                assert (m.start(1), m.end(1), "AGE") in {(s.start, s.end, s.label)
                                                         for s in doc.spans}, doc.id
    assert young > 100


def test_identifier_shapes(docs500: list[Document]) -> None:
    seen = defaultdict(int)
    for doc in docs500:
        for s in doc.spans:
            t = doc.text[s.start:s.end]
            seen[s.label] += 1
            if s.label == "EMAIL":
                assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", t), doc.id
            elif s.label == "IP":
                ipaddress.ip_address(t.lower())
            elif s.label in {"PHONE", "FAX"}:
                assert sum(c.isdigit() for c in t) >= 5, doc.id
            elif s.label == "ZIP":
                assert re.fullmatch(r"\d{5}(-\d{4})?", t), doc.id
            elif s.label == "SSN":
                assert re.search(r"\d{4}$", t), doc.id
            elif s.label == "VEHICLE":
                assert re.fullmatch(r"[A-Z0-9 -]{5,17}", t), doc.id
    assert seen["IP"] and seen["EMAIL"] and seen["SSN"]


# ------------------------------------------------------------------------------ hard negatives

HARD_NEGATIVES = [r"\bParkinson", r"\bHodgkin", r"\bFoley\b", r"\bBabinski", r"\bApgar",
                  r"\bGlasgow\b", r"\bCushing", r"\bGraves", r"\bBell'?s? palsy", r"\bCrohn",
                  r"\bMurphy's sign", r"\b(?:Tylenol|Lasix|Coumadin|Eliquis|Norco|Keflex|Zofran)\b",
                  r"\b5/325\b",
                  r"\bBP:? \d{2,3}/\d{2,3}", r"\bGCS \d+", r"\b(?:Rm|room|bed|Bed) \d+",
                  r"\b(?:will|Will (?:continue|follow|discuss))\b", r"\bMay (?:shower|resume|return)", r"\bmay\b", r"\bhopes?\b",
                  r"\b[Mm]ark(?:ed)?\b", r"\bBill(?:ing)?\b", r"\b[A-Z]\d{2}\.\d{1,3}\b",
                  r"(?m)^[0-2]\d[0-5]\d(?=  \| )", r"\b(?:at|Time:) [0-2]?\d:[0-5]\d\b", r"\b(?:Na|K|Cr|Hgb|WBC) \d+(?:\.\d+)?"]


def test_hard_negatives_present_and_unannotated(docs500: list[Document]) -> None:
    for pat in HARD_NEGATIVES:
        rx = re.compile(pat, re.IGNORECASE if pat[2:3].isupper() else 0)
        hits = 0
        for doc in docs500:
            for m in rx.finditer(doc.text):
                assert not _overlaps(doc, m.start(), m.end()), (pat, doc.id, m.start())
                hits += 1
        assert hits > 0, pat


def test_name_pools_exclude_hard_negative_words() -> None:
    data = load_data()
    bad = {"will", "hope", "bill", "may", "mark", "foley", "graves", "cushing", "parkinson",
           "hodgkin", "bell", "apgar", "glasgow", "babinski"}
    for split in SPLITS:
        pools = name_pools(split)
        for segs in (pools.first, pools.last):
            for names, _, _ in segs:
                assert not bad & {n.casefold() for n in names}, split
    assert data.vocab["common_word_sentences"]


# ------------------------------------------------------------------------------ splits


def test_splits_disjoint_in_families_and_name_tokens(tmp_path: Path) -> None:
    generate_corpus(900, 3, tmp_path)
    data = load_data()
    fams: dict[str, set[str]] = {s: set() for s in SPLITS}
    toks: dict[str, set[str]] = {s: set() for s in SPLITS}
    for split in SPLITS:
        for line in (tmp_path / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            doc = Document.from_obj(json.loads(line))
            fam = doc.meta["template_family"]
            assert data.families[fam].split == split
            fams[split].add(fam)
            toks[split] |= _name_tokens(doc)
    assert not fams["test"] & (fams["train"] | fams["dev"])
    assert not fams["dev"] & fams["train"]
    assert toks["test"] and toks["dev"] and toks["train"]
    assert not toks["test"] & (toks["train"] | toks["dev"])
    assert not toks["dev"] & toks["train"]


def test_name_split_rule_is_consistent_across_pools() -> None:
    seen: dict[str, str] = {}
    for split in SPLITS:
        pools = name_pools(split)
        for segs in (pools.first, pools.last):
            for names, _, _ in segs:
                for n in names[:3000]:
                    for t in re.findall(r"[^\W\d_]{2,}", n.casefold()):
                        assert seen.setdefault(t, split) == split, t
        for nicks in pools.nicknames.values():
            for n in nicks:
                assert pools.in_split(n)


# ------------------------------------------------------------------------------ data validation


def _copy_data(tmp_path: Path) -> Path:
    d = tmp_path / "synth"
    shutil.copytree(synth_dir(), d)
    return d


def test_bad_family_is_reported_with_file_and_name(tmp_path: Path) -> None:
    d = _copy_data(tmp_path)
    p = d / "families.yaml"
    p.write_text(p.read_text().replace("sections: [hdr_banner, dates_adm, (cc)",
                                       "sections: [hdr_banner, no_such_section, (cc)", 1))
    with pytest.raises(RuleError) as e:
        load_data(str(d))
    assert "families.yaml" in str(e.value) and "ds_banner_classic" in str(e.value)


def test_bad_template_is_reported(tmp_path: Path) -> None:
    d = _copy_data(tmp_path)
    p = d / "sections.yaml"
    p.write_text(p.read_text().replace('"[Chief Complaint|', '"[Chief Complaint', 1)
                 .replace('- "[{complaint}|{complaint} x', '- "[{complaint}|{complaint x', 1))
    with pytest.raises(RuleError) as e:
        load_data(str(d))
    assert "sections.yaml" in str(e.value)


def test_unknown_slot_is_reported(tmp_path: Path) -> None:
    d = _copy_data(tmp_path)
    p = d / "sections.yaml"
    p.write_text(p.read_text().replace("{complaint}", "{complaynt}", 1))
    with pytest.raises(RuleError, match="complaynt"):
        load_data(str(d))


def test_bad_split_ratio_is_reported(tmp_path: Path) -> None:
    d = _copy_data(tmp_path)
    p = d / "config.yaml"
    p.write_text(p.read_text().replace("train: 0.8, dev: 0.1", "train: 0.9, dev: 0.1", 1))
    with pytest.raises(RuleError, match="split_ratio"):
        load_data(str(d))


# ------------------------------------------------------------------------------ shipped samples


def test_shipped_sample_is_reproducible() -> None:
    shipped = (repo_root() / "corpora" / "sample" / "sample.jsonl").read_text(encoding="utf-8")
    lines = shipped.splitlines()
    assert len(lines) == 40
    fresh = [d.to_json() for d in generate_documents(400, 2024, splits=("test",))]
    assert lines == fresh, "run: python scripts/make_samples.py"
    types = {json.loads(x)["meta"]["note_type"] for x in lines}
    assert types == TYPES
    notes = sorted((repo_root() / "corpora" / "notes").glob("*.txt"))
    assert len(notes) == 8


@pytest.mark.slow
def test_5000_notes_well_under_a_minute(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    stats = generate_corpus(5000, 1, tmp_path)
    elapsed = time.perf_counter() - t0
    assert stats["total"]["documents"] == 5000
    assert elapsed < 45, elapsed
