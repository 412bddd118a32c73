"""Pixel-level guards: burned-in annotation risk and overlays (including embedded overlay bits).

Burned-in risk: BurnedInAnnotation YES, or absent/empty on a modality or SOP class where burned-in
text is common (US, SC, XA, ES, OT, secondary captures incl. DX/CR secondary captures). Overlays
(60xx groups) are always removed: their bitmaps can hold text we cannot clean. Overlay bits
embedded in the unused high bits of native PixelData are cleared.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

RISKY_MODALITIES = frozenset({"US", "SC", "XA", "ES", "OT"})
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"  # SC image storage SOP classes
PIXEL_DATA = 0x7FE00010


def has_pixels(ds: Dataset) -> bool:
    return any(t in ds for t in (0x7FE00010, 0x7FE00008, 0x7FE00009))


def burned_in_risk(ds: Dataset) -> str | None:
    """The reason a file may carry burned-in text in its pixels, or None."""
    if not has_pixels(ds):
        return None
    flag = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if flag == "YES":
        return "BurnedInAnnotation is YES"
    if flag == "NO":
        return None
    modality = str(ds.get("Modality", "") or "").strip().upper()
    sop = str(ds.get("SOPClassUID", "") or "")
    if modality in RISKY_MODALITIES:
        return f"BurnedInAnnotation absent on modality {modality}"
    if sop.startswith(SECONDARY_CAPTURE_PREFIX):
        return "BurnedInAnnotation absent on a secondary capture"
    image_type = [str(x).upper() for x in (ds.get("ImageType") or [])] \
        if not isinstance(ds.get("ImageType"), str) else [str(ds.ImageType).upper()]
    if modality in ("DX", "CR") and ("SECONDARY" in image_type or "DERIVED" in image_type):
        return f"BurnedInAnnotation absent on a {modality} secondary/derived image"
    return None


def overlay_groups(ds: Dataset) -> list[int]:
    tags = list(ds.keys())  # a Dataset iterates over elements, not tags
    return sorted({t >> 16 for t in tags if 0x6000 <= (t >> 16) <= 0x601E and not (t >> 16) & 1})


def embedded_overlay(ds: Dataset, group: int) -> bool:
    """True when overlay ``group`` stores its bits in the high bits of PixelData (retired)."""
    data = ds.get((group << 16) | 0x3000)
    pos = ds.get((group << 16) | 0x0102)
    if data is None and (group << 16) | 0x0010 in ds:
        return True
    return pos is not None and pos.value not in (None, 0, "")


def remove_overlays(ds: Dataset) -> tuple[list[dict], bool]:
    """Delete every overlay group; returns (audit records, whether embedded bits were seen)."""
    changes: list[dict] = []
    embedded = False
    for g in overlay_groups(ds):
        embedded = embedded or embedded_overlay(ds, g)
        tags = list(ds.keys())
        for t in [t for t in tags if t >> 16 == g]:
            del ds[t]
        changes.append({"path": f"({g:04X},xxxx)", "tag": f"({g:04X},xxxx)", "action": "X",
                        "rule": "overlay-group"})
    return changes, embedded


def clear_high_bits(ds: Dataset) -> bool:
    """Zero (or sign-extend) the bits above BitsStored in native PixelData. True if changed."""
    if PIXEL_DATA not in ds or ds.file_meta.TransferSyntaxUID.is_compressed:
        return False
    alloc, stored = int(ds.get("BitsAllocated", 0)), int(ds.get("BitsStored", 0))
    if alloc not in (8, 16, 32) or not 0 < stored < alloc:
        return False
    high = int(ds.get("HighBit", stored - 1))
    if high != stored - 1:
        return False  # unusual bit layout: leave to the caller (quarantine)
    raw = ds.PixelData
    if not isinstance(raw, bytes | bytearray):
        from deid.errors import DeidError

        raise DeidError("embedded overlay bits in streamed (very large) pixel data: not cleared")
    dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32}[alloc]
    order = "<" if ds.file_meta.TransferSyntaxUID.is_little_endian else ">"
    arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder(order)).copy()
    mask = dtype((1 << stored) - 1)
    before = arr.copy()
    arr &= mask
    if int(ds.get("PixelRepresentation", 0)) == 1:  # signed: sign-extend from bit stored-1
        sign = dtype(1 << (stored - 1))
        neg = (arr & sign) != 0
        arr[neg] |= dtype(~int(mask) & ((1 << alloc) - 1))
    if np.array_equal(arr, before):
        return False
    ds.PixelData = arr.tobytes()
    return True
