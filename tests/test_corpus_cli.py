"""``deid corpus convert|stats|synth``."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from deid.cli import main
from deid.corpus.io import read_corpus

DATA = Path(__file__).parent / "data" / "corpus"


def test_convert_i2b2_to_jsonl_and_back_to_brat(tmp_path: Path, capsys) -> None:
    out = tmp_path / "i2b2.jsonl"
    assert main(["corpus", "convert", str(DATA / "i2b2"), str(out)]) == 0
    docs = list(read_corpus(out))
    assert [d.id for d in docs] == ["110-01", "110-02"]
    assert main(["corpus", "convert", str(out), str(tmp_path / "b"), "--to", "brat"]) == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "110-01.ann", "110-01.txt", "110-02.ann", "110-02.txt"]
    assert [d.spans for d in read_corpus(tmp_path / "b")] == [d.spans for d in docs]
    assert "wrote 2 document(s)" in capsys.readouterr().err


def test_convert_skips_bad_documents_and_reports(tmp_path: Path, capsys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("Seen Zebulon today")
    (src / "a.ann").write_text("T1\tPATIENT 5 12\tZebulon\n")
    (src / "b.txt").write_text("Seen Zebulon today")
    (src / "b.ann").write_text("T1\tPATIENT 4 12\tZebulon\n")
    out = tmp_path / "o.jsonl"
    assert main(["corpus", "convert", str(src), str(out)]) == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "'b'" in err and "Zebulon" not in err
    assert [d.id for d in read_corpus(out)] == ["a"]
    out.unlink()
    assert main(["corpus", "convert", str(src), str(out), "--strict"]) == 2
    assert not out.exists()  # nothing half-written
    assert not list(tmp_path.glob(".o.jsonl*"))


def test_convert_refuses_unsafe_outputs(tmp_path: Path, capsys) -> None:
    g = DATA / "eval_gold.jsonl"
    assert main(["corpus", "convert", str(g), str(g)]) == 2
    assert main(["corpus", "convert", str(DATA / "brat"), str(DATA / "brat" / "x.jsonl")]) == 2
    assert main(["corpus", "convert", str(g), str(tmp_path / "x.out")]) == 2  # no --to
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    assert main(["corpus", "convert", str(g), str(tmp_path / "full"), "--to", "brat"]) == 2
    assert (tmp_path / "full" / "keep.txt").read_text() == "x"
    assert not (DATA / "brat" / "x.jsonl").exists()


def test_stats(capsys) -> None:
    assert main(["corpus", "stats", str(DATA / "eval_gold.jsonl"), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["documents"] == 2 and st["spans"] == 4
    assert st["spans_per_label"] == {"DATE": 1, "DOCTOR": 1, "PATIENT": 1, "PHONE": 1}
    assert st["note_types"] == {"discharge": 1, "progress": 1}
    assert main(["corpus", "stats", str(DATA / "physionet")]) == 0
    out = capsys.readouterr().out
    assert "documents   3" in out and "DATE" in out and "(none)" in out
    assert "Testperson" not in out


def test_synth_missing_generator(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "deid.synth", None)
    assert main(["corpus", "synth", "--n", "3", "--out", "x"]) == 2
    assert "deid.synth" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "deid.synth", types.ModuleType("deid.synth"))
    assert main(["corpus", "synth", "--n", "3", "--out", "x"]) == 2
    assert "generate_corpus" in capsys.readouterr().err


def test_synth_calls_generator(monkeypatch, tmp_path: Path, capsys) -> None:
    seen: list[tuple[int, int, Path]] = []
    mod = types.ModuleType("deid.synth")

    def generate_corpus(n: int, seed: int, out_dir: Path) -> dict:
        seen.append((n, seed, out_dir))
        return {"train": n - 1, "dev": 1, "test": 0}

    mod.generate_corpus = generate_corpus  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "deid.synth", mod)
    assert main(["corpus", "synth", "--n", "5", "--seed", "7", "--out", str(tmp_path)]) == 0
    assert seen == [(5, 7, tmp_path)]
    assert json.loads(capsys.readouterr().out)["train"] == 4


def test_corpus_without_action_is_usage_error(capsys) -> None:
    assert main(["corpus"]) == 2


@pytest.mark.parametrize("fmt", ["conll", "jsonl"])
def test_convert_physionet(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"p.{fmt}"
    assert main(["corpus", "convert", str(DATA / "physionet" / "id.text"), str(out)]) == 0
    assert len(list(read_corpus(out))) == 3
