"""Header de-identification of single datasets: actions, options, consistency, markers."""

from __future__ import annotations

import sys
import types
from datetime import date, timedelta

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from deid.dicom.deidentify import DicomDeidentifier, Quarantine, Skip
from deid.dicom.header import HeaderEngine
from deid.dicom.leakcheck import find_leaks
from deid.dicom.profile import Settings
from deid.dicom.table import load_table
from deid.errors import DeidError
from deid.key import Key
from deid.known import Known

CHARSET_FILES = ["chrJapMulti.dcm", "chrH31.dcm", "chrKoreanMulti.dcm", "chrGreek.dcm",
                 "chrHbrw.dcm", "chrRuss.dcm", "chrArab.dcm", "chrX1.dcm"]


def load(name: str) -> Dataset:
    return dcmread(get_testdata_file(name, download=False))


def deid(key: Key, ds: Dataset, options=(), cleaner=None, **kw):
    d = DicomDeidentifier(key, Settings(options=frozenset(options), **kw), cleaner=cleaner,
                          ner=False)
    return d.deidentify(ds)


def tags(ds: Dataset) -> list:
    """The tags of a dataset (iterating a Dataset yields elements, not tags)."""
    return list(ds.keys())


def codes(ds: Dataset) -> list[str]:
    return [it.CodeValue for it in ds.DeidentificationMethodCodeSequence]


def test_basic_profile_on_ct(key):
    ds = load("CT_small.dcm")
    orig = load("CT_small.dcm")
    out = deid(key, ds)
    pseudo = key.pseudonym(orig.PatientID)
    assert ds.PatientID == pseudo and str(ds.PatientName) == pseudo
    assert ds.SOPInstanceUID == key.uid(orig.SOPInstanceUID)
    assert ds.StudyInstanceUID == key.uid(orig.StudyInstanceUID)
    assert ds.FrameOfReferenceUID == key.uid(orig.FrameOfReferenceUID)
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.SOPClassUID == orig.SOPClassUID  # not in the table: kept
    assert ds.StudyDate == "" and ds.PatientBirthDate == ""  # Z
    assert ds.InstitutionName == "ANONYMIZED"  # X/Z/D -> D
    assert ds.SeriesDate == "19000101" and ds.AcquisitionDate == ""  # X/D -> D, X/Z -> Z
    assert ds.Manufacturer == orig.Manufacturer  # not in the table: kept
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.LongitudinalTemporalInformationModified == "REMOVED"
    assert codes(ds) == ["113100"]
    assert ds.DeidentificationMethodCodeSequence[0].CodingSchemeDesignator == "DCM"
    assert out.applied == []
    assert all("value" not in c for c in out.changes)
    assert np.array_equal(ds.pixel_array, orig.pixel_array)


def test_modified_dates_use_the_text_engine_offset(key):
    ds, orig = load("CT_small.dcm"), load("CT_small.dcm")
    deid(key, ds, ["retain_long_modified_dates"])
    off = key.day_offset(orig.PatientID)
    want = date(int(orig.StudyDate[:4]), int(orig.StudyDate[4:6]), int(orig.StudyDate[6:]))
    want += timedelta(days=off)
    assert ds.StudyDate == want.strftime("%Y%m%d")
    assert ds.StudyTime == orig.StudyTime  # TM untouched
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert codes(ds) == ["113100", "113107"]


def test_full_dates_and_retain_uids(key):
    ds, orig = load("CT_small.dcm"), load("CT_small.dcm")
    deid(key, ds, ["retain_long_full_dates", "retain_uids"])
    assert ds.StudyDate == orig.StudyDate
    assert ds.SOPInstanceUID == orig.SOPInstanceUID
    assert ds.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert codes(ds) == ["113100", "113106", "113110"]


@pytest.mark.parametrize("options", [
    (), ("retain_device_identity",), ("retain_patient_characteristics", "retain_uids"),
    ("retain_institution_identity", "retain_safe_private", "retain_long_modified_dates"),
])
def test_method_code_sequence_lists_exactly_the_options(key, options):
    ds = load("MR_small.dcm")
    deid(key, ds, options)
    meanings = {
        "retain_device_identity": "113109", "retain_patient_characteristics": "113108",
        "retain_uids": "113110", "retain_institution_identity": "113112",
        "retain_safe_private": "113111", "retain_long_modified_dates": "113107",
    }
    assert codes(ds) == ["113100"] + sorted(meanings[o] for o in options)
    assert ds.DeidentificationMethod[0].startswith("deid ")


def test_device_identity_and_patient_characteristics(key):
    ds, orig = load("CT_small.dcm"), load("CT_small.dcm")
    deid(key, ds)
    assert "PatientWeight" not in ds
    ds = load("CT_small.dcm")
    ds.PatientAge = "095Y"
    deid(key, ds, ["retain_patient_characteristics", "retain_device_identity"])
    assert ds.PatientWeight == orig.PatientWeight
    assert ds.PatientAge == "090Y"  # HIPAA: ages over 89
    assert ds.StationName == orig.StationName


def test_private_tags_removed_unless_safe(key):
    ds = load("CT_small.dcm")
    ds.private_block(0x0019, "GEMS_ACQU_01", create=True).add_new(0x23, "DS", "12.5")
    ds.private_block(0x0019, "GEMS_ACQU_01").add_new(0x10, "LO", "Some Private Name")
    ds.private_block(0x0029, "SOMEVENDOR", create=True).add_new(0x01, "LO", "John Doe")
    d0 = load("CT_small.dcm")
    d0.update(ds)
    deid(key, d0)
    assert not any(t.is_private for t in tags(d0))
    deid(key, ds, ["retain_safe_private"])
    kept = {int(t) for t in tags(ds) if t.is_private}
    assert 0x00190010 in kept and 0x00191023 in kept
    assert 0x00191010 not in kept and not any(t >> 16 == 0x0029 for t in kept)


def test_pn_not_in_table_gets_a_dummy_and_unknown_public_tags_go(key):
    table = load_table()
    assert table.row(0x00142006) is None
    ds = load("CT_small.dcm")
    ds.add_new(0x00142006, "PN", "Smith^Anna")  # Evaluator Name: a PN absent from the table
    ds.add_new(0x00101005, "PN", "Roe^Mary")  # Patient's Birth Name (in the table)
    ds.add_new(0x00089999, "LO", "Harmless?")  # not in the data dictionary at all
    out = deid(key, ds)
    assert str(ds[0x00142006].value) == key.pseudonym("Smith^Anna", prefix="PERSON")
    assert "PatientBirthName" not in ds or "Roe" not in str(ds.PatientBirthName)
    assert 0x00089999 not in ds
    rules = {c["tag"]: c["rule"] for c in out.changes}
    assert rules["(0014,2006)"] == "project:PN" and rules["(0008,9999)"] == "unknown-public"


def test_sequences_are_walked_at_any_depth(key):
    ds = load("CT_small.dcm")
    inner = Dataset()
    inner.ReferencedSOPInstanceUID = "1.2.3.4.5"
    inner.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    inner.PatientName = "Deep^Person"
    mid = Dataset()
    mid.ReferencedImageSequence = Sequence([inner])
    mid.PerformedProcedureStepDescription = "secret text"
    ds.ReferencedStudySequence = Sequence([mid])
    deid(key, ds)
    # X/Z -> Z: Referenced Study Sequence becomes empty
    assert len(ds.ReferencedStudySequence) == 0
    ds = load("CT_small.dcm")
    ds.SourceImageSequence = Sequence([inner])  # X/Z/U* -> U: kept, UIDs remapped
    deid(key, ds)
    item = ds.SourceImageSequence[0]
    assert item.ReferencedSOPInstanceUID == key.uid("1.2.3.4.5")
    assert item.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    assert "Deep" not in str(item.PatientName)


def test_uids_consistent_across_study_and_keys(key):
    a, b = load("MR_small.dcm"), load("MR_small_RLE.dcm")
    assert a.StudyInstanceUID == b.StudyInstanceUID
    deid(key, a)
    deid(key, b)
    assert a.StudyInstanceUID == b.StudyInstanceUID
    c = load("MR_small.dcm")
    deid(Key(b"another-key-0123456789abcdef"), c)
    assert c.StudyInstanceUID != a.StudyInstanceUID
    assert c.PatientID != a.PatientID


def test_overlays_removed_and_embedded_bits_cleared(key):
    ds = load("CT_small.dcm")
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
    ds.PixelPaddingValue = 0
    arr = (ds.pixel_array.astype(np.int32) & 0x0FFF).astype(np.uint16)
    clean = arr.copy()
    arr[0, :50] |= 1 << 12  # an embedded overlay bit plane in bit 12
    ds.PixelData = arr.tobytes()
    ds.add_new(0x60000010, "US", 128)
    ds.add_new(0x60000011, "US", 128)
    ds.add_new(0x60000102, "US", 12)  # Overlay Bit Position: embedded
    ds.add_new(0x60020010, "US", 2)
    ds.add_new(0x60023000, "OW", b"\xff\xff")
    deid(key, ds)
    assert not any(0x6000 <= (t >> 16) <= 0x601E for t in tags(ds))
    got = np.frombuffer(ds.PixelData, dtype="<u2").reshape(clean.shape)
    assert np.array_equal(got, clean)


def test_encapsulated_pixels_copied_byte_for_byte(key):
    ds, orig = load("JPEG2000.dcm"), load("JPEG2000.dcm")
    deid(key, ds, burned_in="warn")
    assert ds.PixelData == orig.PixelData


def test_burned_in_guard(key):
    assert pytest.raises(Quarantine, deid, key, load("US1_J2KR.dcm")).match("burned-in")
    with pytest.raises(Skip):
        deid(key, load("US1_J2KR.dcm"), burned_in="skip")
    out = deid(key, load("US1_J2KR.dcm"), burned_in="warn")
    assert out.warnings and "burned-in" in out.warnings[0]
    ds = load("US1_J2KR.dcm")
    ds.BurnedInAnnotation = "NO"
    assert deid(key, ds).warnings == []
    ds = load("CT_small.dcm")
    ds.BurnedInAnnotation = "YES"
    with pytest.raises(Quarantine):
        deid(key, ds)


def test_clean_pixel_data_interface(key, monkeypatch):
    calls = []

    class Result:
        ok, reason, masked_boxes, scanned = True, None, 1, True
        changes = [{"action": "mask"}]

    def clean_pixels(ds, known, mode, options):
        calls.append((str(ds.PatientName), known, mode))  # before header actions
        assert options is None
        return Result()

    fake = types.ModuleType("deid.dicom.pixels")
    fake.clean_pixels = clean_pixels
    monkeypatch.setitem(sys.modules, "deid.dicom.pixels", fake)
    ds = load("US1_J2KR.dcm")
    name = str(ds.PatientName)
    out = deid(key, ds, ["clean_pixel_data"])
    assert calls and calls[0][0] == name and calls[0][2] == "all-text"
    known = calls[0][1]
    assert isinstance(known, Known) and known.detect(f"seen {name.replace('^', ' ')}")
    assert codes(ds) == ["113100", "113101"] and out.pixel["masked_boxes"] == 1
    Result.ok, Result.reason = False, "text left"
    with pytest.raises(Quarantine, match="text left"):
        deid(key, load("US1_J2KR.dcm"), ["clean_pixel_data"])


def test_clean_pixel_data_refused_without_pixels_module(key, monkeypatch):
    monkeypatch.setitem(sys.modules, "deid.dicom.pixels", None)
    with pytest.raises(DeidError, match="deid.dicom.pixels"):
        DicomDeidentifier(key, Settings(options=frozenset({"clean_pixel_data"})))


def test_dicomdir_is_skipped(key):
    with pytest.raises(Skip, match="DICOMDIR"):
        deid(key, load("DICOMDIR"))


def test_subject_map(key):
    ds = load("CT_small.dcm")
    pid = ds.PatientID
    deid(key, ds, subject_map={pid: "SUBJ-007"})
    assert ds.PatientID == "SUBJ-007" and str(ds.PatientName) == "SUBJ-007"
    with pytest.raises(Quarantine, match="subject map"):
        deid(key, load("CT_small.dcm"), subject_map={"someone-else": "S1"})


def test_structured_report_basic_and_clean(key):
    ds = load("test-SR.dcm")
    deid(key, ds)
    texts = [it.TextValue for it in ds.iterall() if False] or [
        e.value for e in ds.iterall() if e.keyword == "TextValue"]
    assert texts and all(t == "ANONYMIZED" for t in texts)
    seen: list[str] = []

    def cleaner(text, known, patient):
        seen.append(text)
        return "[cleaned]"

    ds, orig = load("test-SR.dcm"), load("test-SR.dcm")
    deid(key, ds, ["clean_structured_content", "retain_long_modified_dates"], cleaner=cleaner)
    texts = [e.value for e in ds.iterall() if e.keyword == "TextValue"]
    assert texts and all(t == "[cleaned]" for t in texts) and seen
    uids_in = [e.value for e in orig.iterall() if e.keyword == "UID"]
    uids_out = [e.value for e in ds.iterall() if e.keyword == "UID"]
    assert uids_out == [key.uid(u) for u in uids_in]
    names_out = [str(e.value) for e in ds.iterall() if e.keyword == "PersonName"]
    names_in = [str(e.value) for e in orig.iterall() if e.keyword == "PersonName"]
    assert len(names_out) == len(names_in) and not set(names_in) & set(names_out)
    assert codes(ds) == ["113100", "113104", "113107"]


def test_clean_descriptors_with_the_text_engine(key):
    pytest.importorskip("deid.text")
    ds = load("CT_small.dcm")
    ds.PatientName = "Zebulon^Quixote"
    ds.StudyDescription = "CT chest for Quixote follow-up"
    ds.ImageComments = "Called Zebulon Quixote at 555-867-5309"
    deid(key, ds, ["clean_descriptors"])
    assert "Quixote" not in ds.StudyDescription and "CT chest" in ds.StudyDescription
    assert "Quixote" not in ds.ImageComments and "867-5309" not in ds.ImageComments
    assert codes(ds) == ["113100", "113105"]


@pytest.mark.parametrize("name", CHARSET_FILES)
def test_character_sets_round_trip_without_leaks(key, tmp_path, name):
    found = get_charset_files(name)
    assert found, f"pydicom charset test file {name} missing"
    src = found[0]
    ds = dcmread(src)
    deid(key, ds, burned_in="warn")
    out = tmp_path / "out.dcm"
    ds.save_as(out, enforce_file_format=True)
    back = dcmread(out)
    assert back.PatientName == ds.PatientName
    assert find_leaks(dcmread(src), str(out), HeaderEngine(key, frozenset())) == []


def test_instance_uids_absent_from_the_table_are_remapped(key):
    ds = load("CT_small.dcm")
    ds.add_new(0x00081167, "UI", "1.2.3.99.1")  # Multi-frame Source SOP Instance UID
    ds.add_new(0x00209312, "UI", "1.2.3.99.2")  # Volume Frame of Reference UID
    ds.add_new(0x0008001A, "UI", "1.2.840.10008.5.1.4.1.1.2")  # Related General SOP Class UID
    deid(key, ds)
    assert ds[0x00081167].value == key.uid("1.2.3.99.1")
    assert ds[0x00209312].value == key.uid("1.2.3.99.2")
    assert ds[0x0008001A].value == "1.2.840.10008.5.1.4.1.1.2"


def test_non_ascii_cleaned_text_sets_utf8(key, tmp_path):
    ds = load("CT_small.dcm")
    del ds.SpecificCharacterSet
    ds.StudyDescription = "CT thorax"
    deid(key, ds, ["clean_descriptors"], cleaner=lambda t, k, p: t + " Ünïcode")
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    ds.save_as(tmp_path / "o.dcm", enforce_file_format=True)
    assert dcmread(tmp_path / "o.dcm").StudyDescription == "CT thorax Ünïcode"


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "test-SR.dcm", "rtplan.dcm",
                                  "waveform_ecg.dcm"])
def test_research_profile_with_text_engine_leaks_no_identifier(key, tmp_path, name):
    pytest.importorskip("deid.text")
    from deid.dicom.profile import load_profile

    opts = frozenset(load_profile("research")["options"])
    ds = load(name)
    ds.PatientName = "Quimby^Rosalind"
    ds.PatientID = "MRN4417729"
    ds.StudyDescription = "Rosalind Quimby MRN4417729 follow-up"
    ds.ImageComments = "Seen by Quimby on 01/19/2004"
    src = tmp_path / "in.dcm"
    ds.save_as(src, enforce_file_format=True)
    work = dcmread(src)
    deid(key, work, opts)
    out = tmp_path / "out.dcm"
    work.save_as(out, enforce_file_format=True)
    leaks = find_leaks(dcmread(src), str(out), HeaderEngine(key, opts), cleaned_text_ok=True)
    assert leaks == []
    text = out.read_bytes()
    assert b"Quimby" not in text and b"4417729" not in text


def test_real_pixels_module_is_called_through_the_interface(key):
    pixels = pytest.importorskip("deid.dicom.pixels")
    assert hasattr(pixels, "clean_pixels")
    ds = load("CT_small.dcm")  # CT: the pixel module decides whether OCR is needed
    out = deid(key, ds, ["clean_pixel_data"], pixel_options={"ocr": "never"})
    # nothing was examined, so Clean Pixel Data (113101) must not be claimed
    assert out.pixel is not None and not out.pixel["scanned"] and "113101" not in codes(ds)
    with pytest.raises(DeidError, match="pixel cleaning"):
        deid(key, load("CT_small.dcm"), ["clean_pixel_data"], pixel_options={"nope": 1})


def test_dates_absent_from_the_table_follow_the_date_options(key):
    def run(options):
        ds = load("CT_small.dcm")
        ds.add_new(0x00144076, "DA", "20040119")  # Procedure Creation Date (not in the table)
        deid(key, ds, options)
        return ds[0x00144076].value

    pid = load("CT_small.dcm").PatientID
    assert run(()) == "19000101"
    assert run(["retain_long_full_dates"]) == "20040119"
    shifted = date(2004, 1, 19) + timedelta(days=key.day_offset(pid))
    assert run(["retain_long_modified_dates"]) == shifted.strftime("%Y%m%d")
