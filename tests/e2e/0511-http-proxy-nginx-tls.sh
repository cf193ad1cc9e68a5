#!/usr/bin/env bash
# Real clients through a real TLS-terminating nginx (docs/reverse-proxy.md): nginx on a free loopback
# port with a certificate from a throwaway CA, berth behind it on plain HTTP, nginx configured as
# the documentation tells users to. Every client trusts the CA the way it does in production
# (containers' certs.d, docker's certs.d, curl --cacert) and never skips verification, except
# docker, which treats every loopback registry as insecure (so it verifies nothing here, but
# still follows the realm the server names, which is what matters).
#   1. berth --external-url https://HOST:PORT: the realm is the https URL; skopeo logs in, pushes
#      a layer of several MiB and pulls it back; docker logs in, pushes (one long chunked PATCH)
#      and pulls; podman pulls and pushes; curl uploads in several PATCHes, every Location leading
#      to the https URL; check-health passes for each client. nginx's default body limit fails
#      pushes, and check-health --action push says so.
#   2. berth trusting the proxy's X-Forwarded-Proto and -Host instead: the same realm and clients.
#   3. the typical mistake, nginx not sending X-Forwarded-Proto: the realm comes back http://;
#      skopeo and docker fail, and check-health must fail too, naming the realm and the cause.
#   4. nginx not passing Host: the realm names berth's own address over plain HTTP, which skopeo
#      reaches from this machine only (its password in clear); check-health fails.
#   5. external-url naming another host than the clients use: it works, check-health warns.
#   6. a 307 to the bucket (the only redirect berth issues: blob GETs from an S3 store) followed by
#      skopeo, docker and curl through the proxy: on the S3 server make test gives
#      (BERTH_TEST_S3_ENDPOINT), else on one scripts/rgw.sh starts here; skipped without radosgw.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/health-lib.sh"
work_init
if ! command -v nginx >/dev/null 2>&1; then
    skip "nginx is not installed (sh scripts/deps.sh installs nginx-light)"
    exit 0
fi
if [ "$HAVE_SKOPEO" != 1 ]; then
    skip "skopeo is not installed (sh scripts/deps.sh test)"
    exit 0
fi

T=$WORK/tls
make_tls "$T"
[ -s "$T/srv.pem" ] || bail "make the test CA and the proxy's certificate"
NPORT=$(free_port)
EXT=127.0.0.1:$NPORT # what the clients use: nginx, TLS
EURL=https://$EXT
NG=$WORK/nginx
CA=(--cacert "$T/ca.pem")
NGINX_PID=""
HC_CLIENT=skopeo
hc_env
export HOME=$WORK/home # containers' per-user certs.d and auth files stay in the test
for h in "$EXT" "localhost:$NPORT"; do
    mkdir -p "$HOME/.config/containers/certs.d/$h"
    cp "$T/ca.pem" "$HOME/.config/containers/certs.d/$h/ca.crt"
done

# proxy_start MODE BACKEND: nginx on $EXT in front of BACKEND (HOST:PORT), configured as
# docs/reverse-proxy.md says (MODE doc), or with a typical mistake: no-proto (X-Forwarded-Proto
# not sent), no-host (Host not passed, so berth sees its own address), body-limit (nginx's
# default client_max_body_size).
proxy_start() {
    local mode=$1 backend=$2 host='proxy_set_header Host $http_host;' proto='proxy_set_header X-Forwarded-Proto $scheme;'
    local fhost='proxy_set_header X-Forwarded-Host $http_host;' body='client_max_body_size 0;' i code
    [ "$mode" = no-proto ] && proto='# (X-Forwarded-Proto not sent)'
    [ "$mode" = body-limit ] && body="# (client_max_body_size left at nginx's default, 1m)"
    [ "$mode" = no-host ] && host='# (Host not passed)' && fhost='# (X-Forwarded-Host not sent)'
    proxy_stop
    mkdir -p "$NG/tmp"
    {
        [ "$(id -u)" = 0 ] && echo 'user root;'
        cat <<EOF
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 256; }
http {
    access_log $NG/access.log;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    server {
        listen 127.0.0.1:$NPORT ssl;
        server_name 127.0.0.1;
        ssl_certificate $T/srv.pem;
        ssl_certificate_key $T/srv.key;
        $body
        location / {
            proxy_pass http://$backend;
            proxy_http_version 1.1;
            $host
            $proto
            $fhost
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 900s;
            proxy_send_timeout 900s;
        }
    }
}
EOF
    } >"$NG/nginx.conf"
    nginx -c "$NG/nginx.conf" -p "$NG" -g 'daemon off;' >>"$SRV_LOG" 2>&1 &
    NGINX_PID=$!
    SERVER_PIDS+=("$NGINX_PID")
    for i in $(seq 100); do
        kill -0 "$NGINX_PID" 2>/dev/null || bail "nginx starts ($mode)" "$(tail -n 3 "$NG/error.log" 2>/dev/null)"
        code=$(curl -s "${CA[@]}" -o /dev/null -m 2 -w '%{http_code}' "$EURL/v2/")
        [ "$code" != 000 ] && return 0
        sleep 0.1
    done
    bail "nginx starts ($mode)" "no answer on $EURL/v2/ after 10 s"
}
proxy_stop() {
    [ -n "$NGINX_PID" ] || return 0
    kill -TERM "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=""
}

# realm_through_proxy: the realm and service of the challenge GET $EURL/v2/ answers (REALM, SVC)
realm_through_proxy() {
    req GET "$EURL/v2/" "${CA[@]}"
    REALM=$(hdr WWW-Authenticate | sed -E 's/.*realm="([^"]*)".*/\1/')
    SVC=$(hdr WWW-Authenticate | sed -E 's/.*service="([^"]*)".*/\1/')
}

# logged CMD...: runs CMD quietly; on failure its output is shown as comments
logged() { timeout 180 "$@" >"$WORK/cmd.out" 2>&1 || { sed 's/^/#   > /' "$WORK/cmd.out" | tail -n 5; return 1; }; }
# real_fails DESC CMD...: the real client fails here
real_fails() {
    local desc=$1
    shift
    if timeout 180 "$@" >"$WORK/cmd.out" 2>&1; then
        fail "$desc" "it succeeded"
    else
        ok "$desc: $(grep -v '^\s*$' "$WORK/cmd.out" | tail -n 1 | cut -c1-200)"
    fi
}

# an image of two layers, the first of 6 MiB, for skopeo and podman; a one-layer rootfs of 8 MiB for docker
make_oci_layout "$WORK/layout" 2 $((6 * 1024 * 1024)) || bail "build the OCI layout"
LAYOUT_MANIFEST=$(layout_manifest "$WORK/layout")
MDIGEST=$(digest_of "$LAYOUT_MANIFEST")
sk_copy() { logged skopeo --policy "$WORK/policy.json" copy -q "$@"; }
printf '{"default":[{"type":"insecureAcceptAnything"}]}' >"$WORK/policy.json"

# skopeo_round REPO: skopeo logs in through the proxy, pushes the layout, pulls it back intact
skopeo_round() {
    local repo=$1 out=$WORK/pulled-${1//\//-}
    check "skopeo login through the proxy (TLS verified)" logged skopeo login -u owner --password-stdin "$EXT" <<<"$PW"
    check "skopeo pushes an image with a 6 MiB layer" sk_copy "oci:$WORK/layout:latest" "docker://$EXT/$repo:v1"
    rm -rf "$out"
    if sk_copy "docker://$EXT/$repo:v1" "oci:$out:v1"; then
        expect_eq "skopeo pulls it back: the same manifest" "$MDIGEST" "$(digest_of "$(layout_manifest "$out")")"
        local d bad=0
        for d in $(jq -r '.layers[].digest' "$LAYOUT_MANIFEST"); do
            cmp -s "$out/blobs/sha256/${d#sha256:}" "$WORK/layout/blobs/sha256/${d#sha256:}" || bad=$((bad + 1))
        done
        expect_eq "  ... and every layer byte for byte" 0 "$bad"
    else
        fail "skopeo pulls it back"
    fi
}

# loc_abs LOCATION: the URL a client goes to for LOCATION (a path is resolved against the https URL
# it used); fails for an absolute URL elsewhere
loc_abs() {
    case $1 in
        /*) echo "$EURL$1" ;;
        "$EURL"/*) echo "$1" ;;
        *) return 1 ;;
    esac
}

# curl_chunked REPO: POST, three PATCHes with Content-Range (the second with a chunked body, as
# docker sends its layers), PUT ?digest=, with a token from the realm the challenge names; every
# Location must lead to the https URL
curl_chunked() {
    local repo=$1 tok u loc start=0 end i part bad="" sizes=(2097152 3145728 1572864) te=()
    realm_through_proxy
    tok=$(curl -s "${CA[@]}" -u "owner:$PW" "$REALM?service=$SVC&scope=repository:$repo:pull,push" |
        jq -r '.access_token // empty')
    [ -n "$tok" ] || { fail "curl: a push token from the realm $REALM"; return; }
    local A=("${CA[@]}" -H "Authorization: Bearer $tok")
    rand_file "$WORK/chunked.bin" $((2097152 + 3145728 + 1572864))
    req POST "$EURL/v2/$repo/blobs/uploads/" "${A[@]}"
    expect_status 202 "curl: POST starts an upload through the proxy"
    loc=$(hdr Location)
    u=$(loc_abs "$loc") || bad="$bad POST:$loc"
    for i in 0 1 2; do
        part=$WORK/chunk-$i
        tail -c +$((start + 1)) "$WORK/chunked.bin" | head -c "${sizes[$i]}" >"$part"
        end=$((start + ${sizes[$i]} - 1))
        te=()
        [ "$i" = 1 ] && te=(-H 'Transfer-Encoding: chunked')
        req PATCH "$u" "${A[@]}" "${te[@]}" -H "Content-Range: $start-$end" \
            -H 'Content-Type: application/octet-stream' --data-binary "@$part"
        expect_status 202 "curl: PATCH $start-$end${te:+ (chunked body)} is taken"
        expect_header Range "0-$end" "  ... the server has 0-$end"
        loc=$(hdr Location)
        u=$(loc_abs "$loc") || bad="$bad PATCH:$loc"
        start=$((end + 1))
    done
    req PUT "$(add_query "$u" "digest=$(digest_of "$WORK/chunked.bin")")" "${A[@]}"
    expect_status 201 "curl: PUT ?digest= completes the 6.5 MiB blob"
    loc=$(hdr Location)
    u=$(loc_abs "$loc") || bad="$bad PUT:$loc"
    expect_eq "every Location (POST, 3 PATCH, PUT) leads to $EURL" "" "$bad"
    req GET "$u" "${A[@]}"
    expect_body_digest "$(digest_of "$WORK/chunked.bin")" "  ... GET of the PUT's Location through the proxy gives the bytes"
}

# ---- dockerd (dockerd_start): its own socket and folders; docker's certs.d for the proxy's address
DOCKER_OK=0
if ! dockerd_start; then
    skip "docker: $DOCKERD_WHY"
else
    DOCKER_OK=1
    # dockerd reads certs.d from /etc/docker only; this port's folder is the test's, removed at exit
    [ -d /etc/docker/certs.d ] || MADE_CERTS_D=1
    if [ ! -e "/etc/docker/certs.d/$EXT" ]; then
        mkdir -p "/etc/docker/certs.d/$EXT" && cp "$T/ca.pem" "/etc/docker/certs.d/$EXT/ca.crt"
        CLEAN_DIRS+=("/etc/docker/certs.d/$EXT")
        MADE_PORT_CERTS=1
    fi
    rm -f "$WORK/bin/docker"
    ln -s "$DOCKER" "$WORK/bin/docker" # check-health judges this docker, on this daemon
    mkdir -p "$WORK/rootfs"
    head -c $((8 * 1024 * 1024)) /dev/urandom >"$WORK/rootfs/big.bin"
    echo "hello through nginx" >"$WORK/rootfs/hello.txt"
    tar -C "$WORK/rootfs" -c . | "$DOCKER" import - "$EXT/dk/app:v1" >/dev/null 2>&1 || bail "docker import"
fi

# docker_round REPO: docker logs in through the proxy, pushes the 8 MiB layer, pulls it back
docker_round() {
    local img=$EXT/$1:v1
    [ "$DOCKER_OK" = 1 ] || return 0
    "$DOCKER" tag "$EXT/dk/app:v1" "$img"
    check "docker login through the proxy" logged "$DOCKER" login -u owner --password-stdin "$EXT" <<<"$PW"
    check "docker pushes an 8 MiB layer through the proxy" logged "$DOCKER" push "$img"
    # every tag of the image goes, so that the pull downloads the layer again
    "$DOCKER" image rm -f $("$DOCKER" images -q | sort -u) >/dev/null 2>&1
    check "docker pulls it back through the proxy" logged "$DOCKER" pull "$img"
    check "  ... the image's file is there" bash -c "'$DOCKER' save '$img' | tar -xO --wildcards '*/layer.tar' 2>/dev/null |
        tar -xO ./hello.txt | grep -q 'hello through nginx'"
    "$DOCKER" tag "$img" "$EXT/dk/app:v1"
}

# ---- 1. external-url
BERTH_AUTH=1 berth_start --external-url "$EURL"
PW=$(cat "$DATA/initial-owner-password")
proxy_start doc "$HOSTPORT"
realm_through_proxy
expect_status 401 "GET /v2/ through the proxy: 401"
expect_eq "external-url: the realm is the https URL" "$EURL/oauth2/token" "$REALM"
skopeo_round ext/app
curl_chunked ext/blob
docker_round ext/dk
expect_hc_pass "check-health for skopeo through the proxy passes" "$EXT" --repository ext/app --action push
if [ "$DOCKER_OK" = 1 ]; then
    HC_CLIENT=docker expect_hc_pass "check-health for docker through the proxy passes" "$EXT" --repository ext/dk \
        --action push
fi
HC_CLIENT=berth expect_hc_pass "check-health for berth's own commands (--server $EURL) passes" --server "$EURL" \
    --ca-file "$T/ca.pem" -u owner -p "$PW"

# podman, with its own storage (as 0080)
PR=$(mktemp -d /tmp/bp.XXXXXX)
CLEAN_DIRS+=("$PR")
had_run_containers=0
[ -e /run/containers ] && had_run_containers=1
pm() {
    timeout 180 podman --storage-driver vfs --root "$PR/root" --runroot "$PR/run" --tmpdir "$PR/tmp" \
        --events-backend file --cgroup-manager cgroupfs "$@" >"$WORK/podman.out" 2>&1
}
mkdir -p "$PR/root" "$PR/run" "$PR/tmp"
if ! command -v podman >/dev/null 2>&1; then
    skip "podman is not installed"
elif ! pm info; then
    skip "podman cannot run here: $(tail -n 2 "$WORK/podman.out" | tr '\n' ' ' | cut -c1-200)"
else
    check "podman login through the proxy (TLS verified, --cert-dir)" pm login --cert-dir \
        "$HOME/.config/containers/certs.d/$EXT" -u owner --password-stdin "$EXT" <<<"$PW"
    check "podman pulls the image skopeo pushed" pm pull "$EXT/ext/app:v1"
    check "podman pushes it to another repository" pm push "$EXT/ext/app:v1" "docker://$EXT/ext/podman:v1"
    check "  ... skopeo sees the manifest podman pushed" logged skopeo inspect "docker://$EXT/ext/podman:v1"
    pm rmi -a -f
fi
[ "$had_run_containers" = 0 ] && rmdir /run/containers/networks /run/containers 2>/dev/null
berth_stop

# ---- 2. the proxy's X-Forwarded-Proto and -Host, trusted
BERTH_AUTH=1 berth_start --trusted-proxies 127.0.0.1
proxy_start doc "$HOSTPORT"
realm_through_proxy
expect_eq "trusted X-Forwarded-*: the realm is the https URL" "$EURL/oauth2/token" "$REALM"
skopeo_round fwd/app
curl_chunked fwd/blob
docker_round fwd/dk
expect_hc_pass "check-health for skopeo through the trusted proxy passes" "$EXT" --repository fwd/app --action push

# nginx's default body limit: the login works, a push of a layer over 1 MiB does not
proxy_start body-limit "$HOSTPORT"
make_oci_layout "$WORK/layout2" 1 $((2 * 1024 * 1024)) # a layer the registry does not have yet
real_fails "with nginx's default client_max_body_size skopeo's push of a 2 MiB layer fails" \
    skopeo --policy "$WORK/policy.json" copy -q "oci:$WORK/layout2:latest" "docker://$EXT/fwd/limited:v1"
expect_match "  ... with nginx's 413" "413|Request Entity Too Large" "$(cat "$WORK/cmd.out")"
expect_hc PROXY_BODY_LIMIT "check-health for skopeo's push fails too" "$EXT" --repository fwd/limited --action push
expect_match "  ... naming client_max_body_size" "client_max_body_size 0" "$HC_MSG"
HC_CLIENT=berth expect_hc PROXY_BODY_LIMIT "check-health for berth's own commands too" --server "$EURL" \
    --ca-file "$T/ca.pem" -u owner -p "$PW" --repository fwd/limited --action push
HC_CLIENT=berth expect_hc_pass "  ... not for a pull, which sends no layer" --server "$EURL" --ca-file "$T/ca.pem" \
    -u owner -p "$PW" --repository fwd/app

# ---- 3. nginx without X-Forwarded-Proto: the realm comes back http://
proxy_start no-proto "$HOSTPORT"
realm_through_proxy
expect_eq "without X-Forwarded-Proto the realm is http:// (the mistake is made)" "http://$EXT/oauth2/token" "$REALM"
# nothing stored from before: skopeo reads docker's config.json too, where docker login left a token
skopeo logout "$EXT" >/dev/null 2>&1
rm -f "$DOCKER_CONFIG/config.json"
real_fails "skopeo login fails" skopeo login -u owner --password-stdin "$EXT" <<<"$PW"
[ "$DOCKER_OK" = 1 ] && real_fails "docker login fails" "$DOCKER" login -u owner --password-stdin "$EXT" <<<"$PW"
jq -n --arg s "$EXT" --arg a "$(printf 'owner:%s' "$PW" | base64 -w0)" '{auths: {($s): {auth: $a}}}' \
    >"$REGISTRY_AUTH_FILE"
real_fails "skopeo pull with a stored password fails" skopeo --policy "$WORK/policy.json" copy -q \
    "docker://$EXT/fwd/app:v1" "oci:$WORK/fail-pull:v1"
expect_hc REALM_SCHEME_MISMATCH "check-health for skopeo fails too" "$EXT" --repository fwd/app
expect_match "  ... naming the realm, the URL used and X-Forwarded-Proto" \
    "http://$EXT/oauth2/token.*https://$EXT.*X-Forwarded-Proto" "$HC_MSG"
if [ "$DOCKER_OK" = 1 ]; then
    "$DOCKER" rmi "$EXT/fwd/dk:v1" >/dev/null 2>&1
    real_fails "docker pull fails" "$DOCKER" pull "$EXT/fwd/dk:v1"
    HC_CLIENT=docker expect_hc REALM_SCHEME_MISMATCH "check-health for docker fails too" "$EXT" --repository fwd/dk
fi
HC_CLIENT=berth expect_hc REALM_SCHEME_MISMATCH "check-health for berth's own commands fails too" --server "$EURL" \
    --ca-file "$T/ca.pem" -u owner -p "$PW"

# ---- 4. nginx not passing Host: the realm names berth's own address, over plain HTTP
berth_stop
BERTH_AUTH=1 berth_start
proxy_start no-host "$HOSTPORT"
realm_through_proxy
expect_eq "without Host the realm is berth's own address" "http://$HOSTPORT/oauth2/token" "$REALM"
# from this machine the client gets there (its password in clear, past the proxy); from any other it would not:
# an error all the same
check "skopeo still pulls from this machine" sk_copy "docker://$EXT/fwd/app:v1" "oci:$WORK/nohost-pull:v1"
expect_hc REALM_SCHEME_MISMATCH "check-health for skopeo fails: plain HTTP, another address" "$EXT" --repository fwd/app
expect_match "  ... naming the realm, the address used, Host and X-Forwarded-Proto" \
    "http://$HOSTPORT/oauth2/token.*https://$EXT.*another address.*Host and X-Forwarded-Proto" "$HC_MSG"

# ---- 5. external-url naming another host than the clients use (the certificate names both)
berth_stop
BERTH_AUTH=1 berth_start --external-url "https://localhost:$NPORT"
proxy_start doc "$HOSTPORT"
realm_through_proxy
expect_eq "external-url https://localhost:$NPORT makes the realm" "https://localhost:$NPORT/oauth2/token" "$REALM"
check "skopeo reached as $EXT gets its token there and pulls" sk_copy "docker://$EXT/fwd/app:v1" \
    "oci:$WORK/otherhost-pull:v1"
expect_hc_warn REALM_HOST_MISMATCH "check-health for skopeo warns: the realm is on another host" "$EXT" \
    --repository fwd/app
expect_match "  ... naming the realm and the address used" "https://localhost:$NPORT/oauth2/token.*https://$EXT" \
    "$HC_MSG"
logged skopeo login -u owner --password-stdin "localhost:$NPORT" <<<"$PW" || fail "skopeo login localhost:$NPORT"
expect_hc_pass "  ... and passes when the clients use the external URL's name" "localhost:$NPORT" --repository fwd/app
proxy_stop
berth_stop

# ---- 6. the 307 from a blob GET to the bucket, followed through the proxy by skopeo and docker
if [ -n "${BERTH_E2E_S3_ENV:-}" ] && [ -z "${BERTH_TEST_S3_ENDPOINT:-}" ]; then
    # shellcheck disable=SC1090
    . "$BERTH_E2E_S3_ENV"
fi
if [ -z "${BERTH_TEST_S3_ENDPOINT:-}" ] && command -v radosgw >/dev/null 2>&1; then
    # none given: a gateway of the test's own (about 5 s), stopped by its pid files at exit
    RGW=$WORK/rgw
    trap 'sh "$REPO/scripts/rgw.sh" stop "$RGW" >/dev/null 2>&1; cleanup' EXIT
    if sh "$REPO/scripts/rgw.sh" start "$RGW" >"$WORK/rgw.out" 2>&1; then
        # shellcheck disable=SC1091
        . "$RGW/env"
    else
        skip "307 redirects: scripts/rgw.sh could not start an S3 server: $(tail -n 2 "$WORK/rgw.out" | tr '\n' ' ' | cut -c1-200)"
    fi
fi
if [ -z "${BERTH_TEST_S3_ENDPOINT:-}" ]; then
    [ -z "${RGW:-}" ] && skip "307 redirects: no S3 server (BERTH_TEST_S3_ENDPOINT unset, radosgw not installed): berth answers 307 only for blob GETs from an S3 store"
else
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    DATA=$WORK/data-s3
    BERTH_AUTH=1 berth_start --external-url "$EURL" \
        --store "s3://e2e-$(rand_hex 8)?endpoint=$BERTH_TEST_S3_ENDPOINT&region=$BERTH_TEST_S3_REGION"
    PW=$(cat "$DATA/initial-owner-password")
    proxy_start doc "$HOSTPORT"
    skopeo_round s3/app
    check "  ... skopeo's blob GETs were answered 307 (to the bucket)" \
        grep -q 'route=blob_get status=307 .*ua="skopeo' "$SRV_LOG"
    if [ "$DOCKER_OK" = 1 ]; then
        docker_round s3/dk
        check "  ... docker's blob GETs were answered 307 (to the bucket)" \
            grep -q 'route=blob_get status=307 .*ua="docker' "$SRV_LOG"
    fi
    realm_through_proxy
    tok=$(curl -s "${CA[@]}" -u "owner:$PW" "$REALM?service=$SVC&scope=repository:s3/app:pull" | jq -r '.access_token // empty')
    d=$(jq -r '.layers[0].digest' "$LAYOUT_MANIFEST")
    req GET "$EURL/v2/s3/app/blobs/$d" "${CA[@]}" -H "Authorization: Bearer $tok"
    expect_status 307 "a blob GET through the proxy answers 307"
    expect_header_re Location "^$BERTH_TEST_S3_ENDPOINT/" "  ... to the bucket's endpoint (presigned), past the proxy"
    HDR_CHECK=0 # the bucket's answer, not berth's
    req GET "$EURL/v2/s3/app/blobs/$d" "${CA[@]}" -H "Authorization: Bearer $tok" -L
    HDR_CHECK=1
    expect_body_digest "$d" "  ... curl -L follows it to the layer's bytes"
    proxy_stop
    berth_stop
fi
# the folders this test made under /etc (certs.d only when empty: another test may use it)
[ "${MADE_PORT_CERTS:-0}" = 1 ] && rm -rf "/etc/docker/certs.d/$EXT"
[ "${MADE_CERTS_D:-0}" = 1 ] && rmdir /etc/docker/certs.d 2>/dev/null
finish
