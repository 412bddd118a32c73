"""Broken annotations: errors name the document and offsets and never carry the span text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deid.corpus.document import DocumentError
from deid.corpus.io import read_corpus
from deid.errors import RuleError

DATA = Path(__file__).parent / "data" / "corpus"
SECRET = "Zebulon Quagmire"  # the "PHI" of these tests; must never appear in an error


def error_of(path: Path, fmt: str = "auto", **kw: object) -> str:
    with pytest.raises(DocumentError) as info:
        list(read_corpus(path, fmt, **kw))  # type: ignore[arg-type]
    msg = str(info.value)
    assert SECRET not in msg and "Zebulon" not in msg and "Quagmire" not in msg
    return msg


def jsonl(tmp_path: Path, *objs: object, raw: str = "") -> Path:
    p = tmp_path / "g.jsonl"
    p.write_text("".join(json.dumps(o) + "\n" for o in objs) + raw)
    return p


TEXT = f"Patient {SECRET} seen."  # SECRET at [8, 24)


# -- JSONL -------------------------------------------------------------------------------------


def test_jsonl_out_of_bounds(tmp_path: Path) -> None:
    p = jsonl(tmp_path, {"id": "d7", "text": TEXT, "spans": [{"start": 8, "end": 99,
                                                               "label": "PATIENT"}]})
    msg = error_of(p)
    assert "'d7'" in msg and "99" in msg


def test_jsonl_overlap(tmp_path: Path) -> None:
    p = jsonl(tmp_path, {"id": "d8", "text": TEXT, "spans": [
        {"start": 8, "end": 24, "label": "PATIENT"}, {"start": 16, "end": 24, "label": "NAME"}]})
    msg = error_of(p)
    assert "'d8'" in msg and "overlapping" in msg and "[16, 24)" in msg


def test_jsonl_malformed_json_names_line(tmp_path: Path) -> None:
    p = jsonl(tmp_path, {"id": "ok", "text": "x", "spans": []},
              raw='{"id": "bad", "text": "' + SECRET + '", "spans": [\n')
    msg = error_of(p)
    assert "g.jsonl:2" in msg and "invalid JSON" in msg


def test_jsonl_bad_span_and_missing_fields(tmp_path: Path) -> None:
    p = jsonl(tmp_path, {"id": "d9", "text": TEXT, "spans": [{"start": "x", "end": 3,
                                                               "label": "DATE"}]})
    assert "'d9'" in error_of(p)
    p = jsonl(tmp_path, {"text": TEXT})
    assert "needs string 'id'" in error_of(p)
    p = jsonl(tmp_path, {"id": "d10", "text": TEXT, "spans": [{"start": 9, "end": 9,
                                                                "label": "DATE"}]})
    assert "'d10'" in error_of(p)


def test_jsonl_unknown_label_and_duplicate_id(tmp_path: Path) -> None:
    doc = {"id": "d1", "text": TEXT, "spans": [{"start": 8, "end": 24, "label": "PERSONA"}]}
    p = jsonl(tmp_path, doc)
    msg = error_of(p)
    assert "unknown label 'PERSONA'" in msg and "[8, 24)" in msg
    assert len(list(read_corpus(p, labels=False))) == 1
    doc["spans"][0]["label"] = "PATIENT"  # type: ignore[index]
    assert "appears twice" in error_of(jsonl(tmp_path, doc, doc))


def test_on_error_reports_and_goes_on(tmp_path: Path) -> None:
    good = {"id": "g", "text": TEXT, "spans": [{"start": 8, "end": 24, "label": "PATIENT"}]}
    bad = {"id": "b", "text": TEXT, "spans": [{"start": 8, "end": 50, "label": "PATIENT"}]}
    p = jsonl(tmp_path, bad, good, raw="not json\n")
    errors: list[DocumentError] = []
    docs = list(read_corpus(p, on_error=errors.append))
    assert [d.id for d in docs] == ["g"]
    assert len(errors) == 2 and "'b'" in str(errors[0]) and "g.jsonl:3" in str(errors[1])


# -- BRAT --------------------------------------------------------------------------------------


def brat(tmp_path: Path, ann: str, text: str = TEXT) -> Path:
    d = tmp_path / "brat"
    d.mkdir(exist_ok=True)
    (d / "n1.txt").write_text(text)
    (d / "n1.ann").write_text(ann)
    return d


def test_brat_text_mismatch(tmp_path: Path) -> None:
    msg = error_of(brat(tmp_path, "T1\tPATIENT 7 23\tZebulon Quagmire\n"))
    assert "'n1'" in msg and "T1" in msg and "n1.ann:1" in msg


def test_brat_out_of_bounds_and_overlap(tmp_path: Path) -> None:
    msg = error_of(brat(tmp_path, "T1\tPATIENT 8 240\tZebulon Quagmire\n"))
    assert "[8, 240)" in msg
    msg = error_of(brat(tmp_path, "T1\tPATIENT 8 24\tZebulon Quagmire\n"
                                  "T2\tNAME 16 24\tQuagmire\n"))
    assert "overlapping" in msg and "[16, 24)" in msg


def test_brat_discontinuous_text_checked(tmp_path: Path) -> None:
    d = brat(tmp_path, "T1\tPATIENT 8 15;16 24\tZebulon Quagmire\n")
    (doc,) = read_corpus(d)
    assert [(s.start, s.end) for s in doc.spans] == [(8, 15), (16, 24)]
    assert "T1" in error_of(brat(tmp_path, "T1\tPATIENT 8 15;16 24\tZebulonQuagmire\n"))


def test_brat_malformed_and_orphan(tmp_path: Path) -> None:
    assert "malformed" in error_of(brat(tmp_path, "T1\tPATIENT eight 24\tZebulon Quagmire\n"))
    d = tmp_path / "orphan"
    d.mkdir()
    (d / "x.ann").write_text("")
    assert "no matching .txt" in error_of(d, "brat")


# -- CoNLL -------------------------------------------------------------------------------------


def test_conll_bad_bio(tmp_path: Path) -> None:
    p = tmp_path / "c.conll"
    p.write_text("-DOCSTART- k1\nPatient O\nZebulon I-PATIENT\nQuagmire I-PATIENT\n")
    msg = error_of(p)
    assert "'k1'" in msg and "c.conll:3" in msg and "offset 8" in msg
    p.write_text("-DOCSTART- k2\nZebulon\n")
    assert "'k2'" in error_of(p)
    p.write_text("-DOCSTART- k3\nZebulon B-PATIENT\nQuagmire I-DATE\n")
    assert "'k3'" in error_of(p)
    p.write_text("-DOCSTART- k4\nZebulon X-PATIENT\n")
    assert "'k4'" in error_of(p)


# -- i2b2 --------------------------------------------------------------------------------------


def i2b2(tmp_path: Path, tags: str, text: str = TEXT) -> Path:
    p = tmp_path / "r1.xml"
    p.write_text(f'<?xml version="1.0" encoding="UTF-8" ?>\n<deIdi2b2><TEXT><![CDATA[{text}]]>'
                 f'</TEXT><TAGS>{tags}</TAGS></deIdi2b2>\n')
    return p


def test_i2b2_errors(tmp_path: Path) -> None:
    msg = error_of(i2b2(tmp_path, '<NAME id="P3" start="7" end="23" text="Zebulon Quagmire" '
                                  'TYPE="PATIENT"/>'))
    assert "'P3'" in msg and "'r1'" in msg and "[7, 23)" in msg and "misaligned" in msg
    msg = error_of(i2b2(tmp_path, '<NAME id="P4" start="8" end="2400" text="Zebulon Quagmire" '
                                  'TYPE="PATIENT"/>'))
    assert "'P4'" in msg and "2400" in msg
    msg = error_of(i2b2(tmp_path, '<NAME id="P5" start="8" end="24" text="Zebulon Quagmire" '
                                  'TYPE="ALIEN"/>'))
    assert "'P5'" in msg and "'ALIEN'" in msg
    msg = error_of(i2b2(tmp_path, '<NAME id="P6" start="8" end="24" text="Zebulon Quagmire" '
                                  'TYPE="PATIENT"/><NAME id="P7" start="16" end="24" '
                                  'text="Quagmire" TYPE="DOCTOR"/>'))
    assert "overlapping" in msg
    msg = error_of(i2b2(tmp_path, '<NAME id="P8" start="8" TYPE="PATIENT"/>'))
    assert "'P8'" in msg


def test_i2b2_malformed_xml(tmp_path: Path) -> None:
    p = tmp_path / "m.xml"
    p.write_text(f"<deIdi2b2><TEXT><![CDATA[{TEXT}]]></TEXT><TAGS><NAME id='P0'></deIdi2b2>")
    msg = error_of(p)
    assert "m.xml" in msg and "malformed XML" in msg and "line 1" in msg


# -- PhysioNet ---------------------------------------------------------------------------------


def physionet(tmp_path: Path, phrase: str) -> Path:
    (tmp_path / "id.text").write_text(f"START_OF_RECORD=4||||2||||\n{TEXT}\n||||END_OF_RECORD\n")
    (tmp_path / "id-phi.phrase").write_text(phrase)
    return tmp_path


def test_physionet_errors(tmp_path: Path) -> None:
    msg = error_of(physionet(tmp_path, "4 2 7 23 PTName Zebulon Quagmire\n"))
    assert "'4-2'" in msg and "[7, 23)" in msg and "id-phi.phrase:1" in msg
    msg = error_of(physionet(tmp_path, "4 2 8 24 Alien Zebulon Quagmire\n"))
    assert "'4-2'" in msg
    msg = error_of(physionet(tmp_path, "4 2 8 240 PTName Zebulon Quagmire\n"))
    assert "240" in msg
    msg = error_of(physionet(tmp_path, "9 9 8 24 PTName Zebulon Quagmire\n"))
    assert "'9-9'" in msg and "not in id.text" in msg
    msg = error_of(physionet(tmp_path, "4 2 8 24 PTName Zebulon Quagmire\n"
                                       "4 2 16 24 PTName Quagmire\n"))
    assert "overlapping" in msg
    msg = error_of(physionet(tmp_path, "four 2\n"))
    assert "id-phi.phrase:1" in msg


def test_physionet_missing_phrase_file_and_bad_record(tmp_path: Path) -> None:
    (tmp_path / "id.text").write_text(f"START_OF_RECORD=4||||2||||\n{TEXT}\n")
    with pytest.raises(DocumentError, match="id-phi.phrase not found"):
        list(read_corpus(tmp_path / "id.text"))
    (tmp_path / "id-phi.phrase").write_text("")
    assert "no ||||END_OF_RECORD" in error_of(tmp_path)


# -- label maps --------------------------------------------------------------------------------


def test_label_map_is_validated(tmp_path: Path) -> None:
    from deid.corpus.common import load_label_map

    bad = tmp_path / "corpus_labels.yaml"
    bad.write_text("i2b2_2014:\n  PATIENT: PERSONA\n")
    with pytest.raises(RuleError, match="PATIENT.*unknown target label 'PERSONA'"):
        load_label_map("i2b2_2014", str(bad))
    bad.write_text("i2b2_2014:\n  DATE: DATE\n  date: DATE\n")
    with pytest.raises(RuleError, match="duplicate"):
        load_label_map("i2b2_2014", str(bad))
    m = load_label_map("i2b2_2014")
    assert m.get("medicalrecord") == "MRN" and m.get("LOCATION-OTHER") == "LOCATION"
    assert load_label_map("physionet").default == "IDNUM"


def test_fixture_folder_untouched_by_reading(tmp_path: Path) -> None:
    src = tmp_path / "copy"
    shutil.copytree(DATA / "i2b2", src)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    list(read_corpus(src))
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before
