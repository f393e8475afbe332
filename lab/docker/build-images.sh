#!/usr/bin/env bash
# Builds the lab's images without any image registry, each tagged by a hash of what it is made
# of, so an unchanged input is never built twice (a second `gtm lab up --engine compose` reuses them):
#   gtm-base:HASH      Debian bookworm (debootstrap --variant=minbase, then docker import)
#   gtm-lab-deps:HASH  + the Debian packages the lab runs (Dockerfile.deps, --network host)
#   gtm-lab:HASH       + the host's Node 20 binary and the built product (Dockerfile); also :latest
# Needs: docker (an engine; DOCKER_HOST is honoured), debootstrap, a built dist/ (npm run build).
#   bash lab/docker/build-images.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOCKER_BUILDKIT=0 # the classic builder: no buildx plugin needed, and --network host works
have() { docker image inspect "$1" >/dev/null 2>&1; }
hash() { sha256sum | cut -c1-16; }
[ -f dist/src/cli/index.js ] || { echo "build-images: run npm run build first" >&2; exit 1; }

suite=bookworm
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
base=gtm-base:$(printf 'debootstrap minbase %s %s\n' "$suite" "$mirror" | hash)
if ! have "$base"; then
  echo "build-images: $base: debootstrap $suite from $mirror (about 2 minutes, once)"
  rootfs=$(mktemp -d /var/tmp/gtm-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >/dev/null
  tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  rm -rf "$rootfs"
fi

deps=gtm-lab-deps:$( (echo "$base"; cat lab/docker/Dockerfile.deps) | hash)
if ! have "$deps"; then
  echo "build-images: $deps: Debian packages"
  docker build -q --network host --build-arg BASE="$base" -t "$deps" -f lab/docker/Dockerfile.deps lab/docker >/dev/null
fi

# The app's context, staged: only what runs (production dependencies, no optional geo data:
# the lab brings its own test geo database).
ctx=$(mktemp -d /var/tmp/gtm-lab-context.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/app"
cp "$(command -v node)" "$ctx/node"
cp lab/docker/Dockerfile lab/docker/entry.sh "$ctx/"
cp -a package.json bin dist examples gobgp "$ctx/app/"
mkdir -p "$ctx/app/geodata" && cp geodata/countries.csv "$ctx/app/geodata/"
# The batched UDP addon when it was built here (the image's Debian is the host's): without it the
# DNS server in the containers uses dgram, and says so.
if [ -f native/build/Release/udp_batch.node ]; then
  mkdir -p "$ctx/app/native/build/Release" && cp native/build/Release/udp_batch.node "$ctx/app/native/build/Release/"
fi
# Top-level packages only: a package's own nested node_modules come with it.
npm ls --omit=dev --omit=optional --all --parseable 2>/dev/null | sed -n "s|^$PWD/||p" |
  grep -E '^node_modules/(@[^/]+/)?[^/]+$' | sort -u |
  while read -r dir; do mkdir -p "$ctx/app/$(dirname "$dir")" && cp -a "$dir" "$ctx/app/$dir"; done
app=gtm-lab:$( (echo "$deps"; tar -C "$ctx" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c . ) | hash)
if ! have "$app"; then
  echo "build-images: $app: Node $(node --version) and the product"
  docker build -q --build-arg DEPS="$deps" -t "$app" "$ctx" >/dev/null
fi
docker tag "$app" gtm-lab:latest
# Older builds go: each input change makes a new tag, and the engine's disk is not unbounded.
for keep in "$base" "$deps" "$app"; do
  repo=${keep%%:*}
  for tag in $(docker images "$repo" --format '{{.Tag}}'); do
    [ "$tag" = latest ] || [ "$tag" = "${keep#*:}" ] || docker rmi "$repo:$tag" >/dev/null 2>&1 || true
  done
done
echo "build-images: gtm-lab:latest is $app"
