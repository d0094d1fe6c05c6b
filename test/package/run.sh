#!/usr/bin/env bash
# The packaging tests (npm run test:package; .ci/run calls it): the container image
# (image.sh: stand-in base, podman build, run from the image, aws-cli) and the Helm chart
# (helm.spec: lint, template, schema, the rendered container run against s3mux), in parallel.
# Needs root, podman, debootstrap, unzip (.ci/run installs them) and a built dist/.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/fetch-tools.sh
logs=$(mktemp -d)
start=$(date +%s)
test/package/image.sh >"$logs/image.log" 2>&1 & image=$!
npx mocha --no-config --timeout 180000 --enable-source-maps dist/test/package/helm.spec.js >"$logs/helm.log" 2>&1 & chart=$!
status=0
wait "$image" || status=1
wait "$chart" || status=1
echo "--- image ---"; cat "$logs/image.log"
echo "--- helm chart ---"; grep -v -e NodeVersionSupportWarning -e 'versions published after' -e 'will require node' -e 'To continue receiving' -e 'and security updates' -e 'More information can be found' -e 'trace-warnings' "$logs/helm.log"
echo "packaging tests: $([ $status = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
rm -rf "$logs"
exit $status
