#!/usr/bin/env bash
# Manifests of every media type: byte-for-byte round trip, unknown fields,
# missing blobs, subject, errors and deletes.
. "$(dirname "$0")/lib.sh"

berth_start
R=mf/app

# expect_manifest REF FILE MEDIATYPE WHAT: GET and HEAD by REF return FILE.
expect_manifest() {
    local ref=$1 f=$2 mt=$3 what=$4 d
    d=$(digest_of "$f")
    req GET "/v2/$R/manifests/$ref" -H "$ACCEPT_MANIFESTS"
    if [ "$STATUS" = 200 ] && cmp -s "$f" "$BODY"; then
        ok "GET $what returns the exact bytes pushed"
    else
        fail "GET $what returns the exact bytes pushed" "expected 200 and $(file_size "$f") bytes hashing to $d" \
            "got $STATUS, $(file_size "$BODY") bytes hashing to $(digest_of "$BODY")"
    fi
    expect_header Content-Type "$mt" "GET $what has Content-Type $mt"
    expect_header Docker-Content-Digest "$d" "GET $what has Docker-Content-Digest"
    req HEAD "/v2/$R/manifests/$ref" -H "$ACCEPT_MANIFESTS"
    expect_status 200 "HEAD $what answers 200"
    expect_header Content-Type "$mt" "HEAD $what has Content-Type"
    expect_header Docker-Content-Digest "$d" "HEAD $what has Docker-Content-Digest"
    expect_header Content-Length "$(file_size "$f")" "HEAD $what has Content-Length"
}

# expect_put_ok REF FILE MEDIATYPE WHAT
expect_put_ok() {
    local ref=$1 f=$2 mt=$3 what=$4
    push_manifest "$R" "$ref" "$f" "$mt"
    expect_status 201 "PUT $what answers 201"
    expect_eq "PUT $what Location is the manifest by digest" "/v2/$R/manifests/$MANIFEST_DIGEST" \
        "$(loc_path "$(hdr Location)")"
    expect_header Docker-Content-Digest "$MANIFEST_DIGEST" "PUT $what has Docker-Content-Digest"
}

# Blobs.
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config"
rand_file "$WORK/l1" 3000
rand_file "$WORK/l2" 5000
printf '{}' >"$WORK/empty"
printf '{"sbom":"yes"}' >"$WORK/sbom"
for f in config l1 l2 empty sbom; do
    push_blob "$R" "$WORK/$f" || bail "push blob $f"
done
check "the empty blob has the well-known digest" test "$(digest_of "$WORK/empty")" = "$EMPTY_DIGEST"
cfg=$(digest_of "$WORK/config")
l1=$(digest_of "$WORK/l1")
l2=$(digest_of "$WORK/l2")

# ---- OCI image manifest with odd formatting and unknown fields, by tag
cat >"$WORK/oci.json" <<EOF
{
   "schemaVersion" : 2,
   "mediaType":"$MT_OCI_MANIFEST",
   "x-unknown-field" : {"keep": [1, 2.50, "three", null, true]},
   "config": {"mediaType": "$MT_OCI_CONFIG", "digest": "$cfg", "size": $(file_size "$WORK/config"), "x-desc-extra": "kept"},
   "layers": [
      {"mediaType": "$MT_OCI_LAYER", "digest": "$l1", "size": 3000},
      {"mediaType": "$MT_OCI_LAYER", "digest": "$l2", "size": 5000, "annotations": {"org.example.note": "caf\u00e9 \u2603"}}
   ],
   "annotations": {"org.opencontainers.image.title": "odd   spacing\tand tabs"}
}
EOF
printf '\n\n' >>"$WORK/oci.json"
oci=$(digest_of "$WORK/oci.json")
expect_put_ok v1 "$WORK/oci.json" "$MT_OCI_MANIFEST" "OCI image manifest by tag"
expect_manifest v1 "$WORK/oci.json" "$MT_OCI_MANIFEST" "OCI manifest by tag"
expect_manifest "$oci" "$WORK/oci.json" "$MT_OCI_MANIFEST" "OCI manifest by digest"
req GET "/v2/$R/manifests/v1" -H "$ACCEPT_MANIFESTS"
req GET "/v2/$R/manifests/$oci"
expect_body_digest "$oci" "GET by digest without an Accept header returns the manifest"
req GET "/v2/$R/manifests/v1" -H "$ACCEPT_MANIFESTS"
check "unknown fields are kept" jq -e '."x-unknown-field".keep | length == 5' "$BODY"
check "unknown descriptor fields are kept" jq -e '.config."x-desc-extra" == "kept"' "$BODY"
check "the unknown field keeps its original spelling" grep -q '"keep": \[1, 2.50, "three", null, true\]' "$BODY"

# ---- OCI manifest by digest, second platform
printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' "$MT_OCI_MANIFEST" \
    "$(desc_json "$MT_OCI_CONFIG" "$WORK/config")" "$(desc_json "$MT_OCI_LAYER" "$WORK/l2")" >"$WORK/oci2.json"
oci2=$(digest_of "$WORK/oci2.json")
expect_put_ok "$oci2" "$WORK/oci2.json" "$MT_OCI_MANIFEST" "OCI manifest by digest"
expect_manifest "$oci2" "$WORK/oci2.json" "$MT_OCI_MANIFEST" "OCI manifest pushed by digest"

# ---- OCI index
cat >"$WORK/index.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_OCI_INDEX","manifests":[
 {"mediaType":"$MT_OCI_MANIFEST","digest":"$oci","size":$(file_size "$WORK/oci.json"),"platform":{"architecture":"amd64","os":"linux"}},
 {"mediaType":"$MT_OCI_MANIFEST","digest":"$oci2","size":$(file_size "$WORK/oci2.json"),"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}
],"annotations":{"x":"y"}}
EOF
expect_put_ok index "$WORK/index.json" "$MT_OCI_INDEX" "OCI index"
expect_manifest index "$WORK/index.json" "$MT_OCI_INDEX" "OCI index by tag"

# ---- Docker schema 2 and manifest list
cat >"$WORK/docker.json" <<EOF
{
   "schemaVersion": 2,
   "mediaType": "$MT_DOCKER_MANIFEST",
   "config": {
      "mediaType": "$MT_DOCKER_CONFIG",
      "size": $(file_size "$WORK/config"),
      "digest": "$cfg"
   },
   "layers": [
      {
         "mediaType": "$MT_DOCKER_LAYER",
         "size": 3000,
         "digest": "$l1"
      }
   ]
}
EOF
dock=$(digest_of "$WORK/docker.json")
expect_put_ok d2 "$WORK/docker.json" "$MT_DOCKER_MANIFEST" "Docker schema 2 manifest"
expect_manifest d2 "$WORK/docker.json" "$MT_DOCKER_MANIFEST" "Docker schema 2 by tag"

cat >"$WORK/list.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_DOCKER_LIST","manifests":[{"mediaType":"$MT_DOCKER_MANIFEST","size":$(file_size "$WORK/docker.json"),"digest":"$dock","platform":{"architecture":"amd64","os":"linux"}}]}
EOF
expect_put_ok dlist "$WORK/list.json" "$MT_DOCKER_LIST" "Docker manifest list"
expect_manifest dlist "$WORK/list.json" "$MT_DOCKER_LIST" "Docker manifest list by tag"

# ---- artifact with the empty config and a subject
cat >"$WORK/artifact.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_OCI_MANIFEST","artifactType":"application/vnd.example.sbom.v1+json",
"config":{"mediaType":"$MT_OCI_EMPTY","digest":"$EMPTY_DIGEST","size":2},
"layers":[$(desc_json application/json "$WORK/sbom")],
"subject":{"mediaType":"$MT_OCI_MANIFEST","digest":"$oci","size":$(file_size "$WORK/oci.json")},
"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}
EOF
art=$(digest_of "$WORK/artifact.json")
expect_put_ok "$art" "$WORK/artifact.json" "$MT_OCI_MANIFEST" "artifact manifest"
expect_header OCI-Subject "$oci" "PUT with a subject answers OCI-Subject"
expect_manifest "$art" "$WORK/artifact.json" "$MT_OCI_MANIFEST" "artifact manifest"

ghost=sha256:$(rand_hex 32)
cat >"$WORK/art2.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_OCI_MANIFEST","artifactType":"application/vnd.example.sig",
"config":{"mediaType":"$MT_OCI_EMPTY","digest":"$EMPTY_DIGEST","size":2},
"layers":[{"mediaType":"$MT_OCI_EMPTY","digest":"$EMPTY_DIGEST","size":2}],
"subject":{"mediaType":"$MT_OCI_MANIFEST","digest":"$ghost","size":1234}}
EOF
push_manifest "$R" "$(digest_of "$WORK/art2.json")" "$WORK/art2.json" "$MT_OCI_MANIFEST"
expect_status 201 "a subject that does not exist is accepted"
expect_header OCI-Subject "$ghost" "OCI-Subject names the missing subject"

push_manifest "$R" v1 "$WORK/oci.json" "$MT_OCI_MANIFEST"
expect_no_header OCI-Subject "PUT without a subject has no OCI-Subject"

# ---- referenced content must exist in this repository
missing=sha256:$(rand_hex 32)
printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[{"mediaType":"%s","digest":"%s","size":10}]}' \
    "$MT_OCI_MANIFEST" "$(desc_json "$MT_OCI_CONFIG" "$WORK/config")" "$MT_OCI_LAYER" "$missing" >"$WORK/nolayer.json"
push_manifest "$R" nolayer "$WORK/nolayer.json" "$MT_OCI_MANIFEST"
expect_error 400 MANIFEST_BLOB_UNKNOWN "manifest with an unknown layer is 400 MANIFEST_BLOB_UNKNOWN"
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":10},"layers":[]}' \
    "$MT_OCI_MANIFEST" "$MT_OCI_CONFIG" "$missing" >"$WORK/nocfg.json"
push_manifest "$R" nocfg "$WORK/nocfg.json" "$MT_OCI_MANIFEST"
expect_error 400 MANIFEST_BLOB_UNKNOWN "manifest with an unknown config is 400 MANIFEST_BLOB_UNKNOWN"
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":100}]}' \
    "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$missing" >"$WORK/noidx.json"
push_manifest "$R" noidx "$WORK/noidx.json" "$MT_OCI_INDEX"
expect_error 400 MANIFEST_BLOB_UNKNOWN "index with an unknown child is 400 MANIFEST_BLOB_UNKNOWN"
req GET "/v2/$R/manifests/nolayer" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "a refused manifest's tag does not exist"

rand_file "$WORK/elsewhere" 777
push_blob mf/other "$WORK/elsewhere" || fail "push blob to mf/other"
printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' "$MT_OCI_MANIFEST" \
    "$(desc_json "$MT_OCI_CONFIG" "$WORK/config")" "$(desc_json "$MT_OCI_LAYER" "$WORK/elsewhere")" >"$WORK/xrepo.json"
push_manifest "$R" xrepo "$WORK/xrepo.json" "$MT_OCI_MANIFEST"
expect_error 400 MANIFEST_BLOB_UNKNOWN "layer only in another repository is 400 MANIFEST_BLOB_UNKNOWN"
push_manifest mf/other x "$WORK/index.json" "$MT_OCI_INDEX"
expect_error 400 MANIFEST_BLOB_UNKNOWN "index whose children are in another repository is 400 MANIFEST_BLOB_UNKNOWN"

push_blob mf/noempty "$WORK/sbom" || fail "push the sbom blob to mf/noempty"
push_manifest mf/noempty "$art" "$WORK/artifact.json" "$MT_OCI_MANIFEST"
expect_error 400 MANIFEST_BLOB_UNKNOWN "an artifact whose empty config blob was not pushed is 400 MANIFEST_BLOB_UNKNOWN"

# ---- malformed manifests
bad() {
    local desc=$1 mt=$2
    printf '%s' "$3" >"$WORK/bad.json"
    push_manifest "$R" bad "$WORK/bad.json" "$mt"
    expect_error 400 MANIFEST_INVALID "$desc is 400 MANIFEST_INVALID"
}
good=$(cat "$WORK/oci2.json")
bad "malformed JSON" "$MT_OCI_MANIFEST" '{"schemaVersion":2,,}'
bad "truncated JSON" "$MT_OCI_MANIFEST" "${good:0:$((${#good} / 2))}"
bad "schemaVersion 1" "$MT_OCI_MANIFEST" "$(jq -c '.schemaVersion = 1' <<<"$good")"
bad "schemaVersion 3" "$MT_OCI_MANIFEST" "$(jq -c '.schemaVersion = 3' <<<"$good")"
bad "schemaVersion as a string" "$MT_OCI_MANIFEST" "$(jq -c '.schemaVersion = "2"' <<<"$good")"
bad "missing schemaVersion" "$MT_OCI_MANIFEST" "$(jq -c 'del(.schemaVersion)' <<<"$good")"
bad "Content-Type contradicting mediaType" "$MT_DOCKER_MANIFEST" "$good"
bad "OCI index sent as an image manifest" "$MT_OCI_MANIFEST" "$(cat "$WORK/index.json")"
bad "a JSON array" "$MT_OCI_MANIFEST" '[]'
bad "an empty body" "$MT_OCI_MANIFEST" ''
bad "trailing garbage after the JSON" "$MT_OCI_MANIFEST" "$good xyz"
req GET "/v2/$R/manifests/bad" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "refused manifests left no tag"

# ---- digest mismatch when pushing by digest
req PUT "/v2/$R/manifests/sha256:$(rand_hex 32)" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "@$WORK/oci2.json"
expect_error 400 DIGEST_INVALID "PUT by a digest that does not match the body is 400 DIGEST_INVALID"

# ---- size limit
python3 - "$WORK/huge.json" "$good" <<'EOF'
import json, sys
m = json.loads(sys.argv[2])
m["annotations"] = {"org.example.pad": "x" * (4 * 1024 * 1024 + 100)}
open(sys.argv[1], "w").write(json.dumps(m))
EOF
push_manifest "$R" huge "$WORK/huge.json" "$MT_OCI_MANIFEST"
expect_error 413 'SIZE_INVALID|MANIFEST_INVALID' "manifest over 4 MiB is 413"

# exactly 4 MiB is accepted, one byte more is not
for extra in 0 1; do
    python3 - "$WORK/edge$extra.json" "$good" "$extra" <<'EOF'
import json, sys
m = json.loads(sys.argv[2])
m["annotations"] = {"org.example.pad": ""}
base = len(json.dumps(m, separators=(",", ":")))
m["annotations"]["org.example.pad"] = "x" * (4 * 1024 * 1024 - base + int(sys.argv[3]))
open(sys.argv[1], "w").write(json.dumps(m, separators=(",", ":")))
EOF
done
check "the edge manifests are 4 MiB and 4 MiB + 1 byte" test "$(file_size "$WORK/edge0.json")-$(file_size "$WORK/edge1.json")" = "4194304-4194305"
push_manifest "$R" edge "$WORK/edge0.json" "$MT_OCI_MANIFEST"
expect_status 201 "a manifest of exactly 4 MiB is accepted"
req GET "/v2/$R/manifests/edge" -H "$ACCEPT_MANIFESTS"
expect_body_digest "$(digest_of "$WORK/edge0.json")" "the 4 MiB manifest reads back"
push_manifest "$R" edge1 "$WORK/edge1.json" "$MT_OCI_MANIFEST"
expect_error 413 'SIZE_INVALID|MANIFEST_INVALID' "a manifest of 4 MiB + 1 byte is 413"
expect_alive "server alive after a manifest over 4 MiB"

# ---- unknown manifests and repositories
req GET "/v2/$R/manifests/nosuchtag" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "unknown tag is 404 MANIFEST_UNKNOWN"
req GET "/v2/$R/manifests/sha256:$(rand_hex 32)" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "unknown digest is 404 MANIFEST_UNKNOWN"
req HEAD "/v2/$R/manifests/nosuchtag" -H "$ACCEPT_MANIFESTS"
expect_status 404 "HEAD unknown tag is 404"
req GET "/v2/mf/nosuchrepo/manifests/v1" -H "$ACCEPT_MANIFESTS"
expect_error 404 NAME_UNKNOWN "unknown repository is 404 NAME_UNKNOWN"
req GET "/v2/$R/manifests/$l1" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "a blob digest is not a manifest"

# ---- manifests belong to their repository
req GET "/v2/mf/other/manifests/$oci" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "a manifest of $R is 404 MANIFEST_UNKNOWN in mf/other"
req HEAD "/v2/mf/other/manifests/$oci" -H "$ACCEPT_MANIFESTS"
expect_status 404 "HEAD of a manifest of $R in mf/other is 404"
req DELETE "/v2/mf/other/manifests/$oci"
expect_error 404 MANIFEST_UNKNOWN "DELETE in mf/other of a manifest of $R is 404 MANIFEST_UNKNOWN"
req GET "/v2/$R/manifests/$oci" -H "$ACCEPT_MANIFESTS"
expect_status 200 "the refused DELETE in mf/other left the manifest in $R"

# ---- a deleted blob can no longer be referenced
rand_file "$WORK/gone" 999
push_blob "$R" "$WORK/gone" || fail "push a blob to delete"
req DELETE "/v2/$R/blobs/$(digest_of "$WORK/gone")"
expect_status 202 "DELETE the blob"
printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' "$MT_OCI_MANIFEST" \
    "$(desc_json "$MT_OCI_CONFIG" "$WORK/config")" "$(desc_json "$MT_OCI_LAYER" "$WORK/gone")" >"$WORK/gone.json"
push_manifest "$R" gone "$WORK/gone.json" "$MT_OCI_MANIFEST"
expect_error 400 MANIFEST_BLOB_UNKNOWN "a manifest naming a deleted blob is 400 MANIFEST_BLOB_UNKNOWN"

# ---- moving a tag
push_manifest "$R" moving "$WORK/oci.json" "$MT_OCI_MANIFEST" || fail "push tag moving"
push_manifest "$R" moving "$WORK/oci2.json" "$MT_OCI_MANIFEST" || fail "move tag moving"
req GET "/v2/$R/manifests/moving" -H "$ACCEPT_MANIFESTS"
expect_header Docker-Content-Digest "$oci2" "a tag pushed twice points at the second manifest"

# ---- deletes
push_manifest "$R" v1b "$WORK/oci.json" "$MT_OCI_MANIFEST" || fail "push tag v1b"
req DELETE "/v2/$R/manifests/v1b"
expect_status 202 "DELETE by tag answers 202"
req GET "/v2/$R/manifests/v1b" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "deleted tag is gone"
req GET "/v2/$R/manifests/v1" -H "$ACCEPT_MANIFESTS"
expect_status 200 "DELETE by tag keeps the other tags of the manifest"
req GET "/v2/$R/manifests/$oci" -H "$ACCEPT_MANIFESTS"
expect_status 200 "DELETE by tag keeps the manifest"

push_manifest "$R" d2b "$WORK/docker.json" "$MT_DOCKER_MANIFEST" || fail "push tag d2b"
req DELETE "/v2/$R/manifests/$(digest_of "$WORK/list.json")"
expect_status 202 "DELETE the manifest list by digest"
req GET "/v2/$R/manifests/dlist" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "tag of the deleted manifest list is gone"
req DELETE "/v2/$R/manifests/$dock"
expect_status 202 "DELETE by digest answers 202"
req GET "/v2/$R/manifests/$dock" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "manifest deleted by digest is gone"
req GET "/v2/$R/manifests/d2" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "tag d2 of the deleted manifest is gone"
req GET "/v2/$R/manifests/d2b" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "tag d2b of the deleted manifest is gone"
req GET "/v2/$R/tags/list"
check "tags/list no longer lists the deleted manifest's tags" \
    jq -e '(.tags | index("d2")) == null and (.tags | index("d2b")) == null and (.tags | index("v1")) != null' "$BODY"
req DELETE "/v2/$R/manifests/$dock"
expect_error 404 MANIFEST_UNKNOWN "second DELETE by digest is 404 MANIFEST_UNKNOWN"
req DELETE "/v2/$R/manifests/nosuchtag"
expect_error 404 MANIFEST_UNKNOWN "DELETE unknown tag is 404 MANIFEST_UNKNOWN"

push_manifest "$R" d2 "$WORK/docker.json" "$MT_DOCKER_MANIFEST"
expect_status 201 "a deleted manifest can be pushed again"
expect_manifest d2 "$WORK/docker.json" "$MT_DOCKER_MANIFEST" "Docker manifest pushed again"

finish
