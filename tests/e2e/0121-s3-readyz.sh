#!/usr/bin/env bash
# /readyz and berth doctor watch the bucket: a server on an S3 gateway of this test's own is ready
# while the gateway answers; when the gateway goes away /readyz says 503 with blobstore
# STORE_UNREACHABLE (the load balancer stops sending it requests), and doctor names the store and
# the fix. SKIP without Ceph's daemons (scripts/deps.sh test installs them) or without root.
. "$(dirname "$0")/lib.sh"

work_init
if [ "$(id -u)" != 0 ] || ! command -v radosgw >/dev/null 2>&1; then
    skip "needs root and Ceph's radosgw to start a gateway of its own (scripts/rgw.sh)"
    finish
fi
RGW=$WORK/rgw
mkdir -p "$RGW"
sh "$REPO/scripts/rgw.sh" start "$RGW" >"$WORK/rgw.out" 2>&1 || bail "start an S3 gateway" "$(tail -3 "$WORK/rgw.out")"
# stopped at the end whatever happens
trap 'sh "$REPO/scripts/rgw.sh" stop "$RGW" >/dev/null 2>&1; cleanup' EXIT
set -a
. "$RGW/env"
set +a
STORE="s3://ready-$(rand_hex 4)?endpoint=$BERTH_TEST_S3_ENDPOINT&region=$BERTH_TEST_S3_REGION"

berth_start --store "$STORE"
req GET /readyz
expect_status 200 "/readyz is 200 while the bucket answers"
expect_eq "its blobstore check says ok" ok "$(jq -r .checks.blobstore "$BODY")"
"$BERTH_BIN" doctor --data "$DATA" --store "$STORE" >"$WORK/doctor.out" 2>&1
check "doctor finds the bucket writable" grep -q '^OK *blob store' "$WORK/doctor.out"

sh "$REPO/scripts/rgw.sh" stop "$RGW" >/dev/null 2>&1
HDR_CHECK=0 # /readyz answers its own JSON, not an OCI error
req GET /readyz
expect_status 503 "/readyz is 503 once the gateway is gone"
expect_eq "naming the blob store" STORE_UNREACHABLE "$(jq -r .checks.blobstore "$BODY")"
check "the reason goes to the server log" grep -q 'readyz: blob store.*STORE_UNREACHABLE' "$SRV_LOG"
"$BERTH_BIN" doctor --data "$DATA" --store "$STORE" >"$WORK/doctor.out" 2>&1
expect_eq "doctor exits 1" 1 "$?"
check "doctor says STORE_UNREACHABLE and how to check the endpoint" \
    bash -c "grep -q 'STORE_UNREACHABLE' '$WORK/doctor.out' && grep -q 'curl -sI' '$WORK/doctor.out'"
HDR_CHECK=1
req GET /v2/
expect_status 200 "the server itself keeps answering"

finish
