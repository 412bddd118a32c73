"""The label set (``rules/labels.yaml``) and its mapping to the 18 HIPAA identifiers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from deid.rulefile import load_yaml, require, rules_path


@dataclass(frozen=True)
class LabelInfo:
    name: str
    hipaa: str
    priority: int
    tag: str


@dataclass(frozen=True)
class LabelSet:
    labels: dict[str, LabelInfo]
    categories: dict[str, str]

    def __contains__(self, label: object) -> bool:
        return label in self.labels

    @property
    def priority(self) -> dict[str, int]:
        return {k: v.priority for k, v in self.labels.items()}

    def hipaa(self, label: str) -> str:
        return self.labels[label].hipaa

    def is_hipaa(self, label: str) -> bool:
        return self.labels[label].hipaa != "beyond"


@lru_cache(maxsize=4)
def load_labels(path: str | None = None) -> LabelSet:
    p = path or str(rules_path("labels.yaml"))
    data = load_yaml(p)
    require(isinstance(data, dict) and "labels" in data, p, None, "missing 'labels' mapping")
    cats = data.get("hipaa_categories") or {}
    require(isinstance(cats, dict) and len(cats) == 18, p, None,
            "hipaa_categories must list the 18 Safe Harbor identifiers A..R")
    out: dict[str, LabelInfo] = {}
    for name, spec in data["labels"].items():
        require(isinstance(spec, dict), p, name, "label spec must be a mapping")
        h = spec.get("hipaa")
        require(h in cats or h == "beyond", p, name, f"unknown hipaa category {h!r}")
        require(isinstance(spec.get("priority"), int), p, name, "priority must be an integer")
        out[name] = LabelInfo(name, h, spec["priority"], str(spec.get("tag", name)))
    return LabelSet(out, {str(k): str(v) for k, v in cats.items()})
