#!/usr/bin/env bash
# GET/HEAD /v2/, the headers every response carries, unknown routes and
# methods, oversized request headers.
. "$(dirname "$0")/lib.sh"

berth_start

req GET /v2/
expect_status 200 "GET /v2/ answers 200"
expect_eq "GET /v2/ body is {}" "{}" "$(jq -c . "$BODY" 2>/dev/null)"
expect_header Docker-Distribution-API-Version registry/2.0 "GET /v2/ has Docker-Distribution-API-Version"
expect_header_re X-Request-Id '^.+$' "GET /v2/ has X-Request-Id"
id1=$(hdr X-Request-Id)
req GET /v2/
id2=$(hdr X-Request-Id)
check "X-Request-Id differs between requests" test "$id1" != "$id2"

req HEAD /v2/
expect_status 200 "HEAD /v2/ answers 200"
expect_header Docker-Distribution-API-Version registry/2.0 "HEAD /v2/ has Docker-Distribution-API-Version"

printf 'HEAD /v2/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$HOSTPORT" >"$WORK/head.req"
raw_send "$HOSTPORT" "$WORK/head.req" >"$WORK/head.resp"
python3 - "$WORK/head.resp" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
head, sep, rest = data.partition(b"\r\n\r\n")
sys.exit(0 if sep and head.startswith(b"HTTP/1.1 200") and rest == b"" else 1)
EOF
check "HEAD /v2/ sends headers and no body" test $? -eq 0

# Two pipelined requests in one write get two answers.
printf 'GET /v2/ HTTP/1.1\r\nHost: %s\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' \
    "$HOSTPORT" "$HOSTPORT" >"$WORK/pipe.req"
raw_send "$HOSTPORT" "$WORK/pipe.req" >"$WORK/pipe.resp"
expect_eq "two pipelined requests get two 200 answers" 2 \
    "$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().count(b"HTTP/1.1 200 "))' "$WORK/pipe.resp")"

# Unknown routes: 404 with the usual headers and an OCI error body.
req GET /v2/some/repo/nothing-here
expect_status 404 "GET on an unknown /v2 route answers 404"
expect_header Docker-Distribution-API-Version registry/2.0 "404 has Docker-Distribution-API-Version"
expect_header_re X-Request-Id '^.+$' "404 has X-Request-Id"
expect_header_re Content-Type '^application/json' "404 has Content-Type application/json"
check "404 body is an OCI error list" jq -e '(.errors | type) == "array" and (.errors | length) >= 1
    and (.errors[0].code | type) == "string" and (.errors[0].message | type) == "string"' "$BODY"

req GET /not-v2
expect_status 404 "GET outside /v2 answers 404"

req GET /v2/missing/repo/manifests/latest
expect_error 404 NAME_UNKNOWN "manifest of an unknown repository is 404 NAME_UNKNOWN"
expect_header Docker-Distribution-API-Version registry/2.0 "error responses have Docker-Distribution-API-Version"
expect_header_re X-Request-Id '^.+$' "error responses have X-Request-Id"

# Known routes with a method they do not serve.
req DELETE /v2/
expect_status 405 "DELETE /v2/ answers 405"
req POST /v2/
expect_status 405 "POST /v2/ answers 405"
req PATCH /v2/some/repo/manifests/latest
expect_status 405 "PATCH on a manifest answers 405"
req POST /v2/some/repo/tags/list
expect_status 405 "POST on tags/list answers 405"
req PUT /v2/_catalog
expect_status 405 "PUT on _catalog answers 405"
req POST /v2/some/repo/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000
expect_status 405 "POST on a blob answers 405"

HDR_CHECK=0
req FOO /v2/
expect_status '400|405|501' "an unknown HTTP method answers 400, 405 or 501"
HDR_CHECK=1

# Oversized request header.
big=$(head -c 102400 /dev/zero | tr '\0' 'a')
printf 'X-Big: %s\n' "$big" >"$WORK/bighdr"
HDR_CHECK=0
req GET /v2/ -H "@$WORK/bighdr"
expect_status '431|400' "a 100 KiB request header is refused with 431 or 400"
expect_alive "server still answers after a 100 KiB header"

# Many headers and a long URL.
for i in $(seq 2000); do printf 'X-H%d: %s\n' "$i" "$(printf '%060d' 0)"; done >"$WORK/manyhdr"
req GET /v2/ -H "@$WORK/manyhdr"
expect_status '431|400' "2000 request headers are refused with 431 or 400"
expect_alive "server still answers after 2000 headers"

long=$(head -c 102400 /dev/zero | tr '\0' 'a')
req GET "/v2/$long/tags/list"
expect_status '4[0-9][0-9]' "a 100 KiB URL is refused with a 4xx"
expect_alive "server still answers after a 100 KiB URL"
HDR_CHECK=1

# Garbage instead of HTTP.
head -c 4096 /dev/urandom >"$WORK/garbage"
raw_send "$HOSTPORT" "$WORK/garbage" >/dev/null
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n' >"$WORK/badcl"
raw_send "$HOSTPORT" "$WORK/badcl" >/dev/null
printf 'POST /v2/x/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n' >"$WORK/smuggle"
raw_send "$HOSTPORT" "$WORK/smuggle" >/dev/null
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n' >"$WORK/badchunk"
raw_send "$HOSTPORT" "$WORK/badchunk" >/dev/null
expect_alive "server still answers after garbage requests"

finish
