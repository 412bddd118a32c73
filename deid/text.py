"""The text engine: detect (rules + NER + known identifiers) -> resolve -> apply a policy."""

from __future__ import annotations

import sys
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deid.key import Key
from deid.known import Known
from deid.labels import load_labels
from deid.policy import Policy, load_policy
from deid.rulefile import repo_root
from deid.rules import RuleSet, load_ruleset
from deid.screen import Screen, Screened, support_spans
from deid.span import Span, resolve, source_kind
from deid.transform import Change, apply

DEFAULT_MODEL = repo_root() / "models" / "default"


@dataclass
class TextResult:
    text: str
    spans: list[Span]
    changes: list[Change]
    mappings: list[tuple[str, str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.spans:
            out[s.label] = out.get(s.label, 0) + 1
        return dict(sorted(out.items()))


def veto(spans: list[Span], allow: list[Span], sources: set[str], vetoable: set[str]) -> list[Span]:
    """Drop spans from ``sources`` that lie fully inside an allow-list span.

    Known identifiers are never vetoed; rule spans only when their rule is vetoable.
    """
    if not allow:
        return spans
    merged = resolve(allow)  # disjoint, sorted: a span lies inside one of them or none
    starts = [a.start for a in merged]
    out = []
    for s in spans:
        kind = source_kind(s.source)
        if kind in sources and (kind != "rule" or s.source in vetoable):
            i = bisect_right(starts, s.start) - 1
            if i >= 0 and s.end <= merged[i].end:
                continue
        out.append(s)
    return out


class Deidentifier:
    """De-identify clinical text.

    ``ner``: ``"auto"`` uses ``models/default`` when it is present, ``False`` runs rules only,
    a path loads that model directory (errors if it is invalid).
    """

    def __init__(
        self,
        policy: str | Path | Policy | None = None,
        key: Key | None = None,
        ner: str | Path | bool = "auto",
        device: str = "auto",
        rules: RuleSet | None = None,
        precision: str = "auto",
    ) -> None:
        self.policy = policy if isinstance(policy, Policy) else load_policy(policy)
        self.key = key or Key.random()
        self.rules = rules or load_ruleset()
        self.labels = load_labels()
        self._vetoable = {r.source for r in self.rules.rules if r.vetoable}
        stages = self.policy.options.get("model_screen")
        self.screen = Screen(stages=None if stages is None else list(stages))  # type: ignore[call-overload]
        self.ner: Any = None
        self.ner_status = "off"
        if precision not in ("auto", "fp32", "int8"):
            raise ValueError(f"precision must be auto, fp32 or int8, not {precision!r}")
        if ner is not False and ner is not None:
            self._load_ner(ner, device, precision)

    def _load_ner(self, ner: str | Path | bool, device: str, precision: str = "auto") -> None:
        auto = ner is True or ner == "auto"
        model_dir = DEFAULT_MODEL if auto else Path(ner)
        if auto and not (model_dir / "config.json").exists():
            self.ner_status = "absent"
            print("deid: note: no NER model in models/default; running rules only",
                  file=sys.stderr)
            return
        from deid.ner import NerDetector

        quantize = None if precision == "auto" else precision == "int8"
        self.ner = NerDetector.load(model_dir, device=device, quantize=quantize)
        self.ner_status = f"{model_dir} ({self.ner.precision}, {self.ner.device.type})"

    @property
    def screen_status(self) -> str:
        """The screening stages and vocabulary files used on model spans (for run reports)."""
        if self.ner is None:
            return "off (no model)"
        stages = "+".join(sorted(self.screen.stages)) or "none"
        if "vocabulary" not in self.screen.stages:
            return stages
        from deid.vocab import load_vocab

        files = ", ".join(p.name for p in load_vocab().files)
        return f"{stages} (vocabulary: {files})"

    # -- detection ---------------------------------------------------------------------------
    def detect(self, text: str, known: Known | None = None) -> list[Span]:
        return self.detect_batch([text], [known])[0]

    def detect_batch(self, texts: list[str], knowns: list[Known | None] | None = None,
                     trace: list[Screened] | None = None) -> list[list[Span]]:
        """Spans of each text; ``trace`` (a list) receives what screening did to model spans."""
        knowns = knowns or [None] * len(texts)
        ner_spans: list[list[Span]] = (
            self.ner.detect_batch(texts) if self.ner is not None else [[] for _ in texts]
        )
        return [self.combine(text, nsp, known, trace=trace)
                for text, known, nsp in zip(texts, knowns, ner_spans, strict=True)]

    def combine(self, text: str, model: list[Span], known: Known | None = None,
                screen: Screen | None = None, trace: list[Screened] | None = None) -> list[Span]:
        """Rules, allow-list vetoes, the screened ``model`` spans and known identifiers, resolved.

        ``screen`` replaces the engine's own (benchmarks compare stages on one model run).
        """
        min_score = float(self.policy.options.get("min_score", 0.0))  # type: ignore[arg-type]
        vetoers = set(self.policy.options.get("allow_vetoes", ["rule"]))  # type: ignore[arg-type]
        allow = self.rules.allow_spans(text)
        rule_spans = [s for s in self.rules.detect(text) if s.score >= min_score]
        rule_spans = veto(rule_spans, allow, vetoers, self._vetoable)
        known_spans = known.detect(text) if known is not None else []
        model = veto([s for s in model if s.score >= min_score], allow, vetoers, self._vetoable)
        screened = (screen or self.screen)(text, model, support_spans(rule_spans, known_spans),
                                           allow)
        if trace is not None:
            trace.append(screened)
        return resolve(rule_spans + screened.kept + known_spans, self.labels.priority)

    # -- transformation ----------------------------------------------------------------------
    def deidentify(
        self,
        text: str,
        known: Known | None = None,
        patient: str | None = None,
        doc_id: str | None = None,
    ) -> TextResult:
        return self.deidentify_batch([text], [known], [patient], [doc_id])[0]

    def deidentify_batch(
        self,
        texts: list[str],
        knowns: list[Known | None] | None = None,
        patients: list[str | None] | None = None,
        doc_ids: list[str | None] | None = None,
    ) -> list[TextResult]:
        n = len(texts)
        knowns = knowns or [None] * n
        patients = patients or [None] * n
        doc_ids = doc_ids or [None] * n
        results = []
        for text, spans, known, patient, doc_id in zip(
            texts, self.detect_batch(texts, knowns), knowns, patients, doc_ids, strict=True
        ):
            who = patient or (known.patient_id if known is not None else None) or (
                f"doc:{doc_id}" if doc_id else "")
            new, changes, maps = apply(text, spans, self.policy, self.key, who)
            results.append(TextResult(new, spans, changes, maps))
        return results
