"""VR-level value transforms: date shifts, age capping, dummies."""

from __future__ import annotations

import pytest

from deid.dicom import values as V


@pytest.mark.parametrize(("value", "days", "want"), [
    ("20040119", -19, "20031231"),
    ("200401", -40, "200311"),
    ("2004", -400, "2002"),
    ("20040229", 365, "20050228"),
    ("", -10, ""),
    ("2004011", -1, None),
    ("notadate", -1, None),
])
def test_shift_da(value, days, want):
    assert V.shift_da(value, days) == want


def test_shift_da_range_and_dt():
    assert V.shift_da_value("20040101-20040131", -1) == "20031231-20040130"
    assert V.shift_dt("20040119123000.123+0100", -19) == "20031231123000.123+0100"
    assert V.shift_dt("2004", -400) == "2002"
    assert V.shift_dt("junk", 1) is None


@pytest.mark.parametrize(("age", "want"), [
    ("089Y", "089Y"), ("090Y", "090Y"), ("095Y", "090Y"), ("120Y", "090Y"),
    ("999M", "999M"), ("999W", "999W"), ("050D", "050D"),
    ("", ""), ("bad", ""), ("0950Y", ""),
])
def test_cap_age(age, want):
    assert V.cap_age(age) == want


def test_dummies_are_valid_for_their_vr():
    assert len(V.dummy_for_vr("SH")) <= 16 and len(V.dummy_for_vr("AE")) <= 16
    assert len(V.dummy_for_vr("CS")) <= 16 and V.dummy_for_vr("CS").isupper()
    assert V.dummy_for_vr("DA") == "19000101" and V.dummy_for_vr("IS") == "0"
    assert V.dummy_for_vr("OB") == b"\x00\x00" and V.dummy_for_vr("US") == 0
    assert V.zero_for_vr("OB") == b"" and V.zero_for_vr("LO") == "" and V.zero_for_vr("US") is None
