"""Regenerate the shipped synthetic samples (deterministic).

- corpora/sample/sample.jsonl: 40 annotated notes of mixed types from the TEST split
  (test template families and test name pool), seed 2024.
- corpora/notes/*.txt: 8 plain-text notes (one per note type, readable styles) for the README demo.

Usage: python scripts/make_samples.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deid.batch import atomic_write_text  # noqa: E402
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
    notes: dict[str, str] = {}
    for doc in generate_documents(2000, SEED + 1, splits=("test",)):
        t = doc.meta["note_type"]
        if t in NOTE_TYPES and t not in notes and doc.meta["style"] in NOTE_STYLES:
            notes[t] = doc.text
        if len(notes) == len(NOTE_TYPES):
            break
    out = ROOT / "corpora" / "notes"
    for i, t in enumerate(NOTE_TYPES, 1):
        atomic_write_text(out / f"{i:02d}_{t}.txt", notes[t])
        os.chmod(out / f"{i:02d}_{t}.txt", 0o644)
    print(f"wrote {len(docs)} sample documents and {len(notes)} notes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
