#!/usr/bin/env bash
# Stress mode for the suite: runs the whole suite N times in a row (default 5), each run with
# retries off, and prints how long each took. With --hog, a CPU hog keeps one core busy for
# the whole time (the 2-core CI machine with a neighbour), so timing assumptions show up as
# failures here rather than as flakes at landing. Stops at the first failing run.
#   npm run test:repeat -- 5 --hog
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
hog=no
for a in "$@"; do
  case "$a" in
    --hog) hog=yes ;;
    *[!0-9]*|'') echo "usage: test-repeat.sh [N] [--hog]" >&2; exit 2 ;;
    *) runs=$a ;;
  esac
done
bash scripts/setup.sh
npm run --silent build
. scripts/lib/hog.sh
[ "$hog" = no ] || start_hog test-repeat
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if npx vitest run --retry 0; then rc=0; else rc=$?; fi
  echo "test-repeat: run $i of $runs: exit $rc in $(( $(date +%s) - start )) s"
  [ "$rc" -eq 0 ] || exit "$rc"
done
echo "test-repeat: $runs of $runs runs passed"
