"""The ``deid`` command line: ``main(argv)`` returns the exit code.

Each subcommand lives in ``deid/commands/<name>.py`` and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` to a callable taking the parsed args and returning an exit
code. Heavy imports (torch, easyocr) happen inside those functions, never at start-up.

Exit codes: 0 everything succeeded; 1 some inputs failed (see the run report); 2 usage or
configuration error (bad rules, bad key, output inside input...).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from deid import __version__
from deid.errors import DeidError

COMMANDS = ("text", "detect", "explain", "dicom", "corpus", "eval", "train")
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deid",
        description="De-identify clinical notes and DICOM imaging (HIPAA Safe Harbor, PS3.15 Annex E).",
    )
    parser.add_argument("--version", action="version", version=f"deid {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"deid.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not yet built in this checkout
            if exc.name == f"deid.commands.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except DeidError as exc:
        print(f"deid: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("deid: interrupted; finished outputs are kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
