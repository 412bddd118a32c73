"""Rules for burned-in text: when to OCR a file, known burned-in regions, text that may stay.

All of it is data in ``rules/dicom/regions.yaml``; this module validates and applies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from deid.rulefile import load_yaml, require, rules_path

OCR_POLICIES = ("always", "auto", "never")
_MATCH_KEYS = {"modality", "manufacturer", "model", "series_description", "rows", "columns",
               "image_type"}


@dataclass(frozen=True)
class Box:
    """A rectangle in pixel coordinates (x, y = top-left; w, h > 0)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return self.w * self.h

    def clip(self, cols: int, rows: int) -> Box | None:
        x1, y1 = max(0, self.x), max(0, self.y)
        x2, y2 = min(cols, self.x2), min(rows, self.y2)
        if x2 <= x1 or y2 <= y1:
            return None
        return Box(x1, y1, x2 - x1, y2 - y1)

    def grow(self, margin: int) -> Box:
        return Box(self.x - margin, self.y - margin, self.w + 2 * margin, self.h + 2 * margin)

    def intersection(self, other: Box) -> int:
        w = min(self.x2, other.x2) - max(self.x, other.x)
        h = min(self.y2, other.y2) - max(self.y, other.y)
        return w * h if w > 0 and h > 0 else 0

    def union(self, other: Box) -> Box:
        x1, y1 = min(self.x, other.x), min(self.y, other.y)
        x2, y2 = max(self.x2, other.x2), max(self.y2, other.y2)
        return Box(x1, y1, x2 - x1, y2 - y1)


@dataclass(frozen=True)
class RegionRule:
    id: str
    boxes: tuple[Box, ...]
    modality: str | None = None
    manufacturer: re.Pattern[str] | None = None
    model: re.Pattern[str] | None = None
    series_description: re.Pattern[str] | None = None
    rows: frozenset[int] | None = None
    columns: frozenset[int] | None = None
    image_type: tuple[str, ...] = ()
    source: str = ""

    def matches(self, ds: Any) -> bool:
        if self.modality and str(ds.get("Modality", "")).upper() != self.modality:
            return False
        for pat, kw in ((self.manufacturer, "Manufacturer"),
                        (self.model, "ManufacturerModelName"),
                        (self.series_description, "SeriesDescription")):
            if pat is not None and not pat.search(str(ds.get(kw, "") or "")):
                return False
        if self.rows is not None and int(ds.get("Rows", 0) or 0) not in self.rows:
            return False
        if self.columns is not None and int(ds.get("Columns", 0) or 0) not in self.columns:
            return False
        if self.image_type:
            have = {str(v).upper() for v in _multi(ds.get("ImageType"))}
            if not all(t in have for t in self.image_type):
                return False
        return True


@dataclass(frozen=True)
class OcrPolicy:
    text_modalities: frozenset[str]
    acquisition_modalities: frozenset[str]
    capture_sop_prefixes: tuple[str, ...]
    derived_image_types: frozenset[str]
    min_side: int


@dataclass(frozen=True)
class RegionRules:
    policy: OcrPolicy
    keep_text: tuple[tuple[str, re.Pattern[str]], ...]
    regions: tuple[RegionRule, ...] = field(default=())
    phi_text: tuple[tuple[str, re.Pattern[str]], ...] = field(default=())

    def regions_for(self, ds: Any) -> list[RegionRule]:
        return [r for r in self.regions if r.matches(ds)]

    def phi(self, text: str) -> str | None:
        """The id of the first phi_text rule found in the text, else None."""
        t = " ".join(text.split())
        for rid, pat in self.phi_text:
            if pat.search(t):
                return rid
        return None

    def keep(self, text: str) -> str | None:
        """The id of the keep_text rule the whole (stripped) text matches, else None."""
        t = " ".join(text.split())
        for rid, pat in self.keep_text:
            if pat.fullmatch(t):
                return rid
        return None


def _multi(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


def _regex(path: Path, rid: str, value: Any, what: str) -> re.Pattern[str]:
    require(isinstance(value, str) and value != "", path, rid, f"{what} must be a non-empty regex")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        require(False, path, rid, f"invalid {what} regex: {exc}")
        raise  # unreachable


def _ints(path: Path, rid: str, value: Any, what: str) -> frozenset[int]:
    vals = value if isinstance(value, list) else [value]
    require(all(isinstance(v, int) and v > 0 for v in vals), path, rid,
            f"{what} must be a positive integer or a list of them")
    return frozenset(vals)


def _str_list(path: Path, key: str, value: Any) -> list[str]:
    require(isinstance(value, list) and all(isinstance(v, str) for v in value), path, key,
            "must be a list of strings")
    return list(value)


def _parse_region(path: Path, i: int, raw: Any) -> RegionRule:
    require(isinstance(raw, dict), path, f"regions[{i}]", "must be a mapping")
    rid = raw.get("id")
    require(isinstance(rid, str) and rid != "", path, f"regions[{i}]", "needs an id")
    unknown = set(raw) - {"id", "match", "boxes", "source"}
    require(not unknown, path, rid, f"unknown keys {sorted(unknown)}")
    match = raw.get("match") or {}
    require(isinstance(match, dict) and match, path, rid, "needs a non-empty match mapping")
    bad = set(match) - _MATCH_KEYS
    require(not bad, path, rid, f"unknown match keys {sorted(bad)}")
    boxes_raw = raw.get("boxes")
    require(isinstance(boxes_raw, list) and boxes_raw, path, rid, "needs a list of boxes")
    boxes = []
    for b in boxes_raw:
        ok = (isinstance(b, list) and len(b) == 4 and all(isinstance(v, int) for v in b)
              and b[0] >= 0 and b[1] >= 0 and b[2] > 0 and b[3] > 0)
        require(ok, path, rid, "each box is [x, y, w, h] with x,y >= 0 and w,h > 0")
        boxes.append(Box(*b))
    itype = match.get("image_type", [])
    require(isinstance(itype, list) and all(isinstance(v, str) for v in itype), path, rid,
            "image_type must be a list of strings")
    mod = match.get("modality")
    require(mod is None or (isinstance(mod, str) and mod == mod.upper()), path, rid,
            "modality must be an upper-case string")
    return RegionRule(
        id=rid,
        boxes=tuple(boxes),
        modality=mod,
        manufacturer=_regex(path, rid, match["manufacturer"], "manufacturer")
        if "manufacturer" in match else None,
        model=_regex(path, rid, match["model"], "model") if "model" in match else None,
        series_description=_regex(path, rid, match["series_description"], "series_description")
        if "series_description" in match else None,
        rows=_ints(path, rid, match["rows"], "rows") if "rows" in match else None,
        columns=_ints(path, rid, match["columns"], "columns") if "columns" in match else None,
        image_type=tuple(v.upper() for v in itype),
        source=str(raw.get("source", "")),
    )


def parse_rules(path: Path, data: Any) -> RegionRules:
    """Validate the parsed YAML of a regions file; errors name the file and rule."""
    require(isinstance(data, dict), path, None, "top level must be a mapping")
    require(isinstance(data.get("provenance"), str), path, None, "needs a provenance string")
    pol = data.get("ocr_policy")
    require(isinstance(pol, dict), path, "ocr_policy", "must be a mapping")
    min_side = pol.get("min_side", 16)
    require(isinstance(min_side, int) and min_side >= 1, path, "ocr_policy.min_side",
            "must be a positive integer")
    policy = OcrPolicy(
        text_modalities=frozenset(_str_list(path, "ocr_policy.text_modalities",
                                            pol.get("text_modalities", []))),
        acquisition_modalities=frozenset(_str_list(path, "ocr_policy.acquisition_modalities",
                                                   pol.get("acquisition_modalities", []))),
        capture_sop_prefixes=tuple(_str_list(path, "ocr_policy.capture_sop_prefixes",
                                             pol.get("capture_sop_prefixes", []))),
        derived_image_types=frozenset(v.upper() for v in _str_list(
            path, "ocr_policy.derived_image_types", pol.get("derived_image_types", []))),
        min_side=min_side,
    )
    pats: dict[str, list[tuple[str, re.Pattern[str]]]] = {"keep_text": [], "phi_text": []}
    for section, out in pats.items():
        items = data.get(section) or []
        require(isinstance(items, list), path, section, "must be a list")
        for i, k in enumerate(items):
            require(isinstance(k, dict) and isinstance(k.get("id"), str), path,
                    f"{section}[{i}]", "needs an id")
            out.append((k["id"], _regex(path, k["id"], k.get("pattern"), "pattern")))
    keep = pats["keep_text"]
    regions_raw = data.get("regions") or []
    require(isinstance(regions_raw, list), path, "regions", "must be a list")
    regions = tuple(_parse_region(path, i, r) for i, r in enumerate(regions_raw))
    ids = [r.id for r in regions]
    dup = {x for x in ids if ids.count(x) > 1}
    require(not dup, path, sorted(dup)[0] if dup else None, "duplicate region id")
    return RegionRules(policy=policy, keep_text=tuple(keep), regions=regions,
                       phi_text=tuple(pats["phi_text"]))


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> RegionRules:
    p = Path(path)
    return parse_rules(p, load_yaml(p))


def load_region_rules(path: str | Path | None = None) -> RegionRules:
    """Load and validate ``rules/dicom/regions.yaml`` (or another file of the same shape)."""
    p = Path(path) if path is not None else rules_path("dicom", "regions.yaml")
    mtime = p.stat().st_mtime if p.exists() else 0.0
    return _load(str(p), mtime)


def needs_ocr(ds: Any, policy: str = "auto", rules: RegionRules | None = None) -> tuple[bool, str]:
    """Whether the pixel data of ``ds`` should be scanned for burned-in text, and why.

    ``policy``: ``always`` | ``auto`` | ``never``. The reason never contains header values other
    than modality, SOP class UID and the BurnedInAnnotation/ImageType flags.
    """
    if policy not in OCR_POLICIES:
        raise ValueError(f"ocr policy must be one of {OCR_POLICIES}, not {policy!r}")
    if "PixelData" not in ds:
        return False, "no pixel data"
    if policy == "never":
        return False, "ocr=never"
    if policy == "always":
        return True, "ocr=always"
    pol = (rules or load_region_rules()).policy
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if min(rows, cols) < pol.min_side:
        return False, f"frame smaller than {pol.min_side} px cannot carry readable text"
    if int(ds.get("BitsAllocated", 8) or 8) == 1:
        return False, "1-bit (binary/segmentation) pixel data"
    burned = str(ds.get("BurnedInAnnotation", "") or "").upper()
    if burned == "YES":
        return True, "BurnedInAnnotation=YES"
    sop = str(ds.get("SOPClassUID", "") or "")
    for prefix in pol.capture_sop_prefixes:
        if sop.startswith(prefix):
            return True, f"SOP class {sop} (capture/ultrasound/visible light)"
    modality = str(ds.get("Modality", "") or "").upper()
    if modality in pol.text_modalities:
        return True, f"modality {modality} often carries burned-in text"
    itypes = {str(v).upper() for v in _multi(ds.get("ImageType"))}
    derived = sorted(itypes & pol.derived_image_types)
    if derived:
        return True, f"ImageType {'/'.join(derived)}"
    if modality in pol.acquisition_modalities:
        return False, f"original {modality} acquisition (BurnedInAnnotation={burned or 'absent'})"
    # Unknown modality with no evidence either way: recall first.
    return True, f"modality {modality or 'absent'} not known to be text-free"
