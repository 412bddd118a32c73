"""``deid detect IN --out PRED.jsonl``: spans only, in the format evaluation reads."""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path
from typing import Any

from deid.batch import RunReport, atomic_write_text, run_tasks
from deid.commands.common import show_progress
from deid.commands.text import (
    add_common_text_args,
    input_format,
    known_for,
    make_engine,
    ner_arg,
    note_file_task,
    run_chunk,
)
from deid.errors import InputError
from deid.key import Key
from deid.known import load_known_file
from deid.textio import BadNote, iter_txt_folder, read_csv, read_jsonl


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="write detected spans (JSONL) without changing text",
                       description='Reads {"id","text"} JSONL (or a .txt folder / CSV) and writes '
                                   '{"id","spans":[{"start","end","label","source","score"}]}.')
    p.add_argument("input")
    p.add_argument("--out", required=True, metavar="PRED.jsonl")
    add_common_text_args(p)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--policy", help="policy (its min_score and allow_vetoes apply)")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None)
    prog.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=run)


def _detect(engine: Any, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans for a chunk of notes (files are read here, as in ``deid text``) in one model
    batch; an unreadable or failing note fails alone."""
    found = run_chunk(tasks, lambda t, k, _: engine.detect_batch(t, k),
                      lambda t, k, _: engine.detect(t, known=k), "detection")
    out = []
    for task, spans in zip(tasks, found, strict=True):
        res = {"index": task["index"], "id": task["id"]}
        if isinstance(spans, str):
            out.append({**res, "status": "failed", "reason": spans})
        else:
            out.append({**res, "status": "ok", "spans": [s.to_dict() for s in spans]})
    return out


def run(args: argparse.Namespace) -> int:
    inp = Path(args.input)
    if not inp.exists():
        raise InputError(f"input {inp} does not exist")
    fmt = input_format(args, inp)
    known_map = load_known_file(args.known) if args.known else {}
    report = RunReport("detect")
    tasks: list[dict[str, Any]] = []
    if fmt == "txt":
        for src in iter_txt_folder(inp):  # read in the workers, as in deid text
            tasks.append({**note_file_task(inp, src, args, known_map), "index": len(tasks)})
    elif fmt in ("jsonl", "csv"):
        reader = (read_jsonl if fmt == "jsonl" else read_csv)(
            inp, args.id_field, args.text_field, args.encoding, args.max_bytes)
        for item in reader:
            if isinstance(item, BadNote):
                report.add(item.id, "failed", item.reason)
            else:
                tasks.append({"index": len(tasks), "id": item.id, "text": item.text,
                              "known": known_for(known_map, item.id)})
    else:
        raise InputError("deid detect reads a folder of .txt notes, a JSONL or a CSV file")
    if args.batch < 1:
        raise InputError("--batch must be at least 1")
    init = partial(make_engine, args.policy, Key.random().secret, ner_arg(args.ner), args.device,
                   args.precision)
    results = sorted(run_tasks(tasks, _detect, init, args.workers, "deid detect", len(tasks),
                               show_progress(args), chunk=args.batch), key=lambda r: r["index"])
    atomic_write_text(args.out, "".join(
        json.dumps({"id": r["id"], "spans": r["spans"]}) + "\n" for r in results
        if r["status"] == "ok"))
    for r in results:
        if r["status"] == "ok":
            report.add(r["id"], "ok", spans=len(r["spans"]))
        else:
            report.add(r["id"], "failed", r["reason"])
    report.print_summary()
    return 0 if report.ok else 1
