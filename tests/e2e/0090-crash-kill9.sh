#!/usr/bin/env bash
# Crash safety: kill -9 the server during a large chunked upload, restart on
# the same data dir, check the earlier image, resume or lose the upload
# cleanly, and leave no temp files behind after gc.
. "$(dirname "$0")/lib.sh"

berth_start

# ---- an image pushed before the crash
SRC=$WORK/src
make_oci_layout "$SRC" 3 || bail "build the OCI layout"
src_manifest=$(layout_manifest "$SRC")
mdigest=$(digest_of "$src_manifest")
layers=$(jq -c '[.layers[].digest]' "$src_manifest")

# push_layout REPO TAG: push the layout with skopeo, or with curl without it.
push_layout() {
    local d f
    if [ "$HAVE_SKOPEO" = 1 ]; then
        sk copy --dest-tls-verify=false "oci:$SRC:latest" "docker://$HOSTPORT/$1:$2"
        return
    fi
    for d in $(jq -r '.config.digest, .layers[].digest' "$src_manifest"); do
        push_blob "$1" "$SRC/blobs/sha256/${d#sha256:}" || return 1
    done
    push_manifest "$1" "$2" "$src_manifest" "$MT_OCI_MANIFEST"
}

# image_intact DESC: the image pulls back with identical digests.
image_intact() {
    local desc=$1 bad=0 d
    req GET "/v2/test/img/manifests/v1" -H "$ACCEPT_MANIFESTS"
    if [ "$STATUS" != 200 ] || ! cmp -s "$BODY" "$src_manifest"; then
        fail "$desc: manifest" "expected the original manifest $mdigest" "got $STATUS, $(digest_of "$BODY")"
        return
    fi
    for d in $(jq -r '.config.digest, .layers[].digest' "$src_manifest"); do
        req GET "/v2/test/img/blobs/$d"
        [ "$STATUS" = 200 ] && [ "$(digest_of "$BODY")" = "$d" ] || bad=$((bad + 1))
    done
    expect_eq "$desc: config and layers read back with their digests" 0 "$bad"
    if [ "$HAVE_SKOPEO" = 1 ]; then
        rm -rf "$WORK/pulled"
        if sk copy --src-tls-verify=false "docker://$HOSTPORT/test/img:v1" "oci:$WORK/pulled:v1"; then
            local m
            m=$(layout_manifest "$WORK/pulled")
            if [ "$(digest_of "$m")" = "$mdigest" ] && [ "$(jq -c '[.layers[].digest]' "$m")" = "$layers" ]; then
                ok "$desc: skopeo pulls identical digests"
            else
                fail "$desc: skopeo pulls identical digests" "expected $mdigest $layers" \
                    "got $(digest_of "$m") $(jq -c '[.layers[].digest]' "$m")"
            fi
        else
            fail "$desc: skopeo pulls the image" "$(tail -c 400 "$WORK/skopeo.out")"
        fi
    fi
}

if push_layout test/img v1; then
    ok "push the image before the crash"
else
    bail "push the image before the crash" "$(tail -c 400 "$WORK/skopeo.out" 2>/dev/null)"
fi

# ---- a large chunked upload, killed in the middle
CH=$((4 * 1024 * 1024))
NCH=50
rand_file "$WORK/big" $((CH * NCH))
bigdigest=$(digest_of "$WORK/big")
mkdir -p "$WORK/chunks"
split -b "$CH" -d -a 3 "$WORK/big" "$WORK/chunks/c"
upload_start test/big || bail "start the large upload"
bigurl=$UPLOAD_URL
bigpath=$(loc_path "$bigurl")
: >"$WORK/progress"
echo "$bigpath" >"$WORK/lastpath"
(
    i=0
    url=$bigurl
    for c in "$WORK"/chunks/c*; do
        s=$((i * CH))
        code=$(curl -s -o /dev/null -D "$WORK/push.hdr" -w '%{http_code}' -m 60 -X PATCH -H 'Expect:' \
            -H 'Content-Type: application/octet-stream' -H "Content-Range: $s-$((s + CH - 1))" \
            --data-binary "@$c" "$url")
        [ "$code" = 202 ] || exit 0
        loc=$(tr -d '\r' <"$WORK/push.hdr" | sed -n 's/^[Ll]ocation: *//p' | tail -1)
        if [ -n "$loc" ]; then
            url=$(abs_url "$loc")
            loc_path "$loc" >"$WORK/lastpath"
        fi
        i=$((i + 1))
        echo "$i" >>"$WORK/progress"
    done
) &
pusher=$!
EXTRA_PIDS+=("$pusher")

for _ in $(seq 3000); do
    n=$(wc -l <"$WORK/progress")
    [ "$n" -ge 10 ] && break
    kill -0 "$pusher" 2>/dev/null || break
    sleep 0.02
done
acked=$(wc -l <"$WORK/progress")
if [ "$acked" -ge 10 ] && [ "$acked" -lt "$NCH" ]; then
    ok "the large upload is in progress ($acked of $NCH chunks) when the server is killed"
else
    fail "the large upload is in progress when the server is killed" "acknowledged chunks: $acked of $NCH"
fi
berth_kill9
wait "$pusher" 2>/dev/null
acked=$(wc -l <"$WORK/progress")
tmps_after_crash=$(find "$DATA" -name '*.tmp*' | wc -l)
echo "# after kill -9: $acked chunks acknowledged, $tmps_after_crash temp files in the data dir"

# ---- restart on the same data dir
berth_start
ok "the server restarts on the data dir of the killed server"
image_intact "after kill -9"

bigpath=$(cat "$WORK/lastpath")
req GET "$URL$bigpath"
if [ "$STATUS" = 204 ]; then
    ok "the interrupted upload answers 204 after restart"
    r=$(hdr Range) || r=""
    if [[ $r =~ ^0-([0-9]+)$ ]]; then
        have=$((BASH_REMATCH[1] + 1))
    elif [ -z "$r" ] || [ "$r" = "0-0" ]; then
        have=0
    else
        have=-1
    fi
    if [ "$have" -ge 0 ] && [ "$have" -le $((CH * NCH)) ]; then
        ok "the interrupted upload's Range is $r ($have bytes; $((acked * CH)) acknowledged)"
    else
        fail "the interrupted upload has a usable Range" "got Range: $r"
    fi
    if [ "$have" -ge 0 ]; then
        tail -c "+$((have + 1))" "$WORK/big" >"$WORK/rest"
        req PATCH "$URL$bigpath" -H 'Content-Type: application/octet-stream' \
            -H "Content-Range: $have-$((CH * NCH - 1))" --data-binary "@$WORK/rest"
        expect_status 202 "resume the interrupted upload from byte $have"
        expect_header Range "0-$((CH * NCH - 1))" "the resumed upload covers the whole blob"
        req PUT "$(add_query "$URL$bigpath" "digest=$bigdigest")" -H 'Content-Length: 0'
        expect_status 201 "the resumed upload completes with the right digest"
        req HEAD "/v2/test/big/blobs/$bigdigest"
        expect_status 200 "the resumed blob exists"
        expect_header Content-Length $((CH * NCH)) "the resumed blob has the full size"
        REQ_TIMEOUT=300 req GET "/v2/test/big/blobs/$bigdigest"
        expect_body_digest "$bigdigest" "the resumed blob has the right content"
    fi
elif [ "$STATUS" = 404 ]; then
    expect_error 404 BLOB_UPLOAD_UNKNOWN "the interrupted upload is gone after restart (404 BLOB_UPLOAD_UNKNOWN)"
    req HEAD "/v2/test/big/blobs/$bigdigest"
    expect_status 404 "no blob appeared from the interrupted upload"
else
    fail "the interrupted upload answers 204 with a Range or 404 BLOB_UPLOAD_UNKNOWN" "got $STATUS"
fi

# A monolithic upload killed in the middle, too.
{
    printf 'POST /v2/test/mono/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: %s\r\n' "$bigdigest" "$HOSTPORT"
    printf 'Content-Type: application/octet-stream\r\nContent-Length: %s\r\n\r\n' $((CH * NCH))
    head -c $((CH * 10)) "$WORK/big"
} >"$WORK/mono.req"
raw_send "$HOSTPORT" "$WORK/mono.req" read >/dev/null &
sender=$!
EXTRA_PIDS+=("$sender")
sleep 1
berth_kill9
kill "$sender" 2>/dev/null
wait "$sender" 2>/dev/null

berth_start
ok "the server restarts after a kill during a monolithic upload"
req HEAD "/v2/test/mono/blobs/$bigdigest"
expect_status 404 "the killed monolithic upload left no blob"
image_intact "after the second kill -9"

# ---- acknowledged pushes survive a kill -9 that follows them at once
push_image test/acked base || fail "push a base image for the acknowledged pushes"
base_manifest=$IMG_MANIFEST
for i in $(seq 20); do
    jq -c --arg i "$i" '.annotations = {"n": $i}' "$base_manifest" >"$WORK/acked$i.json"
    push_manifest test/acked "t$i" "$WORK/acked$i.json" "$MT_OCI_MANIFEST" || break
done
acked_ok=$i
rand_file "$WORK/lastblob" 100000
push_blob test/acked "$WORK/lastblob"
lastblob_status=$STATUS
berth_kill9
expect_eq "20 manifests pushed right before the kill were acknowledged" 20 "$acked_ok"
berth_start
bad=0
for i in $(seq "$acked_ok"); do
    req GET "/v2/test/acked/manifests/t$i" -H "$ACCEPT_MANIFESTS"
    [ "$STATUS" = 200 ] && cmp -s "$BODY" "$WORK/acked$i.json" || bad=$((bad + 1))
done
expect_eq "every acknowledged manifest is there after kill -9" 0 "$bad"
if [ "$lastblob_status" = 201 ]; then
    req GET "/v2/test/acked/blobs/$(digest_of "$WORK/lastblob")"
    expect_body_digest "$(digest_of "$WORK/lastblob")" "the blob acknowledged right before kill -9 is intact"
else
    fail "the blob pushed right before the kill was acknowledged" "got $lastblob_status"
fi

# ---- gc with the server stopped, then no temp files remain
berth_stop
if "$BERTH_BIN" gc --data "$DATA" --grace 0 >"$WORK/gc.out" 2>&1; then
    ok "berth gc --grace 0 with the server stopped exits 0"
else
    fail "berth gc --grace 0 with the server stopped exits 0" "$(tail -n 5 "$WORK/gc.out")"
fi
left=$(find "$DATA" -name '*.tmp*')
expect_eq "no file with .tmp in its name remains under the data dir" "" "$left"

berth_start
image_intact "after gc"

finish
