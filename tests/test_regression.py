"""Regression cases for the rule-only detector (tests/cases/, see tests/cases/README.md).

Every case not listed in known_failures.jsonl must pass: each gold span is fully covered by
predicted spans (any label), and a hard negative (no gold spans) gets no predicted span at all.
Listed known failures must still fail, so a fixed case has to be taken off the list.

Regenerate regression.jsonl after editing regression_marked.jsonl:
    python tests/test_regression.py --build
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

CASES = Path(__file__).resolve().parent / "cases"
MARKED = CASES / "regression_marked.jsonl"
GOLD = CASES / "regression.jsonl"
KNOWN = CASES / "known_failures.jsonl"
MARK = re.compile(r"\[\[([A-Z]+):(.+?)\]\]", re.S)


def unmark(marked: str) -> tuple[str, list[dict[str, object]]]:
    """'Seen by Dr. [[DOCTOR:Smith]]' -> ('Seen by Dr. Smith', [{start: 12, end: 17, ...}])."""
    parts: list[str] = []
    spans: list[dict[str, object]] = []
    pos = 0
    for m in MARK.finditer(marked):
        parts.append(marked[pos:m.start()])
        start = sum(len(p) for p in parts)
        parts.append(m.group(2))
        spans.append({"start": start, "end": start + len(m.group(2)), "label": m.group(1)})
        pos = m.end()
    parts.append(marked[pos:])
    text = "".join(parts)
    if "[[" in text or "]]" in text:
        raise ValueError("unbalanced or unlabelled [[ ]] markup")
    return text, spans


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def build() -> list[dict]:
    out = []
    for case in _read_jsonl(MARKED):
        text, spans = unmark(case["marked"])
        out.append({"id": case["id"], "text": text, "spans": spans, "note": case["note"]})
    return out


def _write(cases: list[dict]) -> None:
    with open(GOLD, "w", encoding="utf-8") as fh:
        for c in cases:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")


GOLD_CASES = _read_jsonl(GOLD) if GOLD.exists() else []
KNOWN_FAILURES = {k["id"]: k["reason"] for k in _read_jsonl(KNOWN)} if KNOWN.exists() else {}


@pytest.fixture(scope="module")
def detector():
    from deid.text import Deidentifier

    return Deidentifier(ner=False)


def case_passes(detector, case: dict) -> tuple[bool, str]:
    """(ok, why) where ``why`` names offsets and labels only, never the text."""
    spans = detector.detect(case["text"])
    covered: set[int] = set()
    for s in spans:
        covered.update(range(s.start, s.end))
    if not case["spans"]:
        if spans:
            return False, "hard negative got " + ", ".join(
                f"{s.label}[{s.start}:{s.end}] from {s.source}" for s in spans)
        return True, ""
    missed = [g for g in case["spans"] if not set(range(g["start"], g["end"])) <= covered]
    if missed:
        return False, "missed " + ", ".join(f"{g['label']}[{g['start']}:{g['end']}]" for g in missed)
    return True, ""


def test_gold_file_is_built_from_marked_source():
    assert build() == GOLD_CASES, "run: python tests/test_regression.py --build"


def test_case_set_size_and_shape():
    ids = [c["id"] for c in GOLD_CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(GOLD_CASES) >= 150
    assert sum(1 for c in GOLD_CASES if not c["spans"]) >= 40, "need hard negatives"
    for c in GOLD_CASES:
        assert c["note"], c["id"]
        for s in c["spans"]:
            assert 0 <= s["start"] < s["end"] <= len(c["text"]), c["id"]
            assert c["text"][s["start"]:s["end"]].strip() == c["text"][s["start"]:s["end"]], c["id"]
    assert set(KNOWN_FAILURES) <= set(ids), "known_failures.jsonl names unknown case ids"
    assert all(KNOWN_FAILURES.values()), "every known failure needs a reason"


@pytest.mark.parametrize("case", GOLD_CASES, ids=[c["id"] for c in GOLD_CASES])
def test_regression_case(detector, case: dict):
    ok, why = case_passes(detector, case)
    if case["id"] in KNOWN_FAILURES:
        assert not ok, f"{case['id']} now passes: remove it from known_failures.jsonl"
    else:
        assert ok, f"{case['id']}: {why} ({case['note']})"


if __name__ == "__main__":
    if sys.argv[1:] == ["--build"]:
        cases = build()
        _write(cases)
        print(f"wrote {len(cases)} cases to {GOLD}")
    else:
        print(__doc__)
