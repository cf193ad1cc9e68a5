#!/usr/bin/env bash
# berth check-health judges what the real clients do, not what berth would
# do: each case below is a login that skopeo (or docker) really fails, and
# check-health must not answer exit 0 for it. A berth session with no docker
# or podman login; a CA only the berth session knows; a stale password in
# the containers auth.json shadowing a working token in docker's
# config.json; an AcrPull user about to push; a *.localhost login server
# that this system does not resolve; a dead proxy that Go clients never use
# for loopback; docker without a daemon. Fixes are run as printed where
# they can be, then the real client and check-health agree again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/health-lib.sh"
if ! command -v skopeo >/dev/null; then
    skip "skopeo is not installed (sh scripts/deps.sh test)"
    exit 0
fi
BERTH_AUTH=1 berth_start
HC_CLIENT=skopeo
hc_env
export HOME=$WORK/home # the clients' per-user files (certs.d, auth.json) stay in the test
mkdir -p "$HOME"
owner_session
CFG=$DOCKER_CONFIG/config.json
PW=$(cat "$DATA/initial-owner-password")
make_oci_layout "$WORK/layout" 1 >/dev/null
# sk_push REF: skopeo pushes the layout to REF as it is set up (its own files, no flags but TLS)
sk_push() { skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$1" >"$WORK/sk.out" 2>&1; }
sk_inspect() { skopeo inspect --tls-verify=false "docker://$1" >"$WORK/sk.out" 2>&1; }
# real_fails DESC CMD...: the real client fails here (the case is a real failure, not a guess)
real_fails() {
    local desc=$1
    shift
    if "$@"; then fail "$desc" "it succeeded"; else ok "$desc: $(tail -n 1 "$WORK/sk.out" | cut -c1-160)"; fi
}

# ---- 1. a berth session, but nothing in docker's or podman's files: skopeo is refused
real_fails "skopeo push with only a berth session fails" sk_push "$HOSTPORT/team/app:v1"
expect_hc CREDENTIALS_MISSING "check-health for skopeo's push: no credential, not the session's all-clear" "$HOSTPORT" \
    --repository team/app --action push
expect_match "  ... naming the files skopeo reads" "$REGISTRY_AUTH_FILE" "$HC_MSG"
expect_fix_re "^skopeo login $HOSTPORT$"
HC_CLIENT="" expect_hc CREDENTIALS_MISSING "  ... and so does the run over every installed client" "$HOSTPORT" \
    --repository team/app --action push
skopeo login -u owner --password-stdin --tls-verify=false "$HOSTPORT" <<<"$PW" >/dev/null 2>&1 ||
    fail "skopeo login (the fix, with the password on stdin)"
check "after the fix skopeo pushes" sk_push "$HOSTPORT/team/app:v1"
expect_hc_pass "  ... and check-health passes" "$HOSTPORT" --repository team/app --action push
skopeo logout "$HOSTPORT" >/dev/null 2>&1

# ---- 3. a stale password in auth.json, a working identity token in docker's config.json
"$BERTH_BIN" login "$HOSTPORT" >/dev/null 2>&1 || fail "berth login"
jq -n --arg s "$HOSTPORT" --arg a "$(printf 'owner:stale-password' | base64 -w0)" '{auths: {($s): {auth: $a}}}' \
    >"$REGISTRY_AUTH_FILE"
real_fails "skopeo reads auth.json first and fails" sk_inspect "$HOSTPORT/team/app:v1"
expect_hc STORED_CREDENTIAL_INVALID "check-health tests skopeo's own credential, not docker's" "$HOSTPORT"
expect_match "  ... naming the file" "$REGISTRY_AUTH_FILE" "$HC_MSG"
expect_fix_re "^skopeo logout --authfile $REGISTRY_AUTH_FILE $HOSTPORT"
HC_CLIENT=docker expect_hc_pass "  ... while docker's own credential passes" "$HOSTPORT"
HC_CLIENT="" hc "$HOSTPORT" --ignore-errors
check "  ... and over every client (--ignore-errors) the credential check goes on with docker's working token" \
    jqq '[.checks[] | select(.name == "stored-credentials" and .code == "STORED_CREDENTIAL_INVALID")] | length == 1' \
    <<<"$HC_OUT"
check "  ... (which the credentials check accepts)" \
    jqq '.checks[] | select(.name == "credentials") | .status == "OK"' <<<"$HC_OUT"
# the first half of the fix is enough: skopeo then falls back to docker's config.json
skopeo logout --authfile "$REGISTRY_AUTH_FILE" "$HOSTPORT" >/dev/null 2>&1
check "after 'skopeo logout --authfile' skopeo uses docker's token" sk_inspect "$HOSTPORT/team/app:v1"
expect_hc_pass "  ... and check-health passes" "$HOSTPORT"
check "  ... saying it is docker's file skopeo reads" \
    jqq ".checks[] | select(.name == \"stored-credentials\") | .message | test(\"$CFG\")" <<<"$HC_OUT"
"$BERTH_BIN" logout "$HOSTPORT" >/dev/null 2>&1

# ---- 4. an AcrPull user about to push
"$BERTH_BIN" user create pat --password-stdin <<<"pat-password-1234" >/dev/null 2>&1
"$BERTH_BIN" role assignment create --assignee pat --role AcrPull --scope /registries/default >/dev/null
skopeo login -u pat --password-stdin --tls-verify=false "$HOSTPORT" <<<"pat-password-1234" >/dev/null 2>&1
real_fails "pat (AcrPull) cannot push" sk_push "$HOSTPORT/team/app:v2"
expect_hc_warn PERMISSION_NOT_CHECKED "--action push without --repository: not an all-clear" "$HOSTPORT" --action push
expect_fix_re "--repository REPO$"
expect_hc PERMISSION_DENIED "  ... and with --repository, an error" "$HOSTPORT" --repository team/app --action push
expect_match "  ... naming skopeo's credential" "skopeo" "$HC_MSG"
skopeo logout "$HOSTPORT" >/dev/null 2>&1

# ---- 7. the server's refusal is readable in skopeo's own error (it prints the message alone)
"$BERTH_BIN" token create -n default --name tok-ci --scope-map _repositories_pull >"$WORK/tok.txt" 2>/dev/null
TP=$(awk '$1 == "PASSWORD1" {print $2}' "$WORK/tok.txt")
jq -n --arg s "$HOSTPORT" --arg a "$(printf 'tok-ci:%s' "$TP" | base64 -w0)" '{auths: {($s): {auth: $a}}}' \
    >"$REGISTRY_AUTH_FILE"
sk_push "$HOSTPORT/team/app:v3"
expect_match "a pull-only token pushing: skopeo shows what it may and may not do" \
    "tok-ci may not push repository 'team/app' of registry 'default' \(it may only pull\)" "$(cat "$WORK/sk.out")"
"$BERTH_BIN" token update -n default --name tok-ci --status disabled >/dev/null
sk_inspect "$HOSTPORT/team/app:v1"
expect_match "a disabled token: skopeo shows it is disabled" "token 'tok-ci' of registry 'default' is disabled" \
    "$(cat "$WORK/sk.out")"
"$BERTH_BIN" registry update -n default --admin-enabled true >/dev/null
AP=$("$BERTH_BIN" credential renew -n default 2>/dev/null | awk '$1 == "PASSWORD" && $2 != "NAME" {print $2}' | head -n 1)
"$BERTH_BIN" registry update -n default --admin-enabled false >/dev/null
jq -n --arg s "$HOSTPORT" --arg a "$(printf 'default:%s' "$AP" | base64 -w0)" '{auths: {($s): {auth: $a}}}' \
    >"$REGISTRY_AUTH_FILE"
sk_inspect "$HOSTPORT/team/app:v1"
expect_match "the disabled admin user: skopeo shows it is disabled" "admin user is disabled for registry 'default'" \
    "$(cat "$WORK/sk.out")"
rm -f "$REGISTRY_AUTH_FILE"

# ---- 2. TLS with a CA that only the berth session knows
T=$WORK/tls
make_tls "$T"
berth_stop
SCHEME=https BERTH_AUTH=1 berth_start_on 127.0.0.1 --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
PW=$(cat "$DATA/initial-owner-password")
"$BERTH_BIN" auth login --server "https://$HOSTPORT" --ca-file "$T/ca.pem" -u owner --password-stdin <<<"$PW" \
    >/dev/null 2>&1 || fail "berth auth login with the CA"
"$BERTH_BIN" login "$HOSTPORT" >/dev/null 2>&1 || fail "berth login over TLS"
if skopeo inspect "docker://$HOSTPORT/team/app:v1" >"$WORK/sk.out" 2>&1; then
    fail "skopeo (verifying TLS) refuses the unknown CA" "it succeeded"
else
    ok "skopeo (verifying TLS) refuses the unknown CA: $(grep -o 'x509[^"]*' "$WORK/sk.out" | head -n 1)"
fi
expect_hc TLS_UNTRUSTED "check-health judges skopeo's trust, not the CA of the berth session" "$HOSTPORT"
expect_match "  ... saying the session's CA is not skopeo's" "berth session is not theirs" "$HC_MSG"
expect_fix_re "^mkdir -p /etc/containers/certs.d/$HOSTPORT && cp CA.pem /etc/containers/certs.d/$HOSTPORT/ca.crt$"
# the fix, into the per-user folder skopeo reads first (the test does not touch /etc)
HC_FIX=${HC_FIX//\/etc\/containers\/certs.d/$HOME/.config/containers/certs.d}
HC_FIX=${HC_FIX//CA.pem/$T/ca.pem}
FIX=$HC_FIX
HC_CLIENT=berth expect_hc_pass "  ... while berth's own commands (with the session's CA) pass" "$HOSTPORT"
HC_FIX=$FIX HC_CODE=TLS_UNTRUSTED run_fix
check "after the fix skopeo verifies the certificate" sk_inspect "$HOSTPORT/team/app:v1"
check "  ... (with TLS verification on)" skopeo inspect "docker://$HOSTPORT/team/app:v1"
expect_hc_pass "  ... and check-health passes" "$HOSTPORT"
"$BERTH_BIN" logout "$HOSTPORT" >/dev/null 2>&1
berth_stop

# ---- 5. a *.localhost login server that this system does not resolve
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
owner_session
"$BERTH_BIN" registry create -n teamreg1 >/dev/null
if getent hosts teamreg1.localhost >/dev/null; then
    skip "teamreg1.localhost resolves on this system (nss-myhostname): nothing to diagnose"
else
    skopeo login -u owner --password-stdin --tls-verify=false "teamreg1.localhost:$PORT" <<<"$PW" >"$WORK/sk.out" 2>&1
    real_fails "skopeo cannot reach teamreg1.localhost" sk_inspect "teamreg1.localhost:$PORT/team/app:v1"
    expect_hc DNS_RESOLUTION_FAILED "check-health resolves the login server as skopeo does" "teamreg1.localhost:$PORT"
    expect_fix_re "^echo '127.0.0.1 teamreg1.localhost' >> /etc/hosts$"
    HC_CLIENT=berth expect_hc_pass "  ... berth's own commands reach it through the server's address" \
        "teamreg1.localhost:$PORT"
    # -n NAME: the login server the name stands for must resolve too
    expect_hc DNS_RESOLUTION_FAILED "  ... and for -n teamreg1 as well" -n teamreg1 --server "$URL"
    expect_match "  ... naming the concrete login server" "teamreg1.localhost" "$HC_MSG"
fi

# ---- 6. a dead proxy in the environment: Go clients never proxy loopback, libcurl does
"$BERTH_BIN" login "$HOSTPORT" >/dev/null 2>&1
export HTTP_PROXY=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
check "skopeo ignores the dead proxy for 127.0.0.1" sk_inspect "$HOSTPORT/team/app:v1"
expect_hc_pass "check-health for skopeo passes too (no PROXY_FAILED)" "$HOSTPORT"
check "  ... saying why the proxy does not apply" \
    jqq '.checks[] | select(.name == "proxy") | .message | test("never proxy")' <<<"$HC_OUT"
HC_CLIENT=berth expect_hc PROXY_FAILED "  ... while berth's own commands (libcurl) do go through it" "$HOSTPORT"
unset HTTP_PROXY http_proxy HTTPS_PROXY
"$BERTH_BIN" logout "$HOSTPORT" >/dev/null 2>&1

# ---- 8. docker installed, no daemon
REAL_DOCKER=$(PATH=${PATH#"$WORK/bin:"} command -v docker)
if [ -z "$REAL_DOCKER" ]; then
    skip "no docker client on this machine"
else
    rm -f "$WORK/bin/docker"
    export DOCKER_HOST=unix://$WORK/no-daemon.sock
    if "$REAL_DOCKER" pull "$HOSTPORT/team/app:v1" >"$WORK/sk.out" 2>&1; then
        fail "docker pull without a daemon fails" "it succeeded"
    else
        ok "docker pull without a daemon fails: $(head -n 1 "$WORK/sk.out" | cut -c1-120)"
    fi
    HC_STDIN=$WORK/owner-pw
    printf '%s\n' "$PW" >"$HC_STDIN"
    HC_CLIENT=docker expect_hc DOCKER_DAEMON_UNREACHABLE "check-health --client docker: an error" "$HOSTPORT" \
        -u owner --password-stdin
    HC_CLIENT="" expect_hc_warn DOCKER_DAEMON_UNREACHABLE "  ... among podman and skopeo: a warning, not an all-clear" \
        "$HOSTPORT" -u owner --password-stdin
    HC_STDIN=""
    unset DOCKER_HOST
    hc_docker_standin
fi
finish
