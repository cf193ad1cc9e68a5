#!/usr/bin/env bash
# The referrers API: descriptors of manifests whose subject is a digest,
# artifactType filtering, empty answers and bad digests.
. "$(dirname "$0")/lib.sh"

berth_start
R=rf/app

push_image "$R" latest || bail "push subject image"
subj=$IMG_DIGEST
subj_size=$(file_size "$IMG_MANIFEST")
push_empty_config "$R" || bail "push the empty blob"
printf '{"spdx":"data"}' >"$WORK/sbom"
push_blob "$R" "$WORK/sbom" || bail "push sbom blob"
printf '{"custom":"config"}' >"$WORK/cfg2"
push_blob "$R" "$WORK/cfg2" || bail "push custom config blob"

subject_json="{\"mediaType\":\"$MT_OCI_MANIFEST\",\"digest\":\"$subj\",\"size\":$subj_size}"
empty_cfg="{\"mediaType\":\"$MT_OCI_EMPTY\",\"digest\":\"$EMPTY_DIGEST\",\"size\":2}"

# A1: SBOM artifact with annotations.
cat >"$WORK/a1.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_OCI_MANIFEST","artifactType":"application/vnd.example.sbom.v1",
"config":$empty_cfg,"layers":[$(desc_json application/spdx+json "$WORK/sbom")],
"subject":$subject_json,"annotations":{"org.example.kind":"sbom","org.opencontainers.image.created":"2024-05-06T07:08:09Z"}}
EOF
# A2: signature artifact.
cat >"$WORK/a2.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_OCI_MANIFEST","artifactType":"application/vnd.example.sig.v1",
"config":$empty_cfg,"layers":[$empty_cfg],"subject":$subject_json}
EOF
# A3: image manifest without artifactType: its config media type stands in.
cat >"$WORK/a3.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_OCI_MANIFEST",
"config":$(desc_json application/vnd.example.config.v1+json "$WORK/cfg2"),"layers":[],"subject":$subject_json}
EOF
# A4: a second SBOM.
cat >"$WORK/a4.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_OCI_MANIFEST","artifactType":"application/vnd.example.sbom.v1",
"config":$empty_cfg,"layers":[$empty_cfg],"subject":$subject_json,"annotations":{"n":"4"}}
EOF

for a in a1 a2 a3 a4; do
    push_manifest "$R" "$(digest_of "$WORK/$a.json")" "$WORK/$a.json" "$MT_OCI_MANIFEST"
    expect_status 201 "push referrer $a"
    expect_header OCI-Subject "$subj" "referrer $a answers OCI-Subject"
done

# A5: an index with a subject, pushed by tag.
printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.bundle","manifests":[{"mediaType":"%s","digest":"%s","size":%s}],"subject":%s}' \
    "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$(digest_of "$WORK/a2.json")" "$(file_size "$WORK/a2.json")" "$subject_json" >"$WORK/a5.json"
push_manifest "$R" bundle "$WORK/a5.json" "$MT_OCI_INDEX"
expect_status 201 "push index referrer by tag"
expect_header OCI-Subject "$subj" "index referrer answers OCI-Subject"

req GET "/v2/$R/referrers/$subj"
expect_status 200 "referrers answers 200"
expect_header_re Content-Type "^$(echo "$MT_OCI_INDEX" | sed 's/[.+]/\\&/g')" "referrers has the OCI index Content-Type"
check "referrers body is an OCI index" jq -e --arg mt "$MT_OCI_INDEX" \
    '.schemaVersion == 2 and .mediaType == $mt and (.manifests | type) == "array"' "$BODY"
expect_eq "referrers lists all 5 referrers" 5 "$(jq '.manifests | length' "$BODY")"
cp "$BODY" "$WORK/all.json"

# expect_desc FILE ARTIFACTTYPE MEDIATYPE WHAT: FILE's descriptor is listed.
expect_desc() {
    local f=$1 at=$2 mt=$3 what=$4 d got
    d=$(digest_of "$f")
    got=$(jq -c --arg d "$d" '.manifests[] | select(.digest == $d) | {mediaType, size, artifactType}' "$WORK/all.json")
    expect_eq "referrers descriptor of $what" \
        "{\"mediaType\":\"$mt\",\"size\":$(file_size "$f"),\"artifactType\":\"$at\"}" "$got"
}
expect_desc "$WORK/a1.json" application/vnd.example.sbom.v1 "$MT_OCI_MANIFEST" "the SBOM"
expect_desc "$WORK/a2.json" application/vnd.example.sig.v1 "$MT_OCI_MANIFEST" "the signature"
expect_desc "$WORK/a3.json" application/vnd.example.config.v1+json "$MT_OCI_MANIFEST" "the manifest without artifactType (config media type)"
expect_desc "$WORK/a4.json" application/vnd.example.sbom.v1 "$MT_OCI_MANIFEST" "the second SBOM"
expect_desc "$WORK/a5.json" application/vnd.example.bundle "$MT_OCI_INDEX" "the index"
expect_eq "referrers carries the annotations" \
    '{"org.example.kind":"sbom","org.opencontainers.image.created":"2024-05-06T07:08:09Z"}' \
    "$(jq -cS --arg d "$(digest_of "$WORK/a1.json")" '.manifests[] | select(.digest == $d) | .annotations' "$WORK/all.json")"

req GET "/v2/$R/referrers/$subj?artifactType=application/vnd.example.sbom.v1"
expect_status 200 "filtered referrers answers 200"
expect_header OCI-Filters-Applied artifactType "filtered referrers has OCI-Filters-Applied: artifactType"
expect_eq "filter keeps the two SBOMs" \
    "$(printf '%s\n' "$(digest_of "$WORK/a1.json")" "$(digest_of "$WORK/a4.json")" | sort | jq -R . | jq -sc .)" \
    "$(jq -c '[.manifests[].digest] | sort' "$BODY")"

req GET "/v2/$R/referrers/$subj?artifactType=application/vnd.example.config.v1%2Bjson"
expect_eq "filter on the config media type finds the manifest without artifactType" \
    "[\"$(digest_of "$WORK/a3.json")\"]" "$(jq -c '[.manifests[].digest]' "$BODY")"

req GET "/v2/$R/referrers/$subj?artifactType=application/vnd.example.none"
expect_status 200 "filter matching nothing answers 200"
expect_header OCI-Filters-Applied artifactType "filter matching nothing has OCI-Filters-Applied"
expect_eq "filter matching nothing gives an empty list" 0 "$(jq '.manifests | length' "$BODY")"

req GET "/v2/$R/referrers/$subj"
expect_no_header OCI-Filters-Applied "unfiltered referrers has no OCI-Filters-Applied"

req GET "/v2/$R/referrers/sha256:$(rand_hex 32)"
expect_status 200 "referrers of a digest with none answers 200"
check "referrers of a digest with none is an empty index" jq -e --arg mt "$MT_OCI_INDEX" \
    '.schemaVersion == 2 and .mediaType == $mt and .manifests == []' "$BODY"

req GET "/v2/$R/referrers/sha256:1234"
expect_error 400 DIGEST_INVALID "referrers of a malformed digest is 400 DIGEST_INVALID"
req GET "/v2/$R/referrers/latest"
expect_error 400 DIGEST_INVALID "referrers of a tag is 400 DIGEST_INVALID"

# A subject that does not exist yet.
ghost=sha256:$(rand_hex 32)
cat >"$WORK/g.json" <<EOF
{"schemaVersion":2,"mediaType":"$MT_OCI_MANIFEST","artifactType":"application/vnd.example.early",
"config":$empty_cfg,"layers":[$empty_cfg],"subject":{"mediaType":"$MT_OCI_MANIFEST","digest":"$ghost","size":99}}
EOF
push_manifest "$R" "$(digest_of "$WORK/g.json")" "$WORK/g.json" "$MT_OCI_MANIFEST"
expect_status 201 "referrer of a missing subject is accepted"
req GET "/v2/$R/referrers/$ghost"
expect_eq "referrers of a missing subject lists it" "[\"$(digest_of "$WORK/g.json")\"]" "$(jq -c '[.manifests[].digest]' "$BODY")"

# Referrers stay in their repository.
push_image rf/other latest || fail "push image to rf/other"
req GET "/v2/rf/other/referrers/$subj"
check "referrers in another repository does not list this repository's artifacts" \
    jq -e '(.manifests // []) | length == 0' "$BODY"

# Deleting a referrer removes it from the list.
req DELETE "/v2/$R/manifests/$(digest_of "$WORK/a2.json")"
if [ "$STATUS" != 202 ]; then
    req DELETE "/v2/$R/manifests/bundle"
    req DELETE "/v2/$R/manifests/$(digest_of "$WORK/a5.json")"
    req DELETE "/v2/$R/manifests/$(digest_of "$WORK/a2.json")"
fi
expect_status 202 "DELETE a referrer answers 202"
req GET "/v2/$R/referrers/$subj"
check "a deleted referrer is no longer listed" jq -e --arg d "$(digest_of "$WORK/a2.json")" \
    '[.manifests[].digest] | index($d) == null' "$BODY"

finish
