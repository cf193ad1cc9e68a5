#!/usr/bin/env bash
# tags/list and _catalog, with n/last pagination and Link headers.
. "$(dirname "$0")/lib.sh"

berth_start
R=tg/app

push_image "$R" latest || bail "push image to $R"
tags=(v1 v10 v2 alpha Beta b_1 latest 0.9 z-last a.b)
for t in "${tags[@]}"; do
    push_manifest "$R" "$t" "$IMG_MANIFEST" "$MT_OCI_MANIFEST" || fail "tag $t"
done
sorted=$(printf '%s\n' "${tags[@]}" | LC_ALL=C sort -u)
want=$(echo "$sorted" | jq -R . | jq -sc .)
ntags=$(echo "$sorted" | wc -l)

req GET "/v2/$R/tags/list"
expect_status 200 "tags/list answers 200"
expect_header_re Content-Type '^application/json' "tags/list has Content-Type application/json"
expect_eq "tags/list names the repository" "$R" "$(jq -r .name "$BODY")"
expect_eq "tags/list returns every tag in lexical order" "$want" "$(jq -c .tags "$BODY")"
expect_no_header Link "the full tags/list has no Link"

req GET "/v2/$R/tags/list?n=2"
expect_status 200 "tags/list?n=2 answers 200"
expect_eq "tags/list?n=2 returns the first two tags" "$(echo "$sorted" | head -2 | jq -R . | jq -sc .)" "$(jq -c .tags "$BODY")"
second=$(echo "$sorted" | sed -n 2p)
expect_next_link "/v2/$R/tags/list" 2 "$second" "tags/list?n=2 has a Link to the next page"

third=$(echo "$sorted" | sed -n 3p)
fourth=$(echo "$sorted" | sed -n 4p)
req GET "/v2/$R/tags/list?n=2&last=$second"
expect_eq "tags/list?n=2&last=X continues after X" "[\"$third\",\"$fourth\"]" "$(jq -c .tags "$BODY")"

# Follow the Link headers to the end.
next="/v2/$R/tags/list?n=3"
all="[]"
pages=0
while [ -n "$next" ] && [ "$pages" -lt 20 ]; do
    req GET "$next"
    [ "$STATUS" = 200 ] || break
    all=$(jq -c --argjson a "$all" '$a + .tags' "$BODY")
    pages=$((pages + 1))
    l=$(hdr Link) || l=""
    next=$(echo "$l" | sed -n 's/^<\([^>]*\)>; *rel="next"$/\1/p')
done
expect_eq "following Link pages of 3 gives every tag once" "$want" "$all"
expect_eq "pages of 3 over $ntags tags" $(((ntags + 2) / 3)) "$pages"

last=$(echo "$sorted" | tail -1)
req GET "/v2/$R/tags/list?n=2&last=$(echo "$sorted" | tail -2 | head -1)"
expect_eq "the last page holds the last tag" "[\"$last\"]" "$(jq -c .tags "$BODY")"
expect_no_header Link "the last page has no Link"

req GET "/v2/$R/tags/list?n=$ntags"
expect_eq "n equal to the tag count returns all" "$want" "$(jq -c .tags "$BODY")"
expect_no_header Link "n equal to the tag count has no Link"

req GET "/v2/$R/tags/list?last=c"
expect_eq "last= a value that is not a tag continues after it" \
    "$(echo "$sorted" | LC_ALL=C awk '$0 > "c"' | jq -R . | jq -sc .)" "$(jq -c .tags "$BODY")"

req GET "/v2/$R/tags/list?n=5&last=$last"
expect_status 200 "last= the last tag answers 200"
expect_eq "last= the last tag gives an empty list" 0 "$(jq '.tags | length' "$BODY")"

req GET "/v2/tg/nosuch/tags/list"
expect_error 404 NAME_UNKNOWN "tags/list of an unknown repository is 404 NAME_UNKNOWN"

# ---- catalog
repos=(cat/zeta cat/alpha cat/m/sub cat/m/sub/deeper cat/m x.y/z)
for r in "${repos[@]}"; do
    push_image "$r" latest || fail "push image to $r"
done
allrepos=$(printf '%s\n' "${repos[@]}" "$R" | LC_ALL=C sort -u)
want=$(echo "$allrepos" | jq -R . | jq -sc .)
nrepos=$(echo "$allrepos" | wc -l)

req GET /v2/_catalog
expect_status 200 "_catalog answers 200"
expect_header_re Content-Type '^application/json' "_catalog has Content-Type application/json"
expect_eq "_catalog lists every repository in order" "$want" "$(jq -c .repositories "$BODY")"
expect_no_header Link "the full _catalog has no Link"

req GET "/v2/_catalog?n=2"
expect_eq "_catalog?n=2 returns two repositories" "$(echo "$allrepos" | head -2 | jq -R . | jq -sc .)" \
    "$(jq -c .repositories "$BODY")"
second=$(echo "$allrepos" | sed -n 2p)
expect_next_link /v2/_catalog 2 "$second" "_catalog?n=2 has a Link to the next page"

req GET "/v2/_catalog?n=2&last=$second"
expect_eq "_catalog?n=2&last=X continues after X" "$(echo "$allrepos" | sed -n 3,4p | jq -R . | jq -sc .)" \
    "$(jq -c .repositories "$BODY")"

req GET "/v2/_catalog?n=2&last=${second/\//%2F}"
expect_eq "_catalog with last= percent-encoded continues after it" "$(echo "$allrepos" | sed -n 3,4p | jq -R . | jq -sc .)" \
    "$(jq -c .repositories "$BODY")"

req GET "/v2/_catalog?last=cat/b"
expect_eq "_catalog?last= a name that is not a repository continues after it" \
    "$(echo "$allrepos" | LC_ALL=C awk '$0 > "cat/b"' | jq -R . | jq -sc .)" "$(jq -c .repositories "$BODY")"

next="/v2/_catalog?n=2"
all="[]"
pages=0
while [ -n "$next" ] && [ "$pages" -lt 20 ]; do
    req GET "$next"
    [ "$STATUS" = 200 ] || break
    all=$(jq -c --argjson a "$all" '$a + .repositories' "$BODY")
    pages=$((pages + 1))
    l=$(hdr Link) || l=""
    next=$(echo "$l" | sed -n 's/^<\([^>]*\)>; *rel="next"$/\1/p')
done
expect_eq "following _catalog Links gives every repository once" "$want" "$all"
expect_eq "pages of 2 over $nrepos repositories" $(((nrepos + 1) / 2)) "$pages"
expect_no_header Link "the last _catalog page has no Link"

finish
