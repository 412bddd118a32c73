"""The token classifier (encoder + word-shape embedding + linear layer) and its model directory.

A model directory holds:

* ``config.json``  - architecture, entity labels, windowing, threshold, weights checksum;
* ``labels.json``  - the BIO label map (``id2label``), checked against config and weights;
* ``backbone.json`` - the encoder package (name, version, config and tokenizer hashes);
* ``weights.safetensors`` - fp16 tensors: the head, and only the encoder tensors that differ
  from the installed backbone (the rest is rebuilt from it at load time);
* ``model_card.md`` - training data, metrics, parameters, date.

Loading validates every piece and raises :class:`NerModelError` naming the file.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deid.labels import load_labels
from deid.ner.align import bio_labels
from deid.ner.backbone import Backbone, NerModelError, check_backbone, sha256_file
from deid.ner.shape import NUM_SHAPES

FORMAT = "deid-ner"
FORMAT_VERSION = 1
FILES = ("config.json", "labels.json", "backbone.json", "weights.safetensors", "model_card.md")
ENCODER_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size", "hidden_act",
                "layer_norm_eps", "hidden_dropout_prob", "attention_probs_dropout_prob",
                "pad_token_id")


@dataclass
class NerConfig:
    """Everything needed to rebuild a model besides its weights."""

    entities: list[str]
    encoder: dict[str, Any]
    init: str = "backbone"  # "backbone": frozen tensors come from the package; "random": all stored
    use_shape: bool = True
    shape_dim: int = 16
    max_length: int = 256
    stride: int = 64
    frozen_layers: int = 3
    threshold: float = 0.5
    quantize_cpu: bool = False
    threshold_int8: float | None = None  # threshold for the int8 CPU path (None: ``threshold``)
    weights_sha256: str = ""
    weights_dtype: str = "float16"
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return bio_labels(self.entities)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, obj: Any, where: str) -> NerConfig:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise NerModelError(f"{where}: not a deid NER config (format != {FORMAT!r})")
        if obj.get("format_version") != FORMAT_VERSION:
            raise NerModelError(f"{where}: unsupported format_version {obj.get('format_version')!r}")
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in obj.items() if k in known}
        try:
            cfg = cls(**kwargs)
        except TypeError as exc:
            raise NerModelError(f"{where}: {exc}") from None
        checks = [
            (isinstance(cfg.entities, list) and cfg.entities
             and all(isinstance(e, str) for e in cfg.entities), "entities must be a list of labels"),
            (isinstance(cfg.encoder, dict) and all(k in cfg.encoder for k in ENCODER_KEYS),
             f"encoder must give {', '.join(ENCODER_KEYS)}"),
            (cfg.init in ("backbone", "random"), "init must be 'backbone' or 'random'"),
            (isinstance(cfg.max_length, int) and 4 <= cfg.max_length
             <= int(cfg.encoder.get("max_position_embeddings", 512)), "bad max_length"),
            (isinstance(cfg.stride, int) and 0 <= cfg.stride < cfg.max_length - 2, "bad stride"),
            (isinstance(cfg.threshold, int | float) and 0.0 < cfg.threshold < 1.0,
             "threshold must be in (0, 1)"),
            (cfg.threshold_int8 is None or (isinstance(cfg.threshold_int8, int | float)
                                            and 0.0 < cfg.threshold_int8 < 1.0),
             "threshold_int8 must be null or in (0, 1)"),
            (isinstance(cfg.frozen_layers, int) and 0 <= cfg.frozen_layers
             <= int(cfg.encoder.get("num_hidden_layers", 0)), "bad frozen_layers"),
            (cfg.weights_dtype in ("float16", "float32"), "weights_dtype must be float16|float32"),
        ]
        for ok, msg in checks:
            if not ok:
                raise NerModelError(f"{where}: {msg}")
        return cfg


def encoder_config(cfg_dict: dict[str, Any]) -> Any:
    from transformers import BertConfig

    c = BertConfig(**{k: cfg_dict[k] for k in ENCODER_KEYS})
    c._attn_implementation = "sdpa"
    return c


class NerNet(nn.Module):
    """BERT encoder -> [hidden ; shape embedding] -> dropout -> linear over BIO labels."""

    def __init__(self, cfg: NerConfig) -> None:
        super().__init__()
        from transformers import BertModel

        self.cfg = cfg
        self.encoder = BertModel(encoder_config(cfg.encoder), add_pooling_layer=False)
        hidden = int(cfg.encoder["hidden_size"])
        self.shape_emb = nn.Embedding(NUM_SHAPES, cfg.shape_dim) if cfg.use_shape else None
        self.dropout = nn.Dropout(float(cfg.encoder.get("hidden_dropout_prob", 0.1)))
        width = hidden + (cfg.shape_dim if cfg.use_shape else 0)
        self.classifier = nn.Linear(width, len(cfg.labels))

    # -- freezing ------------------------------------------------------------------------------
    def frozen_modules(self) -> list[nn.Module]:
        k = self.cfg.frozen_layers
        if k <= 0:
            return []
        return [self.encoder.embeddings, *self.encoder.encoder.layer[:k]]

    def freeze(self) -> None:
        for m in self.frozen_modules():
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> NerNet:
        super().train(mode)
        for m in self.frozen_modules():
            m.eval()
        return self

    # -- forward -------------------------------------------------------------------------------
    def _ext_mask(self, mask: torch.Tensor) -> torch.Tensor | None:
        if not torch.is_grad_enabled() and bool(mask.all()):
            return None  # no padding: lets attention use its faster unmasked kernel
        dtype = self.encoder.embeddings.word_embeddings.weight.dtype
        return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min

    def lower(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the embeddings and the frozen layers (no gradient if frozen)."""
        ext = self._ext_mask(mask)
        k = self.cfg.frozen_layers
        with torch.set_grad_enabled(torch.is_grad_enabled() and k == 0):
            h = self.encoder.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
            for layer in self.encoder.encoder.layer[:k]:
                h = _out(layer(h, attention_mask=ext))
        return h

    def upper(self, h: torch.Tensor, mask: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
        """Logits from the output of :meth:`lower`."""
        ext = self._ext_mask(mask)
        for layer in self.encoder.encoder.layer[self.cfg.frozen_layers:]:
            h = _out(layer(h, attention_mask=ext))
        if self.shape_emb is not None:
            h = torch.cat([h, self.shape_emb(shapes).to(h.dtype)], dim=-1)
        return self.classifier(self.dropout(h))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, tokens, labels]``."""
        return self.upper(self.lower(ids, mask), mask, shapes)


def _out(o: Any) -> torch.Tensor:
    return o[0] if isinstance(o, tuple) else o


# -- backbone weights ------------------------------------------------------------------------------
def backbone_state(bb: Backbone) -> dict[str, torch.Tensor]:
    """The backbone's encoder tensors, keyed as in ``NerNet.state_dict()``."""
    from safetensors.torch import load_file

    raw = load_file(str(bb.path / "model.safetensors"))
    return {f"encoder.{k}": v.float() for k, v in raw.items() if not k.startswith("pooler.")}


def init_from_backbone(net: NerNet, bb: Backbone) -> None:
    own = net.state_dict()
    state = {k: v for k, v in backbone_state(bb).items() if k in own}
    missing = [k for k in own if k.startswith("encoder.") and k not in state]
    if missing:
        raise NerModelError(f"backbone {bb.package}: missing tensors {missing[:3]}")
    for k, v in state.items():
        if own[k].shape != v.shape:
            raise NerModelError(f"backbone {bb.package}: tensor {k} has shape "
                                f"{tuple(v.shape)}, expected {tuple(own[k].shape)}")
    net.load_state_dict(state, strict=False)


def stored_names(net: NerNet, bb: Backbone | None) -> list[str]:
    """Tensors to store: all of them for a random init, else those differing from the backbone."""
    own = net.state_dict()
    if net.cfg.init == "random" or bb is None:
        return list(own)
    base = backbone_state(bb)
    out = []
    for k, v in own.items():
        b = base.get(k)
        if b is None or b.shape != v.shape or not torch.equal(b.to(v.dtype), v.cpu()):
            out.append(k)
    return out


def round_to_storage(net: NerNet, names: list[str]) -> None:
    """Round stored tensors to the storage dtype so that evaluation matches the saved model."""
    if net.cfg.weights_dtype != "float16":
        return
    own = net.state_dict()
    with torch.no_grad():
        for k in names:
            t = own[k]
            if t.is_floating_point():
                t.copy_(t.half().to(t.dtype))


# -- directory I/O -------------------------------------------------------------------------------
def _atomic_write(path: Path, data: bytes) -> None:
    from deid.batch import atomic_write_bytes

    atomic_write_bytes(path, data)


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, text.encode("utf-8"))


def save_model(net: NerNet, out_dir: str | Path, bb: Backbone, card: str) -> list[str]:
    """Write a model directory; config.json (holding the weights checksum) is written last."""
    from safetensors.torch import save

    out = Path(out_dir)
    cfg = net.cfg
    names = stored_names(net, bb)
    round_to_storage(net, names)
    own = net.state_dict()
    dt = torch.float16 if cfg.weights_dtype == "float16" else torch.float32
    tensors = {k: (own[k].detach().cpu().to(dt) if own[k].is_floating_point()
                   else own[k].detach().cpu()).contiguous() for k in names}
    blob = save(tensors, metadata={"format": FORMAT})
    _atomic_write(out / "weights.safetensors", blob)
    cfg.weights_sha256 = sha256_file(out / "weights.safetensors")
    cfg.created = cfg.created or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    atomic_write_text(out / "labels.json", json.dumps({"id2label": cfg.labels}, indent=1) + "\n")
    atomic_write_text(out / "backbone.json", json.dumps(bb.ref(), indent=1) + "\n")
    atomic_write_text(out / "model_card.md", card)
    atomic_write_text(out / "config.json", json.dumps(cfg.to_json(), indent=1) + "\n")
    return names


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NerModelError(f"{path}: unreadable JSON ({type(exc).__name__})") from None


def read_config(model_dir: str | Path) -> tuple[NerConfig, Backbone]:
    """Validate a model directory's files, labels and backbone (weights are checked on load)."""
    d = Path(model_dir)
    if not d.is_dir():
        raise NerModelError(f"model directory {d} not found")
    for name in FILES:
        if not (d / name).is_file():
            raise NerModelError(f"model directory {d}: missing {name}")
    cfg = NerConfig.from_json(_read_json(d / "config.json"), str(d / "config.json"))
    lab = _read_json(d / "labels.json")
    if not isinstance(lab, dict) or lab.get("id2label") != cfg.labels:
        raise NerModelError(f"{d / 'labels.json'}: label map does not match config.json entities")
    known = load_labels()
    unknown = [e for e in cfg.entities if e not in known]
    if unknown:
        raise NerModelError(f"{d / 'config.json'}: labels {unknown} are not in rules/labels.yaml")
    bb = check_backbone(_read_json(d / "backbone.json"), str(d / "backbone.json"))
    if cfg.init == "backbone":
        bcfg = _read_json(bb.path / "config.json")
        diff = [k for k in ENCODER_KEYS if bcfg.get(k) != cfg.encoder.get(k)]
        if diff:
            raise NerModelError(f"{d / 'config.json'}: encoder differs from backbone in {diff}")
    return cfg, bb


def load_model(model_dir: str | Path) -> tuple[NerNet, Backbone]:
    """Rebuild a model (fp32, eval mode) from its directory, validating everything."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = Path(model_dir)
    cfg, bb = read_config(d)
    wpath = d / "weights.safetensors"
    if sha256_file(wpath) != cfg.weights_sha256:
        raise NerModelError(f"{wpath}: corrupt weights (checksum does not match config.json)")
    try:
        stored = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as exc:
        raise NerModelError(f"{wpath}: corrupt weights ({type(exc).__name__})") from None
    net = NerNet(cfg)
    own = net.state_dict()
    n_labels = len(cfg.labels)
    cls_w = stored.get("classifier.weight")
    if cls_w is None or cls_w.shape[0] != n_labels:
        raise NerModelError(f"{wpath}: classifier does not have {n_labels} label rows "
                            f"(label mismatch with labels.json)")
    for k, v in stored.items():
        if k not in own:
            raise NerModelError(f"{wpath}: unexpected tensor {k}")
        if own[k].shape != v.shape:
            raise NerModelError(f"{wpath}: tensor {k} has shape {tuple(v.shape)}, "
                                f"expected {tuple(own[k].shape)}")
    head_missing = [k for k in own if not k.startswith("encoder.") and k not in stored]
    if head_missing:
        raise NerModelError(f"{wpath}: missing tensors {head_missing[:3]}")
    if cfg.init == "backbone":
        init_from_backbone(net, bb)
    else:
        missing = [k for k in own if k not in stored]
        if missing:
            raise NerModelError(f"{wpath}: missing tensors {missing[:3]} (random-init model)")
    net.load_state_dict({k: v.float() if v.is_floating_point() else v
                         for k, v in stored.items()}, strict=False)
    net.eval()
    return net, bb
