#!/usr/bin/env bash
# Request framing (RFC 9112 6.3): a request with both Content-Length and
# Transfer-Encoding -- the smuggling shape behind a proxy that frames by
# Content-Length -- gets 400 with an OCI error body and the connection is
# closed, so a request hidden in its body is never answered. The same for a
# Transfer-Encoding other than chunked, for Content-Length lines that
# disagree, and for Transfer-Encoding folded onto a continuation line. Plain
# chunked and Content-Length requests keep the connection.
. "$(dirname "$0")/lib.sh"
berth_start

# raw_exchange NAME: sends $WORK/NAME.req on one connection, reads until the
# server closes (or 3 s of silence) and writes what came back to $WORK/NAME.resp.
raw_exchange() {
    python3 - "$PORT" "$WORK/$1.req" "$WORK/$1.resp" <<'PY'
import socket, sys
port, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(open(src, "rb").read())
s.settimeout(3)
got = b""
closed = "open"
try:
    while True:
        b = s.recv(65536)
        if not b:
            closed = "closed"
            break
        got += b
except socket.timeout:
    pass
open(dst, "wb").write(got + b"\n--" + closed.encode() + b"\n")
PY
}
statuses() { grep -aoE 'HTTP/1\.[01] [0-9]{3}' "$WORK/$1.resp" | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//'; }
ended() { tail -n 1 "$WORK/$1.resp"; }

# the smuggling shape: Content-Length covers the whole body, chunked ends after "0"
inner=$'GET /v2/smuggled/tags/list HTTP/1.1\r\nHost: x\r\n\r\n'
body=$'0\r\n\r\n'"$inner"
printf 'POST /v2/a/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s' \
    "${#body}" "$body" >"$WORK/smuggle.req"
raw_exchange smuggle
expect_eq "Content-Length with Transfer-Encoding: one answer, 400" 400 "$(statuses smuggle)"
expect_eq "and the server closes the connection" "--closed" "$(ended smuggle)"
check "the answer says Connection: close" grep -aqi '^Connection: close' "$WORK/smuggle.resp"
check "the answer is an OCI error body naming both headers" \
    grep -aq '"code":"INVALID_REQUEST","message":"a request may not carry both Content-Length and Transfer-Encoding' \
    "$WORK/smuggle.resp"
check "the hidden request was never answered" sh -c "! grep -aq NAME_UNKNOWN '$WORK/smuggle.resp'"
check "nor seen (no access-log line for it)" sh -c "! grep -q 'smuggled' '$SRV_LOG'"

# the same with the headers the other way round, on a GET
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n%s' \
    "${#body}" "$body" >"$WORK/smuggle2.req"
raw_exchange smuggle2
expect_eq "Transfer-Encoding before Content-Length on GET: one answer, 400" 400 "$(statuses smuggle2)"
expect_eq "and the connection is closed" "--closed" "$(ended smuggle2)"

printf 'PUT /v2/a/manifests/t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' >"$WORK/te.req"
raw_exchange te
expect_eq "Transfer-Encoding other than chunked: 400" 400 "$(statuses te)"
expect_eq "and the connection is closed" "--closed" "$(ended te)"

printf 'PUT /v2/a/manifests/t HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}' >"$WORK/cl.req"
raw_exchange cl
expect_eq "Content-Length lines that disagree: 400" 400 "$(statuses cl)"
expect_eq "and the connection is closed" "--closed" "$(ended cl)"

# Transfer-Encoding folded onto a continuation line: libmicrohttpd would not see it and frame by
# Content-Length, while a proxy that unfolds it frames by chunked
printf 'POST /v2/a/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: %d\r\n\r\n%s' \
    "${#body}" "$body" >"$WORK/fold.req"
raw_exchange fold
expect_eq "Transfer-Encoding folded over two lines: one answer, 400" 400 "$(statuses fold)"
expect_eq "and the connection is closed" "--closed" "$(ended fold)"

# well-framed requests keep the connection: two pipelined requests, two answers, still open
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
    >"$WORK/good.req"
raw_exchange good
expect_eq "Content-Length alone and chunked alone are answered" "200 200" "$(statuses good)"
expect_eq "and the connection stays open" "--open" "$(ended good)"
expect_alive
finish
