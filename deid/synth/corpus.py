"""Generating a split synthetic corpus: ``generate_corpus(n, seed, out_dir)``."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deid.batch import atomic_write_text
from deid.corpus.document import Document
from deid.synth.build import Piece, assemble
from deid.synth.data import SPLITS, SynthData, check_labels, load_data, name_pools
from deid.synth.note import Note
from deid.synth.style import apply_style


def split_counts(n: int, ratio: dict[str, float]) -> dict[str, int]:
    dev = round(n * float(ratio["dev"]))
    test = round(n * float(ratio["test"]))
    return {"train": n - dev - test, "dev": dev, "test": test}


def _weighted(rng: random.Random, items: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]


def render_pieces(data: SynthData, family_name: str, split: str, doc_seed: int,
                  style: str | None = None) -> tuple[list[Piece], str]:
    """The final pieces ``[text, label]`` of one note (deterministic from ``doc_seed``)."""
    fam = data.families[family_name]
    rng = random.Random(doc_seed)
    drawn = _weighted(rng, fam.styles)  # always drawn, so an override keeps the rest equal
    style = style or drawn
    spec = data.config["styles"][style]
    note = Note(data, fam, split, rng)
    pieces, body = note.render()
    if spec.get("copy_forward") and body:
        lo, hi = spec["copy_forward"]
        k = min(len(body), rng.randint(int(lo), int(hi)))
        marker = note.render_section(data.sections["copyfwd_marker"])
        extra: list[Piece] = [["\n", None], *marker, ["\n", None]]
        for sec in sorted(rng.sample(range(len(body)), k)):
            extra.extend([p[0], p[1]] for p in body[sec])
            extra.append(["\n\n", None])
        pieces.extend(extra)
    abbrevs = tuple((str(a), str(b)) for a, b in data.vocab["abbreviations"])
    return apply_style(pieces, spec, rng, abbrevs, note.pools), style


def make_document(data: SynthData, family_name: str, split: str, doc_seed: int, doc_id: str,
                  style: str | None = None) -> Document:
    """Render one note of a family deterministically from ``doc_seed``."""
    pieces, style = render_pieces(data, family_name, split, doc_seed, style)
    text, spans = assemble(pieces, doc_id)
    fam = data.families[family_name]
    meta = {"note_type": fam.type, "template_family": fam.name, "style": style, "split": split}
    return Document(doc_id, text, spans, meta)


def plan(n: int, seed: int, data: SynthData) -> Iterator[tuple[str, str, int, str]]:
    """The (split, family, document seed, document id) of each of ``n`` documents, in order.

    Documents are split train/dev/test by the configured ratio; within a split the note types
    cycle in a seed-shuffled order (a type of weight w appears w times per cycle), so every type
    appears once the split has as many documents as the weights add up to.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    master = random.Random(seed)
    counts = split_counts(n, data.config["split_ratio"])
    types = [t for t in data.type_titles for _ in range(data.type_weights.get(t, 1))]
    i = 0
    for split in SPLITS:
        name_pools(split)  # validate the pool early
        order = types[:]
        master.shuffle(order)
        fams_by_type = {t: sorted(f.name for f in data.families.values()
                                  if f.type == t and f.split == split) for t in data.type_titles}
        for j in range(counts[split]):
            t = order[j % len(order)]
            fam = fams_by_type[t][master.randrange(len(fams_by_type[t]))]
            doc_seed = master.getrandbits(64)
            yield split, fam, doc_seed, f"synth-{seed}-{i:06d}"
            i += 1


def generate_documents(n: int, seed: int, splits: tuple[str, ...] = SPLITS,
                       data: SynthData | None = None) -> Iterator[Document]:
    """Yield the documents of an ``n``-document corpus (train, then dev, then test).

    ``splits`` restricts the output; the documents of a split are the same whatever is kept.
    """
    data = data or load_data()
    for split, fam, doc_seed, doc_id in plan(n, seed, data):
        if split in splits:
            yield make_document(data, fam, split, doc_seed, doc_id)


def _stats_block(docs: list[Document]) -> dict[str, Any]:
    labels: Counter[str] = Counter()
    for d in docs:
        labels.update(s.label for s in d.spans)
    return {
        "documents": len(docs),
        "characters": sum(len(d.text) for d in docs),
        "spans": dict(sorted(labels.items())),
        "span_total": sum(labels.values()),
        "note_types": dict(sorted(Counter(d.meta["note_type"] for d in docs).items())),
        "styles": dict(sorted(Counter(d.meta["style"] for d in docs).items())),
        "template_families": sorted({d.meta["template_family"] for d in docs}),
    }


def generate_corpus(n: int, seed: int, out_dir: Path) -> dict[str, Any]:
    """Write ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` and ``stats.json`` under ``out_dir``.

    Same ``n`` and ``seed`` give byte-identical files. Returns the statistics (also written to
    ``stats.json``): documents, spans per label, note types, styles and families, per split.
    """
    out = Path(out_dir)
    data = load_data()
    by_split: dict[str, list[Document]] = {s: [] for s in SPLITS}
    for doc in generate_documents(n, seed, data=data):
        by_split[doc.meta["split"]].append(doc)
    used = {s.label for docs in by_split.values() for d in docs for s in d.spans}
    check_labels(used)
    for split, docs in by_split.items():
        atomic_write_text(out / f"{split}.jsonl", "".join(d.to_json() + "\n" for d in docs))
    stats: dict[str, Any] = {
        "generator": "deid.synth",
        "seed": seed,
        "n": n,
        "splits": {s: _stats_block(docs) for s, docs in by_split.items()},
        "total": _stats_block([d for docs in by_split.values() for d in docs]),
    }
    atomic_write_text(out / "stats.json", json.dumps(stats, indent=2, sort_keys=True) + "\n")
    return stats
