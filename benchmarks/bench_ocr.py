"""Burned-in text benchmark: recall on the burn set, and throughput of clean_pixels.

    python benchmarks/bench_ocr.py                 # recall + speed, CPU, 1 thread
    python benchmarks/bench_ocr.py --what recall   # only box recall / masked-area share
    python benchmarks/bench_ocr.py --what speed --threads 2 --repeat 3

Recall: every case of deid.dicom.burn (real pydicom test images with synthetic identifiers
burned in at known boxes); a box counts as recalled when all its ink pixels are masked.
Speed: all-text mode, detection only, no verify; images/s for 512x512 (CT) and 1024x768 (US)
frames, frames/s for a 30-frame ultrasound cine (JPEG baseline, YBR), and peak RSS.
Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def header_known():
    """What the header of a burned case would tell about its patient (same fake values)."""
    from deid.known import Known

    return Known.from_mapping({"patient_id": "bench", "name": ["DOE^JANE"],
                               "mrn": ["40817723"], "dob": ["1961-03-14"],
                               "id": ["99120451"]})


def recall(gpu: bool, mode: str, known=None) -> dict:
    from deid.dicom import burn
    from deid.dicom.pixels import clean_pixels
    from deid.dicom.regions import Box

    rows = []
    hit = total = 0
    shares = []
    for name in burn.CASES:
        case = burn.build(name)
        syntax = str(case.ds.file_meta.TransferSyntaxUID)
        t = time.perf_counter()
        out = clean_pixels(case.ds, known, mode, {"ocr": "always", "verify": True, "gpu": gpu})
        dt = time.perf_counter() - t
        boxes = [Box(c["x"], c["y"], c["w"], c["h"]) for c in out.changes]
        r, share = burn.coverage(case, boxes)
        hit += round(r * len(case.burned))
        total += len(case.burned)
        shares.append(share)
        rows.append({"case": name, "syntax": syntax, "known": known is not None,
                     "ok": out.ok, "burned": len(case.burned), "recall": round(r, 3),
                     "masked_share": round(share, 4), "masked_boxes": out.masked_boxes,
                     "seconds": round(dt, 2)})
    for r in rows:
        print(json.dumps({"recall_case": r}))
    summary = {"box_recall": round(hit / total, 4), "boxes": total,
               "mean_masked_share": round(float(np.mean(shares)), 4), "mode": mode,
               "known": known is not None, "all_ok": all(r["ok"] for r in rows)}
    print(json.dumps({"recall_summary": summary}))
    return summary


def _speed_case(label: str, make, repeat: int, gpu: bool, per_frame: bool) -> dict:
    from deid.dicom.pixels import clean_pixels

    times = []
    frames = 1
    for _ in range(repeat):
        ds = make()
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        t = time.perf_counter()
        out = clean_pixels(ds, None, "all-text", {"ocr": "always", "gpu": gpu})
        times.append(time.perf_counter() - t)
        assert out.ok, out.reason
    best = min(times)
    res = {"case": label, "rows": int(ds.Rows), "cols": int(ds.Columns), "frames": frames,
           "seconds_best": round(best, 3), "seconds_mean": round(float(np.mean(times)), 3),
           ("frames_per_s" if per_frame else "images_per_s"): round((frames if per_frame else 1)
                                                                    / best, 3),
           "frames_ocr": out.frames_ocr, "frames_proven": out.frames_proven,
           "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(json.dumps({"speed": res}))
    return res


def speed(repeat: int, gpu: bool) -> list[dict]:
    from deid.dicom import burn

    def ct512():
        ds = burn.load_source("CT_small.dcm")
        arr = burn.upscale(burn.decoded(ds), 4).copy()
        burn.burn(ds, arr, [(burn.NAME, 8, 6), (burn.MRN, 8, 480), (burn.DATE, 380, 6)], 18)
        burn.set_native(ds, arr)
        return ds

    def us1024():
        ds = burn.load_source("JPGLosslessP14SV1_1s_1f_8b.dcm")  # 768x1024 US, JPEG lossless
        arr = burn.decoded(ds).copy()
        burn.burn(ds, arr, [(burn.NAME, 10, 8), (burn.DOB, 10, 34), (burn.ACC, 760, 8)], 20)
        burn.set_native(ds, arr)
        return ds

    def cine():
        ds = burn.load_source("examples_ybr_color.dcm")  # 30 frames 240x320, JPEG YBR_422
        arr = burn.decoded(ds).copy()
        burn.burn(ds, arr, [(burn.NAME, 4, 4), (burn.DATE, 200, 4)], 13)
        burn.set_native(ds, arr, "RGB")
        return ds

    from deid.dicom.ocr import get_reader

    t = time.perf_counter()
    get_reader(gpu)
    print(json.dumps({"model_load_seconds": round(time.perf_counter() - t, 2),
                      "peak_rss_mb": round(peak_rss_mb(), 1)}))
    return [
        _speed_case("ct-512x512", ct512, repeat, gpu, False),
        _speed_case("us-1024x768", us1024, repeat, gpu, False),
        _speed_case("us-cine-30x240x320", cine, repeat, gpu, True),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", choices=["all", "recall", "speed"], default="all")
    ap.add_argument("--mode", choices=["all-text", "phi"], default="all-text")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--gpu", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    print(json.dumps({"device": "cuda" if args.gpu else "cpu", "threads": args.threads,
                      "torch": torch.__version__}))
    if args.what in ("all", "recall"):
        recall(args.gpu, args.mode)
        if args.mode == "phi":
            recall(args.gpu, args.mode, header_known())
    if args.what in ("all", "speed"):
        speed(args.repeat, args.gpu)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
