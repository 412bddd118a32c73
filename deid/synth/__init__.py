"""Synthetic annotated clinical notes for training and evaluating de-identification models.

``generate_corpus(n, seed, out_dir)`` writes train/dev/test JSONL (canonical ``Document``
records) and ``stats.json``. Templates, vocabularies, styles and the split assignment are data
in ``corpora/synth/`` (see its README for sources, licences and annotation policy).
"""

from deid.synth.corpus import generate_corpus, generate_documents, make_document

__all__ = ["generate_corpus", "generate_documents", "make_document"]
