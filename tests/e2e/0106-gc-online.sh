#!/usr/bin/env bash
# gc inside the servers (gc-interval): every server's own gc thread works the
# review queue (two servers in the pair pass, taking entries with FOR UPDATE
# SKIP LOCKED on PostgreSQL) with a `berth gc` loop beside them, while clients
# push, delete and mount. Nothing a kept manifest references is ever missing,
# and what becomes garbage is collected by the servers alone: a dry run
# afterwards finds nothing left (docs/internals/meta.md, "Garbage collection").
. "$(dirname "$0")/lib.sh"

SOAK_SECONDS=${GC_SOAK_SECONDS:-20}
# ---- what a tag's removal leaves is collected without anyone running gc
# The images are pushed before the servers' gc runs: with a grace of 0 a pass takes a pushed layer
# whose manifest has not arrived yet, and on a loaded machine a push can lose that race every time.
berth_start
push_image online/app v1 || bail "push an image"
KEEP_CFG=$IMG_CONFIG
KEEP_LAYER=${IMG_LAYERS[0]}
push_image online/app v2 || bail "push a second image"
GONE_MANIFEST=$IMG_DIGEST
GONE_LAYER=${IMG_LAYERS[0]}
berth_stop
berth_start --gc-interval 1 --gc-grace 0
req DELETE /v2/online/app/manifests/v2
expect_status 202 "delete the tag v2"
gone=0
for i in $(seq 50); do
    req HEAD "/v2/online/app/blobs/$GONE_LAYER"
    if [ "$STATUS" = 404 ]; then
        gone=1
        break
    fi
    sleep 0.2
done
check "the untagged image's layer is collected by the servers' own gc (within 10 s)" test "$gone" = 1
req HEAD "/v2/online/app/manifests/$GONE_MANIFEST"
expect_status 404 "the untagged manifest went with it"
req HEAD "/v2/online/app/manifests/v1"
expect_status 200 "the tagged image stays"
req HEAD "/v2/online/app/blobs/$KEEP_LAYER"
expect_status 200 "the tagged image's layer stays"
req HEAD "/v2/online/app/blobs/$KEEP_CFG"
expect_status 200 "the tagged image's config stays"
check "a pass that deleted something says what in the log" \
    grep -qE 'msg="gc pass" manifests=[1-9][0-9]* links=[0-9]+ blobs=[1-9]' "$SRV_LOG"

# ---- the soak: pushers, mounters and deleters against every server's gc and a `berth gc` loop
gc_soak "$SOAK_SECONDS" 0.5
passes=$(grep -c 'msg="gc pass" ' "$SRV_LOG")
echo "# $passes server gc passes deleted something, $GC_RUNS berth gc runs beside them; clients: $(cat "$WORK/soak.json")"
check "the servers' gc passes deleted things during the soak ($passes passes)" test "$passes" -ge 3
check "no server gc pass failed" sh -c "! grep -q 'gc pass failed' '$SRV_LOG'"
gc_soak_verdict

# ---- once the clients stop, the servers' gc leaves nothing for a full run to find
left=
for i in $(seq 20); do
    sleep 0.5
    "$BERTH_BIN" gc --data "$DATA" --grace 0 --dry-run --no-progress >"$WORK/dry.out" 2>&1 || break
    left=$(grep -oE '[0-9]+ manifests, [0-9]+ repository links, [0-9]+ blobs' "$WORK/dry.out")
    [ "$left" = "0 manifests, 0 repository links, 0 blobs" ] && break
done
expect_eq "a dry run after the soak finds nothing the servers left (within 10 s)" \
    "0 manifests, 0 repository links, 0 blobs" "$left"
expect_alive
finish
