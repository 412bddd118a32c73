from __future__ import annotations

import pytest

from deid.dates import parse_date, shift

CASES = [
    ("3/14/62", -30, "2/12/62"),
    ("03-14-1962", -30, "02-12-1962"),
    ("14 Mar 1962", -30, "12 Feb 1962"),
    ("March 14th", -30, "February 12th"),
    ("March 14, 1962", 1, "March 15, 1962"),
    ("MARCH 14, 1962", 1, "MARCH 15, 1962"),
    ("2062-03-14", -14, "2062-02-28"),
    ("3/14", -14, "2/28"),
    ("19620314", -1, "19620313"),
    ("Dec 31, 2019", 1, "Jan 1, 2020"),
    ("Sept 3", 30, "Oct 3"),
    ("14th of March", 2, "16th of March"),
]


@pytest.mark.parametrize(("text", "days", "expected"), CASES)
def test_shift_keeps_format(text, days, expected):
    p = parse_date(text)
    assert p is not None, text
    assert shift(p, days) == expected


def test_month_year_and_apostrophe_year():
    p = parse_date("Mar '62")
    assert p is not None and (p.year, p.month, p.day) == (1962, 3, None)
    assert shift(p, -60) == "Jan '62"


def test_day_only():
    p = parse_date("the 14th")
    assert p is not None and p.day == 14 and p.month is None
    assert shift(p, -3) == "the 11th"


@pytest.mark.parametrize("bad", ["2/30/2020", "13/45/99", "120/80", "5/325", "hello", "0800", "1962"])
def test_invalid_dates_rejected(bad):
    assert parse_date(bad) is None


def test_dmy_order():
    p = parse_date("14/03/1962", order="DMY")
    assert p is not None and (p.month, p.day) == (3, 14)


def test_interval_preserved():
    a, b = parse_date("1/10/2020"), parse_date("2/20/2020")
    assert shift(a, -100) == "10/2/2019" and shift(b, -100) == "11/12/2019"


@pytest.mark.parametrize(("text", "ymd"), [
    ("14.03.1962", (1962, 3, 14)),
    ("14/03/1962", (1962, 3, 14)),
    ("9/99", (1999, 9, None)),
    ("14th", (None, None, 14)),
])
def test_unambiguous_forms(text, ymd):
    p = parse_date(text)
    assert p is not None and (p.year, p.month, p.day) == ymd


def test_month_two_digit_year_shift():
    assert shift(parse_date("9/99"), -30) == "8/99"
