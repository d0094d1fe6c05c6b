#!/usr/bin/env bash
# Builds the container image for real and runs what it holds. No registry is reachable and
# `podman run` cannot set rlimits here, so: a stand-in base (base-image.sh), `podman build
# --isolation chroot --pull=never`, then the image's filesystem mounted and s3mux started in it
# by chroot with the image's own USER, WORKDIR, ENV, ENTRYPOINT and CMD (read from the image,
# not copied here), a temp dir bind-mounted on its /data volume, and `docker run -e`-style
# MINIO_ROOT_USER/PASSWORD. aws-cli then drives it; SIGTERM must stop it with exit 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=localhost/s3mux:test
AWS=/usr/bin/aws
fail() { echo "image test FAILED: $*" >&2; exit 1; }

test/package/base-image.sh
start=$(date +%s)
podman build --isolation chroot --pull=never --format docker -t "$IMAGE" . >.cache/image-build.log 2>&1 || { tail -40 .cache/image-build.log; fail "podman build"; }
echo "built $IMAGE in $(( $(date +%s) - start )) s" >&2

# What the image says about itself.
config=$(podman image inspect --format '{{json .Config}}' "$IMAGE")
field() { node -e 'const c=JSON.parse(process.argv[1]); const v=process.argv[2].split(".").reduce((o,k)=>o?.[k],c); console.log(Array.isArray(v)?v.join("\n"):typeof v==="object"?JSON.stringify(v):(v??""))' "$config" "$1"; }
user=$(field User); workdir=$(field WorkingDir)
mapfile -t entrypoint < <(field Entrypoint); mapfile -t cmd < <(field Cmd); mapfile -t env < <(field Env)
hc=$(podman image inspect --format '{{json .HealthCheck}}' "$IMAGE")
mapfile -t healthcheck < <(node -e 'console.log((JSON.parse(process.argv[1])?.Test ?? []).join("\n"))' "$hc")
[ "$user" = "1000:1000" ] || fail "USER is '$user', not the non-root 1000:1000"
[ "$(field ExposedPorts)" = '{"9000/tcp":{}}' ] || fail "EXPOSE: $(field ExposedPorts)"
[ "$(field Volumes)" = '{"/data":{}}' ] || fail "VOLUME: $(field Volumes)"
[ "${healthcheck[0]}" = "CMD" ] || fail "no HEALTHCHECK"
[ "${entrypoint[0]}" = "node" ] || fail "ENTRYPOINT should exec node directly (signals): ${entrypoint[*]}"

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$(sed -n 's/^FROM \([^ ]*\).*/\1/p' Dockerfile | tail -1)")
echo "image size: $(( size / 1048576 )) MiB ($(( (size - base_size) / 1048576 )) MiB over the base)" >&2

root=$(podman image mount "$IMAGE")
data=$(mktemp -d); out=$(mktemp)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  umount "$root/data" 2>/dev/null || true
  podman image unmount "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$data" "$out"
}
trap cleanup EXIT

# Production dependencies only.
for dev in azurite firebase-tools s3rver mocha typescript chai @aws-sdk/client-s3 minio; do
  [ ! -e "$root/app/node_modules/$dev" ] || fail "dev dependency $dev is in the image"
done
for dep in pino fast-xml-parser undici @aws-sdk/credential-providers; do
  [ -e "$root/app/node_modules/$dep" ] || fail "production dependency $dep missing from the image"
done
echo "node_modules in the image: $(du -sh "$root/app/node_modules" | cut -f1)" >&2

chown 1000:1000 "$data"
mount --bind "$data" "$root/data"
port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# docker run -e: the address (a free port here; 9000 in the image) and MinIO's credential variables.
run_env=("${env[@]}" "S3MUX_ADDRESS=127.0.0.1:$port" "MINIO_ROOT_USER=imageadmin" "MINIO_ROOT_PASSWORD=image-secret-123")
quoted=$(printf ' %q' "${entrypoint[@]}" "${cmd[@]}")
chroot --userspec="$user" "$root" /usr/bin/env -i "${run_env[@]}" /bin/sh -c "cd $(printf %q "$workdir") && exec$quoted" >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
grep -q "s3mux listening on http://127.0.0.1:$port" "$out" || { cat "$out"; fail "s3mux did not start from the image"; }
grep -q 'root credentials: from MINIO_ROOT_USER / MINIO_ROOT_PASSWORD' "$out" || { cat "$out"; fail "MINIO_ROOT_* not used"; }
[ "$(stat -c %u /proc/$pid)" = 1000 ] || fail "s3mux runs as uid $(stat -c %u /proc/$pid)"

export AWS_ACCESS_KEY_ID=imageadmin AWS_SECRET_ACCESS_KEY=image-secret-123 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
ep=(--endpoint-url "http://127.0.0.1:$port")
head -c 3000000 /dev/urandom > "$data.in"
$AWS "${ep[@]}" s3 mb s3://image-test >/dev/null
$AWS "${ep[@]}" s3 cp "$data.in" s3://image-test/dir/blob.bin >/dev/null
$AWS "${ep[@]}" s3 ls s3://image-test/dir/ | grep -q ' 3000000 blob.bin' || fail "aws s3 ls"
$AWS "${ep[@]}" s3 cp s3://image-test/dir/blob.bin "$data.out" >/dev/null
cmp "$data.in" "$data.out" || fail "downloaded bytes differ"
rm -f "$data.in" "$data.out"
[ "$(stat -c %u "$data/image-test")" = 1000 ] || fail "the /data volume is not written by uid 1000"
# Health, MinIO-style and by the image's own HEALTHCHECK command.
curl -sf "http://127.0.0.1:$port/minio/health/live" >/dev/null || fail "/minio/health/live"
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || fail "/readyz"
chroot --userspec="$user" "$root" /usr/bin/env -i "${run_env[@]}" "${healthcheck[@]:1}" || fail "HEALTHCHECK command failed"
$AWS "${ep[@]}" s3 rm --recursive s3://image-test >/dev/null
$AWS "${ep[@]}" s3 rb s3://image-test >/dev/null

kill -TERM "$pid"
code=0; wait "$pid" || code=$?
pid=
[ "$code" = 0 ] || { cat "$out"; fail "exit code $code after SIGTERM"; }
grep -q '"msg":"stopped"' "$out" || { cat "$out"; fail "no graceful stop"; }
echo "image test passed: $(( size / 1048576 )) MiB image; aws-cli mb/cp/ls/cp/rm/rb, health, SIGTERM exit 0" >&2
