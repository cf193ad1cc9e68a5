#!/usr/bin/env bash
# ACR's repository metadata API under /acr/v1 (what `az acr repository` and
# `az acr manifest` call): a repository's attributes, its tags and manifests
# with sizes and times in ACR's shape, paging by name and by time, one tag or
# manifest, their deletion, and access through the token service: reading
# needs metadata_read, deleting needs delete.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
jqe() { jq -e "$@" >/dev/null; }
AUTH_HDR=()
push_image_auth() { # an image pushed as the owner: blobs, then the manifest by tag
    local repo=$1 tag=$2 cfg layer
    cfg=$WORK/cfg-$tag.json
    printf '{"architecture":"amd64","os":"linux","comment":"%s"}' "$(rand_hex 8)" >"$cfg"
    layer=$WORK/layer-$tag
    rand_file "$layer" 3000
    req POST "/v2/$repo/blobs/uploads/?digest=$(digest_of "$cfg")" "${OWN[@]}" --data-binary @"$cfg"
    req POST "/v2/$repo/blobs/uploads/?digest=$(digest_of "$layer")" "${OWN[@]}" --data-binary @"$layer"
    printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' "$MT_OCI_MANIFEST" \
        "$(desc_json "$MT_OCI_CONFIG" "$cfg")" "$(desc_json "$MT_OCI_LAYER" "$layer")" >"$WORK/m-$tag.json"
    IMG_SIZE=$(($(file_size "$cfg") + 3000))
    req PUT "/v2/$repo/manifests/$tag" "${OWN[@]}" -H "Content-Type: $MT_OCI_MANIFEST" \
        --data-binary @"$WORK/m-$tag.json"
    IMG_DIGEST=$(digest_of "$WORK/m-$tag.json")
}

push_image_auth acr/app v1
expect_status 201 "push v1"
V1=$IMG_DIGEST
V1_SIZE=$IMG_SIZE
sleep 0.01
push_image_auth acr/app v2
expect_status 201 "push v2"
V2=$IMG_DIGEST
sleep 0.01
req PUT "/v2/acr/app/manifests/latest" "${OWN[@]}" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$WORK/m-v2.json"
expect_status 201 "tag v2 as latest too"

RT=$(owner_token "repository:acr/app:metadata_read")
check "the owner gets a metadata_read token" test -n "$RT"
R=(-H "Authorization: Bearer $RT")

# ---- the repository
req GET /acr/v1/acr/app "${R[@]}"
expect_status 200 "GET /acr/v1/<name>"
check "registry is the login server, imageName the repository" \
    jqe '.registry == "default.localhost" and .imageName == "acr/app"' "$BODY"
check "2 manifests and 3 tags" jqe '.manifestCount == 2 and .tagCount == 3' "$BODY"
check "times are ACR's: RFC 3339 with seven fractional digits" \
    jqe '(.createdTime | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{7}Z$")) and .lastUpdateTime >= .createdTime' "$BODY"
check "changeableAttributes are all true" \
    jqe '.changeableAttributes == {"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true}' "$BODY"
req GET /acr/v1/acr/nothing -H "Authorization: Bearer $(owner_token "repository:acr/nothing:metadata_read")"
expect_error 404 NAME_UNKNOWN "an unknown repository is NAME_UNKNOWN"

# ---- tags
req GET /acr/v1/acr/app/_tags "${R[@]}"
expect_status 200 "GET _tags"
check "tags by name, each with its digest" \
    jqe "[.tags[] | [.name, .digest]] == [[\"latest\",\"$V2\"],[\"v1\",\"$V1\"],[\"v2\",\"$V2\"]]" "$BODY"
check "each tag has times, signed false and its attributes" \
    jqe '[.tags[] | (.createdTime | length > 0) and .signed == false and .changeableAttributes.deleteEnabled] | all' "$BODY"
req GET "/acr/v1/acr/app/_tags?orderby=time_desc" "${R[@]}"
check "orderby=time_desc: newest first" jqe '[.tags[].name] == ["latest","v2","v1"]' "$BODY"
req GET "/acr/v1/acr/app/_tags?orderby=time_asc&n=2" "${R[@]}"
check "orderby=time_asc, n=2: the two oldest" jqe '[.tags[].name] == ["v1","v2"]' "$BODY"
expect_header_re Link '^</acr/v1/acr/app/_tags\?n=2&last=v2&orderby=time_asc>; rel="next"$' "a Link to the next page keeps the order"
req GET "/acr/v1/acr/app/_tags?orderby=time_asc&n=2&last=v2" "${R[@]}"
check "the next page follows v2 in time" jqe '[.tags[].name] == ["latest"]' "$BODY"
expect_no_header Link "the last page has no Link"
req GET "/acr/v1/acr/app/_tags?n=1&last=latest" "${R[@]}"
check "by name after last" jqe '[.tags[].name] == ["v1"]' "$BODY"
req GET "/acr/v1/acr/app/_tags?orderby=size" "${R[@]}"
expect_error 400 UNSUPPORTED "an orderby berth does not know is refused"
req GET /acr/v1/acr/app/_tags/v1 "${R[@]}"
expect_status 200 "GET _tags/<tag>"
check "one tag under .tag" jqe ".tag.name == \"v1\" and .tag.digest == \"$V1\" and .imageName == \"acr/app\"" "$BODY"
req GET /acr/v1/acr/app/_tags/nope "${R[@]}"
expect_error 404 MANIFEST_UNKNOWN "an unknown tag is MANIFEST_UNKNOWN"

# ---- manifests
req GET /acr/v1/acr/app/_manifests "${R[@]}"
expect_status 200 "GET _manifests"
check "both manifests, with their tags" \
    jqe "([.manifests[] | select(.digest == \"$V2\") | .tags] == [[\"latest\",\"v2\"]]) and ([.manifests[] | select(.digest == \"$V1\") | .tags] == [[\"v1\"]])" "$BODY"
check "imageSize is the bytes of the config and layers; mediaType is the manifest's" \
    jqe ".manifests[] | select(.digest == \"$V1\") | .imageSize == $V1_SIZE and .mediaType == \"$MT_OCI_MANIFEST\"" "$BODY"
req GET "/acr/v1/acr/app/_manifests?orderby=time_desc" "${R[@]}"
check "orderby=time_desc: the newest push first" jqe "[.manifests[].digest] == [\"$V2\",\"$V1\"]" "$BODY"
req GET "/acr/v1/acr/app/_manifests/$V1" "${R[@]}"
check "one manifest under .manifest" jqe ".manifest.digest == \"$V1\" and .manifest.tags == [\"v1\"]" "$BODY"
req GET "/acr/v1/acr/app/_manifests/sha256:nothex" "${R[@]}"
expect_error 404 MANIFEST_UNKNOWN "a malformed digest is MANIFEST_UNKNOWN"

# ---- access
PT=$(owner_token "repository:acr/app:pull")
req GET /acr/v1/acr/app/_tags -H "Authorization: Bearer $PT"
check "a token without metadata_read is refused the tag list ($STATUS)" test "$STATUS" = 401 -o "$STATUS" = 403
req GET /acr/v1/acr/app/_tags
expect_status 401 "no credentials: 401"
check "the challenge asks for metadata_read" sh -c "grep -qi 'scope=\"repository:acr/app:metadata_read\"' '$HDRS'"
req DELETE /acr/v1/acr/app/_tags/latest "${R[@]}"
check "a metadata_read token cannot delete ($STATUS)" test "$STATUS" = 401 -o "$STATUS" = 403

# ---- locks (changeableAttributes): writeEnabled and deleteEnabled are kept and enforced
WT=$(owner_token "repository:acr/app:metadata_read,metadata_write")
W=(-H "Authorization: Bearer $WT" -H "Content-Type: application/json")
req PATCH /acr/v1/acr/app/_tags/v1 "${W[@]}" --data '{"writeEnabled":false,"deleteEnabled":false}'
expect_status 200 "PATCH _tags/v1 locks it"
check "the answer is the tag with its locks" \
    jqe '.tag.name == "v1" and .tag.changeableAttributes == {"deleteEnabled":false,"writeEnabled":false,"readEnabled":true,"listEnabled":true}' "$BODY"
req PUT "/v2/acr/app/manifests/v1" "${OWN[@]}" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$WORK/m-v2.json"
expect_error 403 DENIED "pushing another manifest to a write-locked tag is refused"
expect_match "the refusal names the lock and how to lift it" "tag v1 of 'acr/app' is locked: its writeEnabled is false.*--write-enabled true" \
    "$(jq -r '.errors[0].message' "$BODY")"
req PUT "/v2/acr/app/manifests/v1" "${OWN[@]}" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$WORK/m-v1.json"
expect_status 201 "pushing the same manifest to it again is no change and goes through"
req DELETE /v2/acr/app/manifests/v1 "${OWN[@]}"
expect_error 403 DENIED "deleting the delete-locked tag is refused"
req DELETE "/v2/acr/app/manifests/$V1" "${OWN[@]}"
expect_error 403 DENIED "so is deleting its manifest"
check "that refusal names the tag" grep -q "its tag v1 of 'acr/app' is locked" "$BODY"
req DELETE /acr/v1/acr/app "${OWN[@]}"
expect_error 403 DENIED "and deleting the repository"
req PATCH /acr/v1/acr/app/_tags/v1 "${W[@]}" --data '{"writeEnabled":true,"deleteEnabled":true}'
expect_status 200 "unlock v1 for writing and deleting"

# ---- readEnabled refuses pulls, listEnabled leaves out of lists what is still read by name
req PATCH /acr/v1/acr/app/_tags/v1 "${W[@]}" --data '{"readEnabled":false,"listEnabled":false}'
expect_status 200 "PATCH _tags/v1 readEnabled and listEnabled false"
req GET /v2/acr/app/manifests/v1 "${OWN[@]}" -H "Accept: $MT_OCI_MANIFEST"
expect_error 403 DENIED "a read-locked tag does not pull"
expect_match "the refusal names the lock and how to lift it" \
    "tag v1 of 'acr/app' is locked: its readEnabled is false.*--read-enabled true" "$(jq -r '.errors[0].message' "$BODY")"
req GET "/v2/acr/app/manifests/$V1" "${OWN[@]}" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200 "its manifest still pulls by digest"
req GET /v2/acr/app/tags/list "${OWN[@]}"
check "an unlisted tag is left out of tags/list" jqe '(.tags | index("v1")) == null and (.tags | index("v2")) != null' "$BODY"
req GET /acr/v1/acr/app/_tags "${W[@]}"
check "and out of _tags" jqe '([.tags[].name] | index("v1")) == null' "$BODY"
req GET /acr/v1/acr/app/_tags/v1 "${W[@]}"
check "read by name it is there, with its locks" \
    jqe '.tag.changeableAttributes.readEnabled == false and .tag.changeableAttributes.listEnabled == false' "$BODY"
req PATCH /acr/v1/acr/app/_tags/v1 "${W[@]}" --data '{"readEnabled":true,"listEnabled":true}'
expect_status 200 "unlock v1 for reading and listing"
req PATCH "/acr/v1/acr/app/_manifests/$V1" "${W[@]}" --data '{"listEnabled":false}'
req GET /acr/v1/acr/app/_manifests "${W[@]}"
check "an unlisted manifest is left out of _manifests" jqe "([.manifests[].digest] | index(\"$V1\")) == null" "$BODY"
req PATCH "/acr/v1/acr/app/_manifests/$V1" "${W[@]}" --data '{"listEnabled":true,"readEnabled":false}'
req GET /v2/acr/app/manifests/v1 "${OWN[@]}" -H "Accept: $MT_OCI_MANIFEST"
expect_error 403 DENIED "a read-locked manifest does not pull by its tag either"
req PATCH "/acr/v1/acr/app/_manifests/$V1" "${W[@]}" --data '{"readEnabled":true}'
req PATCH /acr/v1/acr/app "${W[@]}" --data '{"readEnabled":false,"listEnabled":false}'
expect_status 200 "PATCH the repository: read- and list-locked"
req GET "/v2/acr/app/blobs/$(digest_of "$WORK/cfg-v1.json")" "${OWN[@]}"
expect_error 403 DENIED "a read-locked repository's blobs do not pull"
req GET /v2/_catalog "${OWN[@]}"
check "an unlisted repository is left out of _catalog" jqe '(.repositories | index("acr/app")) == null' "$BODY"
req PATCH /acr/v1/acr/app "${W[@]}" --data '{"readEnabled":true,"listEnabled":true}'
req GET /v2/_catalog "${OWN[@]}"
check "unlocked, it is back" jqe '(.repositories | index("acr/app")) != null' "$BODY"
req PATCH /acr/v1/acr/app/_tags/v1 "${W[@]}" --data '{"writeEnabled":"no"}'
expect_error 400 'BAD_REQUEST|UNSUPPORTED|NAME_INVALID|MANIFEST_INVALID' "a lock that is not a boolean is refused"
req PATCH /acr/v1/acr/app/_tags/v1 "${W[@]}" --data '{"lockEverything":true}'
check "an unknown attribute is refused ($STATUS)" test "$STATUS" = 400
req PATCH /acr/v1/acr/app/_tags/v1 "${R[@]}" -H "Content-Type: application/json" --data '{"writeEnabled":true}'
check "a token without metadata_write cannot change locks ($STATUS)" test "$STATUS" = 401 -o "$STATUS" = 403
req PATCH /acr/v1/acr/app "${W[@]}" --data '{"writeEnabled":false}'
expect_status 200 "PATCH the repository: write-locked"
check "the answer is the repository with its locks" jqe '.changeableAttributes.writeEnabled == false and .changeableAttributes.deleteEnabled' "$BODY"
req PUT "/v2/acr/app/manifests/v9" "${OWN[@]}" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$WORK/m-v1.json"
expect_error 403 DENIED "no new tag in a write-locked repository"
req PATCH /acr/v1/acr/app "${W[@]}" --data '{"writeEnabled":true}'
req PATCH /acr/v1/acr/app/_tags/v1 "${W[@]}" --data '{"writeEnabled":true,"deleteEnabled":true}'
expect_status 200 "unlock v1"
req PATCH "/acr/v1/acr/app/_manifests/$V1" "${W[@]}" --data '{"deleteEnabled":false}'
check "PATCH _manifests/<digest> locks the manifest" jqe '.manifest.changeableAttributes.deleteEnabled == false' "$BODY"
req DELETE "/v2/acr/app/manifests/$V1" "${OWN[@]}"
expect_error 403 DENIED "a delete-locked manifest is not deleted"
req PATCH "/acr/v1/acr/app/_manifests/$V1" "${W[@]}" --data '{"deleteEnabled":true}'
req GET "/acr/v1/acr/app/_tags/nope" "${W[@]}"
req PATCH /acr/v1/acr/app/_tags/nope "${W[@]}" --data '{"writeEnabled":false}'
expect_error 404 MANIFEST_UNKNOWN "locking an unknown tag is MANIFEST_UNKNOWN"

# ---- deletes
DT=$(owner_token "repository:acr/app:delete,metadata_read")
D=(-H "Authorization: Bearer $DT")
req DELETE /acr/v1/acr/app/_tags/latest "${D[@]}"
expect_status 202 "DELETE _tags/<tag>"
req GET /acr/v1/acr/app/_tags/latest "${D[@]}"
expect_error 404 MANIFEST_UNKNOWN "the tag is gone"
req GET "/acr/v1/acr/app/_manifests/$V2" "${D[@]}"
check "its manifest stays, with its other tag" jqe '.manifest.tags == ["v2"]' "$BODY"
req DELETE "/acr/v1/acr/app/_manifests/$V2" "${D[@]}"
expect_status 202 "DELETE _manifests/<digest>"
req GET /acr/v1/acr/app "${D[@]}"
check "the manifest went with its tags" jqe '.manifestCount == 1 and .tagCount == 1' "$BODY"
req DELETE /acr/v1/acr/app/_tags/nope "${D[@]}"
expect_error 404 MANIFEST_UNKNOWN "deleting an unknown tag is MANIFEST_UNKNOWN"
req GET /v2/acr/app/manifests/v1 "${OWN[@]}" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200 "v1 still pulls"

finish
