"""Realistic, keyed, format-preserving surrogates for each label.

Every surrogate is a pure function of (key, label group, normalised original), so the same
value gets the same surrogate in every note, file, run and process. Case is kept (ALL CAPS stays
all caps), digits stay digits, separators stay where they were.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

from deid.key import Key, normalize
from deid.rulefile import load_wordlist, wordlist_entries

NAME_LABELS = {"PATIENT", "DOCTOR", "RELATIVE", "NAME"}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_TITLES = {"dr", "mr", "mrs", "ms", "miss", "md", "do", "rn", "np", "pa", "phd", "jr", "sr", "ii",
           "iii", "iv", "prof"}


@lru_cache(maxsize=32)
def _pool(name: str) -> tuple[str, ...]:
    return tuple(wordlist_entries(name))


def match_case(template: str, word: str) -> str:
    """Write ``word`` in the case style of ``template``."""
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template.islower():
        return word.lower()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _pick(key: Key, pool_name: str, purpose: str, original: str) -> str:
    pool = _pool(pool_name)
    pick = key.choice(purpose, pool, normalize(original))
    if normalize(pick) == normalize(original):
        pick = key.choice(purpose + "/2", pool, normalize(original))
    return pick


def keyed_chars(key: Key, purpose: str, original: str, _attempt: int = 0) -> str:
    """Replace each digit and letter by a keyed one of the same kind and case.

    Letters outside ASCII become keyed ASCII letters; separators stay where they were.
    """
    stream = key.digest(purpose, normalize(original)) + key.digest(purpose + "/more", normalize(original))
    out = []
    for i, ch in enumerate(original):
        b = stream[i % len(stream)] ^ (i // len(stream))
        if ch.isdigit():
            out.append(str(b % 10))
        elif ch.isalpha():
            c = string.ascii_lowercase[b % 26]
            out.append(c.upper() if ch.isupper() else c)
        else:
            out.append(ch)
    res = "".join(out)
    if res == original and any(c.isalnum() for c in original):
        if _attempt < 3:
            return keyed_chars(key, purpose + "/again", original, _attempt + 1)
        return "".join("X" if c.isalnum() else c for c in original)  # never leave it
    return res


def _first_name_pool(word: str) -> str:
    """A first name keeps its gender: girls' names map to girls' names, boys' to boys'."""
    w = word.casefold()
    if w in load_wordlist("female_first_names"):
        return "female_first_names"
    if w in load_wordlist("male_first_names"):
        return "male_first_names"
    return "first_names"


def name_surrogate(key: Key, original: str) -> str:
    first = load_wordlist("first_names")

    def repl(m: re.Match[str]) -> str:
        w = m.group()
        lw = w.casefold().strip(".")
        if lw in _TITLES:
            return w
        if len(w) == 1:  # an initial
            letter = string.ascii_uppercase[key.integer("initial", lw) % 26]
            return letter if w.isupper() else letter.lower()
        pool = _first_name_pool(lw) if lw in first else "surnames"
        return match_case(w, _pick(key, pool, "name", w))

    return _WORD.sub(repl, original)


def street_surrogate(key: Key, original: str) -> str:
    suffixes = load_wordlist("street_suffixes")

    def repl(m: re.Match[str]) -> str:
        w = m.group()
        if w.casefold() in suffixes or w.casefold().rstrip(".") in suffixes:
            return w
        if len(w) <= 2 and any(c.isdigit() for c in original):
            return w
        return match_case(w, _pick(key, "surnames", "street", w))

    digits = re.sub(r"\d+", lambda m: keyed_chars(key, "street-no", m.group()), original)
    return _WORD.sub(repl, digits)


def pool_surrogate(key: Key, pool: str, purpose: str, original: str) -> str:
    return match_case(original, _pick(key, pool, purpose, original))


def email_surrogate(key: Key, original: str) -> str:
    local, _, domain = original.partition("@")
    tld = domain.rsplit(".", 1)[-1] if "." in domain else "org"
    new_local = keyed_chars(key, "email", local) if local else "user"
    return f"{new_local}@example.{tld.lower() if tld.isalpha() else 'org'}"


def url_surrogate(key: Key, original: str) -> str:
    m = re.match(r"(?i)(https?://|ftp://)?(www\.)?", original)
    prefix = m.group(0) if m else ""
    tail = key.digest("url", normalize(original)).hex()[:8]
    return f"{prefix}example.org/{tail}"


def ip_surrogate(key: Key, original: str) -> str:
    if ":" in original:
        h = key.digest("ipv6", normalize(original)).hex()
        return f"2001:db8:{h[:4]}:{h[4:8]}::{h[8:12]}"
    nets = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737 documentation ranges
    n = key.integer("ipv4", original)
    return f"{nets[n % 3]}.{1 + (n >> 8) % 254}"


def surrogate(key: Key, label: str, original: str) -> str:
    """A surrogate for ``original`` of ``label``."""
    if label in NAME_LABELS:
        return name_surrogate(key, original)
    if label == "USERNAME":
        return keyed_chars(key, "username", original)
    if label == "STREET":
        return street_surrogate(key, original)
    if label in ("CITY", "LOCATION"):
        return pool_surrogate(key, "us_cities", "city", original)
    if label == "COUNTY":
        return pool_surrogate(key, "us_counties", "county", original)
    if label == "STATE":
        if len(original.strip(".")) == 2:
            return keyed_chars(key, "state", original)
        return pool_surrogate(key, "us_states", "state", original)
    if label == "COUNTRY":
        return pool_surrogate(key, "countries", "country", original)
    if label in ("HOSPITAL", "ORGANIZATION"):
        return pool_surrogate(key, "surrogate_hospitals", "hospital", original)
    if label == "PROFESSION":
        return pool_surrogate(key, "surrogate_professions", "profession", original)
    if label == "EMAIL":
        return email_surrogate(key, original)
    if label == "URL":
        return url_surrogate(key, original)
    if label == "IP":
        return ip_surrogate(key, original)
    # SSN, MRN, phone, fax, accounts, licences, devices, vehicles, other IDs, ZIP, dates without
    # a parse: keep the layout, replace every digit and letter.
    return keyed_chars(key, label.lower(), original)
