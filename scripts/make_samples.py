"""Regenerate the shipped synthetic samples (deterministic).

- corpora/sample/sample.jsonl: 40 annotated notes of mixed types from the TEST split
  (test template families and test name pool), seed 2024.
- corpora/notes/*.txt: 8 plain-text notes (one per note type, readable styles) for the README demo,
  with corpora/notes/known.csv (what a site typically knows: the patient's name, MRN and date of
  birth, keyed by note id) and corpora/notes/gold.jsonl (the gold spans, for the leak test).

Usage: python scripts/make_samples.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deid.batch import atomic_write_text  # noqa: E402
from deid.corpus import Document  # noqa: E402
from deid.synth import generate_documents  # noqa: E402

SEED = 2024
N_SAMPLE = 40
NOTE_TYPES = ["discharge_summary", "admission_hp", "progress_note", "nursing_note", "ed_triage",
              "radiology_report", "referral_letter", "telephone_encounter"]
NOTE_STYLES = {"formal", "wrapped", "terse", "terse_caps"}


def main() -> int:
    # 10% of n is test: n = 10 * N_SAMPLE gives exactly N_SAMPLE test documents.
    docs = list(generate_documents(10 * N_SAMPLE, SEED, splits=("test",)))
    assert len(docs) == N_SAMPLE, len(docs)
    sample = ROOT / "corpora" / "sample" / "sample.jsonl"
    atomic_write_text(sample, "".join(d.to_json() + "\n" for d in docs))
    os.chmod(sample, 0o644)
    notes: dict[str, Document] = {}
    for doc in generate_documents(2000, SEED + 1, splits=("test",)):
        t = doc.meta["note_type"]
        if t in NOTE_TYPES and t not in notes and doc.meta["style"] in NOTE_STYLES:
            notes[t] = doc
        if len(notes) == len(NOTE_TYPES):
            break
    out = ROOT / "corpora" / "notes"
    known = ["note_id,name,mrn,patient_id"]
    gold = []
    for i, t in enumerate(NOTE_TYPES, 1):
        nid = f"{i:02d}_{t}"
        doc = notes[t]
        atomic_write_text(out / f"{nid}.txt", doc.text)
        os.chmod(out / f"{nid}.txt", 0o644)
        gold.append(Document(nid, doc.text, doc.spans, doc.meta).to_json() + "\n")
        names = sorted({doc.text[s.start:s.end] for s in doc.spans if s.label == "PATIENT"},
                       key=lambda n: (-len(n), n))
        mrns = [doc.text[s.start:s.end] for s in sorted(doc.spans) if s.label == "MRN"]
        name = names[0] if names else ""
        mrn = mrns[0] if mrns else ""
        known.append(f'{nid},"{name}",{mrn},{mrn or nid}')
    atomic_write_text(out / "known.csv", "\n".join(known) + "\n")
    atomic_write_text(out / "gold.jsonl", "".join(gold))
    for f in ("known.csv", "gold.jsonl"):
        os.chmod(out / f, 0o644)
    print(f"wrote {len(docs)} sample documents and {len(notes)} notes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
