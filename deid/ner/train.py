"""Fine-tuning: corpus -> aligned windows -> training with early stopping -> calibrated model.

Every gold span is checked against the sub-word tokens before any training starts; problems
are reported by document id, offsets and label. The decision threshold is calibrated on dev so
that word-level recall reaches ``target_recall``; int8 CPU quantisation gets its own threshold,
calibrated to the fp32 dev recall, and is kept only if that recall is reached at a small
precision cost.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deid.corpus.document import Document
from deid.errors import InputError
from deid.labels import load_labels
from deid.ner.align import (
    IGNORE,
    AlignmentError,
    Encoded,
    align_labels,
    check_alignment,
    encode_batch,
    gold_token_mask,
    plan_windows,
)
from deid.ner.backbone import Backbone, NerModelError, find_backbone, load_tokenizer
from deid.ner.infer import NerDetector, int8_supported, pick_device, quantize_int8
from deid.ner.metrics import token_scores
from deid.ner.model import (
    ENCODER_KEYS,
    NerConfig,
    NerNet,
    init_from_backbone,
    load_model,
    round_to_storage,
    save_model,
    stored_names,
)
from deid.span import Span


@dataclass
class TrainOptions:
    train: Path
    dev: Path
    out: Path
    test: Path | None = None
    base: Path | None = None
    epochs: int = 3
    seed: int = 13
    target_recall: float = 0.99
    device: str = "auto"
    resume: bool = False
    max_length: int = 256
    stride: int = 64
    freeze: int = 3
    use_shape: bool = True
    batch_size: int | None = None
    lr: float = 1e-4
    head_lr: float = 1e-3
    o_weight: float = 0.5
    patience: int = 2
    max_docs: int | None = None
    max_steps: int | None = None
    threads: int | None = None
    encoder_config: dict[str, Any] | None = None  # random init (tests); None = backbone weights
    entities: list[str] | None = None  # train on this subset of labels only
    try_int8: bool = True
    cache_gb: float = 6.0  # cache frozen-layer outputs on CPU up to this size (0: never)
    progress: bool = True
    extra_card: dict[str, Any] = field(default_factory=dict)
    calibrate_with_rules: bool = True  # threshold for rules + NER recall, not NER alone


# -- corpus ----------------------------------------------------------------------------------------
def read_docs(path: Path, limit: int | None = None) -> list[Document]:
    """Documents of any corpus format (``deid.corpus.io``) or canonical JSONL as a fallback."""
    try:
        from deid.corpus.io import read_corpus  # type: ignore[import-not-found]
    except ImportError:
        read_corpus = None
    docs: list[Document] = []
    if read_corpus is not None:
        for d in read_corpus(path):
            docs.append(d)
            if limit and len(docs) >= limit:
                break
        return docs
    if not Path(path).is_file():
        raise InputError(f"{path}: corpus file not found")
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(f"{path}:{n}: invalid JSON") from None
            docs.append(Document.from_obj(obj, where=f"{path}:{n}: "))
            if limit and len(docs) >= limit:
                break
    return docs


def restrict(docs: list[Document], entities: Sequence[str]) -> list[Document]:
    keep = set(entities)
    return [Document(d.id, d.text, tuple(s for s in d.spans if s.label in keep), d.meta)
            for d in docs]


def check_corpus(docs: Sequence[Document], encs: Sequence[Encoded], what: str) -> None:
    """Fail before training if any gold span cannot be aligned (doc ids and offsets only)."""
    problems: list[str] = []
    for d, e in zip(docs, encs, strict=True):
        problems += check_alignment(d, e)
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise AlignmentError(f"{what}: {len(problems)} misaligned span(s):\n  "
                             + "\n  ".join(problems[:10]) + more)


def check_labels(docs: Sequence[Document], entities: Sequence[str], what: str) -> None:
    known = load_labels()
    allowed = set(entities)
    for d in docs:
        for s in d.spans:
            if s.label not in known:
                raise InputError(f"{what}: document {d.id!r}: label {s.label!r} is not in "
                                 f"rules/labels.yaml")
            if s.label not in allowed:
                raise InputError(f"{what}: document {d.id!r}: label {s.label!r} is not one of "
                                 f"the model's labels {list(entities)}")


# -- examples --------------------------------------------------------------------------------------
@dataclass
class Example:
    ids: list[int]
    shapes: list[int]
    labels: list[int]
    hidden: torch.Tensor | None = None  # cached output of the frozen layers (fp16)


def make_examples(docs: Sequence[Document], encs: Sequence[Encoded], cfg: NerConfig,
                  tok: Any) -> list[Example]:
    label2id = {lab: i for i, lab in enumerate(cfg.labels)}
    cls_id, sep_id = int(tok.cls_token_id), int(tok.sep_token_id)
    out: list[Example] = []
    for d, e in zip(docs, encs, strict=True):
        labs = align_labels(d, e, label2id)
        for w in plan_windows(len(e), cfg.max_length, cfg.stride):
            out.append(Example([cls_id, *e.ids[w.start:w.end], sep_id],
                               [0, *e.shapes[w.start:w.end], 0],
                               [IGNORE, *labs[w.start:w.end], IGNORE]))
    return out


def batches(examples: Sequence[Example], bs: int, rng: random.Random,
            pad_id: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Shuffled batches; similar lengths are grouped (within chunks of 50 batches)."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    chunk = bs * 50
    groups: list[list[int]] = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: len(examples[i].ids))
        groups += [part[b:b + bs] for b in range(0, len(part), bs)]
    rng.shuffle(groups)
    for g in groups:
        width = max(len(examples[i].ids) for i in g)
        ids = np.full((len(g), width), pad_id, dtype=np.int64)
        shp = np.zeros((len(g), width), dtype=np.int64)
        lab = np.full((len(g), width), IGNORE, dtype=np.int64)
        mask = np.zeros((len(g), width), dtype=np.int64)
        hid = None
        if examples[g[0]].hidden is not None:
            hid = torch.zeros((len(g), width, examples[g[0]].hidden.shape[-1]))
        for r, i in enumerate(g):
            ex = examples[i]
            n = len(ex.ids)
            ids[r, :n], shp[r, :n], lab[r, :n], mask[r, :n] = ex.ids, ex.shapes, ex.labels, 1
            if hid is not None:
                hid[r, :n] = ex.hidden
        yield (torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(shp),
               torch.from_numpy(lab), hid)


def cache_lower(net: NerNet, examples: Sequence[Example], dev: torch.device, bs: int,
                progress: bool) -> None:
    """Run the frozen layers once and keep their output (fp16) for every training window."""
    from tqdm import tqdm

    order = sorted(range(len(examples)), key=lambda i: len(examples[i].ids))
    net.eval()
    with torch.inference_mode():
        for b in tqdm(range(0, len(order), bs), desc="frozen layers", disable=not progress,
                      file=sys.stderr, dynamic_ncols=True):
            g = order[b:b + bs]
            width = max(len(examples[i].ids) for i in g)
            ids = torch.zeros((len(g), width), dtype=torch.long)
            mask = torch.zeros((len(g), width), dtype=torch.long)
            for r, i in enumerate(g):
                n = len(examples[i].ids)
                ids[r, :n] = torch.tensor(examples[i].ids)
                mask[r, :n] = 1
            h = net.lower(ids.to(dev), mask.to(dev)).to("cpu", torch.float16)
            for r, i in enumerate(g):
                examples[i].hidden = h[r, :len(examples[i].ids)].clone()


# -- calibration -----------------------------------------------------------------------------------
def _words(d: Document, e: Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token starts, ends and a keep mask of the pre-tokenised words of one encoded note.

    Words without a letter or digit (punctuation) carry no PHI and are not calibrated on."""
    w = np.array(e.word_ids)
    starts = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])
    ends = np.r_[starts[1:], len(w)]
    keep = np.array([any(c.isalnum() for c in d.text[e.offsets[a][0]:e.offsets[b - 1][1]])
                     for a, b in zip(starts, ends, strict=True)], dtype=bool)
    return starts, ends, keep


def word_phi(det: NerDetector, docs: Sequence[Document], encs: Sequence[Encoded],
             probs: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per pre-tokenised word: P(PHI) (max over its sub-tokens) and whether it is gold PHI."""
    if probs is None:
        probs = det.token_probs(encs)
    phis, golds = [], []
    for d, e, p in zip(docs, encs, probs, strict=True):
        if not len(e):
            continue
        phi = 1.0 - p[:, det._o]
        g = np.array(gold_token_mask(d.spans, e.offsets), dtype=bool)
        starts, _, keep = _words(d, e)
        phis.append(np.maximum.reduceat(phi, starts)[keep])
        golds.append(np.logical_or.reduceat(g, starts)[keep])
    if not phis:
        return np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(phis), np.concatenate(golds)


def word_docs(docs: Sequence[Document], encs: Sequence[Encoded]) -> np.ndarray:
    """Per word (as ``word_phi`` orders them): the index of its document."""
    out = [np.full(int(_words(d, e)[2].sum()), i) for i, (d, e) in enumerate(zip(docs, encs,
                                                                                 strict=True))
           if len(e)]
    return np.concatenate(out) if out else np.zeros(0, dtype=int)


def rule_covered(docs: Sequence[Document], encs: Sequence[Encoded]) -> np.ndarray:
    """Per word (as ``word_phi`` orders them): is it covered by the rule detector's spans?

    The engine merges rule and NER spans, so the NER threshold only has to find what the rules
    miss; calibrating on the union gives the target recall for the pipeline users run.
    """
    from deid.text import Deidentifier

    rules = Deidentifier(ner=False)
    out = []
    for d, e in zip(docs, encs, strict=True):
        if not len(e):
            continue
        cov = np.zeros(len(d.text) + 1, dtype=bool)
        for sp in rules.detect(d.text):
            cov[sp.start:sp.end] = True
        starts, ends, keep = _words(d, e)
        for a, b, k in zip(starts, ends, keep, strict=True):
            if k:
                out.append(bool(cov[e.offsets[a][0]:e.offsets[b - 1][1]].any()))
    return np.array(out, dtype=bool)


def calibrate(phi: np.ndarray, gold: np.ndarray, target: float) -> tuple[float, dict[str, float]]:
    """Largest threshold (<= 0.5) whose word-level dev recall reaches ``target``."""
    gp = np.sort(phi[gold])[::-1]
    if len(gp) == 0:
        return 0.5, {"recall": 1.0, "precision": 1.0}
    k = max(1, math.ceil(target * len(gp)))
    t = float(min(0.5, max(1e-3, gp[k - 1])))
    pred = phi >= t
    tp = int((pred & gold).sum())
    return t, {"recall": tp / len(gp), "precision": tp / max(1, int(pred.sum()))}


def word_recall(phi: np.ndarray, gold: np.ndarray, t: float) -> float:
    n = int(gold.sum())
    return float(((phi >= t) & gold).sum()) / n if n else 1.0


def word_precision(phi: np.ndarray, gold: np.ndarray, t: float) -> float:
    pred = phi >= t
    return float((pred & gold).sum()) / max(1, int(pred.sum()))


INT8_MAX_PRECISION_DROP = 0.01


def not_worse(miss_a: np.ndarray, miss_b: np.ndarray, doc: np.ndarray, n_docs: int,
              resamples: int = 1000, seed: int = 0) -> float:
    """Share of document bootstrap resamples in which model A misses no more gold words than
    model B (``miss_*``: per-word booleans, ``doc``: per-word document index)."""
    per_a = np.bincount(doc, weights=miss_a, minlength=n_docs)
    per_b = np.bincount(doc, weights=miss_b, minlength=n_docs)
    idx = np.random.default_rng(seed).integers(0, n_docs, size=(resamples, n_docs))
    return float(np.mean(per_a[idx].sum(axis=1) <= per_b[idx].sum(axis=1)))


INT8_CONFIDENCE = 0.95


def int8_trial(det: NerDetector, docs: Sequence[Document], encs: Sequence[Encoded],
               phi: np.ndarray, gold: np.ndarray, covered: np.ndarray | None) -> dict[str, Any]:
    """Try int8 on CPU and give it its own threshold.

    The int8 threshold is the largest one at which, in at least ``INT8_CONFIDENCE`` of document
    bootstrap resamples of dev, the int8 model misses no more PHI words than the fp32 model at
    its threshold, both alone and (when ``covered``, rule coverage per word, is given) together
    with the rules: recall holds with confidence, not just on average. int8 is kept when that
    costs at most ``INT8_MAX_PRECISION_DROP`` of dev precision (with the rules when given)."""
    def comb(p: np.ndarray) -> np.ndarray:
        return p if covered is None else np.where(covered, 1.0, p)

    t = det.threshold
    qdet = NerDetector(quantize_int8(det.net), det.cfg, det.tokenizer, det.device,  # type: ignore[arg-type]
                       batch_size=det.batch_size, int8=True, threads=det.threads)
    qphi, _ = word_phi(qdet, docs, encs)
    doc, n_docs = word_docs(docs, encs), len(docs)
    f_alone, f_comb = gold & (phi < t), gold & (comb(phi) < t)

    def holds(qt: float) -> bool:
        return (not_worse(gold & (qphi < qt), f_alone, doc, n_docs) >= INT8_CONFIDENCE
                and not_worse(gold & (comb(qphi) < qt), f_comb, doc, n_docs) >= INT8_CONFIDENCE)

    # candidates: the thresholds at which a gold word changes side, from t downwards. A lower
    # threshold never adds int8 misses in any resample, so ``holds`` is False then True along
    # the list: bisect for the first True instead of trying each
    cands = [t, *sorted({float(v) for v in qphi[gold] if 1e-3 <= v < t}, reverse=True), 1e-3]
    lo, hi = 0, len(cands)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if holds(cands[mid]) else (mid + 1, hi)
    qt = cands[min(lo, len(cands) - 1)]
    f_rec, f_prec = word_recall(comb(phi), gold, t), word_precision(comb(phi), gold, t)
    q_rec, q_prec = word_recall(comb(qphi), gold, qt), word_precision(comb(qphi), gold, qt)
    kept = lo < len(cands) and q_prec >= f_prec - INT8_MAX_PRECISION_DROP
    return {"threshold": qt, "with_rules": covered is not None,
            "dev_word_recall_fp32": round(f_rec, 4), "dev_word_precision_fp32": round(f_prec, 4),
            "dev_word_recall_int8": round(q_rec, 4), "dev_word_precision_int8": round(q_prec, 4),
            "confidence": INT8_CONFIDENCE, "kept": bool(kept)}


def int8_line(q: dict[str, Any]) -> str:
    """The model card's int8 line."""
    what = "rules + NER" if q.get("with_rules") else "NER"
    return (f"- int8 dynamic quantisation on CPU: {'used' if q['kept'] else 'not used'}, "
            f"threshold {q['threshold']:.4f} (dev word {what} recall/precision: fp32 "
            f"{q['dev_word_recall_fp32']}/{q['dev_word_precision_fp32']}, int8 "
            f"{q['dev_word_recall_int8']}/{q['dev_word_precision_int8']}; at its threshold int8 "
            f"misses no more dev PHI words than fp32, alone and with the rules, in "
            f">= {q.get('confidence', INT8_CONFIDENCE):.0%} of document bootstrap resamples; kept "
            f"when precision drops <= {INT8_MAX_PRECISION_DROP}; used on CPUs with VNNI)")


# -- training --------------------------------------------------------------------------------------
def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _fingerprint(opts: TrainOptions) -> str:
    keys = {k: str(v) for k, v in asdict(opts).items()
            if k not in ("resume", "progress", "device", "threads", "extra_card", "epochs")}
    for p in (opts.train, opts.dev):
        st = Path(p).stat()
        keys[f"size:{p}"] = str(st.st_size)
    return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]


def _log(opts: TrainOptions, msg: str) -> None:
    if opts.progress:
        print(f"deid train: {msg}", file=sys.stderr, flush=True)


def build_net(opts: TrainOptions, entities: list[str],
              bb: Backbone) -> tuple[NerNet, NerConfig]:
    if opts.base is not None:
        base, _ = load_model(opts.base)
        cfg = base.cfg
        cfg.frozen_layers = opts.freeze
        cfg.weights_sha256 = ""
        cfg.created = ""
        net = base
    else:
        if opts.encoder_config is not None:
            enc = {k: opts.encoder_config[k] for k in ENCODER_KEYS}
            init = "random"
        else:
            bcfg = json.loads((bb.path / "config.json").read_text(encoding="utf-8"))
            enc = {k: bcfg[k] for k in ENCODER_KEYS}
            init = "backbone"
        cfg = NerConfig(entities=entities, encoder=enc, init=init, use_shape=opts.use_shape,
                        max_length=opts.max_length, stride=opts.stride,
                        frozen_layers=opts.freeze)
        NerConfig.from_json(cfg.to_json(), "training options")  # validate
        net = NerNet(cfg)
        if init == "backbone":
            init_from_backbone(net, bb)
    net.freeze()
    return net, cfg


def train(opts: TrainOptions) -> dict[str, Any]:
    """Run a full training; returns the metrics written to the model card."""
    t0 = time.time()
    _seed_all(opts.seed)
    dev = pick_device(opts.device)
    if dev.type == "cpu" and opts.threads:
        torch.set_num_threads(opts.threads)
    base_cfg = None
    if opts.base is not None:
        from deid.ner.model import read_config

        base_cfg, bb = read_config(opts.base)
    else:
        bb = find_backbone()
    tok = load_tokenizer(bb)

    train_docs = read_docs(opts.train, opts.max_docs)
    dev_docs = read_docs(opts.dev, opts.max_docs)
    test_docs = read_docs(opts.test) if opts.test else []
    if not train_docs:
        raise InputError(f"{opts.train}: no documents")
    if base_cfg is not None:
        entities = list(base_cfg.entities)
    elif opts.entities:
        entities = list(opts.entities)
    else:
        entities = sorted({s.label for d in train_docs for s in d.spans})
    if not entities:
        raise InputError(f"{opts.train}: no annotated spans to learn from")
    if opts.entities:
        train_docs, dev_docs, test_docs = (restrict(x, entities)
                                           for x in (train_docs, dev_docs, test_docs))
    for what, docs in (("train", train_docs), ("dev", dev_docs), ("test", test_docs)):
        check_labels(docs, entities, f"{what} corpus")
    train_enc = encode_batch(tok, [d.text for d in train_docs])
    dev_enc = encode_batch(tok, [d.text for d in dev_docs])
    test_enc = encode_batch(tok, [d.text for d in test_docs])
    check_corpus(train_docs, train_enc, f"train corpus {opts.train}")
    check_corpus(dev_docs, dev_enc, f"dev corpus {opts.dev}")
    if test_docs:
        check_corpus(test_docs, test_enc, f"test corpus {opts.test}")

    net, cfg = build_net(opts, entities, bb)
    examples = make_examples(train_docs, train_enc, cfg, tok)
    _log(opts, f"{len(train_docs)} train docs -> {len(examples)} windows; labels {entities}")

    net.to(dev)
    bs = opts.batch_size or (64 if dev.type == "cuda" else 16)
    head = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    body = [p for n, p in net.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": body, "lr": opts.lr}, {"params": head, "lr": opts.head_lr}],
                            weight_decay=0.01)
    steps_per_epoch = math.ceil(len(examples) / bs)
    total = steps_per_epoch * opts.epochs
    if opts.max_steps:
        total = min(total, opts.max_steps)
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    weights = torch.ones(len(cfg.labels), device=dev)
    weights[cfg.labels.index("O")] = opts.o_weight
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, ignore_index=IGNORE)

    ckpt = Path(opts.out) / ".checkpoint" / "state.pt"
    fp = _fingerprint(opts)
    start_epoch, step, best, best_state, bad = 0, 0, -1.0, None, 0
    history: list[dict[str, float]] = []
    if opts.resume and ckpt.is_file():
        st = torch.load(ckpt, map_location="cpu", weights_only=False)
        if st.get("fingerprint") != fp:
            raise NerModelError(f"{ckpt}: checkpoint belongs to a different training run "
                                f"(other data or options); delete it or drop --resume")
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        start_epoch, step, best, best_state, bad = (st["epoch"], st["step"], st["best"],
                                                    st["best_state"], st["bad"])
        history = st["history"]
        _log(opts, f"resumed after epoch {start_epoch} (step {step})")

    det = NerDetector(net, cfg, tok, dev, batch_size=bs * 2)
    n_tok = sum(len(e.ids) for e in examples)
    need_gb = n_tok * int(cfg.encoder["hidden_size"]) * 2 / 1e9
    if cfg.frozen_layers > 0 and dev.type == "cpu" and need_gb <= opts.cache_gb:
        _log(opts, f"caching frozen-layer output ({need_gb:.2f} GB)")
        cache_lower(net, examples, dev, bs * 2, opts.progress)
    use_amp = dev.type == "cuda"
    from tqdm import tqdm

    pad_id = int(tok.pad_token_id or 0)
    for epoch in range(start_epoch, opts.epochs):
        if opts.max_steps and step >= opts.max_steps:
            break
        net.train()
        rng = random.Random(opts.seed * 1000 + epoch)
        torch.manual_seed(opts.seed * 1000 + epoch)
        running = 0.0
        bar = tqdm(batches(examples, bs, rng, pad_id), total=steps_per_epoch,
                   desc=f"epoch {epoch + 1}/{opts.epochs}", disable=not opts.progress,
                   file=sys.stderr, dynamic_ncols=True)
        for i, (ids, mask, shp, lab, hid) in enumerate(bar):
            ids, mask, shp, lab = (x.to(dev) for x in (ids, mask, shp, lab))
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                if hid is not None:
                    logits = net.upper(hid.to(dev), mask, shp)
                else:
                    logits = net(ids, mask, shp)
            loss = loss_fn(logits.float().reshape(-1, logits.shape[-1]), lab.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([*body, *head], 1.0)
            opt.step()
            sched.step()
            step += 1
            running += loss.detach().item()
            if i % 10 == 0:
                bar.set_postfix(loss=f"{running / (i + 1):.4f}")
            if opts.max_steps and step >= opts.max_steps:
                break
        bar.close()
        net.eval()
        last = epoch == opts.epochs - 1 or bool(opts.max_steps and step >= opts.max_steps)
        entry: dict[str, float] = {"epoch": epoch + 1,
                                   "loss": round(running / max(1, i + 1), 5)}
        if not last:  # the last epoch is scored by the final calibration below
            score, t, cal = _score(det, dev_docs, dev_enc, opts.target_recall)
            entry.update(_entry(t, cal))
            if score > best:
                best, bad = score, 0
                best_state = _trainable_state(net)
            else:
                bad += 1
        history.append(entry)
        _log(opts, f"epoch {epoch + 1}: {entry}")
        _save_ckpt(ckpt, {"fingerprint": fp, "net": net.state_dict(), "opt": opt.state_dict(),
                          "sched": sched.state_dict(), "epoch": epoch + 1, "step": step,
                          "best": best, "best_state": best_state, "bad": bad,
                          "history": history})
        if not last and bad >= opts.patience:
            _log(opts, f"early stop: no dev improvement for {bad} epoch(s)")
            break

    net.eval()
    names = stored_names(net, bb)
    round_to_storage(net, names)
    dev_probs = det.token_probs(dev_enc)
    phi, gold = word_phi(det, dev_docs, dev_enc, dev_probs)
    t, cal = calibrate(phi, gold, opts.target_recall)
    if not history or "dev_threshold" not in history[-1]:
        if history:
            history[-1].update(_entry(t, cal))
        final = cal["precision"] if cal["recall"] >= opts.target_recall - 1e-9 else cal["recall"] - 1
        if best_state is not None and best > final:
            _log(opts, "restoring the best earlier epoch")
            net.load_state_dict(best_state, strict=False)
            round_to_storage(net, names)
            dev_probs = det.token_probs(dev_enc)
            phi, gold = word_phi(det, dev_docs, dev_enc, dev_probs)
            t, cal = calibrate(phi, gold, opts.target_recall)
    elif best_state is not None:
        net.load_state_dict(best_state, strict=False)
        round_to_storage(net, names)
        dev_probs = det.token_probs(dev_enc)
        phi, gold = word_phi(det, dev_docs, dev_enc, dev_probs)
        t, cal = calibrate(phi, gold, opts.target_recall)
    metrics_extra: dict[str, Any] = {}
    covered: np.ndarray | None = None
    if opts.calibrate_with_rules:
        covered = rule_covered(dev_docs, dev_enc)
        t, comb = calibrate(np.where(covered, 1.0, phi), gold, opts.target_recall)
        cal = {"recall": word_recall(phi, gold, t),
               "precision": float(((phi >= t) & gold).sum()) / max(1, int((phi >= t).sum()))}
        metrics_extra["dev_word_with_rules"] = {k: round(v, 4) for k, v in comb.items()}
        _log(opts, f"threshold {t:.4f} calibrated with the rules: dev word {comb}")
    cfg.threshold = t
    det.threshold = t
    metrics: dict[str, Any] = {"threshold": round(t, 4), "dev_word": cal, "history": history,
                               **metrics_extra}
    half = phi >= 0.5
    metrics["dev_word_at_0.5"] = {
        "recall": round(word_recall(phi, gold, 0.5), 4),
        "precision": round(float((half & gold).sum()) / max(1, int(half.sum())), 4)}
    # int8 is used only with a threshold calibrated for these weights: a base model's
    # int8 threshold says nothing about the fine-tuned one
    cfg.quantize_cpu, cfg.threshold_int8 = False, None
    if opts.try_int8 and dev.type == "cpu" and int8_supported():
        metrics["int8"] = int8_trial(det, dev_docs, dev_enc, phi, gold, covered)
        cfg.quantize_cpu = metrics["int8"]["kept"]
        cfg.threshold_int8 = metrics["int8"]["threshold"] if cfg.quantize_cpu else None
    metrics["dev"] = _eval(det, dev_docs, dev_enc, dev_probs)
    if test_docs:
        metrics["test"] = _eval(det, test_docs, test_enc)
    metrics["train_docs"] = len(train_docs)
    metrics["dev_docs"] = len(dev_docs)
    metrics["test_docs"] = len(test_docs)
    metrics["windows"] = len(examples)
    metrics["steps"] = step
    metrics["train_seconds"] = round(time.time() - t0, 1)
    cfg.extra = {"metrics": {k: metrics[k] for k in ("threshold", "dev", "test") if k in metrics}}
    card = model_card(cfg, opts, metrics, bb, net)
    save_model(net, opts.out, bb, card)
    ckpt.unlink(missing_ok=True)
    ckpt.with_suffix(".tmp").unlink(missing_ok=True)
    if ckpt.parent.is_dir() and not any(ckpt.parent.iterdir()):
        ckpt.parent.rmdir()
    return metrics


def _trainable(net: NerNet, key: str) -> bool:
    k = net.cfg.frozen_layers
    if k == 0:
        return True
    if key.startswith("encoder.embeddings."):
        return False
    parts = key.split(".")
    if parts[:3] == ["encoder", "encoder", "layer"]:
        return int(parts[3]) >= k
    return True


def _score(det: NerDetector, docs: Sequence[Document], encs: Sequence[Encoded],
           target: float) -> tuple[float, float, dict[str, float]]:
    """Selection score: dev precision at the threshold reaching the target recall."""
    phi, gold = word_phi(det, docs, encs)
    t, cal = calibrate(phi, gold, target)
    ok = cal["recall"] >= target - 1e-9
    return (cal["precision"] if ok else cal["recall"] - 1), t, cal


def _entry(t: float, cal: dict[str, float]) -> dict[str, float]:
    return {"dev_threshold": round(t, 4), "dev_word_recall": round(cal["recall"], 4),
            "dev_word_precision": round(cal["precision"], 4)}


def _trainable_state(net: NerNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()
            if not k.startswith("encoder.") or _trainable(net, k)}


def _save_ckpt(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _eval(det: NerDetector, docs: Sequence[Document], encs: Sequence[Encoded],
          probs: Sequence[np.ndarray] | None = None) -> dict[str, Any]:
    if probs is None:
        probs = det.token_probs(encs)
    preds = [det.spans(d.text, e, p) for d, e, p in zip(docs, encs, probs, strict=True)]
    golds: list[Sequence[Span]] = [d.spans for d in docs]
    return token_scores([d.text for d in docs], golds, preds)


def model_card(cfg: NerConfig, opts: TrainOptions, m: dict[str, Any], bb: Backbone,
               net: NerNet) -> str:
    n_all = sum(p.numel() for p in net.parameters())
    n_tr = sum(p.numel() for n, p in net.named_parameters() if _trainable(net, n))

    def row(split: str) -> str:
        r = m.get(split)
        if not r:
            return f"| {split} | - | - | - |"
        return f"| {split} | {r['recall']} | {r['precision']} | {r['f1']} |"

    by_label = ""
    for split in ("dev", "test"):
        r = m.get(split)
        if r:
            by_label += f"\n{split} recall by gold label: " + ", ".join(
                f"{k} {v} (n={r['gold_by_label'][k]})" for k, v in r["recall_by_label"].items())
            by_label += "\n"
    extra = "".join(f"- {k}: {v}\n" for k, v in opts.extra_card.items())
    int8 = m.get("int8")
    return f"""# deid NER model

Token classifier (BIO over {len(cfg.entities)} PHI labels) for the deid de-identification engine.

- Created: {cfg.created or time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
- Backbone: `{bb.package}` {bb.version} (config sha256 `{bb.config_sha256[:16]}...`), init: {cfg.init}
- Encoder: {cfg.encoder['num_hidden_layers']} layers, hidden {cfg.encoder['hidden_size']}; lower {cfg.frozen_layers} layers + embeddings frozen (rebuilt from the installed backbone at load time)
- Word-shape feature: {cfg.use_shape} (dim {cfg.shape_dim})
- Parameters: {n_all:,} total, {n_tr:,} fine-tuned; stored weights fp16
- Windows: max_length {cfg.max_length}, stride {cfg.stride}
- Labels: {', '.join(cfg.entities)}
- Decision threshold P(PHI) >= {cfg.threshold:.4f}, calibrated on dev to word-level recall >= {opts.target_recall} ({"rules + NER" if opts.calibrate_with_rules else "NER alone"})
{int8_line(int8) if int8 else "- int8 dynamic quantisation on CPU: not tried"}

## Training data

- train: `{Path(opts.train).name}` ({m['train_docs']} documents, {m['windows']} windows)
- dev: `{Path(opts.dev).name}` ({m['dev_docs']} documents); test: {f"`{Path(opts.test).name}` ({m['test_docs']} documents)" if opts.test else 'none'}
- continued from: {f"`{Path(opts.base).name}` (see its model card)" if opts.base else 'the backbone (new classifier)'}
{extra}
## Parameters

epochs {opts.epochs} (ran {len(m['history'])}, {m['steps']} steps), seed {opts.seed}, batch {opts.batch_size or 'auto'}, lr {opts.lr} (encoder) / {opts.head_lr} (head), O-class weight {opts.o_weight}, patience {opts.patience}, wall time {m['train_seconds']} s.

## Metrics (token level: `[A-Za-z0-9]+` runs as in `deid eval`; labels ignored)

| split | recall | precision | F1 |
|---|---|---|---|
{row('dev')}
{row('test')}
{by_label}
Per-epoch history: {json.dumps(m['history'])}

## Limits

Trained on synthetic notes; real clinical text differs. Use together with the rule detector
(deid merges both, recall first). Never the only safeguard.
"""


def rescore(model_dir: Path, dev: Path, test: Path | None = None,
            target_recall: float | None = None, with_rules: bool = True) -> dict[str, Any]:
    """Recompute a saved model's dev/test metrics with the current span aggregation (and, with
    ``target_recall``, recalibrate its threshold on ``dev``); update ``config.json`` and the
    metrics of ``model_card.md``. The weights are not touched."""
    import re

    from deid.ner.model import atomic_write_text

    det = NerDetector.load(model_dir, quantize=False)
    dev_docs = read_docs(dev)
    dev_enc = encode_batch(det.tokenizer, [d.text for d in dev_docs])
    dev_probs = det.token_probs(dev_enc)
    out: dict[str, Any] = {}
    if target_recall is not None:
        phi, gold = word_phi(det, dev_docs, dev_enc, dev_probs)
        covered = rule_covered(dev_docs, dev_enc) if with_rules else None
        if covered is not None:
            det.threshold, comb = calibrate(np.where(covered, 1.0, phi), gold, target_recall)
            out["dev_word_with_rules"] = comb
            cal = {"recall": word_recall(phi, gold, det.threshold)}
        else:
            det.threshold, cal = calibrate(phi, gold, target_recall)
        out["dev_word"] = cal
        if det.device.type == "cpu" and int8_supported():
            out["int8"] = int8_trial(det, dev_docs, dev_enc, phi, gold, covered)
    out["threshold"] = round(det.threshold, 4)
    out["dev"] = _eval(det, dev_docs, dev_enc, dev_probs)
    if test is not None:
        docs = read_docs(test)
        out["test"] = _eval(det, docs, encode_batch(det.tokenizer, [d.text for d in docs]))
    cfg_path = Path(model_dir) / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["threshold"] = det.threshold
    if "int8" in out:
        cfg["quantize_cpu"] = out["int8"]["kept"]
        cfg["threshold_int8"] = out["int8"]["threshold"] if out["int8"]["kept"] else None
    cfg.setdefault("extra", {})["metrics"] = {k: out[k] for k in ("threshold", "dev", "test")
                                             if k in out}
    atomic_write_text(cfg_path, json.dumps(cfg, indent=1) + "\n")
    card_path = Path(model_dir) / "model_card.md"
    card = card_path.read_text(encoding="utf-8")
    card = re.sub(r"^- Decision threshold P\(PHI\) >= [0-9.]+",
                  f"- Decision threshold P(PHI) >= {det.threshold:.4f}", card, count=1, flags=re.M)
    card = re.sub(r"^## Metrics .*$", "## Metrics (token level: `[A-Za-z0-9]+` runs as in "
                  "`deid eval`; labels ignored)", card, count=1, flags=re.M)
    if "int8" in out:
        q = out["int8"]
        card = re.sub(r"^- int8 dynamic quantisation on CPU: .*$", int8_line(q), card,
                      count=1, flags=re.M)
    for split in ("dev", "test"):
        r = out.get(split)
        if not r:
            continue
        card = re.sub(rf"^\| {split} \|.*$", f"| {split} | {r['recall']} | {r['precision']} | "
                      f"{r['f1']} |", card, count=1, flags=re.M)
        by = ", ".join(f"{k} {v} (n={r['gold_by_label'][k]})"
                       for k, v in r["recall_by_label"].items())
        card = re.sub(rf"^{split} recall by gold label: .*$", f"{split} recall by gold label: {by}",
                      card, count=1, flags=re.M)
    atomic_write_text(card_path, card)
    return out
