"""Clinical filler slots (never annotated) for ``deid.synth.note.Note``.

Lower-case template slots: conditions, drugs and doses, vitals, labs, tables, eponyms, scores,
times, rooms. Tables may embed PHI (dates, prescribers) through the Note's PHI slots.
"""

from __future__ import annotations

import random
from typing import Any

from deid.synth.build import Builder
from deid.synth.phi import Person


def _lower_first(s: str) -> str:
    """Lower-case the first letter unless the first word is an acronym (BI-RADS, LVEF)."""
    return s if s[1:2].isupper() else s[:1].lower() + s[1:]


class FillerSlots:
    """Mixin: expects ``rng``, ``v`` (vocabulary), ``patient``, ``age``, ``title``, ``study``,
    ``path`` and the PHI slots ``s_DOCTOR`` / ``s_DATE``."""

    rng: random.Random
    v: dict[str, Any]
    age: int
    title: str
    study: dict[str, Any]
    path: dict[str, Any]

    @property
    def patient(self) -> Person:  # pragma: no cover - provided by Note
        raise NotImplementedError

    def s_DOCTOR(self, b: Builder, arg: str) -> None:  # pragma: no cover - provided by Note
        raise NotImplementedError

    def s_DATE(self, b: Builder, arg: str) -> None:  # pragma: no cover - provided by Note
        raise NotImplementedError


    def _say(self, b: Builder, key: str) -> None:
        b.text(self.rng.choice(self.v[key]))

    def s_title(self, b: Builder, arg: str) -> None:
        b.text(self.title)

    def s_specialty(self, b: Builder, arg: str) -> None:
        self._say(b, "specialties")

    def s_sex_word(self, b: Builder, arg: str) -> None:
        p = self.patient
        if self.age < 18:
            b.text("boy" if p.sex == "M" else "girl")
        else:
            b.text(self.rng.choice(["man", "male", "gentleman"] if p.sex == "M"
                                   else ["woman", "female", "lady"]))

    def s_sex_M(self, b: Builder, arg: str) -> None:
        b.text(self.patient.sex)

    def _pron(self, m: str, f: str) -> str:
        return m if self.patient.sex == "M" else f

    def s_he(self, b: Builder, arg: str) -> None:
        b.text(self._pron("he", "she"))

    def s_He(self, b: Builder, arg: str) -> None:
        b.text(self._pron("He", "She"))

    def s_his(self, b: Builder, arg: str) -> None:
        b.text(self._pron("his", "her"))

    def s_His(self, b: Builder, arg: str) -> None:
        b.text(self._pron("His", "Her"))

    def s_him(self, b: Builder, arg: str) -> None:
        b.text(self._pron("him", "her"))

    def s_condition(self, b: Builder, arg: str) -> None:
        self._say(b, "conditions")

    def s_conditions(self, b: Builder, arg: str) -> None:
        rng = self.rng
        items = rng.sample(self.v["conditions"], rng.randint(2, 4))
        if rng.random() < 0.3:
            items.append(rng.choice(self.v["eponyms"]["conditions"]))
        b.text(", ".join(items[:-1]) + rng.choice([" and ", ", "]) + items[-1])

    def s_complaint(self, b: Builder, arg: str) -> None:
        self._say(b, "complaints")

    def s_allergy(self, b: Builder, arg: str) -> None:
        self._say(b, "allergies")

    def s_finding(self, b: Builder, arg: str) -> None:
        self._say(b, "exam_findings")

    def s_procedure(self, b: Builder, arg: str) -> None:
        self._say(b, "procedures_generic")

    def s_eponym(self, b: Builder, arg: str) -> None:
        b.text(self.rng.choice(self.v["eponyms"]["conditions"]))

    def s_sign(self, b: Builder, arg: str) -> None:
        b.text(self.rng.choice(self.v["eponyms"]["signs"]))

    def s_device_word(self, b: Builder, arg: str) -> None:
        b.text(self.rng.choice(self.v["eponyms"]["devices"]))

    def s_eponym_proc(self, b: Builder, arg: str) -> None:
        b.text(self.rng.choice(self.v["eponyms"]["procedures"]))

    def s_score(self, b: Builder, arg: str) -> None:
        b.text(self.rng.choice(self.v["eponyms"]["scores"]))

    def s_common(self, b: Builder, arg: str) -> None:
        self._say(b, "common_word_sentences")

    def s_unit(self, b: Builder, arg: str) -> None:
        self._say(b, "units_generic")

    def s_room(self, b: Builder, arg: str) -> None:
        b.text(self.rng.choice(self.v["rooms"]))

    def s_device_kind(self, b: Builder, arg: str) -> None:
        self._say(b, "device_kinds")

    def s_device_maker(self, b: Builder, arg: str) -> None:
        self._say(b, "device_makers")

    def s_vehicle_make(self, b: Builder, arg: str) -> None:
        self._say(b, "vehicle_makes")

    def s_n(self, b: Builder, arg: str) -> None:
        lo, _, hi = arg.partition("-")
        b.text(str(self.rng.randint(int(lo), int(hi or lo))))

    def s_time(self, b: Builder, arg: str) -> None:
        rng = self.rng
        h, m = rng.randint(0, 23), rng.choice([0, 0, 5, 10, 15, 20, 30, 40, 45, 50, rng.randint(0, 59)])
        b.text(rng.choice([f"{h:02d}{m:02d}", f"{h:02d}:{m:02d}", f"{(h % 12) or 12}:{m:02d} "
                           f"{'AM' if h < 12 else 'PM'}", f"{h:02d}{m:02d}h", f"{h}:{m:02d}"]))

    def s_drug(self, b: Builder, arg: str) -> None:
        b.text(self.rng.choice(self.v["drugs"])["name"])

    def _med(self) -> str:
        rng = self.rng
        d = rng.choice(self.v["drugs"])
        return f"{d['name']} {rng.choice(d['doses'])} {rng.choice(d['sig'])}"

    def s_med(self, b: Builder, arg: str) -> None:
        b.text(self._med())

    def s_meds_list(self, b: Builder, arg: str) -> None:
        rng = self.rng
        style = rng.choice(["num", "dash", "plain", "caps"])
        lines = []
        for i in range(rng.randint(3, 9)):
            m = self._med()
            lines.append({"num": f"{i + 1}. {m}", "dash": f"- {m}", "plain": m,
                          "caps": m.upper()}[style])
        b.text("\n".join(lines))

    def s_med_table(self, b: Builder, arg: str) -> None:
        rng = self.rng
        b.text("Medication                     | Dose/Sig                    | Prescriber        | Start\n")
        for _ in range(rng.randint(3, 8)):
            d = rng.choice(self.v["drugs"])
            b.text(f"{d['name']:<30} | {rng.choice(d['doses']) + ' ' + rng.choice(d['sig']):<27} | ")
            self.s_DOCTOR(b, rng.choice(["pcp", "consultant", "attending"]) + "/"
                          + rng.choice(["dr", "lastfirst", "initial", "full"]))
            b.text(" | ")
            self.s_DATE(b, "")
            b.text("\n")

    def s_problem_table(self, b: Builder, arg: str) -> None:
        rng = self.rng
        for i, prob in enumerate(rng.sample(self.v["problems"], rng.randint(3, 8))):
            b.text(rng.choice([f"{i + 1}. {prob} - onset ", f"- {prob}, noted ", f"{prob} | "]))
            self.s_DATE(b, "")
            b.text(rng.choice([" - active\n", " - chronic, stable\n", "\n", " | active\n"]))

    def _vitals_values(self) -> dict[str, str]:
        rng = self.rng
        tc = round(rng.uniform(36.0, 39.4), 1)
        return {"bp": f"{rng.randint(88, 182)}/{rng.randint(48, 104)}", "hr": str(rng.randint(48, 131)),
                "rr": str(rng.randint(12, 30)), "tc": f"{tc}", "tf": f"{tc * 9 / 5 + 32:.1f}",
                "spo2": f"{rng.randint(86, 100)}%", "wt": f"{rng.uniform(42, 140):.1f}"}

    def s_vitals(self, b: Builder, arg: str) -> None:
        rng, v = self.rng, self._vitals_values()
        o2 = rng.choice(["RA", "on RA", "2L NC", "on 4L", "room air", "NRB"])
        b.text(rng.choice([
            f"BP {v['bp']}, HR {v['hr']}, RR {v['rr']}, T {v['tf']}F, SpO2 {v['spo2']} {o2}",
            f"T {v['tc']} BP {v['bp']} P {v['hr']} R {v['rr']} O2 sat {v['spo2']} {o2}",
            f"BP: {v['bp']} | HR: {v['hr']} | RR: {v['rr']} | Temp: {v['tc']} C | SpO2: {v['spo2']}",
            f"{v['tf']} {v['hr']} {v['bp']} {v['rr']} {v['spo2']} {o2}",
            f"Tmax {v['tf']}, BP {v['bp']}, HR {v['hr']}, sat {v['spo2']} {o2}, Wt {v['wt']} kg",
        ]))

    def s_vitals_table(self, b: Builder, arg: str) -> None:
        rng = self.rng
        b.text("Time  | BP       | HR  | RR | Temp | SpO2\n")
        for _ in range(rng.randint(2, 6)):
            v = self._vitals_values()
            b.text(f"{rng.randint(0, 23):02d}{rng.choice(['00', '15', '30', '45'])}  | {v['bp']:<8} | "
                   f"{v['hr']:<3} | {v['rr']:<2} | {v['tc']} | {v['spo2']}\n")

    def _lab_value(self, lab: dict[str, Any]) -> str:
        val = self.rng.uniform(float(lab["lo"]), float(lab["hi"]))
        return f"{val:.{int(lab['dec'])}f}"

    def s_lab(self, b: Builder, arg: str) -> None:
        rng = self.rng
        lab = rng.choice(self.v["lab_names"])
        unit = f" {lab['unit']}" if lab["unit"] and rng.random() < 0.4 else ""
        b.text(f"{lab['name']} {self._lab_value(lab)}{unit}")

    def s_labs_table(self, b: Builder, arg: str) -> None:
        rng = self.rng
        keys = rng.sample(["admit", "hd2", "today", "onset"], rng.randint(1, 3))
        b.text(f"{'':<10}")
        for k in keys:
            b.text("| ")
            self.s_DATE(b, k)
            b.text(" ")
        b.text("\n")
        for lab in rng.sample(self.v["lab_names"], rng.randint(4, 9)):
            b.text(f"{lab['name']:<10}" + "".join(f"| {self._lab_value(lab):<10}" for _ in keys) + "\n")

    def s_flowsheet(self, b: Builder, arg: str) -> None:
        rng = self.rng
        for shift in rng.sample(["0700-1500", "1500-2300", "2300-0700", "07-19", "19-07"], 2):
            b.text(f"{shift}: IN {rng.randint(200, 2400)} mL (PO {rng.randint(0, 1200)}, IV "
                   f"{rng.randint(0, 1500)}) / OUT {rng.randint(150, 2200)} mL (UOP "
                   f"{rng.randint(100, 1800)})\n")

    def s_io(self, b: Builder, arg: str) -> None:
        rng = self.rng
        i, o = rng.randint(400, 3000), rng.randint(300, 3500)
        b.text(f"{i}/{o} (net {i - o:+d})")

    def s_imaging_exam(self, b: Builder, arg: str) -> None:
        b.text(self.study["exam"])

    def s_imaging_findings(self, b: Builder, arg: str) -> None:
        f = self.study["findings"]
        b.text(" ".join(self.rng.sample(f, self.rng.randint(1, len(f)))))

    def s_imaging_impression(self, b: Builder, arg: str) -> None:
        b.text(self.rng.choice(self.study["impression"]))

    def s_imaging_impression_lc(self, b: Builder, arg: str) -> None:
        b.text(_lower_first(self.rng.choice(self.study["impression"])))

    def s_path_specimen(self, b: Builder, arg: str) -> None:
        b.text(self.path["specimen"])

    def s_path_specimen_caps(self, b: Builder, arg: str) -> None:
        b.text(self.path["specimen"].upper())

    def s_path_gross(self, b: Builder, arg: str) -> None:
        b.text(self.path["gross"])

    def s_path_dx(self, b: Builder, arg: str) -> None:
        b.text(self.path["dx"])

    def s_path_dx_lc(self, b: Builder, arg: str) -> None:
        b.text(_lower_first(self.path["dx"]))

    # ------------------------------------------------------------------ ICU / dictation fillers

    def _hn(self, key: str) -> Any:
        return self.v["hard_negatives"][key]

    def s_v(self, b: Builder, arg: str) -> None:
        """One entry of a hard-negative list (``{v:lines}``, ``{v:sutures}``...)."""
        b.text(self.rng.choice(self._hn(arg)))

    def s_f(self, b: Builder, arg: str) -> None:
        """A decimal in a range: ``{f:0.02-0.3/2}``."""
        rng_, _, dec = arg.partition("/")
        lo, _, hi = rng_.partition("-")
        b.text(f"{self.rng.uniform(float(lo), float(hi)):.{int(dec or 1)}f}")

    def s_drip(self, b: Builder, arg: str) -> None:
        """A drip with its rate: "levo @ 0.08 mcg/kg/min", "propofol gtt 30mcg"."""
        rng = self.rng
        d = rng.choice(self._hn("drips"))
        name = rng.choice(d["names"])
        lo, hi, dec, unit = d["rate"]
        val = f"{rng.uniform(float(lo), float(hi)):.{int(dec)}f}"
        if val.startswith("0.") and rng.random() < 0.25:
            val = val[1:]
        sep = rng.choice([" ", "", " "])
        b.text(rng.choice([f"{name} @ {val}{sep}{unit}", f"{name} gtt {val}{sep}{unit}",
                           f"{name} at {val}{sep}{unit}", f"on {name} {val}",
                           f"{name} gtt @ {val}", f"{name} {val}{sep}{unit}",
                           f"{name} weaned to {val}", f"{name} titrated up to {val}{sep}{unit}"]))

    def s_abg(self, b: Builder, arg: str) -> None:
        """A blood gas: "ABG 7.38/41/96/24"."""
        rng = self.rng
        ph = f"{rng.uniform(7.18, 7.52):.2f}"
        gas = f"{ph}/{rng.randint(28, 68)}/{rng.randint(58, 240)}"
        if rng.random() < 0.7:
            gas += f"/{rng.randint(16, 32)}"
        if rng.random() < 0.3:
            gas += f"/{rng.randint(-8, 5):+d}"
        b.text(rng.choice(["ABG ", "abg ", "ABG: ", "VBG ", "am ABG ", "gas "]) + gas)

    def s_bp_range(self, b: Builder, arg: str) -> None:
        """A blood pressure range: "SBP 100-140", "BP 100-140/50-70", "MAP 60s-70s"."""
        rng = self.rng
        s1 = rng.randint(8, 13) * 10
        s2 = s1 + rng.randint(1, 5) * 10
        d1 = rng.randint(4, 7) * 10
        d2 = d1 + rng.randint(1, 3) * 10
        b.text(rng.choice([f"BP {s1}-{s2}/{d1}-{d2}", f"SBP {s1}-{s2}", f"sbp {s1}s-{s2}s",
                           f"BP {s1}s-{s2}s/{d1}s", f"MAP {rng.randint(55, 70)}-{rng.randint(71, 95)}",
                           f"MAPs {rng.randint(6, 8)}0s", f"SBP >{rng.randint(9, 10)}0",
                           f"BP {s1}/{d1}-{s2}/{d2}"]))

    def s_hr_range(self, b: Builder, arg: str) -> None:
        """A heart-rate range: "HR 90s-110s", "ST 100-110", "NSR 70s"."""
        rng = self.rng
        a = rng.randint(5, 11) * 10
        c = a + rng.randint(1, 3) * 10
        rhythm = rng.choice(self._hn("rhythms"))
        b.text(rng.choice([f"HR {a}s-{c}s", f"HR {a}-{c}", f"{rhythm} {a}s", f"{rhythm} {a}s-{c}s",
                           f"hr {a}s", f"{rhythm} {a}-{c}s"]))

    def s_io_nsg(self, b: Builder, arg: str) -> None:
        """Intake and output as nurses write it: "I/O 2.1L/1.4L", "UOP 30-50cc/hr"."""
        rng = self.rng
        i, o = rng.uniform(0.4, 4.5), rng.uniform(0.3, 4.0)
        u1 = rng.randint(1, 8) * 10
        b.text(rng.choice([f"I/O {i:.1f}L/{o:.1f}L", f"I/O {int(i * 1000)}/{int(o * 1000)}",
                           f"UOP {u1}-{u1 + rng.randint(1, 4) * 10}cc/hr",
                           f"UO {u1}-{u1 + 20} cc/hr", f"{i - o:+.1f}L for shift",
                           f"LOS {rng.randint(-3, 9):+d}L", f"UOP {rng.randint(15, 80)}cc/hr",
                           f"24hr I/O +{int(i * 1000)}/-{int(o * 1000)}",
                           f"cvvh pulling {rng.randint(5, 20)}0cc/hr"]))

    def s_vent(self, b: Builder, arg: str) -> None:
        """Ventilator settings: "AC 500x14/+5/40%", "PS 10/5 FiO2 40%"."""
        rng = self.rng
        fio2 = rng.choice([30, 35, 40, 50, 60, 100])
        peep = rng.choice([5, 5, 8, 10, 12])
        b.text(rng.choice([f"AC {rng.randint(35, 60)}0x{rng.randint(12, 24)}/+{peep}/{fio2}%",
                           f"PS {rng.choice([5, 8, 10, 12, 15])}/{peep} FiO2 {fio2}%",
                           f"CPAP/PS {peep}/5 .{fio2 // 10}", f"AC TV {rng.randint(35, 60)}0 RR "
                           f"{rng.randint(12, 24)} PEEP {peep} FiO2 {fio2}%",
                           f"{rng.randint(2, 6)}L NC", f"{rng.randint(40, 60)}% face tent",
                           f"HFNC {rng.randint(3, 6)}0L/{fio2}%", f"BiPAP {rng.randint(10, 16)}/{peep}"]))

    def s_spine(self, b: Builder, arg: str) -> None:
        """A spine level or segment: "C5-C6", "C5-6", "T12", "L4-5", "L5-S1"."""
        rng = self.rng
        region, top = rng.choice([("C", 7), ("T", 12), ("L", 5)])
        k = rng.randint(1, top)
        nxt = f"{region}{k + 1}" if k < top else {"C": "T1", "T": "L1", "L": "S1"}[region]
        bare = nxt[1:] if nxt[0] == region else nxt
        b.text(rng.choice([f"{region}{k}-{nxt}", f"{region}{k}-{bare}", f"{region}{k}",
                           f"{region}{k}-{bare}", f"{region}{k}/{bare}", f"{region}{k} and {nxt}"]))

    def s_cpt(self, b: Builder, arg: str) -> None:
        """A procedure code: "CPT 22551", "(63047)", "64483 x2"."""
        rng = self.rng
        code = str(rng.choice(self._hn("cpt_codes")))
        b.text(rng.choice([f"CPT {code}", f"({code})", f"CPT: {code}", f"{code}",
                           f"{code}-{rng.choice(['59', '51', '22', 'RT', 'LT'])}"]))

    def s_implant(self, b: Builder, arg: str) -> None:
        """An implant with its size: "a 14 mm PEEK cage", "two 3.5 x 14 mm screws"."""
        rng = self.rng
        b.text(rng.choice(self._hn("implants")).replace(
            "{mm}", str(rng.randint(6, 16))).replace("{len}", str(rng.choice([12, 14, 16, 40, 45])))
            .replace("{size}", str(rng.randint(2, 8))))
