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
