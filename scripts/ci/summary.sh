#!/usr/bin/env bash
# CI step: the totals of a JUnit report (read by `wirecheck merge`), as Markdown appended to GITHUB_STEP_SUMMARY (or printed when that is unset).
# Inputs: WIRECHECK_JUNIT [default: wirecheck-junit.xml]; the binary as in common.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

junit=${WIRECHECK_JUNIT:-wirecheck-junit.xml}
out=${GITHUB_STEP_SUMMARY:-/dev/stdout}
if [ ! -s "$junit" ]; then
  printf '## wirecheck\n\nNo JUnit report at `%s`: the run stopped before writing it (see the log).\n' "$junit" >> "$out"
  exit 0
fi
totals=$("$WIRECHECK_BIN" merge --allow-empty --allow-xpass "$junit" | tail -n 1) || true
printf '## wirecheck\n\n%s\n\nJUnit report: `%s` (uploaded as an artifact)\n' \
  "${totals:-the report could not be read}" "$junit" >> "$out"
