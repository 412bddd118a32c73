"""``deid dicom`` over folders: layout, report, resume, duplicates, audit, crosswalk, validity."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from deid.cli import main
from deid.dicom.archive import Job, Params, Worker
from deid.dicom.header import HeaderEngine
from deid.dicom.leakcheck import find_leaks
from deid.dicom.profile import Settings
from deid.key import Key

FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "test-SR.dcm", "JPEG2000.dcm",
         "no_meta.dcm", "ExplVR_LitEndNoMeta.dcm", "chr_dummy.dcm"]
STUDY = ["dicomdirtests/98892003/MR700/4467", "dicomdirtests/98892003/MR700/4528",
         "dicomdirtests/98892003/MR700/4558"]


def pydicom_file(name: str) -> Path:
    p = get_testdata_file(name, download=False)
    assert p, f"pydicom test file {name} missing"
    return Path(p)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    (d / "a" / "b").mkdir(parents=True)
    for i, name in enumerate(FILES[:-1]):
        shutil.copy(pydicom_file(name), d / ("a/b" if i % 2 else "a") / f"{i:02d}_{name}")
    for i, rel in enumerate(STUDY):
        shutil.copy(pydicom_file(rel), d / f"study_{i}")
    shutil.copy(pydicom_file("DICOMDIR"), d / "DICOMDIR")
    (d / "notes.txt").write_text("not a dicom file\n")
    data = pydicom_file("CT_small.dcm").read_bytes()
    (d / "truncated.dcm").write_bytes(data[: len(data) - 5000])
    shutil.copy(pydicom_file("US1_J2KR.dcm"), d / "us.dcm")  # burned-in risk (US)
    return d


def run_cli(inp: Path, out: Path, key_file: Path, *extra: str) -> int:
    return main(["dicom", str(inp), str(out), "--key-file", str(key_file), "--no-progress",
                 *extra])


def report(out: Path) -> dict:
    return json.loads((out / "deid-dicom-report.json").read_text())


def by_input(rep: dict) -> dict[str, dict]:
    return {i["input"]: i for i in rep["items"]}


def test_folder_run_layout_report_and_statuses(inbox, tmp_path, key_file):
    out = tmp_path / "out"
    assert run_cli(inbox, out, key_file) == 1  # some inputs failed (truncated, US quarantine)
    items = by_input(report(out))
    assert items["notes.txt"]["status"] == "skipped" and "not a DICOM" in items["notes.txt"]["reason"]
    assert items["DICOMDIR"]["status"] == "skipped" and "DICOMDIR" in items["DICOMDIR"]["reason"]
    assert items["truncated.dcm"]["status"] == "failed" and "truncated" in items["truncated.dcm"]["reason"]
    assert items["us.dcm"]["status"] == "failed" and "quarantined" in items["us.dcm"]["reason"]
    assert not (out / "DICOMDIR").exists()
    key = Key(key_file.read_bytes())
    ok = [i for i in items.values() if i["status"] == "ok"]
    assert items["a/04_JPEG2000.dcm"]["status"] == "failed"  # secondary capture: at risk
    assert len(ok) == 8
    for it in ok:
        ds = dcmread(out / it["output"])
        study, series, sop = it["output"].split("/")
        assert (study, series, sop) == (ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                        ds.SOPInstanceUID + ".dcm")
        src = dcmread(inbox / it["input"], force=True)
        assert ds.SOPInstanceUID == key.uid(src.SOPInstanceUID)
        assert find_leaks(src, str(out / it["output"]), HeaderEngine(key, frozenset())) == []
    # the files of one study share the new Study UID
    studies = {items[f"study_{i}"]["output"].split("/")[0] for i in range(3)}
    assert len(studies) == 1
    # nothing of the quarantined or skipped files was written
    written = {str(p.relative_to(out)) for p in out.rglob("*.dcm")}
    assert written == {i["output"] for i in ok}


def test_two_runs_same_key_same_uids_other_key_differs(inbox, tmp_path, key_file):
    o1, o2, o3 = tmp_path / "o1", tmp_path / "o2", tmp_path / "o3"
    run_cli(inbox, o1, key_file)
    run_cli(inbox, o2, key_file)
    f1 = sorted(p.relative_to(o1) for p in o1.rglob("*.dcm"))
    assert f1 == sorted(p.relative_to(o2) for p in o2.rglob("*.dcm"))
    for rel in f1:
        assert (o1 / rel).read_bytes() == (o2 / rel).read_bytes()  # deterministic output
    other = tmp_path / "other.key"
    other.write_bytes(b"a-completely-different-key-0123456789")
    run_cli(inbox, o3, other)
    assert not set(f1) & {p.relative_to(o3) for p in o3.rglob("*.dcm")}


def test_resume_overwrite_and_changed_settings(inbox, tmp_path, key_file):
    out = tmp_path / "out"
    run_cli(inbox, out, key_file)
    first = by_input(report(out))
    run_cli(inbox, out, key_file)
    second = by_input(report(out))
    for name, it in first.items():
        if it["status"] == "ok":
            assert second[name]["status"] == "skipped"
            assert second[name]["reason"] == "already done (resume)"
    victim = next(i for i in first.values() if i["status"] == "ok")
    (out / victim["output"]).unlink()
    run_cli(inbox, out, key_file)
    assert by_input(report(out))[victim["input"]]["status"] == "ok"
    assert run_cli(inbox, out, key_file, "--overwrite") == 1
    assert all(i["status"] != "ok" or i["input"] in first for i in report(out)["items"])
    assert sum(i["status"] == "ok" for i in report(out)["items"]) == \
        sum(i["status"] == "ok" for i in first.values())
    # a crash that lost the manifest: identical outputs are recognised, not "duplicates"
    (out / ".deid-dicom-manifest.jsonl").unlink()
    assert run_cli(inbox, out, key_file) == 1
    assert {i["input"] for i in report(out)["items"] if i["status"] == "ok"} == \
        {n for n, i in first.items() if i["status"] == "ok"}
    # another option set in the same folder is refused (exit 2), nothing mixed
    assert run_cli(inbox, out, key_file, "--option", "retain_uids") == 2


def test_duplicate_sop_instance_uid_is_an_error_not_an_overwrite(tmp_path, key_file):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(pydicom_file("CT_small.dcm"), inp / "a.dcm")
    ds = dcmread(pydicom_file("CT_small.dcm"))
    ds.PatientName = "Other^Person"
    ds.save_as(inp / "b.dcm")
    out = tmp_path / "out"
    assert run_cli(inp, out, key_file) == 1
    items = by_input(report(out))
    assert items["a.dcm"]["status"] == "ok"
    assert items["b.dcm"]["status"] == "failed" and "duplicate" in items["b.dcm"]["reason"]
    written = dcmread(out / items["a.dcm"]["output"])
    assert str(written.PatientName) == Key(key_file.read_bytes()).pseudonym(ds.PatientID)
    # a duplicate whose output would differ is refused too, and the first output is untouched
    before = (out / items["a.dcm"]["output"]).read_bytes()
    ds.Manufacturer = "Another Vendor"  # kept attribute: the output bytes differ
    ds.save_as(inp / "c.dcm")
    assert run_cli(inp, out, key_file) == 1
    items = by_input(report(out))
    assert items["a.dcm"]["status"] == "skipped"
    assert items["c.dcm"]["status"] == "failed" and "duplicate" in items["c.dcm"]["reason"]
    assert (out / items["a.dcm"]["output"]).read_bytes() == before


def test_audit_has_no_values_and_crosswalk_maps_back(inbox, tmp_path, key_file):
    out, audit, cw = tmp_path / "out", tmp_path / "audit.jsonl", tmp_path / "cw.sqlite"
    run_cli(inbox, out, key_file, "--audit", str(audit), "--crosswalk", str(cw))
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert lines and {"file", "tag", "action"} <= set(lines[0])
    src = dcmread(pydicom_file("CT_small.dcm"))
    text = audit.read_text()
    for v in (src.PatientID, str(src.PatientName), src.StudyInstanceUID, src.InstitutionName):
        assert v not in text
    rep_text = (out / "deid-dicom-report.json").read_text()
    assert src.PatientID not in rep_text and src.StudyInstanceUID not in rep_text
    db = sqlite3.connect(cw)
    rows = db.execute("SELECT original FROM mapping WHERE label='PatientID' AND replacement=?",
                      (Key(key_file.read_bytes()).pseudonym(src.PatientID),)).fetchall()
    assert rows == [(src.PatientID,)]


def test_subject_map_keep_paths_and_dry_run(tmp_path, key_file):
    inp = tmp_path / "in"
    (inp / "x").mkdir(parents=True)
    shutil.copy(pydicom_file("CT_small.dcm"), inp / "x" / "ct.dcm")
    shutil.copy(pydicom_file("MR_small.dcm"), inp / "x" / "mr.dcm")
    smap = tmp_path / "map.csv"
    smap.write_text(f"patient_id,subject_id\n{dcmread(inp / 'x/ct.dcm').PatientID},SUBJ-001\n")
    out = tmp_path / "out"
    assert run_cli(inp, out, key_file, "--keep-paths", "--subject-map", str(smap)) == 1
    items = by_input(report(out))
    assert items["x/ct.dcm"]["output"] == "x/ct.dcm"
    assert dcmread(out / "x/ct.dcm").PatientID == "SUBJ-001"
    assert "subject map" in items["x/mr.dcm"]["reason"]
    dry = tmp_path / "dry"
    assert run_cli(inp, dry, key_file, "--dry-run") == 0
    assert not list(dry.rglob("*.dcm"))


def test_bad_usage_exit_2(tmp_path, key_file):
    inp = tmp_path / "in"
    inp.mkdir()
    assert run_cli(inp, tmp_path / "o", key_file, "--option", "nope") == 2
    assert run_cli(inp, inp / "inside", key_file) == 2
    assert run_cli(inp, tmp_path / "o2", key_file, "--option", "retain_long_full_dates",
                   "--option", "retain_long_modified_dates") == 2


def _errors(tool_out: str) -> set[str]:
    out = set()
    for line in tool_out.splitlines():
        if line.startswith("Error"):  # values and UIDs differ by design: compare the rest
            out.add(re.sub(r"<[^>]*>|\[[^\]]*\]|=\s*\S+|\b[\d.]+\b", "", line).strip())
    return out


@pytest.mark.slow
def test_outputs_valid_for_dcmtk_and_dciodvfy(inbox, tmp_path, key_file):
    if not shutil.which("dcmdump") or not shutil.which("dciodvfy"):
        pytest.skip("dcmtk (dcmdump) or dicom3tools (dciodvfy) not installed")
    out = tmp_path / "out"
    run_cli(inbox, out, key_file, "--option", "retain_long_modified_dates")
    for it in report(out)["items"]:
        if it["status"] != "ok":
            continue
        dst = out / it["output"]
        r = subprocess.run(["dcmdump", "-q", str(dst)], capture_output=True, text=True)
        assert r.returncode == 0 and "E:" not in r.stderr, it["input"]
        before = subprocess.run(["dciodvfy", str(inbox / it["input"])], capture_output=True,
                                text=True, errors="replace")
        after = subprocess.run(["dciodvfy", str(dst)], capture_output=True, text=True,
                               errors="replace")
        new = _errors(after.stdout + after.stderr) - _errors(before.stdout + before.stderr)
        assert not new, (it["input"], sorted(new))


RESEARCH = frozenset({"retain_long_modified_dates", "retain_patient_characteristics",
                      "retain_device_identity", "clean_descriptors", "clean_structured_content",
                      "clean_graphics"})


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["basic", "research"])
def test_every_pydicom_test_file_no_crash_no_leak(tmp_path, key_file, profile):
    src = pydicom_file("CT_small.dcm").parent
    out = tmp_path / "out"
    rc = run_cli(src, out, key_file, "--keep-paths", "--burned-in", "warn", "--workers", "2",
                 "--profile", profile, "--ner", "off")
    assert rc == 1  # the truncated and fragment files fail; the batch goes on
    rep = report(out)
    key = Key(key_file.read_bytes())
    opts = RESEARCH if profile == "research" else frozenset()
    eng = HeaderEngine(key, opts)
    n = 0
    for it in rep["items"]:
        assert it["status"] in ("ok", "failed", "skipped")
        if it["status"] == "ok":
            n += 1
            leaks = find_leaks(dcmread(src / it["input"], force=True), str(out / it["output"]),
                               eng, cleaned_text_ok=bool(opts))
            assert leaks == [], it["input"]
    assert n > 100


def _streamed(big: Path, out: Path) -> tuple[Worker, dict, int]:
    """De-identify ``big`` with pixel data streamed over 256 KiB: (worker, result, peak bytes)."""
    w = Worker(Params(secret=b"test-key-0123456789abcdef", settings=Settings(),
                      out_dir=str(out), keep_paths=True, stream_over=256 << 10))
    tracemalloc.start()
    res = w(Job(str(big), big.name))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return w, res, peak


def test_large_encapsulated_pixel_data_streamed(tmp_path):
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless

    ds = dcmread(pydicom_file("CT_small.dcm"))
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.NumberOfFrames = 8
    rng = np.random.default_rng(1)
    ds.PixelData = encapsulate([rng.bytes(512 << 10) for _ in range(8)])  # 4 MiB of frames
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    big = tmp_path / "big.dcm"
    ds.save_as(big)
    w, res, peak = _streamed(big, tmp_path / "out")
    assert res["status"] == "ok" and res.get("streamed_pixels"), res
    assert peak < 2 << 20  # under half the pixel data (first-use imports included)
    out = dcmread(tmp_path / "out/big.dcm")
    assert out.PixelData == ds.PixelData and out.PatientID != ds.PatientID
    # a truncated large file is refused, not half-copied
    (tmp_path / "cut.dcm").write_bytes(big.read_bytes()[:-100000])
    res = w(Job(str(tmp_path / "cut.dcm"), "cut.dcm"))
    assert res["status"] == "failed"


def test_large_pixel_data_streamed_with_bounded_memory(tmp_path):
    ds = dcmread(pydicom_file("CT_small.dcm"))
    ds.Rows = ds.Columns = 1024
    ds.PixelData = np.arange(1024 * 1024, dtype=np.uint16).astype("<i2").tobytes()  # 2 MiB
    big = tmp_path / "big.dcm"
    ds.save_as(big)
    _, res, peak = _streamed(big, tmp_path / "out")
    assert res["status"] == "ok" and res.get("streamed_pixels")
    assert peak < 1 << 20  # well under the 2 MiB of pixel data
    assert dcmread(tmp_path / "out/big.dcm").PixelData == ds.PixelData


def test_odd_lengths_and_wrong_vrs_are_handled(tmp_path, key_file):
    ds = dcmread(pydicom_file("CT_small.dcm"))
    ds.StudyDescription = "Hello "  # padded to 6 on write; patched to an odd length 5 below
    del ds[0x00100010]
    ds.add_new(0x00100010, "LO", "Wrongvr^Patient")  # PN written with the wrong VR
    inp = tmp_path / "in"
    inp.mkdir()
    ds.save_as(inp / "x.dcm", enforce_file_format=True)
    raw = (inp / "x.dcm").read_bytes()
    i = raw.index(b"LO\x06\x00Hello ")
    (inp / "x.dcm").write_bytes(raw[:i] + b"LO\x05\x00Hello" + raw[i + 10:])
    out = tmp_path / "out"
    assert run_cli(inp, out, key_file) == 0
    it = by_input(report(out))["x.dcm"]
    data = (out / it["output"]).read_bytes()
    assert b"Wrongvr" not in data and b"Hello" not in data
    back = dcmread(out / it["output"])
    assert str(back.PatientName) == Key(key_file.read_bytes()).pseudonym(ds.PatientID)


def test_research_profile_from_the_cli(tmp_path, key_file):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(pydicom_file("CT_small.dcm"), inp / "ct.dcm")
    out = tmp_path / "out"
    assert run_cli(inp, out, key_file, "--profile", "research", "--ner", "off") == 0
    it = by_input(report(out))["ct.dcm"]
    ds = dcmread(out / it["output"])
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == \
        ["113100", "113103", "113104", "113105", "113107", "113108", "113109"]
    assert ds.PatientID.startswith("SUBJ")
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"


def test_file_systems_without_hard_links(tmp_path, monkeypatch):
    import errno
    import os

    def no_link(src, dst):
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_link)
    params = Params(secret=b"test-key-0123456789abcdef", settings=Settings(),
                    out_dir=str(tmp_path / "out"))
    w = Worker(params)
    job = Job(str(pydicom_file("CT_small.dcm")), "ct.dcm")
    res = w(job)
    assert res["status"] == "ok" and dcmread(tmp_path / "out" / res["output"]).PatientID
    ds = dcmread(pydicom_file("CT_small.dcm"))
    ds.Manufacturer = "Other"
    ds.save_as(tmp_path / "dup.dcm")
    res2 = w(Job(str(tmp_path / "dup.dcm"), "dup.dcm"))
    assert res2["status"] == "failed" and "duplicate" in res2["reason"]
    assert not list((tmp_path / "out").rglob("*.part"))
