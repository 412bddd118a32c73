"""What each stage of the model-span screen (deid/screen.py) costs and buys, on every set.

The model runs once per note; ``Deidentifier.combine`` then applies the rules, allow-list and
screen with its stages switched on one after another, so each row differs by one stage.
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
from deid.screen import Screen  # noqa: E402
from deid.span import Span  # noqa: E402
from deid.text import Deidentifier  # noqa: E402

STAGE_ROWS: list[tuple[str, list[str]]] = [
    ("no screen", []),
    ("+ shape", ["shape"]),
    ("+ measurements", ["shape", "measurements"]),
    ("+ vocabulary (default)", ["shape", "measurements", "vocabulary"]),
]


def _model_spans(engine: Deidentifier, docs: list[Document]) -> list[list[Span]]:
    """The model's spans of every note, 16 notes a call (the model runs once per note)."""
    out: list[list[Span]] = []
    for i in range(0, len(docs), 16):
        out += engine.ner.detect_batch([d.text for d in docs[i:i + 16]])
    return out


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
        raws = _model_spans(engine, docs)
        rows = []
        for name, stages in STAGE_ROWS:
            screen = Screen(stages=stages)
            if gold:
                ev = Evaluation()
                for d, raw in zip(docs, raws, strict=True):
                    ev.add(d, engine.combine(d.text, raw, screen=screen))
                tok = ev.report()["token"]
                fp = ev.fp_report()
                rows.append({"stages": name, "recall": round(tok["recall"], 4),
                             "precision": round(tok["precision"], 4),
                             "fp_per_1000": None if fp["per_1000"] is None else round(fp["per_1000"], 2)})
            else:
                ul = Unlabeled(load_acceptable())
                for d, raw in zip(docs, raws, strict=True):
                    ul.add(d, engine.combine(d.text, raw, screen=screen))
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
