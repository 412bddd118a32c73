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
# The medical dictionary (Debian's hunspell-en-med, GPL-3, read at run time) widens the clinical
# vocabulary that keeps drug and anatomy words from being taken for names.
if [ ! -e /usr/share/hunspell/en_med_glut.dic ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hunspell-en-med) \
      >/dev/null 2>&1 || echo "demo: could not install hunspell-en-med; screening uses rules/vocab/ only" >&2
  else
    echo "demo: hunspell-en-med is not installed (apt-get install hunspell-en-med as root);" \
      "screening uses rules/vocab/ only" >&2
  fi
fi
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
