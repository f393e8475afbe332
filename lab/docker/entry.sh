#!/bin/sh
# Starts one role of the failover lab inside its container (docker-compose.yml and
# lab/containerlab/gtm.clab.yml). The files it runs were rendered into the image by
# `gtm lab render`, so the container lab matches `gtm lab up`.
#   router                       BIRD 2 upstream router (ECMP, BFD)
#   pop REGION N VIP             LB nodes, LB frontend on the VIP, BFD helper, agent (+gobgpd)
#   dns | control | etcd         GeoDNS server, control API, shared state
#   client GATEWAY               a user's machine: default route via the router
# LAB_LINKS="eth1=10.20.1.2/24 ..." (containerlab) waits for each interface and addresses
# it; with docker-compose the addresses come from the networks' IPAM instead. Every other
# address comes from addresses.env, rendered from lab/address-plan.ts by `gtm lab render`.
set -eu
# Paths in the image; the namespace test of this script points them at a checkout.
LAB=${GTM_LAB_FILES:-/var/lib/gtm-lab}
. "$LAB/addresses.env"
APP=${GTM_APP:-/opt/gtm}
GTM="node $APP/bin/gtm.js"
role=${1:?role: router | pop REGION N VIP | dns | control | etcd | client GATEWAY}
shift

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

for pair in ${LAB_LINKS:-}; do
  ifname=${pair%%=*}
  wait_for "interface $ifname" has_link "$ifname"
  ip addr replace "${pair#*=}" dev "$ifname"
  ip link set "$ifname" up
done

case "$role" in
  router)
    sysctl -qw net.ipv4.ip_forward=1 || true
    exec bird -f -c "$LAB/bird/rtr.conf" -s "$LAB/bird/rtr.ctl"
    ;;
  pop)
    region=$1 n=$2 vip=$3
    eval "gw=\$POP${n}_ROUTER lb1=\$POP${n}_LB1 lb2=\$POP${n}_LB2"
    ip route replace default via "$gw"
    for a in "$lb1/32" "$lb2/32" "$vip/32"; do ip addr replace "$a" dev lo; done
    node $APP/dist/lab/lb-node.js "$region-lb1" "$lb1" 8080 &
    node $APP/dist/lab/lb-node.js "$region-lb2" "$lb2" 8080 &
    node $APP/dist/lab/lb-frontend.js "$vip" 80 "$lb1:8080" "$lb2:8080" &
    bird -c "$LAB/bird/bfd-p$n.conf" -s "$LAB/bird/bfd-p$n.ctl"
    exec $GTM agent --config "$LAB/config.yaml" --pop "$region" --state-dir "$LAB/pops/$region"
    ;;
  dns)
    ip route replace default via "$ROUTER_ON_DNS"
    exec $GTM dns --config "$LAB/config.yaml"
    ;;
  control)
    # Shares the DNS container's network: waits for the address it binds.
    wait_for "address $DNS_IP" has_addr "$DNS_IP"
    exec $GTM control --config "$LAB/config.yaml"
    ;;
  etcd)
    wait_for "address $ETCD_IP" has_addr "$ETCD_IP"
    ip route replace default via "$ROUTER_ON_DNS"
    exec etcd --name lab --data-dir "${GTM_ETCD_DIR:-/var/lib/etcd}" \
      --listen-client-urls "http://$ETCD_IP:2379" --advertise-client-urls "http://$ETCD_IP:2379" \
      --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
      --initial-cluster lab=http://127.0.0.1:2380
    ;;
  client)
    ip route replace default via "${1:?client GATEWAY}"
    exec sleep infinity
    ;;
  *)
    echo "entry: unknown role $role" >&2
    exit 2
    ;;
esac
