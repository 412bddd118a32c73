"""Date surface forms: ~25 ways clinicians write a date, each as (before, PHI, after) pieces.

Only the date itself is annotated: in "the 14th" the span is "14th"; "on" or "the" stay outside.
"""

from __future__ import annotations

import datetime as dt
import random

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
ABBR = [m[:3] for m in MONTHS]


def _ord(d: int) -> str:
    suffix = "th" if 10 <= d % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
    return f"{d}{suffix}"


def _abbr(m: int, rng: random.Random) -> str:
    a = ABBR[m - 1]
    return "Sept" if m == 9 and rng.random() < 0.2 else a


# id -> function(date, rng) -> (prefix text, PHI text)
FORMATS = {
    "mdy4": lambda d, r: ("", f"{d.month}/{d.day}/{d.year}"),
    "mdy4_0": lambda d, r: ("", f"{d.month:02d}/{d.day:02d}/{d.year}"),
    "mdy2": lambda d, r: ("", f"{d.month}/{d.day}/{d.year % 100:02d}"),
    "mdy0_2": lambda d, r: ("", f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}"),
    "mdy_dash0": lambda d, r: ("", f"{d.month:02d}-{d.day:02d}-{d.year}"),
    "dmonY": lambda d, r: ("", f"{d.day} {_abbr(d.month, r)} {d.year}"),
    "monthD_ord": lambda d, r: ("", f"{MONTHS[d.month - 1]} {_ord(d.day)}"),
    "mon_yy": lambda d, r: ("", f"{_abbr(d.month, r)} '{d.year % 100:02d}"),
    "iso": lambda d, r: ("", d.isoformat()),
    "md": lambda d, r: ("", f"{d.month}/{d.day}"),
    "the_dth": lambda d, r: ("the ", _ord(d.day)),
    "dmy_dot": lambda d, r: ("", f"{d.day:02d}.{d.month:02d}.{d.year}"),
    "long": lambda d, r: ("", f"{MONTHS[d.month - 1]} {d.day}, {d.year}"),
    "mon_dash": lambda d, r: ("", f"{_abbr(d.month, r)}-{d.day:02d}-{d.year}"),
    "compact": lambda d, r: ("", f"{d.year}{d.month:02d}{d.day:02d}"),
    "dmon_caps": lambda d, r: ("", f"{d.day:02d}-{ABBR[d.month - 1].upper()}-{d.year}"),
    "mon_d": lambda d, r: ("", f"{_abbr(d.month, r)} {d.day}"),
    "month_y": lambda d, r: ("", f"{MONTHS[d.month - 1]} {d.year}"),
    "m_yy": lambda d, r: ("", f"{d.month}/{d.year % 100:02d}"),
    "dmy_slash": lambda d, r: ("", f"{d.day:02d}/{d.month:02d}/{d.year}"),
    "dth_of_month": lambda d, r: ("", f"{_ord(d.day)} of {MONTHS[d.month - 1]}"),
    "year": lambda d, r: ("", f"{d.year}"),
    "mdy_dot2": lambda d, r: ("", f"{d.month}.{d.day}.{d.year % 100:02d}"),
    "mon_d_y": lambda d, r: ("", f"{_abbr(d.month, r)} {d.day}, {d.year}"),
    "md_dash": lambda d, r: ("", f"{d.month}-{d.day}"),
    "month_d": lambda d, r: ("", f"{MONTHS[d.month - 1]} {d.day}"),
    "mdy4_dash": lambda d, r: ("", f"{d.month}-{d.day}-{d.year}"),
    # two-digit years of history lists ("s/p CABG '88", "MI 97"): only asked for by name
    "apos_yy": lambda d, r: ("", f"'{d.year % 100:02d}"),
    "yy": lambda d, r: ("", f"{d.year % 100:02d}"),
}
# Formats that keep a full date (used for dates of birth and headers); ALL excludes the bare
# two-digit years, which only templates that name them use.
FULL = ("mdy4", "mdy4_0", "mdy2", "mdy0_2", "mdy_dash0", "dmonY", "iso", "dmy_dot", "long",
        "mon_dash", "compact", "dmon_caps", "dmy_slash", "mdy_dot2", "mon_d_y", "mdy4_dash")
PARTIAL = ("apos_yy", "yy")
ALL = tuple(f for f in FORMATS if f not in PARTIAL)


def render_date(d: dt.date, fmt: str, rng: random.Random) -> tuple[str, str]:
    return FORMATS[fmt](d, rng)
