"""What each stage of the model-span screen (deid/screen.py) costs and buys, on every set.

The model runs once per note; the rules, allow-list and screen are then applied with the
stages switched on one after another, so each row differs from the previous by one stage.
Gold sets give token recall and precision (``deid eval``'s definitions); sets without gold
(``--unlabeled``) give over-redacted tokens per 1,000 (``deid eval --unlabeled``). Prints a
Markdown table and writes JSON; no note text is printed or written.

    python benchmarks/bench_screen.py --gold test.jsonl [--gold icu_test.jsonl] \
        --unlabeled ../shared/realtext/mtsamples_dev.jsonl --json benchmarks/results/screen.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deid.corpus.document import Document  # noqa: E402
from deid.corpus.io import read_corpus  # noqa: E402
from deid.evaluate import Evaluation, Unlabeled, load_acceptable, read_notes  # noqa: E402
from deid.screen import Screen, support_spans  # noqa: E402
from deid.span import Span, resolve  # noqa: E402
from deid.text import Deidentifier, veto  # noqa: E402

STAGE_ROWS: list[tuple[str, list[str]]] = [
    ("no screen", []),
    ("+ shape", ["shape"]),
    ("+ measurements", ["shape", "measurements"]),
    ("+ vocabulary (default)", ["shape", "measurements", "vocabulary"]),
]


def _raw(engine: Deidentifier, docs: list[Document]) -> list[tuple[list[Span], list[Span],
                                                                    list[Span]]]:
    """Per note: rule spans after the allow-list veto, allow spans, model spans."""
    vetoers = set(engine.policy.options.get("allow_vetoes", ["rule"]))  # type: ignore[arg-type]
    out = []
    texts = [d.text for d in docs]
    ner: list[list[Span]] = []
    for i in range(0, len(texts), 16):
        ner += engine.ner.detect_batch(texts[i:i + 16])
    for d, model in zip(docs, ner, strict=True):
        allow = engine.rules.allow_spans(d.text)
        rules = veto(engine.rules.detect(d.text), allow, vetoers, engine._vetoable)
        out.append((rules, allow, veto(model, allow, vetoers, engine._vetoable)))
    return out


def _pred(engine: Deidentifier, screen: Screen, text: str,
          raw: tuple[list[Span], list[Span], list[Span]]) -> list[Span]:
    rules, allow, model = raw
    kept = screen(text, model, support_spans(rules, []), allow).kept
    return resolve(rules + kept, engine.labels.priority)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", action="append", default=[], type=Path, help="annotated corpus")
    ap.add_argument("--unlabeled", action="append", default=[], type=Path,
                    help="notes without gold (JSONL id/text, or a folder of .txt)")
    ap.add_argument("--model", default="auto", help="NER model directory (default models/default)")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    engine = Deidentifier(ner=args.model)
    if engine.ner is None:
        ap.error("a NER model is needed: screening applies to model spans")
    results: dict[str, Any] = {"model": engine.ner_status, "sets": {}}
    for path in [*args.gold, *args.unlabeled]:
        t0 = time.perf_counter()
        gold = path in args.gold
        docs = list(read_corpus(path)) if gold else [
            d for d in read_notes(path) if isinstance(d, Document)]
        raws = _raw(engine, docs)
        rows = []
        for name, stages in STAGE_ROWS:
            screen = Screen(stages=stages)
            if gold:
                ev = Evaluation()
                for d, raw in zip(docs, raws, strict=True):
                    ev.add(d, _pred(engine, screen, d.text, raw))
                tok = ev.report()["token"]
                fp = ev.fp_report()
                rows.append({"stages": name, "recall": round(tok["recall"], 4),
                             "precision": round(tok["precision"], 4),
                             "fp_per_1000": None if fp["per_1000"] is None else round(fp["per_1000"], 2)})
            else:
                ul = Unlabeled(load_acceptable())
                for d, raw in zip(docs, raws, strict=True):
                    ul.add(d, _pred(engine, screen, d.text, raw))
                rep = ul.report()
                rows.append({"stages": name,
                             "over_per_1000": round(rep["over_redaction"]["per_1000"], 2),
                             "removed_per_1000": round(rep["removed"]["per_1000"], 2)})
        results["sets"][str(path)] = {"documents": len(docs), "gold": gold, "rows": rows,
                                      "seconds": round(time.perf_counter() - t0, 1)}
    for path, res in results["sets"].items():
        print(f"\n{Path(path).name} ({res['documents']} notes)\n")
        if res["gold"]:
            print("| screen | token recall | token precision | FP tokens / 1,000 |\n|---|---:|---:|---:|")
            for r in res["rows"]:
                print(f"| {r['stages']} | {r['recall']:.4f} | {r['precision']:.4f} | "
                      f"{r['fp_per_1000']} |")
        else:
            print("| screen | over-redacted / 1,000 | removed / 1,000 |\n|---|---:|---:|")
            for r in res["rows"]:
                print(f"| {r['stages']} | {r['over_per_1000']:.2f} | {r['removed_per_1000']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
