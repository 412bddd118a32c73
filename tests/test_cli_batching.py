"""Notes are de-identified in batches (one model call for many notes): results must not depend
on the batch size, and one failing note must fail alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deid.batch import run_tasks
from deid.cli import main
from deid.ner.infer import int8_supported
from deid.text import Deidentifier
from tests.test_cli_text import PHI, digest, note_text

BOMB = "EXPLODE-7"


def _notes(root: Path, n: int = 7) -> Path:
    inp = root / "in"
    inp.mkdir()
    people = list(PHI.values())
    for i in range(n):
        (inp / f"n{i}.txt").write_text(note_text(people[i % 2]) * (1 + i % 3), encoding="utf-8")
    return inp


def _text(inp: Path, out: Path, key_file: Path, *extra: str) -> int:
    return main(["text", str(inp), str(out), "--key-file", str(key_file), "--no-progress",
                 *extra])


@pytest.fixture
def bomb(monkeypatch):
    """Detection raises for any note holding BOMB (as a bug in a detector would)."""
    real = Deidentifier.detect_batch

    def detect_batch(self, texts, knowns=None):
        if any(BOMB in t for t in texts):
            raise RuntimeError("detector bug")
        return real(self, texts, knowns)

    monkeypatch.setattr(Deidentifier, "detect_batch", detect_batch)


@pytest.mark.parametrize("ner,precision", [
    ("off", "auto"), ("auto", "fp32"),
    pytest.param("auto", "int8", marks=pytest.mark.skipif(not int8_supported(),
                                                          reason="int8 needs a CPU with VNNI"))])
def test_batch_size_does_not_change_outputs(tmp_path, key_file, ner, precision):
    inp = _notes(tmp_path)
    runs = {}
    for b in ("1", "3", "16"):
        out = tmp_path / f"out{b}"
        assert _text(inp, out, key_file, "--ner", ner, "--precision", precision,
                     "--batch", b) == 0
        runs[b] = {k: v for k, v in digest(out).items() if k.endswith(".txt")}
        used = json.loads((out / ".deid-report.json").read_text())["settings"]["ner"]
        # the report says which model, arithmetic and device made the outputs
        assert used == "off" if ner == "off" else used.endswith(f"default ({precision}, cpu)")
    assert len(runs["1"]) == 7 and runs["1"] == runs["3"] == runs["16"]


def test_a_failing_note_fails_alone_in_its_batch(tmp_path, key_file, bomb):
    inp = _notes(tmp_path)
    (inp / "n3.txt").write_text(f"Patient {BOMB} seen today.\n", encoding="utf-8")
    out = tmp_path / "out"
    assert _text(inp, out, key_file, "--ner", "off", "--batch", "4") == 1  # exit code says so
    assert sorted(p.name for p in out.glob("*.txt")) == [f"n{i}.txt" for i in range(7) if i != 3]
    report = json.loads((out / ".deid-report.json").read_text())
    failed = [i for i in report["items"] if i["status"] == "failed"]
    assert [i["input"] for i in failed] == ["n3.txt"]
    assert failed[0]["reason"] == "de-identification failed (RuntimeError)"
    assert BOMB not in json.dumps(report)
    # a rerun (input fixed) resumes: only the failed note is done, the others are skipped
    (inp / "n3.txt").write_text("Patient seen today.\n", encoding="utf-8")
    before = digest(out)
    assert _text(inp, out, key_file, "--ner", "off", "--batch", "4") == 0
    after = digest(out)
    assert "n3.txt" in after and all(after[k] == v for k, v in before.items() if k.endswith(".txt"))


def test_a_failing_record_fails_alone_jsonl_and_detect(tmp_path, key_file, bomb):
    src = tmp_path / "in.jsonl"
    recs = [{"id": f"r{i}", "text": note_text(PHI["a"]) if i != 2 else BOMB} for i in range(5)]
    src.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _text(src, out, key_file, "--ner", "off", "--batch", "8") == 1
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["r0", "r1", "r3", "r4"]
    pred = tmp_path / "pred.jsonl"
    assert main(["detect", str(src), "--out", str(pred), "--ner", "off", "--no-progress",
                 "--batch", "8"]) == 1
    got = [json.loads(x) for x in pred.read_text().splitlines()]
    assert [g["id"] for g in got] == ["r0", "r1", "r3", "r4"] and all(g["spans"] for g in got)


def test_bad_batch_size_is_refused(tmp_path, key_file, capsys):
    inp = _notes(tmp_path, 1)
    assert _text(inp, tmp_path / "o", key_file, "--ner", "off", "--batch", "0") == 2
    assert "--batch" in capsys.readouterr().err


def _double(ctx, items):
    return [(ctx, x * 2) for x in items]


def _ctx():
    return "c"


@pytest.mark.parametrize("workers", [1, 2])
def test_run_tasks_in_chunks(workers):
    got = list(run_tasks(range(11), _double, _ctx, workers=workers, progress=False, chunk=4))
    assert sorted(got) == [("c", 2 * i) for i in range(11)]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_engine_that_cannot_start_stops_the_run_cleanly(tmp_path, key_file, capsys, workers):
    # on this CPU-only machine CUDA is missing: a usage error (exit 2), never a hang or traceback
    if __import__("torch").cuda.is_available():
        pytest.skip("CUDA is present")
    inp = _notes(tmp_path, 3)
    assert _text(inp, tmp_path / "o", key_file, "--device", "cuda", "--workers", workers) == 2
    assert "CUDA is not available" in capsys.readouterr().err
