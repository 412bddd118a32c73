"""What a research team gets out (issue #12, notes): dates never scrambled, Safe Harbor ages over
89, surrogates that look real and stay consistent, clinical values unchanged.

Cases are data in tests/cases/output_quality.jsonl, one a line: ``text`` (an invented note),
optional ``spans`` (``[start, end, label]``, standing in for the model or a merge; without them
the rules find the spans), and what the de-identified text must satisfy: ``match`` (a regex the
whole output matches), ``dates`` (group -> strptime format), ``intervals`` (``[g1, g2, days]``),
``equal`` (groups with one value), ``in_list`` / ``not_in_list`` (group -> word list),
``gone`` (strings that must not survive), ``articles`` (every a/an agrees), ``unchanged``.
Failures name case ids and groups, never note text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from deid.key import Key
from deid.policy import load_policy
from deid.rulefile import load_wordlist
from deid.span import Span
from deid.surrogates import (
    country_surrogate,
    keyed_chars,
    organization_surrogate,
    phone_surrogate,
    state_surrogate,
    surrogate,
    username_surrogate,
)
from deid.transform import _article, apply, plan_dates, shift_date

CASES_FILE = Path(__file__).resolve().parent / "cases" / "output_quality.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def engine():
    from deid.text import Deidentifier

    return Deidentifier(ner=False, key=Key(b"output-quality-test-key-0123456789"))


def _date(value: str, fmt: str) -> dt.date:
    if "%Y" not in fmt and "%y" not in fmt:
        value, fmt = value + "|2000", fmt + "|%Y"  # 2000 admits Feb 29
    return dt.datetime.strptime(value, fmt).date()


def _deidentify(engine, case: dict) -> str:
    text = case["text"]
    if "spans" not in case:
        return engine.deidentify(text).text
    spans = [Span(s, e, lab) for s, e, lab in case["spans"]]
    return apply(text, spans, engine.policy, engine.key, "p1")[0]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_output_case(engine, case: dict):
    cid = case["id"]
    out = _deidentify(engine, case)
    if case.get("unchanged"):
        assert out == case["text"], f"{cid}: clinical text was changed"
        return
    m = re.fullmatch(case["match"], out, re.DOTALL)
    assert m, f"{cid}: output does not have the expected shape ({case['note']})"
    g = m.groupdict()
    dates = {k: _date(g[k], fmt) for k, fmt in case.get("dates", {}).items()}
    for a, b, days in case.get("intervals", []):
        assert (dates[b] - dates[a]).days == days, f"{cid}: interval {a}-{b} changed"
    for a, b in case.get("equal", []):
        assert g[a] == g[b], f"{cid}: groups {a} and {b} got different surrogates"
    for k, lst in case.get("in_list", {}).items():
        assert g[k].casefold() in load_wordlist(lst), f"{cid}: group {k} is not from {lst}"
    for k, lst in case.get("not_in_list", {}).items():
        assert g[k].casefold() not in load_wordlist(lst), f"{cid}: group {k} is from {lst}"
    for s in case.get("gone", []):
        assert s not in out, f"{cid}: an original value survived"
    if case.get("articles"):
        for art, word in re.findall(r"\b([Aa]n?) (\w+)", out):
            assert art.casefold() == _article(word), f"{cid}: article does not agree"


def test_cases_are_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for c in CASES:
        assert c["note"] and c["text"]
        assert c.get("unchanged") or c.get("match"), c["id"]
        for s, e, _ in c.get("spans", []):
            assert 0 <= s < e <= len(c["text"]), c["id"]


# -- dates --------------------------------------------------------------------------------------

def test_unparseable_date_never_scrambled(key):
    for original in ("Blursday 3rd", "sometime last spring 19xx", "3/45/2019"):
        new, action = shift_date(original, "MDY", -40, key)
        assert new == "[DATE]" and action == "shift-fallback"


def test_date_span_with_joined_dates_keeps_the_words(key):
    new, _ = shift_date("on 3/4 and 3/9", "MDY", -2, key)
    assert new == "on 3/2 and 3/7"


@pytest.mark.parametrize(("texts", "order"), [
    (["30.07.2016", "02.08.2016"], "DMY"),
    (["07/30/2016", "08/02/2016"], "MDY"),
    (["02.08.2016", "03.08.2016"], "MDY"),  # nothing unambiguous: the US default
])
def test_note_order_is_inferred(texts, order):
    from deid.dates import infer_order

    assert infer_order(texts) == order


def test_order_is_per_separator():
    from deid.dates import infer_orders, order_for

    orders = infer_orders(["04/17/1930", "30.07.2016", "02.08.2016", "3/4/2019"])
    assert orders["/"] == "MDY" and orders["."] == "DMY"
    assert order_for("02.08.2016", orders) == "DMY" and order_for("3/4/2019", orders) == "MDY"


def test_policy_can_force_the_order(key, tmp_path):
    p = tmp_path / "dmy.yaml"
    p.write_text("provenance: x\ndefault_action: surrogate\nactions: {DATE: shift}\n"
                 "options: {date_order: DMY}\n")
    text = "Seen 02.08.2016."
    plan = plan_dates(text, [Span(5, 15, "DATE")], load_policy(p), -1)
    assert plan.orders == {"": "DMY"}
    out = apply(text, [Span(5, 15, "DATE")], load_policy(p), key, "p1")[0]
    d = _date(out[5:15], "%d.%m.%Y")
    assert dt.date(2016, 8, 2) > d >= dt.date(2015, 8, 1)


def test_over_89_drops_year_of_any_date_90_years_back(key):
    text = "DOB 04/17/1930 (94 yo). Married 1948. Fell 03/02/2024."
    spans = [Span(4, 14, "DATE"), Span(16, 18, "AGE"), Span(32, 36, "DATE"), Span(43, 53, "DATE")]
    out, changes, _ = apply(text, spans, load_policy(), key, "p1")
    assert "1930" not in out and "1929" not in out
    assert "1948" in out  # a year 76 years back tells nothing about the age over 89
    assert re.fullmatch(r"DOB \d\d/\d\d \(90\+ yo\)\. Married 1948\. Fell \d\d/\d\d/20\d\d\.", out)
    assert changes[0].action == "shift-no-year"


def test_over_89_year_alone_of_birth_is_tagged(key):
    text = "Born in 1925, now 99 years old."
    out = apply(text, [Span(8, 12, "DATE"), Span(18, 20, "AGE")], load_policy(), key, "p1")[0]
    assert out == "Born in [DATE], now 90+ years old."


def test_audit_of_dates_holds_no_phi(key):
    text = "DOB 04/17/1930 (94 yo)"
    _, changes, _ = apply(text, [Span(4, 14, "DATE"), Span(16, 18, "AGE")], load_policy(), key, "p")
    assert all("1930" not in str(c.to_dict()) for c in changes)


# -- surrogates ---------------------------------------------------------------------------------

def test_surrogates_are_keyed_not_process_state(key):
    other = Key(b"another-key-0123456789abcdef")
    for label, value in [("PHONE", "(217) 555-0198"), ("MRN", "00482913"), ("STATE", "MT"),
                         ("ORGANIZATION", "Sawhney's Drug Store"), ("USERNAME", "jsmith42"),
                         ("COUNTRY", "USA")]:
        a, b = surrogate(key, label, value), surrogate(Key(key.secret), label, value)
        assert a == b and a != value
        assert surrogate(other, label, value) != a or label in ("STATE", "COUNTRY")


def test_phone_shapes(key):
    for original in ("617-555-1234", "+1 (617) 555-1234", "6175551234", "617.555.1234 ext. 45"):
        new = phone_surrogate(key, original)
        digits = re.sub(r"\D", "", new.split("ext")[0])[-10:]
        assert re.sub(r"\d", "0", new) == re.sub(r"\d", "0", original)
        assert digits[0] in "23456789" and digits[3] in "23456789"
        assert digits[1:3] != "11" and digits[4:6] != "11"
    assert phone_surrogate(key, "+44 20 7946 0958").startswith("+44 ")


def test_same_number_any_layout(key):
    assert keyed_chars(key, "id", "00482913") == keyed_chars(key, "id", "00-482-913").replace("-", "")
    assert surrogate(key, "MRN", "00482913") == surrogate(key, "IDNUM", "00482913")
    a = re.sub(r"\D", "", phone_surrogate(key, "(217) 555-0198"))
    assert a == re.sub(r"\D", "", phone_surrogate(key, "217.555.0198"))
    assert a == re.sub(r"\D", "", phone_surrogate(key, "+1 217 555 0198"))[1:]


def test_states_and_countries(key):
    codes = load_wordlist("us_state_codes")
    for st in ("MT", "MA", "CA", "tx"):
        new = state_surrogate(key, st)
        assert new.casefold() in codes and new.casefold() != st.casefold()
        assert new.isupper() == st.isupper()
    assert state_surrogate(key, "Ohio").casefold() in load_wordlist("us_states")
    assert re.fullmatch(r"[A-Z]\.[A-Z]\.", country_surrogate(key, "U.K."))
    assert country_surrogate(key, "Brazil").casefold() in load_wordlist("countries")
    assert surrogate(key, "CITY", "Montenegro").casefold() in load_wordlist("countries")
    assert surrogate(key, "LOCATION", "Ohio").casefold() in load_wordlist("us_states")


def test_organizations_keep_their_kind(key):
    hospitals = load_wordlist("surrogate_hospitals")
    for org in ("Acme Tool Inc.", "First National Bank", "St. Mary's Church", "BCBS", "Walmart"):
        new = organization_surrogate(key, org)
        assert new.casefold() not in hospitals and new != org
    assert organization_surrogate(key, "First National Bank").endswith(" Bank")
    assert organization_surrogate(key, "Acme Tool Inc.").endswith(" Inc.")


def test_usernames_look_like_usernames(key):
    names = load_wordlist("first_names") | load_wordlist("surnames")
    for user in ("jsmith42", "mary.jones", "dundaralp.swink", "LGABADE29", "jdoe_2"):
        new = username_surrogate(key, user)
        assert new != user
        assert re.sub(r"[a-zA-Z]", "a", re.sub(r"\d", "0", new))[-2:] == \
            re.sub(r"[a-zA-Z]", "a", re.sub(r"\d", "0", user))[-2:]
        for run in re.findall(r"[A-Za-z]{3,}", new):
            assert run.casefold() in names or run[1:].casefold() in names or run[:-1].casefold() in names


@pytest.mark.parametrize(("word", "art"), [("accountant", "an"), ("teacher", "a"), ("hour", "an"),
                                           ("urologist", "a"), ("umpire", "an"), ("MRI", "an"),
                                           ("university", "a"), ("electrician", "an")])
def test_article(word, art):
    assert _article(word) == art


def test_article_fixed_before_surrogate(key):
    pol = load_policy()
    for prof in load_wordlist("professions"):
        text = f"He works as a {prof}."
        out = apply(text, [Span(14, 14 + len(prof), "PROFESSION")], pol, key, "p")[0]
        m = re.fullmatch(r"He works as (an?) (\w+).*", out)
        assert m and m.group(1) == _article(m.group(2)), "article does not agree"
