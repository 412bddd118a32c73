"""``deid dicom INPUT OUTPUT``: de-identify DICOM files (PS3.15 Annex E) in a folder tree."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from functools import partial
from pathlib import Path

from deid.commands.common import add_key_args, add_run_args, load_key, show_progress
from deid.errors import DeidError, InputError

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dicom", help="de-identify DICOM files (PS3.15 Annex E)",
        description="De-identify every DICOM file under INPUT into OUTPUT as "
                    "<StudyUID>/<SeriesUID>/<SOPUID>.dcm with new UIDs (or the input tree with "
                    "--keep-paths). Non-DICOM files and DICOMDIRs are reported and skipped; files "
                    "that cannot be made safe are quarantined (listed in the report, not written).")
    p.add_argument("input", help="a DICOM file or a folder (searched recursively)")
    p.add_argument("output", help="output folder (must not be inside the input folder)")
    p.add_argument("--profile", metavar="FILE|NAME",
                   help="profile YAML or bundled name (basic, research); default basic")
    p.add_argument("--option", action="append", default=[], metavar="NAME",
                   help="add an Annex E option, e.g. retain_long_modified_dates (repeatable)")
    p.add_argument("--keep-paths", action="store_true",
                   help="mirror the input tree (input names may themselves hold identifiers)")
    p.add_argument("--burned-in", choices=["fail", "warn", "skip"], default=None,
                   help="files at risk of burned-in text when clean_pixel_data is off: "
                        "fail = quarantine (default), warn = copy pixels and warn, skip")
    p.add_argument("--pixel-mode", choices=["all-text", "phi"], default=None,
                   help="with --option clean_pixel_data: mask all burned-in text (default) or "
                        "only text found to be identifying")
    p.add_argument("--subject-map", metavar="CSV",
                   help="CSV with columns patient_id,subject_id: the pseudonym for each "
                        "original PatientID (files of unlisted patients are quarantined)")
    p.add_argument("--policy", metavar="FILE|NAME", help="text policy for cleaned free text")
    p.add_argument("--ner", default="auto", metavar="auto|off|DIR",
                   help="NER model for cleaned free text (auto, off, or a model folder)")
    add_key_args(p)
    add_run_args(p)
    p.set_defaults(func=run)


def read_subject_map(path: str) -> dict[str, str]:
    p = Path(path)
    try:
        rows = list(csv.reader(p.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read subject map {p}: {type(exc).__name__}") from None
    if not rows:
        raise InputError(f"{p}: empty subject map")
    start = 1 if rows[0] and rows[0][0].strip().lower() in ("patient_id", "patientid") else 0
    out: dict[str, str] = {}
    for ln, row in enumerate(rows[start:], start=start + 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise InputError(f"{p}: line {ln} needs patient_id,subject_id")
        if row[0].strip() in out:
            raise InputError(f"{p}: line {ln} repeats a patient_id")
        out[row[0].strip()] = row[1].strip()
    return out


def build_settings(args: argparse.Namespace):  # -> Settings
    from deid.dicom.profile import Settings, load_profile

    prof = load_profile(args.profile or "basic")
    options = frozenset(prof["options"]) | frozenset(args.option)
    return Settings(
        options=options,
        pseudonym_format=prof["pseudonym_format"],
        pseudonym_prefix=prof["pseudonym_prefix"],
        burned_in=args.burned_in or prof["burned_in"],
        subject_map=read_subject_map(args.subject_map) if args.subject_map else {},
        profile_name=prof["name"],
        pixel_mode=args.pixel_mode or prof["pixel_mode"],
        pixel_options=prof["pixel_options"],
    )


def run(args: argparse.Namespace) -> int:
    from deid.batch import RunReport, check_manifest, check_output_location, run_tasks
    from deid.dicom import archive

    inp, out = Path(args.input), Path(args.output)
    if not inp.exists():
        raise InputError(f"input {inp} does not exist")
    check_output_location(inp, out)
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    settings = build_settings(args)
    key = load_key(args)
    ner: str | bool = False if args.ner == "off" else args.ner
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = {"command": "dicom", "key": key.fingerprint(),
                   "options": ",".join(sorted(settings.options)),
                   "pseudonym": settings.pseudonym_prefix + settings.pseudonym_format,
                   "keep_paths": str(bool(args.keep_paths))}
    if not args.dry_run:
        check_manifest(out, fingerprint, args.overwrite)
    previous = archive.load_manifest(out)
    params = archive.Params(
        secret=key.secret, settings=settings, out_dir=str(out), keep_paths=args.keep_paths,
        overwrite=args.overwrite, dry_run=args.dry_run, want_audit=bool(args.audit),
        want_mappings=bool(args.crosswalk), text_policy=args.policy, ner=ner, previous=previous)
    # fail fast on configuration errors (missing OCR module, text engine...) before the pool
    archive.make_worker(params)

    report = RunReport("dicom", settings={
        "options": sorted(settings.options), "profile": settings.profile_name,
        "burned_in": settings.burned_in, "key_fingerprint": key.fingerprint(),
        "keep_paths": bool(args.keep_paths), "dry_run": bool(args.dry_run)})
    jobs = []
    for job in archive.discover(inp):
        ih = archive.input_hash(key, job.rel)
        done = previous.get(ih)
        if done and not args.overwrite and (out / done).exists():
            report.add(job.rel, "skipped", "already done (resume)", output=done)
            continue
        jobs.append(job)

    audit_fh = open(args.audit, "a", encoding="utf-8") if args.audit else None  # noqa: SIM115
    crosswalk = None
    if args.crosswalk:
        from deid.crosswalk import Crosswalk

        crosswalk = Crosswalk(args.crosswalk)
    manifest_fh = None if args.dry_run else open(out / archive.MANIFEST, "a", encoding="utf-8")  # noqa: SIM115
    try:
        results = run_tasks(jobs, archive.run_job, init=partial(archive.make_worker, params),
                            workers=args.workers, desc="deid dicom", total=len(jobs),
                            progress=show_progress(args))
        claimed = {o: ih for ih, o in previous.items()}  # output -> the input that owns it
        for res in results:
            audit = res.pop("audit", None)
            mappings = res.pop("mappings", None)
            status, reason = res.pop("status"), res.pop("reason", None)
            if status == "ok" and not args.dry_run:
                owner = claimed.setdefault(res["output"], res["input_hash"])
                if owner != res["input_hash"]:  # same output bytes from another input
                    status, reason = "failed", (f"duplicate SOP Instance UID: output "
                                                f"{res['output']} belongs to another input")
                    audit = mappings = None
            rel = res.pop("input")
            extra = {k: v for k, v in res.items() if k != "input_hash"} if status == "ok" else {}
            report.add(rel, status, reason, **extra)
            if status != "ok":
                continue
            if manifest_fh is not None:
                manifest_fh.write(json.dumps({"in": res["input_hash"], "out": res["output"]}) + "\n")
                manifest_fh.flush()
            if audit_fh is not None and audit:
                for rec in audit:
                    audit_fh.write(json.dumps({"file": res["output"], **rec}) + "\n")
            if crosswalk is not None and mappings:
                crosswalk.add("dicom", mappings, res["output"])
    finally:
        for fh in (audit_fh, manifest_fh):
            if fh is not None:
                fh.close()
        if crosswalk is not None:
            crosswalk.close()
    report_path = Path(args.report) if args.report else out / "deid-dicom-report.json"
    report.write(report_path)
    report.print_summary(sys.stderr)
    return EXIT_OK if report.ok else EXIT_PARTIAL


__all__ = ["register", "run", "DeidError"]
