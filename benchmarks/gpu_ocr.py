"""Short GPU check for burned-in text masking (run when a CUDA GPU is lent; ~2-4 minutes).

    python benchmarks/gpu_ocr.py [--out results.json]

1. recall on the burn set with gpu=True must equal the CPU result (every burned box masked,
   verify passes);
2. detection throughput at batch sizes 1, 8, 32 on 512x512 and 1024x768 frames;
3. clean_pixels frames/s on a 30-frame ultrasound cine, and peak GPU memory.
Exits 2 when no GPU is visible, 1 when a recall check fails. ``--dry-run`` runs the same code
on the CPU with two cases and tiny batches (checks the script itself, not the GPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="also write the results as JSON here")
    ap.add_argument("--dry-run", action="store_true", help="CPU, 2 cases, tiny batches")
    args = ap.parse_args(argv)
    import numpy as np
    import torch

    dry = args.dry_run
    gpu = not dry
    if gpu and not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device visible"}))
        return 2
    if dry:
        torch.set_num_threads(1)

    def sync() -> None:
        if gpu:
            torch.cuda.synchronize()

    results: dict = {"device": torch.cuda.get_device_name(0) if gpu else "cpu (dry run)",
                     "torch": torch.__version__}
    from deid.dicom import burn, ocr
    from deid.dicom.pixels import clean_pixels
    from deid.dicom.regions import Box

    t = time.perf_counter()
    ocr.get_reader(gpu)
    results["model_load_s"] = round(time.perf_counter() - t, 2)

    failures = []
    rec = []
    for name in burn.FAST_CASES[:2] if dry else burn.CASES:
        case = burn.build(name)
        t = time.perf_counter()
        out = clean_pixels(case.ds, None, "all-text", {"ocr": "always", "verify": True,
                                                        "gpu": gpu, "batch_size": 16})
        dt = time.perf_counter() - t
        boxes = [Box(c["x"], c["y"], c["w"], c["h"]) for c in out.changes]
        r, share = burn.coverage(case, boxes)
        rec.append({"case": name, "ok": out.ok, "recall": r, "masked_share": round(share, 4),
                    "seconds": round(dt, 3)})
        if not out.ok or r < 1.0:
            failures.append(name)
    results["recall"] = rec

    params = ocr.DetectParams(scale=1.0)
    rng = np.random.default_rng(0)
    thr = []
    for h, w in ((128, 128),) if dry else ((512, 512), (768, 1024)):
        for bs in (1, 2) if dry else (1, 8, 32):
            batch = rng.integers(0, 40, size=(bs, h, w, 3), dtype=np.uint8)
            batch[:, 10:40, 10:100] = 255  # a bright bar: some work for post-processing
            ocr.detect(batch, params, gpu=gpu)  # warm-up
            sync()
            t = time.perf_counter()
            reps = 1 if dry else max(1, 64 // bs)
            for _ in range(reps):
                ocr.detect(batch, params, gpu=gpu)
            sync()
            dt = time.perf_counter() - t
            thr.append({"frame": f"{w}x{h}", "batch": bs,
                        "frames_per_s": round(bs * reps / dt, 1)})
    results["detect_throughput"] = thr

    ds = burn.load_source("examples_ybr_color.dcm")
    arr = burn.decoded(ds).copy()
    if dry:
        arr = arr[:3]
    burn.burn(ds, arr, [(burn.NAME, 4, 4)], 13)
    burn.set_native(ds, arr, "RGB")
    t = time.perf_counter()
    out = clean_pixels(ds, None, "all-text", {"ocr": "always", "gpu": gpu, "batch_size": 32})
    dt = time.perf_counter() - t
    results["cine"] = {"frames": arr.shape[0], "ok": out.ok, "frames_per_s": round(arr.shape[0] / dt, 2),
                       "frames_ocr": out.frames_ocr, "frames_proven": out.frames_proven}
    if gpu:
        results["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    results["failures"] = failures
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
