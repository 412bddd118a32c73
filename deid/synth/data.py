"""Loading and validating the generator's data files (``corpora/synth/``) and the name pools.

All behaviour of the generator lives in these files: templates, vocabularies, styles, template
families with their split, and the name-split rule. Errors name the file and the entry.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from deid.errors import RuleError
from deid.labels import load_labels
from deid.rulefile import load_yaml, repo_root, require, wordlist_entries
from deid.synth.template import Node, compile_template

SPLITS: tuple[str, ...] = ("train", "dev", "test")
NAME_LABELS: frozenset[str] = frozenset({"PATIENT", "DOCTOR", "RELATIVE", "NAME"})
# Keys a style in config.yaml may set (applied by deid/synth/style.py).
STYLE_KEYS: frozenset[str] = frozenset({"upper", "lower", "abbreviate", "drop_punct", "typos",
                                        "phi_typos", "wrap", "copy_forward", "double_space"})
_TOKEN = re.compile(r"[^\W\d_]{2,}")
_WORD = re.compile(r"[^\W\d_]+")


def synth_dir() -> Path:
    return repo_root() / "corpora" / "synth"


def name_tokens(text: str) -> list[str]:
    """The casefolded name tokens (runs of >= 2 letters) of a string; initials are ignored."""
    return _TOKEN.findall(text.casefold())


@dataclass(frozen=True)
class Section:
    name: str
    titles: tuple[str, ...]
    join: str
    block: bool
    head: tuple[list[Node], ...]
    lines: tuple[list[Node], ...]
    tail: tuple[list[Node], ...]
    pick: tuple[int, int]


@dataclass(frozen=True)
class Family:
    name: str
    type: str
    split: str
    heading: str
    sections: tuple[tuple[tuple[str, ...], bool], ...]  # (alternatives, optional)
    styles: tuple[tuple[str, float], ...]
    dates: tuple[str, ...]


@dataclass(frozen=True)
class SynthData:
    config: dict[str, Any]
    vocab: dict[str, Any]
    sections: dict[str, Section]
    families: dict[str, Family]
    type_titles: dict[str, tuple[str, ...]]
    type_weights: dict[str, int] = field(default_factory=dict)  # times a type recurs per cycle


HEADINGS = ("upper_colon", "title_colon", "inline", "dash", "hash", "underline", "bracket",
            "none", "soap", "sbar")


def _sections(path: Path, raw: Any) -> dict[str, Section]:
    require(isinstance(raw, dict) and isinstance(raw.get("sections"), dict), path, None,
            "missing 'sections' mapping")
    out: dict[str, Section] = {}
    for name, spec in raw["sections"].items():
        require(isinstance(spec, dict), path, name, "section must be a mapping")
        block = bool(spec.get("block", False))
        titles = tuple(str(t) for t in spec.get("titles") or ())
        require(block or bool(titles), path, name, "a non-block section needs titles")
        join = spec.get("join", "\n")
        require(isinstance(join, str), path, name, "join must be a string")
        parts: dict[str, tuple[list[Node], ...]] = {}
        for key in ("head", "lines", "tail"):
            items = spec.get(key) or []
            require(isinstance(items, list) and all(isinstance(x, str) for x in items), path,
                    name, f"{key} must be a list of strings")
            try:
                parts[key] = tuple(compile_template(x) for x in items)
            except ValueError as exc:
                raise RuleError(path, name, f"bad template in {key}: {exc}") from None
        pick = spec.get("pick", [len(parts["lines"]), len(parts["lines"])])
        require(isinstance(pick, list) and len(pick) == 2 and 0 <= pick[0] <= pick[1]
                <= len(parts["lines"]), path, name, "pick must be [min, max] within the lines")
        require(bool(parts["head"] or parts["lines"]), path, name, "section has no lines")
        out[name] = Section(name, titles, join, block, parts["head"], parts["lines"],
                            parts["tail"], (int(pick[0]), int(pick[1])))
    return out


def _families(path: Path, raw: Any, sections: dict[str, Section]) -> tuple[
        dict[str, Family], dict[str, tuple[str, ...]], dict[str, int]]:
    from deid.synth.dates import FORMATS

    require(isinstance(raw, dict) and isinstance(raw.get("types"), dict)
            and isinstance(raw.get("families"), dict), path, None,
            "needs 'types' and 'families' mappings")
    types = {str(k): tuple(str(t) for t in (v or {}).get("titles") or ())
             for k, v in raw["types"].items()}
    weights: dict[str, int] = {}
    for t, titles in types.items():
        require(bool(titles), path, t, "note type needs titles")
        w = (raw["types"][t] or {}).get("weight", 1)
        require(isinstance(w, int) and 1 <= w <= 10, path, t, "weight must be an integer 1..10")
        weights[t] = w
    fams: dict[str, Family] = {}
    for name, spec in raw["families"].items():
        require(isinstance(spec, dict), path, name, "family must be a mapping")
        require(spec.get("type") in types, path, name, f"unknown note type {spec.get('type')!r}")
        require(spec.get("split") in SPLITS, path, name, "split must be train, dev or test")
        require(spec.get("heading") in HEADINGS, path, name,
                f"heading must be one of {', '.join(HEADINGS)}")
        secs = []
        for item in spec.get("sections") or []:
            item = str(item)
            optional = item.startswith("(") and item.endswith(")")
            alts = tuple(item.strip("()").split("|"))
            for a in alts:
                require(a in sections, path, name, f"unknown section {a!r}")
            secs.append((alts, optional))
        require(bool(secs), path, name, "family has no sections")
        styles = spec.get("styles") or {}
        require(isinstance(styles, dict) and bool(styles), path, name, "styles must be a mapping")
        dates = tuple(str(d) for d in spec.get("dates") or ())
        for d in dates:
            require(d in FORMATS, path, name, f"unknown date format {d!r}")
        fams[str(name)] = Family(str(name), spec["type"], spec["split"], spec["heading"],
                                 tuple(secs), tuple((str(k), float(v)) for k, v in styles.items()),
                                 dates)
    return fams, types, weights


@lru_cache(maxsize=2)
def load_data(base: str | None = None) -> SynthData:
    """Load and validate config.yaml, vocab.yaml, sections.yaml and families.yaml."""
    d = Path(base) if base else synth_dir()
    cfg_p, voc_p, sec_p, fam_p = (d / "config.yaml", d / "vocab.yaml", d / "sections.yaml",
                                  d / "families.yaml")
    config = load_yaml(cfg_p)
    require(isinstance(config, dict), cfg_p, None, "must be a mapping")
    for key in ("split_ratio", "name_split", "name_pools", "ages", "years", "styles"):
        require(key in config, cfg_p, key, "missing")
    ratio = config["split_ratio"]
    require(set(ratio) == set(SPLITS) and abs(sum(ratio.values()) - 1.0) < 1e-9, cfg_p,
            "split_ratio", "needs train/dev/test summing to 1")
    permille = config["name_split"].get("permille") or {}
    require(set(permille) == set(SPLITS) and sum(permille.values()) == 1000, cfg_p,
            "name_split", "permille needs train/dev/test summing to 1000")
    for sname, sspec in config["styles"].items():
        require(isinstance(sspec, dict) and set(sspec) <= STYLE_KEYS, cfg_p, sname,
                f"style keys must be among {sorted(STYLE_KEYS)}")
    vocab = load_yaml(voc_p)
    require(isinstance(vocab, dict), voc_p, None, "must be a mapping")
    for key in ("eponyms", "name_words", "common_word_sentences", "conditions", "complaints",
                "drugs", "organizations", "hospital_patterns", "professions", "abbreviations",
                "state_abbr", "relations", "nicknames", "problems", "lab_names", "imaging",
                "pathology", "url_patterns", "location_patterns", "ward_patterns"):
        require(key in vocab and bool(vocab[key]), voc_p, key, "missing or empty")
    for i, ab in enumerate(vocab["abbreviations"]):
        require(isinstance(ab, list) and len(ab) == 2, voc_p, f"abbreviations[{i}]",
                "must be [pattern, replacement]")
    sections = _sections(sec_p, load_yaml(sec_p))
    families, types, weights = _families(fam_p, load_yaml(fam_p), sections)
    for st in {s for f in families.values() for s, _ in f.styles}:
        require(st in config["styles"], fam_p, st, "style not defined in config.yaml")
    for t in types:
        for sp in SPLITS:
            require(any(f.type == t and f.split == sp for f in families.values()), fam_p, t,
                    f"note type has no family in split {sp!r}")
    hn = vocab.get("hard_negatives")
    require(isinstance(hn, dict) and all(isinstance(v, list) and v for v in hn.values()), voc_p,
            "hard_negatives", "must map list names to non-empty lists")
    _check_slots(sec_p, sections, hn)
    return SynthData(config, vocab, sections, families, types, weights)


def _check_slots(path: Path, sections: dict[str, Section], lists: dict[str, Any]) -> None:
    """Every slot named in a template must be a generator of deid.synth.note.Note, and every
    ``{v:NAME}`` a list under ``hard_negatives`` in vocab.yaml."""
    from deid.synth.note import Note
    from deid.synth.template import slots_of

    for name, sec in sections.items():
        for seq in sec.head + sec.lines + sec.tail:
            for slot, arg in slots_of(seq):
                require(callable(getattr(Note, "s_" + slot, None)), path, name,
                        f"unknown slot {{{slot}}}")
                require(slot != "v" or arg in lists, path, name,
                        f"{{v:{arg}}} names no hard_negatives list in vocab.yaml")


def check_labels(labels: set[str]) -> None:
    known = load_labels()
    for lab in sorted(labels):
        if lab not in known:
            raise RuleError("rules/labels.yaml", lab, "label used by deid.synth is not defined")


# ---------------------------------------------------------------------------- name pools


def token_split(token: str, salt: str, permille: dict[str, int]) -> str:
    """The split a casefolded name token belongs to (sha256 bucket; stable across runs)."""
    h = int.from_bytes(hashlib.sha256(f"{salt}:{token}".encode()).digest()[:8], "big") % 1000
    acc = 0
    for sp in ("test", "dev", "train"):
        acc += int(permille[sp])
        if h < acc:
            return sp
    return "train"


@dataclass(frozen=True)
class NamePools:
    """First and last names usable in one split, as weighted segments."""

    split: str
    first: tuple[tuple[tuple[str, ...], float, str | None], ...]  # (names, weight, sex)
    last: tuple[tuple[tuple[str, ...], float, str | None], ...]
    nicknames: dict[str, tuple[str, ...]]
    salt: str
    permille: dict[str, int]

    def in_split(self, text: str) -> bool:
        toks = name_tokens(text) + name_tokens(text.upper())
        return all(token_split(t, self.salt, self.permille) == self.split for t in toks)


def stop_tokens(vocab: dict[str, Any]) -> frozenset[str]:
    """Tokens never used in names: name-like words and everything in the clinical vocabularies."""
    words: set[str] = {str(w).casefold() for w in vocab["name_words"]}
    sources: list[Any] = [vocab["eponyms"], vocab["common_word_sentences"], vocab["conditions"],
                          vocab["complaints"], vocab.get("exam_findings", []),
                          vocab.get("procedures_generic", []), vocab.get("device_makers", []),
                          vocab.get("device_kinds", []), vocab.get("specialties", []),
                          vocab.get("allergies", []), vocab.get("problems", []),
                          [d["name"] for d in vocab["drugs"]], vocab.get("vehicle_makes", []),
                          vocab.get("units_generic", []), list(vocab["relations"]),
                          vocab["professions"], vocab.get("hard_negatives", {})]

    def walk(x: Any) -> None:
        if isinstance(x, str):
            words.update(w.casefold() for w in _WORD.findall(x))
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list | tuple):
            for v in x:
                walk(v)

    for s in sources:
        walk(s)
    return frozenset(words)


def _faker_tail(entries: list[str]) -> int:
    """Index where the alphabetical (Faker) tail of a census-then-Faker list begins."""
    i = len(entries) - 1
    while i > 0 and entries[i - 1] <= entries[i]:
        i -= 1
    return i


@lru_cache(maxsize=4)
def _entries(file: str) -> list[str]:
    """A name list: ``x.txt`` beside the synth data, else a word list under rules/wordlists/."""
    if not file.endswith(".txt"):
        return wordlist_entries(file)
    p = synth_dir() / file
    if not p.exists():
        raise RuleError(p, None, "name list not found")
    with open(p, encoding="utf-8") as fh:
        return [x for x in (line.split("#", 1)[0].strip() for line in fh) if x]


@lru_cache(maxsize=8)
def _bucketed(file: str, salt: str, permille_items: tuple[tuple[str, int], ...],
              stop: frozenset[str]) -> tuple[int, tuple[tuple[str, str | None], ...]]:
    """Every entry of a name list with its split (None when unusable), and the Faker tail."""
    permille = dict(permille_items)
    entries = [e for e in _entries(file) if e.isascii() or e.isalpha()]
    memo: dict[str, str] = {}
    out: list[tuple[str, str | None]] = []
    for e in entries:
        splits = set()
        for t in name_tokens(e) + name_tokens(e.upper()):  # ALL CAPS must not change tokens
            if t in stop:
                splits.add("")
                break
            sp = memo.get(t)
            if sp is None:
                sp = memo[t] = token_split(t, salt, permille)
            splits.add(sp)
        out.append((e, splits.pop() if len(splits) == 1 and "" not in splits else None))
    return _faker_tail(entries), tuple(out)


@lru_cache(maxsize=8)
def name_pools(split: str, base: str | None = None) -> NamePools:
    data = load_data(base)
    cfg = data.config
    salt = str(cfg["name_split"]["salt"])
    permille = {k: int(v) for k, v in cfg["name_split"]["permille"].items()}
    stop = stop_tokens(data.vocab)

    def usable(name: str) -> bool:
        toks = name_tokens(name) + name_tokens(name.upper())
        return bool(toks) and all(t not in stop and token_split(t, salt, permille) == split
                                  for t in toks)

    cfg_p = synth_dir() / "config.yaml"
    pools: dict[str, tuple[tuple[tuple[str, ...], float, str | None], ...]] = {}
    for kind in ("first", "last"):
        spec = cfg["name_pools"][kind]
        perm = tuple(sorted(permille.items()))
        seg_specs = spec["segments"]
        top_by_sex: dict[str, set[str]] = {"M": set(), "F": set()}
        n_top = int(spec.get("exclude_top", 0))
        for seg_name, seg in seg_specs.items():
            require(isinstance(seg, dict) and "weight" in seg, cfg_p, seg_name,
                    "segment needs start, end and weight")
            sex = seg.get("sex")
            require(sex in (None, "M", "F"), cfg_p, seg_name, "sex must be M, F or null")
            if sex and n_top:
                _, ents = _bucketed(str(seg.get("file", spec["file"])), salt, perm, stop)
                lo = int(seg.get("start", 0)) if seg.get("start") != "tail" else 0
                top_by_sex[sex].update(e.casefold() for e, _ in ents[lo:lo + n_top])
        segs = []
        for seg_name, seg in seg_specs.items():
            tail, entries = _bucketed(str(seg.get("file", spec["file"])), salt, perm, stop)

            def index(v: Any, seg_name: str = seg_name, tail: int = tail,
                      n: int = len(entries)) -> int:
                if v is None:
                    return n
                if v == "tail":
                    return tail
                require(isinstance(v, int) and 0 <= v <= n, cfg_p, seg_name,
                        "bad segment bound")
                return int(v)

            lo, hi = index(seg.get("start", 0)), index(seg.get("end"))
            sex = seg.get("sex")
            other = top_by_sex["F" if sex == "M" else "M"] if sex else set()
            names = tuple(e for e, sp in entries[lo:hi]
                          if sp == split and e.casefold() not in other)
            if names:
                segs.append((names, float(seg["weight"]), sex))
        require(bool(segs), synth_dir() / "config.yaml", kind, f"no {kind} names for {split}")
        pools[kind] = tuple(segs)
    nicks = {str(k): tuple(str(n) for n in v if usable(str(n)))
             for k, v in data.vocab["nicknames"].items()}
    return NamePools(split, pools["first"], pools["last"], nicks, salt, permille)
