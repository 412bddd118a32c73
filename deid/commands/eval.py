"""``deid eval GOLD (PRED.jsonl | --model DIR | --rules-only)``: score detection against gold.

PRED is ``deid detect`` output (JSONL ``{"id","spans":[...]}``); ``--rules-only`` / ``--model DIR``
run the text engine on the gold texts instead (and measure the leak rate on its real output).
Prints a summary; ``--report`` (Markdown), ``--json`` and ``--html`` (displaCy review page) write
the full results. Reports hold document ids, offsets and labels; note text only with
``--show-text`` (otherwise strings appear as word shape + keyed hash). ``--min-recall R`` exits 1
when token recall is below R (for CI).

``deid eval NOTES --unlabeled [PRED.jsonl | --model DIR | --rules-only]``: text without gold
(JSONL ``{"id","text"}``, a .txt file or a folder of .txt). Runs the engine (default: rules + the
default NER model) and reports what it would remove per 1,000 tokens, split into acceptable
(dates, placeholders such as "Dr. X", ages 90+; ``rules/eval/unlabeled.yaml``) and over-redaction
(the headline), by label, source, note type and document. ``--max-over-redaction N`` exits 1
when over-redacted tokens per 1,000 exceed N.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
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
    p.add_argument("--top", type=int, default=50, metavar="N",
                   help="how many false-positive / removed strings to list (default 50)")
    p.add_argument("--key-file", metavar="FILE",
                   help="key for the hashes of listed strings, so runs compare (else $DEID_KEY; "
                        "else a random key for this run)")
    u = p.add_argument_group("text without gold (--unlabeled)")
    u.add_argument("--unlabeled", action="store_true",
                   help="GOLD is unannotated notes (JSONL {id,text}, .txt or a folder of .txt): "
                        "report over-redaction; runs the default engine unless PRED, --model or "
                        "--rules-only")
    u.add_argument("--acceptable", type=Path, metavar="FILE",
                   help="acceptable-removal definitions (default rules/eval/unlabeled.yaml)")
    u.add_argument("--id-field", default="id", help="JSONL id field (default id)")
    u.add_argument("--text-field", default="text", help="JSONL text field (default text)")
    u.add_argument("--max-over-redaction", type=float, metavar="N",
                   help="exit 1 if over-redacted tokens per 1,000 exceed N")
    p.set_defaults(func=run)


def _write_reports(args: argparse.Namespace, rep: dict[str, Any], source: dict[str, Any],
                   markdown: Callable[..., str]) -> None:
    """Stamp the report with its source and write the --json and --report files asked for."""
    from deid.corpus.common import atomic_write_text

    rep["source"] = source
    rep["show_text"] = args.show_text
    if args.json:
        atomic_write_text(args.json, json.dumps(rep, indent=2, ensure_ascii=False) + "\n")
    if args.report:
        atomic_write_text(args.report, markdown(rep, source=source))


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
    from deid.key import Key, KeyError_

    chosen = [x for x in (args.pred is not None, args.model is not None, args.rules_only) if x]
    if len(chosen) > 1 or (not chosen and not args.unlabeled):
        _err("give exactly one of PRED.jsonl, --model DIR or --rules-only"
             + (" (or none: the default engine)" if args.unlabeled else ""))
        return EXIT_USAGE
    if args.unlabeled and (args.html or args.min_recall is not None):
        _err("--html and --min-recall need gold annotations; not with --unlabeled")
        return EXIT_USAGE
    if args.top < 0:
        _err("--top must be 0 or more")
        return EXIT_USAGE
    if not args.gold.exists():
        _err(f"{args.gold}: not found")
        return EXIT_USAGE
    for out in (args.report, args.json, args.html):
        if out is not None and out.resolve() in (args.gold.resolve(),
                                                 args.pred.resolve() if args.pred else None):
            _err(f"{out}: an output would overwrite an input")
            return EXIT_USAGE
    try:
        strings_key = Key.load(args.key_file)
    except KeyError_ as exc:
        _err(str(exc))
        return EXIT_USAGE
    if args.unlabeled:
        return run_unlabeled(args, strings_key)

    ev = Evaluation(keep_review=args.html_max_docs if args.html else 0, show_text=args.show_text,
                    strings_key=strings_key, top_n=args.top)
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
    _write_reports(args, rep, source, to_markdown)
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
    fp = rep["false_positives"]
    print(f"false positives {_num(fp['per_1000'])} tokens per 1,000 ({fp['fp_tokens']} of "
          f"{fp['tokens']}); by label: {_brief(fp['by_label'], 'tokens')}")
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


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _brief(rows: dict[str, dict[str, Any]], col: str, n: int = 6) -> str:
    items = [f"{k} {v[col]}" for k, v in list(rows.items())[:n] if v[col]]
    return ", ".join(items) + (" ..." if len(rows) > n else "") if items else "none"


def _engine(args: argparse.Namespace) -> tuple[Any, str]:
    """The text engine the options ask for and its description for the report."""
    from deid.text import Deidentifier

    ner: Any = False if args.rules_only else (args.model or "auto")
    engine = Deidentifier(policy=args.policy, ner=ner, precision=args.precision)
    if engine.ner is None:
        return engine, "rules-only"
    return engine, (f"model {args.model} ({engine.ner.precision})" if args.model
                    else f"default: rules + {engine.ner_status}")


def run_unlabeled(args: argparse.Namespace, strings_key: Any) -> int:
    """``deid eval NOTES --unlabeled``: acceptable removal vs over-redaction, no gold needed."""
    from deid.evaluate import (
        Unlabeled,
        from_engine,
        from_file,
        load_acceptable,
        load_predictions,
        read_notes,
        to_markdown_unlabeled,
        unlabeled_docs,
    )

    ul = Unlabeled(load_acceptable(args.acceptable), show_text=args.show_text,
                   strings_key=strings_key, top_n=args.top)
    docs = unlabeled_docs(read_notes(args.gold, args.id_field, args.text_field), ul)
    source: dict[str, Any] = {"notes": str(args.gold)}
    if args.pred is not None:
        pairs = from_file(docs, load_predictions(args.pred), ul)
        source["predictions"] = str(args.pred)
    else:
        engine, source["engine"] = _engine(args)
        pairs = from_engine(docs, engine)
    for doc, pred, _ in pairs:
        ul.add(doc, pred)
    rep = ul.report()
    _write_reports(args, rep, source, to_markdown_unlabeled)

    o, r, a = rep["over_redaction"], rep["removed"], rep["acceptable"]
    print(f"documents {rep['documents']}; tokens {rep['tokens']}; engine "
          f"{source.get('engine', source.get('predictions'))}")
    print(f"removed         {_num(r['per_1000'])} tokens per 1,000 ({r['tokens']} tokens, "
          f"{r['spans']} spans)")
    print(f"acceptable      {_num(a['per_1000'])} per 1,000 ("
          + ", ".join(f"{c} {v['tokens']}" for c, v in a["by_class"].items()) + " tokens)")
    print(f"over-redacted   {_num(o['per_1000'])} tokens per 1,000 ({o['tokens']} tokens, "
          f"{o['spans']} spans)")
    print(f"over by label:  {_brief(rep['by_label'], 'over_tokens')}")
    print(f"over by source: {_brief(rep['by_source_kind'], 'over_tokens')}")
    rc = EXIT_OK
    if rep["failed"]:
        _err(f"{len(rep['failed'])} note(s) could not be read (listed in the reports)")
        rc = EXIT_PARTIAL
    if rep["missing_predictions"]:
        _err(f"{len(rep['missing_predictions'])} note(s) have no predictions "
             f"(scored as nothing removed)")
    if rep["unexpected_predictions"]:
        _err(f"{len(rep['unexpected_predictions'])} prediction(s) name unknown notes")
    if (args.max_over_redaction is not None and o["per_1000"] is not None
            and o["per_1000"] > args.max_over_redaction):
        _err(f"over-redaction {_num(o['per_1000'])} per 1,000 is above --max-over-redaction "
             f"{args.max_over_redaction}")
        rc = EXIT_PARTIAL
    return rc
