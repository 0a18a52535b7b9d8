#!/usr/bin/env bash
# CI step: `wirecheck run` with reports. Inputs (environment; see common.sh for the binary):
#   WIRECHECK_TARGET     URL, profile or builtin [default: builtin]
#   WIRECHECK_CASES      case files or folders, space separated [default: $WIRECHECK_HOME/cases]
#   WIRECHECK_ARGS       further `run` arguments, split at spaces (e.g. "--tag qos1 -j 4")
#   WIRECHECK_PARTITION  hash:K/N: run one shard
#   WIRECHECK_JUNIT      JUnit XML report [default: wirecheck-junit.xml]
#   WIRECHECK_JSON       JSON report [default: none]
#   WIRECHECK_DEFER_EXIT 1: exit 0 and leave the run's exit code to a later step (finish.sh)
# Output: the exit code as `exit-code=N` in GITHUB_OUTPUT when that is set.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

: "${WIRECHECK_SNAPSHOT_DIR:=$WIRECHECK_HOME/snapshots}"
export WIRECHECK_SNAPSHOT_DIR
args=(run --target "${WIRECHECK_TARGET:-builtin}" --junit "${WIRECHECK_JUNIT:-wirecheck-junit.xml}")
if [ -n "${WIRECHECK_JSON:-}" ]; then args+=(--json "$WIRECHECK_JSON"); fi
if [ -n "${WIRECHECK_PARTITION:-}" ]; then args+=(--partition "$WIRECHECK_PARTITION"); fi
# shellcheck disable=SC2206  # word splitting of the free-form arguments is the point
if [ -n "${WIRECHECK_ARGS:-}" ]; then extra=($WIRECHECK_ARGS); args+=("${extra[@]}"); fi
# shellcheck disable=SC2206
cases=(${WIRECHECK_CASES:-$WIRECHECK_HOME/cases})
args+=("${cases[@]}")

ci_say "$WIRECHECK_BIN ${args[*]}"
rc=0
"$WIRECHECK_BIN" "${args[@]}" || rc=$?
ci_say "wirecheck run exited $rc"
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "exit-code=$rc" >> "$GITHUB_OUTPUT"; fi
if [ "${WIRECHECK_DEFER_EXIT:-0}" = 1 ]; then exit 0; fi
exit "$rc"
