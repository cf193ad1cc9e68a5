#!/usr/bin/env bash
# Every decision made with a Bearer token stays within its access claim: a
# token for repository:scoped/new:pull,push cannot mount (and so read) a blob
# of only/alpha, though its owner may read only/alpha; the catalog claim still
# lists what the credential may read; /oauth2/explain with a token reports
# what the token, not its owner, may do.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
LS=default.localhost
jqe() { jq -e "$@" >/dev/null; }

rand_file "$WORK/secret-layer" 3000
D=$(digest_of "$WORK/secret-layer")
req POST "/v2/only/alpha/blobs/uploads/?digest=$D" "${OWN[@]}" --data-binary @"$WORK/secret-layer"
expect_status 201 "the owner pushes a blob to only/alpha"

AT=$(owner_token "repository:scoped/new:pull,push")
check "the owner gets a token for scoped/new only" test -n "$AT"
req POST "/v2/scoped/new/blobs/uploads/?mount=$D&from=only/alpha" -H "Authorization: Bearer $AT"
expect_status 202 "a mount from only/alpha with that token starts an upload instead"
req GET "/v2/scoped/new/blobs/$D" -H "Authorization: Bearer $AT"
expect_status 404 "and the blob of only/alpha cannot be read through scoped/new"
req GET "/v2/only/alpha/blobs/$D" -H "Authorization: Bearer $AT"
expect_status 401 "nor straight from only/alpha"

AT2=$(owner_token "repository:scoped/new:pull,push" "repository:only/alpha:pull")
req POST "/v2/scoped/new/blobs/uploads/?mount=$D&from=only/alpha" -H "Authorization: Bearer $AT2"
expect_status 201 "a token that also claims pull on only/alpha mounts"

CT=$(owner_token "registry:catalog:*")
req GET /v2/_catalog -H "Authorization: Bearer $CT"
check "the catalog claim lists the repositories the owner may read" \
    jqe '.repositories == ["only/alpha","scoped/new"]' "$BODY"

req GET "/oauth2/explain?service=$LS&scope=repository:only/alpha:pull&scope=repository:scoped/new:pull,push" \
    -H "Authorization: Bearer $AT"
expect_status 200 "explain takes an access token"
check "it names the token's owner" jqe '.identity.name == "owner"' "$BODY"
check "only/alpha: nothing granted, pull missing" \
    jqe '.access[] | select(.name=="only/alpha") | .granted == [] and .missing == ["pull"]' "$BODY"
check "scoped/new: pull and push granted" \
    jqe '.access[] | select(.name=="scoped/new") | .granted == ["pull","push"]' "$BODY"

finish
