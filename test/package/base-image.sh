#!/usr/bin/env bash
# Makes a stand-in for the Dockerfile's base image (no registry is reachable here): a Debian
# bookworm minbase root with Node 24 and npm laid out as in the official node image, imported
# into podman under the exact name the Dockerfile's FROM uses. The debootstrap result is cached
# in .cache/base/ (the slow part, 2-3 min); the image itself is kept in podman's store.
# The registry CA of this machine goes into the stand-in only, never into the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' Dockerfile | head -1)
CACHE="$PWD/.cache/base"
if podman image exists "$BASE"; then echo "stand-in base $BASE present" >&2; exit 0; fi
scripts/fetch-tools.sh node24
mkdir -p "$CACHE"
if [ ! -f "$CACHE/minbase.tar" ]; then
  # The Debian mirror apt already uses here (a deb line or a deb822 URIs field).
  mirror=$( (grep -rhE '^(deb|URIs:) ' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true) \
    | awk '{print $2}' | grep -E '/debian/?$' | head -1)
  echo "debootstrap bookworm from ${mirror} (cached in .cache/base)" >&2
  root=$(mktemp -d "$CACHE/.root.XXXXXX")
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  tar -C "$root" -cf "$CACHE/minbase.tar.part" . && mv "$CACHE/minbase.tar.part" "$CACHE/minbase.tar"
  rm -rf "$root"
fi
root=$(mktemp -d "$CACHE/.root.XXXXXX")
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xf "$CACHE/minbase.tar"
install -m 0755 .cache/node24/bin/node "$root/usr/local/bin/node"
npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..
mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/etc"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# The official image has a 'node' user (uid 1000); s3mux's Dockerfile relies on it.
chroot "$root" /usr/sbin/groupadd --gid 1000 node
chroot "$root" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || { mkdir -p "$root/etc/ssl/certs"; cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"; }
echo 'cafile=/etc/ssl/certs/ca-certificates.crt' > "$root/usr/local/etc/npmrc"
tar -C "$root" -c . | podman import --change 'CMD ["node"]' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE" >/dev/null
echo "stand-in base $BASE imported" >&2
