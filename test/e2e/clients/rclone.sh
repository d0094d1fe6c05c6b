#!/usr/bin/env bash
# rclone scenario (s3 backend, provider Other, SigV4, path style; generated config in the work dir):
# mkdir (bucket), copyto (single and multipart), lsjson/md5sum, lsf, cat, cat --offset/--count
# (ranged GETs), rcat (stream), sync up/down twice, sync deleting a file, check, server-side
# copyto, moveto, settier, link (presign) + curl, backend list-multipart-uploads/cleanup, deletefile,
# delete, rmdir, purge.
. "$(dirname "$0")/common.sh"

CONF=$WORK_DIR/rclone.conf
cat >"$CONF" <<EOF
[s3mux]
type = s3
provider = Other
env_auth = false
access_key_id = $S3_ACCESS_KEY
secret_access_key = $S3_SECRET_KEY
endpoint = $S3_ENDPOINT
region = $S3_REGION
force_path_style = true
v2_auth = false
EOF
# Global options through rclone's environment variables (keeps the command lines in messages short).
export RCLONE_CONFIG=$CONF RCLONE_RETRIES=1 RCLONE_LOW_LEVEL_RETRIES=2 RCLONE_CONTIMEOUT=10s RCLONE_TIMEOUT=60s
export RCLONE_CACHE_DIR=$WORK_DIR/rclone-cache
[ -z "$S3_CA_FILE" ] || export RCLONE_CA_CERT=$S3_CA_FILE
RCLONE=(rclone)
rc() { x "${RCLONE[@]}" "$@"; }
echo "VERSION $(rclone version 2>&1 | head -n 1)"

B=$S3_BUCKET
R=s3mux:$B
D=$WORK_DIR/data
N=60
mkdir -p "$D/dl" "$D/down"
head -c 3456 /dev/urandom >"$D/small.bin"
head -c $((12 * 1024 * 1024 + 5)) /dev/urandom >"$D/big.bin"
head -c $((7 * 1024 * 1024 + 9)) /dev/urandom >"$D/stream.bin"
make_tree "$D/tree" $N

fetch() {
  local code
  code=$(x curl -sS ${S3_CA_FILE:+--cacert "$S3_CA_FILE"} -o "$2" -w '%{http_code}' "$1")
  [ "$code" = 200 ] || fail "GET presigned URL -> HTTP $code: $(head -c 300 "$2" 2>/dev/null | tr '\n' ' ')"
}

t_mb() { rc mkdir "$R"; }

t_list_buckets() {
  local out
  out=$(rc lsd s3mux:)
  grep -qE " $B\$" <<<"$out" || fail "$B not in 'rclone lsd s3mux:': $out"
}

t_put() {
  local out
  out=$(rc copyto -v "$D/small.bin" "$R/small.bin" 2>&1)
  grep -q 'Copied (new)' <<<"$out" || fail "rclone copyto did not report 'Copied (new)': $(tail -n 2 <<<"$out" | tr '\n' ' ')"
  rc copyto "$R/small.bin" "$D/dl/put-check.bin"
  same "$D/small.bin" "$D/dl/put-check.bin"
}

t_multipart() {
  # 12 MiB with a 5 MiB cutoff and chunk size: a 3-part multipart upload.
  rc copyto -v --s3-upload-cutoff 5M --s3-chunk-size 5M "$D/big.bin" "$R/big.bin"
  rc copyto "$R/big.bin" "$D/dl/mp-check.bin"
  same "$D/big.bin" "$D/dl/mp-check.bin"
}

t_get() {
  rc copyto "$R/small.bin" "$D/dl/small.bin"
  same "$D/small.bin" "$D/dl/small.bin"
  rc cat "$R/big.bin" >"$D/dl/big.bin"
  same "$D/big.bin" "$D/dl/big.bin"
}

t_head() {
  local out
  out=$(rc lsjson --stat --hash "$R/small.bin")
  grep -qE '"Size": ?3456,' <<<"$out" || fail "lsjson --stat: no Size 3456: $(tr -d '\n\t' <<<"$out")"
  grep -qE "\"md5\": ?\"$(md5 "$D/small.bin")\"" <<<"$out" || fail "lsjson --stat: md5 (the ETag) is not the file's MD5: $(tr -d '\n\t' <<<"$out")"
  # For a multipart object rclone takes the MD5 from the metadata it stored (X-Amz-Meta-Md5chksum).
  out=$(rc md5sum "$R/big.bin")
  [ "${out%% *}" = "$(md5 "$D/big.bin")" ] || fail "rclone md5sum big.bin = '${out%% *}', expected $(md5 "$D/big.bin")"
}

t_sync() {
  local out n
  out=$(rc sync -v "$D/tree" "$R/tree" 2>&1)
  n=$(count ': Copied \(new\)' "$out")
  [ "$n" -eq $N ] || fail "first sync copied $n files, expected $N"
  rc sync "$R/tree" "$D/down"
  same_tree "$D/tree" "$D/down"
}

t_sync_noop() {
  local out n
  out=$(rc sync -v "$D/tree" "$R/tree" 2>&1)
  n=$(count ': (Copied|Updated modification time)' "$out")
  [ "$n" -eq 0 ] || fail "second sync transferred or touched $n files, expected 0: $(grep -m2 -E ': (Copied|Updated)' <<<"$out" | tr '\n' ' ')"
}

t_check() { rc check "$D/tree" "$R/tree"; }

t_list() {
  local out
  out=$(rc lsf "$R")
  [ "$(printf '%s\n' big.bin small.bin tree/)" = "$out" ] || fail "'rclone lsf' printed: $(tr '\n' ' ' <<<"$out")"
}

t_list_recursive() {
  local out n
  out=$(rc lsf -R --files-only "$R/tree")
  n=$(wc -l <<<"$out")
  [ "$n" -eq $N ] || fail "'rclone lsf -R' listed $n files, expected $N"
  grep -qxF 'd0/file with space 0.txt' <<<"$out" || fail "key with spaces missing from 'rclone lsf -R'"
  grep -qxF 'd2/ünïcødé-2.txt' <<<"$out" || fail "unicode key missing from 'rclone lsf -R'"
}

t_copy() {
  local out
  out=$(rc copyto -v "$R/small.bin" "$R/copies/small.bin" 2>&1)
  grep -q 'server-side copy' <<<"$out" || fail "rclone did not copy server-side: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
  rc cat "$R/copies/small.bin" >"$D/dl/copy.bin"
  same "$D/small.bin" "$D/dl/copy.bin"
}

t_presign_get() {
  local url
  url=$(rc link --expire 5m "$R/small.bin")
  fetch "$url" "$D/dl/presigned.bin"
  same "$D/small.bin" "$D/dl/presigned.bin"
}

t_range_get() {
  # cat --offset/--count: ranged GETs (a range from an offset, and the last bytes).
  rc cat --offset 1000 --count 500 "$R/big.bin" >"$D/dl/range.bin"
  dd if="$D/big.bin" of="$D/dl/range-expected.bin" bs=500 skip=2 count=1 status=none
  same "$D/dl/range-expected.bin" "$D/dl/range.bin"
  rc cat --offset -300 "$R/big.bin" >"$D/dl/tail.bin"
  tail -c 300 "$D/big.bin" >"$D/dl/tail-expected.bin"
  same "$D/dl/tail-expected.bin" "$D/dl/tail.bin"
}

t_put_stream() {
  # rcat: a stream of unknown size, uploaded in 5 MiB parts as it is read (here 2).
  rc rcat --s3-chunk-size 5M "$R/stream.bin" <"$D/stream.bin"
  rc cat "$R/stream.bin" >"$D/dl/stream.bin"
  same "$D/stream.bin" "$D/dl/stream.bin"
}

t_mv() {
  # moveto local -> s3, then s3 -> s3 (a server-side copy and a delete): each source is gone.
  local out
  cp "$D/small.bin" "$D/to-move.bin"
  rc moveto "$D/to-move.bin" "$R/moving/a.bin"
  [ ! -e "$D/to-move.bin" ] || fail "rclone moveto left the local source behind"
  out=$(rc moveto -v "$R/moving/a.bin" "$R/moving/b.bin" 2>&1)
  grep -q 'server-side' <<<"$out" || fail "rclone did not move server-side: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
  out=$(rc lsf "$R/moving")
  [ "$out" = b.bin ] || fail "after moveto, moving/ holds: $(tr '\n' ' ' <<<"$out")"
  rc cat "$R/moving/b.bin" >"$D/dl/moved.bin"
  same "$D/small.bin" "$D/dl/moved.bin"
  rc purge "$R/moving"
}

t_sync_delete() {
  local out n
  rm "$D/tree/d4/f4.txt"
  out=$(rc sync -v "$D/tree" "$R/tree" 2>&1)
  n=$(count 'd4/f4.txt: Deleted' "$out")
  [ "$n" -eq 1 ] || fail "sync did not delete d4/f4.txt: $(grep -E 'Deleted|Copied' <<<"$out" | head -n 3 | tr '\n' ' ')"
  [ "$(count ': Copied' "$out")" -eq 0 ] || fail "sync copied files: $(grep -m2 ': Copied' <<<"$out" | tr '\n' ' ')"
  rc check "$D/tree" "$R/tree"
}

t_abort_multipart() {
  # An upload left behind (started with curl), listed and removed with rclone's backend commands.
  local out
  x curl -sS --fail-with-body ${S3_CA_FILE:+--cacert "$S3_CA_FILE"} --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X POST "$S3_ENDPOINT/$B/pending/left.bin?uploads=" >/dev/null
  out=$(rc backend list-multipart-uploads "$R")
  grep -q '"Key": "pending/left.bin"' <<<"$out" || fail "list-multipart-uploads: $(tr -d '\n\t' <<<"$out")"
  rc backend cleanup -o max-age=0s "$R"
  out=$(rc backend list-multipart-uploads "$R")
  ! grep -q '"Key"' <<<"$out" || fail "uploads left after backend cleanup: $(tr -d '\n\t' <<<"$out")"
}

t_storage_class() {
  # settier: the object's class changed in place (a copy onto itself with x-amz-storage-class).
  local out
  rc copyto "$D/small.bin" "$R/tier.bin"
  rc settier STANDARD_IA "$R/tier.bin"
  out=$(rc lsjson --stat "$R/tier.bin")
  grep -qE '"Tier": ?"STANDARD_IA"' <<<"$out" || fail "after settier STANDARD_IA: $(tr -d '\n\t' <<<"$out")"
  rc cat "$R/tier.bin" >"$D/dl/tier.bin"
  same "$D/small.bin" "$D/dl/tier.bin"
  rc deletefile "$R/tier.bin"
}

t_delete() {
  local out
  rc deletefile "$R/copies/small.bin"
  out=$(rc lsf -R "$R")
  ! grep -q '^copies/small.bin$' <<<"$out" || fail "copies/small.bin still listed after deletefile"
}

t_rm_recursive() {
  local out n want
  want=$(find "$D/tree" -type f | wc -l) # N, less the file sync-delete removed
  out=$(rc delete -v "$R/tree" 2>&1)
  n=$(count ': Deleted' "$out")
  [ "$n" -eq "$want" ] || fail "'rclone delete' deleted $n files, expected $want"
  out=$(rc lsf -R --files-only "$R")
  ! grep -q '^tree/' <<<"$out" || fail "keys left under tree/: $(grep -m2 '^tree/' <<<"$out" | tr '\n' ' ')"
}

t_rb() {
  expect_fail 'BucketNotEmpty|not empty' "${RCLONE[@]}" rmdir "$R"
  rc purge "$R"
  local out
  out=$(rc lsd s3mux:)
  ! grep -qE " $B\$" <<<"$out" || fail "$B still listed after purge"
}

must mb t_mb
step list-buckets t_list_buckets
step put t_put
step multipart t_multipart
step get t_get
step head t_head
step sync t_sync
step sync-noop t_sync_noop
step check t_check
step list t_list
step list-recursive t_list_recursive
step copy t_copy
step presign-get t_presign_get
step range-get t_range_get
step put-stream t_put_stream
step mv t_mv
step sync-delete t_sync_delete
step abort-multipart t_abort_multipart
step storage-class t_storage_class
step delete t_delete
step rm-recursive t_rm_recursive
step rb t_rb
finish
