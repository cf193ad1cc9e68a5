#!/usr/bin/env bash
# SIGHUP: berth serve reads its TLS certificate and key again and logs it;
# a new connection gets the new certificate (openssl s_client) while a
# request in flight over the old one completes; a bad new pair (not a
# certificate, another's key, expired) is logged with the reason and the
# previous certificate stays served. On plain HTTP, SIGHUP is logged and
# changes nothing. The server survives every SIGHUP and still exits 0 on
# SIGTERM. With a --config file, SIGHUP loads the settings again: those a
# running server takes apply to the next request and are logged with their
# old and new values, the others are logged as taking effect at the next
# start, and a bad file changes nothing.
. "$(dirname "$0")/lib.sh"
work_init
command -v openssl >/dev/null || { skip "openssl not found"; finish; }

mkcert() { # mkcert NAME CN [openssl req args]: $WORK/NAME.crt and $WORK/NAME.key
    local name=$1 cn=$2
    shift 2
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
        -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/$name.key" -out "$WORK/$name.crt" "$@" 2>/dev/null
}
mkcert a berth-first -days 30
mkcert b berth-second -days 30
if command -v faketime >/dev/null; then
    faketime '2020-01-01 00:00:00' bash -c "$(declare -f mkcert); WORK='$WORK' mkcert old berth-expired -days 1"
fi
cp "$WORK/a.crt" "$WORK/server.crt"
cp "$WORK/a.key" "$WORK/server.key"

PORT=$(free_port)
HOSTPORT=127.0.0.1:$PORT
URL=https://$HOSTPORT
SRV_LOG=$WORK/server.log
"$BERTH_BIN" serve --listen "$HOSTPORT" --data "$DATA" --auth false --tls-cert "$WORK/server.crt" \
    --tls-key "$WORK/server.key" >"$SRV_LOG" 2>&1 &
BERTH_PID=$!
SERVER_PIDS+=("$BERTH_PID")
for _ in $(seq 100); do
    curl -sk -o /dev/null "$URL/v2/" && break
    sleep 0.1
done
served() { # the subject CN a new TLS connection is shown
    openssl s_client -connect "$HOSTPORT" </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null |
        sed -n 's/.*CN *= *//p'
}
hup_and_wait() { # hup_and_wait PATTERN: SIGHUP, then until the log has one more line matching PATTERN
    local n
    n=$(grep -c -- "$1" "$SRV_LOG")
    kill -HUP "$BERTH_PID"
    for _ in $(seq 50); do
        [ "$(grep -c -- "$1" "$SRV_LOG")" -gt "$n" ] && return 0
        sleep 0.1
    done
    return 1
}
expect_eq "a new connection sees the first certificate" berth-first "$(served)"

# an upload trickling over TLS across the reload
rand_file "$WORK/blob" 1500000
d=$(digest_of "$WORK/blob")
curl -sk -o /dev/null -w '%{http_code}' --limit-rate 400k -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    -X POST --data-binary "@$WORK/blob" "$URL/v2/sighup/blobs/uploads/?digest=$d" >"$WORK/inflight.code" &
inflight=$!
sleep 1

cp "$WORK/b.crt" "$WORK/server.crt"
cp "$WORK/b.key" "$WORK/server.key"
check "SIGHUP is logged as a reload" hup_and_wait "reloaded the TLS certificate and key"
check "the server survives SIGHUP" kill -0 "$BERTH_PID"
expect_eq "a new connection after SIGHUP sees the new certificate" berth-second "$(served)"
wait "$inflight"
expect_eq "the upload in flight over the old certificate completes (201)" 201 "$(cat "$WORK/inflight.code")"

# bad pairs: the reason is logged, the second certificate stays
echo "not a certificate" >"$WORK/server.crt"
check "a file that is not a certificate: not reloaded, logged" \
    hup_and_wait "TLS certificate not reloaded; still serving the previous one\" err=\"config 'tls-cert': '$WORK/server.crt' holds no PEM certificate"
expect_eq "the previous certificate is still served" berth-second "$(served)"
cp "$WORK/a.crt" "$WORK/server.crt"
cp "$WORK/b.key" "$WORK/server.key"
check "another certificate's key: not reloaded, logged" \
    hup_and_wait "err=\"config 'tls-key': '$WORK/server.key' is not the key of the certificate\""
expect_eq "the previous certificate is still served" berth-second "$(served)"
if [ -s "$WORK/old.crt" ]; then
    cp "$WORK/old.crt" "$WORK/server.crt"
    cp "$WORK/old.key" "$WORK/server.key"
    check "an expired certificate: not reloaded, logged" hup_and_wait "the certificate in '$WORK/server.crt' has expired"
    expect_eq "the previous certificate is still served" berth-second "$(served)"
else
    skip "no faketime to make an expired certificate with"
fi
req GET "$URL/v2/" -k
expect_status 200 "HTTPS requests are still answered"

kill -TERM "$BERTH_PID"
wait "$BERTH_PID"
check "SIGTERM still stops the server with exit 0" test $? -eq 0
BERTH_PID=""

# plain HTTP, settings from a --config file: SIGHUP loads them again
printf '{"page-max": 1000, "log-level": "info", "gc-grace": 60}\n' >"$WORK/berth.json"
berth_start --config "$WORK/berth.json"
from=$(($(wc -l <"$SRV_LOG") + 1))
logged() { # logged PATTERN: within 5 s, a line of this server's log matches (grep -E)
    for _ in $(seq 50); do
        tail -n "+$from" "$SRV_LOG" | grep -Eq -- "$1" && return 0
        sleep 0.1
    done
    return 1
}
for r in one two three; do push_image "sighup/$r" latest >/dev/null; done
catalog_size() { curl -s "$URL/v2/_catalog?n=10" | jq '.repositories | length'; }
expect_eq "the catalog gives four repositories a page" 4 "$(catalog_size)"
kill -HUP "$BERTH_PID"
check "an unchanged config: SIGHUP logs nothing changed" logged 'settings reloaded" changed=0 applied=0'
check "and that there was nothing to reload (plain HTTP)" logged 'SIGHUP: nothing to reload \(plain HTTP\)'
expect_alive "a plain HTTP server survives SIGHUP"

printf '{"page-max": 2, "log-level": "warn", "gc-grace": 5, "external-url": "https://registry.example:8443"}\n' \
    >"$WORK/berth.json"
kill -HUP "$BERTH_PID"
check "SIGHUP counts what changed and what it applied" \
    logged 'settings reloaded" changed=4 applied=3 restart_needed=1'
check "a live setting is logged as applied, old and new" \
    logged 'msg="SIGHUP: setting applied" key=page-max old="1000" new="2"'
check "a setting read at start only is named, for the next start" \
    logged 'level=warn .*msg="SIGHUP: setting changed; it takes effect at the next start" key=gc-grace old="60" new="5"'
expect_eq "page-max applies to the next request" 2 "$(catalog_size)"
req GET "$URL/v2/_catalog?n=10"
check "and the page links to the next" has_hdr Link
curl -s -o /dev/null -A sighup-quiet "$URL/v2/"

printf '{"page-max": 2, "metrics-access": "nobody"}\n' >"$WORK/berth.json"
kill -HUP "$BERTH_PID"
check "a bad value: nothing is reloaded, the reason is logged" \
    logged "settings not reloaded; the server keeps the ones it runs with\" err=\"config 'metrics-access': 'nobody' is not one of"
printf '{"page-max": 2, "log-format": "json"}\n' >"$WORK/berth.json"
kill -HUP "$BERTH_PID"
check "going back to log-level info is logged" logged 'msg="SIGHUP: setting applied" key=log-level old="warn" new="info"'
curl -s -o /dev/null -A sighup-heard "$URL/v2/"
check "log-format json and log-level info apply live: the next request is logged, as JSON" \
    logged '^\{"ts":.*"ua":"sighup-heard"'
check "while log-level was warn, they were not" sh -c '! grep -q sighup-quiet "$1"' _ "$SRV_LOG"
printf '{"page-max": 0}\n' >"$WORK/berth.json"
kill -HUP "$BERTH_PID"
check "an out-of-range value is refused by name" logged "config 'page-max': '0' is not an integer in 1..100000"
expect_eq "and the running value stays" 2 "$(catalog_size)"
expect_alive "the server survives every SIGHUP"
finish
