"""Screening of model spans (deid/screen.py, rules/screen.yaml): shapes, vetoes, corroboration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deid.errors import RuleError
from deid.screen import SHAPES, Lexicon, Screen, load_screen, support_spans
from deid.span import Span

CLINICAL = {"levophed", "vanc", "propofol", "gtt", "picc", "sicu", "kerrison", "rongeur", "foley",
            "a-line", "afeb", "oob", "mae", "cont", "swan"}
ZIPF = {"mutual": 4.4, "will": 5.9, "continue": 5.2, "the": 7.7, "floor": 4.9, "mark": 5.1, "kate": 4.0,
        "smith": 4.4, "brown": 4.8}
LEX = Lexicon(curated=lambda w: w in CLINICAL, clinical=lambda w: w in CLINICAL | {"hallux", "arnold", "mutual", "rv"},
              zipf=lambda w: ZIPF.get(w, 0.0),
              phrases=frozenset({"to the floor"}),
              names=frozenset({"will", "mark", "kate", "smith", "brown", "swan", "foley", "arnold"}))


def screen(**kw: object) -> Screen:
    return Screen(lexicon=LEX, **kw)  # type: ignore[arg-type]


def span(text: str, frag: str, label: str, nth: int = 0) -> Span:
    i = -1
    for _ in range(nth + 1):
        i = text.index(frag, i + 1)
    return Span(i, i + len(frag), label, "ner", 0.9)


def run(text: str, spans: list[Span], support: list[Span] | None = None,
        allow: list[Span] | None = None, **kw: object) -> tuple[list[Span], dict[Span, str]]:
    r = screen(**kw)(text, spans, support or [], allow or [])
    return r.kept, {s: why for s, why in r.dropped}


# -- shapes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,frag,before,ok", [
    ("email", "jdoe@example.org", "", True),
    ("email", "referral", "", False),
    ("phone", "617-555-0198", "", True),
    ("phone", "45", "", False),
    ("phone", "4-1234", "pgr ", True),
    ("phone", "41234", "HR ", False),
    ("phone", "445", "ext. ", True),
    ("date", "3/14/2019", "", True),
    ("date", "3/16", "", True),
    ("date", "4/97", "", True),
    ("date", "'88", "", True),
    ("date", "97", "MI ", True),
    ("date", "97", "HR ", True),  # shape alone: an upper-case word before; vitals are vetoed apart
    ("date", "97", "rate ", False),
    ("date", "1", "", False),
    ("date", "7.38/41/96/24", "", False),
    ("date", "100-140/50-70", "", False),
    ("date", "March", "", True),
    ("date", "14th", "the ", True),
    ("date", "fifth", "", False),
    ("date", "20050719 0905", "", True),
    ("age", "92", "", True),
    ("age", "ninety-two", "", True),
    ("age", "levophed", "", False),
    ("age", "45", "", False),
    ("zip", "02114", "", True),
    ("zip", "0211", "", False),
    ("id", "K0828117", "", True),
    ("id", "INT6029", "", True),
    ("id", "045", "", False),
    ("id", "7.38/41", "", False),
    ("ip", "10.0.0.1", "", True),
    ("ip", "10.0.0", "", False),
    ("url", "www.example.org", "", True),
    ("url", "rongeur", "", False),
    ("name", "Kate", "", True),
    ("name", "C5", "", False),
])
def test_shapes(shape: str, frag: str, before: str, ok: bool) -> None:
    assert SHAPES[shape](frag, before) is ok


def test_impossible_spans_are_dropped_or_relabelled() -> None:
    text = "Email referral sent. Call 617-555-0198. HR 1 DATE here. Reached at 6175550198."
    one = text.index("HR 1") + 3
    spans = [span(text, "referral", "EMAIL"), Span(one, one + 1, "DATE", "ner", 0.9),
             span(text, "6175550198", "DATE"), span(text, "Call", "PHONE")]
    r = screen()(text, spans, [], [])
    assert {s: why for s, why in r.dropped} == {spans[1]: "shape", spans[3]: "shape"}
    assert [(s.start, s.label) for s in r.kept] == [(spans[0].start, "USERNAME"),
                                                   (spans[2].start, "PHONE")]
    assert [lab for _, lab in r.relabelled] == ["USERNAME", "PHONE"]


# -- measurements ------------------------------------------------------------------------------
def test_model_span_inside_measurement_is_dropped_unless_corroborated() -> None:
    text = "ABG 7.38/41/96/24 on AC. BP 120/80."
    gas = span(text, "7.38/41/96/24", "PHONE")
    allow = [Span(4, 17, "NAME", "rule:allow_blood_gas")]
    kept, dropped = run(text, [gas], allow=allow, stages=["measurements"])
    assert kept == [] and dropped == {gas: "measurements"}
    kept, _ = run(text, [gas], allow=allow, support=[Span(4, 17, "PHONE", "known:phone")],
                  stages=["measurements"])
    assert kept == [gas]


# -- vocabulary --------------------------------------------------------------------------------
def test_clinical_words_are_vetoed() -> None:
    text = "Pt on Levophed and vanc, PICC in place. Transfer to the floor. Kerrison rongeur used."
    spans = [span(text, "Levophed", "DOCTOR"), span(text, "vanc", "USERNAME"),
             span(text, "PICC", "DEVICE"), span(text, "to the floor", "HOSPITAL"),
             span(text, "Kerrison rongeur", "DOCTOR")]
    kept, dropped = run(text, spans, stages=["vocabulary"])
    assert kept == [] and set(dropped.values()) == {"vocabulary"}


def test_name_context_keeps_eponyms_and_lower_case_names() -> None:
    text = "Bovie used. Dr. Foley aware. daughter kate called. RN KATE NOTIFIED. Swan, RN here."
    spans = [span(text, "Foley", "DOCTOR"), span(text, "kate", "RELATIVE"),
             span(text, "KATE", "DOCTOR"), span(text, "Swan", "DOCTOR")]
    kept, dropped = run(text, spans)
    assert kept == spans and not dropped


def test_common_words_count_only_where_case_tells_nothing() -> None:
    mixed = "The patient is stable today and we plan to see Mark again after the visit."
    caps = "PT STABLE. WILL CONTINUE TO MONITOR. MARK AT BEDSIDE."
    m = span(mixed, "Mark", "PATIENT")
    kept, _ = run(mixed, [m], stages=["vocabulary"])
    assert kept == [m]  # a capitalised word mid-sentence in mixed-case text is evidence
    w, c, k = (span(caps, "WILL", "NAME"), span(caps, "CONTINUE", "NAME"),
               span(caps, "MARK", "PATIENT"))
    kept, dropped = run(caps, [w, c, k], stages=["vocabulary"])
    assert dropped == {w: "vocabulary", c: "vocabulary"}  # "mark" is also a name: higher bar
    assert kept == [k]


def test_broad_clinical_sources_spare_names_and_capitalised_common_words() -> None:
    text = "Exam: hallux valgus. Seen with Arnold today. Payer is Mutual Insurance. Pump RV-8385."
    hallux, arnold = span(text, "hallux", "DOCTOR"), span(text, "Arnold", "PATIENT")
    mutual, serial = span(text, "Mutual", "ORGANIZATION"), span(text, "RV-8385", "DEVICE")
    kept, dropped = run(text, [hallux, arnold, mutual, serial], stages=["vocabulary"])
    assert dropped == {hallux: "vocabulary"}  # a name, a capitalised word, a serial stay
    assert kept == [arnold, mutual, serial]


def test_professions_are_vetoed_by_curated_lists_only() -> None:
    text = "works as a oob; formerly hallux"
    nurse = span(text, "oob", "PROFESSION")
    other = span(text, "hallux", "PROFESSION")
    cfg = load_screen()
    kept, dropped = run(text, [nurse, other], stages=["vocabulary"])
    assert "PROFESSION" in cfg.curated_only
    assert dropped == {nurse: "vocabulary"}  # "oob" is curated; "hallux" only in the broad source
    assert kept == [other]


def test_saint_is_not_sinus_tachycardia() -> None:
    text = "admitted to ST. CRAIG'S HOSPITAL; ST elevation"
    a, b = span(text, "ST", "HOSPITAL"), span(text, "ST", "HOSPITAL", nth=1)
    lex = Lexicon(curated=lambda w: w == "st", clinical=lambda w: False, zipf=lambda w: 0.0,
                  phrases=frozenset(), names=frozenset())
    r = Screen(lexicon=lex, stages=["vocabulary"])(text, [a, b], [], [])
    assert r.kept == [a] and [s for s, _ in r.dropped] == [b]


def test_initials_and_unknown_words_are_never_vocabulary() -> None:
    text = "seen by S. and by Qzxv today"
    spans = [span(text, "S.", "DOCTOR"), span(text, "Qzxv", "DOCTOR")]
    kept, _ = run(text, spans, stages=["vocabulary"])
    assert kept == spans


def test_rule_or_known_support_keeps_any_span() -> None:
    text = "Levophed Smith called."
    s = span(text, "Levophed", "PATIENT")
    kept, _ = run(text, [s], support=support_spans([], [Span(0, 8, "PATIENT", "known:name")]))
    assert kept == [s]


def test_no_stages_keeps_everything() -> None:
    text = "on levophed"
    s = span(text, "levophed", "EMAIL")
    assert run(text, [s], stages=[])[0] == [s]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 12),
                          st.sampled_from(["DATE", "PHONE", "EMAIL", "DOCTOR", "HOSPITAL", "IDNUM"])),
                max_size=8),
       st.text(alphabet="ab CDE12/.-@\n", min_size=72, max_size=72))
def test_screening_only_removes_or_relabels(raw: list[tuple[int, int, str]], text: str) -> None:
    spans = [Span(a, a + n, lab, "ner", 0.9) for a, n, lab in raw]
    r = screen()(text, spans, [], [])
    assert len(r.kept) + len(r.dropped) == len(spans)
    offsets = {(s.start, s.end) for s in spans}
    assert all((s.start, s.end) in offsets for s in r.kept)
    again = screen()(text, r.kept, [], [])
    assert again.kept == r.kept and not again.dropped  # idempotent


# -- configuration -----------------------------------------------------------------------------
def test_bundled_config_loads() -> None:
    cfg = load_screen()
    assert set(cfg.stages) <= {"shape", "measurements", "vocabulary"}
    assert cfg.shapes["EMAIL"][0] == "email" and "dr" in cfg.before


@pytest.mark.parametrize("body,where", [
    ("stages: [shape]\n", "provenance"),
    ("provenance: x\nstages: [nope]\n", "stages"),
    ("provenance: x\nshapes: {EMAIL: {shape: nope}}\n", "EMAIL"),
    ("provenance: x\nshapes: {NOTALABEL: {shape: email}}\n", "NOTALABEL"),
    ("provenance: x\nshapes: {EMAIL: {shape: email, else: [NOPE]}}\n", "EMAIL"),
    ("provenance: x\nenglish_zipf: high\n", "english_zipf"),
    ("provenance: x\nsurprise: 1\n", "surprise"),
])
def test_bad_config_names_file_and_key(tmp_path, body: str, where: str) -> None:
    p = tmp_path / "screen.yaml"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(RuleError) as e:
        load_screen(str(p))
    assert "screen.yaml" in str(e.value) and where in str(e.value)


def test_policy_option_model_screen(tmp_path) -> None:
    from deid.policy import load_policy

    p = tmp_path / "p.yaml"
    p.write_text("provenance: t\noptions: {model_screen: [shape]}\n", encoding="utf-8")
    assert load_policy(p).options["model_screen"] == ["shape"]
    p.write_text("provenance: t\noptions: {model_screen: [vibes]}\n", encoding="utf-8")
    with pytest.raises(RuleError):
        load_policy(p)


# -- in the engine -----------------------------------------------------------------------------
class _FakeNer:
    """Stands in for the model: returns fixed spans, so the engine's screening is what is tested."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans

    def detect_batch(self, texts: list[str]) -> list[list[Span]]:
        return [list(self.spans) for _ in texts]


def test_engine_screens_model_spans_and_traces_them() -> None:
    from deid.known import Known
    from deid.screen import Screened
    from deid.text import Deidentifier

    text = "ABG 7.38/41/96/24. Email referral@. Seen with Zyx today."
    gas = span(text, "7.38/41/96/24", "PHONE")
    zyx = span(text, "Zyx", "PATIENT")
    engine = Deidentifier(ner=False)
    engine.ner = _FakeNer([gas, zyx])
    trace: list[Screened] = []
    spans = engine.detect_batch([text], None, trace)[0]
    assert (gas.start, gas.end) not in {(s.start, s.end) for s in spans}
    assert any(s.start == zyx.start and s.source == "ner" for s in spans)
    assert trace[0].dropped == [(gas, "measurements")]
    # a known identifier backs the model span: it is not screened
    known = Known.from_mapping({"name": "Levophed Qzx", "phone": "7.38/41/96/24"})
    spans = engine.detect_batch([text], [known])[0]
    assert any(s.start <= gas.start and gas.end <= s.end for s in spans)
    # the policy can turn screening off
    engine.screen = Screen(stages=[])
    spans = engine.detect_batch([text])[0]
    assert any(s.start == gas.start and s.source == "ner" for s in spans)
