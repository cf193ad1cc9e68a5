#!/usr/bin/env bash
# Real clients: skopeo copies an OCI layout in and out (oci: and dir:), then
# podman pulls and pushes.
. "$(dirname "$0")/lib.sh"

berth_start

if ! command -v skopeo >/dev/null 2>&1; then
    skip "skopeo not installed"
    finish
fi

export REGISTRY_AUTH_FILE=$WORK/auth.json
printf '{}' >"$REGISTRY_AUTH_FILE"
sk_fail() {
    fail "$1" "skopeo said: $(tail -c 600 "$WORK/skopeo.out" | tr '\n' ' ')"
}

SRC=$WORK/src
make_oci_layout "$SRC" 3 || bail "build the OCI layout"
src_manifest=$(layout_manifest "$SRC")
mdigest=$(digest_of "$src_manifest")
layers=$(jq -c '[.layers[].digest]' "$src_manifest")
cfgdigest=$(jq -r .config.digest "$src_manifest")
IMG=$HOSTPORT/test/img

if sk copy --dest-tls-verify=false "oci:$SRC:latest" "docker://$IMG:v1"; then
    ok "skopeo copy oci: -> registry"
else
    sk_fail "skopeo copy oci: -> registry"
fi

if sk inspect --tls-verify=false "docker://$IMG:v1"; then
    ok "skopeo inspect"
    expect_eq "skopeo inspect reports the manifest digest" "$mdigest" "$(jq -r .Digest "$WORK/skopeo.out")"
    expect_eq "skopeo inspect reports the layer digests" "$layers" "$(jq -c .Layers "$WORK/skopeo.out")"
else
    sk_fail "skopeo inspect"
fi

if sk inspect --raw --tls-verify=false "docker://$IMG@$mdigest"; then
    check "skopeo inspect --raw by digest returns the manifest bytes" cmp -s "$src_manifest" "$WORK/skopeo.out"
else
    sk_fail "skopeo inspect --raw by digest"
fi

if sk inspect --config --raw --tls-verify=false "docker://$IMG:v1"; then
    expect_eq "skopeo inspect --config returns the config blob" "$cfgdigest" "$(digest_of "$WORK/skopeo.out")"
else
    sk_fail "skopeo inspect --config"
fi

if sk list-tags --tls-verify=false "docker://$IMG"; then
    expect_eq "skopeo list-tags lists v1" '["v1"]' "$(jq -c .Tags "$WORK/skopeo.out")"
else
    sk_fail "skopeo list-tags"
fi

OUT=$WORK/out
if sk copy --src-tls-verify=false "docker://$IMG:v1" "oci:$OUT:v1"; then
    ok "skopeo copy registry -> oci:"
    out_manifest=$(layout_manifest "$OUT")
    expect_eq "oci: copy has the same manifest digest" "$mdigest" "$(digest_of "$out_manifest")"
    expect_eq "oci: copy has the same layer digests" "$layers" "$(jq -c '[.layers[].digest]' "$out_manifest")"
    bad=0
    for d in $(jq -r '.config.digest, .layers[].digest' "$out_manifest"); do
        f=$OUT/blobs/sha256/${d#sha256:}
        if [ ! -f "$f" ] || [ "$(digest_of "$f")" != "$d" ] || ! cmp -s "$f" "$SRC/blobs/sha256/${d#sha256:}"; then
            bad=$((bad + 1))
        fi
    done
    expect_eq "every blob copied back matches the original" 0 "$bad"
else
    sk_fail "skopeo copy registry -> oci:"
fi

DIRC=$WORK/dircopy
if sk copy --src-tls-verify=false "docker://$IMG:v1" "dir:$DIRC"; then
    ok "skopeo copy registry -> dir:"
    expect_eq "dir: copy has the same manifest digest" "$mdigest" "$(digest_of "$DIRC/manifest.json")"
    bad=0
    for d in $(jq -r '.config.digest, .layers[].digest' "$DIRC/manifest.json"); do
        [ "$(digest_of "$DIRC/${d#sha256:}")" = "$d" ] || bad=$((bad + 1))
    done
    expect_eq "every dir: blob matches its digest" 0 "$bad"
    if sk copy --dest-tls-verify=false "dir:$DIRC" "docker://$HOSTPORT/test/fromdir:v1"; then
        ok "skopeo copy dir: -> registry"
        sk inspect --tls-verify=false "docker://$HOSTPORT/test/fromdir:v1"
        expect_eq "dir: round trip keeps the manifest digest" "$mdigest" "$(jq -r .Digest "$WORK/skopeo.out")"
    else
        sk_fail "skopeo copy dir: -> registry"
    fi
else
    sk_fail "skopeo copy registry -> dir:"
fi

# Registry to registry: skopeo tries to mount blobs across repositories.
if sk copy --src-tls-verify=false --dest-tls-verify=false "docker://$IMG:v1" "docker://$HOSTPORT/test/copy:v2"; then
    ok "skopeo copy registry -> registry"
    sk inspect --tls-verify=false "docker://$HOSTPORT/test/copy:v2"
    expect_eq "registry copy keeps the manifest digest" "$mdigest" "$(jq -r .Digest "$WORK/skopeo.out")"
else
    sk_fail "skopeo copy registry -> registry"
fi

if sk delete --tls-verify=false "docker://$HOSTPORT/test/copy:v2"; then
    ok "skopeo delete"
    if sk inspect --tls-verify=false "docker://$HOSTPORT/test/copy:v2"; then
        fail "a deleted image no longer inspects" "skopeo inspect succeeded"
    else
        ok "a deleted image no longer inspects"
    fi
else
    sk_fail "skopeo delete"
fi

# ---- podman
if ! podman_init; then
    skip "$PODMAN_WHY"
    finish
fi

if pm pull --tls-verify=false "$IMG:v1"; then
    ok "podman pull"
    pm image inspect "$IMG:v1"
    expect_eq "podman pulled the manifest digest" "$mdigest" "$(jq -r '.[0].Digest' "$WORK/podman.out")"
    expect_eq "podman sees the layers' diff_ids" \
        "$(jq -c .rootfs.diff_ids "$SRC/blobs/sha256/${cfgdigest#sha256:}")" \
        "$(jq -c '.[0].RootFS.Layers' "$WORK/podman.out")"
else
    fail "podman pull" "podman said: $(tail -c 600 "$WORK/podman.out" | tr '\n' ' ')"
fi

if pm push --tls-verify=false "$IMG:v1" "docker://$HOSTPORT/test/img2:v1"; then
    ok "podman push"
    if sk inspect --tls-verify=false "docker://$HOSTPORT/test/img2:v1"; then
        expect_eq "image pushed by podman has 3 layers" 3 "$(jq '.Layers | length' "$WORK/skopeo.out")"
    else
        sk_fail "skopeo inspects the image podman pushed"
    fi
    pm rmi -a -f
    if pm pull --tls-verify=false "$HOSTPORT/test/img2:v1"; then
        ok "podman pulls back the image it pushed"
        pm image inspect "$HOSTPORT/test/img2:v1"
        expect_eq "image pushed by podman keeps the diff_ids" \
            "$(jq -c .rootfs.diff_ids "$SRC/blobs/sha256/${cfgdigest#sha256:}")" \
            "$(jq -c '.[0].RootFS.Layers' "$WORK/podman.out")"
    else
        fail "podman pulls back the image it pushed" "podman said: $(tail -c 600 "$WORK/podman.out" | tr '\n' ' ')"
    fi
else
    fail "podman push" "podman said: $(tail -c 600 "$WORK/podman.out" | tr '\n' ' ')"
fi
pm rmi -a -f

finish
