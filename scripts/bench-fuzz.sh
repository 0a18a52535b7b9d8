#!/usr/bin/env bash
# Measures `wirecheck fuzz` throughput (iterations, messages and mutated messages per second)
# against a local mosquitto with all oracles on (liveness probe after every batch, spec oracle;
# no --spawn, so no crash/RSS oracle: mosquitto is started by the recipe, not by the fuzzer).
# Usage: scripts/bench-fuzz.sh [SECONDS] [JOBS]   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
jobs="${2:-1024}"
dir="$(mktemp -d)"
trap 'bash scripts/servers/mosquitto.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
cargo build --release --quiet
bash scripts/servers/mosquitto.sh start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
url="${WIRECHECK_MOSQUITTO_URL:-mqtt://127.0.0.1:${MOSQUITTO_PORT:-1883}}"
echo "fuzzing $url for ${secs}s with -j $jobs"
WIRECHECK_SNAPSHOTS=off ./target/release/wirecheck fuzz --target "$url" \
  --duration "${secs}s" -j "$jobs" --seed 1 --out "$dir/findings" cases/mqtt/v311 cases/mqtt/v5 || true
