#!/usr/bin/env bash
# Install deid with its test extras into ./.venv (created if missing), lint, and run every test.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k dicom`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/ruff check deid tests benchmarks scripts
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m pytest -q "$@"
