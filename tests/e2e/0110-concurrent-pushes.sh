#!/usr/bin/env bash
# Concurrent clients: the same blob, manifest and tag pushed in parallel, new
# repositories created at once, parallel reads, and stalled connections.
. "$(dirname "$0")/lib.sh"

berth_start
N=8

# pcurl OUT curl-args...: one request in the background; OUT.code gets the
# status, OUT.body the body.
pcurl() {
    local out=$1
    shift
    curl -s --path-as-is -m 120 -H 'Expect:' -o "$out.body" -w '%{http_code}' "$@" >"$out.code" 2>/dev/null
}

# codes PREFIX: the sorted, de-duplicated status codes of PREFIX*.code.
codes() {
    local f
    for f in "$1"*.code; do
        printf '%s\n' "$(cat "$f")"
    done | sort | uniq -c | awk '{printf "%s%sx%s", sep, $2, $1; sep=" "}'
}

# jobs_wait: wait for the background jobs started since the last call (a bare
# `wait` would also wait for the server).
JOBS=()
jobs_wait() {
    local j
    for j in "${JOBS[@]}"; do
        wait "$j"
    done
    JOBS=()
}

mkdir -p "$WORK/p"

# ---- the same blob pushed monolithically N times at once
rand_file "$WORK/same" $((2 * 1024 * 1024))
d=$(digest_of "$WORK/same")
for i in $(seq "$N"); do
    pcurl "$WORK/p/mono$i" -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary "@$WORK/same" "$URL/v2/cc/one/blobs/uploads/?digest=$d" &
        JOBS+=($!)
done
jobs_wait
expect_eq "$N parallel monolithic pushes of one blob all answer 201" "201x$N" "$(codes "$WORK/p/mono")"
req GET "/v2/cc/one/blobs/$d"
expect_body_digest "$d" "the blob pushed in parallel reads back"

# ---- the same blob through POST+PATCH+PUT into N repositories at once
rand_file "$WORK/same2" $((3 * 1024 * 1024 + 17))
d2=$(digest_of "$WORK/same2")
chunked_push() {
    local repo=$1 out=$2 loc
    loc=$(curl -s -o /dev/null -D - -X POST "$URL/v2/$repo/blobs/uploads/" | tr -d '\r' |
        sed -n 's/^[Ll]ocation: *//p')
    [ -n "$loc" ] || { echo 000 >"$out.code"; return; }
    loc=$(abs_url "$loc")
    curl -s -o /dev/null -D "$out.hdr" -X PATCH -H 'Content-Type: application/octet-stream' \
        --data-binary "@$WORK/same2" "$loc"
    loc=$(tr -d '\r' <"$out.hdr" | sed -n 's/^[Ll]ocation: *//p' | tail -1)
    [ -n "$loc" ] || { echo 000 >"$out.code"; return; }
    pcurl "$out" -X PUT -H 'Content-Length: 0' "$(add_query "$(abs_url "$loc")" "digest=$d2")"
}
for i in $(seq "$N"); do
    chunked_push "cc/r$i" "$WORK/p/chunk$i" &
    JOBS+=($!)
done
jobs_wait
expect_eq "$N parallel chunked pushes of one blob into $N repositories all answer 201" "201x$N" \
    "$(codes "$WORK/p/chunk")"
bad=0
for i in $(seq "$N"); do
    req GET "/v2/cc/r$i/blobs/$d2"
    [ "$(digest_of "$BODY")" = "$d2" ] || bad=$((bad + 1))
done
expect_eq "each repository reads the blob back" 0 "$bad"

# ---- manifests: one manifest under N tags, N manifests under one tag
push_image cc/app base || bail "push an image to cc/app"
for i in $(seq "$N"); do
    pcurl "$WORK/p/tag$i" -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
        --data-binary "@$IMG_MANIFEST" "$URL/v2/cc/app/manifests/t$i" &
        JOBS+=($!)
done
jobs_wait
expect_eq "$N parallel PUTs of one manifest under $N tags all answer 201" "201x$N" "$(codes "$WORK/p/tag")"
req GET /v2/cc/app/tags/list
expect_eq "tags/list has every tag pushed in parallel" $((N + 1)) "$(jq '.tags | length' "$BODY")"

cfg=$(jq -c .config "$IMG_MANIFEST")
layers=$(jq -c .layers "$IMG_MANIFEST")
for i in $(seq "$N"); do
    printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":%s,"annotations":{"n":"%s"}}' \
        "$MT_OCI_MANIFEST" "$cfg" "$layers" "$i" >"$WORK/m$i.json"
done
for i in $(seq "$N"); do
    pcurl "$WORK/p/same$i" -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
        --data-binary "@$WORK/m$i.json" "$URL/v2/cc/app/manifests/contended" &
        JOBS+=($!)
done
jobs_wait
expect_eq "$N parallel PUTs of different manifests under one tag all answer 201" "201x$N" \
    "$(codes "$WORK/p/same")"
req GET /v2/cc/app/manifests/contended -H "$ACCEPT_MANIFESTS"
got=$(digest_of "$BODY")
found=0
for i in $(seq "$N"); do
    [ "$(digest_of "$WORK/m$i.json")" = "$got" ] && found=1
done
expect_eq "the contended tag points at one of the manifests pushed" 1 "$found"
expect_header Docker-Content-Digest "$got" "the contended tag's digest header matches its body"
bad=0
for i in $(seq "$N"); do
    req GET "/v2/cc/app/manifests/$(digest_of "$WORK/m$i.json")" -H "$ACCEPT_MANIFESTS"
    [ "$STATUS" = 200 ] || bad=$((bad + 1))
done
expect_eq "every manifest pushed under the contended tag is stored by digest" 0 "$bad"

# ---- N new repositories at once
for i in $(seq "$N"); do
    (
        rand_file "$WORK/new$i" 1000
        pcurl "$WORK/p/newb$i" -X POST -H 'Content-Type: application/octet-stream' \
            --data-binary "@$WORK/new$i" "$URL/v2/cc/new$i/blobs/uploads/?digest=$(digest_of "$WORK/new$i")"
        pcurl "$WORK/p/newm$i" -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
            --data-binary "@$IMG_MANIFEST" "$URL/v2/cc/new$i/manifests/latest"
    ) &
    JOBS+=($!)
done
jobs_wait
expect_eq "$N blobs pushed into $N new repositories at once answer 201" "201x$N" "$(codes "$WORK/p/newb")"
# The image's blobs live in cc/app, so these manifests are refused, but the
# refusal must be the same for all and not an internal error.
expect_eq "manifests referring to blobs of another repository are refused alike" "400x$N" \
    "$(codes "$WORK/p/newm")"
req GET /v2/_catalog
expect_eq "the catalog lists every new repository" "$N" \
    "$(jq '[.repositories[] | select(startswith("cc/new"))] | length' "$BODY")"

# ---- parallel reads
rand_file "$WORK/big" $((5 * 1024 * 1024))
push_blob cc/read "$WORK/big" || fail "push a 5 MiB blob"
db=$BLOB_DIGEST
for i in $(seq 32); do
    pcurl "$WORK/p/read$i" "$URL/v2/cc/read/blobs/$db" &
    JOBS+=($!)
done
jobs_wait
expect_eq "32 parallel GETs of a blob answer 200" "200x32" "$(codes "$WORK/p/read")"
bad=0
for i in $(seq 32); do
    [ "$(digest_of "$WORK/p/read$i.body")" = "$db" ] || bad=$((bad + 1))
done
expect_eq "32 parallel GETs return the right bytes" 0 "$bad"

# ---- stalled clients do not block others
python3 - "$HOSTPORT" >"$WORK/stall.out" 2>&1 <<'EOF' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
socks = []
for i in range(64):
    try:
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(s)
    except OSError as e:
        print("connect failed:", e)
        break
print(len(socks), "stalled", flush=True)
time.sleep(8)
for s in socks:
    s.close()
EOF
staller=$!
EXTRA_PIDS+=("$staller")
sleep 1
start=$(date +%s%N)
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$URL/v2/")
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "GET /v2/ answers while 64 connections stall in their headers (took ${ms} ms)" 200 "$code"
req PUT "/v2/cc/app/manifests/during-stall" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "@$IMG_MANIFEST"
expect_status 201 "a manifest push works while connections stall"
wait "$staller" 2>/dev/null
expect_alive "server alive after the stalled connections close"

finish
