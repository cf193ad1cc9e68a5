#!/usr/bin/env bash
# `make image`: an OCI image layout of berth built with umoci, no container daemon: its settings
# (a non-root user, the entrypoint, serve's arguments, the port, the data volume, the labels), a layer
# of the binary with exactly the libraries it loads, which runs by itself in a chroot. Then berth
# carries itself: the image pushed into a berth server with skopeo, pulled from it and run by podman,
# and the berth in the container answers and takes a push, with its production defaults (credentials).
. "$(dirname "$0")/lib.sh"
work_init
for t in umoci skopeo; do
    if ! command -v "$t" >/dev/null 2>&1; then
        skip "$t is not installed (scripts/deps.sh test installs it)"
        finish
    fi
done
if [ "$(id -u)" != 0 ]; then
    skip "make image runs as root (its layer keeps the files' owners)"
    finish
fi

t0=$(date +%s)
if ! make -s -C "$REPO" image IMAGE_OUT="$WORK/image" >"$WORK/image.out" 2>&1; then
    bail "make image" "$(tail -n 20 "$WORK/image.out")"
fi
version=$("$REPO/build/berth" version | sed 's/^berth //')
REF=$(tail -n 1 "$WORK/image.out")
expect_eq "make image builds a layout tagged with the version ($(($(date +%s) - t0)) s)" "$WORK/image:$version" "$REF"
sk inspect --config "oci:$REF" || bail "skopeo reads the image's config" "$(tail -n 5 "$WORK/skopeo.out")"
cp "$WORK/skopeo.out" "$WORK/config.json"
cfg() { jq -c "$1" "$WORK/config.json"; }
expect_eq "it runs as a user that is not root, given by number" '"65532:65532"' "$(cfg .config.User)"
expect_eq "Entrypoint [berth]" '["berth"]' "$(cfg .config.Entrypoint)"
expect_eq "Cmd: serve on every address, data in the volume" \
    '["serve","--listen","0.0.0.0:5000","--data","/var/lib/berth"]' "$(cfg .config.Cmd)"
expect_eq "it exposes 5000/tcp" '["5000/tcp"]' "$(cfg '.config.ExposedPorts | keys')"
expect_eq "its volume is /var/lib/berth" '["/var/lib/berth"]' "$(cfg '.config.Volumes | keys')"
expect_eq "labels: title, version, revision, licenses" "[\"berth\",\"$version\",\"$(git -C "$REPO" rev-parse HEAD)\",true]" \
    "$(cfg '.config.Labels | [."org.opencontainers.image.title", ."org.opencontainers.image.version",
        ."org.opencontainers.image.revision", (."org.opencontainers.image.licenses" | length > 0)]')"

# ---- the layer: the binary, exactly the libraries ldd names for it, and nothing it cannot run without
mdigest=$(jq -r '.manifests[0].digest' "$WORK/image/index.json")
manifest=$WORK/image/blobs/sha256/${mdigest#sha256:}
expect_eq "one layer" 1 "$(jq '.layers | length' "$manifest")"
layer=$WORK/image/blobs/sha256/$(jq -r '.layers[0].digest' "$manifest" | cut -d: -f2)
R=$WORK/rootfs
mkdir -p "$R"
tar -xzf "$layer" -C "$R" --numeric-owner 2>/dev/null || bail "the layer unpacks"
zsize=$(file_size "$layer")
usize=$(du -sb "$R" | cut -f1)
echo "# image: $zsize bytes compressed (the layer), $usize bytes unpacked"
check "it stays small: $((zsize / 1048576)) MiB compressed, $((usize / 1048576)) MiB unpacked (under 20 and 40)" \
    test "$zsize" -lt $((20 * 1048576)) -a "$usize" -lt $((40 * 1048576))
sh "$REPO/scripts/libs.sh" "$R/usr/bin/berth" >"$WORK/ldd"
(cd "$R" && find . -name '*.so*' | sed 's|^\.||' | sort) >"$WORK/libs"
check "its libraries are exactly ldd's for the binary and for those it opens with dlopen, the loader included ($(wc -l <"$WORK/libs"))" \
    cmp -s "$WORK/ldd" "$WORK/libs"
for soname in $("$R/usr/bin/berth" doc libraries | cut -f1); do
    check "$soname, which berth opens with dlopen, is among them" grep -q "/$soname\$" "$WORK/libs"
done
expect_eq "and the binary runs on them alone (chroot)" "berth $version" "$(chroot "$R" /usr/bin/berth version 2>&1)"
# what berth opens only where it uses it opens there too: libcurl for every client command, libpq for
# PostgreSQL metadata (refused here by a server that is not there), libsystemd for sd_notify under systemd
check "a client command opens libcurl in it (chroot)" sh -c 'chroot "$1" /usr/bin/berth login --help >/dev/null' _ "$R"
expect_match "PostgreSQL metadata opens libpq in it (chroot): the connection is what fails" \
    'postgres: cannot connect' "$(chroot "$R" /usr/bin/berth doctor --meta 'host=/nonexistent dbname=x' 2>&1)"
# a stand-in for systemd: a datagram socket in the chroot that takes serve's first notification
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
print(s.recv(4096).decode())' "$R/tmp/notify" >"$WORK/notify.out" 2>&1 &
npid=$!
for _ in $(seq 50); do [ -S "$R/tmp/notify" ] && break; sleep 0.1; done
NOTIFY_SOCKET=/tmp/notify chroot "$R" /usr/bin/berth serve --listen "127.0.0.1:$(free_port)" \
    --data /tmp/notify-data >"$WORK/notify-serve.log" 2>&1 &
spid=$!
SERVER_PIDS+=("$spid")
wait "$npid"
kill -TERM "$spid"
wait "$spid"
expect_match "under systemd (NOTIFY_SOCKET) serve opens libsystemd in it (chroot) and says READY" '^READY=1' \
    "$(cat "$WORK/notify.out") $(grep 'cannot notify' "$WORK/notify-serve.log")"
rm -rf "$R/tmp/notify" "$R/tmp/notify-data"
check "CA certificates, and the user berth in /etc/passwd and /etc/group" sh -c \
    'test -s "$1/etc/ssl/certs/ca-certificates.crt" && grep -q "^berth:x:65532:65532:" "$1/etc/passwd" &&
     grep -q "^berth:x:65532:" "$1/etc/group"' _ "$R"
expect_eq "the data folder is the user's, and its alone" "65532:65532 700" "$(stat -c '%u:%g %a' "$R/var/lib/berth")"

# ---- berth carries itself: skopeo pushes the layout into a berth server
berth_start
if sk copy --dest-tls-verify=false "oci:$REF" "docker://$HOSTPORT/berth:$version"; then
    ok "skopeo pushes the image into berth"
else
    bail "skopeo pushes the image into berth" "$(tail -n 5 "$WORK/skopeo.out")"
fi
sk inspect --tls-verify=false "docker://$HOSTPORT/berth:$version"
expect_eq "berth serves it under the layout's digest" "$mdigest" "$(jq -r .Digest "$WORK/skopeo.out")"

# ---- podman pulls it from berth and runs it
if ! podman_init; then
    skip "$PODMAN_WHY"
    finish
fi
if pm pull --tls-verify=false "$HOSTPORT/berth:$version"; then
    ok "podman pulls the image from berth"
else
    bail "podman pulls the image from berth" "$(tail -n 5 "$WORK/podman.out")"
fi
CPORT=$(free_port)
CDATA=$WORK/cdata
mkdir -p "$CDATA"
chown 65532:65532 "$CDATA"
chmod 0700 "$CDATA"
CLEANUP_HOOKS+=('pm rm -f -t 0 berth-e2e-0702')
# the image's Cmd but for the port: on the host's network, 5000 may be anyone's. runc, since crun does
# not run on a machine whose cgroups are v1 and v2 at once (as this one's are), and limits no higher
# than the host's, which this machine refuses to raise for a container
run=(run -d --name berth-e2e-0702 --network host --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
command -v runc >/dev/null 2>&1 && run=(--runtime runc "${run[@]}")
if ! pm "${run[@]}" -v "$CDATA:/var/lib/berth" "$HOSTPORT/berth:$version" \
    serve --listen "127.0.0.1:$CPORT" --data /var/lib/berth; then
    bail "podman runs it" "$(tail -n 5 "$WORK/podman.out")"
fi
CURL_BASE=http://127.0.0.1:$CPORT
for i in $(seq 150); do
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$CURL_BASE/v2/")" != 000 ] && break
    sleep 0.2
done
req GET "$CURL_BASE/v2/"
if [ "$STATUS" = 401 ]; then
    ok "the berth in the container answers /v2/ (401: credentials required, its default)"
else
    pm logs berth-e2e-0702
    bail "the berth in the container answers /v2/" "status $STATUS" "$(tail -n 5 "$WORK/podman.out")"
fi
expect_header_re WWW-Authenticate "^Bearer realm=\"http://127.0.0.1:$CPORT/oauth2/token\"" "with its token realm"
check "it runs as the image's user: the owner's password is written by 65532" \
    test "$(stat -c %u "$CDATA/initial-owner-password" 2>/dev/null)" = 65532
PW=$(cat "$CDATA/initial-owner-password" 2>/dev/null)

make_oci_layout "$WORK/small" 1
if sk copy --dest-tls-verify=false --dest-creds "owner:$PW" "oci:$WORK/small:latest" \
    "docker://127.0.0.1:$CPORT/team/small:1"; then
    ok "skopeo pushes an image into the container's berth, as its owner"
else
    fail "skopeo pushes an image into the container's berth, as its owner" "$(tail -n 5 "$WORK/skopeo.out")"
fi
sk inspect --tls-verify=false --creds "owner:$PW" "docker://127.0.0.1:$CPORT/team/small:1"
expect_eq "and it is there" "$(jq -r '.manifests[0].digest' "$WORK/small/index.json")" "$(jq -r .Digest "$WORK/skopeo.out")"

pm stop -t 20 berth-e2e-0702
pm inspect --format '{{.State.ExitCode}}' berth-e2e-0702
expect_eq "podman stop: the container's berth exits 0 on SIGTERM" 0 "$(tail -n 1 "$WORK/podman.out")"
pm rm -f berth-e2e-0702
pm rmi -a -f
finish
