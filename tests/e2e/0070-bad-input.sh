#!/usr/bin/env bash
# Invalid names, tags, digests, ranges and JSON: each gets its status and OCI
# error code, and the server keeps answering.
. "$(dirname "$0")/lib.sh"

berth_start
R=bad/ok
push_image "$R" latest || bail "push image to $R"
good=$(cat "$IMG_MANIFEST")
first=$IMG_DIGEST
rand_file "$WORK/blob" 100
push_blob "$R" "$WORK/blob" || bail "push blob"
blob=$BLOB_DIGEST

# ---- repository names
long255=$(printf 'a%.0s' $(seq 255))
long256=$(printf 'a%.0s' $(seq 256))
long_parts=$(printf 'abcdefghi/%.0s' $(seq 26))z
bad_names=(
    "../x" "a/../b" "./a" "UPPER/case" "a//b" "a/b/" "-a" "a-" "a_" ".a" "a..b" "a___b" "a_-b" "a/-b" "_a"
    "a:b" "a%20b" "$long256" "${long_parts}"
)
for n in "${bad_names[@]}"; do
    show=$n
    [ ${#show} -gt 40 ] && show="${show:0:20}...(${#n} chars)"
    req GET "/v2/$n/tags/list"
    expect_error 400 NAME_INVALID "tags/list of name '$show' is 400 NAME_INVALID"
done
for n in "../x" "UPPER/case" "a//b" "$long256"; do
    show=$n
    [ ${#show} -gt 40 ] && show="${show:0:20}...(${#n} chars)"
    req GET "/v2/$n/manifests/latest" -H "$ACCEPT_MANIFESTS"
    expect_error 400 NAME_INVALID "GET manifest under '$show' is 400 NAME_INVALID"
    req PUT "/v2/$n/manifests/latest" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "$good"
    expect_error 400 NAME_INVALID "PUT manifest under '$show' is 400 NAME_INVALID"
    req GET "/v2/$n/blobs/$blob"
    expect_error 400 NAME_INVALID "GET blob under '$show' is 400 NAME_INVALID"
    req POST "/v2/$n/blobs/uploads/"
    expect_error 400 NAME_INVALID "POST upload under '$show' is 400 NAME_INVALID"
    req GET "/v2/$n/referrers/$blob"
    expect_error 400 NAME_INVALID "referrers under '$show' is 400 NAME_INVALID"
done
req POST "/v2/a/b//blobs/uploads/"
expect_error 400 NAME_INVALID "POST upload under a name with a trailing slash is 400 NAME_INVALID"

for n in "a" "a/b/c/d" "a-b--c" "a__b" "a.b_c" "0/1" "$long255"; do
    show=$n
    [ ${#show} -gt 40 ] && show="${show:0:20}...(${#n} chars)"
    req GET "/v2/$n/tags/list"
    expect_error 404 NAME_UNKNOWN "valid unknown name '$show' is 404 NAME_UNKNOWN"
done
push_image "$long255" latest
expect_status 201 "a 255-character name can be pushed"

# ---- tags
long128=$(printf 't%.0s' $(seq 128))
long129=$(printf 't%.0s' $(seq 129))
for t in "-bad" ".bad" "$long129" "a*b" "a%20b" "ab%00" "a+b"; do
    show=$t
    [ ${#show} -gt 40 ] && show="${show:0:20}...(${#t} chars)"
    req PUT "/v2/$R/manifests/$t" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "$good"
    expect_error 400 TAG_INVALID "PUT manifest with tag '$show' is 400 TAG_INVALID"
    # GET, HEAD and DELETE name a manifest that exists: the spec answers them 404 only
    req GET "/v2/$R/manifests/$t" -H "$ACCEPT_MANIFESTS"
    expect_error 404 MANIFEST_UNKNOWN "GET manifest with tag '$show' is 404 MANIFEST_UNKNOWN"
    req HEAD "/v2/$R/manifests/$t" -H "$ACCEPT_MANIFESTS"
    expect_status 404 "HEAD manifest with tag '$show' is 404"
    req DELETE "/v2/$R/manifests/$t"
    expect_error 404 MANIFEST_UNKNOWN "DELETE manifest with tag '$show' is 404 MANIFEST_UNKNOWN"
done
# the name the OCI conformance suite uses
req GET "/v2/$R/manifests/.INVALID_MANIFEST_NAME" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "GET manifests/.INVALID_MANIFEST_NAME is 404 MANIFEST_UNKNOWN"
check "the message says why no manifest has that name" grep -q "not a valid tag\|invalid tag\|tag" "$BODY"
req HEAD "/v2/$R/manifests/.INVALID_MANIFEST_NAME"
expect_status 404 "HEAD manifests/.INVALID_MANIFEST_NAME is 404"
for t in "$long128" "_x" "A.b-C_9" "0"; do
    show=$t
    [ ${#show} -gt 40 ] && show="${show:0:20}...(${#t} chars)"
    req PUT "/v2/$R/manifests/$t" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "$good"
    expect_status 201 "tag '$show' is valid"
done

# ---- digests
hex64=$(rand_hex 32)
bad_digests=(
    "sha256:abc" "sha256:${hex64}0" "sha256:${hex64:1}" "sha256:$(echo "$hex64" | tr a-f A-F)"
    "sha256:${hex64:0:63}g" "sha256:" "sha256" "sha512:$hex64" "sha256:-$hex64" "SHA256:$hex64"
)
for d in "${bad_digests[@]}" "md5:d41d8cd98f00b204e9800998ecf8427e" "foo:$hex64"; do
    show=$d
    [ ${#show} -gt 30 ] && show="${show:0:30}..."
    req GET "/v2/$R/blobs/$d"
    expect_error 400 DIGEST_INVALID "GET blob '$show' is 400 DIGEST_INVALID"
done
for d in "sha256:abc" "sha512:$hex64" "md5:d41d8cd98f00b204e9800998ecf8427e" "sha256:${hex64:1}x"; do
    show=${d:0:30}
    req HEAD "/v2/$R/blobs/$d"
    expect_status 400 "HEAD blob '$show' is 400"
    req DELETE "/v2/$R/blobs/$d"
    expect_error 400 DIGEST_INVALID "DELETE blob '$show' is 400 DIGEST_INVALID"
    req GET "/v2/$R/manifests/$d" -H "$ACCEPT_MANIFESTS"
    expect_error 404 MANIFEST_UNKNOWN "GET manifest '$show' is 404 MANIFEST_UNKNOWN"
    req DELETE "/v2/$R/manifests/$d"
    expect_error 404 MANIFEST_UNKNOWN "DELETE manifest '$show' is 404 MANIFEST_UNKNOWN"
    req PUT "/v2/$R/manifests/$d" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "$good"
    expect_error 400 DIGEST_INVALID "PUT manifest '$show' is 400 DIGEST_INVALID"
    req GET "/v2/$R/referrers/$d"
    expect_error 400 DIGEST_INVALID "referrers '$show' is 400 DIGEST_INVALID"
    req POST "/v2/$R/blobs/uploads/?digest=$d" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/blob"
    expect_error 400 DIGEST_INVALID "monolithic POST ?digest='$show' is 400 DIGEST_INVALID"
    upload_start "$R" || fail "POST upload"
    req PUT "$(add_query "$UPLOAD_URL" "digest=$d")" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/blob"
    expect_error 400 DIGEST_INVALID "PUT upload ?digest='$show' is 400 DIGEST_INVALID"
done
req POST "/v2/$R/blobs/uploads/?mount=sha256:abc&from=bad/other"
expect_status '202|400' "mount of a malformed digest answers 202 or 400"

# ---- ranges
req GET "/v2/$R/blobs/$blob" -H 'Range: bytes=100-200'
expect_status 416 "Range starting at the size is 416"
expect_header Content-Range 'bytes */100' "416 has Content-Range bytes */100"
req GET "/v2/$R/blobs/$blob" -H 'Range: bytes=50-10'
expect_status '200|416' "Range with end before start is ignored (200) or refused (416)"
req GET "/v2/$R/blobs/$blob" -H 'Range: bytes=abc'
expect_status '200|416' "unparsable Range is ignored (200) or refused (416)"
req GET "/v2/$R/blobs/$blob" -H 'Range: bytes=-0'
expect_status '200|416' "Range bytes=-0 is ignored (200) or refused (416)"
req GET "/v2/$R/blobs/$blob" -H 'Range: bytes=0-1,5-6'
expect_status '200|206|416' "a multi-range request answers 200, 206 or 416"
req GET "/v2/$R/blobs/$blob" -H 'Range: bytes=0-18446744073709551615'
expect_status '200|206|416' "Range ending at 2^64-1 answers 200, 206 or 416"
if [ "$STATUS" = 206 ]; then
    expect_header Content-Range 'bytes 0-99/100' "Range ending at 2^64-1 is cut at the last byte"
fi
req GET "/v2/$R/blobs/$blob" -H 'Range: items=0-5'
expect_status '200|416' "a Range in another unit is ignored (200) or refused (416)"
req GET "/v2/$R/blobs/$blob" -H 'Range: bytes=99999999999999999999999-'
expect_status '200|416' "Range with an overflowing number is ignored (200) or refused (416)"

upload_start "$R" || fail "POST upload for Content-Range checks"
u=$UPLOAD_URL
head -c 50 /dev/urandom >"$WORK/c50"
req PATCH "$u" -H 'Content-Type: application/octet-stream' -H 'Content-Range: abc' --data-binary "@$WORK/c50"
expect_error '400|416' 'BLOB_UPLOAD_INVALID|RANGE_INVALID|SIZE_INVALID' "PATCH with an unparsable Content-Range is refused"
req PATCH "$u" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-99' --data-binary "@$WORK/c50"
expect_error '400|416' 'BLOB_UPLOAD_INVALID|RANGE_INVALID|SIZE_INVALID' "PATCH whose Content-Range is longer than the body is refused"
req PATCH "$u" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 10-59' --data-binary "@$WORK/c50"
expect_error 416 'BLOB_UPLOAD_INVALID|RANGE_INVALID' "PATCH not starting at offset 0 of an empty upload is 416"
req PATCH "$u" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-99999999999999999999999' --data-binary "@$WORK/c50"
expect_error '400|416' 'BLOB_UPLOAD_INVALID|RANGE_INVALID|SIZE_INVALID' "PATCH with an overflowing Content-Range is refused"
req PATCH "$u" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 20-10' --data-binary "@$WORK/c50"
expect_error '400|416' 'BLOB_UPLOAD_INVALID|RANGE_INVALID|SIZE_INVALID' "PATCH with end before start is refused"
req PATCH "$u" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-49' --data-binary "@$WORK/c50"
expect_status 202 "a correct PATCH after refused ones answers 202"
expect_header Range 0-49 "the refused PATCHes did not change the upload"

# ---- JSON
badjson() {
    local desc=$1
    printf '%s' "$2" >"$WORK/bad.json"
    push_manifest "$R" bad "$WORK/bad.json" "${3:-$MT_OCI_MANIFEST}"
    expect_error 400 "${4:-MANIFEST_INVALID}" "$desc is 400 ${4:-MANIFEST_INVALID}"
}
badjson "malformed JSON" '{"schemaVersion":2,"mediaType":'
badjson "truncated JSON" "${good:0:$((${#good} - 3))}"
badjson "JSON with a bare word" '{"schemaVersion":2,"mediaType":nope}'
badjson "schemaVersion 1" "$(jq -c '.schemaVersion = 1' <<<"$good")"
badjson "schemaVersion 2.5" "$(jq -c '.schemaVersion = 2.5' <<<"$good")"
badjson "mediaType contradicting Content-Type" "$good" "$MT_OCI_INDEX"
badjson "Docker Content-Type on an OCI body" "$good" "$MT_DOCKER_MANIFEST"
badjson "layers that are not an array" "$(jq -c '.layers = {}' <<<"$good")"
badjson "config that is not an object" "$(jq -c '.config = "x"' <<<"$good")"
badjson "descriptor without a digest" "$(jq -c 'del(.config.digest)' <<<"$good")" \
    "$MT_OCI_MANIFEST" 'MANIFEST_INVALID|DIGEST_INVALID'
badjson "descriptor with a negative size" "$(jq -c '.layers[0].size = -1' <<<"$good")"
badjson "descriptor with a malformed digest" "$(jq -c '.layers[0].digest = "sha256:zz"' <<<"$good")" \
    "$MT_OCI_MANIFEST" 'MANIFEST_INVALID|DIGEST_INVALID'
badjson "a string instead of an object" '"manifest"'
python3 -c 'import json,sys; m=json.loads(sys.argv[1]); m["annotations"]={"k":"a@b"}; sys.stdout.buffer.write(json.dumps(m).replace("@","\x00").encode())' "$good" >"$WORK/bad.json"
push_manifest "$R" bad "$WORK/bad.json" "$MT_OCI_MANIFEST"
expect_error 400 MANIFEST_INVALID "a raw NUL byte inside a JSON string is 400 MANIFEST_INVALID"
python3 -c 'print("[" * 200000 + "]" * 200000, end="")' >"$WORK/deep.json"
push_manifest "$R" deep "$WORK/deep.json" "$MT_OCI_MANIFEST"
expect_error 400 MANIFEST_INVALID "200000 nested arrays are 400 MANIFEST_INVALID"
python3 -c 'print("{\"a\":" * 100000 + "1" + "}" * 100000, end="")' >"$WORK/deep.json"
push_manifest "$R" deep "$WORK/deep.json" "$MT_OCI_MANIFEST"
expect_error 400 MANIFEST_INVALID "100000 nested objects are 400 MANIFEST_INVALID"
expect_alive "server alive after deeply nested JSON"
python3 -c 'import json,sys; m=json.loads(sys.argv[1]); m["annotations"]={"k":"a@b"}; sys.stdout.buffer.write(json.dumps(m).encode().replace(b"@",b"\xff\xfe"))' "$good" >"$WORK/utf8.json"
push_manifest "$R" utf8 "$WORK/utf8.json" "$MT_OCI_MANIFEST"
if [ "$STATUS" = 201 ]; then
    req GET "/v2/$R/manifests/utf8" -H "$ACCEPT_MANIFESTS"
    expect_body_digest "$(digest_of "$WORK/utf8.json")" "a manifest with invalid UTF-8 that was accepted reads back exactly"
else
    expect_error 400 MANIFEST_INVALID "invalid UTF-8 in a string is 201 or 400 MANIFEST_INVALID"
fi
python3 -c 'import json,sys; m=json.loads(sys.argv[1]); m["layers"]=m["layers"]*10000; print(json.dumps(m), end="")' "$good" >"$WORK/many.json"
push_manifest "$R" many "$WORK/many.json" "$MT_OCI_MANIFEST"
expect_status '201|400|413' "a manifest with 20000 layers answers 201, 400 or 413"
expect_alive "server alive after a manifest with 20000 layers"

# ---- mutated manifests and random paths: never a 5xx or a dropped connection
seed=${E2E_SEED:-$RANDOM}
echo "# mutation seed $seed (E2E_SEED=$seed reproduces it)"
mkdir -p "$WORK/mut"
python3 - "$WORK/mut" "$seed" "$good" <<'EOF'
import json, random, sys
out, seed, good = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
rnd = random.Random(seed)
m = json.loads(good)
for i in range(60):
    kind = i % 6
    b = bytearray(good)
    if kind == 0:
        b = b[:rnd.randrange(len(b))]
    elif kind == 1:
        for _ in range(rnd.randint(1, 8)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
    elif kind == 2:
        p = rnd.randrange(len(b))
        b[p:p] = bytes(rnd.choice(b'{}[]",:\\0123456789eE+-.tfn ') for _ in range(rnd.randint(1, 30)))
    elif kind == 3:
        x = json.loads(good)
        key = rnd.choice(["schemaVersion", "mediaType", "config", "layers", "subject", "artifactType", "annotations"])
        x[key] = rnd.choice([None, 0, -1, 2**70, 1.5e308, "", "x" * 1000, [], {}, [None], {"digest": 7}, True])
        b = json.dumps(x).encode()
    elif kind == 4:
        x = json.loads(good)
        d = rnd.choice(x["layers"] + [x["config"]])
        field = rnd.choice(["digest", "size", "mediaType", "urls", "annotations"])
        d[field] = rnd.choice([None, -5, 2**64, "sha256:", "sha256:" + "g" * 64, "md5:00", [], {"a": 1}, "\u0000"])
        b = json.dumps(x).encode()
    else:
        depth = rnd.randint(1000, 50000)
        b = (b'{"a":' * depth) + b'1' + (b'}' * rnd.randint(0, depth))
    open("%s/m%02d" % (out, i), "wb").write(bytes(b))
EOF
bad=0
for f in "$WORK"/mut/m*; do
    req PUT "/v2/$R/manifests/mut" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "@$f"
    if ! [[ $STATUS =~ ^(201|4[0-9][0-9])$ ]]; then
        bad=$((bad + 1))
        echo "# $(basename "$f") -> $STATUS"
    fi
done
expect_eq "60 mutated manifests answer 201 or 4xx" 0 "$bad"
expect_alive "server alive after the mutated manifests"

python3 - "$seed" >"$WORK/paths" <<'EOF'
import random, sys
rnd = random.Random(int(sys.argv[1]))
parts = ["a", "b", "blobs", "manifests", "uploads", "tags", "list", "referrers", "_catalog", "..", ".", "",
         "sha256:" + "0" * 64, "sha256:", "%00", "%2F", "%25", "x" * 300, "latest", "v2", ";", "?", "#"]
for i in range(60):
    print("/v2/" + "/".join(rnd.choice(parts) for _ in range(rnd.randint(1, 7))))
EOF
bad=0
while read -r path; do
    for m in GET HEAD PUT DELETE POST PATCH; do
        req "$m" "$path"
        if ! [[ $STATUS =~ ^(200|201|202|204|206|4[0-9][0-9])$ ]]; then
            bad=$((bad + 1))
            echo "# $m $path -> $STATUS"
        fi
    done
done <"$WORK/paths"
expect_eq "360 requests on random /v2 paths answer 2xx or 4xx" 0 "$bad"
expect_alive "server alive after the random paths"

# ---- odd query strings must not cause 5xx
for q in "n=abc" "n=-1" "n=99999999999999999999" "last=%zz" "n=2&n=3" "last=" "n=" "%"; do
    req GET "/v2/$R/tags/list?$q"
    expect_status '200|400' "tags/list?$q answers 200 or 400"
    req GET "/v2/_catalog?$q"
    expect_status '200|400' "_catalog?$q answers 200 or 400"
done
req GET "/v2/$R/referrers/$first?artifactType="
expect_status '200|400' "referrers with an empty artifactType answers 200 or 400"

expect_alive "server still answers after all the bad input"
req GET "/v2/$R/manifests/latest" -H "$ACCEPT_MANIFESTS"
expect_body_digest "$first" "the image pushed first is intact"

finish
