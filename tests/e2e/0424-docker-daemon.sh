#!/usr/bin/env bash
# The real docker: Debian's dockerd (vfs, no iptables, no bridge, its own
# socket and folders under the test's) against berth. docker login with a
# password on stdin and with an identity token, push, pull, logout;
# credHelpers naming docker-credential-berth; and check-health judging docker:
# it passes when docker works, and names the cause when docker fails (no
# login, a stale stored password, no daemon). Skipped, with the reason, where
# dockerd cannot start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/health-lib.sh"
work_init
if ! dockerd_start; then
    skip "$DOCKERD_WHY"
    exit 0
fi
# logged CMD...: runs CMD quietly; on failure its output is shown as comments
logged() { "$@" >"$WORK/cmd.out" 2>&1 || { sed 's/^/#   > /' "$WORK/cmd.out" | tail -n 5; return 1; }; }
ok "dockerd $("$DOCKER" version --format '{{.Server.Version}}') answers on its own socket"

BERTH_AUTH=1 berth_start
HC_CLIENT=docker
hc_env
rm -f "$WORK/bin/docker"
ln -s "$DOCKER" "$WORK/bin/docker" # check-health runs this docker, on this daemon
owner_session
PW=$(cat "$DATA/initial-owner-password")
CFG=$DOCKER_CONFIG/config.json
IMG=$HOSTPORT/team/app:v1
# a one-file image, made without a registry
mkdir -p "$WORK/rootfs"
echo "hello from berth" >"$WORK/rootfs/hello.txt"
tar -C "$WORK/rootfs" -c . | "$DOCKER" import - "$IMG" >/dev/null 2>&1 || bail "docker import"

# ---- no login: docker is refused, and check-health says why
if "$DOCKER" push "$IMG" >"$WORK/d.out" 2>&1; then fail "docker push without a login is refused" "it succeeded"
else ok "docker push without a login is refused: $(tail -n 1 "$WORK/d.out" | cut -c1-120)"; fi
expect_hc CREDENTIALS_MISSING "check-health for docker: no credential" "$HOSTPORT" --repository team/app --action push
expect_fix_re "^docker login $HOSTPORT$"

# ---- docker login with the password on stdin: docker keeps an identity token
check "docker login -u owner --password-stdin" logged "$DOCKER" login -u owner --password-stdin "$HOSTPORT" <<<"$PW"
check "  ... config.json holds an identity token, not the password" \
    jqq --arg s "$HOSTPORT" '.auths[$s].identitytoken | length > 100' "$CFG"
check "  ... and not the password" bash -c "! grep -qF '$PW' '$CFG'"
check "docker push" logged "$DOCKER" push "$IMG"
"$DOCKER" rmi "$IMG" >/dev/null 2>&1
check "docker pull" logged "$DOCKER" pull "$IMG"
check "  ... the image's file is there" bash -c "'$DOCKER' save '$IMG' | tar -xO --wildcards '*/layer.tar' | tar -xO ./hello.txt | grep -q 'hello from berth'"
expect_hc_pass "check-health for docker passes with docker's own login" "$HOSTPORT" --repository team/app --action push
check "  ... judging the identity token in docker's config.json" \
    jqq '.checks[] | select(.name == "stored-credentials") | .message | test("identity token in .*config.json")' <<<"$HC_OUT"
check "docker logout" logged "$DOCKER" logout "$HOSTPORT"
check "  ... removes the entry" jqq --arg s "$HOSTPORT" '.auths[$s] == null' "$CFG"

# ---- a stale password stored for docker
jq -n --arg s "$HOSTPORT" --arg a "$(printf 'owner:not-the-password' | base64 -w0)" '{auths: {($s): {auth: $a}}}' >"$CFG"
"$DOCKER" rmi "$IMG" >/dev/null 2>&1
if "$DOCKER" pull "$IMG" >"$WORK/d.out" 2>&1; then fail "docker pull with a stale stored password fails" "it succeeded"
else ok "docker pull with a stale stored password fails: $(tail -n 1 "$WORK/d.out" | cut -c1-120)"; fi
expect_hc STORED_CREDENTIAL_INVALID "check-health for docker: the stored password is refused" "$HOSTPORT"
expect_fix_re "^docker login $HOSTPORT$"
rm -f "$CFG"

# ---- a registry refresh token (berth login --expose-token) as docker's password, with the null GUID
TOKEN=$("$BERTH_BIN" login "$HOSTPORT" --expose-token 2>/dev/null | jq -r .refreshToken // empty)
[ -n "$TOKEN" ] || TOKEN=$(curl -s -u "owner:$PW" "$URL/oauth2/token?service=default.localhost&offline_token=true" |
    jq -r .refresh_token)
check "docker login with the null GUID and a refresh token" logged "$DOCKER" login -u 00000000-0000-0000-0000-000000000000 \
    --password-stdin "$HOSTPORT" <<<"$TOKEN"
"$DOCKER" rmi "$IMG" >/dev/null 2>&1
check "  ... docker pulls with it" logged "$DOCKER" pull "$IMG"
"$DOCKER" logout "$HOSTPORT" >/dev/null 2>&1

# ---- credHelpers naming docker-credential-berth: a fresh token on every use
ln -sf "$BERTH_BIN" "$WORK/bin/docker-credential-berth"
check "berth login --helper" logged "$BERTH_BIN" login "$HOSTPORT" --helper
check "  ... config.json names the helper for the server" jqq --arg s "$HOSTPORT" '.credHelpers[$s] == "berth"' "$CFG"
"$DOCKER" rmi "$IMG" >/dev/null 2>&1
check "docker pulls through docker-credential-berth" logged "$DOCKER" pull "$IMG"
check "docker pushes through it" logged "$DOCKER" push "$IMG"
expect_hc_pass "check-health for docker passes through the helper" "$HOSTPORT" --repository team/app --action push
check "  ... naming the helper" \
    jqq '.checks[] | select(.name == "stored-credentials") | .message | test("docker-credential-berth")' <<<"$HC_OUT"
check "berth logout removes the helper entry" logged "$BERTH_BIN" logout "$HOSTPORT"

# ---- the daemon stops: docker is the client, so that is an error
kill -TERM "$DOCKERD_PID"
for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
if "$DOCKER" pull "$IMG" >"$WORK/d.out" 2>&1; then fail "docker pull without its daemon fails" "it succeeded"
else ok "docker pull without its daemon fails"; fi
expect_hc DOCKER_DAEMON_UNREACHABLE "check-health --client docker without the daemon" "$HOSTPORT"
finish
