"""The closed set of validators a rule may name (``validator: NAME`` in ``rules/*.yaml``)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from deid.dates import parse_date

_WORD_NUMS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def luhn(text: str) -> bool:
    ds = [int(c) for c in digits(text)]
    if len(ds) < 12:
        return False
    total = 0
    for i, d in enumerate(reversed(ds)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def ssn(text: str) -> bool:
    d = digits(text)
    if len(d) != 9:
        return False
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in {"000", "666"} and not area.startswith("9") and group != "00" and serial != "0000"


def date(text: str) -> bool:
    return parse_date(text) is not None


def date_any(text: str) -> bool:
    """A calendar-valid date read month-first or day-first (``14.03.1962``)."""
    return parse_date(text) is not None or parse_date(text, order="DMY") is not None


def dea(text: str) -> bool:
    """A DEA registration number: two letters, seven digits, the last a check digit."""
    t = text.strip().upper()
    if not re.fullmatch(r"[A-Z][A-Z9]\d{7}", t):
        return False
    d = [int(c) for c in t[2:]]
    check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
    return check == d[6]


def words_to_int(text: str) -> int | None:
    """'ninety-two' -> 92, '101' -> 101, 'one hundred and one' -> 101."""
    t = text.lower().replace("-", " ")
    if re.fullmatch(r"\s*\d+\s*", t):
        return int(t)
    total = 0
    seen = False
    for w in t.split():
        if w == "and":
            continue
        if w not in _WORD_NUMS:
            return None
        v = _WORD_NUMS[w]
        seen = True
        total = total * 100 if v == 100 and total else total + v
    return total if seen else None


def age_over_89(text: str) -> bool:
    m = re.search(r"\d+(?:\.\d+)?", text)
    if m:
        v = float(m.group())
    else:
        n = words_to_int(text)
        if n is None:
            return False
        v = n
    return 89 < v < 130


def ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return ":" in text and text.count(":") >= 2


def phone(text: str) -> bool:
    d = digits(text.split("x")[0].split("X")[0].lower().split("ext")[0])
    if len(d) == 11 and d.startswith("1"):
        d = d[1:]
    if len(d) == 7:
        return d[0] not in "01"
    return len(d) == 10 and d[0] not in "01" and d[3] not in "01"


def not_repeated_digit(text: str) -> bool:
    d = digits(text)
    return len(set(d)) > 1


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn,
    "ssn": ssn,
    "date": date,
    "date_any": date_any,
    "dea": dea,
    "age_over_89": age_over_89,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "phone": phone,
    "not_repeated_digit": not_repeated_digit,
}
