from __future__ import annotations

import json

import pytest

from deid.errors import InputError
from deid.known import Known, load_known_file


def found(known: Known, text: str) -> list[str]:
    return sorted(text[s.start:s.end] for s in known.detect(text))


def test_name_variants_and_case():
    k = Known.from_mapping({"name": "John Q. Smith-Jones"})
    text = "JOHN SMITH-JONES seen; smith-jones's wife; Jones called; J. Smith-Jones; SMITH-JONES, JOHN"
    hits = found(k, text)
    assert "JOHN SMITH-JONES" in hits
    assert "smith-jones" in hits
    assert "Jones" in hits
    assert "J. Smith-Jones" in hits
    assert "SMITH-JONES, JOHN" in hits


def test_dicom_pn_order():
    k = Known.from_mapping({"name": "Doe^Jane"})
    assert "Doe, Jane" in found(k, "Patient: Doe, Jane")
    assert "Jane Doe" in found(k, "Jane Doe presented")


def test_numbers_with_any_separators():
    k = Known.from_mapping({"mrn": "00123-4567", "phone": "(617) 555-0134"})
    text = "MRN 001234567, also 123 4567; call 617.555.0134 or +1 617 555 0134"
    hits = found(k, text)
    assert "001234567" in hits and "123 4567" in hits
    assert "617.555.0134" in hits and "617 555 0134" in hits


def test_dob_in_many_layouts():
    k = Known.from_mapping({"dob": "1962-03-14"})
    text = "DOB 3/14/1962; born March 14th, 1962; 14 Mar 62; 03-14-62; 19620314"
    hits = found(k, text)
    assert {"3/14/1962", "March 14th, 1962", "14 Mar 62", "03-14-62", "19620314"} <= set(hits)


def test_no_partial_word_hits():
    k = Known.from_mapping({"name": "Ann Lee"})
    assert found(k, "Annotated Leeway banner") == []


def test_unknown_field_rejected():
    with pytest.raises(InputError):
        Known.from_mapping({"favourite_colour": "blue"})


def test_load_csv_and_json(tmp_path):
    c = tmp_path / "k.csv"
    c.write_text("note_id,name,mrn\nn1,Jane Doe,12345;67890\n", encoding="utf-8")
    km = load_known_file(c)
    assert km["n1"].values["mrn"] == ("12345", "67890")
    assert km["n1"].patient_id == "12345"
    j = tmp_path / "k.json"
    j.write_text(json.dumps({"n2": {"name": ["A B"], "patient_id": "P9"}}), encoding="utf-8")
    assert load_known_file(j)["n2"].patient_id == "P9"
    c2 = tmp_path / "k2.csv"
    c2.write_text("note_id,name,patient_id\nn3,Jane Doe,P-77\n", encoding="utf-8")
    assert load_known_file(c2)["n3"].patient_id == "P-77"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="note_id"):
        load_known_file(bad)
