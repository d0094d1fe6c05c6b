# Shared helpers for the shell scenarios (sourced, not run). See test/e2e/scenarios.ts for the
# reporting protocol: "OP <name> ok|FAIL <msg>|skip" and "VERSION <text>" on stdout, "SKIP <why>" + exit 77.
#
# Environment (set by test/e2e/run.ts): S3_ENDPOINT S3_PROTO S3_HOST S3_PORT S3_REGION
# S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET S3_CA_FILE (empty over http) WORK_DIR CMD_TIMEOUT E2E_SKIP_OPS.

: "${S3_ENDPOINT:?}" "${S3_BUCKET:?}" "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}" "${WORK_DIR:?}"
S3_REGION=${S3_REGION:-us-east-1}
S3_CA_FILE=${S3_CA_FILE:-}
CMD_TIMEOUT=${CMD_TIMEOUT:-120}
PYTHON_BIN=${PYTHON_BIN:-/usr/bin/python3}
FAILED=0
cd "$WORK_DIR" || exit 2

# fail MESSAGE: end the current step with a message (the step's first "ERR:" line is reported).
# Messages go to fd 9 (the step log, opened by step) so that they survive "$(... 2>&1)".
fail() { echo "ERR: $*" >&9; exit 1; }
exec 9>&2

_short() { # the command line for messages: no endpoint, secret or work dir; at most 200 chars
  local s="$*"
  s=${s//"--endpoint-url $S3_ENDPOINT "/}
  s=${s//"$S3_ENDPOINT"/<endpoint>}
  s=${s//"$WORK_DIR/"/}
  s=${s//"$S3_SECRET_KEY"/<secret>}
  [ ${#s} -gt 200 ] && s="${s:0:200}..."
  printf '%s' "$s"
}

# x CMD ARGS...: run a client command under a timeout; if it fails, say which command and why.
x() {
  local err rc=0
  err=$(mktemp "$WORK_DIR/.x.XXXXXX")
  timeout -k 5 "$CMD_TIMEOUT" "$@" 2>"$err" || rc=$?
  # A client that crashed (SIGSEGV: Debian's aws-cli did once, over HTTPS, after s3mux had sent
  # every byte of every range) runs once more; the crash stays in the step log, and a second one
  # fails the step.
  if [ "$rc" -eq 139 ]; then
    cat "$err" >&2
    echo "NOTE: $(basename "$1") crashed (SIGSEGV); running it once more" >&2
    rc=0
    timeout -k 5 "$CMD_TIMEOUT" "$@" 2>"$err" || rc=$?
  fi
  cat "$err" >&2
  if [ "$rc" -ne 0 ]; then
    local last
    last=$(grep -v '^[[:space:]]*$' "$err" | tail -n 1 || true)
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      echo "ERR: timed out after ${CMD_TIMEOUT}s: $(basename "$1") $(_short "${@:2}")" >&9
    else
      echo "ERR: $(basename "$1") $(_short "${@:2}") -> exit $rc${last:+: $last}" >&9
    fi
  fi
  mv -f "$err" "$WORK_DIR/.last-stderr" # for checks on a client's warnings (see LAST_STDERR)
  return "$rc"
}

LAST_STDERR=$WORK_DIR/.last-stderr # stderr of the last x command

# expect_fail REGEX CMD ARGS...: CMD must fail, and its output must match REGEX (e.g. an S3 error code).
expect_fail() {
  local pat=$1 out rc=0
  shift
  out=$(timeout -k 5 "$CMD_TIMEOUT" "$@" 2>&1) || rc=$?
  printf '%s\n' "$out" >&2
  [ "$rc" -ne 0 ] || fail "expected failure matching /$pat/ but it succeeded: $(basename "$1") $(_short "${@:2}")"
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "timed out after ${CMD_TIMEOUT}s: $(basename "$1") $(_short "${@:2}")"
  grep -qE -- "$pat" <<<"$out" || fail "expected /$pat/ from $(basename "$1") $(_short "${@:2}"), got: $(grep -v '^[[:space:]]*$' <<<"$out" | tail -n 1)"
}

sha() { timeout -k 5 "$CMD_TIMEOUT" sha256sum "$1" | cut -d' ' -f1; } # (files may sit on a FUSE mount)
md5() { md5sum "$1" | cut -d' ' -f1; }

# same EXPECTED ACTUAL: the two files must be byte-identical (compared by sha256).
same() {
  timeout -k 5 "$CMD_TIMEOUT" test -f "$2" || fail "$2 was not written"
  [ "$(sha "$1")" = "$(sha "$2")" ] || fail "sha256 mismatch: $(basename "$2") ($(stat -c %s "$2") bytes) differs from $(basename "$1") ($(stat -c %s "$1") bytes)"
}

# tree_sums DIR: "sha256  relative/path" for every file below DIR, sorted.
tree_sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

# same_tree EXPECTED_DIR ACTUAL_DIR
same_tree() {
  local a b
  a=$(tree_sums "$1")
  b=$(tree_sums "$2")
  [ "$a" = "$b" ] || fail "trees differ: $(diff <(echo "$a") <(echo "$b") | grep '^[<>]' | head -n 3 | tr '\n' ' ')"
}

# count REGEX TEXT: number of lines of TEXT matching REGEX
count() { grep -cE -- "$1" <<<"$2" || true; }

# make_tree DIR N: N small random files in a few subfolders, some with awkward names.
make_tree() {
  local dir=$1 n=$2 i d name
  for ((i = 0; i < n; i++)); do
    d="$dir/d$((i % 5))"
    case $((i % 40)) in
      0) name="file with space $i.txt" ;;
      1) name="plus+sign $i.txt" ;;
      2) name="ünïcødé-$i.txt" ;;
      3) name="odd&chars=$i;(x).txt" ;;
      *) name="f$i.txt" ;;
    esac
    mkdir -p "$d"
    head -c $(((i * 7919) % 3000 + 1)) /dev/urandom >"$d/$name"
  done
}

# step NAME FUNCTION [ARGS...]: run one operation in a subshell with errexit, report OP NAME ok|FAIL.
# Returns the step's exit status; exit status 77 with a "SKIP: why" line skips the whole scenario.
# An operation listed in E2E_SKIP_OPS (comma-separated: the backend's declared store gaps, see
# test/e2e/targets.ts) is not run and reported as "OP NAME skip".
step() {
  local name=$1 log rc
  shift
  if [[ ",${E2E_SKIP_OPS:-}," == *",$name,"* ]]; then
    echo "OP $name skip"
    return 0
  fi
  log="$WORK_DIR/step-$name.log"
  (
    exec 9>&2
    set -eEuo pipefail
    shopt -s inherit_errexit
    # Report a failing command of the step itself, not one inside a $(...) (for instance a grep
    # that finds nothing while a failure message is being built): that one surfaces in its caller.
    _level=$BASH_SUBSHELL
    trap '_rc=$?; [[ $BASH_COMMAND == return* ]] || [ "$BASH_SUBSHELL" -ne "$_level" ] || echo "ERR: line $LINENO: $(_short "$BASH_COMMAND") -> exit $_rc" >&9' ERR
    "$@"
  ) >"$log" 2>&1 </dev/null
  rc=$? # (not "|| rc=$?": errexit would be ignored inside the subshell)
  { echo "=== step $name (exit $rc)"; cat "$log"; } >&2
  if [ "$rc" -eq 0 ]; then
    echo "OP $name ok"
  elif [ "$rc" -eq 77 ]; then
    echo "SKIP $(grep -m1 '^SKIP: ' "$log" | cut -c7-)"
    exit 77
  else
    local msg
    msg=$(grep -m1 '^ERR: ' "$log" | cut -c6- || true)
    [ -n "$msg" ] || msg=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 || true)
    echo "OP $name FAIL ${msg:-exit $rc}"
    FAILED=$((FAILED + 1))
  fi
  return "$rc"
}

# skip_step WHY: inside a step, skip the whole scenario (e.g. FUSE cannot mount here).
skip_step() { echo "SKIP: $*" >&9; exit 77; }

# abort: a step everything else depends on failed.
abort() { echo "aborting: a step the rest depends on failed" >&2; exit 1; }

# must NAME FUNCTION [ARGS...]: a step the rest depends on; abort the scenario if it fails.
# (Never write "step ... || abort": inside a || list bash ignores errexit, even in the step's subshell.)
must() { step "$@"; local rc=$?; [ "$rc" -eq 0 ] || abort; }

finish() { [ "$FAILED" -eq 0 ] && exit 0; exit 1; }
