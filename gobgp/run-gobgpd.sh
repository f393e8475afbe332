#!/usr/bin/env bash
# Watchdog for the agent's "withdraw on agent death" policy: runs gobgpd, prints its PID,
# and stops it when the agent is gone or hung: its standard input closes (the agent died for
# any reason, even SIGKILL) or falls silent for GTM_AGENT_LIVENESS_S seconds (the agent ticks
# it while its event loop runs; a SIGSTOPped or stuck agent does not). gobgpd then sends
# NOTIFICATION and the routers withdraw at once.
# Usage: GTM_AGENT_LIVENESS_S=2 run-gobgpd.sh GOBGPD_BINARY [gobgpd args...]   (stdin: a pipe from the agent)
set -u
bin=$1; shift
timeout=${GTM_AGENT_LIVENESS_S:-2}
# Keep the agent's pipe on fd 3: bash gives background jobs /dev/null as stdin otherwise.
exec 3<&0
"$bin" "$@" </dev/null &
pid=$!
echo "$pid"
# Each tick is one byte; read returns non-zero at end of file and on time-out alike.
( while IFS= read -r -s -n 1 -t "$timeout" _ <&3; do :; done; kill -TERM "$pid" 2>/dev/null ) &
watcher=$!
wait "$pid"
rc=$?
kill "$watcher" 2>/dev/null
exit "$rc"
