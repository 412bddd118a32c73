"""PHI surface forms: people, identifiers, phone numbers, addresses, network identifiers.

Every function takes the document's ``random.Random`` and returns strings; the caller decides
which parts are annotated. Formats follow what appears in real notes (US-centric, plus some
international forms).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from deid.synth.data import NamePools

DIGITS = string.digits
UPPER = string.ascii_uppercase
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def _weighted(rng: random.Random, segs: tuple[tuple[tuple[str, ...], float, str | None], ...],
              sex: str | None = None) -> str:
    usable = [s for s in segs if sex is None or s[2] is None or s[2] == sex] or list(segs)
    total = sum(s[1] for s in usable)
    x = rng.random() * total
    for names, w, _ in usable:
        if x < w:
            return names[rng.randrange(len(names))]
        x -= w
    names = usable[-1][0]
    return names[rng.randrange(len(names))]


def digits(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10 ** n):0{n}d}"


def letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(UPPER, k=n))


def _one(rng: random.Random, makers: list[Callable[[], str]]) -> str:
    """Pick one format, then build only that one."""
    return makers[rng.randrange(len(makers))]()


@dataclass
class Person:
    first: str
    last: str
    middle: str  # an initial or a middle name, may be ""
    sex: str  # "M", "F" or "X"
    nick: str = ""
    cred: str = ""  # RN, MD, ... (not PHI)
    extra: dict[str, str] = field(default_factory=dict)


def first_name(rng: random.Random, pools: NamePools, sex: str | None = None) -> str:
    return _weighted(rng, pools.first, sex if sex in ("M", "F") else None)


def last_name(rng: random.Random, pools: NamePools) -> str:
    last = _weighted(rng, pools.last)
    if rng.random() < 0.05:
        other = _weighted(rng, pools.last)
        if other != last:
            last = f"{last}-{other}"
    return last


def make_person(rng: random.Random, pools: NamePools, sex: str | None = None,
                last: str | None = None) -> Person:
    sex = sex or rng.choice("MF")
    first = first_name(rng, pools, sex)
    mid = ""
    r = rng.random()
    if r < 0.35:
        mid = rng.choice(UPPER)
    elif r < 0.45:
        mid = first_name(rng, pools, sex)
    nick = ""
    nicks = pools.nicknames.get(first)
    if nicks:
        nick = rng.choice(nicks)
    return Person(first, last or last_name(rng, pools), mid, sex, nick)


# --------------------------------------------------------------------------- numbers and codes


def phone(rng: random.Random, ext: bool = True, intl: bool = True) -> str:
    area = rng.choice([rng.randint(201, 989), 617, 212, 415, 312, 713, 305, 206, 404, 508])
    exch = rng.randint(200, 999)
    line = rng.randint(0, 9999)
    a, b, c = f"{area}", f"{exch}", f"{line:04d}"
    forms = [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", f"({a}){b}-{c}",
             f"1-{a}-{b}-{c}", f"{a}{b}{c}", f"{b}-{c}"]
    if intl:
        forms.append(f"+1 {a} {b} {c}")
        forms.append(f"+1-{a}-{b}-{c}")
    s = rng.choice(forms)
    if ext and rng.random() < 0.18:
        s += rng.choice([" x", " ext. ", " ext ", " Ext ", "x", " #"]) + digits(rng, rng.randint(2, 5))
    if intl and rng.random() < 0.05:
        s = rng.choice([f"+44 20 {digits(rng, 4)} {digits(rng, 4)}",
                        f"+33 1 {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)}",
                        f"+91 {digits(rng, 5)} {digits(rng, 5)}",
                        f"+52 55 {digits(rng, 4)} {digits(rng, 4)}"])
    return s


def pager(rng: random.Random) -> str:
    return rng.choice([f"{rng.randint(1, 9)}-{digits(rng, 4)}", digits(rng, 5),
                       phone(rng, ext=False, intl=False)])


def inhouse(rng: random.Random) -> str:
    """An in-house pager or extension: "4-1234", "x5-6789", "41234", "#7-2231"."""
    n = f"{rng.randint(1, 9)}-{digits(rng, 4)}"
    return rng.choice([n, n, f"x{n}", f"x{n[0]}{n[2:]}", n.replace("-", ""), f"#{n}"])


def mrn(rng: random.Random) -> str:
    return _one(rng, [lambda: digits(rng, 7), lambda: digits(rng, 8), lambda: "00" + digits(rng, 6),
                      lambda: f"{letters(rng, 1)}{digits(rng, 7)}", lambda: f"{digits(rng, 2)}-{digits(rng, 2)}-{digits(rng, 2)}",
                      lambda: f"MR{digits(rng, 7)}",
                      lambda: f"{digits(rng, 3)}-{digits(rng, 3)}-{digits(rng, 3)}",
                      lambda: f"{digits(rng, 9)}", lambda: f"E{digits(rng, 8)}"])


def account(rng: random.Random) -> str:
    return rng.choice([digits(rng, 10), digits(rng, 12), f"{letters(rng, 1)}{digits(rng, 9)}",
                       f"{digits(rng, 4)}-{digits(rng, 6)}", f"FIN{digits(rng, 9)}",
                       f"{digits(rng, 3)}{letters(rng, 2)}{digits(rng, 5)}"])


def ssn(rng: random.Random) -> str:
    area = rng.choice([rng.randint(1, 665), rng.randint(667, 899)])
    a, b, c = f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"
    return _one(rng, [lambda: f"{a}-{b}-{c}", lambda: f"{a}-{b}-{c}", lambda: f"{a} {b} {c}", lambda: f"{a}{b}{c}", lambda: f"XXX-XX-{c}", lambda: f"***-**-{c}"])


def healthplan(rng: random.Random, kind: str = "") -> str:
    if kind == "group":
        return rng.choice([digits(rng, 7), f"GRP-{digits(rng, 6)}", f"{letters(rng, 2)}{digits(rng, 5)}"])
    mbi = (f"{rng.randint(1, 9)}{letters(rng, 1)}{rng.choice(VIN_CHARS)}{rng.randint(0, 9)}-"
           f"{letters(rng, 1)}{rng.choice(VIN_CHARS)}{rng.randint(0, 9)}-"
           f"{letters(rng, 2)}{digits(rng, 2)}")
    return rng.choice([f"{letters(rng, 3)}{digits(rng, 9)}", f"W{digits(rng, 9)}", mbi,
                       f"{digits(rng, 8)}{letters(rng, 1)}", f"{letters(rng, 2)}{digits(rng, 8)}",
                       f"{digits(rng, 3)}-{digits(rng, 2)}-{digits(rng, 4)}-A",
                       f"{letters(rng, 1)}{digits(rng, 2)}{letters(rng, 1)}{digits(rng, 6)}"])


def license_(rng: random.Random, kind: str = "dl") -> str:
    if kind == "dea":
        return f"{rng.choice('ABFM')}{letters(rng, 1)}{digits(rng, 7)}"
    if kind == "clia":
        return f"{digits(rng, 2)}D{digits(rng, 7)}"
    if kind == "med":
        return _one(rng, [lambda: f"MD{digits(rng, 5)}", lambda: f"{digits(rng, 6)}", lambda: f"RN{digits(rng, 7)}", lambda: f"{letters(rng, 1)}-{digits(rng, 5)}"])
    return rng.choice([f"{letters(rng, 1)}{digits(rng, 7)}", f"S{digits(rng, 3)}-{digits(rng, 4)}-{digits(rng, 4)}",
                       f"{digits(rng, 3)} {digits(rng, 3)} {digits(rng, 3)}", digits(rng, 9),
                       f"{letters(rng, 1)}{digits(rng, 3)}-{digits(rng, 3)}-{digits(rng, 2)}-{digits(rng, 3)}-{digits(rng, 1)}",
                       f"{letters(rng, 2)}{digits(rng, 6)}"])


def device_serial(rng: random.Random) -> str:
    return _one(rng, [lambda: f"{letters(rng, 3)}{digits(rng, 6)}{letters(rng, 1)}", lambda: f"{letters(rng, 2)}{digits(rng, 7)}", lambda: f"{digits(rng, 2)}{letters(rng, 1)}{digits(rng, 5)}{letters(rng, 2)}", lambda: f"{letters(rng, 2)}-{digits(rng, 4)}-{digits(rng, 5)}", lambda: "".join(rng.choice(VIN_CHARS) for _ in range(10)), lambda: f"SN{digits(rng, 8)}"])


def vehicle(rng: random.Random, kind: str = "plate") -> str:
    if kind == "vin":
        return "".join(rng.choice(VIN_CHARS) for _ in range(17))
    return _one(rng, [lambda: f"{rng.randint(1, 9)}{letters(rng, 3)}{digits(rng, 3)}", lambda: f"{letters(rng, 3)}-{digits(rng, 4)}", lambda: f"{rng.randint(1, 9)}{letters(rng, 2)} {digits(rng, 3)}", lambda: f"{letters(rng, 3)} {digits(rng, 4)}", lambda: f"{digits(rng, 3)}-{letters(rng, 3)}", lambda: f"{letters(rng, 2)}{digits(rng, 2)} {letters(rng, 3)}"])


def idnum(rng: random.Random, kind: str = "") -> str:
    yy = f"{rng.randint(0, 29):02d}"
    if kind == "accession":
        return _one(rng, [lambda: f"RAD{digits(rng, 8)}", lambda: f"A{digits(rng, 8)}", lambda: f"ACC-20{yy}-{digits(rng, 6)}", lambda: f"{digits(rng, 10)}", lambda: f"CT{digits(rng, 7)}", lambda: f"{letters(rng, 2)}{digits(rng, 2)}-{digits(rng, 5)}"])
    if kind == "path":
        return _one(rng, [lambda: f"S{yy}-{digits(rng, 5)}", lambda: f"SP-{yy}-{digits(rng, 5)}", lambda: f"SP{yy}-{digits(rng, 4)}", lambda: f"{letters(rng, 2)}{yy}-{digits(rng, 6)}", lambda: f"S20{yy}-{digits(rng, 6)}"])
    if kind == "npi":
        return str(rng.randint(1, 2)) + digits(rng, 9)
    if kind == "specimen":
        return _one(rng, [lambda: f"SPC-{digits(rng, 7)}", lambda: f"{digits(rng, 2)}-{digits(rng, 3)}-{digits(rng, 4)}"])
    if kind == "employee":
        return _one(rng, [lambda: f"E-{digits(rng, 5)}", lambda: f"{digits(rng, 6)}", lambda: f"INT{digits(rng, 4)}"])
    if kind == "job":
        return rng.choice([digits(rng, 6), f"J{digits(rng, 7)}", f"{digits(rng, 3)}-{digits(rng, 4)}"])
    if kind == "lot":
        return _one(rng, [lambda: f"{digits(rng, 4)}{letters(rng, 1)}", lambda: f"L{digits(rng, 6)}", lambda: f"{letters(rng, 2)}{digits(rng, 5)}"])
    return _one(rng, [lambda: f"ORD{digits(rng, 8)}", lambda: f"{digits(rng, 4)}-{digits(rng, 4)}", lambda: f"CN{digits(rng, 7)}"])


def ipv4(rng: random.Random) -> str:
    first = rng.choice([10, 172, 192, rng.randint(11, 223)])
    if first == 192:
        return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if first == 172:
        return f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    groups[0] = rng.choice(["2001", "fe80", "2600", "2a02", "fd12"])
    r = rng.random()
    if r < 0.4:
        return ":".join(groups)
    if r < 0.8:
        return ":".join(groups[:3]) + "::" + ":".join(groups[6:])
    return groups[0] + "::" + groups[7]


def ip(rng: random.Random, kind: str = "") -> str:
    if kind == "v6" or (kind != "v4" and rng.random() < 0.3):
        return ipv6(rng)
    return ipv4(rng)


def zipcode(rng: random.Random) -> str:
    z = f"{rng.randint(501, 99950):05d}"
    return z + (f"-{digits(rng, 4)}" if rng.random() < 0.2 else "")


def slug(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())[:24] or "clinic"


def username(rng: random.Random, p: Person) -> str:
    f = slug(p.first)
    last = slug(p.last)
    return rng.choice([f"{f[:1]}{last}", f"{f[:1]}{last}{rng.randint(1, 9)}", f"{last}{f[:1]}".upper(),
                       f"{f}.{last}", f"{f[:1]}{last[:6]}{digits(rng, 2)}", f"{f}{last[:1]}",
                       f"{f[:1]}{p.middle[:1].lower()}{last[:1]}{digits(rng, 4)}"])


def email(rng: random.Random, p: Person, domain: str) -> str:
    f, last = slug(p.first), slug(p.last)
    local = rng.choice([f"{f}.{last}", f"{f[:1]}{last}", f"{f}{last}{rng.randint(1, 99)}",
                        f"{last}.{f}", f"{f}_{last}{digits(rng, 2)}", f"{f}{rng.randint(1950, 2010)}"])
    return f"{local}@{domain}"
