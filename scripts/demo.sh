#!/usr/bin/env bash
# Install deid into ./.venv (created if missing) and de-identify the bundled sample notes and
# DICOM files into ./out/. The demo key in out/demo.key is generated here, once: for real data,
# create and guard your own key (see README, "Keys").
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p out
[ -s out/demo.key ] || .venv/bin/python -c "import secrets; print(secrets.token_hex(32))" > out/demo.key
status=0
.venv/bin/deid text corpora/notes out/notes --key-file out/demo.key \
  --known corpora/notes/known.csv --audit out/notes-audit.jsonl || status=$?
if [ -d corpora/dicom ] && .venv/bin/deid dicom --help >/dev/null 2>&1; then
  .venv/bin/deid dicom corpora/dicom out/dicom --key-file out/demo.key --profile research \
    --option clean_pixel_data \
    --audit out/dicom-audit.jsonl || status=$?
fi
echo "de-identified notes: out/notes/  DICOM: out/dicom/  reports: out/notes/.deid-report.json, out/dicom/deid-dicom-report.json"
exit $status
