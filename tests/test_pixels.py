"""Pixel cleaning without OCR: rules, policy, decode/encode per transfer syntax, bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")

from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import (  # noqa: E402
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from deid.dicom.pixels import PixelOutcome, clean_pixels, merge_boxes  # noqa: E402
from deid.dicom.regions import (  # noqa: E402
    Box,
    RegionRule,
    RegionRules,
    load_region_rules,
    needs_ocr,
    parse_rules,
)
from deid.errors import RuleError  # noqa: E402

BOX = Box(2, 3, 20, 9)


def _read(name: str):
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} not installed")
    return pydicom.dcmread(path)


def _frames(ds) -> np.ndarray:
    arr = ds.pixel_array
    return arr[None] if int(ds.get("NumberOfFrames", 1) or 1) == 1 else arr


def _fixed_rules(box: Box = BOX) -> RegionRules:
    """The shipped policy plus one region rule that matches every image."""
    base = load_region_rules()
    return RegionRules(policy=base.policy, keep_text=base.keep_text,
                       regions=(RegionRule(id="test-box", boxes=(box,)),))


def _clean_fixed(ds, **opts) -> PixelOutcome:
    return clean_pixels(ds, None, "all-text", {"ocr": "never", "rules": _fixed_rules(), **opts})


# ---------------------------------------------------------------------------------- rules file

def test_shipped_regions_load():
    rules = load_region_rules()
    assert rules.regions and rules.policy.min_side > 0
    assert rules.keep("5.2 cm") == "measurement"
    assert rules.keep("TGC") == "ultrasound-controls"
    assert rules.keep("DOE^JANE") is None
    assert rules.keep("MRN 40817723") is None


@pytest.mark.parametrize("data,rule", [
    ({"provenance": "x", "ocr_policy": {}, "regions": [{"id": "a", "match": {"modality": "US"},
                                                         "boxes": [[0, 0, -1, 5]]}]}, "a"),
    ({"provenance": "x", "ocr_policy": {}, "regions": [{"id": "b", "match": {"colour": "red"},
                                                         "boxes": [[0, 0, 1, 5]]}]}, "b"),
    ({"provenance": "x", "ocr_policy": {}, "regions": [{"id": "c", "match": {"model": "("},
                                                         "boxes": [[0, 0, 1, 5]]}]}, "c"),
    ({"provenance": "x", "ocr_policy": {}, "keep_text": [{"id": "k", "pattern": "[" }]}, "k"),
])
def test_bad_rules_name_file_and_rule(tmp_path, data, rule):
    with pytest.raises(RuleError) as exc:
        parse_rules(tmp_path / "regions.yaml", data)
    assert "regions.yaml" in str(exc.value) and repr(rule) in str(exc.value)


def test_region_rule_matching():
    ds = _read("examples_palette.dcm")  # Philips US, 350x800
    ids = [r.id for r in load_region_rules().regions_for(ds)]
    assert ids == ["philips-cx50"] or all("philips" in i for i in ids)
    ct = _read("CT_small.dcm")
    assert load_region_rules().regions_for(ct) == []


# ---------------------------------------------------------------------------------- needs_ocr

def test_needs_ocr_policy():
    ct = _read("CT_small.dcm")  # ORIGINAL PRIMARY CT
    assert needs_ocr(ct, "auto") == (False, needs_ocr(ct, "auto")[1])
    assert needs_ocr(ct, "always")[0] is True
    ct.BurnedInAnnotation = "YES"
    assert needs_ocr(ct, "auto") == (True, "BurnedInAnnotation=YES")
    assert needs_ocr(ct, "never")[0] is False
    us = _read("US1_UNCR.dcm")
    assert needs_ocr(us, "auto")[0] is True
    mr = _read("MR_small.dcm")  # DERIVED SECONDARY MR
    assert needs_ocr(mr, "auto")[0] is True
    sc = _read("SC_rgb.dcm")
    assert needs_ocr(sc, "auto")[0] is True
    seg = _read("liver.dcm")
    assert needs_ocr(seg, "auto")[0] is False
    del sc.PixelData
    assert needs_ocr(sc, "always") == (False, "no pixel data")
    with pytest.raises(ValueError):
        needs_ocr(us, "sometimes")


def test_merge_boxes():
    merged = merge_boxes([Box(0, 0, 10, 10), Box(5, 5, 10, 10), Box(50, 50, 2, 2),
                          Box(15, 0, 2, 2)])
    assert Box(0, 0, 17, 15) in merged and Box(50, 50, 2, 2) in merged and len(merged) == 2


# ---------------------------------------------------------------------------------- per syntax

# (file, expected output syntax without keep_syntax, with keep_syntax)
SYNTAX_CASES = [
    ("CT_small.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.2"),
    ("MR_small_implicit.dcm", "1.2.840.10008.1.2", "1.2.840.10008.1.2"),
    ("MR_small_RLE.dcm", ExplicitVRLittleEndian, RLELossless),
    ("MR_small_jp2klossless.dcm", ExplicitVRLittleEndian, JPEG2000Lossless),
    ("MR_small_jpeg_ls_lossless.dcm", ExplicitVRLittleEndian, JPEGLSLossless),
    ("SC_rgb_rle.dcm", ExplicitVRLittleEndian, RLELossless),
    ("SC_rgb_rle_2frame.dcm", ExplicitVRLittleEndian, RLELossless),
    ("emri_small_RLE.dcm", ExplicitVRLittleEndian, RLELossless),
    ("emri_small_jpeg_2k_lossless.dcm", ExplicitVRLittleEndian, JPEG2000Lossless),
    ("US1_J2KR.dcm", ExplicitVRLittleEndian, JPEG2000Lossless),
    ("SC_rgb_jpeg_dcmtk.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("SC_rgb_dcmtk_+eb+cr.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("SC_rgb_jpeg_gdcm.dcm", ExplicitVRLittleEndian, "1.2.840.10008.1.2.4.70"),
    ("SC_ybr_full_uncompressed.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("examples_palette.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("SC_rgb_small_odd.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("SC_ybr_full_422_uncompressed.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("JPGExtended.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("JPEG2000.dcm", ExplicitVRLittleEndian, "1.2.840.10008.1.2.4.91"),
    ("GDCMJ2K_TextGBR.dcm", ExplicitVRLittleEndian, JPEG2000Lossless),
    ("SC_rgb_jls_lossy_line.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("JPEGLSNearLossless_16.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    ("rtdose_rle.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),  # no 32-bit RLE encoder
    ("SC_rgb_rle_16bit.dcm", ExplicitVRLittleEndian, RLELossless),
    ("OBXXXX1A_rle_2frame.dcm", ExplicitVRLittleEndian, RLELossless),
    ("gdcm-US-ALOKA-16.dcm", "1.2.840.10008.1.2", "1.2.840.10008.1.2"),
    ("SC_rgb_expb_16bit_2frame.dcm", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.2"),
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.1.99"),
    ("examples_ybr_color.dcm", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
]


@pytest.mark.parametrize("keep", [False, True], ids=["uncompressed", "keep_syntax"])
@pytest.mark.parametrize("name,plain_ts,keep_ts", SYNTAX_CASES, ids=[c[0] for c in SYNTAX_CASES])
def test_mask_per_transfer_syntax(name, plain_ts, keep_ts, keep):
    ds = _read(name)
    rules = _fixed_rules(Box(1, 1, 1, 1) if name == "SC_rgb_small_odd.dcm" else BOX)
    before = _frames(ds).copy()
    out = clean_pixels(ds, None, "all-text",
                       {"ocr": "never", "rules": rules, "keep_syntax": keep})
    assert out.ok, out.reason
    assert out.masked_boxes == 1 and out.changes[0]["why"] == "region:test-box"
    assert not out.scanned
    assert ds.BurnedInAnnotation == "NO"
    assert str(ds.file_meta.TransferSyntaxUID) == str(keep_ts if keep else plain_ts)
    # Re-read from bytes: the dataset must be self-consistent once written.
    from io import BytesIO

    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    back = pydicom.dcmread(BytesIO(buf.getvalue()))
    after = _frames(back)
    assert after.shape == before.shape
    b = rules.regions[0].boxes[0]
    inside = after[:, b.y:b.y2, b.x:b.x2]
    assert (inside == inside.reshape(-1)[0]).all()  # one constant
    outside = np.ones(after.shape[:3], bool)
    outside[:, b.y:b.y2, b.x:b.x2] = False
    assert np.array_equal(after[outside], before[outside])  # untouched pixels identical


def test_native_bytes_outside_box_identical():
    ds = _read("CT_small.dcm")
    raw = bytes(ds.PixelData)
    assert _clean_fixed(ds).ok
    a = np.frombuffer(raw, "<i2").reshape(128, 128)
    b = np.frombuffer(ds.PixelData, "<i2").reshape(128, 128)
    diff = np.argwhere(a != b)
    assert len(diff) > 0
    assert diff[:, 0].min() >= BOX.y and diff[:, 0].max() < BOX.y2
    assert diff[:, 1].min() >= BOX.x and diff[:, 1].max() < BOX.x2


def test_ybr_jpeg_becomes_rgb():
    ds = _read("SC_rgb_jpeg_dcmtk.dcm")
    assert ds.PhotometricInterpretation == "YBR_FULL"
    assert _clean_fixed(ds).ok
    assert ds.PhotometricInterpretation == "RGB" and ds.PlanarConfiguration == 0
    assert len(ds.PixelData) == ds.Rows * ds.Columns * 3


def test_palette_fill_is_darkest_index():
    from pydicom.pixels import apply_color_lut

    ds = _read("examples_palette.dcm")
    assert _clean_fixed(ds).ok
    rgb = apply_color_lut(ds.pixel_array, ds)
    assert rgb[BOX.y:BOX.y2, BOX.x:BOX.x2].max() == rgb.min()


def test_no_mask_no_change():
    ds = _read("CT_small.dcm")
    before = copy.deepcopy(ds)
    out = clean_pixels(ds, None, "all-text", {"ocr": "auto"})  # original CT: not scanned
    assert out.ok and not out.scanned and out.masked_boxes == 0
    assert ds == before


# ---------------------------------------------------------------------------------- bad input

def test_short_native_pixel_data_fails():
    ds = _read("CT_small.dcm")
    ds.PixelData = ds.PixelData[:-100]
    out = _clean_fixed(ds)
    assert not out.ok and "length" in out.reason


def test_long_native_pixel_data_fails():
    ds = _read("CT_small.dcm")
    ds.PixelData = ds.PixelData + b"\x00" * 64
    out = _clean_fixed(ds)
    assert not out.ok and "length" in out.reason


def test_corrupt_fragments_fail():
    from pydicom.encaps import encapsulate

    ds = _read("MR_small_jp2klossless.dcm")
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 60])
    out = _clean_fixed(ds)
    assert not out.ok and "cannot decode" in out.reason and "JPEG 2000" in out.reason


def test_real_corrupt_jpeg_fails_naming_plugins():
    ds = _read("JPEG-lossy.dcm")  # 12-bit JPEG extended with a misplaced scan marker
    out = _clean_fixed(ds)
    assert not out.ok and "cannot decode frame 0" in out.reason
    assert "pylibjpeg" in out.reason and "gdcm" in out.reason


def test_unknown_codec_fails_naming_syntax():
    ds = _read("MR_small_RLE.dcm")
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder
    out = _clean_fixed(ds)
    assert not out.ok and "MPEG2" in out.reason


def test_burned_in_yes_without_ocr_fails():
    ds = _read("CT_small.dcm")
    ds.BurnedInAnnotation = "YES"
    out = clean_pixels(ds, None, "all-text", {"ocr": "never"})
    assert not out.ok and "BurnedInAnnotation" in out.reason


def test_one_bit_cannot_be_masked():
    ds = _read("liver.dcm")
    out = clean_pixels(ds, None, "all-text", {"ocr": "always"})
    assert not out.ok and "BitsAllocated=1" in out.reason


def test_missing_attributes_fail():
    ds = _read("CT_small.dcm")
    del ds.Rows
    out = _clean_fixed(ds)
    assert not out.ok and "Rows" in out.reason


def test_bad_arguments_raise():
    ds = _read("CT_small.dcm")
    with pytest.raises(ValueError):
        clean_pixels(ds, None, "some-text")
    with pytest.raises(ValueError):
        clean_pixels(ds, None, "all-text", {"colour": 1})
    with pytest.raises(ValueError):
        clean_pixels(ds, None, "all-text", {"ocr": "maybe"})


def test_no_pixel_data_is_ok():
    ds = _read("rtplan.dcm")
    out = clean_pixels(ds, None)
    assert out.ok and not out.scanned and out.scan_reason == "no pixel data"


# ---------------------------------------------------------------------------------- phi decisions

class _Span:
    def __init__(self, label: str) -> None:
        self.label = label


class _StubEngine:
    """Flags text containing 'SMITH' as a PATIENT (the real engine is tested in test_ocr)."""

    def detect(self, text, known=None):
        return [_Span("PATIENT")] if "SMITH" in text.upper() else []


def test_phi_text_patterns():
    rules = load_region_rules()
    assert rules.phi("DOE^JANE") == "dicom-person-name"
    assert rules.phi("Acc 99120451") == "identifier-label"
    assert rules.phi("4081 7723") == "long-number"
    for text in ("5.2 cm", "TGC", "LYMPH NODE", "CINE 0118", "MI 0.8"):
        assert rules.phi(text) is None, text


def test_fuzzy_known_tolerates_ocr_errors():
    from deid.dicom.pixels import _fuzzy_contains, _known_parts
    from deid.known import Known

    parts = _known_parts(Known.from_mapping({"patient_id": "p", "name": ["Jane Doe"],
                                             "mrn": ["40817723"]}))
    assert _fuzzy_contains("DOECIANE", parts)           # ^ read as C, J as I
    assert _fuzzy_contains("MRNT4081i717i23TR", parts)  # digits with noise
    assert not _fuzzy_contains("LYMPH NODE", parts)
    assert not _fuzzy_contains("5.2 cm", parts)


def test_phi_judge_decisions():
    from deid.dicom.pixels import DEFAULT_OPTIONS, _PhiJudge

    ds = _read("examples_palette.dcm")  # has SequenceOfUltrasoundRegions
    regions = [it for it in ds.SequenceOfUltrasoundRegions]
    x0, y0 = int(regions[0].RegionLocationMinX0), int(regions[0].RegionLocationMinY0)
    inside = Box(x0 + 5, y0 + 5, 40, 12)
    outside = Box(0, 0, 40, 12) if y0 > 12 else Box(0, ds.Rows - 12, 40, 12)
    judge = _PhiJudge(ds, None, load_region_rules(),
                      {**DEFAULT_OPTIONS, "deidentifier": _StubEngine()})
    assert judge.why(outside, "5.2 cm", 1.0) == "ocr-outside-us-region"
    assert judge.why(inside, "5.2 cm", 1.0) is None
    assert judge.why(inside, "TGC", 0.99) is None
    assert judge.why(inside, "Mr Smith", 0.99) == "ocr-phi:PATIENT"
    assert judge.why(inside, "DOE^JANE", 0.99) == "ocr-phi-pattern:dicom-person-name"
    assert judge.why(inside, "LIVER", 0.3) == "ocr-low-confidence"
    assert judge.why(inside, "LIVER", 0.95) is None
    assert judge.why(inside, "  ", 0.95) == "ocr-unreadable"


def test_large_frame_memory_is_bounded():
    """A 4096x4096 16-bit frame masked by a region rule: peak Python allocations stay within a
    small multiple of the pixel data (one working copy plus one frame), not a float copy."""
    import tracemalloc

    ds = _read("CT_small.dcm")
    big = np.tile(ds.pixel_array, (32, 32))  # 4096 x 4096 real CT pixels
    ds.Rows, ds.Columns = big.shape
    ds.PixelData = big.astype("<i2").tobytes()
    size = len(ds.PixelData)
    tracemalloc.start()
    out = _clean_fixed(ds)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.ok, out.reason
    assert peak < 4 * size, (peak, size)
