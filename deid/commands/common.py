"""Options shared by several subcommands (key, policy, workers, progress)."""

from __future__ import annotations

import argparse
import sys

from deid.key import Key


def add_key_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key-file", metavar="FILE",
                   help="secret key file (else $DEID_KEY; else a random key for this run only)")


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.add_argument("--report", metavar="FILE", help="run report (JSON); default beside the output")
    p.add_argument("--audit", metavar="FILE", help="append an audit JSONL (offsets/labels, no PHI)")
    p.add_argument("--crosswalk", metavar="FILE.sqlite",
                   help="write a re-identification crosswalk (SENSITIVE: maps surrogates back)")
    p.add_argument("--dry-run", action="store_true", help="detect and report; write no outputs")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None,
                      help="always show a progress bar")
    prog.add_argument("--no-progress", dest="progress", action="store_false",
                      help="never show a progress bar")


def load_key(args: argparse.Namespace) -> Key:
    key = Key.load(getattr(args, "key_file", None))
    if key.ephemeral:
        print(
            "deid: warning: no key given (--key-file or $DEID_KEY); using a random key for this "
            "run only, so surrogates, date shifts and UIDs will not match other runs",
            file=sys.stderr,
        )
    return key


def show_progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)
