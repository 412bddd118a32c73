"""Policies: which transform each label gets (``rules/policies/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deid.errors import RuleError
from deid.labels import load_labels
from deid.rulefile import load_wordlist, load_yaml, require, rules_path
from deid.screen import STAGES as SCREEN_STAGES

ACTIONS = ("redact", "tag", "mask", "surrogate", "shift", "zip3", "age90", "keep")
_OPTION_DEFAULTS: dict[str, object] = {
    "tag_format": "[{tag}]",
    "redact_text": "[REDACTED]",
    "mask_char": "*",
    "date_shift_days": [30, 365],
    "date_order": "auto",  # MDY or DMY force an order; auto infers it per note (deid/dates.py)
    "beyond_hipaa": True,
    "min_score": 0.0,
    "allow_vetoes": ["rule"],
    "model_screen": None,
    "restricted_zip3": "zip3_restricted",
}


@dataclass(frozen=True)
class Policy:
    name: str
    file: str
    default_action: str
    actions: dict[str, str]
    options: dict[str, object] = field(default_factory=dict)
    restricted_zip3: frozenset[str] = frozenset()

    def action(self, label: str) -> str:
        if not self.options.get("beyond_hipaa", True) and not load_labels().is_hipaa(label):
            return "keep"
        return self.actions.get(label, self.default_action)

    @property
    def shift_range(self) -> tuple[int, int]:
        lo, hi = self.options["date_shift_days"]  # type: ignore[misc]
        return int(lo), int(hi)


def resolve_policy_path(policy: str | Path | None) -> Path:
    if policy is None:
        return rules_path("policies", "default.yaml")
    p = Path(policy)
    if p.exists() or p.suffix:
        return p
    return rules_path("policies", f"{policy}.yaml")  # a bundled policy by name


def load_policy(policy: str | Path | None = None) -> Policy:
    p = resolve_policy_path(policy)
    data = load_yaml(p)
    require(isinstance(data, dict), p, None, "top level must be a mapping")
    require(isinstance(data.get("provenance"), str), p, None, "missing 'provenance' string")
    labels = load_labels()
    default = data.get("default_action", "tag")
    require(default in ACTIONS, p, "default_action", f"unknown action {default!r}; use one of {ACTIONS}")
    actions: dict[str, str] = {}
    for label, act in (data.get("actions") or {}).items():
        require(label in labels, p, label, "unknown label (see rules/labels.yaml)")
        require(act in ACTIONS, p, label, f"unknown action {act!r}; use one of {ACTIONS}")
        if act == "shift":
            require(label == "DATE", p, label, "'shift' applies to DATE only")
        actions[label] = act
    opts = dict(_OPTION_DEFAULTS)
    given = data.get("options") or {}
    require(isinstance(given, dict), p, "options", "options must be a mapping")
    for k, v in given.items():
        require(k in _OPTION_DEFAULTS, p, k, f"unknown option; known: {sorted(_OPTION_DEFAULTS)}")
        opts[k] = v
    rng = opts["date_shift_days"]
    require(isinstance(rng, list) and len(rng) == 2 and all(isinstance(x, int) for x in rng)
            and 0 < rng[0] <= rng[1], p, "date_shift_days",
            "must be [min, max] whole days with 0 < min <= max")
    require(opts["date_order"] in ("MDY", "DMY", "auto"), p, "date_order", "must be MDY, DMY or auto")
    fmt = str(opts["tag_format"])
    try:
        fmt.format(tag="X", label="X", num=1, n=1)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        raise RuleError(p, "tag_format", "may use only {tag}, {label}, {num} and {n}") from None
    require(all(s in ("rule", "ner") for s in opts["allow_vetoes"]), p, "allow_vetoes",  # type: ignore[union-attr]
            "may list only 'rule' and 'ner' (known identifiers are never vetoed)")
    ms = opts["model_screen"]
    require(ms is None or (isinstance(ms, list) and all(x in SCREEN_STAGES for x in ms)), p,
            "model_screen", f"must be a list of screening stages from {SCREEN_STAGES} (or absent)")
    restricted = load_wordlist(str(opts["restricted_zip3"]))
    return Policy(str(data.get("name", p.stem)), str(p), default, actions, opts, restricted)
