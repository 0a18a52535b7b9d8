# Shared by the scripts/ci/*.sh steps (sourced, not run): where wirecheck's checkout is and which
# binary to run. Inputs (environment):
#   WIRECHECK_HOME          wirecheck's checkout [default: the folder above scripts/]
#   WIRECHECK_BIN           a wirecheck binary to use as it is (skips the install)
#   WIRECHECK_INSTALL_ROOT  where install.sh puts it [default: $HOME/.wirecheck]
# shellcheck shell=bash
WIRECHECK_HOME=${WIRECHECK_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WIRECHECK_INSTALL_ROOT=${WIRECHECK_INSTALL_ROOT:-${HOME:-/tmp}/.wirecheck}
if [ -z "${WIRECHECK_BIN:-}" ]; then
  if [ -x "$WIRECHECK_INSTALL_ROOT/bin/wirecheck" ]; then
    WIRECHECK_BIN=$WIRECHECK_INSTALL_ROOT/bin/wirecheck
  else
    WIRECHECK_BIN=wirecheck
  fi
fi
ci_say() { echo "wirecheck-ci: $*"; }
