#!/usr/bin/env bash
# CI step: install wirecheck from its checkout with `cargo install --locked --path`, unless
# WIRECHECK_BIN already names a binary (then it is only checked). On GitHub Actions the install's
# bin folder is added to GITHUB_PATH. Inputs: see common.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ -n "${WIRECHECK_BIN:-}" ] && [ "$WIRECHECK_BIN" != wirecheck ]; then
  [ -x "$WIRECHECK_BIN" ] || { ci_say "error: WIRECHECK_BIN=$WIRECHECK_BIN is not an executable file" >&2; exit 2; }
  ci_say "using $WIRECHECK_BIN ($("$WIRECHECK_BIN" --version)); no install"
  exit 0
fi
ci_say "cargo install --locked --path $WIRECHECK_HOME --root $WIRECHECK_INSTALL_ROOT"
cargo install --locked --path "$WIRECHECK_HOME" --root "$WIRECHECK_INSTALL_ROOT" --bin wirecheck
if [ -n "${GITHUB_PATH:-}" ]; then echo "$WIRECHECK_INSTALL_ROOT/bin" >> "$GITHUB_PATH"; fi
"$WIRECHECK_INSTALL_ROOT/bin/wirecheck" --version
