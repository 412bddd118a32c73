"""Annex E options (CID 7050 codes), profiles (``rules/dicom/profiles/*.yaml``) and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from deid.errors import DeidError
from deid.rulefile import load_yaml, require, rules_path

BURNED_IN_POLICIES = ("fail", "warn", "skip")
PIXEL_MODES = ("all-text", "phi")
MUTUALLY_EXCLUSIVE = (("retain_long_full_dates", "retain_long_modified_dates"),)
NOT_IMPLEMENTED = {
    "clean_recognizable_visual_features": "no de-facing is implemented; refusing to claim 113102",
}


@dataclass(frozen=True)
class OptionDef:
    name: str
    code: str
    meaning: str
    column: str | None


@dataclass(frozen=True)
class OptionSet:
    basic: OptionDef
    options: dict[str, OptionDef]


@lru_cache(maxsize=4)
def _load_options(path: str) -> OptionSet:
    p = Path(path)
    data = load_yaml(p)
    require(isinstance(data, dict), p, None, "top level must be a mapping")
    b = data.get("basic") or {}
    require(str(b.get("code", "")).isdigit() and b.get("meaning"), p, "basic", "code and meaning")
    basic = OptionDef("basic", str(b["code"]), str(b["meaning"]), None)
    opts: dict[str, OptionDef] = {}
    for raw in data.get("options") or []:
        name = raw.get("name") if isinstance(raw, dict) else None
        require(isinstance(name, str) and name, p, raw, "option needs a name")
        require(str(raw.get("code", "")).isdigit(), p, name, "code must be digits")
        require(bool(raw.get("meaning")), p, name, "meaning required")
        require(name not in opts, p, name, "duplicate option")
        opts[name] = OptionDef(name, str(raw["code"]), str(raw["meaning"]), raw.get("column"))
    require(bool(opts), p, None, "no options")
    return OptionSet(basic, opts)


def load_options() -> OptionSet:
    return _load_options(str(rules_path("dicom", "options.yaml")))


def option_columns() -> frozenset[str]:
    return frozenset(o.column for o in load_options().options.values() if o.column)


@dataclass(frozen=True)
class Settings:
    """Everything that decides what happens to a file besides the key."""

    options: frozenset[str] = frozenset()
    pseudonym_format: str = "{prefix}{n:08d}"
    pseudonym_prefix: str = "ANON"
    burned_in: str = "fail"
    subject_map: dict[str, str] = field(default_factory=dict)
    profile_name: str = "basic"
    pixel_mode: str = "all-text"  # deid.dicom.pixels: all-text (mask every text) or phi
    pixel_options: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_options(self.options)
        if self.pixel_mode not in PIXEL_MODES:
            raise DeidError(f"pixel mode must be one of {', '.join(PIXEL_MODES)}")
        if self.burned_in not in BURNED_IN_POLICIES:
            raise DeidError(f"--burned-in must be one of {', '.join(BURNED_IN_POLICIES)}")
        try:
            self.pseudonym_format.format(prefix="P", n=1, hex="ab")
        except (KeyError, IndexError, ValueError) as exc:
            raise DeidError(f"bad pseudonym format: {exc}") from None

    def has(self, name: str) -> bool:
        return name in self.options

    def method_codes(self, applied: set[str] | frozenset[str]) -> list[OptionDef]:
        """113100 first, then the applied options in code order."""
        os_ = load_options()
        return [os_.basic] + sorted((os_.options[n] for n in applied), key=lambda o: o.code)


def validate_options(names: frozenset[str] | set[str]) -> None:
    known = load_options().options
    for n in names:
        if n not in known:
            raise DeidError(f"unknown DICOM option {n!r}; known: {', '.join(sorted(known))}")
        if n in NOT_IMPLEMENTED:
            raise DeidError(f"option {n}: {NOT_IMPLEMENTED[n]}")
    for a, b in MUTUALLY_EXCLUSIVE:
        if a in names and b in names:
            raise DeidError(f"options {a} and {b} are mutually exclusive")


def load_profile(path: str | Path) -> dict:
    """A profile YAML (name, options, pseudonym {format, prefix}, burned_in, pixels {mode,
    options}), validated."""
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = rules_path("dicom", "profiles", f"{p.name}.yaml")
    data = load_yaml(p)
    require(isinstance(data, dict), p, None, "profile must be a mapping")
    known = load_options().options
    opts = data.get("options") or []
    require(isinstance(opts, list), p, "options", "must be a list")
    for o in opts:
        require(o in known, p, o, f"unknown option; known: {', '.join(sorted(known))}")
    ps = data.get("pseudonym") or {}
    require(isinstance(ps, dict), p, "pseudonym", "must be a mapping")
    bi = data.get("burned_in", "fail")
    require(bi in BURNED_IN_POLICIES, p, "burned_in", f"one of {BURNED_IN_POLICIES}")
    px = data.get("pixels") or {}
    require(isinstance(px, dict), p, "pixels", "must be a mapping (mode, options)")
    pmode = px.get("mode", "all-text")
    require(pmode in PIXEL_MODES, p, "pixels.mode", f"one of {PIXEL_MODES}")
    popts = px.get("options") or {}
    require(isinstance(popts, dict), p, "pixels.options", "must be a mapping")
    return {
        "name": str(data.get("name", p.stem)),
        "options": list(opts),
        "pseudonym_format": str(ps.get("format", "{prefix}{n:08d}")),
        "pseudonym_prefix": str(ps.get("prefix", "ANON")),
        "burned_in": bi,
        "pixel_mode": pmode,
        "pixel_options": dict(popts),
    }
