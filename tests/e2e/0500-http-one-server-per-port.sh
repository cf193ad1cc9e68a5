#!/usr/bin/env bash
# One server per port: a second `berth serve` on an address another server
# listens on stops at start-up with a message naming the address, instead of
# sharing the port (SO_REUSEPORT) and taking some of the first one's
# connections; the first server keeps every connection.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start

"$BERTH_BIN" serve --listen "$HOSTPORT" --data "$WORK/second" >"$WORK/second.log" 2>&1 &
second=$!
EXTRA_PIDS+=("$second")
for _ in $(seq 50); do
    kill -0 "$second" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$second" 2>/dev/null; then
    fail "a second server on $HOSTPORT stops at start-up" "it is still running" "$(tail -n 3 "$WORK/second.log")"
else
    wait "$second"
    rc=$?
    check "a second server on $HOSTPORT exits 1" test "$rc" -eq 1
fi
check "its message names the address in use" grep -q "cannot listen on $HOSTPORT: the address is already in use" \
    "$WORK/second.log"
check "it never says it is serving" sh -c "! grep -q 'berth is serving' '$WORK/second.log'"
check "it bootstrapped nothing (no owner password written)" test ! -e "$WORK/second/initial-owner-password"

# Every connection still reaches the first server: its owner password works on each of them.
pw=$(cat "$DATA/initial-owner-password")
good=0
for _ in $(seq 20); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -u "owner:$pw" "$URL/oauth2/token?service=default.localhost&scope=registry:catalog:*")
    [ "$code" = 200 ] && good=$((good + 1))
done
expect_eq "20 token requests with the first server's credentials all succeed" 20 "$good"
finish
