"""Transformer NER for PHI: model directory, fine-tuning and inference.

``NerDetector.load(model_dir, device="auto")`` then ``.detect(text)`` / ``.detect_batch(texts)``.
torch and transformers are imported on first use, so ``import deid.ner`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deid.ner.backbone import NerModelError
    from deid.ner.infer import NerDetector

__all__ = ["NerDetector", "NerModelError", "default_model_dir"]


def default_model_dir() -> Any:
    """``models/default`` beside the package (it may not exist)."""
    from deid.rulefile import repo_root

    return repo_root() / "models" / "default"


def __getattr__(name: str) -> Any:
    if name == "NerDetector":
        from deid.ner.infer import NerDetector

        return NerDetector
    if name == "NerModelError":
        from deid.ner.backbone import NerModelError

        return NerModelError
    raise AttributeError(name)
