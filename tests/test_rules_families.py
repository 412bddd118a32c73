"""Per-family checks of the rule set through the rule-only detector (rules, allow veto, resolve).

A positive names the identifier substring and the labels acceptable for it; a negative names
labels that must not appear at all.
"""

from __future__ import annotations

import pytest

FAMILY_DATE = {"DATE"}
FAMILY_AGE = {"AGE"}
FAMILY_CONTACT = {"PHONE", "FAX", "EMAIL", "URL", "IP"}
FAMILY_ID = {"SSN", "MRN", "ACCOUNT", "HEALTHPLAN", "LICENSE", "DEVICE", "VEHICLE", "IDNUM",
             "USERNAME"}
FAMILY_PLACE = {"STREET", "CITY", "STATE", "ZIP", "COUNTY", "COUNTRY", "LOCATION", "HOSPITAL"}
FAMILY_NAME = {"PATIENT", "DOCTOR", "RELATIVE", "NAME", "PROFESSION"}

POSITIVES = [
    # dates
    ("DOB 3/14/62", "3/14/62", FAMILY_DATE),
    ("seen 2062-03-14 in clinic", "2062-03-14", FAMILY_DATE),
    ("on 14 Mar 1962 she fell", "14 Mar 1962", FAMILY_DATE),
    ("returns March 14th", "March 14th", FAMILY_DATE),
    ("born 14.03.1962", "14.03.1962", FAMILY_DATE),
    ("DOB: 20620314", "20620314", FAMILY_DATE),
    ("labs on 3/14 were normal", "3/14", FAMILY_DATE),
    # ages
    ("a 92 yo man", "92", FAMILY_AGE),
    ("a 92-year-old man", "92", FAMILY_AGE),
    ("aged 93 at death", "93", FAMILY_AGE),
    ("a ninety-two year old woman", "ninety-two", FAMILY_AGE),
    ("Age: 104", "104", FAMILY_AGE),
    # contact
    ("call (617) 555-0123 x12", "(617) 555-0123 x12", FAMILY_CONTACT),
    ("fax 617-555-0100", "617-555-0100", {"FAX"}),
    ("F: (617) 555-0101", "(617) 555-0101", {"FAX"}),
    ("mail j.doe@example.org now", "j.doe@example.org", {"EMAIL"}),
    ("see https://example.org/x", "https://example.org/x", {"URL"}),
    ("from 10.1.2.3", "10.1.2.3", {"IP"}),
    ("host fe80::1", "fe80::1", {"IP"}),
    # identifiers
    ("SSN 123-45-6789", "123-45-6789", {"SSN"}),
    ("MRN: 1234567", "1234567", {"MRN"}),
    ("Acct # 88812345", "88812345", {"ACCOUNT"}),
    ("Member ID: ABC123456", "ABC123456", {"HEALTHPLAN"}),
    ("DEA AB1234563", "AB1234563", {"LICENSE"}),
    ("S/N: PJN123456", "PJN123456", {"DEVICE"}),
    ("plate 7XYZ123", "7XYZ123", {"VEHICLE"}),
    ("Specimen #: S19-1234", "S19-1234", FAMILY_ID),
    # places
    ("lives at 12 Main St.", "12 Main St.", {"STREET"}),
    ("Boston, MA 02114", "Boston", {"CITY"}),
    ("Boston, MA 02114", "02114", {"ZIP"}),
    ("lives in Worcester now", "Worcester", {"CITY"}),
    ("at Massachusetts General Hospital", "Massachusetts General Hospital", {"HOSPITAL"}),
    ("from St. Mary's", "St. Mary's", {"HOSPITAL"}),
    ("in Middlesex County", "Middlesex County", {"COUNTY"}),
    # names
    ("seen by Dr. Smith", "Smith", FAMILY_NAME),
    ("Mrs. Garcia called", "Garcia", FAMILY_NAME),
    ("his wife Mary visited", "Mary", FAMILY_NAME),
    ("Patient: DOE, JANE", "DOE, JANE", FAMILY_NAME),
    ("-- John Smith, MD", "John Smith", FAMILY_NAME),
    ("Saw Maria Garcia today", "Maria Garcia", FAMILY_NAME),
    ("by J. Smith", "J. Smith", FAMILY_NAME),
    ("works as a carpenter", "carpenter", {"PROFESSION"}),
]

NEGATIVES = [
    ("Norco 5/325 q6h, 1/2 tab at night", FAMILY_DATE),
    ("BP 120/80, strength 5/5, pain 7/10, Apgars 8/9", FAMILY_DATE),
    ("Diagnosed in 2005, CABG 2011", FAMILY_DATE),
    ("The patient may go home; will march in place", FAMILY_DATE),
    ("a 67 yo man, 89-year-old wife, temp 98 F", FAMILY_AGE),
    ("given at 10:30:00, ratio 1:2", FAMILY_CONTACT),
    ("Platelets 150,000, heparin 5000 units", FAMILY_ID),
    ("seen in the Cardiology Clinic and the Emergency Department", FAMILY_PLACE),
    ("takes St. John's wort", FAMILY_PLACE),
    ("History of Parkinson's disease, Bell's palsy and Graves disease", FAMILY_NAME),
    ("Will follow up. May need CT. Hope to extubate.", FAMILY_NAME),
    ("Foley catheter, Babinski negative, GCS 15", FAMILY_NAME),
    ("Seen by Cardiology and PT", FAMILY_NAME),
    ("Continue Lasix and Allegra", FAMILY_NAME),
]


@pytest.fixture(scope="module")
def detect():
    from deid.text import Deidentifier

    return Deidentifier(ner=False).detect


@pytest.mark.parametrize(("text", "target", "labels"), POSITIVES)
def test_family_positive(detect, text: str, target: str, labels: set[str]):
    start = text.index(target)
    end = start + len(target)
    spans = detect(text)
    assert any(s.start <= start and end <= s.end and s.label in labels for s in spans), (
        f"no {sorted(labels)} span covers [{start}:{end}]; got "
        + ", ".join(f"{s.label}[{s.start}:{s.end}]" for s in spans))


@pytest.mark.parametrize(("text", "labels"), NEGATIVES)
def test_family_negative(detect, text: str, labels: set[str]):
    bad = [s for s in detect(text) if s.label in labels]
    assert not bad, ", ".join(f"{s.label}[{s.start}:{s.end}] from {s.source}" for s in bad)
