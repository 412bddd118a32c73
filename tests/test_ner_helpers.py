"""Hand-made annotated notes and a tiny encoder config for the NER tests (no real PHI)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from deid.corpus.document import Document
from deid.span import Span

TINY_ENCODER = {
    "vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 64, "max_position_embeddings": 512, "type_vocab_size": 2,
    "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0, "pad_token_id": 0,
}
FIRST = ["Maria", "John", "Aiko", "Pedro", "Olga", "Kwame", "Lena", "Ravi"]
LAST = ["Okafor", "Smithers", "Tanaka", "Alvarez", "Petrova", "Mensah", "Berg", "Iyer"]
CITIES = ["Springfield", "Riverton", "Lakewood", "Fairview"]


class NoteBuilder:
    """Concatenate plain and labelled pieces, recording gold spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.pos = 0

    def add(self, text: str, label: str | None = None) -> NoteBuilder:
        if label:
            self.spans.append(Span(self.pos, self.pos + len(text), label, "gold"))
        self.parts.append(text)
        self.pos += len(text)
        return self

    def doc(self, doc_id: str) -> Document:
        return Document(doc_id, "".join(self.parts), tuple(self.spans))


def make_note(i: int, rng: random.Random) -> Document:
    b = NoteBuilder()
    pat = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    doc = rng.choice(LAST)
    date = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/20{rng.randint(10, 24)}"
    phone = f"({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    b.add("Patient ").add(pat, "PATIENT").add(" was seen on ").add(date, "DATE")
    b.add(" by Dr. ").add(doc, "DOCTOR").add(" at the clinic in ").add(rng.choice(CITIES), "CITY")
    b.add(". Blood pressure stable, continue lisinopril 10 mg daily. Call ")
    b.add(phone, "PHONE").add(" with questions.\n")
    return b.doc(f"note-{i}")


def make_docs(n: int, seed: int = 0) -> list[Document]:
    rng = random.Random(seed)
    return [make_note(i, rng) for i in range(n)]


def write_jsonl(path: Path, docs: list[Document]) -> Path:
    path.write_text("".join(d.to_json() + "\n" for d in docs), encoding="utf-8")
    return path


def write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path
