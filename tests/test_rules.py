"""The rule set in rules/patterns/*.yaml and rules/allow.yaml: every rule's own examples and
counterexamples, validators added for the rules, and the speed of the whole rule set."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from deid.rulefile import load_yaml, rules_path
from deid.rules import Rule, load_rule_file, load_ruleset
from deid.validators import VALIDATORS

MARK = re.compile(r"\[\[(.+?)\]\]", re.S)


def unmark(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """'seen by Dr. [[Smith]]' -> ('seen by Dr. Smith', [(12, 17)])."""
    out, spans, pos = [], [], 0
    for m in MARK.finditer(marked):
        out.append(marked[pos:m.start()])
        start = sum(len(p) for p in out)
        out.append(m.group(1))
        spans.append((start, start + len(m.group(1))))
        pos = m.end()
    out.append(marked[pos:])
    return "".join(out), spans


def _rule_files() -> list[Path]:
    return sorted(rules_path("patterns").glob("*.yaml")) + [rules_path("allow.yaml")]


def _cases(key: str) -> list[tuple[str, str, str]]:
    out = []
    for f in _rule_files():
        for spec in load_yaml(f)["rules"]:
            for ex in spec.get(key, []) or []:
                out.append((f.name, spec["name"], ex))
    return out


def _rules_by_name() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for f in _rule_files():
        for r in load_rule_file(f):
            out[r.name] = r
    return out


RULES = _rules_by_name()


def find(rule: Rule, text: str) -> list[tuple[int, int]]:
    return sorted({(s.start, s.end) for s in rule.find(text, text.lower())})


def test_ruleset_loads_and_names_are_unique():
    rs = load_ruleset()
    assert len(rs.rules) >= 60
    assert len(rs.allow) >= 10
    for f in _rule_files():
        data = load_yaml(f)
        assert isinstance(data.get("provenance"), str) and data["provenance"].strip()


def test_every_rule_documents_itself():
    for f in _rule_files():
        for spec in load_yaml(f)["rules"]:
            assert spec.get("description"), (f.name, spec["name"])
            assert spec.get("examples"), (f.name, spec["name"])


@pytest.mark.parametrize(("file", "rule", "example"), _cases("examples"))
def test_rule_example_matches(file: str, rule: str, example: str):
    text, marked = unmark(example)
    got = find(RULES[rule], text)
    assert got, f"{file}:{rule} found nothing in example {example!r}"
    for span in marked:
        assert span in got, f"{file}:{rule} example {example!r}: want {span}, got {got}"


@pytest.mark.parametrize(("file", "rule", "example"), _cases("counterexamples"))
def test_rule_counterexample_does_not_match(file: str, rule: str, example: str):
    got = find(RULES[rule], example)
    assert not got, f"{file}:{rule} matched counterexample {example!r} at {got}"


def test_unmark_offsets():
    text, spans = unmark("a [[bc]] d [[e]]")
    assert text == "a bc d e"
    assert [text[s:e] for s, e in spans] == ["bc", "e"]


# -- validators added for the rule set --------------------------------------------------------

@pytest.mark.parametrize(("value", "ok"), [
    ("14.03.1962", True), ("03.14.1962", True), ("31.02.1962", False), ("13.13.2000", False),
])
def test_validator_date_any(value: str, ok: bool):
    assert VALIDATORS["date_any"](value) is ok


@pytest.mark.parametrize(("value", "ok"), [
    ("AB1234563", True), ("AB1234567", False), ("A91234563", True), ("1B1234563", False),
    ("AB123456", False),
])
def test_validator_dea(value: str, ok: bool):
    assert VALIDATORS["dea"](value) is ok


# -- speed ------------------------------------------------------------------------------------

_SENTENCES = [
    "Patient is a 67 yo man with HTN, DM2 and CKD stage 3 admitted for chest pain.",
    "BP 142/88, HR 92, T 98.6, RR 18, SpO2 96% on RA. Na 138, K 4.1, Cr 1.3, Hgb 11.2.",
    "Seen by Dr. Smith on 3/14/2019; discussed with his wife Mary Jones at bedside.",
    "Continue metoprolol 25 mg PO BID, Lasix 40 mg daily, Norco 5/325 q6h PRN pain 7/10.",
    "Strength 5/5 in all extremities, reflexes 2+/4, no Babinski sign, Foley in place.",
    "He lives in Springfield with his daughter; phone (617) 555-0123, MRN: 4455667.",
    "Follow up with PCP in 2 weeks. Will call with results. May need repeat echo.",
    "CT abdomen/pelvis 2019-03-04: no acute process. EF 55%. Plan discussed with team.",
    "History of Parkinson's disease, Graves disease and Crohn's, s/p cholecystectomy 2015.",
    "Hope to wean oxygen tomorrow; out of bed to chair at 0800 with PT and OT.",
]


def _note(rng: random.Random, size: int = 2000) -> str:
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < size:
        parts.append(rng.choice(_SENTENCES))
    return " ".join(parts)


def _detect_all(text: str) -> int:
    rs = load_ruleset()
    return len(rs.detect(text)) + len(rs.allow_spans(text))


def test_speed_notes_per_second():
    """The whole rule set (rules + allow-list) on ~2 KB notes; brief target >= 200 notes/s/core.

    The assertion is looser (80/s, CPU time) because CI machines are shared; the rate is printed.
    """
    rng = random.Random(7)
    notes = [_note(rng) for _ in range(60)]
    _detect_all(notes[0])  # warm caches
    t0 = time.process_time()
    for n in notes:
        _detect_all(n)
    rate = len(notes) / (time.process_time() - t0)
    print(f"rule set speed: {rate:.0f} notes/s on {len(notes[0])}-char notes")
    assert rate >= 80


def test_no_catastrophic_backtracking():
    """Adversarial inputs (long runs of the characters the patterns repeat) stay fast."""
    evil = [
        "A" * 3000, "Aa " * 1000, "1" * 3000, "1-" * 1500, "a." * 1500, "a@" * 1500,
        ("Dr. " + "Smith " * 500), "1 " + "Main " * 600, ":" * 3000, "1/" * 1500,
        "x" * 2000 + "@" + "b." * 500, "Mary " * 600,
    ]
    rs = load_ruleset()
    for text in evil:
        t0 = time.process_time()
        rs.detect(text)
        rs.allow_spans(text)
        assert time.process_time() - t0 < 2.0, f"slow on input of kind {text[:6]!r}"


# -- anchors / requires are pure speed-ups --------------------------------------------------

def _corpus() -> list[str]:
    import json

    texts = [unmark(ex)[0] for _, _, ex in _cases("examples")]
    texts += [ex for _, _, ex in _cases("counterexamples")]
    gold = rules_path().parent / "tests" / "cases" / "regression.jsonl"
    if gold.exists():
        with open(gold, encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()]
    rng = random.Random(11)
    texts += [_note(rng, 1500) for _ in range(5)]
    texts.append("\n".join(texts[:400]))
    return texts


def test_anchors_and_requires_do_not_change_results():
    """A rule's ``anchors`` and ``requires`` only skip work: the spans are the same without them."""
    import dataclasses

    texts = _corpus()
    checked = 0
    for rule in RULES.values():
        if not rule.anchors and not rule.requires:
            continue
        plain = dataclasses.replace(rule, anchors=(), requires=())
        for t in texts:
            assert find(rule, t) == find(plain, t), f"{rule.name} differs on a corpus text"
        checked += 1
    assert checked >= 40


def test_rejected_candidate_does_not_hide_overlapping_hit():
    """'Saw John Smith': the candidate 'Saw John' is rejected by the lists, 'John Smith' is found."""
    got = find(RULES["name_first_last_list"], "Saw John Smith today")
    assert (4, 14) in got


def test_anchor_and_requires_keys_are_checked(tmp_path):
    from deid.errors import RuleError

    bad = tmp_path / "bad.yaml"
    bad.write_text("provenance: x\nrules:\n  - name: r\n    label: DATE\n    terms: drugs\n"
                   "    anchors: [a]\n", encoding="utf-8")
    with pytest.raises(RuleError, match="anchors"):
        load_rule_file(bad)
    bad.write_text("provenance: x\nrules:\n  - name: r\n    label: DATE\n    pattern: a\n"
                   "    requires: a\n", encoding="utf-8")
    with pytest.raises(RuleError, match="requires"):
        load_rule_file(bad)
