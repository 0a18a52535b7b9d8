#!/usr/bin/env bash
# Installs the real servers and report validators used by wirecheck's CI and integration tests:
# mosquitto (MQTT broker), prosody (XMPP server, with lua-unbound to silence its DNS banner),
# ejabberd 23.01 (XMPP server + MQTT broker, brings Erlang; ~32 MB download),
# xmllint (libxml2-utils), Python's junitparser and chromium (headless, for the HTML report
# test tests/html_report.rs). Idempotent: when everything is present it
# only says so. Services are never started by the install (policy-rc.d denies it).
set -euo pipefail

started=$(date +%s.%N)
elapsed() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "install.sh: $*"; }

APT_PACKAGES=(mosquitto prosody lua-unbound ejabberd libxml2-utils curl chromium)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
    say "error: must run as root (or with sudo available) to apt-get install ${APT_PACKAGES[*]}" >&2
    exit 1
  fi
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  say "apt packages already installed: ${APT_PACKAGES[*]}"
else
  say "missing apt packages: ${missing[*]}"
  # Keep maintainer scripts from starting the services (there may be systemd elsewhere).
  POLICY=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$POLICY" ]; then
    say "creating $POLICY (exit 101) so no service starts; it is removed afterwards"
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod +x "$POLICY"
    created_policy=1
  fi
  cleanup_policy() { if [ "$created_policy" = 1 ]; then "${SUDO[@]}" rm -f "$POLICY"; say "removed $POLICY"; fi; }
  trap cleanup_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  echo "+ apt-get update -qq"
  "${SUDO[@]}" apt-get update -qq
  echo "+ apt-get install -y -q --no-install-recommends ${missing[*]}"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  say "apt packages installed after $(elapsed) s"
fi

# junitparser for whichever python3 is first on PATH (pip), else Debian's package for /usr/bin/python3.
if python3 -c 'import junitparser' >/dev/null 2>&1; then
  say "python3 junitparser already importable ($(python3 -c 'import junitparser; print(junitparser.version)' 2>/dev/null || echo '?'))"
elif python3 -m pip --version >/dev/null 2>&1; then
  echo "+ python3 -m pip install --quiet --disable-pip-version-check junitparser"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore junitparser
else
  echo "+ apt-get install -y -q --no-install-recommends python3-junitparser"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends python3-junitparser
fi
python3 -c 'import junitparser' || { say "error: python3 still cannot import junitparser" >&2; exit 1; }

# Make sure nothing got started behind our back (e.g. on a machine with systemd).
for svc in mosquitto prosody ejabberd; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done

say "mosquitto: $(command -v mosquitto || echo 'NOT FOUND'), prosody: $(command -v prosody || echo 'NOT FOUND'), ejabberdctl: $(command -v ejabberdctl || echo 'NOT FOUND'), xmllint: $(command -v xmllint || echo 'NOT FOUND')"
say "done in $(elapsed) s"
