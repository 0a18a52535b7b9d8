#!/usr/bin/env bash
# CI step: ends the job with the exit code run.sh recorded (WIRECHECK_EXIT_CODE), after the
# report steps have run whatever it was.
set -euo pipefail
code=${WIRECHECK_EXIT_CODE:-}
case $code in
  ''|*[!0-9]*) echo "wirecheck-ci: error: no exit code of the run (WIRECHECK_EXIT_CODE='$code'): it did not finish" >&2; exit 2 ;;
esac
echo "wirecheck-ci: the run exited $code (0 pass, 1 check failed, 2 bad input, 3 unreachable, 4 nothing ran, 5 case error, 130 interrupted)"
exit "$code"
