#!/usr/bin/env bash
# s3fs-fuse scenario: mount a bucket (path style, SigV4, passwd file in the work dir), write
# (single and multipart), read back, ls, mkdir, mv (file and directory), chmod, edit in place,
# symlink, xattrs, utimens, cp -r and rm -rf of a tree, unmount + mount again, rm/rmdir,
# unmount. Operations reported under the shared names: write = put, read = get, ls = list,
# rm = delete, rm -rf = rm-recursive. What s3fs stored is checked
# independently with SigV4-signed curl.
# If FUSE cannot mount on this machine the scenario is skipped (exit 77), not passed.
. "$(dirname "$0")/common.sh"

B=$S3_BUCKET
D=$WORK_DIR/data
MNT=$WORK_DIR/mnt
PASSWD=$WORK_DIR/passwd-s3fs
PIDFILE=$WORK_DIR/s3fs.pid
mkdir -p "$D" "$MNT"
printf '%s:%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$PASSWD"
chmod 600 "$PASSWD"
FUSERMOUNT=$(command -v fusermount3 || command -v fusermount || echo fusermount3)
# sigv4: no silent fallback to SigV2. CURL_CA_BUNDLE (read by s3fs itself) trusts the test CA.
S3FS_OPTS="url=$S3_ENDPOINT,use_path_request_style,sigv4,endpoint=$S3_REGION,passwd_file=$PASSWD"
S3FS_OPTS+=",dbglevel=info,retries=2,connect_timeout=10,readwrite_timeout=60,stat_cache_expire=1"
# use_xattr: extended attributes kept in x-amz-meta-xattr (the xattr step).
S3FS_OPTS+=",use_xattr"
echo "VERSION $(s3fs --version 2>&1 | head -n 1 | sed 's/Amazon Simple Storage Service File System //')"

head -c 1000 /dev/urandom | base64 >"$D/hello.txt"
head -c $((3 * 1024 * 1024 + 3)) /dev/urandom >"$D/data.bin"
head -c $((25 * 1024 * 1024)) /dev/urandom >"$D/big.bin"

# curl's SigV4 (7.88) leaves x-amz-content-sha256 out, which S3 refuses (400 InvalidRequest): as
# with AWS, the request names its payload hash itself.
SIGV4=(--aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")

# s3req METHOD KEY_OR_QUERY [curl args...]: a SigV4-signed request made with curl, independent of s3fs.
s3req() {
  local m=$1 p=$2
  shift 2
  x curl -sS --fail-with-body ${S3_CA_FILE:+--cacert "$S3_CA_FILE"} "${SIGV4[@]}" -X "$m" "$@" "$S3_ENDPOINT/$B$p"
}
s3head() { x curl -sS --fail ${S3_CA_FILE:+--cacert "$S3_CA_FILE"} "${SIGV4[@]}" \
    -I "$S3_ENDPOINT/$B/$1"; }
s3missing() { # KEY: HEAD must answer 404
  local code
  code=$(timeout -k 5 "$CMD_TIMEOUT" curl -sS -o /dev/null -w '%{http_code}' ${S3_CA_FILE:+--cacert "$S3_CA_FILE"} \
    "${SIGV4[@]}" -I "$S3_ENDPOINT/$B/$1")
  [ "$code" = 404 ] || fail "HEAD $1 answered $code, expected 404 (the key should be gone)"
}
urlencode() { "$PYTHON_BIN" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-_.~"))' "$1"; }
s3keys() { # PREFIX: the keys under PREFIX, one a line, straight from ListObjectsV2
  # curl 7.88 signs the query string as written: parameters sorted and encoded by hand.
  s3req GET "?list-type=2&prefix=$(urlencode "$1")" | grep -o '<Key>[^<]*</Key>' | sed -e 's/<Key>//' -e 's|</Key>||' || true
}
s3meta() { # KEY NAME: the value of header x-amz-meta-NAME on a HEAD of KEY (empty if absent)
  s3head "$1" | tr -d '\r' | grep -i "^x-amz-meta-$2:" | cut -d' ' -f2- || true
}
s3same() { # LOCALFILE KEY: the object's bytes are the file's
  s3req GET "/$2" -o "$D/.fetched"
  same "$1" "$D/.fetched"
}

mount_s3fs() { # NAME-OF-LOG
  local log=$WORK_DIR/s3fs-$1.log pid
  : >"$log"
  CURL_CA_BUNDLE=$S3_CA_FILE s3fs "$B" "$MNT" -f -o "$S3FS_OPTS" >"$log" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  # s3fs mounts first and checks the bucket in FUSE init: until then a stat of the mount point
  # blocks, hence the timeout on mountpoint and the wall-clock bound on the loop.
  local until=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$until" ]; do
    if timeout 3 mountpoint -q "$MNT"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    fail "s3fs did not mount within 30 s: $(grep -v '^[[:space:]]*$' "$log" | tail -n 1)"
  fi
  cat "$log" >&2
  local why
  why=$(grep -m1 -iE 'fuse: device not found|failed to open /dev/fuse|fusermount3?: .*(not permitted|permission denied|not found)|fuse: mount failed|mount failed: (operation not permitted|permission denied)|fuse: failed to exec' "$log" || true)
  [ -z "$why" ] || skip_step "FUSE cannot mount on this machine: $why"
  fail "s3fs exited without mounting: $(grep -iE 'err|fail|could not|denied|invalid' "$log" | tail -n 2 | tr '\n' ' ')"
}

unmount_s3fs() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  sync
  x "$FUSERMOUNT" -u "$MNT"
  local until=$((SECONDS + 20))
  while [ "$SECONDS" -lt "$until" ]; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  fail "s3fs (pid $pid) still running 20 s after unmount"
}

cleanup() {
  if grep -qF " $MNT " /proc/mounts 2>/dev/null; then
    timeout 15 "$FUSERMOUNT" -uz "$MNT" 2>/dev/null || timeout 15 umount -l "$MNT" 2>/dev/null || true
  fi
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  # Best effort (e.g. after a skip): the bucket goes if it is empty.
  timeout 10 curl -sS -o /dev/null ${S3_CA_FILE:+--cacert "$S3_CA_FILE"} "${SIGV4[@]}" \
    -X DELETE "$S3_ENDPOINT/$B" 2>/dev/null || true
}
trap cleanup EXIT

t_preflight() {
  [ -e /dev/fuse ] || skip_step "/dev/fuse does not exist"
  [ -r /dev/fuse ] && [ -w /dev/fuse ] || skip_step "/dev/fuse is not readable and writable by $(id -un)"
  grep -qw fuse /proc/filesystems || skip_step "the kernel has no fuse filesystem"
  command -v "$FUSERMOUNT" >/dev/null || skip_step "fusermount3 is not installed"
  s3req PUT "" >/dev/null
}

# Everything that touches the mount runs under a timeout (x), so a hung s3fs cannot stall the run:
# no shell builtins ([ -d ], [ -e ]) on paths inside it.
mstat() { x stat -c "$1" "$2"; }
isdir() { x test -d "$1"; }
absent() { ! timeout -k 5 "$CMD_TIMEOUT" test -e "$1"; }

t_mount() {
  mount_s3fs first
  local out
  out=$(x df -P "$MNT")
  grep -q 's3fs' <<<"$out" || fail "df shows no s3fs mount at $MNT: $out"
}

t_write() {
  x cp "$D/hello.txt" "$MNT/hello.txt"
  x cp "$D/hello.txt" "$MNT/hello world.txt"
  x cp "$D/data.bin" "$MNT/data.bin"
  x sync
  s3same "$D/hello.txt" hello.txt
  s3same "$D/hello.txt" "hello%20world.txt"
  s3same "$D/data.bin" data.bin
}

t_multipart() {
  # 25 MiB > 2 x multipart_size (10 MB): s3fs uploads it in parts.
  x cp "$D/big.bin" "$MNT/big.bin"
  x sync
  s3same "$D/big.bin" big.bin
}

t_read() {
  same "$D/hello.txt" "$MNT/hello.txt"
  same "$D/hello.txt" "$MNT/hello world.txt"
  same "$D/data.bin" "$MNT/data.bin"
  same "$D/big.bin" "$MNT/big.bin"
}

t_ls() {
  local out f size
  out=$(x ls -la "$MNT")
  for f in hello.txt "hello world.txt" data.bin big.bin; do
    grep -qF " $f" <<<"$out" || fail "ls -la does not show $f: $(tr '\n' ' ' <<<"$out")"
  done
  size=$(mstat %s "$MNT/data.bin")
  [ "$size" = "$(stat -c %s "$D/data.bin")" ] || fail "size of data.bin through the mount is $size"
  size=$(mstat %s "$MNT/big.bin")
  [ "$size" = $((25 * 1024 * 1024)) ] || fail "size of big.bin through the mount is $size"
}

t_mkdir() {
  local keys out
  x mkdir "$MNT/dir"
  isdir "$MNT/dir" || fail "mkdir dir: not a directory afterwards"
  x cp "$D/hello.txt" "$MNT/dir/inner.txt"
  x sync
  keys=$(s3keys dir/)
  grep -qx 'dir/' <<<"$keys" || fail "no directory marker 'dir/' in the bucket: $(tr '\n' ' ' <<<"$keys")"
  grep -qx 'dir/inner.txt' <<<"$keys" || fail "no 'dir/inner.txt' in the bucket: $(tr '\n' ' ' <<<"$keys")"
  out=$(x ls "$MNT/dir")
  [ "$out" = inner.txt ] || fail "ls dir shows: $(tr '\n' ' ' <<<"$out")"
}

t_mv() {
  local keys
  x mv "$MNT/data.bin" "$MNT/dir/moved.bin"
  absent "$MNT/data.bin" || fail "data.bin still there after mv"
  s3missing data.bin
  s3same "$D/data.bin" dir/moved.bin
  x mv "$MNT/dir" "$MNT/dir2"
  isdir "$MNT/dir2" && absent "$MNT/dir" || fail "mv dir dir2 did not rename the directory"
  keys=$(s3keys dir)
  [ "$(printf '%s\n' dir2/ dir2/inner.txt dir2/moved.bin)" = "$keys" ] || fail "after mv dir dir2 the bucket holds: $(tr '\n' ' ' <<<"$keys")"
  same "$D/data.bin" "$MNT/dir2/moved.bin"
}

t_chmod() {
  local mode
  x chmod 640 "$MNT/dir2/moved.bin"
  mode=$(mstat %a "$MNT/dir2/moved.bin")
  [ "$mode" = 640 ] || fail "mode through the mount is $mode after chmod 640"
  mode=$(s3head dir2/moved.bin | tr -d '\r' | grep -i '^x-amz-meta-mode:' | awk '{print $2}')
  [ -n "$mode" ] || fail "no x-amz-meta-mode header on dir2/moved.bin after chmod"
  [ $((mode & 0777)) -eq $((0640)) ] || fail "x-amz-meta-mode is $mode (=$(printf '%o' "$mode")), expected permission bits 640"
  s3same "$D/data.bin" dir2/moved.bin
}

# Bytes written into the middle of a file of more than two 10 MB parts: s3fs uploads it again as
# a multipart upload whose untouched parts are UploadPartCopy ranges of the object itself, so the
# source is the key being replaced. Then append and truncate on a small file.
t_edit() {
  local at=$((12 * 1024 * 1024 + 5)) f
  for f in "$MNT/big.bin" "$D/big.bin"; do
    printf 0123456789ABCDEF | x dd of="$f" bs=1 seek="$at" conv=notrunc status=none
  done
  x sync
  s3same "$D/big.bin" big.bin
  same "$D/big.bin" "$MNT/big.bin"
  printf 'first line\n' >"$D/edit.txt"
  x cp "$D/edit.txt" "$MNT/edit.txt"
  printf 'second line\n' >>"$D/edit.txt"
  x sh -c 'printf "second line\n" >>"$1"' _ "$MNT/edit.txt"
  x sync
  s3same "$D/edit.txt" edit.txt
  truncate -s 5 "$D/edit.txt"
  x truncate -s 5 "$MNT/edit.txt"
  x sync
  s3same "$D/edit.txt" edit.txt
  x rm "$MNT/edit.txt"
  s3missing edit.txt
}

t_symlink() {
  local target mode
  x ln -s ../hello.txt "$MNT/dir2/link"
  target=$(x readlink "$MNT/dir2/link")
  [ "$target" = ../hello.txt ] || fail "readlink dir2/link: '$target'"
  same "$D/hello.txt" "$MNT/dir2/link"
  # The object holds the target; its mode says symbolic link (S_IFLNK).
  s3req GET /dir2/link -o "$D/.fetched"
  [ "$(cat "$D/.fetched")" = ../hello.txt ] || fail "object dir2/link holds '$(head -c 100 "$D/.fetched")'"
  mode=$(s3meta dir2/link mode)
  [ -n "$mode" ] && [ $((mode & 0170000)) -eq $((0120000)) ] || fail "x-amz-meta-mode of dir2/link is '$mode', not a symbolic link"
}

xattr() { # get|set|remove FILE NAME [VALUE]: one xattr call (no setfattr on every machine)
  x "$PYTHON_BIN" -c '
import os, sys
op, f, name = sys.argv[1:4]
if op == "get": print(os.getxattr(f, name).decode())
elif op == "set": os.setxattr(f, name, sys.argv[4].encode())
else: os.removexattr(f, name)' "$@"
}

# Extended attributes travel in x-amz-meta-xattr; each change is a self-copy with REPLACE, which
# must keep the data and the other metadata (mode 640 is checked again after the remount).
t_xattr() {
  local f=$MNT/dir2/moved.bin v meta
  xattr set "$f" user.colour blue
  xattr set "$f" user.shape round
  v=$(xattr get "$f" user.colour)
  [ "$v" = blue ] || fail "user.colour read back as '$v'"
  meta=$(s3meta dir2/moved.bin xattr)
  [[ "$meta" == *user.colour* && "$meta" == *user.shape* ]] || fail "x-amz-meta-xattr is '$meta'"
  xattr remove "$f" user.colour
  meta=$(s3meta dir2/moved.bin xattr)
  [[ "$meta" != *user.colour* && "$meta" == *user.shape* ]] || fail "x-amz-meta-xattr after removing user.colour: '$meta'"
  s3same "$D/data.bin" dir2/moved.bin
}

# touch -d sets both times: with touch -m (atime left as it is) s3fs 1.90 sends no request at all.
t_utimens() {
  local t
  x touch -d @1000000000 "$MNT/dir2/moved.bin"
  t=$(mstat %Y "$MNT/dir2/moved.bin")
  [ "$t" = 1000000000 ] || fail "mtime through the mount is $t after touch -d @1000000000"
  t=$(s3meta dir2/moved.bin mtime)
  [ "${t%%.*}" = 1000000000 ] || fail "x-amz-meta-mtime is '$t'"
  s3same "$D/data.bin" dir2/moved.bin
}

# cp -r of a tree (a 0-byte file and an empty directory among its files), then rm -rf of it.
t_rm_recursive() {
  local keys out
  mkdir -p "$D/tree/sub/deeper" "$D/tree/empty-dir"
  head -c 1500 /dev/urandom >"$D/tree/a.bin"
  head -c 2500 /dev/urandom >"$D/tree/sub/b.bin"
  head -c 3500 /dev/urandom >"$D/tree/sub/deeper/c.bin"
  : >"$D/tree/zero"
  x cp -r "$D/tree" "$MNT/tree"
  x sync
  keys=$(s3keys tree/)
  [ "$(printf '%s\n' tree/ tree/a.bin tree/empty-dir/ tree/sub/ tree/sub/b.bin tree/sub/deeper/ tree/sub/deeper/c.bin tree/zero)" = "$keys" ] ||
    fail "after cp -r the bucket holds: $(tr '\n' ' ' <<<"$keys")"
  s3same "$D/tree/sub/deeper/c.bin" tree/sub/deeper/c.bin
  s3same "$D/tree/zero" tree/zero
  [ "$(mstat %s "$MNT/tree/zero")" = 0 ] || fail "tree/zero is $(mstat %s "$MNT/tree/zero") bytes through the mount"
  out=$(x ls -A "$MNT/tree/empty-dir")
  [ -z "$out" ] || fail "ls -A of the empty directory shows: $(tr '\n' ' ' <<<"$out")"
  x rm -rf "$MNT/tree"
  absent "$MNT/tree" || fail "tree still there after rm -rf"
  keys=$(s3keys tree/)
  [ -z "$keys" ] || fail "keys left after rm -rf: $(tr '\n' ' ' <<<"$keys")"
}

t_remount() {
  local out
  unmount_s3fs
  mount_s3fs second
  isdir "$MNT/dir2" || fail "dir2 is not a directory after remount"
  out=$(mstat %a "$MNT/dir2/moved.bin")
  [ "$out" = 640 ] || fail "mode after remount is $out, expected 640"
  same "$D/data.bin" "$MNT/dir2/moved.bin"
  same "$D/big.bin" "$MNT/big.bin"
  same "$D/hello.txt" "$MNT/dir2/inner.txt"
  out=$(x readlink "$MNT/dir2/link")
  [ "$out" = ../hello.txt ] || fail "readlink dir2/link after remount: '$out'"
  out=$(xattr get "$MNT/dir2/moved.bin" user.shape)
  [ "$out" = round ] || fail "user.shape after remount: '$out'"
  out=$(mstat %Y "$MNT/dir2/moved.bin")
  [ "$out" = 1000000000 ] || fail "mtime after remount is $out, expected 1000000000"
  out=$(x ls "$MNT" | tr '\n' '|')
  [ "$out" = 'big.bin|dir2|hello world.txt|hello.txt|' ] || fail "ls after remount shows: $out"
}

t_rm() {
  local keys out
  x rm "$MNT/dir2/moved.bin" "$MNT/dir2/inner.txt" "$MNT/dir2/link" "$MNT/hello.txt" "$MNT/hello world.txt" "$MNT/big.bin"
  x rmdir "$MNT/dir2"
  out=$(x ls -A "$MNT")
  [ -z "$out" ] || fail "mount not empty after rm: $(tr '\n' ' ' <<<"$out")"
  keys=$(s3keys "")
  [ -z "$keys" ] || fail "keys left in the bucket after rm: $(tr '\n' ' ' <<<"$keys")"
}

t_unmount() {
  unmount_s3fs
  ! timeout 10 mountpoint -q "$MNT" || fail "still mounted"
}

t_cleanup() { s3req DELETE "" >/dev/null; }

must _setup t_preflight
must mount t_mount
step put t_write
step multipart t_multipart
step get t_read
step list t_ls
step mkdir t_mkdir
step mv t_mv
step chmod t_chmod
step edit t_edit
step symlink t_symlink
step xattr t_xattr
step utimens t_utimens
step rm-recursive t_rm_recursive
must remount t_remount
step delete t_rm
step unmount t_unmount
step _cleanup t_cleanup
finish
