#!/usr/bin/env bash
# Behind a trusted proxy (127.0.0.1 here), an X-Forwarded-For that cannot be
# walked -- over 8 KiB, over 8 KiB split across several header lines, folded
# onto a continuation line, a malformed or empty right-most item -- is refused with 400 and an OCI error
# body, never served as the proxy's own address: that address would pass the
# registry's ipRules, management-networks-only and the loopback-only
# /metrics. A well-formed header still names the client, and the proxy's own
# requests (no header) are the proxy's.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start --trusted-proxies 127.0.0.1 --management-networks 127.0.0.1 \
    --management-networks-only true
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")

req PATCH /api/v1/registries/default "${OWN[@]}" -H 'Content-Type: application/json' --data-binary \
    '{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"127.0.0.1"}]}}'
expect_status 200 "the owner allows only 127.0.0.1 (the proxy) on the registry"

# the reference points: the proxy itself, and a client it names properly
req GET /metrics
expect_status 200 "the proxy's own request (no X-Forwarded-For) reads /metrics"
req GET /metrics -H 'X-Forwarded-For: 203.0.113.9'
expect_status 403 "a client named by the proxy does not read /metrics"
req GET /v2/ "${OWN[@]}" -H 'X-Forwarded-For: 203.0.113.9'
expect_status 403 "a client named by the proxy is refused by the ipRules"

long=$(python3 -c 'print(", ".join(["198.51.100.%d" % (i % 250 + 1) for i in range(700)]))') # about 9 KiB
half=$(python3 -c 'print(", ".join(["198.51.100.%d" % (i % 250 + 1) for i in range(350)]))') # about 4.6 KiB
bad_case() { # bad_case LABEL CURL-ARGS...: /metrics, /v2/ and /api/v1 each get 400 INVALID_REQUEST
    local label=$1
    shift
    req GET /metrics "$@"
    expect_error 400 INVALID_REQUEST "$label: /metrics answers 400, not as to the proxy"
    expect_match "$label: the message names X-Forwarded-For and the proxy" \
        "X-Forwarded-For from trusted proxy 127\.0\.0\.1" "$(jq -r '.errors[0].message' "$BODY")"
    req GET /v2/ "${OWN[@]}" "$@"
    expect_error 400 INVALID_REQUEST "$label: /v2/ answers 400, not as the allowed proxy"
    req GET /api/v1/tenant "${OWN[@]}" "$@"
    expect_error 400 INVALID_REQUEST "$label: /api/v1 answers 400, not as a management network"
}
bad_case "over 8 KiB" -H "X-Forwarded-For: 203.0.113.9, $long"
bad_case "over 8 KiB on two lines" -H "X-Forwarded-For: 203.0.113.9, $half" -H "X-Forwarded-For: $half"
bad_case "a malformed right-most item" -H 'X-Forwarded-For: 203.0.113.9, not-an-address'
bad_case "an empty right-most item" -H 'X-Forwarded-For: 203.0.113.9,'
bad_case "an address with a port" -H 'X-Forwarded-For: 203.0.113.9:4711'

# folded onto a continuation line (obs-fold): libmicrohttpd would hand it over under another name
folded() { # folded PATH: the status line of GET PATH with X-Forwarded-For folded over two lines
    python3 - "$PORT" "$1" "$PW" <<'PY'
import base64, socket, sys
port, path, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
auth = base64.b64encode(b"owner:" + pw.encode())
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + auth +
          b"\r\nX-Forwarded-For: 203.0.113.9,\r\n 203.0.113.10\r\nConnection: close\r\n\r\n")
s.settimeout(5)
print(s.recv(65536).split(b"\r\n")[0].decode())
PY
}
expect_eq "folded over two lines: /metrics answers 400, not as to the proxy" "HTTP/1.1 400 Bad Request" "$(folded /metrics)"
expect_eq "folded over two lines: /v2/ answers 400, not as the allowed proxy" "HTTP/1.1 400 Bad Request" "$(folded /v2/)"
expect_eq "folded over two lines: /api/v1 answers 400" "HTTP/1.1 400 Bad Request" "$(folded /api/v1/tenant)"

# a malformed item left of the client is never reached, so it does not matter
req GET /metrics -H 'X-Forwarded-For: junk, 203.0.113.9'
expect_status 403 "a malformed item left of the client is not walked: 203.0.113.9 is refused /metrics"
req GET /v2/ "${OWN[@]}" -H 'X-Forwarded-For: 203.0.113.9' -H 'X-Forwarded-For: 127.0.0.1'
expect_status 403 "two header lines are walked as one list (203.0.113.9 right of the proxy)"

# ---- the address the client reached: X-Forwarded-Proto and -Host of a trusted proxy, or external-url
realm_of() { grep -i '^WWW-Authenticate:' "$HDRS" | sed -E 's/.*realm="([^"]*)".*/\1/' | tr -d '\r'; }
req GET /v2/ -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Host: registry.example:8443'
expect_eq "a trusted proxy's X-Forwarded-Proto and -Host make the token realm" \
    "https://registry.example:8443/oauth2/token" "$(realm_of)"
req GET /v2/ -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Host: first.example, second.example'
expect_eq "of a list of hosts, the first (what the client asked the first proxy for)" \
    "https://first.example/oauth2/token" "$(realm_of)"
req GET /v2/ -H 'X-Forwarded-Proto: gopher' -H 'X-Forwarded-Host: bad host/x'
expect_eq "a scheme or host that is not one is not taken" "http://$HOSTPORT/oauth2/token" "$(realm_of)"
TENANT=$(curl -s "${OWN[@]}" "$URL/api/v1/tenant" | jq -r .tenantId)
req GET "/directory/$TENANT/v2.0/.well-known/openid-configuration" -H 'X-Forwarded-Proto: https' \
    -H 'X-Forwarded-Host: registry.example'
check "the directory's endpoints too" jq -e '.token_endpoint | startswith("https://registry.example/directory/")' "$BODY"
berth_stop
BERTH_AUTH=1 berth_start --external-url https://reg.example.com/
req GET /v2/ -H 'X-Forwarded-Proto: http' -H 'X-Forwarded-Host: elsewhere.example'
expect_eq "external-url makes the realm, whatever the headers say" "https://reg.example.com/oauth2/token" "$(realm_of)"
req GET /adfs/.well-known/openid-configuration
check "and the ADFS face's endpoints" jq -e '.token_endpoint == "https://reg.example.com/adfs/oauth2/token"' "$BODY"
berth_stop
out=$("$BERTH_BIN" serve --external-url https://reg.example.com/v2 --data "$WORK/d-ext" 2>&1)
check "an external-url with a path is refused at start, saying why" \
    sh -c 'printf "%s" "$1" | grep -q "no path: berth serves from the root"' _ "$out"
BERTH_AUTH=1 berth_start
req GET /v2/ -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Host: registry.example'
expect_eq "without trusted-proxies the forwarded headers are not taken" "http://$HOSTPORT/oauth2/token" "$(realm_of)"
finish
