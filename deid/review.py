"""HTML review page of an evaluation, rendered with spaCy displaCy (``style="ent"``, manual).

Each document with a miss or a false positive is shown with every character classed as a hit
(gold and predicted, green), a miss (gold only, red) or a false positive (predicted only,
amber), followed by its missed gold spans (offsets and labels). Without ``show_text`` the note
text is masked (every non-space character becomes a bullet, so layout and offsets survive but
no content does); the note text appears only when ``show_text`` is set.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from deid.evaluate import DocReview

COLORS = {"HIT": "#9be7a0", "MISS": "#ff8a8a", "FP": "#ffd27f"}
_NONSPACE = re.compile(r"\S")


def mask(text: str) -> str:
    """Replace every non-whitespace character with a bullet (same length, same layout)."""
    return _NONSPACE.sub("\u2022", text)


def segments(doc: DocReview) -> list[dict[str, Any]]:
    """Non-overlapping displaCy entities: maximal runs of one class, split at span borders."""
    n = len(doc.text)
    g: list[tuple[int, str] | None] = [None] * n
    p: list[tuple[int, str] | None] = [None] * n
    for i, s in enumerate(doc.gold):
        g[s.start:s.end] = [(i, s.label)] * (s.end - s.start)
    for i, s in enumerate(doc.pred):
        p[s.start:s.end] = [(i, s.label)] * (s.end - s.start)
    ents: list[dict[str, Any]] = []
    prev: tuple[Any, ...] | None = None
    for c in range(n):
        gc, pc = g[c], p[c]
        if gc and pc:
            key: tuple[Any, ...] | None = ("HIT", gc[1], gc[0])
        elif gc:
            key = ("MISS", gc[1], gc[0])
        elif pc:
            key = ("FP", pc[1], pc[0])
        else:
            key = None
        if key is not None and key == prev:
            ents[-1]["end"] = c + 1
        elif key is not None:
            ents.append({"start": c, "end": c + 1, "label": f"{key[0]}:{key[1]}"})
        prev = key
    return ents


def render(
    docs: Sequence[DocReview],
    report: Mapping[str, Any],
    show_text: bool = False,
    title: str = "De-identification review",
) -> str:
    """A complete HTML page for ``docs`` (the documents kept by ``Evaluation.keep_review``)."""
    from spacy import displacy

    labels = {e["label"] for d in docs for e in segments(d)}
    colors = {lab.upper(): COLORS[lab.split(":", 1)[0]] for lab in labels}
    tok = report["token"]
    leak = report["leak"]

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f}%"

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        ".doc{border-top:2px solid #444;margin-top:2em;padding-top:1em}"
        ".key span{padding:2px 8px;margin-right:8px;border-radius:4px}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Documents: {report['documents']}. Token recall {pct(tok['recall'])}, "
        f"precision {pct(tok['precision'])}, F1 {pct(tok['f1'])}. "
        f"Leak rate {pct(leak['rate'])} ({leak['leaked']} of {leak['gold_spans']}).</p>",
        "<p class='key'>"
        + "".join(f"<span style='background:{c}'>{k}</span>" for k, c in COLORS.items())
        + "</p>",
        "<p>"
        + ("Note text is shown: this page contains PHI." if show_text else
           "Note text is masked (each character shown as a bullet); rerun with --show-text "
           "to see it.")
        + f" Showing {len(docs)} document(s) with misses or false positives (the first ones,"
        + " up to --html-max-docs); "
        + f"{report['documents_with_missed_tokens']['count']} document(s) have missed tokens."
        + "</p>",
    ]
    for d in docs:
        text = d.text if show_text else mask(d.text)
        head = (f"{d.id} - missed tokens: {d.missed_tokens}, false-positive tokens: "
                f"{d.fp_tokens}")
        markup = displacy.render(
            {"text": text, "ents": segments(d), "title": html.escape(head)},
            style="ent", manual=True, page=False, jupyter=False,
            options={"colors": colors},
        )
        parts.append(f"<div class='doc'>{markup}")
        missed = [m for m in report["misses"] if m["doc"] == d.id]
        if missed:
            parts.append("<table><tr><th>missed start</th><th>end</th><th>label</th>"
                         "<th>missed tokens</th></tr>")
            for m in missed:
                parts.append(f"<tr><td>{m['start']}</td><td>{m['end']}</td>"
                             f"<td>{html.escape(m['label'])}</td>"
                             f"<td>{m['missed_tokens']} of {m['tokens']}</td></tr>")
            parts.append("</table>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
