#!/usr/bin/env bash
# Blob uploads: monolithic, POST+PUT, chunked, streamed, chunked transfer
# encoding, out-of-order chunks, resume, sha512, cancel, status, mount,
# digest mismatch and aborted bodies.
. "$(dirname "$0")/lib.sh"

berth_start
R=up/test

# slice FILE OFFSET LEN OUT
slice() {
    tail -c "+$(($2 + 1))" "$1" | head -c "$3" >"$4"
}

# patch URL FILE [START-END]: on 202, $u follows the Location returned, as
# clients do; the tests of the first URL use their own variable.
patch() {
    local url=$1 f=$2
    if [ $# -ge 3 ]; then
        req PATCH "$url" -H 'Content-Type: application/octet-stream' -H "Content-Range: $3" --data-binary "@$f"
    else
        req PATCH "$url" -H 'Content-Type: application/octet-stream' --data-binary "@$f"
    fi
    if [ "$STATUS" = 202 ] && has_hdr Location; then
        u=$(abs_url "$(hdr Location)")
    fi
}

# blob_is REPO DIGEST SIZE DESC: GET the blob and compare its digest.
blob_is() {
    req GET "/v2/$1/blobs/$2"
    if [ "$STATUS" = 200 ] && [ "$(digest_of "$BODY" "${2%%:*}")" = "$2" ] && [ "$(file_size "$BODY")" = "$3" ]; then
        ok "$4"
    else
        fail "$4" "expected 200 with $3 bytes hashing to $2" "got $STATUS, $(file_size "$BODY") bytes"
    fi
}

# ---- monolithic POST ?digest=
rand_file "$WORK/mono" 5000
d=$(digest_of "$WORK/mono")
req POST "/v2/$R/blobs/uploads/?digest=$d" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/mono"
expect_status 201 "monolithic POST ?digest= answers 201"
expect_eq "monolithic POST Location is the blob" "/v2/$R/blobs/$d" "$(loc_path "$(hdr Location)")"
expect_header Docker-Content-Digest "$d" "monolithic POST has Docker-Content-Digest"
blob_is "$R" "$d" 5000 "monolithic blob reads back"

# ---- POST then PUT with the whole body
req POST "/v2/$R/blobs/uploads/"
expect_status 202 "POST /blobs/uploads/ answers 202"
loc=$(hdr Location)
expect_match "upload Location is /v2/<name>/blobs/uploads/<id>" "^(https?://[^/]+)?/v2/$R/blobs/uploads/[^/?]+(\\?.*)?\$" "$loc"
expect_header_re Docker-Upload-UUID '^.+$' "POST has Docker-Upload-UUID"
expect_header_re OCI-Chunk-Min-Length '^[0-9]+$' "POST has a numeric OCI-Chunk-Min-Length"
minlen=$(hdr OCI-Chunk-Min-Length) || minlen=0
[[ $minlen =~ ^[0-9]+$ ]] || minlen=0
CH=65536
[ "$minlen" -gt "$CH" ] && CH=$minlen
u=$(abs_url "$loc")

req GET "$u"
expect_status 204 "status of a fresh upload answers 204"
expect_header_re Docker-Upload-UUID '^.+$' "status of a fresh upload has Docker-Upload-UUID"

rand_file "$WORK/whole" 70000
d=$(digest_of "$WORK/whole")
req PUT "$(add_query "$u" "digest=$d")" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/whole"
expect_status 201 "PUT ?digest= with the whole body answers 201"
expect_eq "PUT Location is the blob" "/v2/$R/blobs/$d" "$(loc_path "$(hdr Location)")"
expect_header Docker-Content-Digest "$d" "PUT has Docker-Content-Digest"
blob_is "$R" "$d" 70000 "POST+PUT blob reads back"

req GET "$u"
expect_error 404 BLOB_UPLOAD_UNKNOWN "a completed upload's URL answers 404 BLOB_UPLOAD_UNKNOWN"
patch "$u" "$WORK/whole"
expect_error 404 BLOB_UPLOAD_UNKNOWN "PATCH to a completed upload answers 404 BLOB_UPLOAD_UNKNOWN"
req PUT "$(add_query "$u" "digest=$d")" -H 'Content-Length: 0'
expect_error 404 BLOB_UPLOAD_UNKNOWN "a second PUT to a completed upload answers 404 BLOB_UPLOAD_UNKNOWN"

# ---- query values percent-encoded, as Go clients send them
rand_file "$WORK/enc" 3000
d=$(digest_of "$WORK/enc")
upload_start "$R" || fail "POST for the encoded-digest upload"
req PUT "$(add_query "$UPLOAD_URL" "digest=${d/:/%3A}")" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/enc"
expect_status 201 "PUT ?digest=sha256%3A... answers 201"
expect_header Docker-Content-Digest "$d" "PUT with an encoded digest has the decoded Docker-Content-Digest"
req POST "/v2/up/encmount/blobs/uploads/?mount=${d/:/%3A}&from=up%2Ftest"
expect_status 201 "mount with ?mount=sha256%3A...&from=up%2Ftest answers 201"
blob_is up/encmount "$d" 3000 "blob mounted with encoded query values reads back"

# ---- the empty blob
: >"$WORK/zero"
dz=$(digest_of "$WORK/zero")
req POST "/v2/$R/blobs/uploads/?digest=$dz" -H 'Content-Type: application/octet-stream' -H 'Content-Length: 0'
expect_status 201 "monolithic POST of the empty blob answers 201"
blob_is "$R" "$dz" 0 "the empty blob reads back with 0 bytes"
req HEAD "/v2/$R/blobs/$dz"
expect_header Content-Length 0 "HEAD of the empty blob has Content-Length 0"
upload_start up/zero || fail "POST for an empty upload"
req PUT "$(add_query "$UPLOAD_URL" "digest=$dz")" -H 'Content-Length: 0'
expect_status 201 "POST then PUT of zero bytes answers 201"
blob_is up/zero "$dz" 0 "the empty blob uploaded with PUT reads back"

# ---- chunked PATCH with Content-Range, then PUT without a body
size=$((CH * 2 + 1234))
rand_file "$WORK/chunked" "$size"
d=$(digest_of "$WORK/chunked")
upload_start "$R" || fail "POST for chunked upload"
u=$UPLOAD_URL
first=$(hdr Location)
off=0
n=0
while [ "$off" -lt "$size" ]; do
    len=$CH
    [ $((off + len)) -gt "$size" ] && len=$((size - off))
    slice "$WORK/chunked" "$off" "$len" "$WORK/part"
    patch "$u" "$WORK/part" "$off-$((off + len - 1))"
    n=$((n + 1))
    expect_status 202 "chunk $n (Content-Range $off-$((off + len - 1))) answers 202"
    expect_header Range "0-$((off + len - 1))" "chunk $n answers Range 0-$((off + len - 1))"
    expect_eq "chunk $n keeps the upload Location" "$(loc_path "$first")" "$(loc_path "$(hdr Location)")"
    expect_header_re Docker-Upload-UUID '^.+$' "chunk $n has Docker-Upload-UUID"
    off=$((off + len))
done
req GET "$u"
expect_status 204 "status after chunks answers 204"
expect_header Range "0-$((size - 1))" "status after chunks has Range 0-$((size - 1))"
expect_header_re Location '.+' "status has Location"
expect_header_re Docker-Upload-UUID '^.+$' "status has Docker-Upload-UUID"
req PUT "$(add_query "$u" "digest=$d")" -H 'Content-Length: 0'
expect_status 201 "PUT ?digest= without a body closes a chunked upload"
expect_header Docker-Content-Digest "$d" "chunked PUT has Docker-Content-Digest"
blob_is "$R" "$d" "$size" "chunked blob reads back"

# ---- chunks plus a final chunk in the PUT
rand_file "$WORK/withlast" $((CH + 777))
d=$(digest_of "$WORK/withlast")
upload_start "$R" || fail "POST for upload with final chunk"
u=$UPLOAD_URL
slice "$WORK/withlast" 0 "$CH" "$WORK/p1"
slice "$WORK/withlast" "$CH" 777 "$WORK/p2"
patch "$u" "$WORK/p1" "0-$((CH - 1))"
expect_status 202 "first chunk answers 202"
u2=$(abs_url "$(hdr Location)")
req PUT "$(add_query "$u2" "digest=$d")" -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: $CH-$((CH + 776))" --data-binary "@$WORK/p2"
expect_status 201 "PUT with the final chunk answers 201"
blob_is "$R" "$d" $((CH + 777)) "blob with final chunk in PUT reads back"

# ---- streamed PATCH without Content-Range
rand_file "$WORK/stream" 300000
d=$(digest_of "$WORK/stream")
upload_start "$R" || fail "POST for streamed upload"
u=$UPLOAD_URL
patch "$u" "$WORK/stream"
expect_status 202 "streamed PATCH without Content-Range answers 202"
expect_header Range "0-299999" "streamed PATCH answers Range 0-299999"
req PUT "$(add_query "$(abs_url "$(hdr Location)")" "digest=$d")" -H 'Content-Length: 0'
expect_status 201 "PUT after streamed PATCH answers 201"
blob_is "$R" "$d" 300000 "streamed blob reads back"

# ---- Transfer-Encoding: chunked
rand_file "$WORK/te" 200000
d=$(digest_of "$WORK/te")
upload_start "$R" || fail "POST for chunked transfer-encoding upload"
u=$UPLOAD_URL
req PATCH "$u" -H 'Content-Type: application/octet-stream' -H 'Transfer-Encoding: chunked' --data-binary "@$WORK/te"
expect_status 202 "PATCH with Transfer-Encoding: chunked answers 202"
expect_header Range "0-199999" "chunked-encoding PATCH answers Range 0-199999"
has_hdr Location && u=$(abs_url "$(hdr Location)")
rand_file "$WORK/te2" 1000
cat "$WORK/te" "$WORK/te2" >"$WORK/te-all"
d=$(digest_of "$WORK/te-all")
req PUT "$(add_query "$u" "digest=$d")" -H 'Content-Type: application/octet-stream' -H 'Transfer-Encoding: chunked' --data-binary "@$WORK/te2"
expect_status 201 "PUT with Transfer-Encoding: chunked answers 201"
blob_is "$R" "$d" 201000 "chunked-encoding blob reads back"

rand_file "$WORK/te3" 50000
d=$(digest_of "$WORK/te3")
req POST "/v2/$R/blobs/uploads/?digest=$d" -H 'Content-Type: application/octet-stream' -H 'Transfer-Encoding: chunked' --data-binary "@$WORK/te3"
expect_status 201 "monolithic POST with Transfer-Encoding: chunked answers 201"
blob_is "$R" "$d" 50000 "monolithic chunked-encoding blob reads back"

# ---- out-of-order chunk, then resume from the status
rand_file "$WORK/ooo" $((CH * 2))
d=$(digest_of "$WORK/ooo")
upload_start "$R" || fail "POST for out-of-order upload"
u=$UPLOAD_URL
slice "$WORK/ooo" 0 "$CH" "$WORK/p1"
slice "$WORK/ooo" "$CH" "$CH" "$WORK/p2"
patch "$u" "$WORK/p1" "0-$((CH - 1))"
expect_status 202 "first chunk of out-of-order upload answers 202"
patch "$u" "$WORK/p2" "$((CH + 10))-$((2 * CH + 9))"
expect_error 416 'BLOB_UPLOAD_INVALID|RANGE_INVALID' "chunk starting past the current size answers 416"
patch "$u" "$WORK/p2" "0-$((CH - 1))"
expect_error 416 'BLOB_UPLOAD_INVALID|RANGE_INVALID' "chunk starting before the current size answers 416"
req GET "$u"
expect_status 204 "status after the refused chunk answers 204"
expect_header Range "0-$((CH - 1))" "the refused chunk left the upload at Range 0-$((CH - 1))"
r=$(hdr Range) || r=0-0
has_hdr Location && u=$(abs_url "$(hdr Location)")
next=$((${r#*-} + 1))
slice "$WORK/ooo" "$next" $((2 * CH - next)) "$WORK/rest"
patch "$u" "$WORK/rest" "$next-$((2 * CH - 1))"
expect_status 202 "resumed chunk answers 202"
req PUT "$(add_query "$u" "digest=$d")" -H 'Content-Length: 0'
expect_status 201 "PUT after resume answers 201"
blob_is "$R" "$d" $((2 * CH)) "resumed blob reads back"

# ---- every PATCH and the PUT sent to the first Location
rand_file "$WORK/early" $((CH * 3))
d=$(digest_of "$WORK/early")
upload_start "$R" || fail "POST for early-URL upload"
u0=$UPLOAD_URL
for i in 0 1 2; do
    slice "$WORK/early" $((i * CH)) "$CH" "$WORK/p"
    req PATCH "$u0" -H 'Content-Type: application/octet-stream' \
        -H "Content-Range: $((i * CH))-$(((i + 1) * CH - 1))" --data-binary "@$WORK/p"
    expect_status 202 "chunk $i sent to the first Location answers 202"
done
req PUT "$(add_query "$u0" "digest=$d")" -H 'Content-Length: 0'
expect_status 201 "PUT to the first Location answers 201"
blob_is "$R" "$d" $((CH * 3)) "blob uploaded through the first Location reads back"

# ---- sha512
rand_file "$WORK/s512" 40000
d=$(digest_of "$WORK/s512" sha512)
req POST "/v2/$R/blobs/uploads/?digest=$d" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/s512"
expect_status 201 "monolithic sha512 POST answers 201"
expect_header Docker-Content-Digest "$d" "sha512 POST has Docker-Content-Digest"
blob_is "$R" "$d" 40000 "sha512 blob reads back"
req HEAD "/v2/$R/blobs/$d"
expect_status 200 "HEAD sha512 blob answers 200"
expect_header Docker-Content-Digest "$d" "HEAD sha512 blob has Docker-Content-Digest"

rand_file "$WORK/s512b" $((CH + 5))
d=$(digest_of "$WORK/s512b" sha512)
upload_start "$R" || fail "POST for sha512 chunked upload"
u=$UPLOAD_URL
patch "$u" "$WORK/s512b" "0-$((CH + 4))"
expect_status 202 "sha512 chunk answers 202"
req PUT "$(add_query "$u" "digest=$d")" -H 'Content-Length: 0'
expect_status 201 "sha512 chunked PUT answers 201"
blob_is "$R" "$d" $((CH + 5)) "sha512 chunked blob reads back"

# ---- cancel
rand_file "$WORK/cancel" 10000
d=$(digest_of "$WORK/cancel")
upload_start "$R" || fail "POST for cancelled upload"
u=$UPLOAD_URL
patch "$u" "$WORK/cancel" "0-9999"
expect_status 202 "chunk before cancel answers 202"
req DELETE "$u"
expect_status 204 "DELETE upload answers 204"
req GET "$u"
expect_error 404 BLOB_UPLOAD_UNKNOWN "status of a cancelled upload is 404 BLOB_UPLOAD_UNKNOWN"
patch "$u" "$WORK/cancel" "10000-19999"
expect_error 404 BLOB_UPLOAD_UNKNOWN "PATCH to a cancelled upload is 404 BLOB_UPLOAD_UNKNOWN"
req PUT "$(add_query "$u" "digest=$d")" -H 'Content-Length: 0'
expect_error 404 BLOB_UPLOAD_UNKNOWN "PUT to a cancelled upload is 404 BLOB_UPLOAD_UNKNOWN"
req DELETE "$u"
expect_error 404 BLOB_UPLOAD_UNKNOWN "second DELETE of an upload is 404 BLOB_UPLOAD_UNKNOWN"
req HEAD "/v2/$R/blobs/$d"
expect_status 404 "cancelled upload left no blob"

# ---- unknown upload ids
fake=/v2/$R/blobs/uploads/$(cat /proc/sys/kernel/random/uuid)
req GET "$fake"
expect_error 404 BLOB_UPLOAD_UNKNOWN "GET unknown upload is 404 BLOB_UPLOAD_UNKNOWN"
patch "$URL$fake" "$WORK/cancel"
expect_error 404 BLOB_UPLOAD_UNKNOWN "PATCH unknown upload is 404 BLOB_UPLOAD_UNKNOWN"
req PUT "$fake?digest=$d" -H 'Content-Length: 0'
expect_error 404 BLOB_UPLOAD_UNKNOWN "PUT unknown upload is 404 BLOB_UPLOAD_UNKNOWN"
req DELETE "$fake"
expect_error 404 BLOB_UPLOAD_UNKNOWN "DELETE unknown upload is 404 BLOB_UPLOAD_UNKNOWN"

# An upload belongs to the repository it was started in.
upload_start "$R" || fail "POST for cross-repository upload"
uuid=$(loc_path "$UPLOAD_URL")
uuid=${uuid##*/}
uuid=${uuid%%\?*}
req GET "/v2/up/other/blobs/uploads/$uuid"
expect_status 404 "an upload is not reachable under another repository"
req DELETE "$UPLOAD_URL"

# ---- PUT without a digest, PUT with a wrong digest
upload_start "$R" || fail "POST for digest-less PUT"
req PUT "$UPLOAD_URL" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/cancel"
expect_error 400 DIGEST_INVALID "PUT without ?digest= is 400 DIGEST_INVALID"

rand_file "$WORK/real" 12345
rand_file "$WORK/claimed" 12345
real=$(digest_of "$WORK/real")
claimed=$(digest_of "$WORK/claimed")
upload_start "$R" || fail "POST for digest mismatch"
req PUT "$(add_query "$UPLOAD_URL" "digest=$claimed")" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/real"
expect_error 400 DIGEST_INVALID "PUT with a wrong digest is 400 DIGEST_INVALID"
req HEAD "/v2/$R/blobs/$claimed"
expect_status 404 "wrong-digest PUT: the claimed digest is not visible"
req HEAD "/v2/$R/blobs/$real"
expect_status 404 "wrong-digest PUT: the real digest is not visible"

req POST "/v2/$R/blobs/uploads/?digest=$claimed" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/real"
expect_error 400 DIGEST_INVALID "monolithic POST with a wrong digest is 400 DIGEST_INVALID"
req HEAD "/v2/$R/blobs/$claimed"
expect_status 404 "wrong-digest POST: the claimed digest is not visible"
req HEAD "/v2/$R/blobs/$real"
expect_status 404 "wrong-digest POST: the real digest is not visible"

# ---- mount
rand_file "$WORK/m" 4321
push_blob up/src "$WORK/m" || fail "push blob to up/src"
dm=$BLOB_DIGEST
req HEAD "/v2/up/dst/blobs/$dm"
expect_status 404 "blob is not in up/dst before the mount"
req POST "/v2/up/dst/blobs/uploads/?mount=$dm&from=up/src"
expect_status 201 "mount with from= answers 201"
expect_eq "mount Location is the blob" "/v2/up/dst/blobs/$dm" "$(loc_path "$(hdr Location)")"
expect_header Docker-Content-Digest "$dm" "mount has Docker-Content-Digest"
blob_is up/dst "$dm" 4321 "mounted blob reads back in up/dst"

req POST "/v2/up/dst2/blobs/uploads/?mount=$dm"
expect_status 201 "mount without from= of a known blob answers 201"
blob_is up/dst2 "$dm" 4321 "blob mounted without from= reads back"

req POST "/v2/up/dst3/blobs/uploads/?mount=$dm&from=up/nowhere"
expect_status 202 "mount from a repository without the blob answers 202"
expect_match "failed mount gives an upload Location" "^(https?://[^/]+)?/v2/up/dst3/blobs/uploads/[^/?]+" "$(hdr Location)"
u=$(abs_url "$(hdr Location)")
req HEAD "/v2/up/dst3/blobs/$dm"
expect_status 404 "failed mount did not link the blob"
req PUT "$(add_query "$u" "digest=$dm")" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/m"
expect_status 201 "the upload from a failed mount completes"

rand_file "$WORK/nomount" 100
dn=$(digest_of "$WORK/nomount")
req POST "/v2/up/dst4/blobs/uploads/?mount=$dn&from=up/src"
expect_status 202 "mount of an unknown blob with from= answers 202"
req POST "/v2/up/dst4/blobs/uploads/?mount=$dn"
expect_status 202 "mount of an unknown blob without from= answers 202"
expect_header_re Docker-Upload-UUID '^.+$' "202 from a failed mount has Docker-Upload-UUID"

# ---- PUT sent on another connection right after a streamed PATCH's 202,
# as clients with a connection pool do
python3 - "$HOSTPORT" "$R" >"$WORK/race.out" 2>&1 <<'EOF'
import hashlib, http.client, os, sys
from urllib.parse import urlsplit
host, port = sys.argv[1].rsplit(":", 1)
repo = sys.argv[2]
conns = [http.client.HTTPConnection(host, int(port), timeout=30) for _ in range(2)]
bad = []
for i in range(40):
    data = os.urandom(20000 + i)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    a, b = conns[i % 2], conns[(i + 1) % 2]
    a.request("POST", "/v2/%s/blobs/uploads/" % repo)
    r = a.getresponse()
    r.read()
    loc = r.getheader("Location", "")
    u = urlsplit(loc)
    path = u.path + ("?" + u.query if u.query else "")
    a.request("PATCH", path, body=iter([data[:7000], data[7000:]]), encode_chunked=True,
              headers={"Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked"})
    r = a.getresponse()
    r.read()
    if r.status != 202:
        bad.append("PATCH %d" % r.status)
        continue
    u = urlsplit(r.getheader("Location") or loc)
    path = u.path + ("?" + u.query if u.query else "")
    path += ("&" if "?" in path else "?") + "digest=" + digest
    b.request("PUT", path, body=b"", headers={"Content-Type": "application/octet-stream"})
    r = b.getresponse()
    body = r.read()
    if r.status != 201:
        bad.append("PUT %d %s" % (r.status, body[:120].decode("utf-8", "replace")))
print(len(bad))
for x in bad[:3]:
    print(x)
EOF
expect_eq "40 PUTs sent on a second connection right after the PATCH all answer 201" 0 "$(head -1 "$WORK/race.out")"
[ "$(head -1 "$WORK/race.out")" = 0 ] || sed -n '2,4s/^/# /p' "$WORK/race.out"

# ---- aborted bodies
rand_file "$WORK/short" 1000
rand_file "$WORK/shortfull" 100000
ds=$(digest_of "$WORK/shortfull")
{
    printf 'POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: %s\r\n' "$R" "$ds" "$HOSTPORT"
    printf 'Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n'
    cat "$WORK/short"
} >"$WORK/short.req"
raw_send "$HOSTPORT" "$WORK/short.req" abort
sleep 0.5
expect_alive "server alive after an aborted monolithic POST"
req HEAD "/v2/$R/blobs/$ds"
expect_status 404 "aborted monolithic POST left no blob"

upload_start "$R" || fail "POST for aborted PUT"
p=$(loc_path "$UPLOAD_URL")
{
    printf 'PUT %s HTTP/1.1\r\nHost: %s\r\n' "$(add_query "$p" "digest=$ds")" "$HOSTPORT"
    printf 'Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n'
    cat "$WORK/short"
} >"$WORK/short.req"
raw_send "$HOSTPORT" "$WORK/short.req" abort
sleep 0.5
expect_alive "server alive after an aborted PUT"
req HEAD "/v2/$R/blobs/$ds"
expect_status 404 "aborted PUT left no blob"

upload_start "$R" || fail "POST for aborted PATCH"
p=$(loc_path "$UPLOAD_URL")
{
    printf 'PATCH %s HTTP/1.1\r\nHost: %s\r\n' "$p" "$HOSTPORT"
    printf 'Content-Type: application/octet-stream\r\nContent-Range: 0-99999\r\nContent-Length: 100000\r\n\r\n'
    cat "$WORK/short"
} >"$WORK/short.req"
raw_send "$HOSTPORT" "$WORK/short.req" abort
sleep 0.5
expect_alive "server alive after an aborted PATCH"
req GET "$UPLOAD_URL"
expect_status '204|404' "status of an upload with an aborted PATCH answers 204 or 404"
if [ "$STATUS" = 204 ] && r=$(hdr Range); then
    check "an aborted PATCH did not claim bytes it never got" test "${r#*-}" -lt 1000
fi
req PUT "$(add_query "$UPLOAD_URL" "digest=$ds")" -H 'Content-Length: 0'
check "the aborted PATCH upload cannot complete with the full digest" test "$STATUS" != 201
req HEAD "/v2/$R/blobs/$ds"
expect_status 404 "aborted PATCH left no blob"

finish
