#!/usr/bin/env bash
# One address cannot hold every connection: 120 connections trickling
# their request heads from 127.0.0.2 against --max-connections 60, and 1,100
# idle ones against the default 1,024, leave /healthz and /v2/ answering
# other clients (max-connections-per-ip, by default a quarter of
# max-connections; trusted proxies are not limited). A request head must be
# complete within header-timeout seconds, however slowly it trickles in; a
# head sent in time is answered, and a slow body is not cut off.
. "$(dirname "$0")/lib.sh"
work_init
if [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' --interface 127.0.0.2 http://127.0.0.1:1/ 2>/dev/null; echo $?)" = "00045" ]; then
    skip "cannot send from 127.0.0.2 (no loopback aliases here)"
    finish
fi
ulimit -n 8192 2>/dev/null || true

# hold N SECONDS TRICKLE OUT: opens N connections from 127.0.0.2 and keeps them
# for SECONDS, sending one byte of a request head every TRICKLE seconds (0:
# nothing); touches OUT.ready once all are connected, and writes how many were
# still open (not closed by the server) at the end to OUT.
hold() {
    python3 - "$PORT" "$@" <<'PY' &
import socket, sys, time
port, n, secs, trickle, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
head = b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4000
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    try:
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        s.close()
open(out + ".ready", "w").close()
sent = 0
end = time.time() + secs
while time.time() < end:
    if trickle:
        for s in socks:
            try:
                s.send(head[sent:sent + 1])
            except OSError:
                pass
        sent += 1
    time.sleep(trickle or 0.2)
held = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1, socket.MSG_PEEK):
            held += 1
    except BlockingIOError:
        held += 1
    except OSError:
        pass
open(out, "w").write("%d\n" % held)
PY
    EXTRA_PIDS+=($!)
}
wait_ready() { # wait_ready OUT: until the connections are open, then 3 s for the server to take them in
    local i
    for i in $(seq 100); do
        [ -e "$1.ready" ] && break
        sleep 0.1
    done
    sleep 3
}
# probe DESC: /healthz and /v2/ from 127.0.0.1 answer 200, five times each
probe() {
    local good=0 i
    for i in 1 2 3 4 5; do
        [ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$URL/healthz")" = 200 ] && good=$((good + 1))
        [ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$URL/v2/")" = 200 ] && good=$((good + 1))
    done
    expect_eq "$1" 10 "$good"
}

# ---- 120 trickling connections against --max-connections 60
berth_start --max-connections 60
hold 120 8 1 "$WORK/trickle.held"
wait_ready "$WORK/trickle.held"
probe "with 120 trickling connections from 127.0.0.2, /healthz and /v2/ answer 127.0.0.1 (10 of 10)"
wait "${EXTRA_PIDS[-1]}"
held=$(cat "$WORK/trickle.held")
check "127.0.0.2 kept at most 15 connections open, plus a few racing accepts (kept $held)" test "$held" -le 20
check "the refusal is logged with the address and the limit" \
    grep -q 'connection refused: the address holds its share of connections" ip=127.0.0.2 .*max_connections_per_ip=15' "$SRV_LOG"
berth_stop

# ---- a trusted proxy is not limited: every client behind it shares its address
berth_start --max-connections 60 --trusted-proxies 127.0.0.2
hold 40 4 0 "$WORK/proxy.held"
wait_ready "$WORK/proxy.held"
wait "${EXTRA_PIDS[-1]}"
expect_eq "a trusted proxy (127.0.0.2) keeps 40 connections open, over the 15 per address" 40 "$(cat "$WORK/proxy.held")"
berth_stop

# ---- 1,100 idle connections against the default 1,024
berth_start
hold 1100 12 0 "$WORK/idle.held"
wait_ready "$WORK/idle.held"
probe "with 1,100 idle connections from 127.0.0.2, /healthz and /v2/ answer 127.0.0.1 (10 of 10)"
wait "${EXTRA_PIDS[-1]}"
held=$(cat "$WORK/idle.held")
check "127.0.0.2 kept at most 256 connections open, plus a few racing accepts (kept $held)" test "$held" -le 262
berth_stop

# ---- header-timeout: a trickled head is cut off, a head sent in time is answered
berth_start --header-timeout 3
python3 - "$PORT" >"$WORK/deadline.out" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
t0 = time.time()
head = b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100
closed_after = None
for i in range(len(head)):
    try:
        s.send(head[i:i + 1])
        s.settimeout(1.0)
        if s.recv(1) == b"":
            closed_after = time.time() - t0
            break
    except socket.timeout:
        continue
    except OSError:
        closed_after = time.time() - t0
        break
    if time.time() - t0 > 20:
        break
print("trickle", "open" if closed_after is None else "%.1f" % closed_after)
# a head sent slowly but within the deadline is answered
s = socket.create_connection(("127.0.0.1", port))
for part in (b"GET /v2/ HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
    s.send(part)
    time.sleep(0.6)
s.settimeout(3)
print("slow", s.recv(64).split(b"\r\n")[0].decode())
PY
t=$(awk '/^trickle/ {print $2}' "$WORK/deadline.out")
if [ "$t" != open ] && python3 -c "import sys; sys.exit(0 if 2.5 <= float('$t') <= 5 else 1)"; then
    ok "a head trickled one byte a second is cut off after header-timeout 3 s (closed after ${t} s)"
else
    fail "a head trickled one byte a second is cut off after header-timeout 3 s" "got: ${t:-nothing}"
fi
expect_eq "a head sent in three pieces within 2 s is answered" "HTTP/1.1 200 OK" \
    "$(awk '/^slow/ {sub(/^slow /, ""); print}' "$WORK/deadline.out")"
rand_file "$WORK/blob" 1200000
d=$(digest_of "$WORK/blob")
req POST "/v2/slow/blobs/uploads/?digest=$d" --limit-rate 200k -H 'Content-Type: application/octet-stream' \
    --data-binary "@$WORK/blob"
expect_status 201 "a body that takes longer than header-timeout (about 6 s) is not cut off"
check "the cut-off is logged" grep -q 'closed connections that sent no complete request head in time" count=1 header_timeout_s=3' "$SRV_LOG"
expect_alive
finish
