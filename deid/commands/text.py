"""``deid text INPUT OUTPUT``: de-identify a folder of notes, a JSONL or CSV file, or stdin."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from deid.batch import (
    RunReport,
    atomic_write_bytes,
    atomic_write_text,
    check_manifest,
    check_output_location,
    run_tasks,
)
from deid.commands.common import add_key_args, add_run_args, load_key, show_progress
from deid.errors import InputError
from deid.key import Key
from deid.known import Known, load_known_file
from deid.textio import DEFAULT_MAX_BYTES, BadNote, Note, decode, iter_txt_folder, note_id

SIDE_CAR = ".known.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("text", help="de-identify clinical notes",
                       description="De-identify a folder of .txt notes (structure mirrored), a "
                                   "JSONL or CSV file, or '-' (stdin to stdout).")
    p.add_argument("input", help="folder, .jsonl, .csv, or - for stdin")
    p.add_argument("output", help="folder (for a folder input), file, or - for stdout")
    add_common_text_args(p)
    add_key_args(p)
    add_run_args(p)
    p.add_argument("--policy", metavar="FILE|NAME",
                   help="policy YAML or bundled name (default, tag, tag-numbered, redact, "
                        "safe-harbor-minimal)")
    p.add_argument("--keep-fields", metavar="A,B", default="",
                   help="JSONL/CSV: other fields to copy through unchanged (default: only id and text)")
    p.set_defaults(func=run)


def add_common_text_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["auto", "txt", "jsonl", "csv"], default="auto")
    p.add_argument("--id-field", default="id", help="JSONL/CSV id field (default: id)")
    p.add_argument("--text-field", default="text", help="JSONL/CSV text field (default: text)")
    p.add_argument("--encoding", help="input encoding (default: UTF-8, strict)")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                   help=f"largest note accepted (default {DEFAULT_MAX_BYTES:,})")
    p.add_argument("--known", metavar="FILE",
                   help="known identifiers per note id (JSON, JSONL or CSV); sidecar files "
                        f"NOTE{SIDE_CAR} beside .txt notes are read too")
    p.add_argument("--ner", default="auto", metavar="auto|off|DIR",
                   help="NER model: auto (models/default if present), off, or a model folder")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "int8"],
                   help="NER arithmetic on CPU: auto (the model's choice), fp32, or int8 (faster; "
                        "its own calibrated threshold). CUDA runs bf16.")
    p.add_argument("--batch", type=int, default=16, metavar="N",
                   help="notes per model batch in each worker (default 16)")


def input_format(args: argparse.Namespace, inp: Path) -> str:
    if args.format != "auto":
        return str(args.format)
    if str(inp) == "-":
        return "stdin"
    if inp.is_dir():
        return "txt"
    suf = inp.suffix.lower()
    if suf in (".jsonl", ".ndjson"):
        return "jsonl"
    if suf == ".csv":
        return "csv"
    if suf == ".txt":
        return "file"
    raise InputError(f"cannot tell the format of {inp}; use --format")


def ner_arg(value: str) -> str | bool:
    return False if value in ("off", "none", "false") else value


# -- worker side ----------------------------------------------------------------------------

def make_engine(policy: str | None, secret: bytes, ner: str | bool, device: str,
                precision: str = "auto") -> Any:
    from deid.text import Deidentifier

    return Deidentifier(policy=policy, key=Key(secret), ner=ner, device=device,
                        precision=precision)


def batch_or_each(batch: Callable[[], list[Any]], one: Callable[[int], Any], n: int) -> list[Any]:
    """``batch()`` (one model call for all ``n`` notes); if it raises, ``one(i)`` for each note,
    so one bad note fails alone. A failed note gives its exception type name (a str), never
    the message (it could quote the note)."""
    try:
        return list(batch())
    except Exception:  # noqa: BLE001 - find the note that failed, keep the others
        pass
    out: list[Any] = []
    for i in range(n):
        try:
            out.append(one(i))
        except Exception as exc:  # noqa: BLE001 - one bad note must not stop the batch
            out.append(type(exc).__name__)
    return out


def read_note_file(task: dict[str, Any]) -> tuple[str | None, Known | None, str | None]:
    """(text, known, None) for a note file task (``src``, ``sidecar``, ``encoding``,
    ``max_bytes``, ``known``), its sidecar merged in; (None, None, reason) if unreadable."""
    try:
        data = Path(task["src"]).read_bytes()
    except OSError as exc:
        return None, None, f"cannot read: {exc.strerror or type(exc).__name__}"
    try:
        text = decode(data, task["encoding"], task["max_bytes"])
    except ValueError as exc:
        return None, None, str(exc)
    known = task.get("known")
    if task.get("sidecar"):  # the sidecar adds to what --known says about this note
        try:
            sc = json.loads(Path(task["sidecar"]).read_text(encoding="utf-8-sig"))
            known = Known.from_mapping(sc).merged(known)
        except (OSError, ValueError, InputError) as exc:
            return None, None, f"bad sidecar {SIDE_CAR}: {type(exc).__name__}"
    return text, known, None


def note_file_task(inp: Path, src: Path, args: argparse.Namespace,
                   known_map: dict[str, Known]) -> dict[str, Any]:
    """The task ``read_note_file`` reads: a .txt note of folder ``inp`` and its sidecar."""
    nid = note_id(inp, src)
    sidecar = src.with_name(src.stem + SIDE_CAR)
    return {"id": nid, "rel": src.relative_to(inp).as_posix(), "src": str(src),
            "known": known_for(known_map, nid),
            "sidecar": str(sidecar) if sidecar.exists() else None,
            "encoding": args.encoding, "max_bytes": args.max_bytes}


def run_chunk(tasks: list[dict[str, Any]], batch: Callable[[list[str], list[Any], list[str]], Any],
              one: Callable[[str, Any, str], Any], what: str) -> list[Any]:
    """Per task (a note file task or a record with ``text``/``known``): the engine's result for
    it, with all readable notes in one ``batch(texts, knowns, ids)`` call (each alone via
    ``one`` if that fails), or a failure reason (a str) for a note that cannot be read or
    ``what`` failed on."""
    out: list[Any] = [None] * len(tasks)
    ready: list[tuple[int, str, Any]] = []
    for k, task in enumerate(tasks):
        if "src" in task:
            text, known, reason = read_note_file(task)
            if text is None:
                out[k] = reason
                continue
        else:
            text, known = task["text"], task.get("known")
        ready.append((k, text, known))
    texts, knowns = [t for _, t, _ in ready], [kn for _, _, kn in ready]
    ids = [str(tasks[k]["id"]) for k, _, _ in ready]
    found = batch_or_each(lambda: batch(texts, knowns, ids),
                          lambda i: one(texts[i], knowns[i], ids[i]), len(ready))
    for (k, _, _), res in zip(ready, found, strict=True):
        out[k] = f"{what} failed ({res})" if isinstance(res, str) else res
    return out


def _deidentify_chunk(engine: Any, tasks: list[dict[str, Any]]) -> list[Any]:
    return run_chunk(tasks, lambda t, k, i: engine.deidentify_batch(t, k, None, i),
                     lambda t, k, i: engine.deidentify(t, known=k, doc_id=i), "de-identification")


def _file_tasks(engine: Any, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Read a chunk of note files, de-identify them in one batch, write each atomically."""
    results = []
    for task, out in zip(tasks, _deidentify_chunk(engine, tasks), strict=True):
        res: dict[str, Any] = {"input": task["rel"], "id": task["id"], "ner": engine.ner_status,
                               "screen": engine.screen_status}
        results.append(res)
        if isinstance(out, str):
            res.update(status="failed", reason=out)
            continue
        if not task["dry_run"]:
            try:
                atomic_write_text(Path(task["dst"]), out.text, encoding="utf-8")
            except OSError as exc:
                res.update(status="failed",
                           reason=f"cannot write: {exc.strerror or type(exc).__name__}")
                continue
        res.update(status="ok", **_audit(out),
                   mappings=out.mappings if task["crosswalk"] else [])
    return results


def _audit(out: Any) -> dict[str, Any]:
    return {"counts": out.counts(), "changes": [c.to_dict() for c in out.changes]}


def _note_tasks(engine: Any, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for task, out in zip(tasks, _deidentify_chunk(engine, tasks), strict=True):
        res = {"index": task["index"], "id": task["id"], "ner": engine.ner_status,
                               "screen": engine.screen_status}
        if isinstance(out, str):
            results.append({**res, "status": "failed", "reason": out})
        else:
            results.append({**res, "status": "ok", "text": out.text, **_audit(out),
                            "mappings": out.mappings if task["crosswalk"] else []})
    return results


# -- main -----------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    inp, outp = Path(args.input), Path(args.output)
    if str(inp) != "-" and not inp.exists():
        raise InputError(f"input {inp} does not exist")
    fmt = input_format(args, inp)
    check_output_location(inp, outp)
    key = load_key(args)
    known_map = load_known_file(args.known) if args.known else {}
    if args.batch < 1:
        raise InputError("--batch must be at least 1")
    init = partial(make_engine, args.policy, key.secret, ner_arg(args.ner), args.device,
                   args.precision)
    report = RunReport("text")
    from deid.policy import load_policy

    policy = load_policy(args.policy)  # validate before any work
    report.settings = {"policy": policy.name, "key": key.fingerprint(), "format": fmt}
    if fmt in ("stdin", "file"):
        return _run_single(args, inp, init, known_map)
    if fmt == "txt":
        policy_id = f"{policy.name}:{hashlib.sha256(Path(policy.file).read_bytes()).hexdigest()[:16]}"
        code = _run_folder(args, inp, outp, key, known_map, init, report, policy_id)
        default_report = outp / ".deid-report.json"
    else:
        code = _run_records(args, inp, outp, fmt, known_map, init, report, key)
        default_report = Path(str(outp) + ".report.json")
    report_path = Path(args.report) if args.report else default_report
    if (not args.dry_run and str(outp) != "-") or args.report:
        report.write(report_path)
    report.print_summary()
    return code


def _run_single(args: argparse.Namespace, inp: Path, init: Any, km: dict[str, Known]) -> int:
    """One note from stdin or a single file, to stdout or a file."""
    name = "stdin" if str(inp) == "-" else inp.name
    try:
        data = sys.stdin.buffer.read() if str(inp) == "-" else inp.read_bytes()
        text = decode(data, args.encoding, args.max_bytes)
    except (OSError, ValueError) as exc:
        print(f"deid: error: {name}: {exc if isinstance(exc, ValueError) else exc.strerror}",
              file=sys.stderr)
        return 1
    out_path = Path(args.output)
    if str(out_path) != "-" and out_path.exists() and not args.overwrite and not args.dry_run:
        print(f"deid: {out_path} exists; skipped (use --overwrite)", file=sys.stderr)
        return 0
    engine = init()
    known = km.get("-") if "-" in km else (next(iter(km.values())) if len(km) == 1 else None)
    out = engine.deidentify(text, known=known, doc_id=name)
    if args.dry_run:
        for c in out.changes:
            print(json.dumps(c.to_dict()))
        return 0
    if str(args.output) == "-":
        sys.stdout.write(out.text)
        sys.stdout.flush()
    else:
        atomic_write_text(args.output, out.text)
    return 0


def _note_engines(report: RunReport, results: list[dict[str, Any]]) -> None:
    """Which NER model, arithmetic and device, and which screening of its spans, made the outputs."""
    for key in ("ner", "screen"):
        used = sorted({str(r[key]) for r in results if r.get(key)})
        if used:
            report.settings[key] = used[0] if len(used) == 1 else used


def _previous_run_clean(report_path: Path) -> bool:
    try:
        summary = json.loads(report_path.read_text(encoding="utf-8")).get("summary", {})
    except (OSError, ValueError, AttributeError):
        return False
    return not summary.get("failed")


def known_for(known_map: dict[str, Known], nid: str) -> Known | None:
    found = known_map.get(nid)
    return found if found is not None else known_map.get(Path(nid).name)


def _write_audit(path: str | None, recs: list[dict[str, Any]], key: Key | None = None) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        for r in recs:
            if r.get("status") != "ok":
                continue
            fh.write(json.dumps({"doc": key.hash_id(str(r["id"]), "doc") if key else r["id"],
                                 "counts": r["counts"], "changes": r["changes"]}) + "\n")


def _write_crosswalk(path: str | None, recs: list[dict[str, Any]]) -> None:
    if not path:
        return
    from deid.crosswalk import Crosswalk

    cw = Crosswalk(path)
    try:
        for r in recs:
            if r.get("mappings"):
                cw.add("text", r["mappings"], str(r["id"]))
    finally:
        cw.close()


def _run_folder(args: argparse.Namespace, inp: Path, outp: Path, key: Key,
                known_map: dict[str, Known], init: Any, report: RunReport, policy_name: str) -> int:
    if not inp.is_dir():
        raise InputError(f"{inp} is not a folder")
    if not args.dry_run:
        outp.mkdir(parents=True, exist_ok=True)
        check_manifest(outp, {"policy": policy_name, "key": key.fingerprint()}, args.overwrite)
    tasks = []
    for src in iter_txt_folder(inp):
        task = note_file_task(inp, src, args, known_map)
        dst = outp / task["rel"]
        if dst.exists() and not args.overwrite and not args.dry_run:
            report.add(task["rel"], "skipped", "output exists (rerun with --overwrite to redo)")
            continue
        tasks.append({**task, "dst": str(dst), "dry_run": args.dry_run,
                      "crosswalk": bool(args.crosswalk)})
    results = []
    for res in run_tasks(tasks, _file_tasks, init, args.workers, "deid text", len(tasks),
                         show_progress(args), chunk=args.batch):
        results.append(res)
        extra = {"counts": res["counts"]} if res["status"] == "ok" else {}
        report.add(res["input"], res["status"], res.get("reason"), **extra)
    _note_engines(report, results)
    if not args.dry_run:  # a dry run writes nothing, the crosswalk least of all
        _write_audit(args.audit, results, key)
        _write_crosswalk(args.crosswalk, results)
    return 0 if report.ok else 1


def _run_records(args: argparse.Namespace, inp: Path, outp: Path, fmt: str,
                 known_map: dict[str, Known], init: Any, report: RunReport, key: Key) -> int:
    from deid.textio import read_csv, read_jsonl

    last_report = Path(args.report) if args.report else Path(str(outp) + ".report.json")
    # skip a finished file, but redo one whose last run left failed records rather than hide them
    if outp.exists() and not args.overwrite and not args.dry_run and _previous_run_clean(last_report):
        report.add(inp.name, "skipped", "output exists (rerun with --overwrite to redo)")
        return 0
    reader = (read_jsonl(inp, args.id_field, args.text_field, args.encoding, args.max_bytes)
              if fmt == "jsonl" else
              read_csv(inp, args.id_field, args.text_field, args.encoding, args.max_bytes))
    notes: list[Note] = []
    for item in reader:
        if isinstance(item, BadNote):
            report.add(f"{inp.name}: {item.id}", "failed", item.reason)
        else:
            notes.append(item)
    if fmt == "csv" and not notes and not report.ok:
        return 1
    tasks = [{"index": i, "id": n.id, "text": n.text, "known": known_for(known_map, n.id),
              "crosswalk": bool(args.crosswalk)} for i, n in enumerate(notes)]
    results = sorted(run_tasks(tasks, _note_tasks, init, args.workers, "deid text", len(tasks),
                               show_progress(args), chunk=args.batch), key=lambda r: r["index"])
    _note_engines(report, results)
    for r in results:
        if r["status"] == "ok":
            report.add(f"{inp.name}: {r['id']}", "ok", counts=r["counts"])
        else:
            report.add(f"{inp.name}: {r['id']}", "failed", r["reason"])
    ok_results = [r for r in results if r["status"] == "ok"]
    keep = [f for f in args.keep_fields.split(",") if f]
    if not args.dry_run:
        rows = []
        for note, r in zip(notes, results, strict=True):
            if r["status"] != "ok":
                continue  # never copy a record through that could not be made safe
            # the id as the input had it (an integer stays an integer)
            rid = note.record.get(args.id_field, note.id) if note.record else note.id
            rec = {args.id_field: rid, args.text_field: r["text"]}
            for f in keep:
                if note.record and f in note.record:
                    rec[f] = note.record[f]
            rows.append(rec)
        if fmt == "jsonl":
            data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        else:
            buf = io.StringIO(newline="")
            w = csv.DictWriter(buf, fieldnames=[args.id_field, args.text_field, *keep])
            w.writeheader()
            w.writerows(rows)
            data = buf.getvalue()
        if str(outp) == "-":
            sys.stdout.write(data)
            sys.stdout.flush()
        else:
            atomic_write_bytes(outp, data.encode("utf-8"))
    if not args.dry_run:
        _write_audit(args.audit, ok_results, key)
        _write_crosswalk(args.crosswalk, ok_results)
    return 0 if report.ok else 1
