"""deid: de-identification of clinical text and DICOM imaging."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Deidentifier", "Key", "Span", "__version__"]


def __getattr__(name: str) -> object:  # lazy, so `import deid` stays light
    if name == "Deidentifier":
        from deid.text import Deidentifier

        return Deidentifier
    if name == "Key":
        from deid.key import Key

        return Key
    if name == "Span":
        from deid.span import Span

        return Span
    raise AttributeError(name)
