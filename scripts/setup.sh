#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine: the Debian packages
# (real DNS/BGP parts used by tests, benchmarks and the lab) and the npm dependencies.
# Idempotent: each step is skipped when already satisfied. Debian packages need root.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  knot-dnsutils dnsutils dnsperf gdnsd            # DNS clients, load generator, reference server
  unbound dnsviz                                  # validating resolver and DNSSEC analyser (DNSSEC tests)
  pdns-recursor knot-resolver                     # two more validating resolvers (the validator matrix)
  prometheus                                      # promtool and a real scrape of every /metrics
  prometheus-alertmanager                         # a real Alertmanager pushing alerts to the health webhook
  mmdb-bin                                        # mmdblookup: libmaxminddb, the strict MMDB reader
  iso-codes                                       # ISO 3166-2 subdivision names and codes (geo rules)
  gobgpd golang-github-osrg-gobgp-dev bird2       # BGP sidecar, its API protos, upstream router
  frr                                             # the other upstream router users run (interop)
  exabgp iproute2 procps curl                     # failover comparison peer, namespaces
  etcd-server chromium                            # shared state across machines; console tests (playwright-core)
  nsd knot bind9-utils                            # zone files: NSD (and its checker) beside gtm dns, Knot, named-checkzone
  docker.io docker-compose debootstrap            # the compose lab: engine, compose, base image without a registry
  gcc make python3                                # node-gyp builds the batched UDP addon (native/) at install
)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages (${missing[*]}); run this script as root" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps Debian from starting gdnsd/bird/gobgpd system services on install:
  # the project starts its own instances on its own ports.
  # An operator's own policy-rc.d is left alone.
  ours=no
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    ours=yes
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$ours" = no ] || rm -f /usr/sbin/policy-rc.d
fi

# The npm dependencies exactly as the lockfile says (`npm ci`), when they are missing or older
# than the lockfile. .npmrc sets engine-strict: a dependency that does not run on this Node is an
# error here, not a surprise later. `prepare` builds dist/.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# The batched UDP addon, built by npm's install step; again when its source is newer (a pull).
if [ ! -e native/build/Release/udp_batch.node ] || [ native/udp_batch.c -nt native/build/Release/udp_batch.node ]; then
  node scripts/build-native.mjs
fi
