"""Test-image builder: burn known (fake) identifiers at known boxes into real DICOM pixel data.

Source images are pydicom's test files (pydicom and pydicom-data, never downloaded). Each case
records, per burned string, the box it was drawn in and the exact "ink" pixels, so tests can
measure box recall and masked area. The text is synthetic; nothing here is PHI.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from deid.dicom.regions import Box

_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)


@dataclass(frozen=True)
class Burned:
    text: str
    box: Box
    frames: tuple[int, ...]


@dataclass
class BurnCase:
    name: str
    ds: Any  # pydicom Dataset, ready to clean (its own copy)
    burned: list[Burned] = field(default_factory=list)
    ink: np.ndarray | None = None  # bool (frames, rows, cols): pixels the text changed


@lru_cache(maxsize=16)
def font(size: int) -> Any:
    from PIL import ImageFont

    for path in _FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def load_source(name: str) -> Any:
    """A pydicom test file by exact name (no download)."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        raise FileNotFoundError(f"pydicom test file {name} not installed (pip install pydicom-data)")
    return dcmread(path)


def decoded(ds: Any) -> np.ndarray:
    """All frames as (frames, rows, cols[, 3]); colour converted to RGB."""
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames == 1:
        arr = arr[None]
    return np.ascontiguousarray(arr)


def set_native(ds: Any, arr: np.ndarray, photometric: str | None = None) -> None:
    """Store (frames, rows, cols[, 3]) as uncompressed little-endian pixel data."""
    from pydicom.uid import ExplicitVRLittleEndian

    frames, rows, cols = arr.shape[:3]
    ds.Rows, ds.Columns = rows, cols
    if frames > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = frames
    if arr.ndim == 4:
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
        ds.PhotometricInterpretation = photometric or "RGB"
    data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    ds.PixelData = data + (b"\x00" if len(data) % 2 else b"")
    ds["PixelData"].VR = "OB" if arr.dtype.itemsize == 1 else "OW"
    ds["PixelData"].is_undefined_length = False
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for kw in ("LossyImageCompression", "LossyImageCompressionRatio",
               "LossyImageCompressionMethod"):
        if kw in ds:
            del ds[kw]


def upscale(arr: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour integer upscale of (frames, rows, cols[, 3])."""
    if factor == 1:
        return arr
    return arr.repeat(factor, axis=1).repeat(factor, axis=2)


def _text_values(ds: Any, arr: np.ndarray, level: float = 1.0) -> tuple[Any, Any]:
    """Ink and outline values: bright text (``level`` of the range) with a dark edge."""
    if str(ds.PhotometricInterpretation) == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        idx = np.arange(0, 256, dtype=np.uint8)
        lum = apply_color_lut(idx, ds).astype(float) @ np.array([0.299, 0.587, 0.114])
        return int(idx[int(np.argmax(lum))]), int(idx[int(np.argmin(lum))])
    if arr.ndim == 4:
        top = int((255 if arr.dtype == np.uint8 else int(arr.max())) * level)
        return (top, top, top), (0, 0, 0)
    lo, hi = int(arr.min()), int(arr.max())
    if str(ds.PhotometricInterpretation) == "MONOCHROME1":
        lo, hi = hi, lo
    return int(round(lo + (hi - lo) * level)), lo


def burn(ds: Any, arr: np.ndarray, items: list[tuple[str, int, int]], size: int,
         frames: list[int] | None = None, level: float = 1.0,
         outline: bool = True) -> tuple[list[Burned], np.ndarray]:
    """Draw each (text, x, y) into the given frames of ``arr`` (in place). ``level``: text
    brightness as a share of the image range; ``outline``: a dark 1-px edge around glyphs."""
    from PIL import Image, ImageDraw

    ink_val, edge_val = _text_values(ds, arr, level)
    f = font(size)
    nframes, rows, cols = arr.shape[:3]
    which = list(range(nframes)) if frames is None else frames
    ink = np.zeros((nframes, rows, cols), bool)
    out: list[Burned] = []
    for text, x, y in items:
        # Draw on a label canvas: 2 = glyph, 1 = outline; then copy values into the frame.
        canvas = Image.new("L", (cols, rows), 0)
        d = ImageDraw.Draw(canvas)
        if outline:
            d.text((x, y), text, font=f, fill=1, stroke_width=1, stroke_fill=1)
        d.text((x, y), text, font=f, fill=2)
        lab = np.asarray(canvas)
        ys, xs = np.nonzero(lab)
        if len(xs) == 0:
            raise ValueError(f"text at ({x},{y}) falls outside a {cols}x{rows} frame")
        box = Box(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                  int(ys.max() - ys.min() + 1))
        for i in which:
            fr = arr[i]
            fr[lab == 1] = edge_val
            fr[lab == 2] = ink_val
            ink[i] |= lab > 0
        out.append(Burned(text, box, tuple(which)))
    return out, ink


def encode(ds: Any, syntax: str) -> None:
    """Compress native pixel data of ``ds`` into ``syntax`` (rle, j2k, jpegls, jpeg)."""
    from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLSLossless, RLELossless

    if syntax == "rle":
        ds.compress(RLELossless, generate_instance_uid=False)
    elif syntax == "j2k":
        ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    elif syntax == "jpegls":
        from deid.dicom.pixels import _gdcm_encode

        ds.PixelData = _gdcm_encode(ds, str(JPEGLSLossless))
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
        ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    elif syntax == "jpeg":
        from PIL import Image
        from pydicom.encaps import encapsulate

        arr = decoded(ds)
        if arr.dtype != np.uint8:
            raise ValueError("JPEG baseline test images must be 8-bit")
        frames = []
        for fr in arr:
            buf = io.BytesIO()
            Image.fromarray(fr).save(buf, format="JPEG", quality=95, subsampling=0)
            frames.append(buf.getvalue())
        ds.PixelData = encapsulate(frames)
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        if arr.ndim == 4:
            ds.PhotometricInterpretation = "YBR_FULL"
        ds.LossyImageCompression = "01"
    else:
        raise ValueError(f"unknown syntax {syntax!r}")


# Fake identifiers (synthetic, not PHI) in the shapes scanners burn in.
NAME, MRN, DOB, DATE, ACC = ("DOE^JANE", "MRN 40817723", "DOB 03/14/1961", "2024-05-17",
                             "ACC 99120451")

# name -> (source file, upscale factor, font size, texts [(text, x, y)], encode, frames)
CASES: dict[str, dict[str, Any]] = {
    "ct": dict(src="CT_small.dcm", up=2, size=15,
               items=[(NAME, 6, 4), (MRN, 6, 232), (DATE, 150, 4)]),
    "mr16_j2k": dict(src="MR_small.dcm", up=4, size=14,
                     items=[(NAME, 4, 4), (DOB, 4, 234)], encode="j2k"),
    "mr_jpegls": dict(src="MR_small_jpeg_ls_lossless.dcm", up=4, size=14,
                      items=[(MRN, 4, 4)], encode="jpegls"),
    "sc_rle": dict(src="SC_rgb_rle.dcm", up=3, size=14,
                   items=[(NAME, 4, 4), (DATE, 4, 276)], encode="rle"),
    "sc_jpeg": dict(src="SC_rgb_jpeg_dcmtk.dcm", up=3, size=15,
                    items=[(ACC, 4, 4)], encode="jpeg"),
    "sc_2frame": dict(src="SC_rgb_2frame.dcm", up=3, size=14,
                      items=[(NAME, 4, 4)], frames=[1]),
    "us_rgb": dict(src="US1_UNCR.dcm", up=1, size=16,
                   items=[(NAME, 8, 4), (MRN, 8, 24), (DATE, 500, 4)]),
    "cine": dict(src="emri_small.dcm", up=3, size=13,
                 items=[(NAME, 3, 3), (DATE, 3, 175)]),
    "palette": dict(src="examples_palette.dcm", up=1, size=16,
                    items=[(NAME, 10, 4), (ACC, 560, 4)]),
    # harder: small font on a 512x512 CT, grey text without outline over anatomy, MONOCHROME1,
    # and a 2048-row frame that is detected on a downscaled copy.
    "ct_small_font": dict(src="CT_small.dcm", up=4, size=11,
                          items=[(NAME, 6, 4), (MRN, 6, 496), (DATE, 430, 4)]),
    "mr_grey_text": dict(src="MR_small.dcm", up=4, size=16, level=0.6, outline=False,
                         items=[(NAME, 60, 110), (DATE, 4, 4)]),
    "ct_mono1": dict(src="CT_small.dcm", up=2, size=14, mono1=True,
                     items=[(NAME, 6, 4), (ACC, 6, 234)]),
    "nm_tall": dict(src="JPEG-LL.dcm", up=2, size=26,
                    items=[(NAME, 20, 10), (DOB, 20, 1990), (MRN, 250, 1000)]),
}
FAST_CASES = ("ct", "sc_rle", "sc_2frame", "mr16_j2k")


def build(name: str) -> BurnCase:
    """Build one named case (see CASES)."""
    spec = CASES[name]
    ds = load_source(spec["src"])
    arr = upscale(decoded(ds), spec["up"]).copy()
    if arr.ndim == 4 and arr.dtype != np.uint8:
        raise ValueError("colour cases must be 8-bit")
    if spec.get("mono1"):  # same anatomy, stored inverted
        arr = (arr.max() + arr.min() - arr).astype(arr.dtype)
        ds.PhotometricInterpretation = "MONOCHROME1"
    set_native(ds, arr, "RGB" if arr.ndim == 4 else None)
    burned, ink = burn(ds, arr, spec["items"], spec["size"], spec.get("frames"),
                       spec.get("level", 1.0), spec.get("outline", True))
    set_native(ds, arr, "RGB" if arr.ndim == 4 else None)
    ds.BurnedInAnnotation = "YES"
    if spec.get("encode"):
        encode(ds, spec["encode"])
    return BurnCase(name=name, ds=ds, burned=burned, ink=ink)


def coverage(case: BurnCase, boxes: list[Box]) -> tuple[float, float]:
    """(box recall, masked-area share): burned boxes whose ink is fully covered / all burned
    boxes, and the masked share of the frame area."""
    _, rows, cols = case.ink.shape
    covered = np.zeros((rows, cols), bool)
    for b in boxes:
        covered[b.y:b.y2, b.x:b.x2] = True
    hit = 0
    for bt in case.burned:
        sub = case.ink[list(bt.frames), bt.box.y:bt.box.y2, bt.box.x:bt.box.x2].any(axis=0)
        cov = covered[bt.box.y:bt.box.y2, bt.box.x:bt.box.x2]
        hit += bool(np.all(cov[sub]))
    return hit / max(1, len(case.burned)), float(covered.mean())
