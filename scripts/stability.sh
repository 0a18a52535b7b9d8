#!/usr/bin/env bash
# Runs the same suite N times against one target and checks every case gets the same verdict
# each time (flakiness check; not part of CI).
#   scripts/stability.sh N TARGET [extra `wirecheck run` args, e.g. cases/mqtt]
# TARGET is anything `wirecheck run --target` takes. Exit 0 when every case kept its verdict,
# 1 when some case changed (each listed with its verdicts per run), 2 on usage errors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -ge 2 ] || { echo "usage: $0 N TARGET [run args...]" >&2; exit 2; }
N=$1 TARGET=$2
shift 2
cargo build --release --quiet
DIR=$(mktemp -d "${TMPDIR:-/tmp}/wirecheck-stability.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
for i in $(seq "$N"); do
  rc=0
  target/release/wirecheck run --target "$TARGET" --snapshots off --json "$DIR/run-$i.json" "$@" \
    >/dev/null 2>"$DIR/err-$i" || rc=$?
  if [ "$rc" -ge 2 ] && [ "$rc" -ne 5 ]; then cat "$DIR/err-$i" >&2; echo "run $i: exit $rc" >&2; exit 1; fi
  echo "run $i: exit $rc"
done
python3 - "$DIR" "$N" <<'PY'
import json, sys, collections
d, n = sys.argv[1], int(sys.argv[2])
seen = collections.defaultdict(list)
for i in range(1, n + 1):
    for c in json.load(open(f"{d}/run-{i}.json"))["cases"]:
        seen[c["id"]].append(c["verdict"])
changed = {k: v for k, v in seen.items() if len(set(v)) > 1 or len(v) != n}
counts = collections.Counter(v[0] for v in seen.values())
print(f"{len(seen)} cases x {n} runs; first-run verdicts: {dict(counts)}")
for k, v in sorted(changed.items()):
    print(f"UNSTABLE {k}: {' '.join(v)}")
print("stable: every case kept its verdict" if not changed else f"{len(changed)} case(s) changed verdict")
sys.exit(1 if changed else 0)
PY
