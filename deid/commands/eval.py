"""``deid eval GOLD (PRED.jsonl | --model DIR | --rules-only)``: score detection against gold.

PRED is ``deid detect`` output (JSONL ``{"id","spans":[...]}``); ``--rules-only`` / ``--model DIR``
run the text engine on the gold texts instead (and measure the leak rate on its real output).
Prints a summary; ``--report`` (Markdown), ``--json`` and ``--html`` (displaCy review page) write
the full results. Reports hold document ids, offsets and labels; note text only with
``--show-text``. ``--min-recall R`` exits 1 when token recall is below R (for CI).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    from deid.corpus.io import FORMATS

    p = subparsers.add_parser("eval", help="evaluate detection against a gold corpus",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("gold", type=Path, help="gold corpus (file or folder, any supported format)")
    p.add_argument("pred", type=Path, nargs="?", help="predictions JSONL from `deid detect`")
    p.add_argument("--model", type=Path, help="run the engine with this NER model folder")
    p.add_argument("--rules-only", action="store_true", help="run the engine with rules only")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "int8"],
                   help="NER arithmetic on CPU with --model (default: the model's choice)")
    p.add_argument("--policy", help="policy for --model/--rules-only (default policy otherwise)")
    p.add_argument("--format", dest="fmt", default="auto", choices=("auto", *FORMATS),
                   help="gold corpus format (default: detect)")
    p.add_argument("--report", type=Path, help="write a Markdown report here")
    p.add_argument("--json", type=Path, help="write the full results as JSON here")
    p.add_argument("--html", type=Path, help="write a displaCy review page here")
    p.add_argument("--html-max-docs", type=int, default=200,
                   help="documents with misses/false positives shown in the HTML (default 200)")
    p.add_argument("--show-text", action="store_true",
                   help="include note text in reports and the HTML page (they then hold PHI)")
    p.add_argument("--min-recall", type=float, help="exit 1 if token recall is below this")
    p.set_defaults(func=run)


def _err(msg: str) -> None:
    print(f"deid eval: {msg}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from deid.corpus.common import atomic_write_text
    from deid.corpus.io import read_corpus
    from deid.evaluate import (
        Evaluation,
        evaluate,
        from_engine,
        from_file,
        load_predictions,
        to_markdown,
    )

    chosen = [x for x in (args.pred is not None, args.model is not None, args.rules_only) if x]
    if len(chosen) != 1:
        _err("give exactly one of PRED.jsonl, --model DIR or --rules-only")
        return EXIT_USAGE
    if not args.gold.exists():
        _err(f"{args.gold}: not found")
        return EXIT_USAGE
    for out in (args.report, args.json, args.html):
        if out is not None and out.resolve() in (args.gold.resolve(),
                                                 args.pred.resolve() if args.pred else None):
            _err(f"{out}: an output would overwrite an input")
            return EXIT_USAGE

    ev = Evaluation(keep_review=args.html_max_docs if args.html else 0, show_text=args.show_text)
    gold = read_corpus(args.gold, args.fmt)
    source: dict[str, Any] = {"gold": str(args.gold)}
    if args.pred is not None:
        preds = load_predictions(args.pred)
        pairs = from_file(gold, preds, ev)
        source["predictions"] = str(args.pred)
    else:
        from deid.text import Deidentifier

        engine = Deidentifier(policy=args.policy, ner=False if args.rules_only else args.model,
                              precision=args.precision)
        pairs = from_engine(gold, engine)
        ev.leak_method = "deidentify"
        source["engine"] = ("rules-only" if args.rules_only or engine.ner is None
                            else f"model {args.model} ({engine.ner.precision})")
    evaluate(pairs, ev)
    rep = ev.report()
    rep["source"] = source
    rep["show_text"] = args.show_text

    if args.json:
        atomic_write_text(args.json, json.dumps(rep, indent=2, ensure_ascii=False) + "\n")
    if args.report:
        atomic_write_text(args.report, to_markdown(rep, source=source))
    if args.html:
        from deid.review import render

        atomic_write_text(args.html, render(ev.review, rep, show_text=args.show_text))

    t, o, lk = rep["token"], rep["entity"]["overlap"], rep["leak"]

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f}%"

    print(f"documents {rep['documents']}; gold spans {rep['entity']['strict']['gold']}, "
          f"predicted {rep['entity']['strict']['pred']}")
    print(f"token    recall {pct(t['recall'])}  precision {pct(t['precision'])}  "
          f"F1 {pct(t['f1'])}")
    print(f"entity   recall {pct(o['recall'])}  precision {pct(o['precision'])}  "
          f"F1 {pct(o['f1'])} (any overlap)")
    print(f"leak     {pct(lk['rate'])} ({lk['leaked']} of {lk['gold_spans']}, {lk['method']})")
    print(f"documents with missed tokens: {rep['documents_with_missed_tokens']['count']}")
    if rep["missing_predictions"]:
        _err(f"{len(rep['missing_predictions'])} gold document(s) have no predictions "
             f"(scored as nothing found)")
    if rep["unexpected_predictions"]:
        _err(f"{len(rep['unexpected_predictions'])} prediction(s) name documents not in the gold")
    if args.min_recall is not None and (t["recall"] is None or t["recall"] < args.min_recall):
        _err(f"token recall {pct(t['recall'])} is below --min-recall {args.min_recall}")
        return EXIT_PARTIAL
    return EXIT_OK
