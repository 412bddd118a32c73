"""``deid train``: fine-tune the transformer NER model on an annotated corpus."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "train", help="fine-tune the NER model on an annotated corpus",
        description="Fine-tune the transformer NER model (BIO token classifier). Gold spans are "
                    "checked against the sub-word tokens before training; the decision threshold "
                    "is calibrated on dev to --target-recall.")
    p.add_argument("--train", required=True, type=Path, help="training corpus (any corpus format)")
    p.add_argument("--dev", required=True, type=Path, help="dev corpus (early stopping, threshold)")
    p.add_argument("--test", type=Path, help="optional test corpus (metrics in the model card)")
    p.add_argument("--out", required=True, type=Path, help="output model directory (models/NAME)")
    p.add_argument("--base", type=Path, help="continue fine-tuning this model directory")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--target-recall", type=float, default=0.99)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--resume", action="store_true", help="resume from OUT/.checkpoint")
    p.add_argument("--max-length", type=int, default=256, help="tokens per window (<= 512)")
    p.add_argument("--stride", type=int, default=64, help="overlap between windows in tokens")
    p.add_argument("--freeze", type=int, default=3, help="lower encoder layers kept frozen")
    p.add_argument("--no-shape", action="store_true", help="no word-shape (case) feature")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate of the encoder layers")
    p.add_argument("--head-lr", type=float, default=1e-3, help="learning rate of the classifier")
    p.add_argument("--o-weight", type=float, default=0.5,
                   help="loss weight of the O (not PHI) class; < 1 favours recall")
    p.add_argument("--patience", type=int, default=2)
    p.add_argument("--max-docs", type=int, help="use only the first N documents of each split")
    p.add_argument("--max-steps", type=int, help="stop after N optimiser steps")
    p.add_argument("--threads", type=int, help="CPU threads")
    p.add_argument("--labels", help="comma-separated subset of labels to learn")
    p.add_argument("--encoder-config", type=Path,
                   help="JSON BERT config for a randomly initialised encoder (testing)")
    p.add_argument("--no-int8", action="store_true", help="skip the int8 quantisation check")
    p.add_argument("--calibrate-alone", action="store_true",
                   help="calibrate the threshold to the target recall of NER alone (default: of "
                        "rules + NER, the pipeline deid runs)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deid.errors import InputError
    from deid.ner.train import TrainOptions, train

    if not 0.5 <= args.target_recall <= 1.0:
        print("deid train: --target-recall must be between 0.5 and 1", file=sys.stderr)
        return 2
    if args.out.resolve() == (args.base.resolve() if args.base else None):
        print("deid train: --out must differ from --base", file=sys.stderr)
        return 2
    enc_cfg = None
    if args.encoder_config:
        try:
            enc_cfg = json.loads(args.encoder_config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{args.encoder_config}: unreadable ({type(exc).__name__})") from None
    opts = TrainOptions(
        train=args.train, dev=args.dev, out=args.out, test=args.test, base=args.base,
        epochs=args.epochs, seed=args.seed, target_recall=args.target_recall, device=args.device,
        resume=args.resume, max_length=args.max_length, stride=args.stride, freeze=args.freeze,
        use_shape=not args.no_shape, batch_size=args.batch_size, lr=args.lr, head_lr=args.head_lr,
        o_weight=args.o_weight,
        patience=args.patience, max_docs=args.max_docs, max_steps=args.max_steps,
        threads=args.threads, encoder_config=enc_cfg,
        entities=[x.strip() for x in args.labels.split(",") if x.strip()] if args.labels else None,
        try_int8=not args.no_int8, progress=not args.quiet,
        calibrate_with_rules=not args.calibrate_alone,
    )
    try:
        m = train(opts)
    except ValueError as exc:
        print(f"deid train: {exc}", file=sys.stderr)
        return 2
    summary = {k: m[k] for k in ("threshold", "dev", "test") if k in m}
    for v in summary.values():
        if isinstance(v, dict):
            v.pop("recall_by_label", None)
            v.pop("gold_by_label", None)
    print(json.dumps({"model": str(args.out), **summary}))
    return 0
