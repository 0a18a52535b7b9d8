#!/usr/bin/env bash
# CI step: `wirecheck merge` of the shards' reports. Inputs (environment):
#   WIRECHECK_MERGE_INPUTS  file patterns, space separated [default: reports/junit-*.xml reports/report-*.json]
#   WIRECHECK_JUNIT         merged JUnit report [default: reports/junit.xml]
#   WIRECHECK_JSON          merged JSON report [default: reports/report.json]
# Exits with the code `wirecheck run` would have given for all shards together.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

shopt -s nullglob
# shellcheck disable=SC2206  # the patterns are meant to expand
inputs=(${WIRECHECK_MERGE_INPUTS:-reports/junit-*.xml reports/report-*.json})
if [ ${#inputs[@]} -eq 0 ]; then
  ci_say "error: no report matches ${WIRECHECK_MERGE_INPUTS:-reports/junit-*.xml reports/report-*.json}" >&2
  exit 2
fi
args=(merge)
junit=${WIRECHECK_JUNIT:-reports/junit.xml}
json=${WIRECHECK_JSON:-reports/report.json}
for f in "${inputs[@]}"; do
  case $f in
    *.xml) args+=(--junit "$junit"); break ;;
  esac
done
for f in "${inputs[@]}"; do
  case $f in
    *.json) args+=(--json "$json"); break ;;
  esac
done
ci_say "$WIRECHECK_BIN ${args[*]} ${inputs[*]}"
exec "$WIRECHECK_BIN" "${args[@]}" "${inputs[@]}"
