"""Burned-in text in DICOM pixel data: find it (OCR + region rules) and mask it.

``clean_pixels(ds, known, mode, options)`` modifies ``ds`` in place when it masks and returns a
:class:`PixelOutcome` (audit records hold coordinates and reasons only, never text).

Decoding goes through pydicom's pixel handlers (pylibjpeg, gdcm, pillow), frame by frame. Native
(uncompressed) data is masked in its own byte buffer, so unmasked pixels stay bit-identical;
compressed data is decoded (YBR to RGB) and written back uncompressed, or re-encoded losslessly in
the original transfer syntax with ``keep_syntax`` when an encoder exists (checked by round trip).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deid.dicom.regions import Box, RegionRules, load_region_rules, needs_ocr

MODES = ("all-text", "phi")
DEFAULT_MODE = "all-text"  # the safest: every detected text region is masked
DEFAULT_OPTIONS: dict[str, Any] = {
    "ocr": "auto",          # always | auto | never (see regions.needs_ocr)
    "keep_syntax": False,   # re-encode losslessly in the original transfer syntax if possible
    "verify": False,        # re-run OCR on the result; residual text -> ok=False
    "margin": 4,            # pixels added around every detected box
    "gpu": None,            # None: torch.cuda.is_available()
    "fill": None,           # constant to fill with (stored value); None: darkest value
    "batch_size": 4,        # frames per detection batch
    "detect_max_side": 1280,  # frames larger than this are detected on a downscaled copy
    "detect_min_side": 320,   # smaller frames are upscaled for detection
    "phi_min_conf": 0.75,   # phi mode: text read with lower confidence is masked
    "regions": True,        # apply known burned-in regions from rules/dicom/regions.yaml
    "rules": None,          # a RegionRules object (default: rules/dicom/regions.yaml)
    "deidentifier": None,   # phi mode: an object with .detect(text, known=...) (default: lazy)
}
_NATIVE_MASKABLE_BITS = (8, 16, 32)
_CROP_MAX_SHARE = 0.5  # a frame whose changes cover more than this is OCR'd in full


@dataclass
class PixelOutcome:
    ok: bool
    reason: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    masked_boxes: int = 0
    scanned: bool = False
    scan_reason: str = ""
    notes: list[str] = field(default_factory=list)
    frames_ocr: int = 0      # frames run through full-frame detection
    frames_proven: int = 0   # frames proven text-identical to an OCR'd frame (pixel check)


class PixelError(Exception):
    """Pixel data that cannot be processed; the message names codec/geometry, never content."""


# --------------------------------------------------------------------------- geometry / decode

@dataclass(frozen=True)
class _Geom:
    rows: int
    cols: int
    frames: int
    spp: int
    bits_alloc: int
    bits_stored: int
    signed: bool
    photometric: str
    planar: int
    ts: Any  # pydicom UID

    @property
    def frame_pixels(self) -> int:
        return self.rows * self.cols


def _geometry(ds: Any) -> _Geom:
    from pydicom.uid import ImplicitVRLittleEndian

    missing = [k for k in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel",
                           "PhotometricInterpretation") if ds.get(k) in (None, "")]
    if missing:
        raise PixelError(f"Image Pixel attributes missing: {', '.join(missing)}")
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise PixelError("NumberOfFrames (0028,0008) is not an integer") from None
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    g = _Geom(
        rows=int(ds.Rows), cols=int(ds.Columns), frames=frames, spp=int(ds.SamplesPerPixel),
        bits_alloc=int(ds.BitsAllocated), bits_stored=int(ds.get("BitsStored", ds.BitsAllocated)),
        signed=int(ds.get("PixelRepresentation", 0) or 0) == 1,
        photometric=str(ds.PhotometricInterpretation).strip().upper(),
        planar=int(ds.get("PlanarConfiguration", 0) or 0), ts=ts or ImplicitVRLittleEndian,
    )
    if g.rows <= 0 or g.cols <= 0 or g.frames <= 0 or g.spp not in (1, 3):
        raise PixelError("invalid Rows/Columns/NumberOfFrames/SamplesPerPixel")
    return g


def _expected_native_bytes(g: _Geom) -> int:
    if g.bits_alloc == 1:
        return (g.frame_pixels * g.frames + 7) // 8
    per_pixel = g.spp * (g.bits_alloc // 8)
    if g.photometric in ("YBR_FULL_422", "YBR_PARTIAL_422"):
        per_pixel = 2 * (g.bits_alloc // 8)
    return g.frame_pixels * g.frames * per_pixel


def _check_decodable(ds: Any, g: _Geom) -> None:
    from pydicom.pixels import get_decoder

    if not g.ts.is_compressed:
        expected = _expected_native_bytes(g)
        have = len(ds.PixelData)
        if have != expected and not (have == expected + 1 and expected % 2 == 1):
            raise PixelError(
                f"pixel data length {have} bytes != {expected} expected from "
                f"Rows*Columns*NumberOfFrames*SamplesPerPixel*BitsAllocated/8")
        return
    try:
        dec = get_decoder(g.ts)
    except (NotImplementedError, ValueError):
        raise PixelError(f"no decoder for transfer syntax {g.ts} ({g.ts.name})") from None
    if not dec.is_available:
        need = "; ".join(f"{k}: {v}" for k, v in dec.missing_dependencies.items()) \
            if hasattr(dec, "missing_dependencies") else ""
        raise PixelError(f"cannot decode {g.ts.name}: install one of the plugins ({need})")


def _decode_frame(ds: Any, g: _Geom, index: int) -> np.ndarray:
    from pydicom.pixels import pixel_array

    try:
        arr = pixel_array(ds, index=index if g.frames > 1 else None)
    except Exception as exc:  # codec errors come in many types; keep each plugin's line
        # keep only the library's install hints (they name the codec plugin), never other text
        msg = "; ".join(line.strip() for line in str(exc).splitlines()
                        if re.search(r"(?i)\b(install|plugin|package|not available|"
                                     r"no (?:pixel data )?handler|decoder)", line)
                        or re.match(r"\s*(pylibjpeg|gdcm|pillow|pyjpegls|pylibjpeg-\w+|numpy)\b",
                                    line))[:600]
        raise PixelError(f"cannot decode frame {index} ({g.ts.name}): "
                         f"{type(exc).__name__}: {msg}") from None
    if g.frames > 1 and arr.ndim == (4 if g.spp == 3 else 3):
        arr = arr[0]
    if arr.shape[:2] != (g.rows, g.cols):
        raise PixelError(f"decoded frame {index} has shape {arr.shape}, expected "
                         f"{g.rows}x{g.cols}")
    return arr


# --------------------------------------------------------------------------- rendering for OCR

def _darkest_palette_index(ds: Any) -> int:
    from pydicom.pixels import apply_color_lut

    desc = ds.get("RedPaletteColorLookupTableDescriptor")
    n = int(desc[0]) or 65536 if desc else 256
    first = int(desc[1]) if desc else 0
    idx = np.arange(first, first + n, dtype=np.uint16 if n > 256 else np.uint8)
    rgb = apply_color_lut(idx, ds).astype(np.float64)
    return int(idx[int(np.argmin(rgb @ np.array([0.299, 0.587, 0.114])))])


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Percentile (0.5-99.5) scaling to 8-bit; integer data goes through a lookup table so a
    large frame costs one extra byte per pixel, not a float copy."""
    step = max(1, int(max(a.shape[0], a.shape[1]) // 512))
    sample = a[::step, ::step]
    lo, hi = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    if hi <= lo:
        lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    if a.dtype.kind in "ui" and a.dtype.itemsize <= 2:
        n = 1 << (8 * a.dtype.itemsize)
        codes = np.arange(n, dtype=np.float64)
        if a.dtype.kind == "i":  # two's complement: index by the unsigned view
            codes = np.where(codes >= n // 2, codes - n, codes)
        lut = (np.clip((codes - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
        return lut[a.view(np.dtype(f"u{a.dtype.itemsize}"))]
    return (np.clip((a.astype(np.float32) - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def render(frame: np.ndarray, ds: Any, g: _Geom) -> np.ndarray:
    """An 8-bit RGB view of one decoded frame, for OCR only (never written)."""
    if g.photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        rgb = apply_color_lut(frame, ds)
        if rgb.dtype != np.uint8:
            rgb = (rgb.astype(np.float32) / max(1, int(rgb.max())) * 255).astype(np.uint8)
        return np.ascontiguousarray(rgb)
    if frame.ndim == 3:
        if frame.dtype == np.uint8:
            return np.ascontiguousarray(frame)
        top = max(1, int(frame.max()))
        return (frame.astype(np.float32) / top * 255).astype(np.uint8)
    grey = _to_uint8(frame)
    if g.photometric == "MONOCHROME1":
        grey = 255 - grey
    return np.repeat(grey[:, :, None], 3, axis=2)


# --------------------------------------------------------------------------- boxes

def merge_boxes(boxes: list[Box]) -> list[Box]:
    """Union of overlapping/touching boxes, repeated until none overlap."""
    out = list(boxes)
    changed = True
    while changed:
        changed = False
        merged: list[Box] = []
        for b in out:
            for i, m in enumerate(merged):
                if b.grow(1).intersection(m) > 0:
                    merged[i] = m.union(b)
                    changed = True
                    break
            else:
                merged.append(b)
        out = merged
    return sorted(out, key=lambda b: (b.y, b.x))


def us_clinical_regions(ds: Any) -> list[Box]:
    """Data regions of an ultrasound image from SequenceOfUltrasoundRegions (may be empty)."""
    out = []
    for item in ds.get("SequenceOfUltrasoundRegions", []) or []:
        try:
            x0, y0 = int(item.RegionLocationMinX0), int(item.RegionLocationMinY0)
            x1, y1 = int(item.RegionLocationMaxX1), int(item.RegionLocationMaxY1)
        except (AttributeError, TypeError, ValueError):
            continue
        if x1 > x0 and y1 > y0:
            out.append(Box(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
    return out


# --------------------------------------------------------------------------- phi decisions

_DEIDENTIFIER: Any = None


def _default_deidentifier() -> Any:
    global _DEIDENTIFIER
    if _DEIDENTIFIER is None:
        from deid.text import Deidentifier

        _DEIDENTIFIER = Deidentifier()
    return _DEIDENTIFIER


_ALNUM = re.compile(r"[A-Z0-9]+")


def _known_parts(known: Any) -> list[str]:
    """Alphanumeric parts (3+ chars) of the known identifiers, upper case, for OCR-tolerant
    matching (OCR misreads such as ^ -> C or J -> I defeat exact matching)."""
    values = getattr(known, "values", None) or {}
    parts: set[str] = set()
    for vals in values.values():
        for v in vals:
            up = str(v).upper()
            parts.update(p for p in _ALNUM.findall(up) if len(p) >= 3)
            digits = "".join(ch for ch in up if ch.isdigit())
            if len(digits) >= 4:
                parts.add(digits)
    return sorted(parts)


def _approx_in(needle: str, hay: str, max_dist: int) -> bool:
    """Whether ``needle`` occurs in ``hay`` with at most ``max_dist`` edits (Sellers)."""
    prev = [0] * (len(hay) + 1)
    for i, ch in enumerate(needle, 1):
        cur = [i] + [0] * len(hay)
        for j, hc in enumerate(hay, 1):
            cur[j] = min(prev[j - 1] + (ch != hc), prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return min(prev) <= max_dist


def _fuzzy_contains(text: str, parts: list[str]) -> bool:
    hay = "".join(_ALNUM.findall(text.upper()))
    digits = "".join(ch for ch in hay if ch.isdigit())
    for p in parts:
        dist = 0 if len(p) < 4 else (1 if len(p) < 8 else 2)
        for h in (hay, digits) if p.isdigit() else (hay,):
            if len(h) >= len(p) - dist and _approx_in(p, h, dist):
                return True
    return False


class _PhiJudge:
    """Decides, in phi mode, which recognised text boxes are masked (returns a reason) or kept."""

    def __init__(self, ds: Any, known: Any, rules: RegionRules, options: dict[str, Any]) -> None:
        self.known = known
        self.rules = rules
        self.min_conf = float(options["phi_min_conf"])
        self.clinical = us_clinical_regions(ds)
        self.engine = options.get("deidentifier")
        self.engine_error: str | None = None
        if self.engine is None:
            try:
                self.engine = _default_deidentifier()
            except Exception as exc:  # missing module or model: fall back to masking all text
                self.engine_error = f"{type(exc).__name__}"
        self.kept = 0
        self.known_parts = _known_parts(known)

    def why(self, box: Box, text: str, conf: float) -> str | None:
        if self.engine is None:
            return "ocr-text-engine-unavailable"
        if self.clinical and all(box.intersection(c) < 0.5 * box.area for c in self.clinical):
            return "ocr-outside-us-region"
        if not text.strip():
            return "ocr-unreadable"
        spans = self.engine.detect(text, known=self.known)
        if spans:
            return "ocr-phi:" + ",".join(sorted({str(s.label) for s in spans}))
        rid = self.rules.phi(text)
        if rid is not None:
            return f"ocr-phi-pattern:{rid}"
        if self.known_parts and _fuzzy_contains(text, self.known_parts):
            return "ocr-phi-known-fuzzy"
        if self.rules.keep(text) is not None:
            self.kept += 1
            return None
        if conf < self.min_conf:
            return "ocr-low-confidence"
        self.kept += 1
        return None


# --------------------------------------------------------------------------- scanning

@dataclass
class _Scan:
    boxes: list[tuple[int, Box, str]] = field(default_factory=list)  # (frame, box, why)
    kept: list[tuple[int, Box]] = field(default_factory=list)  # phi mode: text that stays
    frames_ocr: int = 0
    frames_proven: int = 0
    frames_cropped: int = 0


def _scan(ds: Any, g: _Geom, mode: str, opts: dict[str, Any], judge: _PhiJudge | None,
          frames: list[np.ndarray] | None) -> _Scan:
    """OCR every frame (or prove it text-identical to one that was) and collect text boxes."""
    from deid.dicom import ocr

    scale = ocr.choose_scale(g.rows, g.cols, opts["detect_max_side"], opts["detect_min_side"])
    params = ocr.DetectParams(scale=scale)
    gpu = opts["gpu"]
    batch_size = max(1, int(opts["batch_size"]))
    scan = _Scan()
    pending: list[tuple[int, np.ndarray]] = []

    def judge_boxes(idx: int, img: np.ndarray, found: list[Box]) -> None:
        if mode == "phi" and judge is not None and judge.engine is not None:
            for b, (text, conf) in zip(found, ocr.recognize(img, found, gpu), strict=True):
                why = judge.why(b, text, conf)
                if why is not None:
                    scan.boxes.append((idx, b, why))
                else:
                    scan.kept.append((idx, b))
        else:
            for b in found:
                scan.boxes.append((idx, b, "ocr-text" if judge is None else
                                   (judge.why(b, "", 0.0) or "ocr-text")))

    def flush() -> None:
        if not pending:
            return
        batch = np.stack([img for _, img in pending])
        for (idx, img), found in zip(pending, ocr.detect(batch, params, gpu), strict=True):
            judge_boxes(idx, img, found)
        scan.frames_ocr += len(pending)
        pending.clear()

    prev: np.ndarray | None = None
    pad = max(32, int(0.05 * max(g.rows, g.cols)))
    for i in range(g.frames):
        raw = frames[i] if frames is not None else _decode_frame(ds, g, i)
        if prev is not None and np.array_equal(raw, prev):
            scan.frames_proven += 1  # pixel-identical to a frame whose text is accounted for
            continue
        img = render(raw, ds, g)
        if img.max() == img.min():
            scan.frames_proven += 1  # a uniform frame carries no text
            prev = raw
            continue
        crop = None
        if prev is not None:
            diff = raw != prev
            if diff.ndim == 3:
                diff = diff.any(axis=2)
            ys = np.flatnonzero(diff.any(axis=1))
            xs = np.flatnonzero(diff.any(axis=0))
            c = Box(int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1))
            c = c.grow(pad).clip(g.cols, g.rows)
            if c is not None and c.area <= _CROP_MAX_SHARE * g.frame_pixels:
                crop = c
        prev = raw
        if crop is not None:
            # Pixels outside `crop` are identical to the previous frame, whose text is found
            # (directly or by this same argument); only the changed area (+ context) is new.
            sub = np.ascontiguousarray(img[crop.y:crop.y2, crop.x:crop.x2])
            found = ocr.detect(sub[None], params, gpu)[0]
            found = [Box(b.x + crop.x, b.y + crop.y, b.w, b.h) for b in found]
            judge_boxes(i, img, found)
            scan.frames_cropped += 1
            continue
        pending.append((i, img))
        if len(pending) >= batch_size:
            flush()
    flush()
    return scan


# --------------------------------------------------------------------------- masking

def _fill_decoded(frame: np.ndarray, ds: Any, g: _Geom, opts: dict[str, Any]) -> Any:
    if opts["fill"] is not None:
        return opts["fill"]
    if g.photometric == "PALETTE COLOR":
        return _darkest_palette_index(ds)
    if frame.ndim == 3:
        return 0
    return frame.max() if g.photometric == "MONOCHROME1" else frame.min()


def _apply_masks_decoded(frame: np.ndarray, boxes: list[Box], fill: Any) -> np.ndarray:
    for b in boxes:
        frame[b.y:b.y2, b.x:b.x2, ...] = fill
    return frame


def _native_view(buf: bytearray, g: _Geom) -> np.ndarray:
    big = g.ts == "1.2.840.10008.1.2.2"
    dtype = np.dtype(f"{'>' if big else '<'}{'i' if g.signed else 'u'}{g.bits_alloc // 8}")
    n = g.frame_pixels * g.frames * g.spp
    arr = np.frombuffer(buf, dtype=dtype, count=n)
    if g.spp == 1:
        return arr.reshape(g.frames, g.rows, g.cols)
    if g.planar == 1:
        return arr.reshape(g.frames, g.spp, g.rows, g.cols)
    return arr.reshape(g.frames, g.rows, g.cols, g.spp)


def _native_fill(ds: Any, g: _Geom, view: np.ndarray, opts: dict[str, Any]) -> list[Any]:
    """Fill value(s) per channel in the stored (raw) domain."""
    if opts["fill"] is not None:
        f = opts["fill"]
        return list(f) if isinstance(f, list | tuple) else [f] * g.spp
    if g.photometric == "PALETTE COLOR":
        return [_darkest_palette_index(ds)]
    if g.spp == 3:
        if g.photometric.startswith("YBR"):
            mid = 1 << (g.bits_stored - 1)
            return [0, mid, mid]
        return [0, 0, 0]
    first = _decode_frame(ds, g, 0)
    return [first.max() if g.photometric == "MONOCHROME1" else first.min()]


def _mask_native(ds: Any, g: _Geom, boxes: list[Box], opts: dict[str, Any]) -> list[str]:
    """Mask in the stored byte buffer: untouched bytes stay identical."""
    notes: list[str] = []
    buf = bytearray(ds.PixelData)
    view = _native_view(buf, g)
    fills = _native_fill(ds, g, view, opts)
    for b in boxes:
        if g.spp == 1:
            view[:, b.y:b.y2, b.x:b.x2] = fills[0]
        elif g.planar == 1:
            for c in range(3):
                view[:, c, b.y:b.y2, b.x:b.x2] = fills[c]
        else:
            for c in range(3):
                view[:, b.y:b.y2, b.x:b.x2, c] = fills[c]
    # The transfer syntax stays (big endian included: the buffer was masked in its own order).
    data = bytes(buf)
    if len(data) % 2:
        data += b"\x00"
    ds.PixelData = data
    return notes


def _mask_decoded(ds: Any, g: _Geom, boxes: list[Box], opts: dict[str, Any],
                  frames: list[np.ndarray] | None) -> np.ndarray:
    """Decode every frame, mask, and return the (frames, rows, cols[, 3]) array."""
    first = frames[0] if frames is not None else _decode_frame(ds, g, 0)
    shape = (g.frames, g.rows, g.cols) + ((first.shape[2],) if first.ndim == 3 else ())
    out = np.empty(shape, dtype=first.dtype)
    fill = _fill_decoded(first, ds, g, opts)
    for i in range(g.frames):
        fr = frames[i] if frames is not None else (first if i == 0 else _decode_frame(ds, g, i))
        out[i] = _apply_masks_decoded(fr.copy() if frames is not None else fr, boxes, fill)
    return out


def _write_uncompressed(ds: Any, g: _Geom, arr: np.ndarray) -> None:
    from pydicom.uid import ExplicitVRLittleEndian

    little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    data = little.tobytes()
    if len(data) % 2:
        data += b"\x00"
    ds.PixelData = data
    ds["PixelData"].VR = "OB" if g.bits_alloc <= 8 else "OW"
    ds["PixelData"].is_undefined_length = False
    if arr.ndim == 4:  # (frames, rows, cols, samples): colour was decoded to RGB
        if g.photometric != "RGB":
            ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for kw in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):  # encapsulated-only
        if kw in ds:
            del ds[kw]


_GDCM_SYNTAXES = {
    "1.2.840.10008.1.2.4.80": "JPEGLSLossless",
    "1.2.840.10008.1.2.4.70": "JPEGLosslessProcess14_1",
    "1.2.840.10008.1.2.4.57": "JPEGLosslessProcess14",
    "1.2.840.10008.1.2.4.91": "JPEG2000",
}
_PIXEL_KEYWORDS = ("Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation",
                   "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                   "PlanarConfiguration", "NumberOfFrames", "LossyImageCompression",
                   "LossyImageCompressionRatio", "LossyImageCompressionMethod", "PixelData")
_PYDICOM_LOSSLESS = {"1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90"}  # RLE, J2K lossless


def _gdcm_encode(ds: Any, ts: str) -> bytes:
    """Encapsulated pixel data re-encoded by GDCM from a header-free copy (no PHI on disk)."""
    import gdcm
    from pydicom import Dataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    tmp = Dataset()
    for kw in _PIXEL_KEYWORDS:
        if kw in ds and not kw.startswith("Lossy"):
            tmp[kw] = ds[kw]
    tmp.SOPClassUID = SecondaryCaptureImageStorage
    tmp.SOPInstanceUID = generate_uid()
    tmp.file_meta = FileMetaDataset()
    tmp.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    tmp.file_meta.MediaStorageSOPClassUID = tmp.SOPClassUID
    tmp.file_meta.MediaStorageSOPInstanceUID = tmp.SOPInstanceUID
    with tempfile.TemporaryDirectory(prefix="deid-gdcm-") as d:
        src, dst = os.path.join(d, "in.dcm"), os.path.join(d, "out.dcm")
        tmp.save_as(src, enforce_file_format=True)
        reader = gdcm.ImageReader()
        reader.SetFileName(src)
        if not reader.Read():
            raise PixelError("gdcm could not read the uncompressed image")
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax,
                                                             _GDCM_SYNTAXES[ts])))
        change.SetInput(reader.GetImage())
        if not change.Change():
            raise PixelError("gdcm could not encode")
        writer = gdcm.ImageWriter()
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        writer.SetFileName(dst)
        if not writer.Write():
            raise PixelError("gdcm could not write")
        from pydicom import dcmread

        out = dcmread(dst)
        if str(out.file_meta.TransferSyntaxUID) != ts:
            raise PixelError("gdcm wrote a different transfer syntax")
        return bytes(out.PixelData)


def _reencode(ds: Any, g: _Geom, orig_ts: Any, masked: np.ndarray) -> str:
    """Re-encode losslessly in ``orig_ts``; verified by decoding. Returns a note."""
    from pydicom.pixels import pixel_array

    name = orig_ts.name
    if not orig_ts.is_compressed:
        return "keep_syntax: input was uncompressed; written uncompressed"
    if str(orig_ts) not in _PYDICOM_LOSSLESS and str(orig_ts) not in _GDCM_SYNTAXES:
        return f"keep_syntax: no lossless encoder for {name}; written uncompressed"
    saved = {kw: ds[kw] for kw in _PIXEL_KEYWORDS if kw in ds}
    saved_ts = ds.file_meta.TransferSyntaxUID
    try:
        if str(orig_ts) in _PYDICOM_LOSSLESS:
            ds.compress(orig_ts, generate_instance_uid=False)
        else:
            data = _gdcm_encode(ds, str(orig_ts))
            ds.PixelData = data
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
            ds.file_meta.TransferSyntaxUID = orig_ts
        back = pixel_array(ds)
        if back.shape != masked.reshape(back.shape).shape or not np.array_equal(
                back, masked.reshape(back.shape)):
            raise PixelError("round trip differs")
        return f"keep_syntax: re-encoded losslessly as {name}"
    except Exception as exc:
        for kw in _PIXEL_KEYWORDS:
            if kw in saved:
                ds[kw] = saved[kw]
            elif kw in ds:
                del ds[kw]
        ds.file_meta.TransferSyntaxUID = saved_ts
        return f"keep_syntax: lossless {name} encoding failed ({type(exc).__name__}); " \
               f"written uncompressed"


# --------------------------------------------------------------------------- main entry

def _ensure_transfer_syntax(ds: Any) -> None:
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in ds.file_meta:
        implicit = getattr(ds, "is_implicit_VR", True)
        ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit is not False
                                          else ExplicitVRLittleEndian)


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    opts = dict(DEFAULT_OPTIONS)
    if options:
        unknown = set(options) - set(DEFAULT_OPTIONS)
        if unknown:
            raise ValueError(f"unknown pixel options: {sorted(unknown)}")
        opts.update(options)
    return opts


def clean_pixels(ds: Any, known: Any = None, mode: str = DEFAULT_MODE,
                 options: dict[str, Any] | None = None) -> PixelOutcome:
    """Find burned-in text in ``ds`` and mask it in place. Never raises for bad pixel data.

    ``mode``: ``all-text`` (default, safest: mask every detected text region; detection only) or
    ``phi`` (recognise text; mask what the text engine or the known identifiers flag, text outside
    ultrasound data regions, and unreadable text; measurements such as ``5.2 cm`` stay).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    opts = _options(options)
    rules: RegionRules = opts["rules"] or load_region_rules()
    needs_ocr(ds, opts["ocr"], rules)  # validates the policy name (ValueError = usage error)

    if "PixelData" not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            return PixelOutcome(ok=True, scan_reason="float pixel data (parametric map) not scanned")
        return PixelOutcome(ok=True, scan_reason="no pixel data")
    try:
        _ensure_transfer_syntax(ds)
        g = _geometry(ds)
        scan_it, scan_reason = needs_ocr(ds, opts["ocr"], rules)
        region_hits = rules.regions_for(ds) if opts["regions"] else []
        if not scan_it and not region_hits:
            burned = str(ds.get("BurnedInAnnotation", "") or "").upper()
            if burned == "YES":
                return PixelOutcome(ok=False, scan_reason=scan_reason, reason=(
                    "BurnedInAnnotation=YES but OCR is off and no region rule matches"))
            return PixelOutcome(ok=True, scan_reason=scan_reason)
        if g.bits_alloc not in _NATIVE_MASKABLE_BITS:
            raise PixelError(f"BitsAllocated={g.bits_alloc} pixel data cannot be masked")
        _check_decodable(ds, g)
        return _clean(ds, g, known, mode, opts, rules, scan_it, scan_reason, region_hits)
    except PixelError as exc:
        return PixelOutcome(ok=False, reason=str(exc),
                            scan_reason=locals().get("scan_reason", "") or "")
    except Exception as exc:  # never pass an unscanned image as clean
        # type only: the message could quote OCR text or header values
        return PixelOutcome(ok=False, reason=f"pixel cleaning failed: {type(exc).__name__}")


def _clean(ds: Any, g: _Geom, known: Any, mode: str, opts: dict[str, Any], rules: RegionRules,
           scan_it: bool, scan_reason: str, region_hits: list[Any]) -> PixelOutcome:
    from deid.dicom.ocr import OcrUnavailable

    out = PixelOutcome(ok=True, scanned=scan_it, scan_reason=scan_reason)
    native = not g.ts.is_compressed and g.photometric not in ("YBR_FULL_422", "YBR_PARTIAL_422")
    # Small images that are scanned: keep decoded frames (decode once); otherwise frames are
    # decoded one at a time, when scanning and again when masking.
    keep = scan_it and g.frame_pixels * g.frames * g.spp * (g.bits_alloc // 8) <= 256 * 2**20
    frames = [_decode_frame(ds, g, i) for i in range(g.frames)] if keep else None
    if frames is None:
        _decode_frame(ds, g, 0)  # fail early on codec problems
    judge = _PhiJudge(ds, known, rules, opts) if mode == "phi" else None
    if judge is not None and judge.engine_error:
        out.notes.append(f"phi mode: text engine unavailable ({judge.engine_error}); "
                         f"all detected text masked")
    found: list[tuple[int, Box, str]] = []
    if scan_it:
        try:
            scan = _scan(ds, g, mode, opts, judge, frames)
        except OcrUnavailable as exc:
            raise PixelError(str(exc)) from None
        found = scan.boxes
        out.frames_ocr, out.frames_proven = scan.frames_ocr, scan.frames_proven
        if scan.frames_cropped:
            out.notes.append(f"{scan.frames_cropped} frame(s) OCR'd only where they differ "
                             f"from the previous frame")
        if judge is not None and judge.kept:
            out.notes.append(f"phi mode: {judge.kept} text region(s) kept (no identifier found)")
    margin = int(opts["margin"])
    grown: list[tuple[int, Box, str]] = []
    for idx, b, why in found:
        c = b.grow(margin).clip(g.cols, g.rows)
        if c is not None:
            grown.append((idx, c, why))
    for rule in region_hits:
        for b in rule.boxes:
            c = b.clip(g.cols, g.rows)
            if c is not None:
                grown.append((-1, c, f"region:{rule.id}"))
    boxes = merge_boxes([b for _, b, _ in grown])
    for mb in boxes:
        members = [(i, w) for i, b, w in grown if b.intersection(mb) > 0]
        frames_hit = sorted({i for i, _ in members if i >= 0})
        out.changes.append({
            "frame": frames_hit[0] if frames_hit else "all",
            "frames": "all",
            "x": mb.x, "y": mb.y, "w": mb.w, "h": mb.h,
            "why": ",".join(sorted({w for _, w in members})),
        })
    out.masked_boxes = len(boxes)
    if boxes:
        orig_ts = g.ts
        if native:
            out.notes.extend(_mask_native(ds, g, boxes, opts))
            if opts["keep_syntax"]:
                out.notes.append("keep_syntax: input was uncompressed; kept uncompressed")
        else:
            masked = _mask_decoded(ds, g, boxes, opts, frames)
            _write_uncompressed(ds, g, masked)
            if opts["keep_syntax"]:
                out.notes.append(_reencode(ds, _geometry(ds), orig_ts, masked))
            else:
                out.notes.append(f"{orig_ts.name} decoded and written uncompressed")
    if scan_it or boxes:
        ds.BurnedInAnnotation = "NO"
    if opts["verify"] and scan_it:
        if boxes:
            _verify(ds, mode, opts, judge, boxes, out)
        else:  # nothing changed: a second scan would see the same pixels
            out.notes.append("verify: nothing masked, pixels unchanged since the scan")
    return out


def _verify(ds: Any, mode: str, opts: dict[str, Any], judge: _PhiJudge | None,
            boxes: list[Box], out: PixelOutcome) -> None:
    """Re-run OCR on the result. all-text: any text left fails. phi: any identifier or header-bar
    text, or any text overlapping a masked box, fails."""
    g = _geometry(ds)
    try:
        scan = _scan(ds, g, mode, opts, judge, None)
    except PixelError as exc:
        out.ok, out.reason = False, f"verify: {exc}"
        return
    def overlaps(b: Box) -> bool:
        # Same text line as a masked box (rows shared >= half the detection's height): the
        # continuation of masked text. Lines above/below that merely touch a box's margin are
        # neighbours, not residue.
        for m in boxes:
            rows = min(b.y2, m.y2) - max(b.y, m.y)
            if b.intersection(m) > 0 and rows >= 0.5 * b.h:
                return True
        return False

    if mode == "all-text":  # every text region was meant to be masked
        bad = [(idx, b) for idx, b, _ in scan.boxes]
    else:  # identifiers / header-bar text anywhere, or any text left on a masked box
        bad = [(idx, b) for idx, b, why in scan.boxes
               if why.startswith("ocr-phi") or why == "ocr-outside-us-region" or overlaps(b)]
        bad += [(idx, b) for idx, b in scan.kept if overlaps(b)]
    if bad:
        idx, b = bad[0]
        out.ok = False
        out.reason = (f"verify: {len(bad)} text region(s) still detected after masking "
                      f"(first: frame {idx} at x={b.x} y={b.y} w={b.w} h={b.h})")
