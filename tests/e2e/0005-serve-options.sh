#!/usr/bin/env bash
# berth serve's options: --help lists every setting with its default, a bad
# value stops start-up naming the key and its range, the environment and a
# JSON config file apply, HTTPS with --tls-cert/--tls-key, and SIGTERM lets
# an in-flight upload finish before the process exits 0.
. "$(dirname "$0")/lib.sh"
work_init
[ -x "$BERTH_BIN" ] || { skip "berth binary not found at $BERTH_BIN"; finish; }

"$BERTH_BIN" serve --help >"$WORK/help" 2>&1
check "serve --help exits 0" test $? -eq 0
for opt in listen data tls-cert tls-key log-level manifest-max blob-max max-connections connection-timeout \
    header-max threads shutdown-timeout; do
    check "serve --help lists --$opt with a default" grep -Eq -- "--$opt .*\(default: " "$WORK/help"
done

# Bad values: refused before start-up, the message names the key and the range.
"$BERTH_BIN" serve --data "$WORK/x" --max-connections 0 >"$WORK/out" 2>&1
rc=$?
check "max-connections 0 stops start-up" test $rc -ne 0
check "the message names max-connections and 1..65536" grep -q "max-connections.*1\.\.65536" "$WORK/out"
"$BERTH_BIN" serve --data "$WORK/x" --manifest-max 9Q >"$WORK/out" 2>&1
check "a malformed size is refused" test $? -ne 0
check "the message names manifest-max" grep -q "manifest-max" "$WORK/out"
"$BERTH_BIN" serve --no-such-option 1 >"$WORK/out" 2>&1
check "an unknown option exits 2" test $? -eq 2
check "the message names the option" grep -q -- "--no-such-option" "$WORK/out"
BERTH_LOG_LEVEL=chatty "$BERTH_BIN" serve --data "$WORK/x" >"$WORK/out" 2>&1
check "a bad environment value is refused" test $? -ne 0
check "the message names BERTH_LOG_LEVEL" grep -q "BERTH_LOG_LEVEL" "$WORK/out"
printf '{"listen": 5}' >"$WORK/bad.json"
"$BERTH_BIN" serve --config "$WORK/bad.json" --data "$WORK/x" >"$WORK/out" 2>&1
check "a config file with a bad listen value is refused" test $? -ne 0
printf '{"listen": "127.0.0.1:1",' >"$WORK/broken.json"
"$BERTH_BIN" serve --config "$WORK/broken.json" >"$WORK/out" 2>&1
check "a malformed config file is refused, naming it" grep -q "broken.json" "$WORK/out"
"$BERTH_BIN" serve --listen 127.0.0.1:99999 --data "$WORK/x" >"$WORK/out" 2>&1
check "a port over 65535 is refused" grep -q "listen" "$WORK/out"

# Settings from a JSON file and the environment.
port=$(free_port)
printf '{"listen": "127.0.0.1:%s", "log-level": "warn", "page-max": 2, "auth": false}\n' "$port" >"$WORK/cfg.json"
"$BERTH_BIN" serve --config "$WORK/cfg.json" --data "$WORK/filecfg" >"$WORK/filecfg.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
req GET "http://127.0.0.1:$port/v2/"
expect_status 200 "the listen address comes from --config"
kill -TERM $pid; wait $pid
check "SIGTERM stops the server with exit 0" test $? -eq 0

port=$(free_port)
BERTH_LISTEN=127.0.0.1:$port BERTH_DATA=$WORK/envdata BERTH_AUTH=false "$BERTH_BIN" serve >"$WORK/env.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
req GET "http://127.0.0.1:$port/v2/"
expect_status 200 "BERTH_LISTEN sets the address"
check "BERTH_DATA sets the data folder" test -f "$WORK/envdata/berth.db"
kill -INT $pid; wait $pid
check "SIGINT stops the server with exit 0" test $? -eq 0

# HTTPS.
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
    "$BERTH_BIN" serve --tls-cert "$WORK/cert.pem" --data "$WORK/y" >"$WORK/out" 2>&1
    check "tls-cert without tls-key is refused" grep -q "tls-key" "$WORK/out"
    port=$(free_port)
    "$BERTH_BIN" serve --listen 127.0.0.1:$port --data "$WORK/tls" --auth false --tls-cert "$WORK/cert.pem" \
        --tls-key "$WORK/key.pem" >"$WORK/tls.log" 2>&1 &
    pid=$!
    SERVER_PIDS+=("$pid")
    for _ in $(seq 50); do curl -s -o /dev/null --cacert "$WORK/cert.pem" "https://127.0.0.1:$port/v2/" && break; sleep 0.1; done
    req GET "https://127.0.0.1:$port/v2/" --cacert "$WORK/cert.pem"
    expect_status 200 "HTTPS answers with the given certificate"
    rand_file "$WORK/tlsblob" 100000
    d=$(digest_of "$WORK/tlsblob")
    req POST "https://127.0.0.1:$port/v2/tls/app/blobs/uploads/?digest=$d" --cacert "$WORK/cert.pem" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/tlsblob"
    expect_status 201 "a monolithic push over HTTPS"
    req GET "https://127.0.0.1:$port/v2/tls/app/blobs/$d" --cacert "$WORK/cert.pem"
    expect_body_digest "$d" "the blob comes back over HTTPS"
    kill -TERM $pid; wait $pid
else
    skip "openssl is not installed: no HTTPS test"
fi

# SIGTERM while an upload is in flight: the upload completes, then the process exits 0.
berth_start --shutdown-timeout 20
rand_file "$WORK/slow" 1500000
d=$(digest_of "$WORK/slow")
upload_start slow/app
curl -sS -o /dev/null -w '%{http_code}' --limit-rate 500K -X PUT -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/slow" \
    "$(add_query "$UPLOAD_URL" "digest=$d")" >"$WORK/slow.code" 2>"$WORK/slow.err" &
cpid=$!
sleep 1
kill -TERM "$BERTH_PID"
wait $cpid
check "the in-flight upload completes after SIGTERM (201)" test "$(cat "$WORK/slow.code")" = 201
wait "$BERTH_PID"
check "the server exits 0 after draining" test $? -eq 0
check "the server logged that it stopped" grep -q 'msg="stopped"' "$SRV_LOG"
BERTH_PID=""
berth_start
req HEAD "/v2/slow/app/blobs/$d"
expect_status 200 "the blob pushed during shutdown is there after restart"
berth_stop

# ---- --log-format json: one JSON object per line, for log pipelines
out=$("$BERTH_BIN" serve --log-format xml --data "$WORK/d-xml" 2>&1)
check "--log-format takes text or json only (exit 2, saying so)" \
    sh -c '[ "$1" = 2 ] && printf "%s" "$2" | grep -q "not text or json"' _ "$?" "$out"
: >"$SRV_LOG"
berth_start --log-format json
curl -s -o /dev/null -A 'probe "quoted" agent' "$URL/v2/a%22b/tags/list"
req GET /v2/
sleep 0.3
berth_stop
check "every server log line is a JSON object" sh -c 'grep -v "^===" "$1" | jq -e -s "length > 2 and all(type == \"object\")" >/dev/null' _ "$SRV_LOG"
check "the access line keeps numbers as numbers and the client's quotes as text" \
    sh -c 'grep -v "^===" "$1" | jq -e -s "any(.msg == \"access\" and .ua == \"probe \\\"quoted\\\" agent\" and (.status | type) == \"number\" and (.dur_ms | type) == \"number\")" >/dev/null' \
    _ "$SRV_LOG"
check "and the level and time of each line" sh -c 'grep -v "^===" "$1" | jq -e -s "all(has(\"ts\") and has(\"level\"))" >/dev/null' _ "$SRV_LOG"
finish
