#!/usr/bin/env bash
# aws-cli v2 scenario: `aws s3` (mb, cp small and multipart, cp from stdin and to stdout, cp with
# metadata and content headers, --storage-class and s3-to-s3 with --metadata-directive REPLACE, ls,
# sync x2, sync --delete, s3-to-s3 sync, s3-to-s3 copy, mv local/s3/s3/local, presign, rm, rm
# --recursive, rb) and `aws s3api` (head-object, get-object --range, list-objects-v2 pagination,
# object tagging, create-multipart-upload/upload-part/list-parts/list-multipart-uploads/abort,
# errors for a missing key and bucket, head-bucket).
# Always /usr/bin/aws (AWS_BIN): an aws-cli v1 may be earlier on PATH.
. "$(dirname "$0")/common.sh"

AWS_BIN=${AWS_BIN:-/usr/bin/aws}
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_DEFAULT_REGION=$S3_REGION
export AWS_CONFIG_FILE=$WORK_DIR/aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK_DIR/aws-credentials
export AWS_PAGER='' AWS_CLI_AUTO_PROMPT=off AWS_EC2_METADATA_DISABLED=true
cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = $S3_REGION
s3 =
    addressing_style = path
EOF
: >"$AWS_SHARED_CREDENTIALS_FILE"
[ -n "$S3_CA_FILE" ] && export AWS_CA_BUNDLE=$S3_CA_FILE

AWS=("$AWS_BIN" --endpoint-url "$S3_ENDPOINT")
aws() { x "${AWS[@]}" "$@"; }
echo "VERSION $("$AWS_BIN" --version 2>&1 | cut -d' ' -f1)"

B=$S3_BUCKET
D=$WORK_DIR/data
mkdir -p "$D/dl" "$D/down"
head -c 1234 /dev/urandom >"$D/small.bin"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$D/big.bin"
head -c $((9 * 1024 * 1024 + 5)) /dev/urandom >"$D/stream.bin"
make_tree "$D/tree" 200
# The tree's files must be older than their upload for the second sync to be a no-op.
touch -d '-1 hour' "$D"/tree/*/*

# fetch URL OUTFILE: plain curl GET, must answer 200.
fetch() {
  local code
  code=$(x curl -sS ${S3_CA_FILE:+--cacert "$S3_CA_FILE"} -o "$2" -w '%{http_code}' "$1")
  [ "$code" = 200 ] || fail "GET presigned URL -> HTTP $code: $(head -c 300 "$2" 2>/dev/null | tr '\n' ' ')"
}

t_mb() {
  local out
  out=$(aws s3 mb "s3://$B")
  grep -qF "make_bucket: $B" <<<"$out" || fail "aws s3 mb printed: $out"
}

t_list_buckets() {
  local out
  out=$(aws s3 ls)
  grep -qE " $B\$" <<<"$out" || fail "bucket $B not in 'aws s3 ls': $out"
}

t_put() {
  local out
  out=$(aws s3 cp --no-progress "$D/small.bin" "s3://$B/small.bin")
  grep -q '^upload:' <<<"$out" || fail "no upload line: $out"
  [ "$(aws s3api head-object --bucket "$B" --key small.bin --query ContentLength --output text)" = 1234 ] || fail "size after upload is not 1234"
  aws s3 cp --no-progress "s3://$B/small.bin" "$D/dl/put-check.bin" >/dev/null
  same "$D/small.bin" "$D/dl/put-check.bin"
}

t_multipart() {
  local out etag
  out=$(aws s3 cp --no-progress "$D/big.bin" "s3://$B/big.bin")
  grep -q '^upload:' <<<"$out" || fail "no upload line: $out"
  # aws-cli cuts 50 MiB into 8 MiB parts: 7 parts, so a multipart ETag "<md5 of md5s>-7".
  etag=$(aws s3api head-object --bucket "$B" --key big.bin --query ETag --output text)
  # E2E_OPAQUE_ETAG: the store's ETags are not MD5s (test/e2e/targets.ts): any ETag will do.
  [[ $etag =~ ^\"[0-9a-f]{32}-7\"$ || ( ${E2E_OPAQUE_ETAG:-} = 1 && $etag =~ ^\".+\"$ ) ]] || fail "multipart ETag is $etag, expected \"<32 hex>-7\""
}

t_put_stream() {
  # From stdin the size is unknown: aws-cli uploads 8 MiB parts as it reads (here 2), then
  # streams the object back to stdout.
  aws s3 cp --no-progress - "s3://$B/stream.bin" <"$D/stream.bin" >/dev/null
  [[ $(aws s3api head-object --bucket "$B" --key stream.bin --query ETag --output text) =~ -2\"$ || ${E2E_OPAQUE_ETAG:-} = 1 ]] || fail "stdin upload is not a 2-part multipart upload"
  x "${AWS[@]}" s3 cp "s3://$B/stream.bin" - >"$D/dl/stream.bin"
  same "$D/stream.bin" "$D/dl/stream.bin"
  aws s3 rm --only-show-errors "s3://$B/stream.bin"
}

# head_field KEY FIELD: one field of head-object, as text
head_field() { aws s3api head-object --bucket "$B" --key "$1" --query "$2" --output text; }

t_metadata() {
  # A Content-Disposition naming a file in UTF-8: aws-cli signs the text and sends its UTF-8 bytes.
  aws s3 cp --no-progress "$D/small.bin" "s3://$B/meta.bin" --metadata color=blue,Mixed-Case=x --content-type text/x-e2e \
    --cache-control max-age=60 --content-disposition 'attachment; filename="résumé.pdf"' >/dev/null
  [ "$(head_field meta.bin Metadata.color)" = blue ] || fail "metadata color is $(head_field meta.bin Metadata.color)"
  [ "$(head_field meta.bin ContentType)" = text/x-e2e ] || fail "ContentType is $(head_field meta.bin ContentType)"
  [ "$(head_field meta.bin CacheControl)" = max-age=60 ] || fail "CacheControl is $(head_field meta.bin CacheControl)"
  # botocore reads header values as latin-1: the UTF-8 bytes come back as "rÃ©sumÃ©".
  [ "$(head_field meta.bin ContentDisposition)" = 'attachment; filename="rÃ©sumÃ©.pdf"' ] || fail "ContentDisposition is $(head_field meta.bin ContentDisposition)"
  # An s3-to-s3 cp keeps them all.
  aws s3 cp --no-progress "s3://$B/meta.bin" "s3://$B/meta-copy.bin" >/dev/null
  [ "$(head_field meta-copy.bin ContentType)/$(head_field meta-copy.bin Metadata.color)" = text/x-e2e/blue ] || fail "the copy lost its metadata"
  aws s3 rm --only-show-errors --recursive "s3://$B/" --exclude '*' --include 'meta*.bin'
}

t_copy_replace_meta() {
  aws s3 cp --no-progress "$D/small.bin" "s3://$B/replace-src.bin" --metadata color=blue --cache-control max-age=60 >/dev/null
  aws s3 cp --no-progress "s3://$B/replace-src.bin" "s3://$B/replaced.bin" --metadata-directive REPLACE --content-type text/x-new >/dev/null
  [ "$(head_field replaced.bin ContentType)" = text/x-new ] || fail "REPLACE ContentType is $(head_field replaced.bin ContentType)"
  [ "$(head_field replaced.bin Metadata.color)" = None ] || fail "REPLACE kept metadata color=$(head_field replaced.bin Metadata.color)"
  [ "$(head_field replaced.bin CacheControl)" = None ] || fail "REPLACE kept CacheControl"
  aws s3 rm --only-show-errors --recursive "s3://$B/" --exclude '*' --include 'replace*.bin'
}

t_head() {
  local len etag
  len=$(aws s3api head-object --bucket "$B" --key small.bin --query ContentLength --output text)
  [ "$len" = 1234 ] || fail "head-object ContentLength=$len, expected 1234"
  etag=$(aws s3api head-object --bucket "$B" --key small.bin --query ETag --output text)
  [ "$etag" = "\"$(md5 "$D/small.bin")\"" ] || [[ ${E2E_OPAQUE_ETAG:-} = 1 && $etag =~ ^\".+\"$ ]] || fail "head-object ETag=$etag, expected the quoted MD5 \"$(md5 "$D/small.bin")\""
  len=$(aws s3api head-object --bucket "$B" --key big.bin --query ContentLength --output text)
  [ "$len" = 52428800 ] || fail "head-object big.bin ContentLength=$len, expected 52428800"
}

t_get() {
  aws s3 cp --no-progress "s3://$B/small.bin" "$D/dl/small.bin" >/dev/null
  same "$D/small.bin" "$D/dl/small.bin"
  # > 8 MiB: aws-cli downloads it with parallel ranged GETs.
  aws s3 cp --no-progress "s3://$B/big.bin" "$D/dl/big.bin" >/dev/null
  same "$D/big.bin" "$D/dl/big.bin"
}

t_sync() {
  local out n
  out=$(aws s3 sync --no-progress "$D/tree" "s3://$B/tree/")
  n=$(count '^upload:' "$out")
  [ "$n" -eq 200 ] || fail "first sync uploaded $n files, expected 200"
  out=$(aws s3 sync --no-progress "s3://$B/tree/" "$D/down")
  n=$(count '^download:' "$out")
  [ "$n" -eq 200 ] || fail "sync down downloaded $n files, expected 200"
  same_tree "$D/tree" "$D/down"
}

t_sync_noop() {
  local out n
  out=$(aws s3 sync --no-progress "$D/tree" "s3://$B/tree/")
  n=$(count '^upload:' "$out")
  [ "$n" -eq 0 ] || fail "second sync uploaded $n files, expected 0: $(grep -m2 '^upload:' <<<"$out" | tr '\n' ' ')"
}

t_list() {
  local out
  out=$(aws s3 ls "s3://$B/")
  grep -qE '^ +PRE tree/$' <<<"$out" || fail "'aws s3 ls' shows no 'PRE tree/': $out"
  grep -qE ' 1234 small\.bin$' <<<"$out" || fail "'aws s3 ls' shows no 1234-byte small.bin: $out"
  grep -qE ' 52428800 big\.bin$' <<<"$out" || fail "'aws s3 ls' shows no big.bin: $out"
  [ "$(wc -l <<<"$out")" -eq 3 ] || fail "'aws s3 ls' shows $(wc -l <<<"$out") lines, expected 3: $out"
}

t_list_recursive() {
  local out n
  out=$(aws s3 ls --recursive "s3://$B/tree/")
  n=$(count ' tree/' "$out")
  [ "$n" -eq 200 ] || fail "'aws s3 ls --recursive' listed $n keys under tree/, expected 200"
  grep -qF 'tree/d0/file with space 0.txt' <<<"$out" || fail "key with spaces missing from the listing"
  grep -qF 'tree/d2/ünïcødé-2.txt' <<<"$out" || fail "unicode key missing from the listing"
}

t_list_paged() {
  local token='' pages=0 keys=$WORK_DIR/paged-keys.txt expected=$WORK_DIR/expected-keys.txt out n
  : >"$keys"
  while :; do
    out=$(aws s3api list-objects-v2 --bucket "$B" --prefix tree/ --page-size 7 --max-items 45 \
      ${token:+--starting-token "$token"} --output json)
    token=$(printf '%s' "$out" | "$PYTHON_BIN" -c '
import json, sys
d = json.loads(sys.stdin.read() or "{}")
with open(sys.argv[1], "a", encoding="utf-8") as f:
    for o in d.get("Contents", []):
        f.write(o["Key"] + "\n")
print(d.get("NextToken", ""))' "$keys")
    pages=$((pages + 1))
    [ "$pages" -le 20 ] || fail "more than 20 pages of 45 for 200 keys"
    [ -n "$token" ] || break
  done
  n=$(wc -l <"$keys")
  [ "$n" -eq 200 ] || fail "paginated list-objects-v2 returned $n keys, expected 200"
  [ "$pages" -eq 5 ] || fail "$pages pages of at most 45 items, expected 5"
  [ "$(sort -u "$keys" | wc -l)" -eq 200 ] || fail "paginated listing has duplicate keys"
  LC_ALL=C sort -c "$keys" 2>/dev/null || fail "paginated listing is not in UTF-8 byte order: $(LC_ALL=C sort -c "$keys" 2>&1)"
  (cd "$D/tree" && find . -type f | sed 's|^\./|tree/|' | LC_ALL=C sort) >"$expected"
  diff -q "$expected" "$keys" >/dev/null || fail "paginated keys differ from the files: $(diff "$expected" "$keys" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
}

t_copy() {
  aws s3 cp --no-progress "s3://$B/small.bin" "s3://$B/copies/small.bin" >/dev/null
  aws s3 cp --no-progress "s3://$B/copies/small.bin" "$D/dl/copy-small.bin" >/dev/null
  same "$D/small.bin" "$D/dl/copy-small.bin"
  aws s3 cp --no-progress "s3://$B/tree/d1/plus+sign 1.txt" "s3://$B/copies/plus+sign copy.txt" >/dev/null
  aws s3 cp --no-progress "s3://$B/copies/plus+sign copy.txt" "$D/dl/plus-copy.txt" >/dev/null
  same "$D/tree/d1/plus+sign 1.txt" "$D/dl/plus-copy.txt"
}

t_copy_multipart() {
  # 50 MiB > multipart_threshold: aws-cli copies it with CreateMultipartUpload + UploadPartCopy.
  aws s3 cp --no-progress "s3://$B/big.bin" "s3://$B/copies/big.bin" >/dev/null
  aws s3 cp --no-progress "s3://$B/copies/big.bin" "$D/dl/copy-big.bin" >/dev/null
  same "$D/big.bin" "$D/dl/copy-big.bin"
}

t_presign_get() {
  local url
  url=$(aws s3 presign "s3://$B/small.bin" --expires-in 300)
  fetch "$url" "$D/dl/presigned-small.bin"
  same "$D/small.bin" "$D/dl/presigned-small.bin"
  url=$(aws s3 presign "s3://$B/tree/d0/file with space 0.txt" --expires-in 300)
  fetch "$url" "$D/dl/presigned-space.txt"
  same "$D/tree/d0/file with space 0.txt" "$D/dl/presigned-space.txt"
}

t_rm_recursive() {
  local out n
  out=$(aws s3 rm --recursive "s3://$B/tree/")
  n=$(count '^delete:' "$out")
  [ "$n" -eq 200 ] || fail "'aws s3 rm --recursive' deleted $n keys, expected 200"
  n=$(aws s3api list-objects-v2 --bucket "$B" --prefix tree/ --query 'length(Contents || `[]`)' --output text)
  [ "$n" = 0 ] || fail "$n keys left under tree/ after rm --recursive"
}

t_range_get() {
  # s3api get-object --range: a 206 with Content-Range, and only those bytes written.
  local cr
  cr=$(aws s3api get-object --bucket "$B" --key small.bin --range bytes=100-199 "$D/dl/range.bin" --query ContentRange --output text)
  [ "$cr" = 'bytes 100-199/1234' ] || fail "get-object --range bytes=100-199: ContentRange '$cr', expected 'bytes 100-199/1234'"
  dd if="$D/small.bin" of="$D/dl/range-expected.bin" bs=100 skip=1 count=1 status=none
  same "$D/dl/range-expected.bin" "$D/dl/range.bin"
}

t_mv() {
  # s3 mv local -> s3 -> s3 -> local: each source is gone afterwards, the bytes arrive.
  local out
  cp "$D/small.bin" "$D/to-move.bin"
  out=$(aws s3 mv --no-progress "$D/to-move.bin" "s3://$B/moving/a.bin")
  grep -q '^move:' <<<"$out" || fail "no move line: $out"
  [ ! -e "$D/to-move.bin" ] || fail "s3 mv left the local source behind"
  aws s3 mv --no-progress "s3://$B/moving/a.bin" "s3://$B/moving/b.bin" >/dev/null
  aws s3 mv --no-progress "s3://$B/moving/b.bin" "$D/dl/moved.bin" >/dev/null
  same "$D/small.bin" "$D/dl/moved.bin"
  out=$(aws s3api list-objects-v2 --bucket "$B" --prefix moving/ --query 'length(Contents || `[]`)' --output text)
  [ "$out" = 0 ] || fail "$out keys left under moving/ after s3 -> s3 -> local mv"
}

t_delete() {
  local out
  out=$(aws s3 rm "s3://$B/copies/small.bin")
  grep -qF "delete: s3://$B/copies/small.bin" <<<"$out" || fail "s3 rm printed: $out"
  expect_fail '\(404\)|Not Found' "${AWS[@]}" s3api head-object --bucket "$B" --key copies/small.bin
}

t_err_no_such_key() { expect_fail '\(NoSuchKey\)' "${AWS[@]}" s3api get-object --bucket "$B" --key no/such/key "$D/dl/never"; }

t_err_no_such_bucket() { expect_fail '\(NoSuchBucket\)' "${AWS[@]}" s3 ls "s3://$B-no-such-bucket/"; }

t_sync_delete() {
  # sync --delete removes what the source no longer has; an s3 -> s3 sync copies server-side.
  local out
  mkdir -p "$D/sd/sub"
  echo one >"$D/sd/one.txt" && echo two >"$D/sd/sub/two.txt" && echo three >"$D/sd/three.txt"
  touch -d '-1 hour' "$D"/sd/*.txt "$D"/sd/sub/*.txt
  aws s3 sync --no-progress "$D/sd" "s3://$B/sd/" >/dev/null
  rm "$D/sd/three.txt"
  out=$(aws s3 sync --no-progress --delete "$D/sd" "s3://$B/sd/")
  [ "$out" = "delete: s3://$B/sd/three.txt" ] || fail "sync --delete printed: $(tr '\n' ' ' <<<"$out")"
  out=$(aws s3 sync --no-progress "s3://$B/sd/" "s3://$B/sd-copy/")
  [ "$(count '^copy: ' "$out")" -eq 2 ] || fail "s3 -> s3 sync printed: $(tr '\n' ' ' <<<"$out")"
  out=$(aws s3 ls --recursive "s3://$B/sd")
  [ "$(awk '{print $4}' <<<"$out" | tr '\n' ' ')" = 'sd-copy/one.txt sd-copy/sub/two.txt sd/one.txt sd/sub/two.txt ' ] || fail "after sync --delete and s3 -> s3 sync: $(tr '\n' ' ' <<<"$out")"
}

t_tagging() {
  local out
  aws s3api put-object-tagging --bucket "$B" --key small.bin --tagging 'TagSet=[{Key=team,Value=e2e},{Key=note,Value=a b+c}]'
  out=$(aws s3api get-object-tagging --bucket "$B" --key small.bin --query 'TagSet[].[Key,Value]' --output text | sort | tr '\t\n' '=,')
  [ "$out" = 'note=a b+c,team=e2e,' ] || fail "get-object-tagging: $out"
  # A copy gets the tags it names (--tagging-directive REPLACE).
  aws s3api copy-object --bucket "$B" --key tagged-copy.bin --copy-source "$B/small.bin" --tagging-directive REPLACE --tagging 'only=this' >/dev/null
  out=$(aws s3api get-object-tagging --bucket "$B" --key tagged-copy.bin --query 'TagSet[].[Key,Value]' --output text | tr '\t\n' '=,')
  [ "$out" = 'only=this,' ] || fail "copy-object --tagging-directive REPLACE: tags $out"
}

t_storage_class() {
  # A class the store can hold is kept and reported (never silently dropped).
  local out
  aws s3 cp --no-progress --storage-class STANDARD_IA "$D/small.bin" "s3://$B/ia.bin" >/dev/null
  out=$(head_field ia.bin StorageClass)
  [ "$out" = STANDARD_IA ] || fail "head-object StorageClass is $out after cp --storage-class STANDARD_IA"
  out=$(aws s3api list-objects-v2 --bucket "$B" --prefix ia.bin --query 'Contents[0].StorageClass' --output text)
  [ "$out" = STANDARD_IA ] || fail "list-objects-v2 StorageClass is $out"
}

t_list_parts() {
  # s3api's multipart calls by hand: create, upload a part, list it. (--upload-id=ID: an id that
  # begins with '-' would be taken for an option.)
  local out
  UPLOAD_ID=$(aws s3api create-multipart-upload --bucket "$B" --key pending/mp.bin --query UploadId --output text)
  echo "$UPLOAD_ID" >"$WORK_DIR/upload-id"
  aws s3api upload-part --bucket "$B" --key pending/mp.bin --upload-id="$UPLOAD_ID" --part-number 1 --body "$D/small.bin" >/dev/null
  out=$(aws s3api list-parts --bucket "$B" --key pending/mp.bin --upload-id="$UPLOAD_ID" --query 'Parts[].[PartNumber,Size,ETag]' --output text | tr '\t' ' ')
  [ "$out" = "1 1234 \"$(md5 "$D/small.bin")\"" ] || fail "list-parts: $out"
}

t_abort_multipart() {
  local id out
  id=$(cat "$WORK_DIR/upload-id" 2>/dev/null) || fail "no upload to abort (list-parts failed)"
  out=$(aws s3api list-multipart-uploads --bucket "$B" --prefix pending/ --query 'Uploads[].[Key,UploadId]' --output text | tr '\t' ' ')
  [ "$out" = "pending/mp.bin $id" ] || fail "list-multipart-uploads: $out"
  aws s3api abort-multipart-upload --bucket "$B" --key pending/mp.bin --upload-id="$id"
  expect_fail '\(NoSuchUpload\)' "${AWS[@]}" s3api list-parts --bucket "$B" --key pending/mp.bin --upload-id="$id"
}

t_rb() {
  expect_fail 'BucketNotEmpty' "${AWS[@]}" s3 rb "s3://$B"
  aws s3 rm --recursive --only-show-errors "s3://$B"
  aws s3 rb "s3://$B" >/dev/null
  expect_fail '404|Not Found|NoSuchBucket' "${AWS[@]}" s3api head-bucket --bucket "$B"
}

must mb t_mb
step list-buckets t_list_buckets
step put t_put
step multipart t_multipart
step head t_head
step get t_get
step sync t_sync
step sync-noop t_sync_noop
step list t_list
step list-recursive t_list_recursive
step list-paged t_list_paged
step copy t_copy
step copy-multipart t_copy_multipart
step presign-get t_presign_get
step range-get t_range_get
step mv t_mv
step delete t_delete
step err-NoSuchKey t_err_no_such_key
step err-NoSuchBucket t_err_no_such_bucket
step sync-delete t_sync_delete
step tagging t_tagging
step storage-class t_storage_class
step list-parts t_list_parts
step abort-multipart t_abort_multipart
step put-stream t_put_stream
step metadata t_metadata
step copy-replace-meta t_copy_replace_meta
step rm-recursive t_rm_recursive
step rb t_rb
finish
