"""OCR masking on images with text burned in at known boxes (deid.dicom.burn).

Every burned box must be masked, masked images must pass verify, untouched pixels stay
bit-identical. OCR on CPU is slow: the fast set is small frames; the rest is marked slow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deid.dicom.ocr as ocr  # sets EASYOCR_MODULE_PATH before easyocr is imported

pytest.importorskip("easyocr")
pytest.importorskip("easyocr_en_models")
torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from deid.dicom import burn  # noqa: E402
from deid.dicom.pixels import clean_pixels  # noqa: E402
from deid.dicom.regions import Box  # noqa: E402

OPTS = {"ocr": "always", "verify": True, "gpu": False}


def _boxes(out) -> list[Box]:
    return [Box(c["x"], c["y"], c["w"], c["h"]) for c in out.changes]


def _check_case(name: str, mode: str = "all-text", **extra) -> tuple:
    case = burn.build(name)
    before = burn.decoded(case.ds).copy()
    out = clean_pixels(case.ds, None, mode, {**OPTS, **extra})
    assert out.ok, out.reason
    assert out.scanned
    recall, share = burn.coverage(case, _boxes(out))
    assert recall == 1.0, f"{name}: burned boxes not all masked ({out.changes})"
    assert share < 0.5
    after = burn.decoded(case.ds)
    outside = np.ones(after.shape[:3], bool)
    for b in _boxes(out):
        outside[:, b.y:b.y2, b.x:b.x2] = False
    assert np.array_equal(after[outside], before[outside])  # untouched pixels identical
    assert case.ds.BurnedInAnnotation == "NO"
    for c in out.changes:  # audit: coordinates and reasons only
        assert set(c) == {"frame", "frames", "x", "y", "w", "h", "why"}
        assert not any(bt.text.split()[-1] in str(c) for bt in case.burned)
    return case, out, recall, share


@pytest.mark.parametrize("name", burn.FAST_CASES)
def test_burned_text_masked_fast(name):
    _check_case(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in burn.CASES if n not in burn.FAST_CASES])
def test_burned_text_masked_slow(name):
    _check_case(name)


def test_every_frame_scanned():
    """Text burned only into frame 1 of a 2-frame image is found and masked in all frames."""
    case, out, _, _ = _check_case("sc_2frame")
    assert out.frames_ocr + out.frames_proven == 2
    assert any(c["frame"] == 1 for c in out.changes)


def test_identical_frames_proven_not_guessed():
    """Frames pixel-identical to a scanned one are skipped with proof; a changed one is not."""
    case = burn.build("sc_2frame")
    arr = burn.decoded(case.ds).copy()
    # Three frames: 0 (no text), 1 (text), 2 = copy of 1, 3 = copy of 0 plus new text.
    f3 = arr[0].copy()
    more, _ = burn.burn(case.ds, f3[None], [("ID 5531", 150, 270)], 14)
    stack = np.stack([arr[0], arr[1], arr[1], f3])
    burn.set_native(case.ds, stack, "RGB")
    out = clean_pixels(case.ds, None, "all-text", OPTS)
    assert out.ok, out.reason
    assert out.frames_proven >= 1
    masked = _boxes(out)
    for target in (case.burned[0].box, more[0].box):
        assert any(m.intersection(target) == target.area for m in masked), masked


@pytest.mark.parametrize("mode", ["all-text", "phi"])
def test_verify_detects_unmasked_text(monkeypatch, mode):
    from deid.dicom import pixels
    from deid.text import Deidentifier

    monkeypatch.setattr(pixels, "_mask_native", lambda ds, g, boxes, opts: [])  # masks nothing
    case = burn.build("ct")
    out = clean_pixels(case.ds, None, mode, {**OPTS, "deidentifier": Deidentifier(ner=False)})
    assert not out.ok and out.reason.startswith("verify:")
    assert "DOE" not in out.reason and "4081" not in out.reason  # no text in reasons


def test_phi_mode_keeps_measurements():
    """phi mode: the name and the MRN go, '5.2 cm' and 'TGC' stay."""
    from deid.known import Known
    from deid.text import Deidentifier

    case = burn.build("ct")
    arr = burn.decoded(case.ds).copy()
    extra, _ = burn.burn(case.ds, arr, [("5.2 cm", 170, 120), ("TGC", 200, 200)], 15)
    burn.set_native(case.ds, arr)
    known = Known.from_mapping({"patient_id": "p1", "name": ["Jane Doe"], "mrn": ["40817723"]})
    out = clean_pixels(case.ds, known, "phi",
                       {**OPTS, "deidentifier": Deidentifier(ner=False)})
    assert out.ok, out.reason
    masked = _boxes(out)
    for bt in case.burned:  # name, MRN, date
        assert any(m.intersection(bt.box) == bt.box.area for m in masked), (bt.box, out.changes)
    for bt in extra:
        assert not any(m.intersection(bt.box) for m in masked), (bt.box, out.changes)
    assert any("ocr-phi" in c["why"] for c in out.changes)


def test_phi_mode_without_engine_masks_everything(monkeypatch):
    from deid.dicom import pixels

    def broken():
        raise ImportError("no text engine")

    monkeypatch.setattr(pixels, "_default_deidentifier", broken)
    case = burn.build("sc_rle")
    out = clean_pixels(case.ds, None, "phi", OPTS)
    assert out.ok and burn.coverage(case, _boxes(out))[0] == 1.0
    assert any("text engine unavailable" in n for n in out.notes)


def test_keep_syntax_after_ocr():
    case = burn.build("sc_rle")
    out = clean_pixels(case.ds, None, "all-text", {**OPTS, "keep_syntax": True})
    assert out.ok, out.reason
    assert case.ds.file_meta.TransferSyntaxUID.name == "RLE Lossless"
    assert burn.coverage(case, _boxes(out))[0] == 1.0


def test_reader_is_offline_and_cached():
    reader = ocr.get_reader(False)
    assert ocr.get_reader(False) is reader  # loaded once per process
    home = str(Path.home() / ".EasyOCR")
    assert not reader.user_network_directory.startswith(home)
    assert not reader.model_storage_directory.startswith(home)
    assert reader.download_enabled is False
    assert ocr.resolve_gpu(None) is torch.cuda.is_available()
