"""Short GPU check for the NER model: load on CUDA, agree with CPU, measure throughput.

    python benchmarks/gpu_ner.py [--model models/default] [--notes 2000] [--train-steps 50]

Prints one JSON line per check and exits non-zero if CUDA is missing or CPU/GPU disagree.
Meant to run in a few minutes on a lent GPU machine (no network needed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def notes(n: int) -> list[str]:
    import random

    rng = random.Random(3)
    first = ["Maria", "John", "Aiko", "Pedro", "Olga", "Kwame"]
    last = ["Okafor", "Tanaka", "Alvarez", "Petrova", "Mensah", "Berg"]
    out = []
    for _ in range(n):
        parts = []
        while sum(map(len, parts)) < 2000:
            parts.append(f"Patient {rng.choice(first)} {rng.choice(last)} seen {rng.randint(1, 12)}/"
                         f"{rng.randint(1, 28)}/2021 by Dr. {rng.choice(last)}; call "
                         f"({rng.randint(200, 999)}) 555-{rng.randint(1000, 9999)}. BP stable, "
                         f"continue metformin 500 mg twice daily, follow up in clinic.\n")
        out.append("".join(parts)[:2048])
    return out


def main() -> int:
    import torch

    from deid.ner import NerDetector

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--notes", type=int, default=2000)
    ap.add_argument("--train-steps", type=int, default=50)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"check": "cuda", "ok": False}))
        return 1
    texts = notes(a.notes)
    gpu = NerDetector.load(a.model, device="auto")
    assert gpu.device.type == "cuda", gpu.device
    cpu = NerDetector.load(a.model, device="cpu", quantize=False)
    sample = texts[:16]
    g, c = gpu.detect_batch(sample), cpu.detect_batch(sample)
    gcov = {(s.start, s.end) for spans in g for s in spans}
    ccov = {(s.start, s.end) for spans in c for s in spans}
    agree = len(gcov & ccov) / max(1, len(gcov | ccov))
    print(json.dumps({"check": "cpu_gpu_agreement", "jaccard": round(agree, 4), "ok": agree > 0.9}))
    gpu.detect_batch(texts[:64])  # warm up
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    spans = gpu.detect_batch(texts)
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    print(json.dumps({"check": "gpu_throughput", "notes": len(texts), "wall_s": round(wall, 2),
                      "notes_per_s": round(len(texts) / wall, 1),
                      "spans": sum(map(len, spans)),
                      "max_mem_mb": round(torch.cuda.max_memory_allocated() / 2**20)}))
    if a.train_steps:
        import tempfile

        from deid.ner.train import TrainOptions, train
        from tests.test_ner_helpers import make_docs, write_jsonl

        with tempfile.TemporaryDirectory() as tmp:
            tr = write_jsonl(Path(tmp) / "train.jsonl", make_docs(400, seed=1))
            dv = write_jsonl(Path(tmp) / "dev.jsonl", make_docs(50, seed=2))
            t0 = time.perf_counter()
            m = train(TrainOptions(train=tr, dev=dv, out=Path(tmp) / "m", base=a.model,
                                   device="cuda", epochs=1, max_steps=a.train_steps,
                                   freeze=3, progress=False))
            print(json.dumps({"check": "gpu_finetune_amp", "steps": m["steps"],
                              "wall_s": round(time.perf_counter() - t0, 1),
                              "dev_recall": m["dev"]["recall"], "ok": m["steps"] > 0}))
    return 0 if agree > 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
