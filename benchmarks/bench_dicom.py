#!/usr/bin/env python3
"""Header de-identification throughput and peak memory: deid vs dicognito vs pydicom/deid.

Usage: python benchmarks/bench_dicom.py [--files 1000] [--work DIR] [--bench-venv /work/bench-venv]

Builds a folder of copies of pydicom test files (CT, MR, RT; no at-risk modalities, so no file is
quarantined) with fresh Study/Series/SOP Instance UIDs, then runs each tool as a subprocess on
the same folder and reports files/s (wall clock) and the peak RSS of the tool's process tree.
dicognito and pydicom/deid import as packages that clash with this project (pydicom/deid is
``deid``), so they run from a separate virtual environment (``--bench-venv``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "MR_small_RLE.dcm", "emri_small.dcm",
           "rtdose.dcm"]

REPO = Path(__file__).resolve().parent.parent
PYDICOM_DEID_SCRIPT = """
import sys
from deid.dicom import get_files, replace_identifiers
files = list(get_files(sys.argv[1]))
replace_identifiers(dicom_files=files, save=True, output_folder=sys.argv[2], overwrite=True)
"""


def build_corpus(dest: Path, n: int) -> None:
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    dest.mkdir(parents=True, exist_ok=True)
    srcs = [dcmread(get_testdata_file(s, download=False)) for s in SOURCES]
    for i in range(n):
        ds = srcs[i % len(srcs)]
        study = i // 50
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", str(study)])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["series", str(i // 10)])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["sop", str(i)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID = f"PID{study:05d}"
        ds.PatientName = f"Patient^Number{study}"
        ds.save_as(dest / f"{i:05d}.dcm")


def measure(cmd: list[str], cwd: Path) -> dict:
    """Run ``cmd`` in a fresh launcher process; wall time and the peak RSS of its children."""
    launcher = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cmd)]
    t0 = time.perf_counter()
    r = subprocess.run(launcher, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t0
    try:
        child = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        child = {"rc": r.returncode, "maxrss_kb": None}
    return {"wall_s": round(wall, 2), "rc": child["rc"], "peak_rss_mb":
            round(child["maxrss_kb"] / 1024, 1) if child["maxrss_kb"] else None,
            "stderr_tail": r.stderr[-300:] if child["rc"] else ""}


def child(cmd_json: str) -> None:
    cmd = json.loads(cmd_json)
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"rc": r.returncode, "maxrss_kb": ru.ru_maxrss}))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--bench-venv", type=Path, default=Path("/work/bench-venv"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-dicom-"))
    corpus = work / "in"
    if corpus.exists():
        shutil.rmtree(corpus)
    build_corpus(corpus, args.files)
    key = work / "bench.key"
    key.write_bytes(os.urandom(32).hex().encode())
    vpy = args.bench_venv / "bin" / "python"
    base = [sys.executable, "-m", "deid", "dicom", str(corpus)]
    ours = ["--key-file", str(key), "--no-progress"]
    runs: list[tuple[str, Path, list[str]]] = [
        ("deid (this project), 1 worker", work / "o1",
         [*base, str(work / "o1"), *ours, "--workers", "1"]),
        ("deid (this project), 2 workers", work / "o2",
         [*base, str(work / "o2"), *ours, "--workers", "2"]),
    ]
    if vpy.exists():
        runs += [
            ("dicognito", work / "o3",
             [str(vpy), "-m", "dicognito", "--quiet", "-o", str(work / "o3"), str(corpus)]),
            ("pydicom/deid (default recipe)", work / "o4",
             [str(vpy), "-c", PYDICOM_DEID_SCRIPT, str(corpus), str(work / "o4")]),
        ]
    else:
        print(f"note: {vpy} missing; only this project is measured", file=sys.stderr)
    results = []
    for name, out, cmd in runs:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        # the other tools run outside the repository: pydicom/deid also imports as ``deid``
        m = measure(cmd, REPO if "deid (this" in name else work)
        produced = sum(1 for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and p.suffix != ".json")
        m.update(tool=name, files=args.files, outputs=produced,
                 files_per_s=round(args.files / m["wall_s"], 1) if m["wall_s"] else None)
        results.append(m)
        print(f"{name:34s} {m['files_per_s']:>8} files/s  peak {m['peak_rss_mb']} MB  "
              f"rc={m['rc']}  outputs={produced}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
