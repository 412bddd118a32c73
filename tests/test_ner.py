"""NER model: tiny training run, save/reload/predict, model-dir validation, robustness, CLI."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import deid.cli  # noqa: F401  (imported outside capsys: deid.batch binds sys.stderr at import)
from deid.ner import NerDetector, NerModelError
from deid.ner.infer import int8_supported
from deid.ner.train import TrainOptions, train
from deid.span import Span
from tests.test_ner_helpers import TINY_ENCODER, make_docs, write_json, write_jsonl

torch.set_num_threads(1)
deid.cli.build_parser()  # imports every command module (and deid.batch) outside capture


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("corpus")
    return {"train": write_jsonl(d / "train.jsonl", make_docs(40, seed=1)),
            "dev": write_jsonl(d / "dev.jsonl", make_docs(12, seed=2)),
            "dir": d}


@pytest.fixture(scope="module")
def tiny(corpus, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("models") / "tiny"
    m = train(TrainOptions(train=corpus["train"], dev=corpus["dev"], test=corpus["dev"], out=out,
                           epochs=4, freeze=0, encoder_config=TINY_ENCODER, lr=3e-3,
                           head_lr=3e-3, max_length=64, stride=16, progress=False))
    return out, m


def _copy(model: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "m"
    shutil.copytree(model, dst)
    return dst


def test_tiny_model_trains_saves_and_reloads(tiny, corpus):
    out, m = tiny
    assert sorted(p.name for p in out.iterdir()) == [
        "backbone.json", "config.json", "labels.json", "model_card.md", "weights.safetensors"]
    losses = [h["loss"] for h in m["history"]]
    assert losses[-1] < losses[0]
    card = (out / "model_card.md").read_text()
    assert "Metrics" in card and "PATIENT" in card
    det = NerDetector.load(out, device="cpu", quantize=False)
    assert det.cfg.entities == ["CITY", "DATE", "DOCTOR", "PATIENT", "PHONE"]
    # the threshold was calibrated on dev for word recall >= 0.99, so the reloaded model must
    # find (nearly) all dev PHI tokens: this checks calibration, fp16 storage and reload agree
    assert m["dev"]["recall"] >= 0.97
    docs = make_docs(12, seed=2)
    preds = det.detect_batch([d.text for d in docs])
    from deid.ner.metrics import token_scores

    again = token_scores([d.text for d in docs], [d.spans for d in docs], preds)
    assert again["recall"] == m["dev"]["recall"]
    for d, spans in zip(docs, preds, strict=True):
        for s in spans:
            assert isinstance(s, Span) and s.source == "ner" and 0 <= s.score <= 1
            assert s.end <= len(d.text) and s.label in det.cfg.entities
    assert det.detect(docs[0].text) == preds[0]


def test_long_note_is_covered_past_the_first_window(tiny):
    out, _ = tiny
    det = NerDetector.load(out, device="cpu", quantize=False)
    text = "".join(d.text for d in make_docs(30, seed=5))  # many windows of 64 tokens
    from deid.ner.align import encode

    enc = encode(det.tokenizer, text)
    assert len(enc) > 10 * 64
    probs = det.token_probs([enc])[0]
    assert probs.shape == (len(enc), len(det.labels))
    assert abs(probs.sum(axis=1) - 1).max() < 1e-4  # every token got a prediction
    spans = det.detect(text)
    assert spans and max(s.end for s in spans) > len(text) * 0.9


@pytest.mark.parametrize("text", [
    "", " ", "\n\n\t", "\x00\x01\x02\x7f", "患者は東京の病院で2021年3月4日に診察された。",
    "Пациент Иванов осмотрен 03.04.2021", "a" * 5000, "🙂" * 100 + " Smith",
])
def test_odd_inputs_do_not_crash(tiny, text):
    det = NerDetector.load(tiny[0], device="cpu")
    for s in det.detect(text):
        assert 0 <= s.start < s.end <= len(text)


@pytest.mark.slow
def test_one_megabyte_note(tiny):
    det = NerDetector.load(tiny[0], device="cpu", batch_size=64)
    text = ("Pt seen 01/02/2020 by Dr. Berg, call (555) 222-3333. " * 20000)[:1_000_000]
    spans = det.detect(text)
    assert spans and all(0 <= s.start < s.end <= len(text) for s in spans)


needs_vnni = pytest.mark.skipif(not int8_supported(), reason="int8 path needs a CPU with VNNI")


@needs_vnni
def test_int8_quantised_path(tiny):
    det = NerDetector.load(tiny[0], device="cpu", quantize=True)
    assert det.precision == "int8"
    lin = det.net.encoder.encoder.layer[0].intermediate.dense
    assert lin.weight().qscheme() == torch.per_channel_affine  # per-channel scales keep recall
    assert type(lin).__name__ == "Int8Linear"  # full 8-bit activations
    assert isinstance(det.net.classifier, torch.nn.Linear)  # the head stays fp32
    text = make_docs(1, seed=9)[0].text
    assert all(s.end <= len(text) for s in det.detect(text))
    assert NerDetector.load(tiny[0], device="cpu", quantize=False).precision == "fp32"
    # a note's result does not depend on the notes batched with it
    docs = [d.text for d in make_docs(6, seed=4)]
    assert det.detect_batch(docs) == [det.detect(t) for t in docs]


def test_int8_only_where_validated(tiny, tmp_path, monkeypatch):
    m = _copy(tiny[0], tmp_path)
    cfg = json.loads((m / "config.json").read_text())
    cfg.update(quantize_cpu=True, threshold_int8=0.123)
    (m / "config.json").write_text(json.dumps(cfg))
    monkeypatch.setattr("deid.ner.infer.int8_supported", lambda: False)
    det = NerDetector.load(m, device="cpu")  # the model asks for int8; this CPU gets fp32
    assert det.precision == "fp32" and det.threshold == cfg["threshold"]
    with pytest.raises(ValueError, match="VNNI"):
        NerDetector.load(m, device="cpu", quantize=True)
    monkeypatch.setattr("deid.ner.infer.int8_supported", lambda: True)
    det = NerDetector.load(m, device="cpu")
    assert det.precision == "int8" and det.threshold == 0.123  # int8 has its own threshold


@needs_vnni
def test_int8_trial_recalibrates_to_the_fp32_recall(tiny, corpus):
    from deid.ner.align import encode_batch
    from deid.ner.train import int8_trial, read_docs, word_phi, word_recall

    out, m = tiny
    q = m["int8"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["quantize_cpu"] == q["kept"]
    assert cfg["threshold_int8"] == (q["threshold"] if q["kept"] else None)
    if q["kept"]:
        assert q["dev_word_recall_int8"] >= q["dev_word_recall_fp32"]
        assert q["dev_word_precision_int8"] >= q["dev_word_precision_fp32"] - 0.01
    # recompute the trial: the int8 model at its own threshold reaches the fp32 dev recall
    det = NerDetector.load(out, device="cpu", quantize=False)
    docs = read_docs(corpus["dev"])
    encs = encode_batch(det.tokenizer, [d.text for d in docs])
    phi, gold = word_phi(det, docs, encs)
    trial = int8_trial(det, docs, encs, phi, gold, None)
    qdet = NerDetector.load(out, device="cpu", quantize=True)
    qdet.threshold = trial["threshold"]
    qphi, _ = word_phi(qdet, docs, encs)
    assert word_recall(qphi, gold, trial["threshold"]) >= word_recall(phi, gold, det.threshold)
    assert trial["dev_word_recall_fp32"] == round(word_recall(phi, gold, det.threshold), 4)


# -- model directory validation --------------------------------------------------------------------
def test_missing_file(tiny, tmp_path):
    m = _copy(tiny[0], tmp_path)
    (m / "labels.json").unlink()
    with pytest.raises(NerModelError, match="missing labels.json"):
        NerDetector.load(m)
    with pytest.raises(NerModelError, match="not found"):
        NerDetector.load(tmp_path / "nope")


def test_label_mismatch(tiny, tmp_path):
    m = _copy(tiny[0], tmp_path)
    lab = json.loads((m / "labels.json").read_text())
    lab["id2label"] = lab["id2label"][:-2]
    write_json(m / "labels.json", lab)
    with pytest.raises(NerModelError, match="label map does not match"):
        NerDetector.load(m)


def test_label_rows_mismatch_weights(tiny, tmp_path):
    m = _copy(tiny[0], tmp_path)
    cfg = json.loads((m / "config.json").read_text())
    cfg["entities"] = cfg["entities"][:-1]
    write_json(m / "config.json", cfg)
    lab = {"id2label": ["O"] + [f"{p}-{e}" for e in cfg["entities"] for p in "BI"]}
    write_json(m / "labels.json", lab)
    with pytest.raises(NerModelError, match="label rows"):
        NerDetector.load(m)


def test_unknown_label(tiny, tmp_path):
    m = _copy(tiny[0], tmp_path)
    cfg = json.loads((m / "config.json").read_text())
    cfg["entities"][0] = "SPACESHIP"
    write_json(m / "config.json", cfg)
    write_json(m / "labels.json",
               {"id2label": ["O"] + [f"{p}-{e}" for e in cfg["entities"] for p in "BI"]})
    with pytest.raises(NerModelError, match="not in rules/labels.yaml"):
        NerDetector.load(m)


@pytest.mark.parametrize("change,match", [
    ({"package": "bert-from-nowhere"}, "unknown backbone"),
    ({"version": "0.0.0-other"}, "version mismatch"),
    ({"config_sha256": "0" * 64}, "config_sha256 mismatch"),
])
def test_backbone_mismatch(tiny, tmp_path, change, match):
    m = _copy(tiny[0], tmp_path)
    ref = json.loads((m / "backbone.json").read_text())
    ref.update(change)
    write_json(m / "backbone.json", ref)
    with pytest.raises(NerModelError, match=match):
        NerDetector.load(m)


def test_corrupt_weights(tiny, tmp_path):
    m = _copy(tiny[0], tmp_path)
    data = bytearray((m / "weights.safetensors").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (m / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(NerModelError, match="corrupt weights"):
        NerDetector.load(m)
    (m / "weights.safetensors").write_bytes(b"not a safetensors file")
    cfg = json.loads((m / "config.json").read_text())
    from deid.ner.backbone import sha256_file

    cfg["weights_sha256"] = sha256_file(m / "weights.safetensors")
    write_json(m / "config.json", cfg)
    with pytest.raises(NerModelError, match="corrupt weights"):
        NerDetector.load(m)


def test_bad_config_json(tiny, tmp_path):
    m = _copy(tiny[0], tmp_path)
    (m / "config.json").write_text("{not json")
    with pytest.raises(NerModelError, match="config.json"):
        NerDetector.load(m)


# -- training command ------------------------------------------------------------------------------
def test_cli_misaligned_corpus_fails_before_training(corpus, tmp_path, capsys):
    from deid.cli import main

    docs = make_docs(3, seed=3)
    bad = docs[1]
    from deid.corpus.document import Document

    shifted = tuple(Span(s.start + 2, s.end + 2, s.label, "gold") for s in bad.spans)
    docs[1] = Document("broken-doc", bad.text, shifted)
    train_file = write_jsonl(tmp_path / "bad.jsonl", docs)
    enc = write_json(tmp_path / "enc.json", TINY_ENCODER)
    out = tmp_path / "out"
    rc = main(["train", "--train", str(train_file), "--dev", str(corpus["dev"]), "--out", str(out),
               "--encoder-config", str(enc), "--freeze", "0", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "broken-doc" in err and "misaligned" in err
    assert not out.exists()
    for name in ("Okafor", "Smithers", "Tanaka", "Alvarez", "Petrova"):
        assert name not in err


def test_cli_trains_tiny_model(corpus, tmp_path, capsys):
    from deid.cli import main

    enc = write_json(tmp_path / "enc.json", TINY_ENCODER)
    out = tmp_path / "cli-model"
    rc = main(["train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]),
               "--out", str(out), "--encoder-config", str(enc), "--freeze", "0", "--epochs", "1",
               "--max-length", "64", "--stride", "8", "--quiet", "--device", "cpu"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == str(out) and 0 < summary["threshold"] <= 0.5
    NerDetector.load(out)


def test_resume_continues_from_checkpoint(corpus, tmp_path, monkeypatch):
    import deid.ner.train as tr

    out = tmp_path / "res"
    opts = dict(train=corpus["train"], dev=corpus["dev"], out=out, freeze=0,
                encoder_config=TINY_ENCODER, max_length=64, stride=16, progress=False,
                try_int8=False)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(tr, "save_model", boom)
    with pytest.raises(KeyboardInterrupt):
        train(TrainOptions(epochs=1, **opts))
    assert (out / ".checkpoint" / "state.pt").is_file()
    monkeypatch.undo()
    m = train(TrainOptions(epochs=2, resume=True, **opts))
    assert [h["epoch"] for h in m["history"]] == [1, 2]
    assert not (out / ".checkpoint").exists()
    with pytest.raises(NerModelError, match="different training run"):
        monkeypatch.setattr(tr, "save_model", boom)
        with contextlib.suppress(KeyboardInterrupt):
            train(TrainOptions(epochs=1, **opts))
        train(TrainOptions(epochs=2, resume=True, **{**opts, "seed": 99}))


def test_base_model_continues_fine_tuning(tiny, corpus, tmp_path):
    base = _copy(tiny[0], tmp_path)
    cfg = json.loads((base / "config.json").read_text())
    cfg.update(quantize_cpu=True, threshold_int8=0.123)  # calibrated for the base's weights
    (base / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "cont"
    m = train(TrainOptions(train=corpus["train"], dev=corpus["dev"], out=out, base=base,
                           epochs=1, freeze=0, progress=False, try_int8=False))
    det = NerDetector.load(out)
    assert det.cfg.entities == NerDetector.load(tiny[0]).cfg.entities
    assert m["steps"] > 0
    # the base's int8 threshold does not carry over to new weights: int8 is off until tried
    assert det.cfg.quantize_cpu is False and det.cfg.threshold_int8 is None


def test_base_rejects_new_labels(tiny, tmp_path):
    from deid.errors import InputError

    docs = make_docs(3, seed=4)
    from deid.corpus.document import Document

    docs = [Document(d.id, d.text, tuple(Span(s.start, s.end, "ZIP" if s.label == "CITY"
                                               else s.label, "gold") for s in d.spans))
            for d in docs]
    f = write_jsonl(tmp_path / "zip.jsonl", docs)
    with pytest.raises(InputError, match="'ZIP' is not one of the model's labels"):
        train(TrainOptions(train=f, dev=f, out=tmp_path / "x", base=tiny[0], progress=False))


def test_label_subset(corpus, tmp_path):
    out = tmp_path / "subset"
    train(TrainOptions(train=corpus["train"], dev=corpus["dev"], out=out, epochs=1, freeze=0,
                       encoder_config=TINY_ENCODER, max_length=64, stride=16, progress=False,
                       entities=["PATIENT", "DOCTOR"], try_int8=False))
    det = NerDetector.load(out)
    assert det.cfg.entities == ["PATIENT", "DOCTOR"]
    assert json.loads((out / "labels.json").read_text())["id2label"] == [
        "O", "B-PATIENT", "I-PATIENT", "B-DOCTOR", "I-DOCTOR"]


def test_text_engine_merges_ner_spans(tiny):
    from deid.text import Deidentifier

    eng = Deidentifier(ner=str(tiny[0]), device="cpu")
    assert eng.ner is not None
    doc = make_docs(1, seed=21)[0]
    ner_only = eng.ner.detect(doc.text)
    trace: list = []
    merged = eng.detect_batch([doc.text], None, trace)[0]
    covered = {i for s in merged for i in range(s.start, s.end)}
    kept, dropped = trace[0].kept, trace[0].dropped
    assert ner_only and len(kept) + len(dropped) == len(ner_only)  # screened, none lost
    assert all(i in covered for s in kept for i in range(s.start, s.end))


def test_rescore_updates_card_and_config(tiny, corpus, tmp_path):
    from deid.ner.train import rescore

    m = _copy(tiny[0], tmp_path)
    card = (m / "model_card.md").read_text()
    card = card.replace(f"| dev | {tiny[1]['dev']['recall']} |", "| dev | 0.123 |")
    (m / "model_card.md").write_text(card)
    out = rescore(m, corpus["dev"], corpus["dev"], target_recall=0.99)
    text = (m / "model_card.md").read_text()
    assert "| dev | 0.123 |" not in text and f"| dev | {out['dev']['recall']} |" in text
    assert json.loads((m / "config.json").read_text())["extra"]["metrics"]["dev"] == out["dev"]
    NerDetector.load(m)


@pytest.mark.parametrize("quantize", [False, pytest.param(True, marks=needs_vnni)])
def test_windows_in_parallel_threads_match_one_at_a_time(tiny, quantize):
    docs = [d.text for d in make_docs(8, seed=6)] + ["".join(d.text for d in make_docs(20, seed=7))]
    one = NerDetector.load(tiny[0], device="cpu", quantize=quantize, threads=1)
    two = NerDetector.load(tiny[0], device="cpu", quantize=quantize, threads=2)
    assert two.threads == 2 and one.threads == 1
    got = two.detect_batch(docs)
    assert got == one.detect_batch(docs) == [one.detect(t) for t in docs]
    assert any(got)
    torch.set_num_threads(1)  # load() set the process-wide default; restore this module's


def test_not_worse_bootstrap():
    from deid.ner.train import not_worse

    doc = np.repeat(np.arange(50), 4)  # 50 documents of 4 words
    b = np.zeros(200, dtype=bool)
    b[::8] = True  # B misses one word in every other document
    assert not_worse(b, b, doc, 50) == 1.0  # equal: never worse
    a = b.copy()
    a[1] = True  # A misses one word more than B in document 0
    share = not_worse(a, b, doc, 50)
    # A is worse whenever document 0 is drawn, so not worse only when it is not: (49/50)^50
    assert abs(share - (49 / 50) ** 50) < 0.05
    assert not_worse(np.zeros(200, dtype=bool), b, doc, 50) == 1.0
