#!/usr/bin/env bash
# berth gc running in a loop while clients push, re-push and mount blobs:
# every blob a push or mount was acknowledged for, and that a kept manifest
# references, is still there afterwards (docs/internals/store.md, "gc and
# pushes"). Also: upload sessions whose bytes are gone are forgotten by gc
# and at start.
. "$(dirname "$0")/lib.sh"

SOAK_SECONDS=${GC_SOAK_SECONDS:-30}
berth_start

# ---- gc in a loop against pushers and mounters
gc_soak "$SOAK_SECONDS" 0
deleted=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "blobs,") s += $i} END {print s + 0}' "$WORK/gc.log")
echo "# gc ran $GC_RUNS times and deleted $deleted blobs; clients: $(cat "$WORK/soak.json")"
check "gc ran in a loop during the soak (at least 5 runs)" test "$GC_RUNS" -ge 5
check "gc found blobs to delete during the soak" test "$deleted" -gt 0
gc_soak_verdict
expect_alive

# ---- upload sessions whose bytes are gone
upload_start gone/a || bail "start an upload"
U1=$(loc_path "$UPLOAD_URL")
upload_start gone/b || bail "start a second upload"
U2=$(loc_path "$UPLOAD_URL")
store_drop_upload "${U1##*/}"
"$BERTH_BIN" gc --data "$DATA" --no-progress >"$WORK/gc1.out" 2>&1
check "gc runs" grep -q '^gc: ' "$WORK/gc1.out"
req GET "$U1"
expect_status 404 "gc forgot the session whose file was removed"
req GET "$U2"
expect_status 204 "gc kept the live session"
check "gc counted the forgotten session" grep -q ' 1 uploads' "$WORK/gc1.out"

berth_stop
store_drop_upload "${U2##*/}"
berth_start
check "start-up says it forgot the session" grep -q 'upload sessions without bytes' "$SRV_LOG"
req GET "$U2"
expect_status 404 "a session whose file went away while stopped is gone after start"

# ---- open upload sessions are capped per client and repository
berth_stop
berth_start --upload-sessions-max 3
for i in 1 2 3; do
    upload_start capped/app || fail "open session $i of 3"
    [ "$i" = 1 ] && FIRST=$UPLOAD_URL
done
req POST /v2/capped/app/blobs/uploads/
expect_error 429 TOOMANYREQUESTS "a fourth open session on one repository is refused"
expect_match "the refusal says how many are open and what to do" "3 upload sessions are open on 'capped/app'.*finish or cancel" "$(jq -r '.errors[0].message' "$BODY")"
upload_start capped/other
expect_status 202 "another repository has its own count"
rand_file "$WORK/small" 100
req POST "/v2/capped/app/blobs/uploads/?digest=$(digest_of "$WORK/small")" --data-binary "@$WORK/small"
expect_status 201 "a monolithic push opens no session and is not capped"
req DELETE "$FIRST"
expect_status 204 "cancel one session"
upload_start capped/app
expect_status 202 "a cancelled session frees its place"
finish
