"""``deid eval``: outputs, the HTML review page, privacy of reports, engine mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deid.cli import main
from deid.evaluate import DocReview
from deid.review import mask, segments
from deid.span import Span

DATA = Path(__file__).parent / "data" / "corpus"
GOLD, PRED = DATA / "eval_gold.jsonl", DATA / "eval_pred.jsonl"


def test_eval_writes_reports_without_text(tmp_path: Path, capsys) -> None:
    j, md, h = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.html"
    rc = main(["eval", str(GOLD), str(PRED), "--json", str(j), "--report", str(md),
               "--html", str(h)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "recall 75.00%" in out and "leak     25.00%" in out
    rep = json.loads(j.read_text())
    assert rep["token"]["f1"] == pytest.approx(0.8)
    assert rep["source"] == {"gold": str(GOLD), "predictions": str(PRED)}
    page = h.read_text()
    assert "class=\"entities\"" in page  # displaCy markup
    assert "MISS:DOCTOR" in page and "HIT:DATE" in page and "FP:NAME" in page
    for f in (j, md, h):
        body = f.read_text()
        for phi in ("John", "Smith", "Jones", "03/04/2021", "555-0100", "Pt John"):
            assert phi not in body, (f.name, phi)


def test_eval_html_with_show_text(tmp_path: Path) -> None:
    h = tmp_path / "r.html"
    assert main(["eval", str(GOLD), str(PRED), "--html", str(h), "--show-text"]) == 0
    page = h.read_text()
    assert "Jones" in page and "this page contains PHI" in page


def test_eval_min_recall_and_usage(capsys) -> None:
    assert main(["eval", str(GOLD), str(PRED), "--min-recall", "0.9"]) == 1
    assert main(["eval", str(GOLD), str(PRED), "--min-recall", "0.7"]) == 0
    assert main(["eval", str(GOLD)]) == 2
    assert main(["eval", str(GOLD), str(PRED), "--rules-only"]) == 2
    assert main(["eval", str(GOLD), str(PRED), "--json", str(GOLD)]) == 2


def test_eval_bad_gold_is_usage_error(tmp_path: Path, capsys) -> None:
    g = tmp_path / "g.jsonl"
    g.write_text('{"id": "a", "text": "Zebulon", "spans": [{"start": 0, "end": 70, '
                 '"label": "PATIENT"}]}\n')
    assert main(["eval", str(g), str(PRED)]) == 2
    err = capsys.readouterr().err
    assert "'a'" in err and "Zebulon" not in err


def test_html_escapes_document_ids() -> None:
    from deid.corpus.document import Document
    from deid.evaluate import Evaluation
    from deid.review import render

    ev = Evaluation(keep_review=5)
    ev.add(Document("<b>x</b>", "a <i>b</i>", (Span(2, 5, "DATE", "gold"),), {}), [])
    page = render(ev.review, ev.report(), show_text=True)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<i>" not in page and "&lt;i&gt;" in page


def test_segments_and_mask() -> None:
    d = DocReview("x", "Dr Jo Li ok", [Span(3, 8, "DOCTOR", "gold")],
                  [Span(3, 5, "NAME"), Span(9, 11, "DATE")], 1, 1)
    assert segments(d) == [
        {"start": 3, "end": 5, "label": "HIT:DOCTOR"},
        {"start": 5, "end": 8, "label": "MISS:DOCTOR"},
        {"start": 9, "end": 11, "label": "FP:DATE"},
    ]
    assert mask("Dr Jo\nLi") == "\u2022\u2022 \u2022\u2022\n\u2022\u2022"


def test_eval_rules_only_engine(tmp_path: Path) -> None:
    """The real text engine (rules only) runs end to end on the gold texts."""
    j = tmp_path / "r.json"
    assert main(["eval", str(GOLD), "--rules-only", "--json", str(j)]) in (0, 1)
    rep = json.loads(j.read_text())
    assert rep["leak"]["method"] == "deidentify" and rep["documents"] == 2
    assert rep["source"]["engine"] == "rules-only"
    # the rule detector must find the phone number and the date
    assert rep["per_label"]["PHONE"]["token_recall"] == 1.0
    assert rep["per_label"]["DATE"]["token_recall"] == 1.0
