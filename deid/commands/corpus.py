"""``deid corpus``: convert annotated corpora between formats, summarise them, make synthetic ones.

- ``deid corpus convert IN OUT [--from FMT] [--to FMT]``: a bad document is reported on stderr
  (file, document, offsets; never text) and skipped, and the exit code is 1; ``--strict`` stops at
  the first one instead (JSONL/CoNLL outputs are then not written at all).
- ``deid corpus stats FILE``: documents, spans per label, note types (``meta["note_type"]``).
- ``deid corpus synth --n N --seed S --out DIR``: calls ``deid.synth.generate_corpus``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
_OUT_EXT = {".jsonl": "jsonl", ".conll": "conll", ".bio": "conll", ".iob": "conll"}


def register(subparsers: Any) -> None:
    from deid.corpus.io import FORMATS, WRITERS

    p = subparsers.add_parser("corpus", help="convert, summarise or synthesise annotated corpora",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="corpus_command", metavar="ACTION")

    c = sub.add_parser("convert", help="convert a corpus to another format")
    c.add_argument("input", type=Path, help="corpus file or folder")
    c.add_argument("output", type=Path, help="output file (jsonl, conll) or folder (brat)")
    c.add_argument("--from", dest="fmt_in", default="auto", choices=("auto", *FORMATS))
    c.add_argument("--to", dest="fmt_out", default=None, choices=tuple(WRITERS),
                   help="output format (default: from the output extension)")
    c.add_argument("--strict", action="store_true", help="stop at the first bad document")
    c.add_argument("--any-label", action="store_true",
                   help="accept labels that are not in rules/labels.yaml")
    c.set_defaults(func=run_convert)

    s = sub.add_parser("stats", help="documents, spans per label and note types of a corpus")
    s.add_argument("input", type=Path)
    s.add_argument("--format", dest="fmt_in", default="auto", choices=("auto", *FORMATS))
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--any-label", action="store_true")
    s.set_defaults(func=run_stats)

    y = sub.add_parser("synth", help="generate a synthetic annotated corpus (train/dev/test)")
    y.add_argument("--n", type=int, required=True, help="number of documents")
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--out", type=Path, required=True, help="output folder")
    y.set_defaults(func=run_synth)

    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return EXIT_USAGE


def _err(msg: str) -> None:
    print(f"deid corpus: {msg}", file=sys.stderr)


def run_convert(args: argparse.Namespace) -> int:
    from deid.corpus.io import read_corpus, write_corpus

    src, dst = args.input, args.output
    fmt_out = args.fmt_out or _OUT_EXT.get(dst.suffix.lower())
    if fmt_out is None:
        _err(f"cannot tell the output format from {dst}; give --to")
        return EXIT_USAGE
    if not src.exists():
        _err(f"{src}: not found")
        return EXIT_USAGE
    s, d = src.resolve(), dst.resolve()
    if d == s or (src.is_dir() and s in d.parents) or (fmt_out == "brat" and d in s.parents):
        _err("the output must not be the input, lie inside it, or contain it")
        return EXIT_USAGE
    if fmt_out == "brat" and dst.exists() and any(dst.iterdir()):
        _err(f"{dst}: BRAT output folder must be new or empty")
        return EXIT_USAGE
    errors: list[str] = []

    def on_error(exc: Exception) -> None:
        errors.append(str(exc))
        _err(f"skipped: {exc}")

    docs = read_corpus(src, args.fmt_in, on_error=None if args.strict else on_error,
                       labels=not args.any_label)
    n = write_corpus(docs, dst, fmt_out)
    print(f"wrote {n} document(s) to {dst} ({fmt_out})"
          + (f"; {len(errors)} skipped (see above)" if errors else ""), file=sys.stderr)
    return EXIT_PARTIAL if errors else EXIT_OK


def corpus_stats(docs: Any) -> dict[str, Any]:
    labels: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    n = chars = 0
    for doc in docs:
        n += 1
        chars += len(doc.text)
        labels.update(s.label for s in doc.spans)
        notes[str(doc.meta.get("note_type", "(none)"))] += 1
    return {"documents": n, "characters": chars, "spans": sum(labels.values()),
            "spans_per_label": dict(sorted(labels.items())),
            "note_types": dict(sorted(notes.items()))}


def run_stats(args: argparse.Namespace) -> int:
    from deid.corpus.io import read_corpus

    errors: list[str] = []

    def on_error(exc: Exception) -> None:
        errors.append(str(exc))
        _err(f"bad document: {exc}")

    st = corpus_stats(read_corpus(args.input, args.fmt_in, on_error=on_error,
                                  labels=not args.any_label))
    st["bad_documents"] = len(errors)
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        print(f"documents   {st['documents']}")
        print(f"characters  {st['characters']}")
        print(f"spans       {st['spans']}")
        if st["bad_documents"]:
            print(f"bad docs    {st['bad_documents']}")
        print("\nspans per label")
        for k, v in st["spans_per_label"].items():
            print(f"  {k:<14}{v:>8}")
        print("\nnote types")
        for k, v in st["note_types"].items():
            print(f"  {k:<14}{v:>8}")
    return EXIT_PARTIAL if errors else EXIT_OK


def run_synth(args: argparse.Namespace) -> int:
    try:
        from deid.synth import generate_corpus
    except ModuleNotFoundError as exc:
        if exc.name != "deid.synth":
            raise
        _err("the synthetic corpus generator (deid.synth) is not installed in this checkout")
        return EXIT_USAGE
    except ImportError:
        _err("deid.synth has no generate_corpus(n, seed, out_dir) in this checkout")
        return EXIT_USAGE
    if args.n <= 0:
        _err("--n must be positive")
        return EXIT_USAGE
    summary = generate_corpus(args.n, args.seed, args.out)
    print(json.dumps(summary, indent=2, default=str))
    return EXIT_OK
