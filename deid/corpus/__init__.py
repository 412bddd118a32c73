"""Annotated corpora: the canonical Document type, format readers and writers."""

from deid.corpus.document import Document, DocumentError

__all__ = ["Document", "DocumentError"]
