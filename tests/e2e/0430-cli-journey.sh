#!/usr/bin/env bash
# The whole CLI journey with only the CLI: the owner creates a user, a
# service principal, a repository token with a scope map, role assignments
# and network rules; each identity logs in its own way (berth auth login and
# berth login, the service principal, the token with -u/-p, the credential
# helper); skopeo and podman push and pull with nothing but what berth wrote,
# and each identity can do exactly what it was granted.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
unset XDG_RUNTIME_DIR XDG_CONFIG_HOME
mkdir -p "$WORK/bin"
ln -s "$BERTH_BIN" "$WORK/bin/docker-credential-berth"
export PATH=$WORK/bin:$PATH
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$WORK/sanitizer UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$WORK/sanitizer

# as WHO COMMAND...: runs berth with WHO's own config folders (berth session, docker, podman).
as() {
    local who=$1
    shift
    mkdir -p "$WORK/$who/docker"
    BERTH_CONFIG_DIR=$WORK/$who/cfg DOCKER_CONFIG=$WORK/$who/docker REGISTRY_AUTH_FILE=$WORK/$who/auth.json "$@"
}
# step DESC WHO ARGS...: a berth command as WHO that must succeed; its stdout in $OUT.
step() {
    local desc=$1 who=$2
    shift 2
    if OUT=$(as "$who" "$BERTH_BIN" "$@" 2>"$WORK/step.err"); then
        ok "$desc"
    else
        fail "$desc" "$(cat "$WORK/step.err")" "$OUT"
        return 1
    fi
}
# copy WHO SRC DST: skopeo as WHO with only what berth wrote (auth.json).
copy() {
    as "$1" skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "$2" "$3" >"$WORK/copy.out" 2>&1
}
make_oci_layout "$WORK/layout" 2 >/dev/null

# ---- the owner sets everything up
step "the owner logs in (berth auth login --password-stdin)" owner auth login --server "$URL" -u owner --password-stdin <<<"$PW"
step "berth user create alice" owner user create alice --json
ALICE_PW=$(jq -r .password <<<"$OUT")
step "berth sp create" owner sp create --description ci --json
SP_ID=$(jq -r .appId <<<"$OUT")
SP_SECRET=$(jq -r '.secret.value // .password // .value' <<<"$OUT")
check "the service principal has an app id and a secret" test -n "$SP_ID" -a "$SP_ID" != null -a -n "$SP_SECRET" -a "$SP_SECRET" != null
step "alice gets AcrPush on team/ of the default registry" owner role assignment create --assignee alice --role AcrPush \
    --scope /registries/default/repositories/team
step "the service principal gets AcrPull on the registry" owner role assignment create --assignee "$SP_ID" --role AcrPull \
    --scope /registries/default
step "a token with a scope map for ci/* (read and write)" owner token create -n default --name ci-pusher \
    --repository 'ci/*' content/read content/write metadata/read --json
TOK_PW=$(jq -r '.credentials.passwords[0].value' <<<"$OUT")
check "the token's password is shown once" test -n "$TOK_PW" -a "$TOK_PW" != null
step "default Deny with an allow rule for 127.0.0.1" owner registry update -n default --default-action Deny
step "berth network-rule add 127.0.0.1" owner network-rule add -n default --ip-address 127.0.0.1
step "berth network-rule list" owner network-rule list -n default --json
check "the rule is listed" bash -c "jq -e '[.. | strings | select(. == \"127.0.0.1\" or . == \"127.0.0.1/32\")] | length >= 1' <<<'$OUT' >/dev/null"

# ---- alice: a directory user, berth auth login then berth login
step "alice logs in to the server" alice auth login --server "$URL" -u alice -p "$ALICE_PW"
step "alice: berth login $HOSTPORT" alice login "$HOSTPORT"
check "alice pushes team/app with what berth login wrote" copy alice "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/app:1"
check "alice pulls it back" copy alice "docker://$HOSTPORT/team/app:1" "oci:$WORK/alice-pull:1"
if copy alice "oci:$WORK/layout:latest" "docker://$HOSTPORT/other/app:1"; then
    fail "alice cannot push outside team/"
else
    ok "alice cannot push outside team/"
fi

# ---- the service principal: berth auth login --service-principal, then berth login
step "the service principal logs in" sp auth login --server "$URL" --service-principal -u "$SP_ID" -p "$SP_SECRET"
step "sp: berth login $HOSTPORT" sp login "$HOSTPORT"
check "the service principal pulls team/app" copy sp "docker://$HOSTPORT/team/app:1" "oci:$WORK/sp-pull:1"
if copy sp "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/app:2"; then
    fail "the service principal (AcrPull) cannot push"
else
    ok "the service principal (AcrPull) cannot push"
fi

# ---- the repository token: berth login -u/-p, no session at all
step "the token: berth login -u ci-pusher -p ..." token login "$HOSTPORT" -u ci-pusher -p "$TOK_PW"
check "the token pushes ci/app" copy token "oci:$WORK/layout:latest" "docker://$HOSTPORT/ci/app:1"
if copy token "docker://$HOSTPORT/team/app:1" "oci:$WORK/tok-pull:1"; then
    fail "the token cannot pull team/app (not in its scope map)"
else
    ok "the token cannot pull team/app (not in its scope map)"
fi

# ---- the credential helper, and podman
step "alice: berth login --helper" alice login "$HOSTPORT" --helper
check "credHelpers names berth in auth.json or config.json" \
    bash -c "cat '$WORK/alice/auth.json' '$WORK/alice/docker/config.json' 2>/dev/null | grep -q '\"berth\"'"
check "alice pushes through the credential helper" copy alice "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/app:3"
PR=/tmp/berth-pr.$$
if podman --version >/dev/null 2>&1 && podman --storage-driver vfs --root "$WORK/pr" --runroot "$PR" info >/dev/null 2>&1; then
    CLEAN_DIRS+=("$PR")
    P=(podman --storage-driver vfs --root "$WORK/pr" --runroot "$PR")
    check "podman pulls as alice with what berth wrote" \
        as alice "${P[@]}" pull -q --tls-verify=false "$HOSTPORT/team/app:3"
    check "podman pushes as alice" as alice "${P[@]}" push -q --tls-verify=false "$HOSTPORT/team/app:3" "$HOSTPORT/team/podman:1"
else
    skip "podman cannot run here"
fi

# ---- network rules: a client from another address is refused
if curl -s -o /dev/null --interface 127.0.0.2 "$URL/v2/" 2>/dev/null; then
    code=$(curl -s -o "$WORK/deny.json" -w '%{http_code}' --interface 127.0.0.2 -u "alice:$ALICE_PW" "http://127.0.0.1:$PORT/v2/")
    expect_eq "a client from 127.0.0.2 is refused by the network rules" 403 "$code"
    check "naming its IP" grep -q '127.0.0.2' "$WORK/deny.json"
    step "berth network-rule remove" owner network-rule remove -n default --ip-address 127.0.0.1
    code=$(curl -s -o /dev/null -w '%{http_code}' -u "alice:$ALICE_PW" "$URL/v2/")
    expect_eq "with no rule left, default Deny refuses 127.0.0.1 too" 403 "$code"
    step "default Allow again" owner registry update -n default --default-action Allow
else
    skip "cannot send from 127.0.0.2 here"
fi

# ---- a login server this server does not serve is refused, naming what to use
if OUT=$(as alice "$BERTH_BIN" login 127.0.0.1:1 2>&1); then
    fail "berth login to another server's address is refused" "$OUT"
else
    expect_match "berth login to another server's address is refused, naming the right one" \
        "not a login server of .*use its own address '$HOSTPORT'" "$OUT"
fi

# ---- the owner reads the login log through the CLI
step "berth logs login --identity alice --json" owner logs login -n default --identity alice --json
check "alice's logins are in the log" bash -c "grep -q '\"identity\":\"alice\"' <<<'$OUT'"

reports=$(cat "$WORK"/sanitizer.* 2>/dev/null | head -20)
expect_eq "no sanitizer reports from the CLI" "" "$reports"
finish
