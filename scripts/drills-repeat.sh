#!/usr/bin/env bash
# The newcomer's path, N times in a row: a fresh `gtm lab up`, then `gtm lab drill all`, then
# `gtm lab down`, each run in a lab of its own (prefix gtmrep-, directory /run/gtm-drills-repeat).
# With --hog a CPU hog keeps one of the two cores busy the whole time; --router frr runs FRR as
# the upstream router instead of BIRD; --store etcd shares state through a real etcd (and adds the
# store-lost-and-back drill). Stops at the first failing run and leaves nothing up.
#   npm run drills:repeat -- 5 --hog [--router frr] [--store etcd]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
hog=no
router=bird
store=file
while [ $# -gt 0 ]; do
  case "$1" in
    --hog) hog=yes ;;
    --router) router=${2:?--router bird|frr}; shift ;;
    --store) store=${2:?--store file|etcd}; shift ;;
    *[!0-9]*|'') echo "usage: drills-repeat.sh [N] [--hog] [--router bird|frr] [--store file|etcd]" >&2; exit 2 ;;
    *) runs=$1 ;;
  esac
  shift
done
case "$router" in bird|frr) ;; *) echo "drills-repeat: --router bird|frr" >&2; exit 2 ;; esac
case "$store" in file|etcd) ;; *) echo "drills-repeat: --store file|etcd" >&2; exit 2 ;; esac
what=$router
[ "$store" = file ] || what="$what, etcd"
[ "$hog" = no ] || what="$what, CPU hog"
npm run --silent build
export GTM_LAB_PREFIX=gtmrep- GTM_LAB_DIR=/run/gtm-drills-repeat
. scripts/lib/hog.sh
[ "$hog" = no ] || start_hog drills-repeat
trap 'node bin/gtm.js lab down >/dev/null 2>&1 || true; [ -z "${hog_pid:-}" ] || kill "$hog_pid" 2>/dev/null || true' EXIT
passed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  node bin/gtm.js lab up --router "$router" --store "$store" >/dev/null
  if node bin/gtm.js lab drill all; then rc=0; else rc=$?; fi
  node bin/gtm.js lab down
  echo "drills-repeat: run $i of $runs ($what): exit $rc in $(( $(date +%s) - start )) s"
  [ "$rc" -eq 0 ] || { echo "drills-repeat: $passed of $runs runs passed before run $i failed"; exit "$rc"; }
  passed=$((passed + 1))
done
echo "drills-repeat: $runs of $runs runs passed ($what)"
