"""Token-level recall/precision of predicted spans against gold spans (labels ignored).

Tokens are ``[A-Za-z0-9]+`` runs, as in ``deid eval`` (punctuation carries no PHI). A token is
gold PHI if any gold span touches it, predicted PHI if any predicted span does. Per-label recall
is counted on gold tokens.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

import numpy as np

from deid.span import Span

_TOKEN = re.compile(r"[A-Za-z0-9]+")  # the same as deid.evaluate.TOKEN


def _touched(n: int, spans: Sequence[Span]) -> np.ndarray:
    cov = np.zeros(n + 1, dtype=np.int32)
    for s in spans:
        cov[min(s.start, n)] += 1
        cov[min(s.end, n)] -= 1
    return np.cumsum(cov)[:n] > 0


def token_scores(texts: Sequence[str], gold: Sequence[Sequence[Span]],
                 pred: Sequence[Sequence[Span]]) -> dict[str, object]:
    tp = fp = fn = 0
    per_label: dict[str, list[int]] = {}
    for text, g, p in zip(texts, gold, pred, strict=True):
        n = len(text)
        gcov, pcov = _touched(n, g), _touched(n, p)
        gcs = np.concatenate([[0], np.cumsum(gcov)])
        pcs = np.concatenate([[0], np.cumsum(pcov)])
        label_at = {}
        for sp in g:
            label_at[sp.start] = sp.label
        gstarts = sorted(label_at)
        for m in _TOKEN.finditer(text):
            s, e = m.span()
            is_g = bool(gcs[e] - gcs[s] > 0)
            is_p = bool(pcs[e] - pcs[s] > 0)
            tp += int(is_g and is_p)
            fp += int((not is_g) and is_p)
            fn += int(is_g and not is_p)
            if is_g:
                k = bisect.bisect_right(gstarts, e - 1) - 1
                lab = label_at[gstarts[k]] if k >= 0 else "?"
                c = per_label.setdefault(lab, [0, 0])
                c[0] += int(is_p)
                c[1] += 1
    rec = tp / (tp + fn) if tp + fn else 1.0
    prec = tp / (tp + fp) if tp + fp else 1.0
    f1 = 2 * rec * prec / (rec + prec) if rec + prec else 0.0
    return {
        "tokens_gold": tp + fn, "tokens_pred": tp + fp, "tp": tp,
        "recall": round(rec, 4), "precision": round(prec, 4), "f1": round(f1, 4),
        "recall_by_label": {k: round(v[0] / v[1], 4) for k, v in sorted(per_label.items())},
        "gold_by_label": {k: v[1] for k, v in sorted(per_label.items())},
    }
