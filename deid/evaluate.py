"""Evaluation of detected spans against a gold corpus.

Headline: token-level binary PHI recall/precision/F1. A token is a maximal ``[A-Za-z0-9]+`` run;
a gold token (one overlapping a gold span) is *found* when any predicted span overlaps it, and
a predicted token (one overlapping a predicted span) is *correct* when any gold span overlaps it.
Labels are ignored: for de-identification what matters is that PHI is removed.

Also: entity-level P/R/F1 "strict" (same offsets and label), "strict_unlabelled" (same offsets)
and "overlap" (any overlap, label ignored); per-label recall (token and entity); the leak rate
(share of gold PHI spans whose exact string survives, word-bounded and case-sensitive, anywhere in
the de-identified output; with a prediction file only, the output is simulated by replacing every
predicted span with ``X``); the documents with any missed token.

Reports name documents, offsets and labels; the covered text appears only with ``show_text``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deid.corpus.document import Document
from deid.errors import InputError
from deid.span import Span

TOKEN = re.compile(r"[A-Za-z0-9]+")
MD_LIST_LIMIT = 200


def prf(found: int, n_gold: int, correct: int, n_pred: int) -> dict[str, Any]:
    """Recall = found/n_gold, precision = correct/n_pred, F1 their harmonic mean (None if 0/0)."""
    r = found / n_gold if n_gold else None
    p = correct / n_pred if n_pred else None
    f = (2 * p * r / (p + r) if (p + r) else 0.0) if p is not None and r is not None else None
    return {"gold": n_gold, "found": found, "pred": n_pred, "correct": correct,
            "recall": r, "precision": p, "f1": f}


def redact(text: str, spans: Iterable[Span]) -> str:
    """``text`` with every span replaced by ``X`` characters of the same length."""
    chars = list(text)
    for s in spans:
        chars[s.start:s.end] = "X" * (s.end - s.start)
    return "".join(chars)


def survives(needle: str, haystack: str) -> bool:
    """Whether ``needle`` occurs in ``haystack`` bounded by non-alphanumerics (case-sensitive)."""
    if not needle.strip():
        return False
    pat = r"(?<![A-Za-z0-9])" + re.escape(needle) + r"(?![A-Za-z0-9])"
    return re.search(pat, haystack) is not None


@dataclass
class DocReview:
    """What the HTML review page needs for one document."""

    id: str
    text: str
    gold: list[Span]
    pred: list[Span]
    missed_tokens: int
    fp_tokens: int


@dataclass
class Evaluation:
    """Accumulates counts document by document; ``report()`` gives the result as a dict."""

    keep_review: int = 0  # how many documents with misses/FPs to keep for the HTML page
    show_text: bool = False
    leak_method: str = "redact-predicted"
    tok: Counter[str] = field(default_factory=Counter)
    ent: Counter[str] = field(default_factory=Counter)
    per_label: dict[str, Counter[str]] = field(default_factory=dict)
    leak: Counter[str] = field(default_factory=Counter)
    leak_by_label: dict[str, Counter[str]] = field(default_factory=dict)
    docs: int = 0
    docs_with_miss: list[str] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    leaks: list[dict[str, Any]] = field(default_factory=list)
    review: list[DocReview] = field(default_factory=list)
    missing_predictions: list[str] = field(default_factory=list)
    unexpected_predictions: list[str] = field(default_factory=list)

    def _label(self, label: str) -> Counter[str]:
        return self.per_label.setdefault(label, Counter())

    def add(self, doc: Document, pred: Iterable[Span], output: str | None = None) -> None:
        """Score one document; ``output`` is its de-identified text (else simulated)."""
        text = doc.text
        n = len(text)
        gold = sorted(doc.spans)
        pred = sorted(pred)
        for s in pred:
            if s.end > n:
                raise InputError(f"document {doc.id!r}: predicted span [{s.start}, {s.end}) "
                                 f"ends beyond the text (length {n})")
        g_lab: list[str | None] = [None] * n
        for s in gold:
            g_lab[s.start:s.end] = [s.label] * (s.end - s.start)
        p_cov = bytearray(n)
        for s in pred:
            p_cov[s.start:s.end] = b"\x01" * (s.end - s.start)
        self.docs += 1

        # token level
        missed = fp = 0
        missed_at: set[int] = set()
        for m in TOKEN.finditer(text):
            a, b = m.span()
            labs = {x for x in g_lab[a:b] if x is not None}
            hit = any(p_cov[a:b])
            if labs:
                self.tok["gold"] += 1
                self.tok["found"] += hit
                for lab in labs:
                    c = self._label(lab)
                    c["tok_gold"] += 1
                    c["tok_found"] += hit
                if not hit:
                    missed += 1
                    missed_at.add(a)
            if hit:
                self.tok["pred"] += 1
                self.tok["correct"] += bool(labs)
                fp += not labs
        if missed:
            self.docs_with_miss.append(doc.id)

        # entity level
        g_strict = Counter((s.start, s.end, s.label) for s in gold)
        p_strict = Counter((s.start, s.end, s.label) for s in pred)
        g_off = Counter((s.start, s.end) for s in gold)
        p_off = Counter((s.start, s.end) for s in pred)
        self.ent["gold"] += len(gold)
        self.ent["pred"] += len(pred)
        self.ent["strict"] += sum((g_strict & p_strict).values())
        self.ent["strict_unlabelled"] += sum((g_off & p_off).values())
        for s in gold:
            c = self._label(s.label)
            c["ent_gold"] += 1
            found = any(p_cov[s.start:s.end])
            self.ent["overlap_found"] += found
            c["ent_found"] += found
            c["ent_strict"] += p_strict[(s.start, s.end, s.label)] > 0
            toks = [m.start() + s.start for m in TOKEN.finditer(text[s.start:s.end])]
            k = sum(1 for t in toks if t in missed_at)
            if k or not found:
                miss: dict[str, Any] = {"doc": doc.id, "start": s.start, "end": s.end,
                                        "label": s.label, "missed_tokens": k, "tokens": len(toks)}
                if self.show_text:
                    miss["text"] = text[s.start:s.end]
                self.misses.append(miss)
        for s in pred:
            self._label(s.label)["pred"] += 1
            ok = any(x is not None for x in g_lab[s.start:s.end])
            self.ent["overlap_correct"] += ok
            self._label(s.label)["pred_correct"] += ok

        # leak
        out = output if output is not None else redact(text, pred)
        for s in gold:
            if not TOKEN.search(text, s.start, s.end):
                continue
            leaked = survives(text[s.start:s.end], out)
            self.leak["gold"] += 1
            self.leak["leaked"] += leaked
            lc = self.leak_by_label.setdefault(s.label, Counter())
            lc["gold"] += 1
            lc["leaked"] += leaked
            if leaked:
                item: dict[str, Any] = {"doc": doc.id, "start": s.start, "end": s.end,
                                        "label": s.label}
                if self.show_text:
                    item["text"] = text[s.start:s.end]
                self.leaks.append(item)

        if (missed or fp) and len(self.review) < self.keep_review:
            self.review.append(DocReview(doc.id, text, gold, pred, missed, fp))

    def report(self) -> dict[str, Any]:
        t, e = self.tok, self.ent
        per_label = {}
        for lab in sorted(self.per_label):
            c = self.per_label[lab]
            per_label[lab] = {
                "gold_entities": c["ent_gold"],
                "entity_recall": c["ent_found"] / c["ent_gold"] if c["ent_gold"] else None,
                "entity_recall_strict": c["ent_strict"] / c["ent_gold"] if c["ent_gold"] else None,
                "gold_tokens": c["tok_gold"],
                "token_recall": c["tok_found"] / c["tok_gold"] if c["tok_gold"] else None,
                "predicted": c["pred"],
                "predicted_precision": c["pred_correct"] / c["pred"] if c["pred"] else None,
            }
        lg = self.leak
        return {
            "documents": self.docs,
            "token": prf(t["found"], t["gold"], t["correct"], t["pred"]),
            "entity": {
                "strict": prf(e["strict"], e["gold"], e["strict"], e["pred"]),
                "strict_unlabelled": prf(e["strict_unlabelled"], e["gold"],
                                         e["strict_unlabelled"], e["pred"]),
                "overlap": prf(e["overlap_found"], e["gold"], e["overlap_correct"], e["pred"]),
            },
            "per_label": per_label,
            "leak": {
                "method": self.leak_method,
                "gold_spans": lg["gold"],
                "leaked": lg["leaked"],
                "rate": lg["leaked"] / lg["gold"] if lg["gold"] else None,
                "by_label": {k: {"gold_spans": v["gold"], "leaked": v["leaked"]}
                             for k, v in sorted(self.leak_by_label.items())},
                "items": self.leaks,
            },
            "documents_with_missed_tokens": {"count": len(self.docs_with_miss),
                                             "ids": self.docs_with_miss},
            "misses": self.misses,
            "missing_predictions": self.missing_predictions,
            "unexpected_predictions": self.unexpected_predictions,
        }


# -- prediction sources ----------------------------------------------------------------------


def load_predictions(path: str | Path) -> dict[str, list[Span]]:
    """Read ``deid detect`` output: JSONL ``{"id", "spans": [{"start","end","label",...}]}``."""
    path = Path(path)
    out: dict[str, list[Span]] = {}
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"{path}: cannot read predictions ({exc.strerror})") from None
    with fh:
        for n, line in enumerate(fh.read().split("\n"), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON (column {exc.colno})") from None
            if not isinstance(obj, dict) or "id" not in obj:
                raise InputError(f"{where}: a prediction line needs an 'id' field")
            doc_id = str(obj["id"])
            if doc_id in out:
                raise InputError(f"{where}: document {doc_id!r} appears twice")
            spans = []
            for i, s in enumerate(obj.get("spans") or []):
                try:
                    spans.append(Span.from_dict(s))
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise InputError(f"{where}: document {doc_id!r}: span #{i} is invalid "
                                     f"({type(exc).__name__})") from None
            out[doc_id] = spans
    return out


def from_file(
    gold: Iterable[Document], predictions: Mapping[str, list[Span]], ev: Evaluation
) -> Iterator[tuple[Document, list[Span], str | None]]:
    """Pair gold documents with predictions; records ids missing on either side in ``ev``."""
    seen: set[str] = set()
    for doc in gold:
        seen.add(doc.id)
        if doc.id not in predictions:
            ev.missing_predictions.append(doc.id)
        yield doc, list(predictions.get(doc.id, [])), None
    ev.unexpected_predictions.extend(sorted(set(predictions) - seen))


def from_engine(
    gold: Iterable[Document], engine: Any, batch: int = 8
) -> Iterator[tuple[Document, list[Span], str | None]]:
    """Run ``engine.deidentify_batch`` (a ``deid.text.Deidentifier``) over the gold texts."""
    buf: list[Document] = []

    def flush() -> Iterator[tuple[Document, list[Span], str | None]]:
        results = engine.deidentify_batch([d.text for d in buf], doc_ids=[d.id for d in buf])
        for d, r in zip(buf, results, strict=True):
            yield d, list(r.spans), r.text
        buf.clear()

    for doc in gold:
        buf.append(doc)
        if len(buf) >= batch:
            yield from flush()
    if buf:
        yield from flush()


def evaluate(
    pairs: Iterable[tuple[Document, list[Span], str | None]], ev: Evaluation | None = None
) -> Evaluation:
    ev = ev or Evaluation()
    for doc, pred, output in pairs:
        ev.add(doc, pred, output)
    return ev


# -- Markdown --------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}"


def _prf_row(name: str, m: Mapping[str, Any]) -> str:
    return (f"| {name} | {_pct(m['recall'])} | {_pct(m['precision'])} | {_pct(m['f1'])} | "
            f"{m['gold']} | {m['pred']} |")


def _cell(s: object) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def to_markdown(rep: Mapping[str, Any], title: str = "De-identification evaluation",
                source: Mapping[str, Any] | None = None) -> str:
    lines = [f"# {title}", ""]
    for k, v in (source or {}).items():
        lines.append(f"- {k}: `{_cell(v)}`")
    lines += [f"- documents: {rep['documents']}", "",
              "## Token level (binary PHI, headline)", "",
              "| metric | recall % | precision % | F1 % | gold | predicted |",
              "|---|---:|---:|---:|---:|---:|",
              _prf_row("tokens", rep["token"]), "",
              "## Entity level", "",
              "| match | recall % | precision % | F1 % | gold | predicted |",
              "|---|---:|---:|---:|---:|---:|"]
    for k in ("strict", "strict_unlabelled", "overlap"):
        lines.append(_prf_row(k, rep["entity"][k]))
    lines += ["", "## Per label", "",
              "| label | gold entities | entity recall % | strict recall % | gold tokens | "
              "token recall % | predicted | predicted precision % |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lab, m in rep["per_label"].items():
        lines.append(f"| {lab} | {m['gold_entities']} | {_pct(m['entity_recall'])} | "
                     f"{_pct(m['entity_recall_strict'])} | {m['gold_tokens']} | "
                     f"{_pct(m['token_recall'])} | {m['predicted']} | "
                     f"{_pct(m['predicted_precision'])} |")
    lk = rep["leak"]
    lines += ["", "## Leak rate", "",
              f"{_pct(lk['rate'])} % of gold PHI spans ({lk['leaked']} of {lk['gold_spans']}) "
              f"survive verbatim in the output (method: {lk['method']}).", ""]
    dm = rep["documents_with_missed_tokens"]
    lines += ["## Documents with missed tokens", "", f"{dm['count']} of {rep['documents']}", ""]
    if dm["ids"]:
        shown = dm["ids"][:MD_LIST_LIMIT]
        lines.append(", ".join(f"`{_cell(i)}`" for i in shown)
                     + (f" ... ({len(dm['ids']) - len(shown)} more in the JSON report)"
                        if len(dm["ids"]) > len(shown) else ""))
        lines.append("")
    for key, head in (("misses", "Missed gold spans"), ("items", "Leaked gold spans")):
        items = rep["misses"] if key == "misses" else lk["items"]
        if not items:
            continue
        has_text = any("text" in m for m in items)
        lines += [f"## {head}", "",
                  "| document | start | end | label |" + (" text |" if has_text else ""),
                  "|---|---:|---:|---|" + ("---|" if has_text else "")]
        for m in items[:MD_LIST_LIMIT]:
            lines.append(f"| {_cell(m['doc'])} | {m['start']} | {m['end']} | {m['label']} |"
                         + (f" {_cell(m.get('text', ''))} |" if has_text else ""))
        if len(items) > MD_LIST_LIMIT:
            lines.append(f"\n({len(items) - MD_LIST_LIMIT} more in the JSON report)")
        lines.append("")
    for key, head in (("missing_predictions", "Gold documents without predictions"),
                      ("unexpected_predictions", "Predictions for unknown documents")):
        if rep[key]:
            lines += [f"## {head}", "", ", ".join(f"`{_cell(i)}`" for i in rep[key]), ""]
    return "\n".join(lines).rstrip() + "\n"
