"""``NerDetector``: batched, windowed token classification aggregated to character spans."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from deid.errors import DeviceError
from deid.ner.align import Encoded, Window, encode_batch, plan_windows
from deid.ner.backbone import load_tokenizer
from deid.ner.model import NerConfig, NerNet, load_model
from deid.span import Span

_INLINE_GAP = frozenset(" \t")
T = TypeVar("T")
R = TypeVar("R")


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise DeviceError(f"unknown device {device!r} (auto, cpu, cuda)")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' requested but CUDA is not available")
    return torch.device(device)


def default_threads() -> int:
    """Threads for CPU inference: ``$DEID_THREADS`` or the CPUs this process may use."""
    env = os.environ.get("DEID_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        n = os.cpu_count() or 1
    return max(1, min(n, torch.get_num_threads()))


def int8_supported() -> bool:
    """Whether this CPU runs the int8 path as calibrated: x86 with VNNI (``avx512_vnni`` or
    ``avx_vnni``), where 8-bit activations cannot saturate the int16 sums of older AVX2 kernels."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_vnni", "avx_vnni"})
    except OSError:
        pass
    return False


def quantize_int8(net: NerNet) -> torch.nn.Module:
    """A copy of ``net`` with the encoder's linear layers in dynamic int8 (CPU with VNNI).

    Weights are quantised per output channel and activations per call over their full 8-bit
    range (the 7-bit range torch uses by default cost recall); the classifier stays fp32.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        names = {n: per_channel_dynamic_qconfig for n, m in net.named_modules()
                 if isinstance(m, torch.nn.Linear) and n.startswith("encoder.")}
        q = quantize_dynamic(net, names, dtype=torch.qint8)
    for m in q.modules():
        if type(m) is DynamicLinear:
            m.__class__ = _Int8Linear
    return q


def _int8_linear_class() -> type:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    class Int8Linear(DynamicLinear):  # type: ignore[misc]
        """Dynamic int8 linear with full-range (8-bit) activations."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params,
                                                   reduce_range=False)
            return y.to(x.dtype)

    return Int8Linear


_Int8Linear = _int8_linear_class()


class NerDetector:
    """Finds PHI spans (source ``"ner"``, score = probability) with a fine-tuned encoder."""

    def __init__(self, net: torch.nn.Module, cfg: NerConfig, tokenizer: object,
                 device: torch.device, batch_size: int = 32, int8: bool = False,
                 threads: int | None = None) -> None:
        self.net = net
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size  # windows per call on CUDA; the CPU runs one per call
        self.threads = max(1, threads or torch.get_num_threads())  # CPU: windows in parallel
        self._pool: ThreadPoolExecutor | None = None
        self.labels = cfg.labels
        self.precision = "int8" if int8 else "bf16" if device.type == "cuda" else "fp32"
        # int8 shifts probabilities: it has its own threshold, calibrated to the fp32 recall
        self.threshold = float(cfg.threshold_int8 if int8 and cfg.threshold_int8 else cfg.threshold)
        ents = cfg.labels
        self._o = ents.index("O")
        # column groups per entity: (B index, I index)
        self._ent_cols = [(ents.index(f"B-{e}"), ents.index(f"I-{e}")) for e in cfg.entities]

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "auto", quantize: bool | None = None,
             threads: int | None = None, batch_size: int | None = None) -> NerDetector:
        """Load and validate a model directory.

        ``quantize`` (CPU only): ``None`` follows the model's ``quantize_cpu`` (set at training
        when int8 kept the fp32 dev recall) on CPUs with VNNI and uses fp32 elsewhere;
        ``True``/``False`` force int8/fp32. On CUDA the model runs under bf16 autocast.
        """
        dev = pick_device(device)
        if dev.type == "cpu":
            torch.set_num_threads(threads or default_threads())
        net, bb = load_model(model_dir)
        cfg = net.cfg
        tok = load_tokenizer(bb)
        model: torch.nn.Module = net
        int8 = dev.type == "cpu" and bool(cfg.quantize_cpu if quantize is None else quantize)
        if int8 and not int8_supported():
            if quantize:
                raise DeviceError("int8 inference needs an x86 CPU with VNNI (avx512_vnni or "
                                 "avx_vnni); use fp32")
            int8 = False  # the model's choice, but not validated for this CPU: fp32
        if int8:
            model = quantize_int8(net)
        model.to(dev).eval()
        bs = batch_size or (128 if dev.type == "cuda" else 16)
        return cls(model, cfg, tok, dev, bs, int8=int8, threads=threads or default_threads())

    # -- public API -------------------------------------------------------------------------------
    def detect(self, text: str) -> list[Span]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        encs = encode_batch(self.tokenizer, list(texts))
        probs = self.token_probs(encs)
        return [self.spans(t, e, p) for t, e, p in zip(texts, encs, probs, strict=True)]

    # -- internals -------------------------------------------------------------------------------
    def token_probs(self, encs: Sequence[Encoded]) -> list[np.ndarray]:
        """Label probabilities ``[tokens, labels]`` per text, each token from its window core.

        On CPU every window runs alone (no padding, and a note's result never depends on the
        notes batched with it), ``threads`` windows at a time, each on one intra-op thread:
        1.2-1.3x the throughput of one window or batch on all threads, with one model copy.
        On CUDA windows run in batches of ``batch_size`` under bf16 autocast.
        """
        jobs: list[tuple[int, Window]] = []
        out: list[np.ndarray] = []
        for i, enc in enumerate(encs):
            out.append(np.zeros((len(enc), len(self.labels)), dtype=np.float32))
            jobs += [(i, w) for w in plan_windows(len(enc), self.cfg.max_length, self.cfg.stride)]
        jobs.sort(key=lambda j: j[1].end - j[1].start, reverse=True)
        if self.device.type == "cpu":
            groups = [[j] for j in jobs]
            probs = self._map(lambda g: self._forward(encs, g), groups)
        else:
            groups = [jobs[b:b + self.batch_size] for b in range(0, len(jobs), self.batch_size)]
            probs = [self._forward(encs, g) for g in groups]
        for group, p in zip(groups, probs, strict=True):
            for r, (i, w) in enumerate(group):
                lo, hi = w.core_start - w.start + 1, w.core_end - w.start + 1
                out[i][w.core_start:w.core_end] = p[r, lo:hi]
        return out

    def _forward(self, encs: Sequence[Encoded], group: list[tuple[int, Window]]) -> np.ndarray:
        """Probabilities ``[windows, width, labels]`` for one group of windows ([CLS] ... [SEP])."""
        cls_id = int(self.tokenizer.cls_token_id)  # type: ignore[attr-defined]
        sep_id = int(self.tokenizer.sep_token_id)  # type: ignore[attr-defined]
        pad_id = int(self.tokenizer.pad_token_id or 0)  # type: ignore[attr-defined]
        width = max(w.end - w.start for _, w in group) + 2
        ids = np.full((len(group), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(group), width), dtype=np.int64)
        shp = np.zeros((len(group), width), dtype=np.int64)
        for r, (i, w) in enumerate(group):
            n = w.end - w.start
            ids[r, 0] = cls_id
            ids[r, 1:n + 1] = encs[i].ids[w.start:w.end]
            ids[r, n + 1] = sep_id
            mask[r, :n + 2] = 1
            shp[r, 1:n + 1] = encs[i].shapes[w.start:w.end]
        t_ids = torch.from_numpy(ids).to(self.device)
        t_mask = torch.from_numpy(mask).to(self.device)
        t_shp = torch.from_numpy(shp).to(self.device)
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16,
                                                    enabled=self.device.type == "cuda"):
            logits = self.net(t_ids, t_mask, t_shp)
            return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def _map(self, fn: Callable[[T], R], items: list[T]) -> list[R]:
        """``fn`` over ``items`` in order, on ``threads`` threads of one intra-op thread each."""
        if self.threads <= 1 or len(items) <= 1:
            return [fn(x) for x in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="deid-ner",
                                            initializer=torch.set_num_threads, initargs=(1,))
        return list(self._pool.map(fn, items))

    def spans(self, text: str, enc: Encoded, probs: np.ndarray) -> list[Span]:
        """Aggregate token probabilities to character spans (whole words, recall-first).

        A word is PHI when any of its sub-tokens reaches the threshold. PHI words are grouped
        when they touch, or when only spaces/tabs separate them, the earlier one is not sentence
        punctuation, and the later one is predicted as a continuation (``I-`` outweighs ``B-``)
        of the same entity. A group takes the entity with the
        largest summed probability over its tokens; sentence punctuation at its edges is
        trimmed and groups without a letter or digit are dropped (they cannot leak PHI).
        """
        if len(enc) == 0:
            return []
        phi = 1.0 - probs[:, self._o]
        ent_p = np.stack([probs[:, b] + probs[:, i] for b, i in self._ent_cols], axis=1)
        b_sum = probs[:, [b for b, _ in self._ent_cols]].sum(axis=1)
        i_sum = probs[:, [i for _, i in self._ent_cols]].sum(axis=1)
        w = np.asarray(enc.word_ids)
        starts = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])
        ends = np.r_[starts[1:], len(w)]
        wphi = np.maximum.reduceat(phi, starts)
        went = np.add.reduceat(ent_p, starts, axis=0).argmax(axis=1)
        groups: list[list[int]] = []  # word indices
        last_end = -1
        for k in np.flatnonzero(wphi >= self.threshold):
            ws = enc.offsets[starts[k]][0]
            t0 = starts[k]
            if groups and groups[-1][-1] == k - 1:
                prev = groups[-1][-1]
                gap = text[last_end:ws]
                punct_k = _edge_punct(text, enc, starts, ends, int(k))
                if not gap or (
                    all(c in _INLINE_GAP for c in gap) and i_sum[t0] > b_sum[t0]
                    and not _edge_punct(text, enc, starts, ends, prev)
                    and (went[k] == went[prev] or punct_k)
                ):
                    groups[-1].append(int(k))
                    last_end = enc.offsets[ends[k] - 1][1]
                    continue
            groups.append([int(k)])
            last_end = enc.offsets[ends[k] - 1][1]
        out: list[Span] = []
        for g in groups:
            while g and _edge_punct(text, enc, starts, ends, g[0]):
                g = g[1:]
            while g and _edge_punct(text, enc, starts, ends, g[-1]):
                g = g[:-1]
            if not g:
                continue
            s = enc.offsets[starts[g[0]]][0]
            e = enc.offsets[ends[g[-1]] - 1][1]
            if not any(c.isalnum() for c in text[s:e]):
                continue
            lo, hi = starts[g[0]], ends[g[-1]]
            ent = int(ent_p[lo:hi].sum(axis=0).argmax())
            score = float(wphi[g].max())
            out.append(_span([s, e, score], self.cfg.entities[ent]))
        return out


_SENTENCE_PUNCT = frozenset(".,;:!?")


def _edge_punct(text: str, enc: Encoded, starts: np.ndarray, ends: np.ndarray, k: int) -> bool:
    s = enc.offsets[starts[k]][0]
    e = enc.offsets[ends[k] - 1][1]
    return all(c in _SENTENCE_PUNCT for c in text[s:e])


def _span(cur: list[float], label: str) -> Span:
    return Span(int(cur[0]), int(cur[1]), label, "ner", float(min(1.0, max(0.0, cur[2]))))
