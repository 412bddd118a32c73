"""Rule files are validated at load; every error names the file and the rule."""

from __future__ import annotations

import pytest

from deid.errors import RuleError
from deid.rules import load_rule_file

LABELS = frozenset({"DATE", "PATIENT", "SSN"})


def write(tmp_path, body: str):
    p = tmp_path / "r.yaml"
    p.write_text(body)
    return p


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("provenance: x\nrules:\n  - name: a\n    label: NOPE\n    pattern: 'x'\n", r"r\.yaml, rule 'a'.*unknown label"),
        ("provenance: x\nrules:\n  - name: b\n    label: DATE\n    pattern: '(unclosed'\n", r"rule 'b'.*invalid regex"),
        ("provenance: x\nrules:\n  - name: c\n    label: DATE\n    pattern: 'x'\n    validator: magic\n", r"rule 'c'.*unknown validator"),
        ("provenance: x\nrules:\n  - name: d\n    label: DATE\n    pattern: 'x'\n    score: 2\n", r"rule 'd'.*score"),
        ("provenance: x\nrules:\n  - name: e\n    label: DATE\n", r"rule 'e'.*exactly one of"),
        ("provenance: x\nrules:\n  - name: f\n    label: DATE\n    pattern: 'x'\n    colour: red\n", r"rule 'f'.*unknown keys"),
        ("provenance: x\nrules:\n  - name: g\n    label: DATE\n    terms: no_such_list\n", r"rule 'g'.*word list not found"),
        ("provenance: x\nrules:\n  - name: h\n    label: DATE\n    pattern: '(?P<x>a)'\n    lists: {y: first_names}\n", r"rule 'h'.*no group 'y'"),
        ("rules:\n  - name: i\n    label: DATE\n    pattern: x\n", r"r\.yaml.*provenance"),
        ("provenance: x\nrules: [\n", r"r\.yaml.*invalid YAML"),
        ("provenance: x\nrules:\n  - name: j\n    label: DATE\n    pattern: a\n  - name: j\n    label: DATE\n    pattern: b\n", r"rule 'j'.*duplicate"),
    ],
)
def test_bad_rule_files(tmp_path, body, match):
    with pytest.raises(RuleError, match=match):
        load_rule_file(write(tmp_path, body), LABELS)


def test_good_rule_with_context_and_group(tmp_path):
    p = write(tmp_path, (
        "provenance: test\n"
        "rules:\n"
        "  - name: ssn\n    label: SSN\n    pattern: '(?P<phi>\\d{3}-\\d{2}-\\d{4})'\n"
        "    validator: ssn\n    score: 0.6\n"
        "    context: {words: [ssn, social], window: 20, boost: 0.3}\n"
    ))
    (rule,) = load_rule_file(p, LABELS)
    text = "SSN 123-45-6789 and 000-12-3456 and 123-45-6780"
    spans = list(rule.find(text, text.lower()))
    assert [(s.start, s.end) for s in spans] == [(4, 15), (36, 47)]  # 000-... fails the validator
    assert spans[0].score == pytest.approx(0.9) and spans[1].score == pytest.approx(0.6)
    assert spans[0].source == "rule:ssn"


def test_rule_errors_cross_process_boundaries():
    # raised in a worker process, they are pickled back to the parent, which reports them
    import pickle

    err = pickle.loads(pickle.dumps(RuleError("rules/patterns/x.yaml", "phone_us", "bad regex")))
    assert isinstance(err, RuleError) and err.file == "rules/patterns/x.yaml"
    assert str(err) == "rules/patterns/x.yaml, rule 'phone_us': bad regex"
