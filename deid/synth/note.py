"""Rendering one note: a template family, a style and a cast of synthetic people and identifiers.

Slots in templates dispatch to ``Note.s_<NAME>`` methods. Upper-case slots write PHI pieces
(annotated), lower-case slots write clinical filler (never annotated). Entities are keyed per
note (``{DOCTOR:attending}`` is the same person throughout; each mention picks its own form).
"""

from __future__ import annotations

import datetime as dt
import random
from functools import lru_cache
from typing import Any

from deid.rulefile import wordlist_entries
from deid.synth import phi
from deid.synth.build import Builder, Piece
from deid.synth.data import Family, NamePools, Section, SynthData, name_pools
from deid.synth.dates import ALL, FULL, render_date
from deid.synth.filler import FillerSlots
from deid.synth.phi import Person
from deid.synth.template import Node

_ONES = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy",
         8: "eighty", 9: "ninety"}


def number_words(n: int) -> str:
    if n >= 100:
        rest = n - 100
        return "one hundred" + (f" and {number_words(rest)}" if rest else "")
    if n < 20:
        return ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                "seventeen", "eighteen", "nineteen"][n]
    t, o = divmod(n, 10)
    return _TENS[t] + (f"-{_ONES[o]}" if o else "")


@lru_cache(maxsize=16)
def _wordlist(name: str) -> list[str]:
    return wordlist_entries(name)


def _split_arg(arg: str) -> tuple[str, str]:
    key, _, form = arg.partition("/")
    return key, form


class Note(FillerSlots):
    """One synthetic note being rendered."""

    def __init__(self, data: SynthData, family: Family, split: str, rng: random.Random) -> None:
        self.data = data
        self.v: dict[str, Any] = data.vocab
        self.fam = family
        self.split = split
        self.rng = rng
        self.pools: NamePools = name_pools(split)
        self.people: dict[str, Person] = {}
        self.consts: dict[str, str] = {}
        self.places: dict[str, dict[str, str]] = {}
        self.title = rng.choice(data.type_titles[family.type])
        self.study = rng.choice(self.v["imaging"])
        self.path = rng.choice(self.v["pathology"])
        self._make_patient_and_dates()
        r = rng.random()
        self.alias = {"author": "attending" if r < 0.5 else ("consultant" if r < 0.75 else "author"),
                      "ordering": "attending" if rng.random() < 0.4 else "ordering",
                      "referring": "pcp" if rng.random() < 0.4 else "referring"}

    # ------------------------------------------------------------------ setup

    def _make_patient_and_dates(self) -> None:
        rng, cfg = self.rng, self.data.config
        y0, y1 = cfg["years"]
        today = dt.date(rng.randint(y0, y1), 1, 1) + dt.timedelta(days=rng.randint(0, 364))
        x = rng.random()
        if x < cfg["ages"]["p_over_89"]:
            age = rng.randint(90, 106)
        elif x < cfg["ages"]["p_over_89"] + cfg["ages"]["p_child"]:
            age = rng.randint(1, 17)
        else:
            age = rng.randint(18, 89)
        dob = dt.date(today.year - age, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
        if (today.month, today.day) < (dob.month, dob.day):
            age -= 1
        self.age = age
        los = rng.randint(1, 14)
        admit = today - dt.timedelta(days=los)
        surgery = admit + dt.timedelta(days=rng.randint(0, max(0, los - 1)))
        collected = surgery if rng.random() < 0.5 else today - dt.timedelta(days=rng.randint(1, 6))
        prior = today - dt.timedelta(days=rng.randint(30, 1500))
        followup = today + dt.timedelta(days=rng.randint(5, 35))
        self.dates: dict[str, dt.date] = {
            "today": today, "dob": dob, "admit": admit, "surgery": surgery,
            "hd2": admit + dt.timedelta(days=rng.randint(1, max(1, los))),
            "collected": collected, "received": collected + dt.timedelta(days=rng.randint(0, 2)),
            "consent": surgery - dt.timedelta(days=rng.randint(1, 20)),
            "transcribed": today + dt.timedelta(days=rng.randint(0, 2)),
            "prior": prior, "prior2": prior - dt.timedelta(days=rng.randint(10, 400)),
            "onset": admit - dt.timedelta(days=rng.randint(0, 10)),
            "followup": followup, "followup2": followup + dt.timedelta(days=rng.randint(7, 40)),
        }
        self.people["patient"] = phi.make_person(rng, self.pools)

    @property
    def patient(self) -> Person:
        return self.people["patient"]

    # ------------------------------------------------------------------ rendering

    def render_seq(self, seq: list[Node], b: Builder) -> None:
        rng = self.rng
        for node in seq:
            kind = node[0]
            if kind == "t":
                b.text(node[1])
            elif kind == "s":
                fn = getattr(self, "s_" + node[1], None)
                if fn is None:
                    raise KeyError(f"unknown slot {node[1]!r} in family {self.fam.name!r}")
                fn(b, node[2])
            elif kind == "c":
                self.render_seq(node[1][rng.randrange(len(node[1]))], b)
            elif rng.random() < 0.5:
                self.render_seq(node[1], b)

    def render_section(self, sec: Section) -> list[Piece]:
        rng = self.rng
        b = Builder()
        if not sec.block and self.fam.heading != "none":
            b.text(self._heading(sec))
        chosen = list(sec.head)
        if sec.lines:
            k = rng.randint(*sec.pick)
            idx = sorted(rng.sample(range(len(sec.lines)), k))
            chosen += [sec.lines[i] for i in idx]
        chosen += list(sec.tail)
        for i, seq in enumerate(chosen):
            if i:
                b.text(sec.join)
            self.render_seq(seq, b)
        return b.pieces

    def _heading(self, sec: Section) -> str:
        rng = self.rng
        t = rng.choice(sec.titles)
        h = self.fam.heading
        if h == "upper_colon":
            return f"{t.upper()}:\n"
        if h == "title_colon":
            return f"{t}:\n"
        if h == "inline":
            return f"{t}: "
        if h == "dash":
            return rng.choice([f"--- {t} ---\n", f"-- {t.upper()} --\n", f"== {t} ==\n"])
        if h == "hash":
            return rng.choice([f"## {t}\n", f"# {t}\n", f"### {t.upper()}\n"])
        if h == "underline":
            return f"{t}\n{rng.choice('-=') * len(t)}\n"
        if h == "bracket":
            return f"[{t.upper()}]\n"
        short = min(sec.titles, key=len)
        return f"{short}: "

    def render(self) -> tuple[list[Piece], list[list[Piece]]]:
        """All pieces of the note and, separately, its non-block sections (for copy-forward)."""
        rng = self.rng
        sep = "\n\n" if rng.random() < 0.7 else "\n"
        pieces: list[Piece] = []
        body: list[list[Piece]] = []
        for alts, optional in self.fam.sections:
            if optional and rng.random() < 0.5:
                continue
            sec = self.data.sections[alts[rng.randrange(len(alts))]]
            sp = self.render_section(sec)
            if not sp:
                continue
            if pieces:
                pieces.append([sep, None])
            pieces.extend(sp)
            if not sec.block:
                body.append(sp)
        pieces.append(["\n", None])
        return pieces, body

    # ------------------------------------------------------------------ people

    def person(self, key: str, sex: str | None = None, last: str | None = None) -> Person:
        p = self.people.get(key)
        if p is None:
            p = phi.make_person(self.rng, self.pools, sex=sex, last=last)
            self.people[key] = p
        return p

    def _title(self, p: Person) -> str:
        if p.sex == "M":
            return self.rng.choice(self.v["titles_male"])
        if p.sex == "F":
            return self.rng.choice(self.v["titles_female"])
        return "Mx."

    def emit_name(self, b: Builder, p: Person, form: str, label: str) -> None:
        rng = self.rng
        if form == "first":
            b.phi(p.first, label)
        elif form == "last":
            b.phi(p.last, label)
        elif form == "full":
            if p.middle and rng.random() < 0.4:
                mid = p.middle if len(p.middle) > 1 else p.middle + rng.choice([".", ""])
                b.phi(f"{p.first} {mid} {p.last}", label)
            else:
                b.phi(f"{p.first} {p.last}", label)
        elif form == "lastfirst":
            s = f"{p.last}, {p.first}"
            if p.middle and rng.random() < 0.3:
                s += f" {p.middle[:1]}"
            b.phi(s.upper() if rng.random() < 0.5 else s, label)
        elif form == "caps":
            b.phi(rng.choice([f"{p.last}, {p.first}", f"{p.first} {p.last}", f"{p.last} {p.first}"])
                  .upper(), label)
        elif form == "title":
            if p.sex == "X":
                self.emit_name(b, p, "full", label)
                return
            b.text(self._title(p) + " ")
            b.phi(p.last, label)
        elif form == "poss":
            if rng.random() < 0.5 and p.sex != "X":
                b.text(self._title(p) + " ")
            b.phi(p.last, label)
            b.text("'" if p.last.endswith("s") and rng.random() < 0.5 else "'s")
        elif form == "initials":
            forms = [f"{p.first[0]}.{p.last[0]}.", f"{p.first[0]}{p.last[0]}"]
            if p.middle:
                forms.append(f"{p.first[0]}.{p.middle[0]}.{p.last[0]}.")
            b.phi(rng.choice(forms), label)
        elif form == "nick":
            b.phi(p.nick or p.first, label)
            if p.nick and rng.random() < 0.5:
                b.text(" (")
                b.phi(f"{p.first} {p.last}", label)
                b.text(")")
        elif form == "initial":
            b.phi(f"{p.first[0]}. {p.last}", label)
        elif form == "dr":
            b.text(rng.choice(["Dr. ", "Dr. ", "Dr ", "DR. "]))
            b.phi(p.last if rng.random() < 0.7 else f"{p.first} {p.last}", label)
        elif form == "sig":
            self.emit_name(b, p, rng.choice(["full", "full", "initial"]), label)
            b.text(f", {p.cred}" if p.cred else rng.choice(self.v["doctor_suffixes"]))
        elif form == "lcfirst":  # "daughter anne called"
            b.phi((p.nick if p.nick and rng.random() < 0.2 else p.first).lower(), label)
        elif form == "capsfirst":  # "RN KATE NOTIFIED", "NP TOM AWARE"
            b.phi((p.nick if p.nick and rng.random() < 0.35 else p.first).upper(), label)
        elif form == "drlc":  # "dr. smith aware", "dr s. aware"
            b.text(rng.choice(["dr. ", "dr ", "dr. ", "Dr. ", "dr "]))
            b.phi(p.last.lower() if rng.random() < 0.8 else f"{p.last[0].lower()}.", label)
        elif form == "init1":  # a single initial standing for the person
            b.phi(rng.choice([f"{p.last[0]}.", f"{p.first[0]}.", f"{p.first[0]}. {p.last[0]}."]),
                  label)
        elif form == "short":
            if rng.random() < 0.5:
                b.phi(f"{p.first} {p.last[0]}.", label)
            else:
                b.phi(p.first, label)
            if p.cred:
                b.text(f", {p.cred}" if rng.random() < 0.6 else f" {p.cred}")
        else:
            raise KeyError(f"unknown name form {form!r} in family {self.fam.name!r}")

    def _pick_form(self, weights: dict[str, float]) -> str:
        forms = list(weights)
        return self.rng.choices(forms, weights=[weights[f] for f in forms])[0]

    def s_PATIENT(self, b: Builder, arg: str) -> None:
        form = arg or self._pick_form({"title": 3, "full": 3, "first": 1, "last": 1,
                                       "lastfirst": 1, "poss": 1, "initials": 0.3, "nick": 0.5,
                                       "caps": 0.5})
        self.emit_name(b, self.patient, form, "PATIENT")

    def s_DOCTOR(self, b: Builder, arg: str) -> None:
        role, form = _split_arg(arg)
        role = self.alias.get(role, role) or "attending"
        p = self.person("doctor:" + role)
        form = form or self._pick_form({"dr": 4, "full": 2, "sig": 2, "initial": 1,
                                        "lastfirst": 0.5, "caps": 0.3})
        self.emit_name(b, p, form, "DOCTOR")

    def _staff(self, key: str, cred: str) -> Person:
        p = self.person(key)
        if not p.cred:
            p.cred = cred
        return p

    def s_NURSE(self, b: Builder, arg: str) -> None:
        # Policy (corpora/synth/README.md): nurses and all other clinical staff are DOCTOR.
        key, form = _split_arg(arg)
        p = self._staff("nurse:" + (key or "1"), self.rng.choice(["RN", "RN", "LPN", "BSN, RN"]))
        form = form or self._pick_form({"full": 2, "first": 2, "short": 2, "sig": 1})
        self.emit_name(b, p, form, "DOCTOR")

    def s_STAFF(self, b: Builder, arg: str) -> None:
        key, form = _split_arg(arg)
        creds = {"pt": "PT, DPT", "pharm": "PharmD", "gross": "PA(ASCP)", "assist": "PA-C",
                 "np": "NP", "rt": "RRT", "sw": "LICSW",
                 "tel": self.rng.choice(["RN", "MA", "LPN"])}
        p = self._staff("staff:" + key, creds.get(key, self.rng.choice(
            list(self.v["staff_roles"].values()))))
        form = form or self._pick_form({"full": 2, "sig": 2, "short": 1})
        self.emit_name(b, p, form, "DOCTOR")

    def relative(self, key: str) -> Person:
        p = self.people.get("relative:" + key)
        if p is None:
            rel = self.rng.choice(list(self.v["relations"]))
            sex = self.v["relations"][rel]
            sex = sex if sex in "MF" else self.rng.choice("MF")
            same = rel in {"wife", "husband", "daughter", "son", "mother", "father", "sister",
                           "brother", "grandson", "granddaughter"} and self.rng.random() < 0.6
            p = self.person("relative:" + key, sex=sex, last=self.patient.last if same else None)
            p.extra["rel"] = rel
        return p

    def s_RELATIVE(self, b: Builder, arg: str) -> None:
        key, form = _split_arg(arg)
        p = self.relative(key or "1")
        form = form or self._pick_form({"first": 3, "full": 3, "title": 1, "nick": 0.3})
        self.emit_name(b, p, form, "RELATIVE")

    def s_rel(self, b: Builder, arg: str) -> None:
        b.text(self.relative(arg or "1").extra["rel"])

    def s_OTHER(self, b: Builder, arg: str) -> None:
        p = self.person("other:" + (arg or "1"))
        self.emit_name(b, p, self._pick_form({"full": 3, "first": 1, "title": 1}), "NAME")

    def s_USERNAME(self, b: Builder, arg: str) -> None:
        key = arg or "author"
        u = self.consts.get("user:" + key)
        if u is None:
            owner = {"author": "doctor:" + self.alias["author"], "tel": "staff:tel",
                     "nurse1": "nurse:1", "patient": "patient"}.get(key, "user:" + key)
            u = phi.username(self.rng, self.person(owner))
            self.consts["user:" + key] = u
        b.phi(u, "USERNAME")

    # ------------------------------------------------------------------ places and orgs

    def _city(self) -> str:
        cities = self._list("us_cities")
        rng = self.rng
        return cities[rng.randrange(300)] if rng.random() < 0.6 else rng.choice(cities)

    def _list(self, name: str) -> list[str]:
        return _wordlist(name)

    def _fill(self, pattern: str) -> str:
        rng = self.rng
        out = pattern
        if "{city}" in out:
            out = out.replace("{city}", self._city())
        if "{last2}" in out:
            out = out.replace("{last2}", phi.last_name(rng, self.pools))
        if "{last}" in out:
            out = out.replace("{last}", phi.last_name(rng, self.pools))
        if "{first}" in out:
            out = out.replace("{first}", phi.first_name(rng, self.pools))
        if "{state}" in out:
            out = out.replace("{state}", rng.choice(self._list("us_states")))
        if "{n}" in out:
            out = out.replace("{n}", str(rng.randint(1, 22)))
        if "{wing}" in out:
            out = out.replace("{wing}", rng.choice(["A", "B", "W", "E", "N", "S"]))
        return out

    def address(self, key: str) -> dict[str, str]:
        a = self.places.get(key)
        if a is None:
            rng = self.rng
            core = (rng.choice(self.v["street_cores"]) if rng.random() < 0.75
                    else phi.last_name(rng, self.pools))
            street = f"{rng.randint(1, 9999)} {core} {rng.choice(self.v['street_suffixes'])}"
            if rng.random() < 0.25:
                street += f", {rng.choice(self.v['unit_designators'])} {rng.randint(1, 40)}" \
                          f"{rng.choice(['', 'A', 'B', 'C'])}"
            if rng.random() < 0.05:
                street = f"PO Box {rng.randint(10, 9999)}"
            state = rng.choice(self._list("us_states"))
            a = {"street": street, "city": self._city(), "state": state,
                 "abbr": self.v["state_abbr"].get(state, state), "zip": phi.zipcode(rng)}
            self.places[key] = a
        return a

    def _emit_state(self, b: Builder, a: dict[str, str]) -> None:
        b.phi(a["abbr"] if self.rng.random() < 0.7 else a["state"], "STATE")

    def s_ADDRESS(self, b: Builder, arg: str) -> None:
        key, form = _split_arg(arg)
        a = self.address(key or "patient")
        rng = self.rng
        b.phi(a["street"], "STREET")
        b.text("\n" if form == "twoline" else rng.choice([", ", ", ", " "]))
        b.phi(a["city"], "CITY")
        b.text(", " if rng.random() < 0.85 else " ")
        self._emit_state(b, a)
        if rng.random() < 0.9:
            b.text(rng.choice([" ", "  ", " "]))
            b.phi(a["zip"], "ZIP")
        if form == "twoline" and rng.random() < 0.15:
            b.text("\n")
            b.phi(rng.choice(["USA", "United States", "U.S.A."]), "COUNTRY")

    def s_STREET(self, b: Builder, arg: str) -> None:
        b.phi(self.address(arg or "patient")["street"], "STREET")

    def s_CITY(self, b: Builder, arg: str) -> None:
        b.phi(self.address(arg or "patient")["city"], "CITY")

    def s_STATE(self, b: Builder, arg: str) -> None:
        self._emit_state(b, self.address(arg or "patient"))

    def s_ZIP(self, b: Builder, arg: str) -> None:
        b.phi(self.address(arg or "patient")["zip"], "ZIP")

    def s_COUNTY(self, b: Builder, arg: str) -> None:
        b.phi(self.rng.choice(self._list("us_counties")), "COUNTY")

    def s_COUNTRY(self, b: Builder, arg: str) -> None:
        b.phi(self.rng.choice(self._list("countries")), "COUNTRY")

    def s_LOCATION(self, b: Builder, arg: str) -> None:
        b.phi(self._fill(self.rng.choice(self.v["location_patterns"])), "LOCATION")

    def _hospital(self, key: str) -> str:
        h = self.consts.get("hosp:" + key)
        if h is None:
            h = self._fill(self.rng.choice(self.v["hospital_patterns"]))
            self.consts["hosp:" + key] = h
        return h

    def _hospital_short(self, name: str) -> str:
        """A local short form: "SGH", "Springfield Gen", "St Anne's", "Springfield"."""
        rng = self.rng
        words = [w for w in name.replace("-", " ").split() if w[:1].isupper()]
        generic = set(self.v["hospital_generic_words"])
        core = [w for w in words if w.strip(".") not in generic] or words[:1]
        forms = [" ".join(core)]
        if len(core) == 1 and rng.random() < 0.5:  # a lone city or surname reads as a place
            forms = [f"{core[0]} {rng.choice(self.v['hospital_short_tails'])}"]
        if len(core) >= 2 or core[0].startswith("St"):
            forms.append(" ".join(core).replace("St. ", "St ").replace("'s", "s"))
        initials = "".join(w[0] for w in words)
        if 2 <= len(initials) <= 4:
            forms += [initials, initials]
        if 2 <= len(core) <= 3:
            forms.append("".join(w[0] for w in core))
        tail = [w for w in words if w in generic]
        if tail:
            forms.append(" ".join(core) + " " + rng.choice(self.v["hospital_short_tails"]))
        return rng.choice(forms)

    def s_HOSPITAL(self, b: Builder, arg: str) -> None:
        key, form = _split_arg(arg)
        name = self._hospital(key or "main")
        if form == "short":
            name = self._hospital_short(name)
        elif form == "abbr" or (not form and self.rng.random() < 0.12):
            words = [w for w in name.replace("-", " ").split() if w[:1].isupper()]
            abbr = "".join(w[0] for w in words)
            if len(abbr) >= 2:
                name = abbr
        b.phi(name, "HOSPITAL")

    def s_WARD(self, b: Builder, arg: str) -> None:
        name, form = _split_arg(arg)
        key = "ward:" + (name or "main") + ("/" + form if form else "")
        w = self.consts.get(key)
        if w is None:
            # form "floor": a named building or campus and a floor ("Ellison 7", "Baker 12")
            pats = self.v["building_floor_patterns" if form == "floor" else "ward_patterns"]
            w = self._fill(self.rng.choice(pats))
            self.consts[key] = w
        # Policy: a named ward/building identifies the facility -> HOSPITAL. Generic units
        # (MICU, 4 West) and room/bed numbers are not annotated ({unit}, {room}).
        if w.startswith("the "):
            b.text("the ")
            w = w[4:]
        b.phi(w, "HOSPITAL")

    def s_ORG(self, b: Builder, arg: str) -> None:
        kinds = self.v["organizations"]
        kind = arg if arg in kinds else self.rng.choice(list(kinds))
        key = "org:" + (arg or "any")
        o = self.consts.get(key)
        if o is None:
            o = self._fill(self.rng.choice(kinds[kind]))
            self.consts[key] = o
        if o.startswith("the "):
            b.text("the ")
            o = o[4:]
        b.phi(o, "ORGANIZATION")

    def s_PROFESSION(self, b: Builder, arg: str) -> None:
        p = self.consts.get("profession")
        if p is None:
            p = self.rng.choice(self.v["professions"])
            self.consts["profession"] = p
        b.phi(p, "PROFESSION")

    # ------------------------------------------------------------------ dates and ages

    def s_DATE(self, b: Builder, arg: str) -> None:
        rng = self.rng
        key, fmt = _split_arg(arg)
        if key == "year":
            d = self.dates["prior"] - dt.timedelta(days=rng.randint(0, 3000))
            fmt = fmt or "year"
        elif key in self.dates:
            d = self.dates[key]
        else:
            d = self.dates["today"] + dt.timedelta(days=rng.randint(-700, 60))
        if not fmt:
            if key == "dob":
                pref = [f for f in self.fam.dates if f in FULL]
                fmt = rng.choice(pref) if pref and rng.random() < 0.7 else rng.choice(FULL)
            elif self.fam.dates and rng.random() < 0.7:
                fmt = rng.choice(self.fam.dates)
            else:
                fmt = rng.choice(ALL)
                if fmt == "year":
                    fmt = "mdy4"
        pre, s = render_date(d, fmt, rng)
        b.text(pre)
        b.phi(s, "DATE")

    def _age(self, b: Builder, age: int, form: str) -> None:
        rng = self.rng
        num = str(age)
        if form != "num" and age >= 20 and rng.random() < 0.06:
            num = number_words(age)

        def n() -> None:
            if age >= 90:  # Safe Harbor: only ages over 89 are PHI
                b.phi(num, "AGE")
            else:
                b.text(num)

        if form == "num":
            n()
            return
        if age < 2 and rng.random() < 0.5:
            b.text(f"{rng.randint(2, 23)}-month-old")
            return
        pre, post = rng.choice([("", "-year-old"), ("", " year old"), ("", " yo"), ("", " y/o"),
                                ("", "yo"), ("", " y.o."), ("", "-yr-old"), ("", " YO"),
                                ("", "-year-old"), ("", " year-old")])
        b.text(pre)
        n()
        b.text(post)

    def s_AGE(self, b: Builder, arg: str) -> None:
        self._age(b, self.age, arg or "adj")

    def s_AGE_REL(self, b: Builder, arg: str) -> None:
        rng = self.rng
        age = rng.randint(90, 104) if rng.random() < 0.45 else rng.randint(40, 89)
        self._age(b, age, "num")

    def s_age_young(self, b: Builder, arg: str) -> None:
        b.text(str(self.rng.randint(18, 89)))

    # ------------------------------------------------------------------ numbers and codes

    def _const(self, key: str, make: Any) -> str:
        v = self.consts.get(key)
        if v is None:
            v = make()
            self.consts[key] = v
        return v

    def s_PHONE(self, b: Builder, arg: str) -> None:
        key, form = _split_arg(arg)
        key = key or "patient"
        if form == "nsg":  # in-house pager/extension as nurses write it: "4-1234", "x5-6789"
            b.phi(self._const("nsg:" + key, lambda: phi.inhouse(self.rng)), "PHONE")
        elif key.startswith("pager"):
            b.phi(self._const("pager:" + key, lambda: phi.pager(self.rng)), "PHONE")
        else:
            b.phi(self._const("phone:" + key, lambda: phi.phone(self.rng)), "PHONE")

    def s_FAX(self, b: Builder, arg: str) -> None:
        b.phi(self._const("fax:" + (arg or "clinic"),
                          lambda: phi.phone(self.rng, ext=False)), "FAX")

    def s_EMAIL(self, b: Builder, arg: str) -> None:
        key = arg or "patient"
        rng = self.rng

        def make() -> str:
            if key == "patient":
                return phi.email(rng, self.patient, rng.choice(self.v["email_domains"]))
            dom = phi.slug(self._hospital("main")) + rng.choice([".org", ".edu", ".com"])
            if key == "clinic":
                return f"{rng.choice(['clinic', 'appointments', 'referrals', 'info'])}@{dom}"
            return phi.email(rng, self.person("doctor:" + self.alias.get(key, key)), dom)

        b.phi(self._const("email:" + key, make), "EMAIL")

    def s_URL(self, b: Builder, arg: str) -> None:
        rng = self.rng
        pat = rng.choice(self.v["url_patterns"])
        url = (pat.replace("{slug}", phi.slug(self._hospital("main")))
               .replace("{user}", phi.username(rng, self.patient).lower().replace(".", ""))
               .replace("{n}", str(rng.randint(100, 99999)))
               .replace("{digits}", phi.digits(rng, 10)))
        b.phi(url, "URL")

    def s_IP(self, b: Builder, arg: str) -> None:
        b.phi(phi.ip(self.rng, arg), "IP")

    def s_MRN(self, b: Builder, arg: str) -> None:
        b.phi(self._const("mrn", lambda: phi.mrn(self.rng)), "MRN")

    def s_ACCOUNT(self, b: Builder, arg: str) -> None:
        b.phi(self._const("account", lambda: phi.account(self.rng)), "ACCOUNT")

    def s_SSN(self, b: Builder, arg: str) -> None:
        b.phi(self._const("ssn", lambda: phi.ssn(self.rng)), "SSN")

    def s_HEALTHPLAN(self, b: Builder, arg: str) -> None:
        b.phi(self._const("hp:" + arg, lambda: phi.healthplan(self.rng, arg)), "HEALTHPLAN")

    def s_LICENSE(self, b: Builder, arg: str) -> None:
        b.phi(self._const("lic:" + arg, lambda: phi.license_(self.rng, arg or "dl")), "LICENSE")

    def s_DEVICE(self, b: Builder, arg: str) -> None:
        b.phi(self._const("device", lambda: phi.device_serial(self.rng)), "DEVICE")

    def s_VEHICLE(self, b: Builder, arg: str) -> None:
        b.phi(self._const("veh:" + arg, lambda: phi.vehicle(self.rng, arg or "plate")), "VEHICLE")

    def s_IDNUM(self, b: Builder, arg: str) -> None:
        b.phi(self._const("id:" + arg, lambda: phi.idnum(self.rng, arg)), "IDNUM")
