#!/usr/bin/env bash
# berth check-health, the network path: nothing listening; a port that never
# answers; a name that does not resolve; TLS with an untrusted CA, a
# certificate for another host name and an expired certificate (made with
# openssl in the test, the expired one under faketime); a server whose /v2/
# sends no Bearer challenge and one whose realm does not answer; network
# rules refusing this client's address and public access turned off; a server clock 300 s
# ahead (berth serve under faketime); plain HTTP to an address that is not
# loopback. Where the fix is a command it is run as
# printed; where it is an instruction (DNS, a certificate, a clock, a
# non-registry server) the test does what it says. Then check-health passes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/health-lib.sh"
work_init
hc_env

# ---- nothing listening: the fix starts the server
P=$(free_port)
expect_hc CONNECTIVITY_REFUSED "127.0.0.1:$P with nothing listening" "127.0.0.1:$P"
expect_match "  ... naming the address and port" "127.0.0.1 port $P" "$HC_MSG"
expect_fix_re "^berth serve --listen 127.0.0.1:$P$"
echo "# fix: $HC_FIX (with a data folder and an open registry, in the background)"
eval "$HC_FIX --data '$WORK/open' --auth false >>'$SRV_LOG' 2>&1 &"
SERVER_PIDS+=("$!")
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/v2/")" = 200 ] && break; sleep 0.1; done
expect_hc_pass "after the fix started the server check-health passes" "127.0.0.1:$P"

# ---- a port whose accept queue is full: the connect times out
python3 - "$WORK/blackhole.port" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
c = socket.create_connection(s.getsockname(), timeout=2)  # fills the queue
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(60)
EOF
EXTRA_PIDS+=("$!")
for _ in $(seq 50); do [ -s "$WORK/blackhole.port" ] && break; sleep 0.1; done
BH=$(cat "$WORK/blackhole.port")
expect_hc CONNECTIVITY_TIMEOUT "a port that never completes the handshake (--timeout 2)" "127.0.0.1:$BH" --timeout 2
expect_match "  ... saying how long it waited" "within 2 s" "$HC_MSG"

# ---- DNS (an instruction: use the right name)
expect_hc DNS_RESOLUTION_FAILED "a host name that does not resolve" --server "http://nosuch.invalid:$P"
expect_match "  ... naming the host, for IPv4 and IPv6" "nosuch.invalid does not resolve \\(IPv4: .*IPv6: " "$HC_MSG"
expect_hc_pass "the right name passes" --server "http://localhost:$P"

# ---- TLS: a CA, a certificate for 127.0.0.1 and localhost, one for localhost only, an expired one
T=$WORK/tls
mkdir -p "$T"
(
    cd "$T" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=berth test CA" 2>/dev/null
    mk() { # mk NAME SAN [faketime prefix...]
        local name=$1 san=$2
        shift 2
        openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
        printf 'subjectAltName=%s\n' "$san" >"$name.ext"
        "$@" openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" -days 1 \
            -extfile "$name.ext" 2>/dev/null
    }
    mk good "DNS:localhost,IP:127.0.0.1"
    mk onlyname "DNS:localhost"
    mk old "DNS:localhost,IP:127.0.0.1" faketime -f -3d
)
check "openssl made a CA and three server certificates" test -s "$T/good.pem" -a -s "$T/onlyname.pem" -a -s "$T/old.pem"
SCHEME=https BERTH_AUTH=1 berth_start_on 127.0.0.1 --tls-cert "$T/good.pem" --tls-key "$T/good.key"
PW=$(cat "$DATA/initial-owner-password")
echo "$PW" >"$WORK/pw"
HC_STDIN=$WORK/pw
S=https://127.0.0.1:$PORT
expect_hc TLS_UNTRUSTED "https with a CA this machine does not trust" --server "$S" -u owner --password-stdin
expect_match "  ... naming the issuer" "berth test CA" "$HC_MSG"
expect_match "  ... and how to install the CA" "update-ca-certificates" "$HC_MSG"
expect_fix_re "--ca-file CA.pem( |$)"
# the fix names the CA file as CA.pem: the test puts its own file there
HC_FIX=${HC_FIX//CA.pem/$T/ca.pem}
run_fix "$PW"
expect_hc_pass "with --ca-file the CA check-health passes" --server "$S" -u owner --password-stdin --ca-file "$T/ca.pem"
expect_hc TLS_HOSTNAME_MISMATCH "-n default: its login server default.localhost is not in the certificate" -n default \
    --server "$S" -u owner --password-stdin --ca-file "$T/ca.pem"
expect_match "  ... naming the login server" "must name the login server default.localhost:$PORT" "$HC_MSG"
berth_stop
SCHEME=https BERTH_AUTH=1 berth_start_on 127.0.0.1 --tls-cert "$T/onlyname.pem" --tls-key "$T/onlyname.key"
S=https://127.0.0.1:$PORT
expect_hc TLS_HOSTNAME_MISMATCH "a certificate for localhost reached as 127.0.0.1" --server "$S" -u owner \
    --password-stdin --ca-file "$T/ca.pem"
expect_match "  ... naming the names in the certificate" "DNS:localhost" "$HC_MSG"
expect_fix_re "--server https://localhost:$PORT"
run_fix "$PW"
expect_hc_pass "the name in the certificate passes" --server "https://localhost:$PORT" -u owner --password-stdin \
    --ca-file "$T/ca.pem"
berth_stop
SCHEME=https BERTH_AUTH=1 berth_start_on 127.0.0.1 --tls-cert "$T/old.pem" --tls-key "$T/old.key"
S=https://127.0.0.1:$PORT
expect_hc TLS_EXPIRED "an expired certificate" --server "$S" -u owner --password-stdin --ca-file "$T/ca.pem"
expect_match "  ... saying when it expired" "expired on .*20[0-9][0-9]" "$HC_MSG"
# an instruction: renew the certificate and restart the server with it
berth_stop
SCHEME=https BERTH_AUTH=1 berth_start_on 127.0.0.1 --tls-cert "$T/good.pem" --tls-key "$T/good.key"
expect_hc_pass "a renewed certificate passes" --server "https://127.0.0.1:$PORT" -u owner --password-stdin \
    --ca-file "$T/ca.pem"
# a loopback login server without a scheme is tried over http first: the empty reply switches to https
expect_hc_pass "127.0.0.1:PORT on a TLS server: https, said so" "$HOSTPORT" -u owner --password-stdin \
    --ca-file "$T/ca.pem"
check "  ... the tls check says the server speaks HTTPS" \
    jqq '.checks[] | select(.name == "tls") | .message | test("empty reply: the server speaks HTTPS")' <<<"$HC_OUT"
berth_stop
HC_STDIN=""

# ---- no route to the server: a network namespace whose loopback is down
if unshare -n true 2>/dev/null; then
    BERTH_AUTH=1 berth_start_on 127.0.0.1
    HC_OUT=$(unshare -n "$BERTH_BIN" check-health --json --client berth "$HOSTPORT" 2>/dev/null)
    HC_CODE=$(jq -r '[.checks[] | select(.status == "ERROR")][0].code // empty' <<<"$HC_OUT")
    HC_MSG=$(jq -r '[.checks[] | select(.status == "ERROR")][0].message // empty' <<<"$HC_OUT")
    expect_eq "no route to 127.0.0.1 (unshare -n): CONNECTIVITY_UNREACHABLE" CONNECTIVITY_UNREACHABLE "$HC_CODE"
    expect_match "  ... with the system's words" "unreachable" "$HC_MSG"
    berth_stop
else
    skip "unshare -n is not allowed here: no namespace without a route"
fi

# ---- servers that are not (good) registries: no Bearer challenge; a realm that does not answer
DEAD=$(free_port)
cat >"$WORK/fake.py" <<EOF
import http.server, sys
mode = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401)
        if mode == "basic":
            self.send_header("WWW-Authenticate", 'Basic realm="fake"')
        else:
            self.send_header("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:$DEAD/token",service="fake"')
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
# a third that closes every connection after reading the request, and a fourth without a Date header
cat >"$WORK/fake2.py" <<EOF
import http.server, sys
mode = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if mode == "close":
            self.close_connection = True
            self.connection.close()
            return
        self.send_response_only(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="http://%s/token",service="nodate"' % self.headers["Host"])
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_POST = do_GET
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
python3 "$WORK/fake2.py" close "$WORK/fake3.port" &
EXTRA_PIDS+=("$!")
python3 "$WORK/fake2.py" nodate "$WORK/fake4.port" &
EXTRA_PIDS+=("$!")
python3 "$WORK/fake.py" basic "$WORK/fake1.port" &
EXTRA_PIDS+=("$!")
python3 "$WORK/fake.py" bearer "$WORK/fake2.port" &
EXTRA_PIDS+=("$!")
for _ in $(seq 50); do [ -s "$WORK/fake1.port" ] && [ -s "$WORK/fake2.port" ] && break; sleep 0.1; done
expect_hc CHALLENGE_INVALID "a server answering /v2/ with a Basic challenge" "127.0.0.1:$(cat "$WORK/fake1.port")"
expect_match "  ... saying it is not Bearer" "not Bearer" "$HC_MSG"
expect_hc REALM_UNREACHABLE "a Bearer challenge whose realm does not answer" "127.0.0.1:$(cat "$WORK/fake2.port")"
expect_match "  ... naming the realm" "http://127.0.0.1:$DEAD/token" "$HC_MSG"
for _ in $(seq 50); do [ -s "$WORK/fake3.port" ] && [ -s "$WORK/fake4.port" ] && break; sleep 0.1; done
expect_hc CONNECTIVITY_ERROR "a server that closes the connection after the request" "127.0.0.1:$(cat "$WORK/fake3.port")"
expect_match "  ... with curl's words" "Empty reply|reply from server" "$HC_MSG"
hc "127.0.0.1:$(cat "$WORK/fake4.port")" --ignore-errors
check "a server that sends no Date header: CLOCK_UNKNOWN (a warning)" \
    jqq '.checks[] | select(.name == "clock") | .status == "WARNING" and .code == "CLOCK_UNKNOWN"' <<<"$HC_OUT"
# an instruction (the server must advertise a reachable realm): a real berth server passes
BERTH_AUTH=1 berth_start_on 0.0.0.0
owner_session
expect_hc_pass "a berth server passes (session on 127.0.0.1)" "$HOSTPORT"
expect_hc TLS_HANDSHAKE_FAILED "https to a server that speaks plain HTTP" --server "https://127.0.0.1:$PORT"
expect_fix_re "--server http://127.0.0.1:$PORT"
run_fix

# ---- plain HTTP to an address that is not loopback: docker needs insecure-registries (a warning)
EXT=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.' | grep -v '^127\.' | head -n 1)
if [ -n "$EXT" ] && [ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$EXT:$PORT/v2/")" != 000 ]; then
    expect_hc_warn INSECURE_REGISTRY "plain http to $EXT" --server "http://$EXT:$PORT" -u owner -p "$PW"
    # an instruction (serve TLS, or list it in the daemon's insecure-registries); TLS is tested above
else
    skip "no non-loopback address reaches the server here"
fi

# ---- network rules: a default Deny whose only rule is for 127.0.0.2 refuses this client (127.0.0.1)
"$BERTH_BIN" network-rule add -n default --ip-address 127.0.0.2 >/dev/null
"$BERTH_BIN" registry update -n default --default-action Deny >/dev/null
echo "$PW" >"$WORK/pw"
HC_STDIN=$WORK/pw
expect_hc NETWORK_ACCESS_DENIED "a client at 127.0.0.1 under default action Deny" "$HOSTPORT" -u owner --password-stdin
expect_match "  ... naming the client IP the server saw and the default action" "127.0.0.1.*default action Deny" \
    "$HC_MSG"
expect_fix_re "^berth network-rule add -n default --ip-address 127.0.0.1$"
run_fix
expect_hc_pass "after the fix check-health passes" "$HOSTPORT" -u owner --password-stdin
HC_STDIN=""
"$BERTH_BIN" registry update -n default --default-action Allow >/dev/null

# ---- public network access off
"$BERTH_BIN" registry update -n default --public-network-enabled false >/dev/null
expect_hc PUBLIC_ACCESS_DISABLED "public network access disabled" "$HOSTPORT"
expect_fix_re "^berth registry update -n default --public-network-enabled true$"
run_fix
expect_hc_pass "after the fix check-health passes" "$HOSTPORT"
berth_stop

# ---- the server's clock 300 s ahead (berth serve under faketime, no hook in berth)
if ! command -v faketime >/dev/null; then
    skip "faketime is not installed (sh scripts/deps.sh test)"
else
    # libfaketime preloaded into berth itself (not the faketime program), so SIGTERM reaches berth
    FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketimeMT.so' | head -n 1)
    printf '#!/bin/sh\nLD_PRELOAD=%s FAKETIME=+300s ASAN_OPTIONS=verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} exec "%s" "$@"\n' \
        "$FT_LIB" "$BERTH_BIN" >"$WORK/berth-ahead"
    chmod +x "$WORK/berth-ahead"
    REAL_BIN=$BERTH_BIN
    BERTH_BIN=$WORK/berth-ahead BERTH_AUTH=1 berth_start_on 127.0.0.1
    BERTH_BIN=$REAL_BIN
    owner_session
    expect_hc_warn CLOCK_SKEW "a server clock 300 s ahead: a warning, the other checks go on" "$HOSTPORT"
    expect_match "  ... saying by how much and which way" "clock is 30[0-9] s behind" "$HC_MSG"
    check "  ... the credential was still checked" jqq '.checks[] | select(.name == "credentials") | .status == "OK"' \
        <<<"$HC_OUT"
    # a skewed clock must not hide a wrong password behind it
    expect_hc WRONG_PASSWORD "a wrong password behind the skewed clock is still named" "$HOSTPORT" -u owner -p wrong-pw
    check "  ... with the clock warning before it" jqq '.checks[] | select(.name == "clock") | .code == "CLOCK_SKEW"' \
        <<<"$HC_OUT"
    # an instruction (synchronise the clocks): the server restarts on the real time
    berth_stop
    BERTH_AUTH=1 berth_start_on 127.0.0.1
    owner_session
    expect_hc_pass "with the clocks in step check-health passes" "$HOSTPORT"
    # the session's directory refresh token (3 h) seen by a server 4 h ahead, on the same address
    berth_stop
    printf '#!/bin/sh\nLD_PRELOAD=%s FAKETIME=+4h ASAN_OPTIONS=verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} exec "%s" "$@"\n' \
        "$FT_LIB" "$BERTH_BIN" >"$WORK/berth-later"
    chmod +x "$WORK/berth-later"
    BERTH_BIN=$WORK/berth-later BERTH_PORT=$PORT BERTH_AUTH=1 berth_start_on 127.0.0.1
    BERTH_BIN=$REAL_BIN
    expect_hc REFRESH_TOKEN_EXPIRED "the session's refresh token, 4 h later" "$HOSTPORT"
    expect_fix_re "^berth auth login --server $URL -u owner --password-stdin$"
    run_fix "$(cat "$DATA/initial-owner-password")"
    HC_WARN_OK=1 expect_hc_pass "after logging in again check-health passes (the clock warning stays)" "$HOSTPORT"
    berth_stop
fi
for p in "${EXTRA_PIDS[@]}"; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
done
EXTRA_PIDS=()
finish
