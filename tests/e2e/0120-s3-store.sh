#!/usr/bin/env bash
# berth serve --store s3://... against a real S3 (Ceph's RADOS Gateway: scripts/rgw.sh writes its
# BERTH_TEST_S3_ENDPOINT, BERTH_TEST_S3_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY):
# skopeo pushes and pulls an image, a 26 MiB blob goes up in 6 MiB PATCHes and comes back through
# the 307 to a presigned URL (and a Range on it), a monolithic 21 MiB POST, redirect=0 sends the
# bytes itself, doctor checks the bucket, gc deletes from it. SKIP without an S3.
. "$(dirname "$0")/lib.sh"

work_init
if [ -z "${BERTH_TEST_S3_ENDPOINT:-}" ]; then
    skip "no S3 for the tests (BERTH_TEST_S3_ENDPOINT unset; scripts/rgw.sh starts a RADOS Gateway)"
    finish
fi
BUCKET=e2e-$(rand_hex 6)
STORE="s3://$BUCKET/reg?endpoint=$BERTH_TEST_S3_ENDPOINT&region=${BERTH_TEST_S3_REGION:-us-east-1}"

# a key in the URL is refused before anything is sent
"$BERTH_BIN" serve --listen 127.0.0.1:1 --data "$WORK/refused" --store "s3://AKID:pw-e2e-x@$BUCKET?endpoint=http://127.0.0.1:1" \
    >"$WORK/refused.out" 2>&1
expect_eq "serve refuses a store URL with a key, exit 1" 1 "$?"
check "... naming the setting, not the key" grep -q "config 'store': the URL carries credentials" "$WORK/refused.out"
check "... and never showing it" bash -c "! grep -q pw-e2e-x '$WORK/refused.out'"

berth_start --store "$STORE"
check "serve logs the store without a key" grep -q "driver=s3 bucket=$BUCKET prefix=\"reg/\"" "$SRV_LOG"

# an image with skopeo, in and out
if command -v skopeo >/dev/null 2>&1; then
    printf '{"default":[{"type":"insecureAcceptAnything"}]}' >"$WORK/policy.json"
    export REGISTRY_AUTH_FILE=$WORK/auth.json
    printf '{}' >"$REGISTRY_AUTH_FILE"
    sk() { timeout 120 skopeo --policy "$WORK/policy.json" "$@" >"$WORK/skopeo.out" 2>&1; }
    make_oci_layout "$WORK/src" 3 || bail "build the OCI layout"
    sk copy --dest-tls-verify=false "oci:$WORK/src:latest" "docker://$HOSTPORT/s3/img:v1" ||
        fail "skopeo push" "$(tail -c 600 "$WORK/skopeo.out")"
    sk copy --src-tls-verify=false "docker://$HOSTPORT/s3/img:v1" "oci:$WORK/back:latest" ||
        fail "skopeo pull" "$(tail -c 600 "$WORK/skopeo.out")"
    same=1
    for f in "$WORK"/src/blobs/sha256/*; do cmp -s "$f" "$WORK/back/blobs/sha256/${f##*/}" || same=0; done
    expect_eq "skopeo pushes and pulls an image through the bucket, every blob the same" 1 "$same"
else
    skip "skopeo not installed"
fi

# 26 MiB in 6 MiB PATCHes: parts on the way, a tail between requests, the rest at PUT
BIG=$WORK/big.bin
head -c $((26 * 1024 * 1024 + 12345)) /dev/urandom >"$BIG"
bd=sha256:$(sha256sum "$BIG" | cut -d' ' -f1)
size=$(file_size "$BIG")
split -b $((6 * 1024 * 1024)) -d "$BIG" "$WORK/chunk."
loc=$(curl -s -D - -o /dev/null -X POST "$URL/v2/s3/big/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
off=0 patched=1
for c in "$WORK"/chunk.*; do
    n=$(file_size "$c")
    hdrs=$(curl -s -D - -o "$WORK/patch.body" -H 'Expect:' -X PATCH -H "Content-Type: application/octet-stream" \
        -H "Content-Range: $off-$((off + n - 1))" --data-binary @"$c" "$(abs_url "$loc")" | tr -d '\r')
    [ "$(head -1 <<<"$hdrs" | cut -d' ' -f2)" = 202 ] || { patched=0; break; }
    loc=$(sed -n 's/^[Ll]ocation: //p' <<<"$hdrs")
    off=$((off + n))
done
expect_eq "five PATCHes of 6 MiB are taken" 1 "$patched"
st=$(curl -s -o "$WORK/put.body" -w '%{http_code}' -X PUT "$(abs_url "$(add_query "$loc" "digest=$bd")")")
expect_eq "PUT ?digest= completes the upload: 201" 201 "$st"

out=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$URL/v2/s3/big/blobs/$bd")
expect_eq "GET of the blob answers 307" 307 "${out%% *}"
expect_match "... to a presigned URL in the bucket" "^$BERTH_TEST_S3_ENDPOINT/$BUCKET/reg/blobs/sha256/${bd#sha256:}\\?.*X-Amz-Signature=" "${out#* }"
expect_eq "... which curl follows to the blob's bytes" "${bd#sha256:}" "$(curl -sL "$URL/v2/s3/big/blobs/$bd" | sha256sum | cut -d' ' -f1)"
expect_eq "... and a Range on it" "$(tail -c +101 "$BIG" | head -c 100 | sha256sum | cut -d' ' -f1)" \
    "$(curl -sL -H 'Range: bytes=100-199' "$URL/v2/s3/big/blobs/$bd" | sha256sum | cut -d' ' -f1)"
req HEAD "/v2/s3/big/blobs/$bd"
expect_status 200 "HEAD of the blob"
expect_eq "... with its size" "$size" "$(hdr Content-Length)"

# a monolithic POST ?digest=: many small appends in one request
MONO=$WORK/mono.bin
head -c $((21 * 1024 * 1024)) /dev/urandom >"$MONO"
md=sha256:$(sha256sum "$MONO" | cut -d' ' -f1)
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -X POST -H "Content-Type: application/octet-stream" \
    --data-binary @"$MONO" "$URL/v2/s3/mono/blobs/uploads/?digest=$md")
expect_eq "a monolithic 21 MiB POST ?digest= answers 201" 201 "$st"
expect_eq "... and reads back" "${md#sha256:}" "$(curl -sL "$URL/v2/s3/mono/blobs/$md" | sha256sum | cut -d' ' -f1)"
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -X POST --data-binary 'not these bytes' \
    "$URL/v2/s3/mono/blobs/uploads/?digest=sha256:$(rand_hex 32)")
expect_eq "a monolithic POST with the wrong digest answers 400" 400 "$st"

"$BERTH_BIN" doctor --data "$DATA" --store "$STORE" >"$WORK/doctor.out" 2>&1
expect_eq "doctor passes" 0 "$?"
check "... with a blob store line naming the bucket" grep -q "^OK      blob store       s3://$BUCKET/reg can be written and read$" "$WORK/doctor.out"
berth_stop

# redirect=0: the registry sends the bytes itself, through ranged GETs
berth_start --store "$STORE&redirect=0"
req GET "/v2/s3/big/blobs/$bd"
expect_status 200 "with redirect=0 a GET of the blob answers 200"
expect_body_digest "$bd" "... with the blob's bytes"
berth_stop

"$BERTH_BIN" gc --grace 0 --data "$DATA" --store "$STORE" >"$WORK/gc.out" 2>&1
expect_eq "gc runs over the bucket" 0 "$?"
check "... and deletes the two blobs no manifest references" grep -q ", 2 blobs, " "$WORK/gc.out"
berth_start --store "$STORE"
req GET "/v2/s3/big/blobs/$bd"
expect_status 404 "the deleted blob is gone"
if [ -d "$WORK/src" ]; then
    req GET "/v2/s3/img/manifests/v1" -H "$ACCEPT_MANIFESTS"
    expect_status 200 "the image is kept"
fi
finish
