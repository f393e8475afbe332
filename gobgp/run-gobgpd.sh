#!/usr/bin/env bash
# Watchdog for the agent's "withdraw on agent death" policy: runs gobgpd, prints its PID,
# and stops it when its standard input closes, which happens when the agent dies for any
# reason (even SIGKILL). gobgpd then sends NOTIFICATION and the routers withdraw at once.
# Usage: run-gobgpd.sh GOBGPD_BINARY [gobgpd args...]   (stdin: a pipe from the agent)
set -u
bin=$1; shift
# Keep the agent's pipe on fd 3: bash gives background jobs /dev/null as stdin otherwise.
exec 3<&0
"$bin" "$@" </dev/null &
pid=$!
echo "$pid"
# Stop gobgpd when the agent's pipe closes; exit when gobgpd exits by itself.
( cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null ) &
watcher=$!
wait "$pid"
rc=$?
kill "$watcher" 2>/dev/null
exit "$rc"
