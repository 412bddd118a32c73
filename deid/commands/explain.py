"""``deid explain``: show which detector and rule found each span (for rule authors).

It prints the note's own text to the terminal, so use it on data you may look at.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deid.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="show detected spans with the rule that found each")
    p.add_argument("input", help="a text file, or - for stdin")
    p.add_argument("--ner", default="auto", metavar="auto|off|DIR")
    p.add_argument("--policy")
    p.add_argument("--html", metavar="FILE", help="also write a displaCy HTML page")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deid.commands.text import ner_arg
    from deid.screen import Screened
    from deid.text import Deidentifier

    try:
        text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {args.input}: {type(exc).__name__}") from None
    engine = Deidentifier(policy=args.policy, ner=ner_arg(args.ner))
    raw = engine.rules.detect(text)
    trace: list[Screened] = []
    spans = engine.detect_batch([text], None, trace)[0]
    print(f"{len(spans)} spans after resolve ({len(raw)} raw rule hits)")
    for s in spans:
        frag = text[s.start:s.end].replace("\n", "\\n")
        print(f"{s.start:>6}-{s.end:<6} {s.label:<12} {s.score:.2f} {s.source:<32} {frag}")
    screened = trace[0]
    if screened.dropped or screened.relabelled:
        print(f"model spans screened out: {len(screened.dropped)}, relabelled: "
              f"{len(screened.relabelled)} (deid/screen.py, rules/screen.yaml)")
    for s, why in screened.dropped:
        frag = text[s.start:s.end].replace("\n", "\\n")
        print(f"{s.start:>6}-{s.end:<6} {s.label:<12} {s.score:.2f} {'dropped: ' + why:<32} {frag}")
    for s, label in screened.relabelled:
        frag = text[s.start:s.end].replace("\n", "\\n")
        print(f"{s.start:>6}-{s.end:<6} {s.label:<12} {s.score:.2f} {'relabelled: ' + label:<32} {frag}")
    if args.html:
        from spacy import displacy

        ents = [{"start": s.start, "end": s.end, "label": s.label} for s in spans]
        html = displacy.render({"text": text, "ents": ents, "title": None}, style="ent",
                               manual=True, page=True)
        Path(args.html).write_text(html, encoding="utf-8")
    return 0
