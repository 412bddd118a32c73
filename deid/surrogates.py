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


def id_key(original: str) -> str:
    """The normalised value a number-like identifier is keyed on: its letters and digits only,
    so ``00482913`` and ``00-482-913`` (or ``(217) 555-0198`` and ``217-555-0198``) are one."""
    return "".join(c for c in normalize(original) if c.isalnum())


def keyed_chars(key: Key, purpose: str, original: str, _attempt: int = 0) -> str:
    """Replace each digit and letter by a keyed one of the same kind and case.

    The stream is keyed on the letters and digits only (``id_key``) and consumed one per
    letter or digit, so the same identifier written with other separators gets the same
    characters in its own layout. Letters outside ASCII become keyed ASCII letters.
    """
    core = id_key(original)
    stream = key.digest(purpose, core) + key.digest(purpose + "/more", core)
    out = []
    i = 0
    for ch in original:
        if not ch.isalnum():
            out.append(ch)
            continue
        b = stream[i % len(stream)] ^ (i // len(stream))
        i += 1
        if ch.isdigit():
            out.append(str(b % 10))
        else:
            c = string.ascii_lowercase[b % 26]
            out.append(c.upper() if ch.isupper() else c)
    res = "".join(out)
    if res == original and any(c.isalnum() for c in original):
        if _attempt < 3:
            return keyed_chars(key, purpose + "/again", original, _attempt + 1)
        return "".join("X" if c.isalnum() else c for c in original)  # never leave it
    return res


def _fill_digits(template: str, digits: str) -> str:
    """Write ``digits`` into the digit positions of ``template`` in order."""
    it = iter(digits)
    return "".join(next(it) if c.isdigit() else c for c in template)


def _nanp(key: Key, purpose: str, core: str) -> str:
    """Ten keyed digits of a valid North American number: NXX-NXX-XXXX, no N11 codes."""
    n = key.integer(purpose, core)
    parts = []
    for _ in range(2):  # area code, then exchange
        while True:
            a, n = 2 + n % 8, n // 8
            b, n = n % 10, n // 10
            c, n = n % 10, n // 10
            if not (b == 1 and c == 1):
                break
        parts.append(f"{a}{b}{c}")
    parts.append(f"{n % 10_000:04d}")
    return "".join(parts)


_PHONE = re.compile(
    r"^(?P<cc>\+\s*\d{1,3}[\s.-]*|1[\s.-]+(?=\(?\d{3}))?(?P<body>.*?)"
    r"(?P<ext>\s*(?:x|ext\.?|extension|#)\s*\d+)?$",
    re.IGNORECASE | re.DOTALL,
)


def phone_surrogate(key: Key, original: str) -> str:
    """A phone or fax number: the country code and extension stay where they are (the
    extension's digits are replaced); ten national digits become a valid NANP number keyed on
    the digits alone, so one number written two ways gets one surrogate."""
    m = _PHONE.match(original)
    if m is None:  # pragma: no cover - the pattern matches any string
        return keyed_chars(key, "phone", original)
    cc, body, ext = m.group("cc") or "", m.group("body"), m.group("ext") or ""
    digits = "".join(c for c in body if c.isdigit())
    if len(digits) == 11 and digits.startswith("1") and not cc:
        cc_idx = body.index("1")
        cc, body = body[:cc_idx + 1], body[cc_idx + 1:]
        digits = digits[1:]
    if len(digits) == 10:
        new = _nanp(key, "phone", digits)
        if new == digits:
            new = _nanp(key, "phone/2", digits)
        body = _fill_digits(body, new)
    elif len(digits) == 7:
        new = _nanp(key, "phone", digits)[3:]
        body = _fill_digits(body, new if new != digits else _nanp(key, "phone/2", digits)[3:])
    else:
        body = keyed_chars(key, "phone", body)
    if ext:
        ext_digits = "".join(c for c in ext if c.isdigit())
        ext = _fill_digits(ext, keyed_chars(key, "phone-ext:" + digits, ext_digits))
    return cc + body + ext


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


def _surname_like(key: Key, word: str) -> str:
    """A surname for ``word`` in its case: the same pick as in a person's name, so one word
    gets one surrogate whether it was found as a name, a username or a firm's name."""
    return match_case(word, _pick(key, "surnames", "name", word))


_RUN = re.compile(r"[^\W\d_]+|\d+|[\W_]+")


def username_surrogate(key: Key, original: str) -> str:
    """A plausible user name in the original's shape: ``jsmith42`` -> ``kdavis17``,
    ``mary.jones`` -> ``linda.keller``; letters from the name lists, digits keyed."""
    first, last = load_wordlist("first_names"), load_wordlist("surnames")
    out = []
    for m in _RUN.finditer(original):
        run = m.group()
        low = run.casefold()
        if run.isdigit():
            out.append(keyed_chars(key, "username-digits:" + id_key(original), run))
        elif not run[0].isalpha():
            out.append(run)
        elif len(run) <= 2:
            out.append(keyed_chars(key, "initial", run))
        elif low in first:
            out.append(match_case(run, _pick(key, _first_name_pool(low), "name", run)))
        elif low in last:
            out.append(_surname_like(key, run))
        elif low[1:] in last:  # jsmith: initial + surname
            out.append(keyed_chars(key, "initial", run[0]) + _surname_like(key, run[1:]))
        elif low[:-1] in last:  # smithj
            out.append(_surname_like(key, run[:-1]) + keyed_chars(key, "initial", run[-1]))
        else:
            out.append(_surname_like(key, run))
    res = "".join(out)
    return res if res.casefold() != original.casefold() else keyed_chars(key, "username", original)


# Words that say what kind of organisation a name is; they stay, the rest is replaced.
# The type words of rules/patterns/locations.yaml (organization_suffix) and Faker's company
# suffixes.
_ORG_TYPES = (
    "drug store", "drugstore", "pharmacy", "pharmacies", "inc", "llc", "corp", "corporation",
    "company", "co", "church", "school", "elementary", "high school", "university", "college",
    "academy", "bank", "foundation", "association", "society", "store", "market", "supermarket",
    "restaurant", "factory", "mill", "plant", "club", "and sons", "group", "plc", "ltd",
    "insurance", "of", "and", "&", "the",
)
_ORG_TYPE_RX = re.compile(
    r"(?i)(?<![\w'’])(?:" + "|".join(re.escape(t).replace(r"\ ", r"\s+")
                                    for t in sorted(_ORG_TYPES, key=len, reverse=True))
    + r")\.?(?![\w'’])")


def organization_surrogate(key: Key, original: str) -> str:
    """An organisation: type words stay (``Sawhney's Drug Store`` -> ``Keller's Drug Store``),
    each other word becomes a surname; an acronym (``BCBS``) becomes keyed capitals; a name
    without a type word becomes a company name (Faker's company provider)."""
    core = original.strip()
    if re.fullmatch(r"[A-Z]{2,6}", core):
        return keyed_chars(key, "org-abbr", original)
    types = list(_ORG_TYPE_RX.finditer(original))
    if not types and re.search(r"['’]s?$", core):  # "Sawhney's": as in "Sawhney's Drug Store"
        return _WORD.sub(lambda m: _org_word(key, m.group()), original)
    if not types or not any(t.group().strip(".").casefold() not in ("of", "and", "&", "the")
                            for t in types):
        return pool_surrogate(key, "surrogate_organizations", "organization", original)
    out, pos = [], 0
    for t in types:
        out.append(_WORD.sub(lambda m: _org_word(key, m.group()), original[pos:t.start()]))
        out.append(t.group())
        pos = t.end()
    out.append(_WORD.sub(lambda m: _org_word(key, m.group()), original[pos:]))
    return "".join(out)


def _org_word(key: Key, word: str) -> str:
    stem, poss = (word[:-2], word[-2:]) if re.search(r"['’]s$", word) else (word, "")
    if stem.casefold() in ("of", "and", "the"):
        return word
    if len(stem) <= 1:
        return word
    return _surname_like(key, stem) + poss


def country_surrogate(key: Key, original: str) -> str:
    """A country: a code (USA, U.K., UAE) becomes an ISO code of the same length in the same
    layout, a name another country's name."""
    letters = "".join(c for c in original if c.isalpha())
    if letters.isupper() and 2 <= len(letters) <= 3:
        pool = tuple(c for c in _pool("country_codes") if len(c) == len(letters)
                     and c.casefold() != letters.casefold())
        code = key.choice("country-code", pool, letters.casefold())
        it = iter(code)
        return "".join(next(it) if c.isalpha() else c for c in original)
    return pool_surrogate(key, "countries", "country", original)


def state_surrogate(key: Key, original: str) -> str:
    """A US state: a two-letter code becomes a real USPS code, a name a state's name."""
    letters = "".join(c for c in original if c.isalpha())
    if len(letters) == 2:
        pool = tuple(c for c in _pool("us_state_codes") if c.casefold() != letters.casefold())
        code = key.choice("state-code", pool, letters.casefold())
        code = code if letters.isupper() else match_case(letters, code)
        it = iter(code)
        return "".join(next(it) if c.isalpha() else c for c in original)
    return pool_surrogate(key, "us_states", "state", original)


def email_surrogate(key: Key, original: str) -> str:
    local, _, domain = original.partition("@")
    tld = domain.rsplit(".", 1)[-1] if "." in domain else "org"
    new_local = username_surrogate(key, local) if local else "user"
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


def _place_kind(label: str, original: str) -> str:
    """The kind of place a CITY / LOCATION / STATE / COUNTRY span really names: a country or
    a state written where a city was expected is replaced by a country or a state."""
    v = " ".join(original.casefold().split()).strip(" .,")
    states, countries = load_wordlist("us_states"), load_wordlist("countries")
    if label in ("CITY", "LOCATION", "COUNTY"):
        if v in states:  # "moved from Georgia": in US notes the state
            return "STATE"
        if v in countries:
            return "COUNTRY"
    if label == "COUNTRY" and v in states and v not in countries:
        return "STATE"
    return label


def surrogate(key: Key, label: str, original: str) -> str:
    """A surrogate for ``original`` of ``label``."""
    if label in NAME_LABELS:
        return name_surrogate(key, original)
    if label == "USERNAME":
        return username_surrogate(key, original)
    if label == "STREET":
        return street_surrogate(key, original)
    label = _place_kind(label, original)
    if label in ("CITY", "LOCATION"):
        return pool_surrogate(key, "us_cities", "city", original)
    if label == "COUNTY":
        return pool_surrogate(key, "us_counties", "county", original)
    if label == "STATE":
        return state_surrogate(key, original)
    if label == "COUNTRY":
        return country_surrogate(key, original)
    if label == "HOSPITAL":
        return pool_surrogate(key, "surrogate_hospitals", "hospital", original)
    if label == "ORGANIZATION":
        return organization_surrogate(key, original)
    if label == "PROFESSION":
        return pool_surrogate(key, "surrogate_professions", "profession", original)
    if label == "EMAIL":
        return email_surrogate(key, original)
    if label == "URL":
        return url_surrogate(key, original)
    if label == "IP":
        return ip_surrogate(key, original)
    if label in ("PHONE", "FAX"):
        return phone_surrogate(key, original)
    # SSN, MRN, accounts, licences, devices, vehicles, other IDs: keep the layout, replace every
    # digit and letter, keyed on the letters and digits alone and shared by these labels, so an
    # MRN found once as MRN and once as a bare number gets one surrogate.
    return keyed_chars(key, "id", original)
