"""The shipped default model (models/default): loads offline and finds PHI in realistic notes."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from deid.ner import NerDetector, default_model_dir
from deid.ner.metrics import token_scores
from tests.test_ner_helpers import NoteBuilder

torch.set_num_threads(1)
pytestmark = pytest.mark.slow


def _notes():
    a = NoteBuilder()
    a.add("DISCHARGE SUMMARY\nPatient: ").add("Jonathan Whitfield", "PATIENT")
    a.add("    MRN: ").add("4471902", "MRN").add("\nAdmitted: ").add("03/14/2023", "DATE")
    a.add("   Discharged: ").add("03/19/2023", "DATE")
    a.add("\nAttending: Dr. ").add("Priya Raman", "DOCTOR")
    a.add("\n\nMr. ").add("Whitfield", "PATIENT").add(" is a ").add("67", "AGE")
    a.add("-year-old man admitted to ").add("Mercy General Hospital", "HOSPITAL")
    a.add(" with community-acquired pneumonia. He lives in ").add("Springfield", "CITY")
    a.add(", ").add("Illinois", "STATE").add(" with his wife ").add("Eleanor", "RELATIVE")
    a.add(". Treated with ceftriaxone and azithromycin; oxygen weaned to room air.\n"
          "Follow up with Dr. ").add("Raman", "DOCTOR").add(" in 2 weeks; call ")
    a.add("(217) 555-0187", "PHONE").add(" with questions.\n")
    b = NoteBuilder()
    b.add("Progress note ").add("5/2/2024", "DATE").add("\nS: ").add("Maria Gonzalez", "PATIENT")
    b.add(" reports less dyspnea. Daughter ").add("Lucia", "RELATIVE")
    b.add(" at bedside.\nO: BP 128/76, HR 82, SpO2 95% on RA.\nA/P: COPD exacerbation, improving. "
          "Continue prednisone taper. D/w Dr. ").add("Chen", "DOCTOR")
    b.add(" (pulm). Signed ").add("Kevin O'Brien", "DOCTOR").add(", RN\n")
    return [a.doc("default-1"), b.doc("default-2")]


@pytest.fixture(scope="module")
def det():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return NerDetector.load(default_model_dir(), device="auto")


def test_default_model_is_complete_and_small():
    d = default_model_dir()
    size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
    assert size <= 25 * 1024 * 1024
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["init"] == "backbone" and cfg["weights_dtype"] == "float16"
    card = (d / "model_card.md").read_text()
    assert "## Metrics" in card and "## Training data" in card
    assert not (d / ".checkpoint").exists()


def test_default_model_finds_phi(det):
    docs = _notes()
    preds = det.detect_batch([d.text for d in docs])
    for d, spans in zip(docs, preds, strict=True):
        assert all(s.source == "ner" and s.end <= len(d.text) for s in spans)
    sc = token_scores([d.text for d in docs], [d.spans for d in docs], preds)
    assert sc["recall"] >= 0.9, sc
    # names are what the rules cover least: every name token must be found
    for lab in ("PATIENT", "DOCTOR", "RELATIVE"):
        assert sc["recall_by_label"].get(lab, 0) == 1.0, sc


def test_default_model_leaves_clinical_text_mostly_alone(det):
    text = ("Continue metformin 500 mg twice daily. Chest x-ray shows no consolidation. "
            "Plan: recheck basic metabolic panel in the morning and titrate insulin.")
    spans = det.detect(text)
    assert sum(len(s) for s in spans) < 0.1 * len(text)
