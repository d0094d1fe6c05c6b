#!/usr/bin/env bash
# s3cmd scenario (SigV4, path style, generated config in the work dir): mb, put, multipart put,
# put from stdin, get, get --continue (ranged GET), info, ls, ls -r, sync up/down twice, sync
# --delete-removed, cp, modify, mv, signurl (SigV2 query signature), del, del --recursive (batch
# delete), errors for a missing key and bucket, rb.
. "$(dirname "$0")/common.sh"

CFG=$WORK_DIR/s3cfg
cat >"$CFG" <<EOF
[default]
access_key = $S3_ACCESS_KEY
secret_key = $S3_SECRET_KEY
host_base = $S3_HOST:$S3_PORT
host_bucket = $S3_HOST:$S3_PORT
bucket_location = $S3_REGION
signature_v2 = False
use_https = $([ "$S3_PROTO" = https ] && echo True || echo False)
signurl_use_https = $([ "$S3_PROTO" = https ] && echo True || echo False)
check_ssl_certificate = True
check_ssl_hostname = True
ca_certs_file = $S3_CA_FILE
multipart_chunk_size_mb = 5
progress_meter = False
EOF
export S3CMD_CONFIG=$CFG # instead of -c, to keep the command lines in messages short
S3CMD=(s3cmd --no-progress)
s3c() { x "${S3CMD[@]}" "$@"; }
# s3cmd only warns (and carries on) when the MD5 it computed and the ETag disagree: treat as failure.
no_md5_warning() { ! grep -qiE 'MD5 (sums|signatures) do(n.t| not) match' "$1" || fail "s3cmd warned: $(grep -m1 -iE 'MD5 (sums|signatures)' "$1")"; }
echo "VERSION $(s3cmd --version 2>&1)"

B=$S3_BUCKET
D=$WORK_DIR/data
N=60
mkdir -p "$D/dl" "$D/down"
head -c 2345 /dev/urandom >"$D/small.bin"
head -c $((12 * 1024 * 1024 + 17)) /dev/urandom >"$D/big.bin"
head -c $((7 * 1024 * 1024 + 3)) /dev/urandom >"$D/stream.bin"
make_tree "$D/tree" $N

t_mb() {
  local out
  out=$(s3c mb "s3://$B")
  grep -qF "s3://$B/" <<<"$out" || fail "s3cmd mb printed: $out"
}

t_list_buckets() {
  local out
  out=$(s3c ls)
  grep -qE " s3://$B\$" <<<"$out" || fail "s3://$B not in 's3cmd ls': $out"
}

t_put() {
  s3c put "$D/small.bin" "s3://$B/small.bin" >/dev/null
  no_md5_warning "$LAST_STDERR"
  s3c get --force "s3://$B/small.bin" "$D/dl/put-check.bin" >/dev/null
  same "$D/small.bin" "$D/dl/put-check.bin"
}

t_multipart() {
  local out
  # --progress: only the progress lines name the parts ("[part 3 of 3, 2MB]").
  out=$(s3c put --progress "$D/big.bin" "s3://$B/big.bin" | tr '\r' '\n')
  no_md5_warning "$LAST_STDERR"
  grep -q 'part 3 of 3' <<<"$out" || fail "expected a 3-part upload, s3cmd printed: $(grep -v '^ *[0-9]* of' <<<"$out" | tail -n 2 | tr '\n' ' ')"
  [[ $(s3c ls --list-md5 "s3://$B/big.bin") =~ " $((12 * 1024 * 1024 + 17)) " ]] || fail "s3cmd ls shows the wrong size for big.bin"
}

t_get() {
  s3c get --force "s3://$B/small.bin" "$D/dl/small.bin" >/dev/null
  no_md5_warning "$LAST_STDERR"
  same "$D/small.bin" "$D/dl/small.bin"
  s3c get --force "s3://$B/big.bin" "$D/dl/big.bin" >/dev/null
  no_md5_warning "$LAST_STDERR"
  same "$D/big.bin" "$D/dl/big.bin"
}

t_head() {
  local out
  out=$(s3c info "s3://$B/small.bin")
  grep -qE "File size: +2345\$" <<<"$out" || fail "s3cmd info shows no 'File size: 2345': $out"
  grep -qE "MD5 sum: +$(md5 "$D/small.bin")\$" <<<"$out" || fail "s3cmd info MD5 differs from the file's: $out"
  out=$(s3c info "s3://$B/big.bin")
  grep -qE "File size: +$((12 * 1024 * 1024 + 17))\$" <<<"$out" || fail "s3cmd info big.bin: $out"
  # The bucket's own info reads its location, requester-pays setting, lifecycle, policy, CORS and ACL.
  out=$(s3c info "s3://$B")
  grep -qE "Payer: +BucketOwner\$" <<<"$out" || fail "s3cmd info on the bucket shows no 'Payer: BucketOwner': $out"
}

t_sync() {
  local out n
  out=$(s3c sync "$D/tree/" "s3://$B/tree/")
  n=$(count '^upload:' "$out")
  [ "$n" -eq $N ] || fail "first sync uploaded $n files, expected $N"
  out=$(s3c sync "s3://$B/tree/" "$D/down/")
  n=$(count '^download:' "$out")
  [ "$n" -eq $N ] || fail "sync down downloaded $n files, expected $N"
  same_tree "$D/tree" "$D/down"
}

t_sync_noop() {
  local out n
  out=$(s3c sync "$D/tree/" "s3://$B/tree/")
  n=$(count '^upload:' "$out")
  [ "$n" -eq 0 ] || fail "second sync uploaded $n files, expected 0: $(grep -m2 '^upload:' <<<"$out" | tr '\n' ' ')"
}

t_list() {
  local out
  out=$(s3c ls "s3://$B/")
  grep -qE "DIR +s3://$B/tree/\$" <<<"$out" || fail "'s3cmd ls' shows no DIR s3://$B/tree/: $out"
  grep -qE " 2345 +s3://$B/small.bin\$" <<<"$out" || fail "'s3cmd ls' shows no 2345-byte small.bin: $out"
  [ "$(wc -l <<<"$out")" -eq 3 ] || fail "'s3cmd ls' printed $(wc -l <<<"$out") lines, expected 3: $out"
}

t_list_recursive() {
  local out n
  out=$(s3c ls --recursive "s3://$B/tree/")
  n=$(count " s3://$B/tree/" "$out")
  [ "$n" -eq $N ] || fail "'s3cmd ls -r' listed $n keys, expected $N"
  grep -qF "s3://$B/tree/d0/file with space 0.txt" <<<"$out" || fail "key with spaces missing from 's3cmd ls -r'"
  grep -qF "s3://$B/tree/d2/ünïcødé-2.txt" <<<"$out" || fail "unicode key missing from 's3cmd ls -r'"
}

t_copy() {
  s3c cp "s3://$B/small.bin" "s3://$B/copies/small.bin" >/dev/null
  s3c get --force "s3://$B/copies/small.bin" "$D/dl/copy.bin" >/dev/null
  same "$D/small.bin" "$D/dl/copy.bin"
}

t_put_stream() {
  # put - reads stdin: its size unknown, s3cmd uploads it in 5 MiB parts as it reads (here 2).
  local out
  out=$(s3c put - "s3://$B/stream.bin" <"$D/stream.bin")
  no_md5_warning "$LAST_STDERR"
  grep -qF "'<stdin>' -> 's3://$B/stream.bin'" <<<"$out" || fail "s3cmd put - printed: $out"
  s3c get --force "s3://$B/stream.bin" "$D/dl/stream.bin" >/dev/null
  same "$D/stream.bin" "$D/dl/stream.bin"
}

t_range_get() {
  # get --continue resumes a partial download with a ranged GET: a server that ignored the
  # Range would send the whole object and the file would end up too long.
  head -c 1000000 "$D/big.bin" >"$D/dl/partial.bin"
  s3c get --continue "s3://$B/big.bin" "$D/dl/partial.bin" >/dev/null
  same "$D/big.bin" "$D/dl/partial.bin"
}

t_presign_get() {
  # signurl: a SigV2 query-string signature (AWSAccessKeyId, Expires, Signature), fetched with curl.
  local url code
  url=$(s3c signurl "s3://$B/small.bin" +300)
  code=$(x curl -sS ${S3_CA_FILE:+--cacert "$S3_CA_FILE"} -o "$D/dl/signed.bin" -w '%{http_code}' "$url")
  [ "$code" = 200 ] || fail "GET signurl -> HTTP $code: $(head -c 300 "$D/dl/signed.bin" | tr '\n' ' ')"
  same "$D/small.bin" "$D/dl/signed.bin"
}

t_copy_replace_meta() {
  # modify: a copy onto itself with REPLACE; the bytes stay, the new Content-Type is kept.
  local out
  s3c modify --mime-type=text/x-e2e "s3://$B/copies/small.bin" >/dev/null
  out=$(s3c info "s3://$B/copies/small.bin")
  grep -qE "MIME type: +text/x-e2e\$" <<<"$out" || fail "s3cmd info after modify --mime-type: $out"
  s3c get --force "s3://$B/copies/small.bin" "$D/dl/modified.bin" >/dev/null
  same "$D/small.bin" "$D/dl/modified.bin"
}

t_mv() {
  local out
  out=$(s3c mv "s3://$B/copies/small.bin" "s3://$B/moved/small.bin")
  grep -qF "move: 's3://$B/copies/small.bin' -> 's3://$B/moved/small.bin'" <<<"$out" || fail "s3cmd mv printed: $out"
  expect_fail '404|Not Found|NoSuchKey' "${S3CMD[@]}" info "s3://$B/copies/small.bin"
  s3c get --force "s3://$B/moved/small.bin" "$D/dl/moved.bin" >/dev/null
  same "$D/small.bin" "$D/dl/moved.bin"
}

t_sync_delete() {
  local out
  rm "$D/tree/d4/f4.txt"
  out=$(s3c sync --delete-removed "$D/tree/" "s3://$B/tree/")
  [ "$out" = "delete: 's3://$B/tree/d4/f4.txt'" ] || fail "sync --delete-removed printed: $(tr '\n' ' ' <<<"$out")"
  out=$(s3c ls --recursive "s3://$B/tree/")
  [ "$(count " s3://$B/tree/" "$out")" -eq $((N - 1)) ] || fail "$(count " s3://$B/tree/" "$out") keys under tree/ after sync --delete-removed, expected $((N - 1))"
}

t_err_no_such_key() { expect_fail "NoSuchKey|Source object 's3://$B/no/such/key' does not exist" "${S3CMD[@]}" get --force "s3://$B/no/such/key" "$D/dl/never"; }

t_err_no_such_bucket() { expect_fail 'NoSuchBucket' "${S3CMD[@]}" ls "s3://$B-no-such-bucket/"; }

t_delete() {
  local out
  out=$(s3c del "s3://$B/moved/small.bin")
  grep -qF "delete: 's3://$B/moved/small.bin'" <<<"$out" || fail "s3cmd del printed: $out"
  expect_fail '404|Not Found|NoSuchKey' "${S3CMD[@]}" info "s3://$B/moved/small.bin"
}

t_rm_recursive() {
  local out n want
  want=$(find "$D/tree" -type f | wc -l) # N, less the file sync-delete removed
  out=$(s3c del --recursive "s3://$B/tree/")
  n=$(count '^delete:' "$out")
  [ "$n" -eq "$want" ] || fail "'s3cmd del --recursive' deleted $n keys, expected $want"
  out=$(s3c ls --recursive "s3://$B/tree/")
  [ -z "$out" ] || fail "keys left under tree/: $(head -n 2 <<<"$out")"
}

t_rb() {
  expect_fail 'BucketNotEmpty' "${S3CMD[@]}" rb "s3://$B"
  s3c del --recursive --force "s3://$B/" >/dev/null
  s3c rb "s3://$B" >/dev/null
  expect_fail 'NoSuchBucket|404|does not exist' "${S3CMD[@]}" ls "s3://$B/"
}

must mb t_mb
step list-buckets t_list_buckets
step put t_put
step multipart t_multipart
step get t_get
step head t_head
step sync t_sync
step sync-noop t_sync_noop
step list t_list
step list-recursive t_list_recursive
step copy t_copy
step copy-replace-meta t_copy_replace_meta
step mv t_mv
step delete t_delete
step put-stream t_put_stream
step range-get t_range_get
step presign-get t_presign_get
step sync-delete t_sync_delete
step err-NoSuchKey t_err_no_such_key
step err-NoSuchBucket t_err_no_such_bucket
step rm-recursive t_rm_recursive
step rb t_rb
finish
