from __future__ import annotations

import re

import pytest

from deid.errors import RuleError
from deid.key import Key
from deid.policy import load_policy
from deid.span import Span
from deid.transform import age90, apply, zip3


def run(text, spans, policy="default", key=None, patient="p1"):
    return apply(text, spans, load_policy(policy), key or Key(b"k" * 32), patient)


def test_surrogate_keeps_case_and_is_consistent(key):
    text = "JOHN SMITH and John Smith"
    spans = [Span(0, 10, "PATIENT"), Span(15, 25, "PATIENT")]
    out, changes, maps = run(text, spans, key=key)
    a, b = out.split(" and ")
    assert a.isupper() and a.lower() == b.lower()
    assert "SMITH" not in out and "Smith" not in out
    assert len(changes) == 2 and all("SMITH" not in str(c.to_dict()) for c in changes)
    assert maps[0][1] == "JOHN SMITH"


def test_ids_keep_layout(key):
    text = "MRN 123-45-678A ph (617) 555-0134"
    out, _, _ = run(text, [Span(4, 15, "MRN"), Span(19, 33, "PHONE")], key=key)
    assert re.fullmatch(r"MRN \d{3}-\d{2}-\d{3}[A-Z] ph \(\d{3}\) \d{3}-\d{4}", out)
    assert "123-45-678A" not in out and "555-0134" not in out


def test_dates_shift_consistently_per_patient(key):
    text = "Admitted 3/14/2020, discharged 3/20/2020."
    spans = [Span(9, 18, "DATE"), Span(31, 40, "DATE")]
    out1, _, _ = run(text, spans, key=key, patient="p1")
    out2, _, _ = run(text, spans, key=key, patient="p1")
    out3, _, _ = run(text, spans, key=key, patient="p2")
    assert out1 == out2 and out1 != out3
    from datetime import datetime

    d = [datetime.strptime(x, "%m/%d/%Y") for x in re.findall(r"\d+/\d+/\d{4}", out1)]
    assert (d[1] - d[0]).days == 6
    assert (datetime(2020, 3, 14) - d[0]).days == -key.day_offset("p1")


def test_year_alone_kept_and_unparseable_date_replaced(key):
    out, changes, _ = run("in 1998 and on Blursday 3rd", [Span(3, 7, "DATE"), Span(15, 27, "DATE")], key=key)
    assert out.startswith("in 1998 and on ")
    assert "Blursday" not in out
    assert changes[1].action == "shift-fallback"


def test_tag_and_numbered_tag(key):
    text = "Ann Lee met Bo Chan; Ann Lee left"
    spans = [Span(0, 7, "PATIENT"), Span(12, 19, "DOCTOR"), Span(21, 28, "PATIENT")]
    out, _, _ = run(text, spans, "tag", key)
    assert out == "[PATIENT] met [DOCTOR]; [PATIENT] left"
    out, _, _ = run(text, spans, "tag-numbered", key)
    tags = re.findall(r"\[(\w+)-(\d+)\]", out)
    assert tags[0] == tags[2] and tags[0] != tags[1]
    out_again, _, _ = run("Later: Ann Lee", [Span(7, 14, "PATIENT")], "tag-numbered", key)
    assert out_again == f"Later: [PATIENT-{tags[0][1]}]"


def test_zip3_and_age90():
    restricted = frozenset({"036"})
    assert zip3("02114", restricted) == "021XX"
    assert zip3("03601-1234", restricted) == "000XX-XXXX"
    assert age90("92") == "90+"
    assert age90("ninety-two") == "90+"


def test_beyond_hipaa_switch(key):
    text = "Seen at Mercy Hospital"
    out, _, _ = run(text, [Span(8, 22, "HOSPITAL")], "safe-harbor-minimal", key)
    assert out == text
    out, _, _ = run(text, [Span(8, 22, "HOSPITAL")], "default", key)
    assert "Mercy" not in out


def test_bad_policy_names_file_and_rule(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("provenance: x\ndefault_action: tag\nactions:\n  PATIENT: obliterate\n")
    with pytest.raises(RuleError, match=r"bad\.yaml.*PATIENT.*obliterate"):
        load_policy(p)
    p.write_text("provenance: x\nactions:\n  NOT_A_LABEL: tag\n")
    with pytest.raises(RuleError, match="NOT_A_LABEL"):
        load_policy(p)


@pytest.mark.parametrize("original", ["é", "Ж", "7", "ß", "·", "東京", "a"])
def test_keyed_chars_always_changes_and_terminates(key, original):
    from deid.surrogates import keyed_chars

    out = keyed_chars(key, "id", original)
    assert len(out) == len(original)
    if any(c.isalnum() for c in original):
        assert out != original


@pytest.mark.parametrize(("opt", "value"), [("date_shift_days", "[a, b]"), ("tag_format", "'[{tag.x}]'")])
def test_bad_policy_options_name_the_option(tmp_path, opt, value):
    p = tmp_path / "p.yaml"
    p.write_text(f"provenance: x\noptions:\n  {opt}: {value}\n")
    with pytest.raises(RuleError, match=opt):
        load_policy(p)


def test_first_name_surrogates_keep_gender(key):
    from deid.rulefile import load_wordlist
    from deid.surrogates import name_surrogate

    female, male = load_wordlist("female_first_names"), load_wordlist("male_first_names")
    for name in ("Stella", "Margaret", "Brenda"):
        assert name_surrogate(key, name).casefold() in female
    for name in ("George", "Harold", "Kevin"):
        assert name_surrogate(key, name).casefold() in male
