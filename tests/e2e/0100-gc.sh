#!/usr/bin/env bash
# berth gc: unreferenced blobs and untagged manifests go, shared and
# referenced content stays, the grace period protects recent blobs.
. "$(dirname "$0")/lib.sh"

berth_start
R=gc/app

rand_file "$WORK/shared" 4000
rand_file "$WORK/u1" 4001
rand_file "$WORK/u2" 4002
rand_file "$WORK/u4" 4004
rand_file "$WORK/orphan" 4005
D_shared=$(digest_of "$WORK/shared")
D_u1=$(digest_of "$WORK/u1")
D_u2=$(digest_of "$WORK/u2")
D_u4=$(digest_of "$WORK/u4")
D_orphan=$(digest_of "$WORK/orphan")

push_image "$R" t1 "$WORK/shared" "$WORK/u1" || bail "push image t1"
M1=$IMG_DIGEST
C1=$IMG_CONFIG
push_image "$R" t2 "$WORK/shared" "$WORK/u2" || bail "push image t2"
M2=$IMG_DIGEST
C2=$IMG_CONFIG
cp "$IMG_MANIFEST" "$WORK/m2.json"

# An untagged manifest that nothing references.
push_image "$R" t3 "$WORK/shared" || bail "push image t3"
M3=$IMG_DIGEST
C3=$IMG_CONFIG
req DELETE "/v2/$R/manifests/t3"
expect_status 202 "untag t3"

# An untagged child of a tagged index.
push_image "$R" child "$WORK/u4" || bail "push image child"
M4=$IMG_DIGEST
M4_SIZE=$(file_size "$IMG_MANIFEST")
req DELETE "/v2/$R/manifests/child"
expect_status 202 "untag the index child"
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%s}]}' \
    "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$M4" "$M4_SIZE" >"$WORK/index.json"
push_manifest "$R" idx "$WORK/index.json" "$MT_OCI_INDEX" || bail "push index"
MI=$MANIFEST_DIGEST

push_blob "$R" "$WORK/orphan" || bail "push orphan blob"

# The same layer u1 is also used by an image in another repository.
push_image gc/other keep "$WORK/u1" || bail "push an image using u1 to gc/other"
MO=$IMG_DIGEST

# An upload session in progress.
rand_file "$WORK/partial" 5000
upload_start "$R" || bail "start an upload"
UPATH=$(loc_path "$UPLOAD_URL")
req PATCH "$UPLOAD_URL" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-4999' --data-binary "@$WORK/partial"
expect_status 202 "PATCH the upload in progress"
has_hdr Location && UPATH=$(loc_path "$(hdr Location)")

# Drop image t1 entirely.
req DELETE "/v2/$R/manifests/$M1"
expect_status 202 "delete manifest t1 by digest"
req HEAD "/v2/$R/blobs/$D_u1"
expect_status 200 "u1 is still there before gc"

# blob_file DIGEST: files under the blob store named after DIGEST's hex.
blob_file() {
    find "$DATA/blobs" -type f -path "*${1#*:}*" 2>/dev/null
}
on_disk=0
[ -n "$(blob_file "$D_shared")" ] && on_disk=1

run_gc() {
    "$BERTH_BIN" gc --data "$DATA" "$@" >"$WORK/gc.out" 2>&1
}

# ---- the grace period protects the fresh blobs
berth_stop
if run_gc --grace 60; then
    ok "berth gc --grace 60 exits 0"
else
    fail "berth gc --grace 60 exits 0" "$(tail -n 5 "$WORK/gc.out")"
fi
check "berth gc says what the grace period held back and when it is due" \
    grep -Eq '^gc: the 60-minute grace period holds back .*what is queued for review: .*[0-9]+ repository links?.*, the first due at [0-9-]+T[0-9:]+Z' \
    "$WORK/gc.out"
berth_start
req HEAD "/v2/$R/blobs/$D_u1"
expect_status 200 "gc --grace 60 keeps a fresh unreferenced layer"
req HEAD "/v2/$R/blobs/$D_orphan"
expect_status 200 "gc --grace 60 keeps a fresh orphan blob"

# ---- collect now, server stopped
berth_stop
run_gc --grace 0 --dry-run
dry=$(sed -n 's/.* would be freed (\([0-9]*\) bytes;.*/\1/p' "$WORK/gc.out")
dry_counts=$(sed -n 's/^gc (dry run): \([^;]*\);.*/\1/p' "$WORK/gc.out")
dry_note=$(grep -c 'blobs that only these manifests and links hold are freed by the real run, not counted here' "$WORK/gc.out")
check "the dry run leaves no copy of the database behind" bash -c "! ls '$DATA' | grep -q gc-dry-run"
if run_gc --grace 0; then
    ok "berth gc --grace 0 exits 0"
else
    fail "berth gc --grace 0 exits 0" "$(tail -n 5 "$WORK/gc.out")"
fi
check "berth gc prints what it freed, in human units and in bytes" \
    grep -Eq '; [0-9.]+ (B|KiB|MiB) freed \([0-9]+ bytes; [0-9]+ blobs checked\)$' "$WORK/gc.out"
check "with no grace, nothing is held back" grep -q '^gc: the grace period holds back nothing' "$WORK/gc.out"
if [ -n "${E2E_META:-}" ]; then # PostgreSQL: the dry run decides each step without committing it
    expect_eq "on PostgreSQL the dry run says it does not count blobs held only by what it would delete" 1 "$dry_note"
else
    expect_eq "the dry run counted the bytes the real run freed, blobs held only by deleted manifests and links too" \
        "$(sed -n 's/.* freed (\([0-9]*\) bytes;.*/\1/p' "$WORK/gc.out")" "$dry"
    expect_eq "and the same manifests, links, blobs and uploads" \
        "$(grep ' freed (' "$WORK/gc.out" | sed -n 's/^gc: \([^;]*\);.*/\1/p' | sed 's/, [0-9]* temp files//')" \
        "$(printf '%s' "$dry_counts" | sed 's/, [0-9]* temp files//')"
fi
echo "# gc said: $(head -c 600 "$WORK/gc.out" | tr '\n' ' ')"
berth_start

for x in u1:"$D_u1" config1:"$C1" orphan:"$D_orphan" config3:"$C3"; do
    req HEAD "/v2/$R/blobs/${x#*:}"
    expect_status 404 "gc removed ${x%%:*} (HEAD is 404)"
done
req GET "/v2/$R/blobs/$D_u1"
expect_error 404 BLOB_UNKNOWN "GET of a collected layer is 404 BLOB_UNKNOWN"
req GET "/v2/$R/manifests/$M3" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "gc removed the untagged manifest"
req GET "/v2/$R/manifests/$M1" -H "$ACCEPT_MANIFESTS"
expect_error 404 MANIFEST_UNKNOWN "the deleted manifest stays deleted"

req GET "/v2/gc/other/blobs/$D_u1"
expect_status 200 "gc kept u1 for gc/other, which still uses it"
expect_body_digest "$D_u1" "u1 in gc/other still has its content"
req GET "/v2/gc/other/manifests/keep" -H "$ACCEPT_MANIFESTS"
expect_header Docker-Content-Digest "$MO" "gc kept the image in gc/other"
req GET "$URL$UPATH"
expect_status 204 "gc kept the upload session in progress"
expect_header Range 0-4999 "the upload in progress kept its bytes"
rand_file "$WORK/partial2" 100
cat "$WORK/partial" "$WORK/partial2" >"$WORK/partial-all"
req PUT "$(add_query "$URL$UPATH" "digest=$(digest_of "$WORK/partial-all")")" \
    -H 'Content-Type: application/octet-stream' -H 'Content-Range: 5000-5099' --data-binary "@$WORK/partial2"
expect_status 201 "the upload in progress completes after gc"

for x in shared:"$D_shared" u2:"$D_u2" config2:"$C2" u4:"$D_u4"; do
    req GET "/v2/$R/blobs/${x#*:}"
    expect_status 200 "gc kept ${x%%:*}"
    expect_body_digest "${x#*:}" "${x%%:*} still has its content"
done
req GET "/v2/$R/manifests/t2" -H "$ACCEPT_MANIFESTS"
expect_status 200 "gc kept tag t2"
check "t2 still returns its manifest bytes" cmp -s "$BODY" "$WORK/m2.json"
req GET "/v2/$R/manifests/$M4" -H "$ACCEPT_MANIFESTS"
expect_status 200 "gc kept the untagged child of a tagged index"
req GET "/v2/$R/manifests/idx" -H "$ACCEPT_MANIFESTS"
expect_header Docker-Content-Digest "$MI" "gc kept the index"

if [ "$on_disk" = 1 ]; then
    expect_eq "config1's file is gone from the blob store" "" "$(blob_file "$C1")"
    check "u1's file, still used by gc/other, is in the blob store" test -n "$(blob_file "$D_u1")"
    expect_eq "the orphan's file is gone from the blob store" "" "$(blob_file "$D_orphan")"
    check "the shared layer's file is still in the blob store" test -n "$(blob_file "$D_shared")"
else
    skip "blob files are not named by digest; on-disk checks not possible"
fi

# A collected blob can be pushed again.
push_blob "$R" "$WORK/u1" || fail "push u1 again after gc"
req GET "/v2/$R/blobs/$D_u1"
expect_body_digest "$D_u1" "a collected blob pushed again reads back"

# ---- collect with the server running
rand_file "$WORK/orphan2" 3333
push_blob "$R" "$WORK/orphan2" || fail "push a second orphan"
D_orphan2=$BLOB_DIGEST
sleep 1.1
if run_gc --grace 0; then
    ok "berth gc --grace 0 with the server running exits 0"
else
    fail "berth gc --grace 0 with the server running exits 0" "$(tail -n 5 "$WORK/gc.out")"
fi
echo "# live gc said: $(head -c 300 "$WORK/gc.out" | tr '\n' ' ')"
req HEAD "/v2/$R/blobs/$D_orphan2"
expect_status 404 "gc with the server running removed the new orphan"
req GET "/v2/$R/manifests/t2" -H "$ACCEPT_MANIFESTS"
expect_status 200 "gc with the server running kept t2"
req GET "/v2/$R/blobs/$D_shared"
expect_body_digest "$D_shared" "gc with the server running kept the shared layer"
push_image "$R" after "$WORK/shared" || fail "push an image after the live gc"
req GET "/v2/$R/manifests/after" -H "$ACCEPT_MANIFESTS"
expect_status 200 "the server works after a live gc"

# ---- a large store: progress on stderr, phase by phase
berth_stop
if ! store_is_fs; then
    skip "20,000 orphan blob files are written into the data folder; the blobs are in a bucket here"
    finish
fi
python3 - "$DATA" <<'PY'
import hashlib, os, sys
root = os.path.join(sys.argv[1], "blobs", "sha256")
old = 1700000000
for i in range(20000):
    data = b"gc-progress-%d" % i
    h = hashlib.sha256(data).hexdigest()
    d = os.path.join(root, h[:2])
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, h)
    with open(p, "wb") as f:
        f.write(data)
    os.utime(p, (old, old))
PY
"$BERTH_BIN" gc --data "$DATA" --grace 0 --progress >"$WORK/gc.out" 2>"$WORK/gc.err"
expect_eq "gc over 20,000 orphan blobs exits 0" 0 $?
check "it reports the blob phase's progress on stderr" grep -Eq '^gc: blobs: [0-9]{5,} checked, [0-9]{5,} deleted, [0-9.]+ (KiB|MiB)' "$WORK/gc.err"
check "and each phase" bash -c "grep -q '^gc: manifests:' '$WORK/gc.err' && grep -q '^gc: uploads:' '$WORK/gc.err'"
check "the summary stays on stdout" grep -q 'blobs checked' "$WORK/gc.out"
check "the orphans are gone" bash -c "[ \$(find '$DATA/blobs' -type f | wc -l) -lt 100 ]"
"$BERTH_BIN" gc --data "$DATA" --grace 0 >"$WORK/gc.out" 2>"$WORK/gc.err"
check "without a terminal and without --progress nothing is reported on stderr" test ! -s "$WORK/gc.err"

# ---- a repository deleted a moment ago: its blobs wait out the grace, and gc says how much they hold
berth_start
push_image gc/held v1 "$WORK/held-1" "$WORK/held-2" >/dev/null 2>&1 ||
    { rand_file "$WORK/held-1" 3000 && rand_file "$WORK/held-2" 5000 && push_image gc/held v1 "$WORK/held-1" "$WORK/held-2" >/dev/null; }
req DELETE "/acr/v1/gc/held"
expect_status 202 "the repository is deleted"
run_gc --grace 60
expect_match "gc names the blobs the grace holds back and their size" \
    '^gc: the 60-minute grace period holds back [0-9]+ blobs nothing references \([0-9.]+ KiB\); queued for review: [0-9]+ blobs, the first due at ' \
    "$(grep '^gc: the' "$WORK/gc.out")"
finish
