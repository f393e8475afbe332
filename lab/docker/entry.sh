#!/bin/sh
# Starts one role of the failover lab inside its container (docker-compose.yml and
# lab/containerlab/gtm.clab.yml), as PID 1: it starts the role's processes, each logging to
# $LAB/logs/NAME.log (the names `gtm lab up` uses) with its PID in /run/gtm/NAME.pid, then waits,
# and on SIGTERM stops them. The files it runs were rendered by `gtm lab render` (into the image,
# or into the host's lab directory by `gtm lab up --engine compose`), so every lab runs the same.
#   router                       BIRD 2 upstream router (ECMP, BFD)
#   pop REGION N VIP             LB nodes, LB frontends (region VIP, shared anycast VIP), BFD helper, agent (+gobgpd)
#   dns | control | etcd         GeoDNS server; control API and the alert webhook; shared state
#   client NAME GATEWAY          a user's place: default route via the router, a vantage probe
# The product's processes (agent, DNS, control plane, probe) run under the restart policy the
# systemd units ship (deploy/systemd: started again 2 s after they exit, at most 5 starts in
# 30 s); the lab's fixtures (LB nodes, frontends, BIRD) do not: the drills break those on purpose.
# The drills reach into a running container with the same script (docker exec):
#   start lb REGION N NODE                           start an LB node again
#   signal SIG NAME...                               signal named processes (by their recorded PID)
# LAB_LINKS="eth1=198.19.1.2/24 ..." (containerlab) waits for each interface and addresses it;
# with compose the addresses come from the networks' IPAM. Every other address comes from
# addresses.env, rendered from lab/address-plan.ts.
set -eu
LAB=${GTM_LAB_DIR:-/var/lib/gtm-lab}
APP=${GTM_APP:-/opt/gtm}
PIDS=${GTM_PID_DIR:-/run/gtm}
. "$LAB/addresses.env"
GTM="$APP/bin/gtm.js"
role=${1:?role: router | pop REGION N VIP | dns | control | etcd | client NAME GATEWAY}
shift
mkdir -p "$PIDS" "$LAB/logs"

# run NAME CMD...: CMD in the background, output to its log, PID recorded.
run() {
  name=$1
  shift
  "$@" >>"$LAB/logs/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}

# supervise NAME CMD...: like run, started again 2 s after it exits (the units' Restart=always,
# RestartSec=2, StartLimitBurst=5 in 30 s). Each start records the child's PID as NAME; the loop
# itself is NAME.supervisor, and stops its child on SIGTERM.
supervise() {
  name=$1
  shift
  (
    set +e # a process's exit is expected here, not the end of the loop
    trap 'kill "$(cat "$PIDS/$name.pid")" 2>/dev/null; exit 0' TERM INT
    starts=""
    while :; do
      now=$(date +%s)
      recent=""
      for t in $starts; do [ $((now - t)) -lt 30 ] && recent="$recent $t"; done
      starts="$recent $now"
      [ "$(echo $starts | wc -w)" -le 5 ] || { echo "supervise $name: 5 starts within 30 s: giving up" >>"$LAB/logs/$name.log"; exit 1; }
      "$@" >>"$LAB/logs/$name.log" 2>&1 &
      echo $! >"$PIDS/$name.pid"
      wait $! || true
      echo "supervise $name: exited; starting again in 2 s" >>"$LAB/logs/$name.log"
      sleep 2
    done
  ) &
  echo $! >"$PIDS/$name.supervisor.pid"
}

# Waits up to 60 s for a condition (a command), else gives up naming what never appeared.
wait_for() {
  what=$1
  shift
  i=0
  until "$@"; do
    i=$((i + 1))
    [ "$i" -le 600 ] || { echo "entry: $what never appeared" >&2; exit 1; }
    sleep 0.1
  done
}
has_link() { ip link show "$1" >/dev/null 2>&1; }
has_addr() { ip -o addr show | grep -q " inet $1/"; }

lb_node() { # REGION N NODE
  eval "addr=\$POP${2}_LB${3}"
  run "$1-lb$3" node "$APP/dist/lab/lb-node.js" "$1-lb$3" "$addr" 8080
}
agent() { # REGION
  supervise "$1-agent" node "$GTM" agent --config "$LAB/config.yaml" --pop "$1" --state-dir "$LAB/pops/$1"
}

case "$role" in
  start)
    what=${1:?start lb REGION N NODE}
    shift
    case "$what" in
      lb) lb_node "$@" ;;
      *) echo "entry: cannot start $what" >&2; exit 2 ;;
    esac
    exit 0
    ;;
  signal)
    sig=${1:?signal SIG NAME...}
    shift
    for name in "$@"; do kill -s "$sig" "$(cat "$PIDS/$name.pid")" 2>/dev/null || true; done
    exit 0
    ;;
esac

for pair in ${LAB_LINKS:-}; do
  ifname=${pair%%=*}
  wait_for "interface $ifname" has_link "$ifname"
  ip addr add "${pair#*=}" dev "$ifname" 2>/dev/null || true
  ip link set "$ifname" up
done

case "$role" in
  router)
    sysctl -qw net.ipv4.ip_forward=1 || true
    run bird-rtr bird -f -c "$LAB/bird/rtr.conf" -s "$LAB/bird/rtr.ctl"
    ;;
  pop)
    region=$1 n=$2 vip=$3
    eval "gw=\$POP${n}_ROUTER lb1=\$POP${n}_LB1 lb2=\$POP${n}_LB2"
    ip route replace default via "$gw"
    for a in "$lb1/32" "$lb2/32" "$vip/32" "$ANYCAST_VIP/32"; do ip addr replace "$a" dev lo; done
    lb_node "$region" "$n" 1
    lb_node "$region" "$n" 2
    run "$region-frontend" node "$APP/dist/lab/lb-frontend.js" "$vip" 80 "$lb1:8080" "$lb2:8080"
    run "$region-frontend-anycast" node "$APP/dist/lab/lb-frontend.js" "$ANYCAST_VIP" 80 "$lb1:8080" "$lb2:8080"
    run "$region-bfd" bird -f -c "$LAB/bird/bfd-p$n.conf" -s "$LAB/bird/bfd-p$n.ctl"
    agent "$region"
    ;;
  dns)
    ip route replace default via "$ROUTER_ON_DNS"
    supervise dns node "$GTM" dns --config "$LAB/config.yaml"
    ;;
  control)
    # Shares the DNS container's network: waits for the address it serves.
    wait_for "address $DNS_IP" has_addr "$DNS_IP"
    run alert-receiver node "$APP/dist/lab/alert-receiver.js" 127.0.0.1 9199 "$LAB/logs/alerts.jsonl"
    supervise control node "$GTM" control --config "$LAB/config.yaml"
    ;;
  etcd)
    wait_for "address $ETCD_IP" has_addr "$ETCD_IP"
    has_addr "$DNS_IP" || ip route replace default via "$ROUTER_ON_DNS"
    run etcd etcd --name lab --data-dir "${GTM_ETCD_DIR:-/var/lib/etcd}" \
      --listen-client-urls "http://$ETCD_IP:2379" --advertise-client-urls "http://$ETCD_IP:2379" \
      --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
      --initial-cluster lab=http://127.0.0.1:2380
    ;;
  client)
    name=${1:?client NAME GATEWAY}
    ip route replace default via "${2:?client NAME GATEWAY}"
    supervise "probe-$name" node "$GTM" probe --config "$LAB/config.yaml" --name "$name"
    ;;
  *)
    echo "entry: unknown role $role" >&2
    exit 2
    ;;
esac

# PID 1 of the container: stop every recorded process on SIGTERM (agents withdraw their paths),
# the supervisors first so that none starts its process again.
stop() {
  for f in "$PIDS"/*.supervisor.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  for f in "$PIDS"/*.pid; do kill "$(cat "$f")" 2>/dev/null || true; done
  exit 0
}
trap stop TERM INT
echo "entry: $role running ($(ls "$PIDS" | grep -v '\.supervisor\.pid$' | sed 's/\.pid$//' | tr '\n' ' '))"
while :; do
  sleep 3600 &
  wait $! || true
done
