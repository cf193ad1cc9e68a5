#!/usr/bin/env bash
# Two servers on one PostgreSQL database and one blob store (a shared data
# folder, or one S3 bucket with BERTH_E2E_S3_ENV): the chunks of one upload
# alternate between them, a chunk in flight on one keeps the other out of
# that session, a server killed with -9 in the middle of a chunk leaves the
# session to the other (from the last chunk it acknowledged), push through
# one and pull through the other.
. "$(dirname "$0")/lib.sh"

if [ -z "${BERTH_E2E_PG:-}" ]; then
    work_init
    skip "two servers need a shared metadata database: set BERTH_E2E_PG (make test does)"
    finish
fi
if [ -n "${BERTH_E2E_PAIR:-}" ]; then
    work_init
    skip "this test starts its own two servers (not under BERTH_E2E_PAIR)"
    finish
fi

work_init
store=()
DATA_B=$DATA
if [ -n "${BERTH_E2E_S3_ENV:-}" ]; then
    # shellcheck disable=SC1090
    . "$BERTH_E2E_S3_ENV"
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    bucket=t0601-$(rand_hex 6)
    store=(--store "s3://$bucket?endpoint=$BERTH_TEST_S3_ENDPOINT&region=$BERTH_TEST_S3_REGION")
    DATA_B=$WORK/data-b
fi
berth_start "${store[@]}"
A=$URL
A_PID=$BERTH_PID
PB=$(free_port)
B=http://127.0.0.1:$PB
mkdir -p "$DATA_B"
"$BERTH_BIN" serve --listen "127.0.0.1:$PB" --data "$DATA_B" --auth false "${store[@]}" >>"$SRV_LOG" 2>&1 &
B_PID=$!
SERVER_PIDS+=("$B_PID")
wait_answer "$B" "$B_PID" "the second server"
R=pair/up

# slice FILE OFFSET LEN OUT
slice() {
    tail -c "+$(($2 + 1))" "$1" | head -c "$3" >"$4"
}

# patch_at SERVER UPLOAD-PATH FILE START-END: one chunk, to the server named.
patch_at() {
    req PATCH "$1$2" -H 'Content-Type: application/octet-stream' -H "Content-Range: $4" --data-binary "@$3"
    if [ "$STATUS" = 202 ]; then
        up=$(loc_path "$(hdr Location)")
    fi
}

# range_is SERVER UPLOAD-PATH WANT DESC: the session's status on that server.
range_is() {
    req GET "$1$2"
    if [ "$STATUS" = 204 ] && [ "$(hdr Range)" = "$3" ]; then
        ok "$4"
    else
        fail "$4" "expected 204 with Range: $3" "got $STATUS, Range: $(hdr Range)"
    fi
}

# ---- the chunks of one upload alternate between the servers
mib=1048576
rand_file "$WORK/big" $((13 * mib + 12345))
want=$(digest_of "$WORK/big")
req POST "$A/v2/$R/blobs/uploads/"
expect_status 202 "POST on the first server opens a session"
up=$(loc_path "$(hdr Location)")
off=0
n=0
for len in $((6 * mib)) $((5 * mib)) 100 $((2 * mib)); do
    slice "$WORK/big" $off $len "$WORK/chunk"
    if [ $((n % 2)) = 0 ]; then srv=$B; else srv=$A; fi
    patch_at "$srv" "$up" "$WORK/chunk" "$off-$((off + len - 1))"
    expect_status 202 "chunk $((n + 1)) ($len bytes at $off) goes to server $((n % 2 == 0 ? 2 : 1))"
    off=$((off + len))
    n=$((n + 1))
done
range_is "$A" "$up" "0-$((off - 1))" "the first server reports every byte the second received"
range_is "$B" "$up" "0-$((off - 1))" "and so does the second"
slice "$WORK/big" $off $(($(file_size "$WORK/big") - off)) "$WORK/chunk"
req PUT "$B$(add_query "$up" "digest=$want")" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/chunk"
expect_status 201 "the last chunk and the commit go to the second server"
HDR_CHECK=0 # -L ends at the S3 gateway, whose answer is not berth's
req GET "$A/v2/$R/blobs/$want" -L
HDR_CHECK=1
if [ "$STATUS" = 200 ] && [ "$(digest_of "$BODY")" = "$want" ]; then
    ok "the first server serves the blob whole"
else
    fail "the first server serves the blob whole" "got $STATUS, $(digest_of "$BODY")"
fi
req HEAD "$B/v2/$R/blobs/$want"
expect_status 200 "HEAD on the second server finds it"

# ---- a wrong digest found at the end, whichever server the chunks came through
req POST "$B/v2/$R/blobs/uploads/"
up=$(loc_path "$(hdr Location)")
slice "$WORK/big" 0 $((6 * mib)) "$WORK/chunk"
patch_at "$A" "$up" "$WORK/chunk" "0-$((6 * mib - 1))"
req PUT "$B$(add_query "$up" "digest=$EMPTY_DIGEST")" -H 'Content-Length: 0'
expect_error 400 DIGEST_INVALID "a digest that does not match the bytes both servers received is refused"

# ---- a chunk in flight on one server keeps the other out of the session
req POST "$A/v2/$R/blobs/uploads/"
up=$(loc_path "$(hdr Location)")
rand_file "$WORK/slow" $((4 * mib))
curl -sS -o /dev/null -H 'Expect:' -X PATCH -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: 0-$((4 * mib - 1))" --limit-rate 1M --data-binary "@$WORK/slow" "$A$up" &
slow=$!
EXTRA_PIDS+=("$slow")
sleep 1
slice "$WORK/slow" 0 100 "$WORK/chunk"
req PATCH "$B$up" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-99' --data-binary "@$WORK/chunk"
expect_status 409 "a chunk to the second server while the first is receiving one is refused (409)"
wait "$slow"
range_is "$B" "$up" "0-$((4 * mib - 1))" "after the slow chunk ends the second server sees it"

# ---- kill -9 the server receiving a chunk; the other takes the session over
req POST "$A/v2/$R/blobs/uploads/"
up=$(loc_path "$(hdr Location)")
rand_file "$WORK/killed" $((10 * mib))
kwant=$(digest_of "$WORK/killed")
slice "$WORK/killed" 0 $((3 * mib)) "$WORK/chunk"
patch_at "$A" "$up" "$WORK/chunk" "0-$((3 * mib - 1))"
expect_status 202 "a first chunk through the first server"
slice "$WORK/killed" $((3 * mib)) $((7 * mib)) "$WORK/chunk"
curl -sS -o /dev/null -H 'Expect:' -X PATCH -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: $((3 * mib))-$((10 * mib - 1))" --limit-rate 2M --data-binary "@$WORK/chunk" "$A$up" \
    2>/dev/null &
slow=$!
EXTRA_PIDS+=("$slow")
sleep 1.5
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
wait "$slow" 2>/dev/null
ok "the first server was killed with -9 while receiving the second chunk"
# the lock of a dead server goes with its database connection, a moment after it died
for _ in $(seq 50); do
    req GET "$B$up"
    [ "$STATUS" = 204 ] && break
    sleep 0.1
done
range_is "$B" "$up" "0-$((3 * mib - 1))" "the second server resumes the session at the last acknowledged chunk"
for _ in $(seq 50); do
    patch_at "$B" "$up" "$WORK/chunk" "$((3 * mib))-$((10 * mib - 1))"
    [ "$STATUS" != 409 ] && break
    sleep 0.1
done
expect_status 202 "the second server takes the rest of the upload"
req PUT "$B$(add_query "$up" "digest=$kwant")" -H 'Content-Length: 0'
expect_status 201 "and commits it: the digest covers the bytes of both servers"
HDR_CHECK=0
req GET "$B/v2/$R/blobs/$kwant" -L
HDR_CHECK=1
if [ "$STATUS" = 200 ] && [ "$(digest_of "$BODY")" = "$kwant" ]; then
    ok "the blob finished on the second server is whole"
else
    fail "the blob finished on the second server is whole" "got $STATUS, $(digest_of "$BODY")"
fi

# ---- push through one server, pull through the other (a real client)
if command -v skopeo >/dev/null; then
    make_oci_layout "$WORK/layout" 3
    if skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://127.0.0.1:$PB/pair/img:1" \
        >"$WORK/skopeo.out" 2>&1; then
        ok "skopeo pushes an image through the second server"
    else
        fail "skopeo pushes an image through the second server" "$(tail -3 "$WORK/skopeo.out")"
    fi
    # the first server is gone: start it again on its folder, it joins with what the second one wrote
    BERTH_PID=""
    berth_start "${store[@]}"
    if skopeo copy -q --src-tls-verify=false "docker://$HOSTPORT/pair/img:1" "oci:$WORK/back:latest" \
        >"$WORK/skopeo.out" 2>&1; then
        ok "skopeo pulls it through the restarted first server"
    else
        fail "skopeo pulls it through the restarted first server" "$(tail -3 "$WORK/skopeo.out")"
    fi
else
    skip "skopeo is not installed"
fi

finish
