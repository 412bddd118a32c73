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

False positives: a predicted token covering no gold PHI, per 1,000 tokens of text (overall and by
``meta.note_type``), counted by the predicted label and ``Span.source`` of the span that covers
it; false-positive spans (overlapping no gold span) are tallied by their normalised text.

Text without gold (``Unlabeled``): what the engine would remove, split into *acceptable* (dates,
placeholders of earlier de-identification such as "Dr. X", ages of 90 or more; defined in
``rules/eval/unlabeled.yaml``) and *over-redaction* (everything else), per 1,000 tokens.

Reports name documents, offsets and labels; the covered text appears only with ``show_text``,
otherwise strings are shown as a word shape (``Xxxxx``, ``dd/dd``) and a keyed hash.
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
from deid.dates import parse_date
from deid.errors import InputError, RuleError
from deid.key import Key, normalize
from deid.rulefile import load_yaml, require, rules_path
from deid.span import Span, source_kind
from deid.textio import DEFAULT_MAX_BYTES, BadNote, decode, iter_txt_folder, note_id, read_jsonl
from deid.validators import words_to_int

TOKEN = re.compile(r"[A-Za-z0-9]+")
MD_LIST_LIMIT = 200
TOP_STRINGS = 50


def per_1000(k: int, n: int) -> float | None:
    """``k`` per 1,000 of ``n`` (None when ``n`` is 0)."""
    return 1000 * k / n if n else None


def word_shape(text: str, run: int = 4, limit: int = 40) -> str:
    """``Jones`` -> ``Xxxxx``, ``03/04`` -> ``dd/dd``: classes X x d, runs cut at ``run``."""
    out: list[str] = []
    prev, k = "", 0
    for ch in text:
        c = ("X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit()
             else " " if ch.isspace() else ch)
        k = k + 1 if c == prev else 1
        prev = c
        if k <= (1 if c == " " else run):
            out.append(c)
    shape = "".join(out)
    return shape if len(shape) <= limit else shape[:limit] + "..."


def _spread(ch: Counter[str]) -> dict[str, int]:
    return dict(ch.most_common())


@dataclass
class StringTally:
    """Counts of span strings grouped by their normalised (NFKC, casefolded) text."""

    count: Counter[str] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)
    shapes: dict[str, Counter[str]] = field(default_factory=dict)
    labels: dict[str, Counter[str]] = field(default_factory=dict)
    sources: dict[str, Counter[str]] = field(default_factory=dict)
    classes: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, text: str, label: str, source: str, tokens: int,
            cls: str | None = None) -> None:
        k = normalize(text)
        self.count[k] += 1
        self.tokens[k] += tokens
        self.shapes.setdefault(k, Counter())[word_shape(text)] += 1
        self.labels.setdefault(k, Counter())[label] += 1
        self.sources.setdefault(k, Counter())[source] += 1
        if cls is not None:
            self.classes.setdefault(k, Counter())[cls] += 1

    def top(self, n: int, show_text: bool, key: Key) -> list[dict[str, Any]]:
        """The ``n`` most frequent strings; ``text`` only with ``show_text``, else shape+hash."""
        hashed = {k: key.hash_id(k, "eval-string")[:10] for k in self.count}
        order = sorted(self.count, key=lambda k: (-self.count[k], -self.tokens[k], hashed[k]))
        out = []
        for k in order[:n]:
            item: dict[str, Any] = {}
            if show_text:
                item["text"] = k
            item |= {"shape": self.shapes[k].most_common(1)[0][0], "hash": hashed[k],
                     "count": self.count[k], "tokens": self.tokens[k],
                     "labels": _spread(self.labels[k]), "sources": _spread(self.sources[k])}
            if k in self.classes:
                item["classes"] = _spread(self.classes[k])
            out.append(item)
        return out


def hash_note(key: Key) -> str:
    """How the string hashes of a report were keyed (safe to print)."""
    if key.ephemeral:
        return "HMAC-SHA256 under a random key for this run (compare hashes within one report)"
    return f"HMAC-SHA256 under the key with fingerprint {key.fingerprint()}"


def _owners(n: int, spans: list[Span], rank: list[tuple[Any, ...]]) -> list[int]:
    """Per character, the index of the preferred span covering it (lowest ``rank``), else -1."""
    owner = [-1] * n
    for i in sorted(range(len(spans)), key=lambda i: rank[i], reverse=True):
        s = spans[i]
        owner[s.start:s.end] = [i] * (s.end - s.start)
    return owner


def _token_owner(owner: list[int], a: int, b: int, rank: list[tuple[Any, ...]]) -> int:
    ids = {x for x in owner[a:b] if x >= 0}
    return min(ids, key=lambda i: rank[i]) if ids else -1


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
    strings_key: Key = field(default_factory=Key.random)  # keys the hashes of FP strings
    top_n: int = TOP_STRINGS
    fp_by_label: dict[str, Counter[str]] = field(default_factory=dict)
    fp_by_source: dict[str, Counter[str]] = field(default_factory=dict)
    fp_by_type: dict[str, Counter[str]] = field(default_factory=dict)
    fp_strings: StringTally = field(default_factory=StringTally)

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
        rank = [(i,) for i in range(len(pred))]
        owner = _owners(n, pred, rank)
        ntype = doc.meta.get("note_type") if isinstance(doc.meta, Mapping) else None
        by_type = self.fp_by_type.setdefault(str(ntype), Counter()) if ntype is not None else None

        # token level
        missed = fp = 0
        missed_at: set[int] = set()
        for m in TOKEN.finditer(text):
            a, b = m.span()
            labs = {x for x in g_lab[a:b] if x is not None}
            hit = any(p_cov[a:b])
            self.tok["all"] += 1
            if by_type is not None:
                by_type["tokens"] += 1
                by_type["fp_tokens"] += hit and not labs
            if hit and not labs:
                s = pred[_token_owner(owner, a, b, rank)]
                self.fp_by_label.setdefault(s.label, Counter())["tokens"] += 1
                self.fp_by_source.setdefault(s.source, Counter())["tokens"] += 1
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
            if not ok:
                self.fp_by_label.setdefault(s.label, Counter())["spans"] += 1
                self.fp_by_source.setdefault(s.source, Counter())["spans"] += 1
                self.fp_strings.add(text[s.start:s.end], s.label, s.source,
                                    len(TOKEN.findall(text, s.start, s.end)))

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
            "false_positives": self.fp_report(),
            "documents_with_missed_tokens": {"count": len(self.docs_with_miss),
                                             "ids": self.docs_with_miss},
            "misses": self.misses,
            "missing_predictions": self.missing_predictions,
            "unexpected_predictions": self.unexpected_predictions,
        }


    def fp_report(self) -> dict[str, Any]:
        """False-positive tokens per 1,000, by label, source and note type; top strings."""
        t = self.tok
        fp = t["pred"] - t["correct"]

        def rows(d: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
            return {k: {"spans": v["spans"], "tokens": v["tokens"]}
                    for k, v in sorted(d.items(), key=lambda kv: (-kv[1]["tokens"],
                                                                   -kv[1]["spans"], kv[0]))}

        kinds: dict[str, Counter[str]] = {}
        for src, c in self.fp_by_source.items():
            kinds.setdefault(source_kind(src), Counter()).update(c)
        return {
            "tokens": t["all"],
            "fp_tokens": fp,
            "per_1000": per_1000(fp, t["all"]),
            "fp_spans": sum(c["spans"] for c in self.fp_by_label.values()),
            "by_note_type": {k: {"tokens": v["tokens"], "fp_tokens": v["fp_tokens"],
                                 "per_1000": per_1000(v["fp_tokens"], v["tokens"])}
                             for k, v in sorted(self.fp_by_type.items())},
            "by_label": rows(self.fp_by_label),
            "by_source": rows(self.fp_by_source),
            "by_source_kind": rows(kinds),
            "top_strings": self.fp_strings.top(self.top_n, self.show_text, self.strings_key),
            "strings_hash": hash_note(self.strings_key),
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
    gold: Iterable[Document], predictions: Mapping[str, list[Span]], ev: Evaluation | Unlabeled
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


def _with_id_lists(lines: list[str], rep: Mapping[str, Any], missing: str,
                   unexpected: str) -> str:
    """End a Markdown report with the ids of unmatched predictions, and join it."""
    for key, head in (("missing_predictions", missing), ("unexpected_predictions", unexpected)):
        if rep[key]:
            lines += [f"## {head}", "", ", ".join(f"`{_cell(i)}`" for i in rep[key]), ""]
    return "\n".join(lines).rstrip() + "\n"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _top(c: Mapping[str, int]) -> str:
    return ", ".join(f"{_cell(k)} {v}" for k, v in c.items())


def _strings_table(head: str, items: list[dict[str, Any]], hashing: str) -> list[str]:
    """A Markdown table of ``StringTally.top`` items (text column only when present)."""
    if not items:
        return []
    has_text = any("text" in i for i in items)
    has_cls = any("classes" in i for i in items)
    lines = [f"## {head}", "",
             "Strings are NFKC-normalised and casefolded; "
             + ("this table holds note text." if has_text
                else f"shown as word shape and hash ({hashing})."), "",
             "| " + ("text | " if has_text else "") + "shape | hash | count | tokens | labels | "
             "sources |" + (" classes |" if has_cls else ""),
             "|" + ("---|" if has_text else "") + "---|---|---:|---:|---|---|"
             + ("---|" if has_cls else "")]
    for i in items:
        lines.append("| " + (f"{_cell(i.get('text', ''))} | " if has_text else "")
                     + f"`{_cell(i['shape'])}` | {i['hash']} | {i['count']} | {i['tokens']} | "
                     f"{_top(i['labels'])} | {_top(i['sources'])} |"
                     + (f" {_top(i.get('classes', {}))} |" if has_cls else ""))
    lines.append("")
    return lines


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
    fp = rep.get("false_positives")
    if fp is not None:
        lines += ["## False positives", "",
                  f"{_num(fp['per_1000'])} false-positive tokens per 1,000 tokens "
                  f"({fp['fp_tokens']} of {fp['tokens']}; {fp['fp_spans']} predicted spans "
                  "overlap no gold span).", ""]
        if fp["by_note_type"]:
            lines += ["| note type | tokens | FP tokens | per 1,000 |", "|---|---:|---:|---:|"]
            lines += [f"| {_cell(k)} | {v['tokens']} | {v['fp_tokens']} | {_num(v['per_1000'])} |"
                      for k, v in fp["by_note_type"].items()]
            lines.append("")
        for key, head in (("by_label", "predicted label"), ("by_source", "source")):
            lines += [f"| {head} | FP tokens | FP spans |", "|---|---:|---:|"]
            lines += [f"| {_cell(k)} | {v['tokens']} | {v['spans']} |"
                      for k, v in fp[key].items()]
            lines.append("")
        lines += _strings_table("Top false-positive strings", fp["top_strings"],
                                fp["strings_hash"])
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
    return _with_id_lists(lines, rep, "Gold documents without predictions",
                          "Predictions for unknown documents")


# -- text without gold: acceptable removal vs over-redaction ---------------------------------

ACCEPTABLE_CLASSES = ("date", "placeholder", "age90")
WEEKDAY = re.compile(r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday"
                     r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b\.?", re.IGNORECASE)
YEAR = re.compile(r"(?:1[89]\d\d|2[01]\d\d|['’]\d\d)['’]?s?")
POSSESSIVE = re.compile(r"['’]s\b")


def is_date_text(text: str, numeric_without_year: bool = False) -> bool:
    """A date, month/year, year (``1999``, ``1990s``, ``'99``) or weekday/month names alone.

    Digits-only month/day without a year (``3/14``, but also ``5/5`` strength, ``7/10`` pain,
    ``12-14``) count only with ``numeric_without_year``.
    """
    t = text.strip(" \t\r\n,.;:()[]")
    if not t:
        return False
    rest = WEEKDAY.sub(" ", t).strip(" \t\r\n,.;:")
    if not rest:
        return True
    if YEAR.fullmatch(rest) is not None:
        return True
    words = re.search(r"[A-Za-z]", rest) is not None
    for order in ("MDY", "DMY"):
        p = parse_date(rest, order)
        if p is not None and (p.year is not None or words or numeric_without_year):
            return True
    return False


def age_value(text: str) -> float | None:
    """The first number in ``text`` (digits or words such as ``ninety-two``)."""
    m = re.search(r"\d+(?:\.\d+)?", text)
    if m:
        return float(m.group())
    for w in re.findall(r"[A-Za-z]+(?:[- ][A-Za-z]+)*", text):
        n = words_to_int(w)
        if n is not None:
            return float(n)
    return None


@dataclass(frozen=True)
class Acceptable:
    """What removal counts as acceptable in text without gold (``rules/eval/unlabeled.yaml``)."""

    path: str
    placeholder: bool
    placeholder_token: re.Pattern[str]
    accompanying_words: frozenset[str]
    date: bool
    date_labels: frozenset[str]
    numeric_without_year: bool
    age90: bool
    age_labels: frozenset[str]
    min_age: int
    max_age: int

    def is_placeholder(self, text: str) -> bool:
        """Every token a placeholder token or an accompanying word, at least one placeholder."""
        toks = TOKEN.findall(POSSESSIVE.sub("", text))
        seen = False
        for w in toks:
            if self.placeholder_token.fullmatch(w):
                seen = True
            elif w.casefold() not in self.accompanying_words:
                return False
        return seen

    def classify(self, text: str, label: str) -> str | None:
        """``date``, ``age90`` or ``placeholder`` when acceptable, else None (over-redaction)."""
        if (self.date and label in self.date_labels
                and is_date_text(text, self.numeric_without_year)):
            return "date"
        if self.age90 and label in self.age_labels:
            v = age_value(text)
            if v is not None and self.min_age <= v <= self.max_age:
                return "age90"
        if self.placeholder and self.is_placeholder(text):
            return "placeholder"
        return None


def _labels_list(data: Mapping[str, Any], p: Path, sec: str) -> frozenset[str]:
    from deid.labels import load_labels

    labs = data.get("labels")
    require(isinstance(labs, list) and bool(labs) and all(isinstance(x, str) for x in labs),
            p, sec, "'labels' must be a non-empty list of label names")
    known = load_labels()
    for lab in labs:
        require(lab in known, p, sec, f"unknown label {lab!r} (see rules/labels.yaml)")
    return frozenset(labs)


def _section(data: Mapping[str, Any], p: Path, sec: str, keys: set[str],
             optional: frozenset[str] = frozenset()) -> Mapping[str, Any]:
    d = data.get(sec)
    require(isinstance(d, dict), p, sec, "must be a mapping")
    assert isinstance(d, dict)
    extra = set(d) - keys - optional
    require(not extra, p, sec,
            f"unknown key(s) {sorted(extra)} (allowed: {sorted(keys | optional)})")
    missing = keys - set(d)
    require(not missing, p, sec, f"missing key(s) {sorted(missing)}")
    require(isinstance(d["acceptable"], bool), p, sec, "'acceptable' must be true or false")
    return d


def load_acceptable(path: str | Path | None = None) -> Acceptable:
    """Read and validate ``rules/eval/unlabeled.yaml`` (errors: RuleError naming the file)."""
    p = Path(path) if path is not None else rules_path("eval", "unlabeled.yaml")
    data = load_yaml(p)
    require(isinstance(data, dict), p, None, "must be a mapping with provenance, placeholder, "
            "date and age90")
    assert isinstance(data, dict)
    extra = set(data) - {"provenance", "placeholder", "date", "age90"}
    require(not extra, p, None, f"unknown key(s) {sorted(extra)}")
    prov = data.get("provenance")
    require(isinstance(prov, str) and bool(prov.strip()), p, None,
            "needs a non-empty 'provenance' string")
    ph = _section(data, p, "placeholder", {"acceptable", "token", "accompanying_words"})
    require(isinstance(ph["token"], str) and bool(ph["token"]), p, "placeholder",
            "'token' must be a regex string")
    try:
        tok = re.compile(ph["token"])
    except re.error as exc:
        raise RuleError(p, "placeholder", f"'token' is not a valid regex ({exc})") from None
    require(tok.fullmatch("") is None, p, "placeholder", "'token' must not match empty text")
    words = ph["accompanying_words"]
    require(isinstance(words, list) and all(isinstance(w, str) and w.strip() for w in words),
            p, "placeholder", "'accompanying_words' must be a list of words")
    for w in words:
        require(TOKEN.fullmatch(w.strip()) is not None, p, "placeholder",
                f"accompanying word {w!r} must be one [A-Za-z0-9]+ token")
        require(tok.fullmatch(w.strip()) is None, p, "placeholder",
                f"accompanying word {w!r} is itself a placeholder token")
    dt = _section(data, p, "date", {"acceptable", "labels"},
                  frozenset({"numeric_without_year"}))
    nwy = dt.get("numeric_without_year", False)
    require(isinstance(nwy, bool), p, "date", "'numeric_without_year' must be true or false")
    ag = _section(data, p, "age90", {"acceptable", "labels", "min_age"},
                  frozenset({"max_age"}))
    lo, hi = ag["min_age"], ag.get("max_age", 129)
    require(isinstance(lo, int) and not isinstance(lo, bool) and lo > 0, p, "age90",
            "'min_age' must be a positive integer")
    require(isinstance(hi, int) and not isinstance(hi, bool) and hi >= lo, p, "age90",
            "'max_age' must be an integer >= min_age")
    return Acceptable(str(p), ph["acceptable"], tok,
                      frozenset(w.strip().casefold() for w in words),
                      dt["acceptable"], _labels_list(dt, p, "date"), nwy,
                      ag["acceptable"], _labels_list(ag, p, "age90"), lo, hi)


@dataclass
class Unlabeled:
    """Accumulates what would be removed from text without gold; ``report()`` gives a dict."""

    rules: Acceptable
    show_text: bool = False
    strings_key: Key = field(default_factory=Key.random)
    top_n: int = TOP_STRINGS
    tot: Counter[str] = field(default_factory=Counter)
    by_label: dict[str, Counter[str]] = field(default_factory=dict)
    by_source: dict[str, Counter[str]] = field(default_factory=dict)
    by_class: dict[str, Counter[str]] = field(default_factory=dict)
    by_type: dict[str, Counter[str]] = field(default_factory=dict)
    per_doc: list[dict[str, Any]] = field(default_factory=list)
    over_strings: StringTally = field(default_factory=StringTally)
    ok_strings: StringTally = field(default_factory=StringTally)
    failed: list[dict[str, str]] = field(default_factory=list)
    missing_predictions: list[str] = field(default_factory=list)
    unexpected_predictions: list[str] = field(default_factory=list)

    def add(self, doc: Document, pred: Iterable[Span], output: str | None = None) -> None:
        """Classify each predicted span of one document and count its tokens."""
        text = doc.text
        n = len(text)
        pred = sorted(pred)
        for s in pred:
            if s.end > n:
                raise InputError(f"document {doc.id!r}: predicted span [{s.start}, {s.end}) "
                                 f"ends beyond the text (length {n})")
        cls = [self.rules.classify(text[s.start:s.end], s.label) for s in pred]
        rank = [(c is not None, i) for i, c in enumerate(cls)]  # over-redaction wins a token
        owner = _owners(n, pred, rank)
        toks = [m.span() for m in TOKEN.finditer(text)]
        d: Counter[str] = Counter(tokens=len(toks), spans=len(pred))
        for a, b in toks:
            i = _token_owner(owner, a, b, rank)
            if i < 0:
                continue
            s, c = pred[i], cls[i]
            d["removed_tokens"] += 1
            for row in (self._row(self.by_label, s.label), self._row(self.by_source, s.source)):
                row["tokens"] += 1
                row["over_tokens" if c is None else "acceptable_tokens"] += 1
            if c is None:
                d["over_tokens"] += 1
            else:
                self.by_class.setdefault(c, Counter())["tokens"] += 1
        for s, c in zip(pred, cls, strict=True):
            k = len(TOKEN.findall(text, s.start, s.end))
            for row in (self._row(self.by_label, s.label), self._row(self.by_source, s.source)):
                row["spans"] += 1
                row["over_spans" if c is None else "acceptable_spans"] += 1
            if c is None:
                d["over_spans"] += 1
                self.over_strings.add(text[s.start:s.end], s.label, s.source, k)
            else:
                self.by_class.setdefault(c, Counter())["spans"] += 1
                self.ok_strings.add(text[s.start:s.end], s.label, s.source, k, c)
        self.tot.update(d)
        self.tot["documents"] += 1
        item: dict[str, Any] = {"id": doc.id, "tokens": d["tokens"], "spans": d["spans"],
                                "removed_tokens": d["removed_tokens"],
                                "over_spans": d["over_spans"], "over_tokens": d["over_tokens"],
                                "over_per_1000": per_1000(d["over_tokens"], d["tokens"])}
        ntype = doc.meta.get("note_type") if isinstance(doc.meta, Mapping) else None
        if ntype is not None:
            item["note_type"] = str(ntype)
            t = self.by_type.setdefault(str(ntype), Counter())
            t.update(d)
            t["documents"] += 1
        self.per_doc.append(item)

    @staticmethod
    def _row(d: dict[str, Counter[str]], key: str) -> Counter[str]:
        return d.setdefault(key, Counter())

    def report(self) -> dict[str, Any]:
        t = self.tot
        n = t["tokens"]
        cols = ("spans", "tokens", "over_spans", "over_tokens", "acceptable_spans",
                "acceptable_tokens")

        def rows(d: dict[str, Counter[str]]) -> dict[str, dict[str, Any]]:
            out = {}
            for k, v in sorted(d.items(), key=lambda kv: (-kv[1]["over_tokens"],
                                                          -kv[1]["tokens"], kv[0])):
                out[k] = {c: v[c] for c in cols} | {"over_per_1000": per_1000(v["over_tokens"], n)}
            return out

        kinds: dict[str, Counter[str]] = {}
        for src, c in self.by_source.items():
            kinds.setdefault(source_kind(src), Counter()).update(c)
        acc_tokens = t["removed_tokens"] - t["over_tokens"]
        acc_spans = t["spans"] - t["over_spans"]
        return {
            "mode": "unlabeled",
            "documents": t["documents"],
            "tokens": n,
            "removed": {"spans": t["spans"], "tokens": t["removed_tokens"],
                        "per_1000": per_1000(t["removed_tokens"], n)},
            "over_redaction": {"spans": t["over_spans"], "tokens": t["over_tokens"],
                               "per_1000": per_1000(t["over_tokens"], n)},
            "acceptable": {"spans": acc_spans, "tokens": acc_tokens,
                           "per_1000": per_1000(acc_tokens, n),
                           "by_class": {c: {"spans": self.by_class.get(c, Counter())["spans"],
                                            "tokens": self.by_class.get(c, Counter())["tokens"]}
                                        for c in ACCEPTABLE_CLASSES},
                           "rules": self.rules.path},
            "by_label": rows(self.by_label),
            "by_source": rows(self.by_source),
            "by_source_kind": rows(kinds),
            "by_note_type": {k: {"documents": v["documents"], "tokens": v["tokens"],
                                 "removed_tokens": v["removed_tokens"],
                                 "over_tokens": v["over_tokens"],
                                 "over_per_1000": per_1000(v["over_tokens"], v["tokens"])}
                             for k, v in sorted(self.by_type.items())},
            "top_over_redacted": self.over_strings.top(self.top_n, self.show_text,
                                                       self.strings_key),
            "top_acceptable": self.ok_strings.top(self.top_n, self.show_text, self.strings_key),
            "strings_hash": hash_note(self.strings_key),
            "per_document": self.per_doc,
            "failed": self.failed,
            "missing_predictions": self.missing_predictions,
            "unexpected_predictions": self.unexpected_predictions,
        }


def read_notes(path: str | Path, id_field: str = "id", text_field: str = "text",
               max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Document | BadNote]:
    """Notes without gold: a JSONL file (``meta`` kept), a ``.txt`` file or a folder of them."""
    path = Path(path)
    if path.is_dir():
        for p in iter_txt_folder(path):
            nid = note_id(path, p)
            try:
                yield Document(nid, decode(p.read_bytes(), None, max_bytes))
            except OSError as exc:
                yield BadNote(nid, f"cannot read ({exc.strerror})")
            except ValueError as exc:
                yield BadNote(nid, str(exc))
        return
    if path.suffix.lower() == ".txt":
        try:
            yield Document(path.stem, decode(path.read_bytes(), None, max_bytes))
        except ValueError as exc:
            yield BadNote(path.stem, str(exc))
        return
    if path.suffix.lower() != ".jsonl":
        raise InputError(f"{path}: --unlabeled reads a .jsonl file, a .txt file or a folder of "
                         ".txt notes")
    for note in read_jsonl(path, id_field, text_field, None, max_bytes):
        if isinstance(note, BadNote):
            yield note
            continue
        meta = (note.record or {}).get("meta")
        yield Document(note.id, note.text, (), dict(meta) if isinstance(meta, dict) else {})


def unlabeled_docs(notes: Iterable[Document | BadNote], ul: Unlabeled) -> Iterator[Document]:
    """The readable notes; unreadable ones are recorded in ``ul.failed`` (reason, no text)."""
    for n in notes:
        if isinstance(n, BadNote):
            ul.failed.append({"id": n.id, "reason": n.reason})
        else:
            yield n


def to_markdown_unlabeled(rep: Mapping[str, Any], source: Mapping[str, Any] | None = None,
                          title: str = "Over-redaction in text without gold") -> str:
    """The ``Unlabeled.report()`` as Markdown (no note text unless it was kept)."""
    lines = [f"# {title}", ""]
    for k, v in (source or {}).items():
        lines.append(f"- {k}: `{_cell(v)}`")
    o, r, a = rep["over_redaction"], rep["removed"], rep["acceptable"]
    lines += [f"- documents: {rep['documents']}; tokens: {rep['tokens']}",
              f"- acceptable-removal rules: `{_cell(a['rules'])}`", "",
              "## Headline", "",
              f"**{_num(o['per_1000'])} over-redacted tokens per 1,000** ({o['tokens']} tokens "
              f"in {o['spans']} spans that are not dates, placeholders or ages of 90+).", "",
              "| | spans | tokens | per 1,000 tokens |", "|---|---:|---:|---:|",
              f"| removed | {r['spans']} | {r['tokens']} | {_num(r['per_1000'])} |",
              f"| acceptable | {a['spans']} | {a['tokens']} | {_num(a['per_1000'])} |",
              f"| over-redaction | {o['spans']} | {o['tokens']} | {_num(o['per_1000'])} |"]
    for c, v in a["by_class"].items():
        lines.append(f"| acceptable: {c} | {v['spans']} | {v['tokens']} | "
                     f"{_num(per_1000(v['tokens'], rep['tokens']))} |")
    lines.append("")
    for key, head in (("by_label", "predicted label"), ("by_source_kind", "source kind"),
                      ("by_source", "source")):
        lines += [f"## By {head}", "",
                  f"| {head} | spans | tokens | over spans | over tokens | over per 1,000 | "
                  "acceptable spans | acceptable tokens |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {_cell(k)} | {v['spans']} | {v['tokens']} | {v['over_spans']} | "
                  f"{v['over_tokens']} | {_num(v['over_per_1000'])} | {v['acceptable_spans']} | "
                  f"{v['acceptable_tokens']} |" for k, v in rep[key].items()]
        lines.append("")
    if rep["by_note_type"]:
        lines += ["## By note type", "",
                  "| note type | documents | tokens | removed tokens | over tokens | "
                  "over per 1,000 |", "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {_cell(k)} | {v['documents']} | {v['tokens']} | {v['removed_tokens']} | "
                  f"{v['over_tokens']} | {_num(v['over_per_1000'])} |"
                  for k, v in rep["by_note_type"].items()]
        lines.append("")
    lines += _strings_table("Top over-redacted strings", rep["top_over_redacted"],
                            rep["strings_hash"])
    lines += _strings_table("Top acceptable removals", rep["top_acceptable"],
                            rep["strings_hash"])
    docs = sorted(rep["per_document"], key=lambda d: (-d["over_tokens"], d["id"]))
    lines += ["## Per document (most over-redaction first)", "",
              "| document | tokens | spans | removed tokens | over spans | over tokens | "
              "over per 1,000 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for d in docs[:MD_LIST_LIMIT]:
        lines.append(f"| {_cell(d['id'])} | {d['tokens']} | {d['spans']} | "
                     f"{d['removed_tokens']} | {d['over_spans']} | {d['over_tokens']} | "
                     f"{_num(d['over_per_1000'])} |")
    if len(docs) > MD_LIST_LIMIT:
        lines.append(f"\n({len(docs) - MD_LIST_LIMIT} more in the JSON report)")
    lines.append("")
    if rep["failed"]:
        lines += ["## Notes that could not be read", "", "| note | reason |", "|---|---|"]
        lines += [f"| {_cell(f['id'])} | {_cell(f['reason'])} |" for f in rep["failed"]]
        lines.append("")
    return _with_id_lists(lines, rep, "Notes without predictions", "Predictions for unknown notes")
