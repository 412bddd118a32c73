"""End-to-end tests of `deid text` / `deid detect` through main(argv) on generated note folders."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import pytest

from deid.cli import main

PHI = {
    "a": {"name": "Rosalind Okafor", "mrn": "4471902", "phone": "(617) 555-0199",
          "dob": "03/14/1962", "doctor": "Whitcombe"},
    "b": {"name": "Tobias Lindqvist", "mrn": "8830271", "phone": "508-555-0142",
          "dob": "11/02/1948", "doctor": "Abernathy"},
}


def note_text(p: dict[str, str]) -> str:
    return (
        f"Patient: {p['name']}  MRN: {p['mrn']}  DOB: {p['dob']}\n"
        f"Seen by Dr. {p['doctor']} on 04/02/2021. Call {p['phone']} with results.\n"
        f"{p['name'].split()[0]} reports chest pain; BP 120/80, Percocet 5/325 PRN.\n"
        f"Follow up with Dr. {p['doctor']} in 2 weeks.\n"
    )


def make_folder(root: Path) -> Path:
    inp = root / "in"
    (inp / "ward" / "sub").mkdir(parents=True)
    (inp / "a.txt").write_text(note_text(PHI["a"]), encoding="utf-8")
    (inp / "ward" / "sub" / "b.txt").write_text(note_text(PHI["b"]), encoding="utf-8")
    known = root / "known.csv"
    with known.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["note_id", "name", "mrn", "dob", "phone"])
        w.writerow(["a", PHI["a"]["name"], PHI["a"]["mrn"], PHI["a"]["dob"], PHI["a"]["phone"]])
        w.writerow(["ward/sub/b", PHI["b"]["name"], PHI["b"]["mrn"], PHI["b"]["dob"], PHI["b"]["phone"]])
    return inp


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def phi_strings() -> list[str]:
    out = []
    for p in PHI.values():
        out += [p["name"], *p["name"].split(), p["mrn"], p["phone"], p["dob"], p["doctor"]]
    return out


def run_text(inp, out, key_file, *extra):
    return main(["text", str(inp), str(out), "--key-file", str(key_file), "--ner", "off",
                 "--no-progress", *extra])


def test_folder_end_to_end(tmp_path, key_file):
    inp = make_folder(tmp_path)
    before = digest(inp)
    out = tmp_path / "out"
    audit = tmp_path / "audit.jsonl"
    assert run_text(inp, out, key_file, "--known", str(tmp_path / "known.csv"),
                    "--audit", str(audit)) == 0
    assert digest(inp) == before  # inputs never modified
    outs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt"))
    assert outs == ["a.txt", "ward/sub/b.txt"]
    for rel in outs:
        text = (out / rel).read_text(encoding="utf-8")
        for s in phi_strings():
            assert s not in text, f"{rel} leaks a PHI string"
        assert "BP 120/80" in text and "5/325" in text  # clinical values survive
    report = json.loads((out / ".deid-report.json").read_text())
    assert report["summary"] == {"ok": 2}
    audit_text = audit.read_text()
    for s in phi_strings():
        assert s not in audit_text
    recs = [json.loads(line) for line in audit_text.splitlines()]
    assert {"PATIENT", "MRN", "DATE", "PHONE"} <= set(recs[0]["counts"])
    # no leftover temp files
    assert not list(out.rglob("*.part"))


def test_rerun_resumes_and_same_key_same_output(tmp_path, key_file):
    inp = make_folder(tmp_path)
    out = tmp_path / "out"
    assert run_text(inp, out, key_file) == 0
    first = digest(out / "ward")
    (out / "a.txt").unlink()
    assert run_text(inp, out, key_file) == 0
    report = json.loads((out / ".deid-report.json").read_text())
    assert report["summary"] == {"ok": 1, "skipped": 1}
    assert digest(out / "ward") == first
    out2 = tmp_path / "out2"
    assert run_text(inp, out2, key_file, "--workers", "2") == 0
    assert digest(out2 / "ward") == first  # another run, other processes: same surrogates


def test_other_key_refused_in_same_folder_and_differs(tmp_path, key_file):
    inp = make_folder(tmp_path)
    out = tmp_path / "out"
    assert run_text(inp, out, key_file) == 0
    other = tmp_path / "other.key"
    other.write_text("a-completely-different-secret-key")
    assert run_text(inp, out, other) == 2  # would mix keys in one output folder
    assert run_text(inp, tmp_path / "o2", other) == 0
    assert (out / "a.txt").read_text() != (tmp_path / "o2" / "a.txt").read_text()


def test_bad_files_reported_batch_continues(tmp_path, key_file, capsys):
    inp = make_folder(tmp_path)
    (inp / "latin.txt").write_bytes("Patient: Jos\xe9 Garc\xeda seen by Dr. Whitcombe".encode("latin-1"))
    (inp / "empty.txt").write_bytes(b"")
    (inp / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 10)
    (inp / "huge.txt").write_bytes(b"Dr. Whitcombe saw the patient. " * 40_000)
    out = tmp_path / "out"
    code = run_text(inp, out, key_file, "--max-bytes", "1000000")
    assert code == 1
    report = json.loads((out / ".deid-report.json").read_text())
    status = {i["input"]: i for i in report["items"]}
    assert status["a.txt"]["status"] == "ok" and status["ward/sub/b.txt"]["status"] == "ok"
    assert "decode" in status["latin.txt"]["reason"] and "--encoding" in status["latin.txt"]["reason"]
    assert "empty" in status["empty.txt"]["reason"]
    assert "binary" in status["binary.txt"]["reason"]
    assert "--max-bytes" in status["huge.txt"]["reason"]
    for bad in ("latin.txt", "empty.txt", "binary.txt", "huge.txt"):
        assert not (out / bad).exists()
    err = capsys.readouterr().err
    assert "Garc" not in err and "Whitcombe" not in err
    # with the right encoding, the latin-1 note goes through and is de-identified
    out2 = tmp_path / "out2"
    (inp / "empty.txt").unlink(); (inp / "binary.txt").unlink(); (inp / "huge.txt").unlink()  # noqa: E702
    assert run_text(inp, out2, key_file, "--encoding", "latin-1") == 0
    assert "Whitcombe" not in (out2 / "latin.txt").read_text()


def test_output_inside_input_refused(tmp_path, key_file):
    inp = make_folder(tmp_path)
    assert run_text(inp, inp / "out", key_file) == 2
    assert not (inp / "out").exists()


def test_jsonl_with_malformed_line(tmp_path, key_file):
    src = tmp_path / "notes.jsonl"
    lines = [json.dumps({"id": "n1", "text": note_text(PHI["a"]), "name": "leaky field"}),
             "{not json",
             json.dumps({"id": "n2", "text": note_text(PHI["b"])})]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    assert run_text(src, out, key_file) == 1
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["n1", "n2"]
    assert set(rows[0]) == {"id", "text"}  # other fields are not copied through silently
    assert "Okafor" not in rows[0]["text"]
    report = json.loads(Path(str(out) + ".report.json").read_text())
    failed = [i for i in report["items"] if i["status"] == "failed"]
    assert len(failed) == 1 and "line 2" in failed[0]["input"] and "malformed" in failed[0]["reason"]


def test_csv_missing_column(tmp_path, key_file):
    src = tmp_path / "notes.csv"
    src.write_text("id,body\n1,hello\n")
    assert run_text(src, tmp_path / "o.csv", key_file) == 1
    assert run_text(src, tmp_path / "o2.csv", key_file, "--text-field", "body") == 0
    rows = list(csv.DictReader((tmp_path / "o2.csv").open()))
    assert rows == [{"id": "1", "body": "hello"}]


def test_stdin_to_stdout(tmp_path, key_file, monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(note_text(PHI["a"]).encode())))
    assert main(["text", "-", "-", "--key-file", str(key_file), "--ner", "off",
                 "--known", str(_known_json(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "Okafor" not in out and "4471902" not in out and "BP 120/80" in out


def _known_json(tmp_path: Path) -> Path:
    return _known_json_for(tmp_path, "-")


def test_crosswalk_only_when_asked(tmp_path, key_file):
    inp = make_folder(tmp_path)
    out = tmp_path / "out"
    assert run_text(inp, out, key_file) == 0
    assert not list(tmp_path.rglob("*.sqlite"))
    cw = tmp_path / "secret" / "crosswalk.sqlite"
    assert run_text(inp, tmp_path / "out2", key_file, "--crosswalk", str(cw)) == 0
    rows = sqlite3.connect(cw).execute("SELECT label, original FROM mapping").fetchall()
    assert ("MRN", "4471902") in rows


def test_detect_writes_eval_spans(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "x", "text": note_text(PHI["a"])}) + "\n")
    out = tmp_path / "pred.jsonl"
    assert main(["detect", str(src), "--out", str(out), "--ner", "off", "--no-progress"]) == 0
    rec = json.loads(out.read_text())
    assert rec["id"] == "x" and rec["spans"]
    assert set(rec["spans"][0]) == {"start", "end", "label", "source", "score"}


@pytest.mark.parametrize("policy", ["tag", "redact", "tag-numbered", "safe-harbor-minimal"])
def test_bundled_policies_run(tmp_path, key_file, policy):
    inp = make_folder(tmp_path)
    assert run_text(inp, tmp_path / "o", key_file, "--policy", policy,
                    "--known", str(tmp_path / "known.csv")) == 0
    text = (tmp_path / "o" / "a.txt").read_text()
    assert "Okafor" not in text and "4471902" not in text


@pytest.mark.slow
def test_notes_and_dicom_share_the_patient_date_shift(tmp_path, key_file):
    """A patient's notes and images move by the same number of days (same key, same PatientID)."""
    from datetime import date

    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.PatientID, ds.StudyDate = "PX-1001", "20200314"
    dicom_in = tmp_path / "dcm"
    dicom_in.mkdir()
    ds.save_as(dicom_in / "ct.dcm", enforce_file_format=True)
    assert main(["dicom", str(dicom_in), str(tmp_path / "dcm_out"), "--key-file", str(key_file),
                 "--profile", "research", "--ner", "off", "--no-progress"]) == 0
    (out_file,) = list((tmp_path / "dcm_out").rglob("*.dcm"))
    shifted = pydicom.dcmread(out_file).StudyDate
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n1.txt").write_text("CT chest performed on 03/14/2020.\n")
    known = tmp_path / "known.csv"
    known.write_text("note_id,name,patient_id\nn1,Jane Roe,PX-1001\n")
    assert main(["text", str(notes), str(tmp_path / "notes_out"), "--key-file", str(key_file),
                 "--known", str(known), "--ner", "off", "--no-progress"]) == 0
    text = (tmp_path / "notes_out" / "n1.txt").read_text()
    m, d, y = text.split("on ")[1].strip(" .\n").split("/")
    assert date(int(y), int(m), int(d)) == date(int(shifted[:4]), int(shifted[4:6]), int(shifted[6:]))


def test_review_fixes_patient_only_known_bom_dry_run_and_csv_reason(tmp_path, key_file, capsys):
    # a known entry with only patient_id still keys the date shift
    notes = tmp_path / "n"
    notes.mkdir()
    (notes / "a.txt").write_text("Seen on 03/14/2020.\n")
    (notes / "b.txt").write_text("Seen on 03/14/2020.\n")
    known = tmp_path / "k.json"
    known.write_text('\ufeff{"a": {"patient_id": "P1"}, "b": {"patient_id": "P1"}}', encoding="utf-8")
    assert run_text(notes, tmp_path / "o", key_file, "--known", str(known)) == 0
    assert (tmp_path / "o" / "a.txt").read_text() == (tmp_path / "o" / "b.txt").read_text()
    # a dry run writes neither the crosswalk nor the audit
    cw, audit = tmp_path / "cw.sqlite", tmp_path / "audit.jsonl"
    assert run_text(notes, tmp_path / "o2", key_file, "--dry-run", "--crosswalk", str(cw),
                    "--audit", str(audit)) == 0
    assert not cw.exists() and not audit.exists() and not (tmp_path / "o2").exists()
    # a JSONL file with a byte-order mark keeps its first record
    src = tmp_path / "bom.jsonl"
    src.write_bytes("\ufeff".encode() + json.dumps({"id": "x", "text": "Dr. Whitcombe"}).encode() + b"\n")
    assert run_text(src, tmp_path / "bom.out.jsonl", key_file) == 0
    # a CSV without a header row: the reason never quotes the first record
    bad = tmp_path / "nohdr.csv"
    bad.write_text("17,Rosalind Okafor seen today\n")
    assert run_text(bad, tmp_path / "nohdr.out.csv", key_file) == 1
    report = (tmp_path / "nohdr.out.csv.report.json").read_text()
    assert "Okafor" not in report and "Okafor" not in capsys.readouterr().err


def test_jsonl_to_stdout_and_detect_reads_sidecars(tmp_path, key_file, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "n1", "text": note_text(PHI["a"])}) + "\n")
    assert run_text(src, "-", key_file, "--known", str(_known_json_for(tmp_path, "n1"))) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["id"] == "n1" and "Okafor" not in out
    assert not Path("-").exists()
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "z.txt").write_text("Zebulon Quaxley called about his refill.\n")
    (folder / "z.known.json").write_text(json.dumps({"name": "Zebulon Quaxley"}))
    pred = tmp_path / "pred.jsonl"
    assert main(["detect", str(folder), "--out", str(pred), "--ner", "off", "--no-progress"]) == 0
    spans = json.loads(pred.read_text())["spans"]
    assert any(s["source"].startswith("known:") for s in spans)


def _known_json_for(tmp_path: Path, nid: str) -> Path:
    p = tmp_path / "known_ids.json"
    p.write_text(json.dumps({nid: {"name": PHI["a"]["name"], "mrn": PHI["a"]["mrn"]}}))
    return p


def test_jsonl_ids_keep_their_type(tmp_path, key_file):
    src = tmp_path / "in.jsonl"
    recs = [{"id": 7, "text": note_text(PHI["a"])}, {"id": "b-2", "text": note_text(PHI["b"])},
            {"text": "no id here, seen 04/02/2021"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "out.jsonl"
    assert run_text(src, out, key_file) == 0
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert ids == [7, "b-2", "line 3"]  # an integer id stays an integer


def test_detect_folder_reads_like_text_and_a_bad_file_fails_alone(tmp_path, key_file):
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(note_text(PHI["a"]), encoding="utf-8")
    (folder / "sub" / "b.txt").write_bytes(b"\xff\xfe binary \x00 junk")  # not UTF-8
    (folder / "sub" / "c.txt").write_text("Zebulon Quaxley called.\n", encoding="utf-8")
    (folder / "sub" / "c.known.json").write_text("{not json")  # a broken sidecar
    pred = tmp_path / "pred.jsonl"
    rc = main(["detect", str(folder), "--out", str(pred), "--ner", "off", "--no-progress"])
    assert rc == 1  # some notes failed
    assert [json.loads(x)["id"] for x in pred.read_text().splitlines()] == ["a"]
    # deid text on the same folder fails the same notes for the same reasons
    out = tmp_path / "out"
    assert run_text(folder, out, key_file) == 1
    report = json.loads((out / ".deid-report.json").read_text())
    assert sorted(i["input"] for i in report["items"] if i["status"] == "failed") == [
        "sub/b.txt", "sub/c.txt"]
