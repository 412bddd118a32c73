"""The derived PS3.15 table, its validation, code resolution, options and profiles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from deid.dicom.header import load_safe_private
from deid.dicom.profile import Settings, load_options, load_profile, validate_options
from deid.dicom.table import COMBINED, load_table, resolve_code
from deid.errors import DeidError, RuleError

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "dicom" / "confidentiality_profile_attributes.json"  # beside the checkout


def test_table_loads_with_all_rows_and_provenance():
    t = load_table()
    assert len(t.exact) + len(t.patterns) + 1 >= 621
    assert t.provenance["commit"] == "8670abdd9ad16c61af5146ef857899699bdd9c5f"
    assert t.row(0x00100010).name == "Patient's Name"
    assert t.row(0x00100010).basic == "Z"
    assert t.row(0x50001234).name == "Curve Data"
    assert t.row(0x601E3000).name == "Overlay Data"
    assert t.row(0x00291010).tag == "private"
    assert t.row(0x00080060) is None  # Modality: not in the table -> kept


@pytest.mark.skipif(not SOURCE.exists(), reason="PS3.15 source JSON not available here")
def test_build_script_reproduces_the_committed_table(tmp_path):
    spec = importlib.util.spec_from_file_location("build", ROOT / "scripts/build_dicom_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "actions.yaml"
    assert mod.main(["x", str(SOURCE), str(out)]) == 0
    assert out.read_text() == (ROOT / "rules/dicom/actions.yaml").read_text()


@pytest.mark.parametrize(("code", "single"), [
    ("X/Z", "Z"), ("X/D", "D"), ("Z/D", "D"), ("X/Z/D", "D"), ("X/Z/U*", "U"), ("K", "K"),
])
def test_combined_codes_resolve_to_conformant_single_actions(code, single):
    assert resolve_code(code) == single
    assert set(COMBINED.values()) <= set("DZU")


def test_option_columns_change_actions():
    t = load_table()
    assert t.action(0x00080020, []) == "Z"  # Study Date
    assert t.action(0x00080020, ["retain_long_modified_dates"]) == "C"
    assert t.action(0x00080020, ["retain_long_full_dates"]) == "K"
    assert t.action(0x00080018, ["retain_uids"]) == "K"
    assert t.action(0x00080080, []) == "D"  # Institution Name X/Z/D
    assert t.action(0x00080080, ["retain_institution_identity"]) == "K"
    assert t.action(0x00081030, ["clean_descriptors"]) == "C"  # Study Description
    assert t.action(0x00291010, ["retain_safe_private"]) == "C"


def _write_table(tmp_path: Path, basic: str) -> Path:
    p = tmp_path / "actions.yaml"
    p.write_text(
        "provenance: {commit: abc}\n"
        "attributes:\n"
        f"  - {{tag: \"(0010,0010)\", name: Patient's Name, basic: \"{basic}\"}}\n"
        "  - {tag: private, name: Private Attributes, basic: X}\n"
    )
    return p


def test_bad_action_code_names_file_and_tag(tmp_path):
    p = _write_table(tmp_path, "Q")
    with pytest.raises(RuleError) as err:
        load_table(p)
    assert str(p) in str(err.value) and "(0010,0010)" in str(err.value)
    assert "'Q'" in str(err.value)


def test_bad_option_column_and_missing_private_row(tmp_path):
    p = tmp_path / "actions.yaml"
    p.write_text("provenance: {commit: abc}\nattributes:\n"
                 "  - {tag: \"(0010,0010)\", basic: Z, options: {retain_everything: K}}\n")
    with pytest.raises(RuleError, match="unknown option column"):
        load_table(p)
    p.write_text("provenance: {commit: abc}\nattributes:\n  - {tag: \"(0010,0010)\", basic: Z}\n")
    with pytest.raises(RuleError, match="private"):
        load_table(p)
    assert load_table(_write_table(tmp_path, "X/Z")).action(0x00100010) == "Z"


def test_option_codes_match_cid_7050():
    opts = load_options()
    assert opts.basic.code == "113100"
    expected = {
        "clean_pixel_data": ("113101", "Clean Pixel Data Option"),
        "clean_recognizable_visual_features": ("113102", "Clean Recognizable Visual Features Option"),
        "clean_graphics": ("113103", "Clean Graphics Option"),
        "clean_structured_content": ("113104", "Clean Structured Content Option"),
        "clean_descriptors": ("113105", "Clean Descriptors Option"),
        "retain_long_full_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
        "retain_long_modified_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
        "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
        "retain_device_identity": ("113109", "Retain Device Identity Option"),
        "retain_uids": ("113110", "Retain UIDs Option"),
        "retain_safe_private": ("113111", "Retain Safe Private Option"),
        "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
    }
    assert {n: (o.code, o.meaning) for n, o in opts.options.items()} == expected


def test_option_validation():
    with pytest.raises(DeidError, match="mutually exclusive"):
        validate_options({"retain_long_full_dates", "retain_long_modified_dates"})
    with pytest.raises(DeidError, match="unknown DICOM option"):
        validate_options({"retain_everything"})
    with pytest.raises(DeidError, match="de-facing"):
        validate_options({"clean_recognizable_visual_features"})
    with pytest.raises(DeidError, match="burned-in"):
        Settings(burned_in="maybe")
    s = Settings(options=frozenset({"retain_uids", "clean_descriptors"}))
    assert [c.code for c in s.method_codes({"retain_uids", "clean_descriptors"})] == \
        ["113100", "113105", "113110"]


def test_bundled_profiles_load_and_bad_profile_is_reported(tmp_path):
    assert load_profile("basic")["options"] == []
    research = load_profile("research")
    assert "retain_long_modified_dates" in research["options"]
    validate_options(set(research["options"]))
    bad = tmp_path / "p.yaml"
    bad.write_text("options: [retain_everything]\n")
    with pytest.raises(RuleError) as err:
        load_profile(bad)
    assert str(bad) in str(err.value) and "retain_everything" in str(err.value)


def test_safe_private_list(tmp_path):
    sp = load_safe_private()
    assert sp.keeps("GEMS_ACQU_01", 0x0019, 0x23)
    assert not sp.keeps("GEMS_ACQU_01", 0x0019, 0x10)
    assert not sp.keeps("GEMS_ACQU_01", 0x0021, 0x23)
    assert sp.keeps("ELSCINT1", 0x01F1, 0x07)
    bad = tmp_path / "sp.yaml"
    bad.write_text("creators:\n  X: {group: '0010', elements: ['01']}\n")
    with pytest.raises(RuleError, match="odd"):
        load_safe_private(str(bad))
