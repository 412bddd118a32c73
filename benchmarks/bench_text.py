"""Benchmark: rules-only `deid text` throughput and peak memory on a folder of generated notes.

    python benchmarks/bench_text.py --notes 10000 --workers 1 2

Notes come from the synthetic generator (about 2 KB each). Each configuration runs the real CLI
in a fresh process; peak RSS is the largest resident set among that process and its workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_notes(folder: Path, n: int, seed: int = 7) -> int:
    """Write n notes of ~2 KB (synthetic generator texts, concatenated/trimmed to size)."""
    from deid.synth import generate_corpus

    with tempfile.TemporaryDirectory() as tmp:
        generate_corpus(min(n, 3000), seed, Path(tmp))
        texts = []
        for split in ("train", "dev", "test"):
            for line in (Path(tmp) / f"{split}.jsonl").read_text().splitlines():
                texts.append(json.loads(line)["text"])
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    i = j = 0
    while i < n:
        buf = ""
        while len(buf) < 2000:
            buf += texts[j % len(texts)] + "\n"
            j += 1
        note = buf[:2048]
        (folder / f"note_{i:05d}.txt").write_text(note, encoding="utf-8")
        total += len(note.encode())
        i += 1
    return total


def run(inp: Path, out: Path, workers: int, key: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "deid", "text", str(inp), str(out), "--key-file", str(key),
           "--ner", "off", "--no-progress", "--workers", str(workers), "--overwrite"]
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"deid text failed ({proc.returncode}): {proc.stderr[-500:]}")
    peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "text.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        nbytes = make_notes(t / "in", args.notes)
        key = t / "bench.key"
        key.write_text(os.urandom(16).hex())
        rows = []
        for w in args.workers:
            r = run(t / "in", t / f"out{w}", w, key)
            r.update(workers=w, notes=args.notes, notes_per_s=args.notes / r["wall_s"],
                     notes_per_s_per_core=args.notes / r["wall_s"] / w,
                     mb_per_s=nbytes / 1e6 / r["wall_s"])
            rows.append(r)
            print(f"workers={w}: {r['notes_per_s']:.0f} notes/s "
                  f"({r['notes_per_s_per_core']:.0f}/core), peak RSS {r['peak_rss_mb']:.0f} MB, "
                  f"{r['wall_s']:.1f} s", flush=True)
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                         f"Python {platform.python_version()}",
              "avg_note_bytes": nbytes / args.notes, "runs": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
