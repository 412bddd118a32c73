"""Error analysis: false positives per 1,000 tokens and over-redaction in text without gold.

All documents are invented. Hand counts (tokens are ``[A-Za-z0-9]+`` runs):

Gold mode, ``GOLD_DOCS``:
  g1 "Dr Adams gave Zorvex 5 mg on 01/02/2020 ok" (note_type clinic): 11 tokens;
     gold DOCTOR "Adams", DATE "01/02/2020"; predicted DOCTOR "Adams" (rule:name_title),
     PATIENT "Zorvex" (ner, FP), IDNUM "5 mg" (rule:idnum, FP, 2 tokens), DATE (rule:date).
  g2 "Zorvex again" (note_type nursing): 2 tokens; no gold; predicted NAME "Zorvex" (ner, FP).
  -> 13 tokens, 4 FP tokens (Zorvex, 5, mg, Zorvex), 4000/13 per 1,000; clinic 3/11,
     nursing 1/2; by label PATIENT 1/1, IDNUM 1/2, NAME 1/1 (spans/tokens); by source
     ner 2/2, rule:idnum 1/2; top string "zorvex" x2 (shape Xxxxx), "5 mg" x1 (shape d xx).

Unlabeled mode, ``UNLABELED``:
  u1 "Seen by Dr. X at ABCD Hospital on 03/04/2021, age 92, given Zorvex." 15 tokens;
     flagged: "Dr. X" placeholder (2 tokens), "ABCD Hospital" placeholder (2), "03/04/2021"
     date (3), "age 92" age90 (2), "Zorvex" PATIENT over-redaction (1).
  u2 "Follow up day 3 with XYZ Services." 7 tokens; flagged: DATE "day 3" (not a date:
     over-redaction, 2 tokens), ORGANIZATION "XYZ Services" placeholder (2).
  -> 22 tokens, 14 removed, 3 over-redacted (3000/22 per 1,000), 11 acceptable:
     date 1 span / 3 tokens, placeholder 3 / 6, age90 1 / 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from deid.cli import main
from deid.corpus.document import Document
from deid.errors import RuleError
from deid.evaluate import (
    Evaluation,
    Unlabeled,
    is_date_text,
    load_acceptable,
    read_notes,
    to_markdown,
    to_markdown_unlabeled,
    word_shape,
)
from deid.key import Key
from deid.span import Span

KEY = Key(b"eval-errors-test-key-not-for-real-data")


def at(text: str, part: str, label: str, source: str) -> Span:
    i = text.index(part)
    return Span(i, i + len(part), label, source)


G1 = "Dr Adams gave Zorvex 5 mg on 01/02/2020 ok"
G2 = "Zorvex again"
GOLD_DOCS = [
    (Document("g1", G1, (at(G1, "Adams", "DOCTOR", "gold"), at(G1, "01/02/2020", "DATE", "gold")),
              {"note_type": "clinic"}),
     [at(G1, "Adams", "DOCTOR", "rule:name_title"), at(G1, "Zorvex", "PATIENT", "ner"),
      at(G1, "5 mg", "IDNUM", "rule:idnum"), at(G1, "01/02/2020", "DATE", "rule:date")]),
    (Document("g2", G2, (), {"note_type": "nursing"}), [at(G2, "Zorvex", "NAME", "ner")]),
]

U1 = "Seen by Dr. X at ABCD Hospital on 03/04/2021, age 92, given Zorvex."
U2 = "Follow up day 3 with XYZ Services."
UNLABELED = {
    "u1": [at(U1, "Dr. X", "DOCTOR", "rule:name_title_doctor"),
           at(U1, "ABCD Hospital", "HOSPITAL", "ner"),
           at(U1, "03/04/2021", "DATE", "rule:date_numeric_mdy"),
           at(U1, "age 92", "AGE", "rule:age_aged"),
           at(U1, "Zorvex", "PATIENT", "ner")],
    "u2": [at(U2, "day 3", "DATE", "rule:date_words"),
           at(U2, "XYZ Services", "ORGANIZATION", "rule:org_suffix")],
}
TEXTS = {"u1": U1, "u2": U2}
PRIVATE = ("zorvex", "adams", "5 mg", "abcd", "xyz services", "03/04/2021", "day 3")


def gold_report(show_text: bool = False, key: Key = KEY) -> dict:
    ev = Evaluation(show_text=show_text, strings_key=key)
    for doc, pred in GOLD_DOCS:
        ev.add(doc, pred)
    return ev.report()


def unlabeled_report(show_text: bool = False, path: Path | None = None) -> dict:
    ul = Unlabeled(load_acceptable(path), show_text=show_text, strings_key=KEY)
    for i, spans in UNLABELED.items():
        ul.add(Document(i, TEXTS[i], (), {"note_type": "op" if i == "u1" else "clinic"}), spans)
    return ul.report()


# -- gold mode --------------------------------------------------------------------------------


def test_fp_per_1000_by_hand() -> None:
    fp = gold_report()["false_positives"]
    assert (fp["tokens"], fp["fp_tokens"], fp["fp_spans"]) == (13, 4, 3)
    assert fp["per_1000"] == pytest.approx(4000 / 13)
    assert fp["by_note_type"] == {
        "clinic": {"tokens": 11, "fp_tokens": 3, "per_1000": pytest.approx(3000 / 11)},
        "nursing": {"tokens": 2, "fp_tokens": 1, "per_1000": pytest.approx(500.0)},
    }


def test_fp_by_label_and_source_by_hand() -> None:
    fp = gold_report()["false_positives"]
    assert fp["by_label"] == {"IDNUM": {"spans": 1, "tokens": 2},
                              "NAME": {"spans": 1, "tokens": 1},
                              "PATIENT": {"spans": 1, "tokens": 1}}
    assert fp["by_source"] == {"ner": {"spans": 2, "tokens": 2},
                               "rule:idnum": {"spans": 1, "tokens": 2}}
    assert fp["by_source_kind"] == {"ner": {"spans": 2, "tokens": 2},
                                    "rule": {"spans": 1, "tokens": 2}}


def test_fp_token_of_a_span_that_also_covers_gold() -> None:
    """A span overlapping gold is no FP span, but its extra token is an FP token."""
    text = "Dr Adams gave"
    ev = Evaluation(strings_key=KEY)
    ev.add(Document("x", text, (at(text, "Adams", "DOCTOR", "gold"),), {}),
           [at(text, "Adams gave", "DOCTOR", "rule:r")])
    fp = ev.report()["false_positives"]
    assert (fp["fp_tokens"], fp["fp_spans"], fp["top_strings"]) == (1, 0, [])
    assert fp["by_label"] == {"DOCTOR": {"spans": 0, "tokens": 1}}
    assert fp["by_note_type"] == {}


def test_top_fp_strings_without_text() -> None:
    rep = gold_report()
    top = rep["false_positives"]["top_strings"]
    assert [(t["shape"], t["count"], t["tokens"]) for t in top] == [("Xxxxx", 2, 2),
                                                                   ("d xx", 1, 2)]
    assert top[0]["labels"] == {"PATIENT": 1, "NAME": 1} and top[0]["sources"] == {"ner": 2}
    assert top[0]["hash"] == KEY.hash_id("zorvex", "eval-string")[:10]
    assert all("text" not in t for t in top)
    body = (json.dumps(rep) + to_markdown(rep)).casefold()
    for s in PRIVATE:
        assert s not in body, s
    assert "Xxxxx" in to_markdown(rep)
    # the same key gives the same hashes (runs compare); another key others
    assert gold_report()["false_positives"]["top_strings"][0]["hash"] == top[0]["hash"]
    other = gold_report(key=Key(b"another-key-0123456789-abcdef"))
    assert other["false_positives"]["top_strings"][0]["hash"] != top[0]["hash"]


def test_top_fp_strings_with_show_text() -> None:
    rep = gold_report(show_text=True)
    top = rep["false_positives"]["top_strings"]
    assert [(t["text"], t["count"]) for t in top] == [("zorvex", 2), ("5 mg", 1)]
    assert "| zorvex | `Xxxxx` |" in to_markdown(rep)


def test_word_shape() -> None:
    assert word_shape("Jones") == "Xxxxx" and word_shape("Hydrochlorothiazide") == "Xxxxx"
    assert word_shape("03/04") == "dd/dd" and word_shape("Dr.  X") == "Xx. X"
    assert word_shape("ABCD Hospital") == "XXXX Xxxxx"
    assert word_shape("1" * 100, run=100, limit=10) == "d" * 10 + "..."


# -- text without gold ------------------------------------------------------------------------


def test_acceptable_classes() -> None:
    a = load_acceptable()
    assert a.classify("03/04/2021", "DATE") == "date"
    assert a.classify("March 2019", "DATE") == "date"
    assert a.classify("1999", "DATE") == "date"
    assert a.classify("Monday", "DATE") == "date"
    assert a.classify("Tuesday, March 5, 2019", "DATE") == "date"
    assert a.classify("day 3", "DATE") is None
    assert a.classify("03/04/2021", "IDNUM") is None  # a date only under a date label
    assert a.classify("Dr. X", "DOCTOR") == "placeholder"
    assert a.classify("Mr. A", "PATIENT") == "placeholder"
    assert a.classify("Dr. X's", "DOCTOR") == "placeholder"
    assert a.classify("ABCD Hospital", "HOSPITAL") == "placeholder"
    assert a.classify("XYZ Services", "ORGANIZATION") == "placeholder"
    assert a.classify("Dr. Smith", "DOCTOR") is None
    assert a.classify("Hospital", "HOSPITAL") is None  # no placeholder token
    assert a.classify("ABCD Hospital 4", "HOSPITAL") is None  # a number is no placeholder
    assert a.classify("MRI", "HOSPITAL") is None
    assert a.classify("age 92", "AGE") == "age90" and a.classify("ninety-one", "AGE") == "age90"
    assert a.classify("age 45", "AGE") is None and a.classify("92", "IDNUM") is None
    assert is_date_text("the 14th") and not is_date_text("10 mg") and not is_date_text(" ")


def test_unlabeled_split_by_hand() -> None:
    rep = unlabeled_report()
    assert (rep["documents"], rep["tokens"]) == (2, 22)
    assert rep["removed"] == {"spans": 7, "tokens": 14, "per_1000": pytest.approx(14000 / 22)}
    assert rep["over_redaction"] == {"spans": 2, "tokens": 3,
                                     "per_1000": pytest.approx(3000 / 22)}
    acc = rep["acceptable"]
    assert (acc["spans"], acc["tokens"]) == (5, 11)
    assert acc["by_class"] == {"date": {"spans": 1, "tokens": 3},
                               "placeholder": {"spans": 3, "tokens": 6},
                               "age90": {"spans": 1, "tokens": 2}}
    pl = rep["by_label"]
    assert pl["DATE"] == {"spans": 2, "tokens": 5, "over_spans": 1, "over_tokens": 2,
                           "acceptable_spans": 1, "acceptable_tokens": 3,
                           "over_per_1000": pytest.approx(2000 / 22)}
    assert pl["PATIENT"]["over_tokens"] == 1 and pl["AGE"]["over_tokens"] == 0
    assert list(pl)[:2] == ["DATE", "PATIENT"]  # most over-redaction first
    src = rep["by_source"]
    assert (src["ner"]["spans"], src["ner"]["tokens"], src["ner"]["over_tokens"]) == (2, 3, 1)
    assert src["rule:date_words"]["over_tokens"] == 2
    assert rep["by_source_kind"]["rule"]["over_tokens"] == 2
    assert rep["by_note_type"]["op"] == {"documents": 1, "tokens": 15, "removed_tokens": 10,
                                         "over_tokens": 1,
                                         "over_per_1000": pytest.approx(1000 / 15)}
    assert [(d["id"], d["tokens"], d["removed_tokens"], d["over_spans"], d["over_tokens"])
            for d in rep["per_document"]] == [("u1", 15, 10, 1, 1), ("u2", 7, 4, 1, 2)]


def test_unlabeled_strings_text_only_with_show_text() -> None:
    rep = unlabeled_report()
    shapes = [(t["shape"], t["count"]) for t in rep["top_over_redacted"]]
    assert sorted(shapes) == [("Xxxxx", 1), ("xxx d", 1)]
    assert rep["top_acceptable"][0]["classes"]
    body = (json.dumps(rep) + to_markdown_unlabeled(rep)).casefold()
    for s in PRIVATE:
        assert s not in body, s
    rep = unlabeled_report(show_text=True)
    assert {t["text"] for t in rep["top_over_redacted"]} == {"zorvex", "day 3"}
    assert "zorvex" in to_markdown_unlabeled(rep)


def test_unlabeled_rules_switch_classes_off(tmp_path: Path) -> None:
    src = Path(load_acceptable().path).read_text()
    p = tmp_path / "u.yaml"
    p.write_text(src.replace("date:\n  acceptable: true", "date:\n  acceptable: false"))
    rep = unlabeled_report(path=p)
    assert rep["over_redaction"]["tokens"] == 6  # the date's 3 tokens join the 3
    assert rep["acceptable"]["by_class"]["date"] == {"spans": 0, "tokens": 0}


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.replace("provenance:", "origin:"), "unknown key"),
    (lambda s: s.replace("token: '[A-Z]|", "token: '[A-Z|"), "not a valid regex"),
    (lambda s: s.replace("labels: [DATE]", "labels: [DAYTIME]"), "unknown label 'DAYTIME'"),
    (lambda s: s.replace("min_age: 90", "min_age: ninety"), "min_age"),
    (lambda s: s.replace("acceptable: true", "acceptable: yes-please", 1), "true or false"),
    (lambda s: s.replace("  labels: [AGE]\n", ""), "missing key"),
    (lambda s: s.replace("dr, doctor,", "dr, X,"), "itself a placeholder"),
    (lambda s: s + "\n  bad: [unclosed\n", "invalid YAML"),
    (lambda s: "- a list\n", "must be a mapping"),
])
def test_malformed_unlabeled_yaml_raises_rule_error(tmp_path: Path, edit, match: str) -> None:
    src = Path(load_acceptable().path).read_text()
    p = tmp_path / "bad_unlabeled.yaml"
    p.write_text(edit(src))
    with pytest.raises(RuleError, match=match) as exc:
        load_acceptable(p)
    assert "bad_unlabeled.yaml" in str(exc.value)


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("provenance"), "provenance"),
    (lambda d: d.update(provenance="  "), "provenance"),
    (lambda d: d.pop("placeholder"), "placeholder.*must be a mapping"),
    (lambda d: d["age90"].update(max_age=10), "max_age"),
    (lambda d: d["placeholder"].update(token="x*"), "must not match empty"),
    (lambda d: d["date"].update(labels=[]), "non-empty list"),
])
def test_invalid_unlabeled_values(tmp_path: Path, edit, match: str) -> None:
    data = yaml.safe_load(Path(load_acceptable().path).read_text())
    edit(data)
    p = tmp_path / "u.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(RuleError, match=match) as exc:
        load_acceptable(p)
    assert str(p) in str(exc.value)


def test_read_notes_folder_and_jsonl(tmp_path: Path) -> None:
    d = tmp_path / "notes"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text(U1)
    (d / "sub" / "b.txt").write_text(U2)
    (d / "empty.txt").write_text("")
    got = list(read_notes(d))
    assert [getattr(n, "text", None) for n in got] == [U1, None, U2]
    assert [n.id for n in got] == ["a", "empty", "sub/b"]
    j = tmp_path / "n.jsonl"
    j.write_text(json.dumps({"id": "u1", "text": U1, "meta": {"note_type": "op"}}) + "\nnot json\n")
    docs = list(read_notes(j))
    assert docs[0].meta == {"note_type": "op"} and docs[1].reason.startswith("malformed JSON")


# -- CLI --------------------------------------------------------------------------------------


def _jsonl(tmp_path: Path) -> Path:
    p = tmp_path / "notes.jsonl"
    p.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in TEXTS.items()))
    return p


def test_cli_unlabeled_fake_engine(tmp_path: Path, monkeypatch, capsys) -> None:
    class Fake:
        ner = None

        def __init__(self, **kw: object) -> None:
            self.kw = kw

        def deidentify_batch(self, texts: list[str], doc_ids: list[str]) -> list[SimpleNamespace]:
            return [SimpleNamespace(spans=UNLABELED[i], text=t)
                    for t, i in zip(texts, doc_ids, strict=True)]

    monkeypatch.setattr("deid.text.Deidentifier", Fake)
    notes, md, js = _jsonl(tmp_path), tmp_path / "over.md", tmp_path / "over.json"
    assert main(["eval", str(notes), "--unlabeled", "--report", str(md), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "over-redacted   136.36 tokens per 1,000 (3 tokens, 2 spans)" in out
    rep = json.loads(js.read_text())
    assert rep["over_redaction"]["tokens"] == 3 and rep["source"]["engine"] == "rules-only"
    assert "**136.36 over-redacted tokens per 1,000**" in md.read_text()
    for f in (md, js):
        body = f.read_text().casefold()
        for s in PRIVATE:
            assert s not in body, (f.name, s)
    assert main(["eval", str(notes), "--unlabeled", "--max-over-redaction", "100"]) == 1
    assert main(["eval", str(notes), "--unlabeled", "--max-over-redaction", "200"]) == 0


def test_cli_unlabeled_predictions_file_and_show_text(tmp_path: Path) -> None:
    notes, js = _jsonl(tmp_path), tmp_path / "r.json"
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps({"id": i, "spans": [s.to_dict() for s in sp]}) + "\n"
                            for i, sp in UNLABELED.items()))
    assert main(["eval", str(notes), str(pred), "--unlabeled", "--json", str(js),
                 "--show-text"]) == 0
    rep = json.loads(js.read_text())
    assert rep["over_redaction"]["per_1000"] == pytest.approx(3000 / 22)
    assert {t["text"] for t in rep["top_over_redacted"]} == {"zorvex", "day 3"}


def test_cli_unlabeled_rules_only_folder(tmp_path: Path, capsys) -> None:
    """The real rules engine end to end on a folder of .txt (one unreadable: exit 1)."""
    d = tmp_path / "notes"
    d.mkdir()
    (d / "a.txt").write_text(U1)
    (d / "b.txt").write_text(U2)
    (d / "c.txt").write_bytes(b"\xff\xfe\x00bad")
    js = tmp_path / "r.json"
    assert main(["eval", str(d), "--unlabeled", "--rules-only", "--json", str(js)]) == 1
    rep = json.loads(js.read_text())
    assert rep["documents"] == 2 and rep["tokens"] == 22
    assert [f["id"] for f in rep["failed"]] == ["c"]
    assert rep["acceptable"]["by_class"]["date"]["tokens"] == 3  # the rules find the date
    assert "Zorvex" not in js.read_text()


def test_cli_unlabeled_usage_errors(tmp_path: Path, capsys) -> None:
    notes = _jsonl(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("provenance: x\n")
    assert main(["eval", str(notes), "--unlabeled", "--rules-only", "--acceptable",
                 str(bad)]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    assert main(["eval", str(notes), "--unlabeled", "--rules-only", "--html",
                 str(tmp_path / "h.html")]) == 2
    assert main(["eval", str(notes), "--unlabeled", "--rules-only", "--min-recall", "1"]) == 2
    assert main(["eval", str(notes), "--unlabeled", "--rules-only", "--model", "m"]) == 2
    (tmp_path / "n.csv").write_text("id,text\n")
    assert main(["eval", str(tmp_path / "n.csv"), "--unlabeled", "--rules-only"]) == 2


def test_numeric_month_day_without_year(tmp_path: Path) -> None:
    """5/5 (strength) or 7/10 (pain) under DATE is over-redaction unless the file says not."""
    a = load_acceptable()
    assert a.classify("5/5", "DATE") is None and a.classify("12-14", "DATE") is None
    assert a.classify("March 14", "DATE") == "date" and a.classify("3/14/21", "DATE") == "date"
    assert a.classify("8/95", "DATE") == "date"  # month/year
    assert is_date_text("7/10", numeric_without_year=True)
    data = yaml.safe_load(Path(a.path).read_text())
    data["date"]["numeric_without_year"] = True
    p = tmp_path / "u.yaml"
    p.write_text(yaml.safe_dump(data))
    assert load_acceptable(p).classify("5/5", "DATE") == "date"
    data["date"]["numeric_without_year"] = "sometimes"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(RuleError, match="numeric_without_year"):
        load_acceptable(p)
