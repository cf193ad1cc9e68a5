#!/usr/bin/env bash
# Blob GET/HEAD, byte ranges, DELETE and isolation between repositories.
. "$(dirname "$0")/lib.sh"

berth_start
A=bg/a
B=bg/b

rand_file "$WORK/blob" 1000
push_blob "$A" "$WORK/blob" || bail "push a blob to $A"
d=$BLOB_DIGEST
rand_file "$WORK/other" 10
push_blob "$B" "$WORK/other" || bail "push a blob to $B"
dother=$BLOB_DIGEST

req GET "/v2/$A/blobs/$d"
expect_status 200 "GET blob answers 200"
expect_header Content-Length 1000 "GET blob has Content-Length"
expect_header Docker-Content-Digest "$d" "GET blob has Docker-Content-Digest"
expect_header Accept-Ranges bytes "GET blob has Accept-Ranges: bytes"
expect_header Docker-Distribution-API-Version registry/2.0 "GET blob has Docker-Distribution-API-Version"
expect_body_digest "$d" "GET blob returns the bytes pushed"

req HEAD "/v2/$A/blobs/$d"
expect_status 200 "HEAD blob answers 200"
expect_header Content-Length 1000 "HEAD blob has Content-Length"
expect_header Docker-Content-Digest "$d" "HEAD blob has Docker-Content-Digest"

# expect_range SPEC START END DESC
expect_range() {
    local spec=$1 s=$2 e=$3 desc=$4
    req GET "/v2/$A/blobs/$d" -H "Range: $spec"
    head -c $((e + 1)) "$WORK/blob" | tail -c $((e - s + 1)) >"$WORK/want"
    if [ "$STATUS" = 206 ] && [ "$(hdr Content-Range)" = "bytes $s-$e/1000" ] &&
        [ "$(hdr Content-Length)" = $((e - s + 1)) ] && cmp -s "$WORK/want" "$BODY"; then
        ok "$desc"
    else
        fail "$desc" "expected 206, Content-Range bytes $s-$e/1000 and $((e - s + 1)) matching bytes" \
            "got $STATUS, Content-Range $(hdr Content-Range), $(file_size "$BODY") bytes"
    fi
}
expect_range bytes=10-19 10 19 "Range bytes=10-19 answers 206 with those bytes"
expect_range bytes=0-0 0 0 "Range bytes=0-0 answers 206 with one byte"
expect_range bytes=990- 990 999 "Range bytes=990- answers 206 with the tail"
expect_range bytes=-5 995 999 "Range bytes=-5 answers 206 with the last 5 bytes"
expect_range bytes=0-999 0 999 "Range bytes=0-999 answers 206 with everything"
expect_range bytes=995-5000 995 999 "Range whose end is past the size is cut at the last byte"

req GET "/v2/$A/blobs/$d" -H 'Range: bytes=1000-1010'
expect_status 416 "Range starting at the size answers 416"
expect_header Content-Range 'bytes */1000' "416 has Content-Range bytes */1000"
req GET "/v2/$A/blobs/$d" -H 'Range: bytes=5000-'
expect_status 416 "Range bytes=5000- answers 416"
expect_header Content-Range 'bytes */1000' "416 for bytes=5000- has Content-Range bytes */1000"

# HEAD must not send a body: look at the raw bytes.
printf 'HEAD /v2/%s/blobs/%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$A" "$d" "$HOSTPORT" >"$WORK/head.req"
raw_send "$HOSTPORT" "$WORK/head.req" >"$WORK/head.resp"
python3 - "$WORK/head.resp" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
head, sep, rest = data.partition(b"\r\n\r\n")
ok = sep and head.startswith(b"HTTP/1.1 200") and b"\r\ncontent-length: 1000" in head.lower() and rest == b""
sys.exit(0 if ok else 1)
EOF
check "HEAD blob sends Content-Length 1000 and no body" test $? -eq 0

# Ranges on the empty blob.
: >"$WORK/zero"
push_blob "$A" "$WORK/zero" || fail "push the empty blob"
req GET "/v2/$A/blobs/$BLOB_DIGEST" -H 'Range: bytes=0-'
expect_status '200|416' "Range bytes=0- of the empty blob answers 416 (or 200 ignoring it)"
req GET "/v2/$A/blobs/$BLOB_DIGEST"
expect_status 200 "GET the empty blob answers 200"
expect_header Content-Length 0 "GET the empty blob has Content-Length 0"

# A larger blob, to see streaming and a range in the middle.
rand_file "$WORK/big" $((20 * 1024 * 1024 + 3))
push_blob "$A" "$WORK/big" || fail "push a 20 MiB blob"
dbig=$BLOB_DIGEST
req GET "/v2/$A/blobs/$dbig"
expect_status 200 "GET 20 MiB blob answers 200"
expect_body_digest "$dbig" "GET 20 MiB blob returns the bytes pushed"
req GET "/v2/$A/blobs/$dbig" -H 'Range: bytes=10000000-10999999'
expect_status 206 "Range inside the 20 MiB blob answers 206"
head -c 11000000 "$WORK/big" | tail -c 1000000 >"$WORK/want"
check "Range inside the 20 MiB blob returns those bytes" cmp -s "$WORK/want" "$BODY"
expect_header Content-Range "bytes 10000000-10999999/$((20 * 1024 * 1024 + 3))" "Range inside the 20 MiB blob has Content-Range"

# Unknown blobs.
unknown=sha256:$(rand_hex 32)
req GET "/v2/$A/blobs/$unknown"
expect_error 404 BLOB_UNKNOWN "GET unknown blob is 404 BLOB_UNKNOWN"
req HEAD "/v2/$A/blobs/$unknown"
expect_status 404 "HEAD unknown blob is 404"
req GET "/v2/$A/blobs/sha512:$(rand_hex 64)"
expect_error 404 BLOB_UNKNOWN "GET unknown sha512 blob is 404 BLOB_UNKNOWN"
req DELETE "/v2/$A/blobs/$unknown"
expect_error 404 BLOB_UNKNOWN "DELETE unknown blob is 404 BLOB_UNKNOWN"

# Isolation between repositories.
req GET "/v2/$B/blobs/$d"
expect_error 404 BLOB_UNKNOWN "blob of $A is 404 BLOB_UNKNOWN in $B"
req HEAD "/v2/$B/blobs/$d"
expect_status 404 "HEAD blob of $A in $B is 404"
req GET "/v2/$B/blobs/$d" -H 'Range: bytes=0-9'
expect_error 404 BLOB_UNKNOWN "ranged GET of $A's blob in $B is 404 BLOB_UNKNOWN"
req GET "/v2/$A/blobs/$dother"
expect_error 404 BLOB_UNKNOWN "blob of $B is 404 BLOB_UNKNOWN in $A"
req GET "/v2/bg/none/blobs/$d"
expect_error 404 'BLOB_UNKNOWN|NAME_UNKNOWN' "blob in a repository that does not exist is 404"
req DELETE "/v2/$B/blobs/$d"
expect_error 404 BLOB_UNKNOWN "DELETE in $B of $A's blob is 404 BLOB_UNKNOWN"
req HEAD "/v2/$A/blobs/$d"
expect_status 200 "the refused DELETE in $B left the blob in $A"

req POST "/v2/$B/blobs/uploads/?mount=$d&from=$A"
expect_status 201 "mount $A's blob into $B"
req GET "/v2/$B/blobs/$d"
expect_status 200 "after the mount the blob is visible in $B"
expect_body_digest "$d" "mounted blob returns the bytes pushed"

# DELETE.
req DELETE "/v2/$A/blobs/$d"
expect_status 202 "DELETE blob answers 202"
req GET "/v2/$A/blobs/$d"
expect_error 404 BLOB_UNKNOWN "GET after DELETE is 404 BLOB_UNKNOWN"
req HEAD "/v2/$A/blobs/$d"
expect_status 404 "HEAD after DELETE is 404"
req GET "/v2/$B/blobs/$d"
expect_status 200 "DELETE in $A leaves the blob mounted in $B"
expect_body_digest "$d" "the blob in $B still has the bytes pushed"

# A blob can be pushed again after a DELETE.
push_blob "$A" "$WORK/blob" || fail "push the deleted blob again"
req GET "/v2/$A/blobs/$d"
expect_status 200 "blob pushed again after DELETE is back"
expect_body_digest "$d" "blob pushed again returns the bytes pushed"

finish
