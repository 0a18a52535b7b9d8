#!/usr/bin/env bash
# XMPP-over-WebSocket interop matrix (by hand, not part of CI): starts prosody and ejabberd on
# loopback with the project's scripts (scripts/servers/*.sh, free ports), runs the whole XMPP suite
# against the built-in reference server and each of them, writes one JSON report per run to
# reports/interop/xmpp-*.json and generates reports/interop-xmpp.md with scripts/interop/report.py.
# Non-passes are explained by their skip reason, by the profile's declared deviation, or by a
# hand-kept entry in reports/interop-xmpp-notes.yaml. The servers are stopped at the end, also
# on error or Ctrl-C.
#
#   scripts/interop-xmpp.sh                  # build wirecheck (release) if needed, run, report
#   scripts/interop-xmpp.sh --report-only    # regenerate reports/interop-xmpp.md
#
# Exit code: 0 when every run produced a report, 1 otherwise.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
OUT=$ROOT/reports/interop
REPORT=$ROOT/reports/interop-xmpp.md
NOTES=$ROOT/reports/interop-xmpp-notes.yaml
WIRECHECK=${CARGO_TARGET_DIR:-$ROOT/target}/release/wirecheck
say() { echo "interop-xmpp: $*"; }
die() { echo "interop-xmpp: error: $*" >&2; exit 1; }

generate() {
  python3 "$ROOT/scripts/interop/report.py" --protocol XMPP --runs "$OUT/xmpp-runs.tsv" \
    --notes "$NOTES" --out "$REPORT" --root "$ROOT"
}
case "${1:-}" in
  --report-only) generate; exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) die "unknown option $1 (see --help)" ;;
esac

[ -f "$NOTES" ] || die "$NOTES is missing"
[ -x "$WIRECHECK" ] || (cd "$ROOT" && cargo build --release --quiet)
RUN=$(mktemp -d /tmp/wirecheck-interop-xmpp.XXXXXX)
stop_all() {
  for s in prosody ejabberd; do
    [ -f "$RUN/$s/pid" ] && bash "$ROOT/scripts/servers/$s.sh" stop "$RUN/$s" || true
  done
  rm -rf "$RUN"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
printf 'broker\ttransport\tversion\tprofile\tstatus\texit\tjson\n' > "$OUT/xmpp-runs.tsv"
all_ok=1
declare -A up=([reference]=1)
for s in prosody ejabberd; do
  if bash "$ROOT/scripts/servers/$s.sh" start "$RUN/$s" > "$RUN/$s-start.log" 2>&1; then
    up[$s]=1
  else
    say "$s did not start:"; tail -n 20 "$RUN/$s-start.log" >&2
  fi
done
for s in reference prosody ejabberd; do
  profile=targets/$s.yaml
  row() { printf '%s\tws\tRFC 7395\t%s\t%s\t%s\t%s\n' "$s" "$profile" "$1" "$2" "$3" >> "$OUT/xmpp-runs.tsv"; }
  if [ "${up[$s]:-0}" != 1 ]; then row "not run: $s did not start" "" ""; all_ok=0; continue; fi
  json=$OUT/xmpp-$s.json
  rc=0
  (
    [ "$s" = reference ] || { set -a; . "$RUN/$s/env"; set +a; }
    timeout -k 10 900 "$WIRECHECK" run --target "$profile" --snapshots off --json "$json" cases/xmpp
  ) > "$OUT/xmpp-$s.log" 2>&1 || rc=$?
  grep -E '^[0-9]+ passed|^target ' "$OUT/xmpp-$s.log" | sed 's/^/  /' || true
  if [ -s "$json" ]; then row ran "$rc" "${json#"$ROOT"/}"; else row "no report (exit $rc)" "$rc" ""; all_ok=0; tail -n 20 "$OUT/xmpp-$s.log"; fi
done
generate
[ "$all_ok" = 1 ]
