"""Benchmark: NER and full-pipeline (rules + NER + transform) throughput and peak RSS on CPU.

    python benchmarks/bench_ner.py --notes 1000 --threads 2 [--model models/default]

Notes (~2 KB each) come from the synthetic generator (``deid.synth``). Each configuration runs
in a fresh Python process so its peak RSS is its own. Reported: notes/s, word tokens/s
(``\\w+`` runs and punctuation), sub-word tokens/s for NER, and peak RSS (MB).

Configurations: ``ner-fp32`` / ``ner-int8`` (NER alone), ``pipeline-fp32`` / ``pipeline-int8``
(``Deidentifier.deidentify_batch``: rules + NER + transform, in memory), ``rules`` (the same
without NER), and ``cli-fp32`` / ``cli-int8``: ``deid text`` on a folder of the notes, end to
end (start-up, model load, reading, atomic writes with fsync, report; wall time of the whole
command).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_WORD = re.compile(r"\w+|[^\w\s]")


def make_notes(n: int, seed: int = 11, size: int = 2048) -> list[str]:
    """n notes of about ``size`` characters built from generated synthetic notes."""
    from deid.synth import generate_corpus

    with tempfile.TemporaryDirectory() as tmp:
        generate_corpus(min(max(n // 2, 50), 2000), seed, Path(tmp))
        texts = [json.loads(line)["text"] for split in ("train", "dev", "test")
                 for line in (Path(tmp) / f"{split}.jsonl").read_text().splitlines()]
    out, j = [], 0
    for _ in range(n):
        buf = ""
        while len(buf) < size:
            buf += texts[j % len(texts)] + "\n"
            j += 1
        out.append(buf[:size])
    return out


def one(config: str, notes_file: Path, model: Path, threads: int, batch: int) -> dict[str, object]:
    """Run one configuration in this process (called in a child process)."""
    import resource

    import torch

    torch.set_num_threads(threads)
    notes = json.loads(notes_file.read_text(encoding="utf-8"))
    t_load = time.perf_counter()
    if config.startswith("cli"):
        return _cli(config, notes, model, threads, batch)
    if config.startswith("ner"):
        from deid.ner import NerDetector

        det = NerDetector.load(model, device="cpu", quantize=config == "ner-int8", threads=threads)
        load_s = time.perf_counter() - t_load
        from deid.ner.align import encode_batch

        sub = sum(len(e) for e in encode_batch(det.tokenizer, notes))
        t0 = time.perf_counter()
        n_spans = 0
        for b in range(0, len(notes), batch):
            n_spans += sum(len(s) for s in det.detect_batch(notes[b:b + batch]))
    else:
        from deid.text import Deidentifier

        precision = config.split("-")[1] if "-" in config else "auto"
        eng = Deidentifier(ner=str(model) if config.startswith("pipeline") else False,
                           device="cpu", precision=precision)
        load_s = time.perf_counter() - t_load
        sub = 0
        t0 = time.perf_counter()
        n_spans = 0
        for b in range(0, len(notes), batch):
            n_spans += sum(len(r.spans) for r in eng.deidentify_batch(notes[b:b + batch]))
    wall = time.perf_counter() - t0
    words = sum(len(_WORD.findall(t)) for t in notes)
    res = {"config": config, "notes": len(notes), "wall_s": round(wall, 2),
           "load_s": round(load_s, 2), "notes_per_s": round(len(notes) / wall, 2),
           "word_tokens_per_s": round(words / wall), "spans": n_spans,
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if sub:
        res["subword_tokens_per_s"] = round(sub / wall)
    return res


def _cli(config: str, notes: list[str], model: Path, threads: int, batch: int) -> dict[str, object]:
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        inp, out, key = Path(tmp) / "in", Path(tmp) / "out", Path(tmp) / "key"
        inp.mkdir()
        for i, text in enumerate(notes):
            (inp / f"note{i:05d}.txt").write_text(text, encoding="utf-8")
        key.write_bytes(os.urandom(32))
        cmd = [sys.executable, "-m", "deid.cli", "text", str(inp), str(out), "--key-file", str(key),
               "--ner", str(model), "--device", "cpu", "--precision", config.split("-")[1],
               "--batch", str(batch), "--no-progress"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "DEID_THREADS": str(threads)})
        wall = time.perf_counter() - t0
    words = sum(len(_WORD.findall(t)) for t in notes)
    return {"config": config, "notes": len(notes), "wall_s": round(wall, 2),
            "notes_per_s": round(len(notes) / wall, 2), "word_tokens_per_s": round(words / wall),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--notes", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16, help="notes per detect/deidentify call")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    configs = ["ner-fp32", "ner-int8", "pipeline-fp32", "pipeline-int8", "rules", "cli-fp32",
               "cli-int8"]
    ap.add_argument("--configs", nargs="+", default=configs, choices=configs)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--notes-file", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.notes_file, a.model, a.threads, a.batch)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        nf = Path(tmp) / "notes.json"
        notes = make_notes(a.notes)
        nf.write_text(json.dumps(notes), encoding="utf-8")
        env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads),
               "CUDA_VISIBLE_DEVICES": ""}
        results = []
        for cfg in a.configs:
            cmd = [sys.executable, __file__, "--one", cfg, "--notes-file", str(nf), "--model",
                   str(a.model), "--threads", str(a.threads), "--batch", str(a.batch)]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
            if p.returncode != 0:
                raise SystemExit(f"{cfg} failed: {p.stderr[-800:]}")
            r = json.loads(p.stdout.strip().splitlines()[-1])
            results.append(r)
            print(json.dumps(r), flush=True)
    meta = {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": a.threads, "note_chars": 2048, "model": str(a.model)}
    if a.json:
        a.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
