#!/usr/bin/env bash
# Connection memory: 1,000 keep-alive connections, each after one answered
# request and then idle, keep the server under 128 MB resident (each one
# holds a connection-memory buffer, now 96K by default). Request heads up to
# header-max (a 60 KiB Authorization header) still fit and reach berth, and
# a connection-memory that could not hold header-max stops start-up.
. "$(dirname "$0")/lib.sh"
work_init
ulimit -n 8192 2>/dev/null || true

timeout 20 "$BERTH_BIN" serve --listen 127.0.0.1:0 --data "$WORK/x" --connection-memory 64K >"$WORK/small.log" 2>&1
check "connection-memory 64K with header-max 64K stops start-up" test $? -ne 0
check "the message names both settings" grep -q "config 'connection-memory' (65536) must be at least 'header-max' (65536) + 16K" \
    "$WORK/small.log"

# A sanitizer build's own memory (shadow, quarantine of freed blocks) is not the server's: there the
# quarantine is kept small and the growth with the connections is measured instead of the total.
sanitized=0
if grep -aq __asan_init "$BERTH_BIN"; then
    sanitized=1
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1
fi
berth_start --max-connections 4096 # a quarter of it per address: 1,024 from 127.0.0.1
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$BERTH_PID/status"; }
before=$(rss_kb)
python3 - "$PORT" 1000 >"$WORK/idle.out" <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks, answered = [], 0
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
for s in socks:
    s.settimeout(10)
    if s.recv(4096).startswith(b"HTTP/1.1 200"):
        answered += 1
print(answered, flush=True)
time.sleep(8)
PY
idle=$!
EXTRA_PIDS+=("$idle")
for _ in $(seq 100); do
    [ -s "$WORK/idle.out" ] && break
    sleep 0.2
done
expect_eq "1,000 keep-alive connections each get their answer" 1000 "$(head -n 1 "$WORK/idle.out")"
sleep 1
open=$(ls "/proc/$BERTH_PID/fd" | wc -l)
rss=$(rss_kb)
check "the server holds them open ($open descriptors)" test "$open" -ge 1000
if [ "$sanitized" = 1 ]; then
    check "sanitizer build: 1,000 idle keep-alive connections add under 128 MB (${before} kB at rest, ${rss} kB with them)" \
        test $((rss - before)) -lt 131072
else
    check "resident memory with 1,000 idle keep-alive connections is under 128 MB (${before} kB at rest, ${rss} kB with them)" \
        test "$rss" -lt 131072
fi
kill "$idle" 2>/dev/null
wait "$idle" 2>/dev/null

jwt=$(python3 -c 'print("e" * 61440)')
req GET /v2/ -H "Authorization: Bearer $jwt"
expect_status 200 "a request with a 60 KiB Authorization header reaches berth"
big=$(python3 -c 'print("e" * 70000)')
req GET /v2/ -H "Authorization: Bearer $big"
expect_error 431 UNSUPPORTED "a head over header-max is refused by berth, as an OCI error"
expect_alive
finish
