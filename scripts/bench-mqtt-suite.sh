#!/usr/bin/env bash
# Benchmark of the whole MQTT suite against a local mosquitto (not a timed test): wall time,
# cases/s, exchanges/s (messages sent + received) and peak RSS of the wirecheck process.
#   scripts/bench-mqtt-suite.sh [RUNS] [extra `wirecheck run` args...]
# RUNS (default 5) runs with all cases, then RUNS runs without the `slow`-tagged cases, which bound
# the wall time (keep-alive and will-delay cases wait seconds on purpose). Prints one line per run
# and the median of each figure. Starts and stops its own mosquitto in a temp dir.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-5}
shift || true
JOBS=${BENCH_JOBS:-16}

cargo build --release --quiet
BIN=target/release/wirecheck
DIR=$(mktemp -d "${TMPDIR:-/tmp}/wirecheck-bench.XXXXXX")
trap 'bash scripts/servers/mosquitto.sh stop "$DIR/mosquitto" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
bash scripts/servers/mosquitto.sh start "$DIR/mosquitto" >/dev/null
set -a; . "$DIR/mosquitto/env"; set +a

one() { # label args...: one run, prints "label wall_s cases exchanges rss_kib"
  local label=$1 rc=0
  shift
  /usr/bin/time -f '%e %M' -o "$DIR/time" "$BIN" run --target targets/mosquitto.yaml -j "$JOBS" \
    --snapshots off --json "$DIR/r.json" "$@" cases/mqtt >/dev/null 2>"$DIR/err" || rc=$?
  [ "$rc" -le 1 ] || { cat "$DIR/err" >&2; echo "wirecheck exited $rc" >&2; exit 1; }
  python3 - "$label" "$DIR/r.json" "$DIR/time" <<'PY'
import json, sys
label, report, timing = sys.argv[1:4]
r = json.load(open(report))
ran = [c for c in r["cases"] if c["verdict"] not in ("skip",)]
exchanges = sum(1 for c in ran for e in c["transcript"] if e["direction"] in ("sent", "received"))
wall, rss = open(timing).read().split()
wall = float(wall)
print(f"{label} {wall:.2f} {len(ran)} {exchanges} {rss}")
PY
}

summary() { # label: median of the lines read from stdin
  python3 -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
for r in rows:
    w, n, x, rss = float(r[1]), int(r[2]), int(r[3]), int(r[4])
    print(f"  run: {w:6.2f} s  {n} cases  {n / w:7.1f} cases/s  {x / w:8.0f} exchanges/s  peak RSS {rss / 1024:.1f} MiB")
w = statistics.median(float(r[1]) for r in rows); n = int(rows[0][2]); x = int(rows[0][3])
rss = max(int(r[4]) for r in rows)
print(f"{sys.argv[1]}: median {w:.2f} s, {n} cases, {n / w:.1f} cases/s, {x / w:.0f} exchanges/s, max peak RSS {rss / 1024:.1f} MiB")
' "$1"
}

echo "wirecheck MQTT suite vs mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}'), -j $JOBS, $RUNS runs each, $(nproc) CPUs"
for _ in $(seq "$RUNS"); do one all "$@"; done | summary "all cases"
for _ in $(seq "$RUNS"); do one fast --exclude-tag slow "$@"; done | summary "without slow cases"
