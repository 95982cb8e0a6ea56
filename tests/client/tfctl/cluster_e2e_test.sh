#!/usr/bin/env bash
# End to end through a real local cluster: `tfctl cluster up` on a random
# loopback subnet (127.N.x.x, N in 2..250), bob@fabrikam.test signs in and
# receives in the background, alice@contoso.test sends to him (front-end ->
# contoso edge -> fabrikam edge -> front-end), bob must receive exactly that
# message; then `tfctl cluster down`. Everything is stopped and removed on
# any exit.
#
#   bash tests/client/tfctl/cluster_e2e_test.sh build/client/tfctl build
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 TFCTL BIN_DIR" >&2
  exit 2
fi
TFCTL=$1
BIN_DIR=$2
DIR=$(mktemp -d "${TMPDIR:-/tmp}/tf-cluster-e2e.XXXXXX")
SUBNET=$((RANDOM % 249 + 2))
RECEIVER=""

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$RECEIVER" ] && kill -0 "$RECEIVER" 2>/dev/null; then
    kill "$RECEIVER" 2>/dev/null || true
    wait "$RECEIVER" 2>/dev/null || true
  fi
  "$TFCTL" cluster down --dir "$DIR" --grace 5s >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    echo "--- cluster $DIR (subnet $SUBNET) failed; service logs:" >&2
    for log in "$DIR"/logs/*.log; do
      [ -f "$log" ] || continue
      echo "--- $log" >&2
      tail -n 25 "$log" >&2
    done
    for f in "$DIR"/receive.out "$DIR"/receive.err; do
      [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
    done
  fi
  rm -rf "$DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "cluster in $DIR on subnet $SUBNET"
"$TFCTL" cluster up --dir "$DIR" --subnet "$SUBNET" --bin-dir "$BIN_DIR" --timeout 60s
"$TFCTL" cluster status --dir "$DIR"

"$TFCTL" signin --dir "$DIR" --as bob@fabrikam.test
"$TFCTL" receive --dir "$DIR" --as bob@fabrikam.test --count 1 --timeout 60s \
  >"$DIR/receive.out" 2>"$DIR/receive.err" &
RECEIVER=$!

BODY="hello bob from alice, subnet $SUBNET, $(date +%s%N)"
SENT=$("$TFCTL" send --dir "$DIR" --as alice@contoso.test --to bob@fabrikam.test "$BODY")
echo "$SENT"
ID=$(echo "$SENT" | awk '$1 == "sent" { print $2 }')
[ -n "$ID" ] || fail "send printed no message id: $SENT"

# receive exits after one message, or fails after its own 60 s timeout.
if ! wait "$RECEIVER"; then
  RECEIVER=""
  fail "receive failed: $(cat "$DIR/receive.err")"
fi
RECEIVER=""
cat "$DIR/receive.out"
LINES=$(wc -l <"$DIR/receive.out")
[ "$LINES" -eq 1 ] || fail "bob received $LINES lines, expected exactly 1"
EXPECTED="alice@contoso.test -> bob@fabrikam.test: $BODY ($ID, "
case "$(cat "$DIR/receive.out")" in
  "$EXPECTED"*) ;;
  *) fail "bob received: $(cat "$DIR/receive.out"); expected a line starting with: $EXPECTED" ;;
esac

# Errors: one line "tfctl: <code>: ..." and the exit status of the code.
expect_failure() {
  local want_rc=$1 want_line=$2
  shift 2
  local rc=0
  "$@" >"$DIR/cmd.out" 2>"$DIR/cmd.err" || rc=$?
  [ "$rc" -eq "$want_rc" ] || fail "$* exited $rc, expected $want_rc: $(cat "$DIR/cmd.err")"
  grep -q "^$want_line" "$DIR/cmd.err" || fail "$* printed: $(cat "$DIR/cmd.err")"
}
expect_failure 4 "tfctl: not_found: " \
  "$TFCTL" send --dir "$DIR" --as alice@contoso.test --to nobody@fabrikam.test "lost"
expect_failure 2 "tfctl: usage: --as: " \
  "$TFCTL" send --dir "$DIR" --as alice@elsewhere.test --to bob@fabrikam.test "x"
expect_failure 11 "tfctl: deadline_exceeded: received 0 of 1" \
  "$TFCTL" receive --dir "$DIR" --as carol@contoso.test --count 1 --timeout 1s

"$TFCTL" cluster down --dir "$DIR"
expect_failure 10 "tfctl: unavailable: 8 of 8 services are not serving" \
  "$TFCTL" cluster status --dir "$DIR"
for pidfile in "$DIR"/pids/*.pid; do
  [ -e "$pidfile" ] && fail "pid file left behind: $pidfile"
done
if pgrep -f -- "--config $DIR/" >/dev/null; then
  fail "processes of $DIR still running after cluster down"
fi
echo "PASS"
