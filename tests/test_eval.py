"""Evaluation metrics against hand-computed values (tests/data/corpus/eval_*.jsonl).

Document d1: "Pt John Smith seen 03/04/2021 by Dr Jones ok"
  tokens: Pt John Smith seen 03 04 2021 by Dr Jones ok
  gold:   PATIENT "John Smith" [3,13), DATE "03/04/2021" [19,29), DOCTOR "Jones" [36,41)
  pred:   PATIENT "John" [3,7), DATE [19,29) (exact), NAME "by" [30,32) (false positive)
  gold tokens 6 (John Smith 03 04 2021 Jones), found 4 (John 03 04 2021)
  pred tokens 5 (John 03 04 2021 by), correct 4
Document d2: "Call 555-0100 now", gold PHONE [5,13) predicted exactly: gold 2 tokens found,
  pred 2 tokens correct.
Totals: token recall 6/8 = 0.75, precision 6/7, F1 = 2*(3/4)*(6/7)/((3/4)+(6/7)) = 0.8.
Entities: gold 4, pred 4; strict 2 (DATE, PHONE); overlap found 3 of 4, correct 3 of 4.
Leak (predicted spans redacted): "John Smith" no (John redacted), date no, "Jones" yes,
  phone no -> 1/4.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from deid.corpus.document import Document
from deid.corpus.io import read_corpus
from deid.errors import InputError
from deid.evaluate import (
    Evaluation,
    evaluate,
    from_engine,
    from_file,
    load_predictions,
    prf,
    redact,
    survives,
    to_markdown,
)
from deid.span import Span

DATA = Path(__file__).parent / "data" / "corpus"


def run(gold: Path = DATA / "eval_gold.jsonl", pred: Path = DATA / "eval_pred.jsonl",
        **kw: object) -> tuple[Evaluation, dict]:
    ev = Evaluation(**kw)  # type: ignore[arg-type]
    evaluate(from_file(read_corpus(gold), load_predictions(pred), ev), ev)
    return ev, ev.report()


def test_token_metrics_by_hand() -> None:
    _, rep = run()
    t = rep["token"]
    assert (t["gold"], t["found"], t["pred"], t["correct"]) == (8, 6, 7, 6)
    assert t["recall"] == pytest.approx(0.75)
    assert t["precision"] == pytest.approx(6 / 7)
    assert t["f1"] == pytest.approx(0.8)


def test_entity_metrics_by_hand() -> None:
    _, rep = run()
    e = rep["entity"]
    assert e["strict"]["recall"] == pytest.approx(0.5)
    assert e["strict"]["precision"] == pytest.approx(0.5)
    assert e["strict_unlabelled"]["found"] == 2
    assert e["overlap"]["recall"] == pytest.approx(0.75)
    assert e["overlap"]["precision"] == pytest.approx(0.75)
    assert e["overlap"]["f1"] == pytest.approx(0.75)


def test_strict_labelled_differs_from_unlabelled() -> None:
    doc = Document("x", "Dr Jones", (Span(3, 8, "DOCTOR", "gold"),), {})
    ev = Evaluation()
    ev.add(doc, [Span(3, 8, "PATIENT")])
    e = ev.report()["entity"]
    assert e["strict"]["found"] == 0 and e["strict_unlabelled"]["found"] == 1
    assert ev.report()["per_label"]["DOCTOR"]["entity_recall_strict"] == 0.0


def test_per_label_by_hand() -> None:
    _, rep = run()
    pl = rep["per_label"]
    assert pl["PATIENT"]["gold_tokens"] == 2 and pl["PATIENT"]["token_recall"] == 0.5
    assert pl["PATIENT"]["entity_recall"] == 1.0 and pl["PATIENT"]["entity_recall_strict"] == 0.0
    assert pl["DATE"]["token_recall"] == 1.0 and pl["DATE"]["entity_recall_strict"] == 1.0
    assert pl["DOCTOR"]["token_recall"] == 0.0 and pl["DOCTOR"]["entity_recall"] == 0.0
    assert pl["PHONE"]["token_recall"] == 1.0
    assert pl["NAME"]["gold_entities"] == 0 and pl["NAME"]["predicted_precision"] == 0.0


def test_leak_misses_and_documents_by_hand() -> None:
    _, rep = run()
    lk = rep["leak"]
    assert (lk["gold_spans"], lk["leaked"], lk["rate"]) == (4, 1, 0.25)
    assert lk["items"] == [{"doc": "d1", "start": 36, "end": 41, "label": "DOCTOR"}]
    assert rep["documents_with_missed_tokens"] == {"count": 1, "ids": ["d1"]}
    assert rep["misses"] == [
        {"doc": "d1", "start": 3, "end": 13, "label": "PATIENT", "missed_tokens": 1, "tokens": 2},
        {"doc": "d1", "start": 36, "end": 41, "label": "DOCTOR", "missed_tokens": 1, "tokens": 1},
    ]


def test_text_only_with_show_text() -> None:
    _, rep = run()
    assert "Jones" not in str(rep) and "John" not in str(rep)
    _, rep = run(show_text=True)
    assert rep["misses"][1]["text"] == "Jones" and rep["leak"]["items"][0]["text"] == "Jones"


def test_missing_and_unexpected_predictions(tmp_path: Path) -> None:
    pred = tmp_path / "p.jsonl"
    pred.write_text('{"id": "d2", "spans": [{"start": 5, "end": 13, "label": "PHONE"}]}\n'
                    '{"id": "zz", "spans": []}\n')
    _, rep = run(pred=pred)
    assert rep["missing_predictions"] == ["d1"] and rep["unexpected_predictions"] == ["zz"]
    assert rep["token"]["found"] == 2 and rep["token"]["gold"] == 8
    assert rep["leak"]["leaked"] == 3


def test_prediction_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "p.jsonl"
    p.write_text('{"id": "d1", "spans": [{"start": 5, "end": 2, "label": "DATE"}]}\n')
    with pytest.raises(InputError, match=r"p.jsonl:1: document 'd1': span #0"):
        load_predictions(p)
    p.write_text('{"id": "d1"}\n{"id": "d1"}\n')
    with pytest.raises(InputError, match="appears twice"):
        load_predictions(p)
    p.write_text("[1, 2]\n")
    with pytest.raises(InputError, match="p.jsonl:1"):
        load_predictions(p)
    ev = Evaluation()
    with pytest.raises(InputError, match=r"'x'.*\[0, 99\)"):
        ev.add(Document("x", "short", (), {}), [Span(0, 99, "DATE")])


def test_survives_word_bounded_case_sensitive() -> None:
    assert survives("Jo", "Jo, ok") and not survives("Jo", "John")
    assert not survives("jones", "Dr Jones") and survives("Jones", "Dr Jones.")
    assert survives("555-0100", "call 555-0100") and not survives("555-0100", "1555-01001")
    assert not survives("  ", "a  b")
    assert redact("ab cd", [Span(3, 5, "X")]) == "ab XX"


def test_prf_zero_denominators() -> None:
    assert prf(0, 0, 0, 0) == {"gold": 0, "found": 0, "pred": 0, "correct": 0, "recall": None,
                               "precision": None, "f1": None}
    assert prf(0, 3, 0, 2)["f1"] == 0.0


def test_engine_path_uses_real_output_for_leaks() -> None:
    """from_engine feeds deidentify_batch spans and output text (leak method 'deidentify')."""
    calls: list[list[str]] = []

    class Fake:
        def deidentify_batch(self, texts: list[str], doc_ids: list[str]) -> list[SimpleNamespace]:
            calls.append(doc_ids)
            out = []
            for t in texts:
                i = t.find("John Smith")
                spans = [Span(i, i + 10, "PATIENT")] if i >= 0 else []
                # the surrogate keeps the gold date verbatim: a leak despite the detection
                out.append(SimpleNamespace(spans=spans, text=t.replace("John Smith", "[NAME]")))
            return out

    ev = Evaluation(leak_method="deidentify")
    evaluate(from_engine(read_corpus(DATA / "eval_gold.jsonl"), Fake(), batch=1), ev)
    rep = ev.report()
    assert calls == [["d1"], ["d2"]]
    assert rep["token"]["found"] == 2 and rep["leak"]["leaked"] == 3
    assert rep["leak"]["method"] == "deidentify"


def test_markdown_report() -> None:
    _, rep = run()
    md = to_markdown(rep, source={"gold": "g.jsonl"})
    assert "| tokens | 75.00 | 85.71 | 80.00 | 8 | 7 |" in md
    assert "| overlap | 75.00 | 75.00 | 75.00 | 4 | 4 |" in md
    assert "| d1 | 36 | 41 | DOCTOR |" in md
    assert "Jones" not in md and "John" not in md
    _, rep = run(show_text=True)
    assert "| d1 | 36 | 41 | DOCTOR | Jones |" in to_markdown(rep)
