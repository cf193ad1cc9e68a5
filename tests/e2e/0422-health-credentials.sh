#!/usr/bin/env bash
# berth check-health, the credentials: the admin user disabled; a wrong
# password (the exact reason read from the login log with the owner's session;
# without one, INVALID_CREDENTIALS), and a token given with a user name; a
# service principal's secret that expired (made to expire in 3 s through the
# API); a disabled repository token and one whose password expired (3 s,
# through the API); an old password stored by docker login; a credential from
# docker-credential-berth; another registry's identity token; a stored
# identity token revoked by a password change; a berth session revoked the
# same way; a user without AcrPush asked about a push; stale stored
# credentials while anonymous pull is on (valid ones are fine); too many
# failed logins (a 5 s lockout); a stored identity token that expired (5 s
# refresh tokens). Each fix is run as printed (with the password on stdin
# where it asks for one, and the new secret a reset printed) and check-health
# passes afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/health-lib.sh"
BERTH_AUTH=1 berth_start --login-failures 3 --login-window 60 --login-lockout 5
hc_env
owner_session
B=$BERTH_BIN
CFG=$DOCKER_CONFIG/config.json
GUID=00000000-0000-0000-0000-000000000000
pwfile() { printf '%s\n' "$1" >"$WORK/pw"; HC_STDIN=$WORK/pw; }
mkuser() { "$B" user create "$1" --password-stdin <<<"$2" >/dev/null 2>&1 || bail "create user $1"; }
# stored_case CODE DESC MESSAGE_RE: config.json holds a refused credential for the server: check-health
# (judging docker, podman and skopeo, which all read it) says CODE and a message matching MESSAGE_RE;
# the fix is 'docker login', which asks for a password: the test logs in with berth instead, which
# writes the same entry, and check-health passes.
stored_case() {
    expect_hc "$1" "$2" "$HOSTPORT"
    expect_match "  ... the message says where or why" "$3" "$HC_MSG"
    expect_fix_re "^docker login $HOSTPORT$"
    "$B" login "$HOSTPORT" >/dev/null 2>&1
    expect_hc_pass "after logging in again check-health passes" "$HOSTPORT"
    "$B" logout "$HOSTPORT" >/dev/null 2>&1
    rm -f "$CFG" "$REGISTRY_AUTH_FILE"
}

# ---- the admin user is disabled
"$B" registry update -n default --admin-enabled true >/dev/null
ADMIN_PW=$("$B" credential renew -n default 2>/dev/null | awk '$1 == "PASSWORD" && $2 != "NAME" {print $2}')
"$B" registry update -n default --admin-enabled false >/dev/null
pwfile "$ADMIN_PW"
expect_hc ADMIN_USER_DISABLED "the admin user 'default' while it is disabled" "$HOSTPORT" -u default --password-stdin
expect_fix_re "^berth registry update -n default --admin-enabled true$"
run_fix
expect_hc_pass "after the fix the admin user passes" "$HOSTPORT" -u default --password-stdin

# ---- a wrong password: the fix is check-health again, reading the password from stdin
mkuser bob bob-password-1234
HC_STDIN=""
expect_hc WRONG_PASSWORD "bob with a wrong password" "$HOSTPORT" -u bob -p not-bobs-password
expect_match "  ... the server's reason (BAD_SECRET) is reported" "BAD_SECRET" "$HC_MSG"
check "  ... the fix never shows the password" bash -c "! grep -q not-bobs-password <<<\"\$1\"" _ "$HC_FIX"
expect_fix_re "--password-stdin$"
run_fix bob-password-1234
# a registry token given as bob's password: tokens go with the null GUID
EXPOSED=$("$B" login "$HOSTPORT" --expose-token 2>/dev/null | jq -r .accessToken)
pwfile "$EXPOSED"
expect_hc TOKEN_NEEDS_NULL_GUID "an exposed token as the password of -u bob" "$HOSTPORT" -u bob --password-stdin
expect_fix_re "-u $GUID --password-stdin$"
run_fix "$EXPOSED"
HC_STDIN=""
hc "$HOSTPORT" -u bob -p not-bobs-password --ignore-errors --repository team/app
check "  ... with --ignore-errors the permission is not asked without a working credential" \
    jqq '.checks[-1] | .name == "permission" and .code == "PERMISSION_NOT_CHECKED"' <<<"$HC_OUT"
expect_hc WRONG_PASSWORD "a user name nobody has" "$HOSTPORT" -u nobody-here -p whatever-password
expect_match "  ... UNKNOWN_PRINCIPAL" "UNKNOWN_PRINCIPAL" "$HC_MSG"
# the server tells a stranger only INVALID_CREDENTIALS; the owner's session read the exact reason from the log
BERTH_CONFIG_DIR=$WORK/cfg-none expect_hc WRONG_PASSWORD "without a session, a wrong password" "$HOSTPORT" \
    -u bob -p not-bobs-password
expect_match "  ... says the name or the password is wrong" "name or the password of 'bob'.*INVALID_CREDENTIALS" "$HC_MSG"

# ---- a service principal's secret that expired
SP=$("$B" sp create --expiry "$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%SZ)" --json 2>/dev/null)
APPID=$(jq -r .appId <<<"$SP")
pwfile "$(jq -r .secret.value <<<"$SP")"
sleep 4
expect_hc SECRET_EXPIRED "a client secret 4 s after it expired" "$HOSTPORT" -u "$APPID" --password-stdin
expect_match "  ... with its date" "expired at 20[0-9-]+T" "$HC_MSG"
expect_fix_re "^berth sp credential reset $APPID$"
run_fix
NEWSECRET=$(awk '$1 == "SECRET" {print $2}' <<<"$FIX_OUT")
pwfile "$NEWSECRET"
expect_hc_pass "the secret the fix printed passes" "$HOSTPORT" -u "$APPID" --password-stdin

# ---- a disabled repository token
TOK=$("$B" token create -n default --name tok-ci --repository team/app content/read 2>/dev/null)
pwfile "$(awk '$1 == "PASSWORD1" {print $2}' <<<"$TOK")"
"$B" token update -n default --name tok-ci --status disabled >/dev/null
expect_hc TOKEN_DISABLED "repository token tok-ci while disabled" "$HOSTPORT" -u tok-ci --password-stdin
expect_fix_re "^berth token update -n default --name tok-ci --status enabled$"
run_fix
expect_hc_pass "after the fix the token passes" "$HOSTPORT" -u tok-ci --password-stdin
# its password1 made to expire in 3 s through the API
EXP=$(curl -s -u "owner:$PW" -H 'Content-Type: application/json' \
    --data "{\"name\":\"password1\",\"expiry\":\"$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%SZ)\"}" \
    "$URL/api/v1/registries/default/tokens/tok-ci/generateCredentials")
pwfile "$(jq -r '.passwords[0].value' <<<"$EXP")"
sleep 4
expect_hc TOKEN_PASSWORD_EXPIRED "tok-ci's password1 4 s after it expired" "$HOSTPORT" -u tok-ci --password-stdin
expect_match "  ... with its date" "expired at 20[0-9-]+T" "$HC_MSG"
expect_fix_re "^berth token credential generate -n default --name tok-ci --password1$"
run_fix
pwfile "$(awk '$1 == "PASSWORD" {print $2}' <<<"$FIX_OUT")"
expect_hc_pass "the password the fix printed passes" "$HOSTPORT" -u tok-ci --password-stdin

# ---- a user without AcrPush asks about a push: the server's explanation and fix
mkuser erin erin-password-1234
"$B" role assignment create --assignee erin --role AcrPull --scope /registries/default >/dev/null
pwfile erin-password-1234
expect_hc PERMISSION_DENIED "erin (AcrPull) and --action push" "$HOSTPORT" -u erin --password-stdin \
    --repository team/app --action push
expect_match "  ... the cause names the missing right" "content/write" "$HC_MSG"
expect_fix_re "^berth role assignment create --assignee erin --role AcrPush"
run_fix
expect_hc_pass "after the fix erin may push" "$HOSTPORT" -u erin --password-stdin --repository team/app --action push
check "  ... and the permission line names both grants in words" \
    jqq '.checks[-1].message | test("granted by AcrPull on /registries/default, AcrPush on /registries/default/repositories/team/app")' <<<"$HC_OUT"
expect_hc_pass "  ... and pull" "$HOSTPORT" -u erin --password-stdin --repository team/app --action pull
expect_hc PERMISSION_DENIED "erin (AcrPull, AcrPush) about to manage the registry (--action manage)" "$HOSTPORT" \
    -u erin --password-stdin --action manage
expect_match "  ... saying she holds no role on the registry itself" "no role on it" "$HC_MSG"
expect_fix_re "^berth role assignment create --assignee erin --role Contributor --scope /registries/default$"
run_fix
expect_hc_pass "after the fix erin may manage it" "$HOSTPORT" -u erin --password-stdin --action manage
HC_STDIN=""

# ---- from here the clients are judged: what docker, podman and skopeo hold
HC_CLIENT=""

# ---- an identity token stored by 'docker login' (offline_token), revoked by a password change
mkuser dave dave-password-1234
RT=$(curl -s -u dave:dave-password-1234 "$URL/oauth2/token?service=default.localhost&offline_token=true" | jq -r .refresh_token)
jq -n --arg s "$HOSTPORT" --arg a "$(printf '%s:' "$GUID" | base64 -w0)" --arg t "$RT" \
    '{auths: {($s): {auth: $a, identitytoken: $t}}}' >"$CFG"
expect_hc_pass "the identity token docker stored works" "$HOSTPORT"
"$B" user password dave --password-stdin <<<"dave-password-5678" >/dev/null
stored_case REFRESH_TOKEN_REVOKED "after dave's password changed" "config.json"

# ---- a user name and an old password stored by 'docker login'
mkuser ivan ivan-password-1234
jq -n --arg s "$HOSTPORT" --arg a "$(printf 'ivan:ivan-old-password' | base64 -w0)" '{auths: {($s): {auth: $a}}}' >"$CFG"
stored_case STORED_CREDENTIAL_INVALID "ivan's old password stored in config.json" "config.json"

# ---- something that is not a token stored as an identity token: the server's own words
jq -n --arg s "$HOSTPORT" '{auths: {($s): {auth: "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==", identitytoken: "not-a-token"}}}' \
    >"$CFG"
stored_case CREDENTIAL_REJECTED "identitytoken 'not-a-token'" "refused: .*MALFORMED"

# ---- the credential helper: what docker-credential-berth gives is checked and works
ln -s "$BERTH_BIN" "$WORK/bin/docker-credential-berth"
"$B" login "$HOSTPORT" --helper >/dev/null 2>&1
expect_hc_pass "credHelpers names berth for the server" "$HOSTPORT"
check "  ... the stored credential came from the helper" \
    jqq '.checks[] | select(.name == "stored-credentials") | .message | test("from docker-credential-berth")' \
    <<<"$HC_OUT"
"$B" logout "$HOSTPORT" >/dev/null 2>&1
rm -f "$CFG" "$REGISTRY_AUTH_FILE"

# ---- an identity token of another registry stored for this one
"$B" registry create -n otherreg >/dev/null
RT=$(curl -s -u "owner:$PW" -H "Host: otherreg.localhost:$PORT" \
    "$URL/oauth2/token?service=otherreg.localhost&offline_token=true" | jq -r .refresh_token)
jq -n --arg s "$HOSTPORT" --arg a "$(printf '%s:' "$GUID" | base64 -w0)" --arg t "$RT" \
    '{auths: {($s): {auth: $a, identitytoken: $t}}}' >"$CFG"
stored_case WRONG_AUDIENCE "otherreg's identity token stored for the default registry" "otherreg.*default"

# ---- a berth session whose refresh token was revoked (the user's password changed)
mkuser hank hank-password-1234
"$B" role assignment create --assignee hank --role AcrPull --scope /registries/default >/dev/null
(
    export BERTH_CONFIG_DIR=$WORK/cfg-hank HC_CLIENT=berth
    "$B" auth login --server "$URL" -u hank --password-stdin <<<"hank-password-1234" >/dev/null 2>&1
    expect_hc_pass "hank's own session passes" "$HOSTPORT"
    BERTH_CONFIG_DIR=$WORK/cfg "$B" user password hank --password-stdin <<<"hank-password-5678" >/dev/null
    expect_hc REFRESH_TOKEN_REVOKED "hank's session after his password changed" "$HOSTPORT"
    expect_fix_re "^berth auth login --server $URL -u hank --password-stdin$"
    run_fix hank-password-5678
    expect_hc_pass "after logging in again check-health passes" "$HOSTPORT"
    echo "$N_OK $N_FAIL" >"$WORK/sub.counts"
)
read -r a b <"$WORK/sub.counts"
N_OK=$a N_FAIL=$b

# ---- stored credentials while anonymous pull is on
mkuser frank frank-password-1234
"$B" login "$HOSTPORT" -u frank -p frank-password-1234 >/dev/null 2>&1
"$B" registry update -n default --anonymous-pull-enabled true >/dev/null
expect_hc_pass "frank's working login with anonymous pull on passes" "$HOSTPORT"
"$B" user password frank --password-stdin <<<"frank-password-5678" >/dev/null
expect_hc STORED_CREDENTIAL_OVERRIDES_ANONYMOUS "frank's stale login with anonymous pull on (an error)" "$HOSTPORT"
expect_match "  ... saying the server refuses it" "refuses" "$HC_MSG"
expect_fix_re "^berth logout $HOSTPORT$"
run_fix
expect_hc_pass "after logging out, anonymous pull passes" "$HOSTPORT" --repository team/app --action pull
"$B" registry update -n default --anonymous-pull-enabled false >/dev/null

# ---- too many failed logins: the fix waits
mkuser gina gina-password-1234
for _ in 1 2 3; do curl -s -o /dev/null -u gina:wrong-password "$URL/oauth2/token?service=default.localhost"; done
pwfile gina-password-1234
expect_hc TOO_MANY_FAILURES "gina after 3 failures (the right password now)" "$HOSTPORT" -u gina --password-stdin
expect_match "  ... saying how long to wait" "for [1-5] s more" "$HC_MSG"
expect_fix_re "^sleep [1-5]$"
run_fix
expect_hc_pass "after waiting gina passes" "$HOSTPORT" -u gina --password-stdin
HC_STDIN=""

# ---- a stored identity token that expired (refresh tokens live 5 s)
berth_stop
BERTH_AUTH=1 berth_start --refresh-ttl 5 --access-ttl 5 --leeway 0
owner_session
"$B" login "$HOSTPORT" >/dev/null 2>&1 || fail "berth login on the 5 s server"
expect_hc_pass "a fresh identity token passes" "$HOSTPORT" --leeway 0
sleep 7
expect_hc STORED_CREDENTIAL_EXPIRED "the identity token 7 s later" "$HOSTPORT" --leeway 0
expect_fix_re "^berth login $HOSTPORT$"
run_fix
expect_hc_pass "after 'berth login' it passes" "$HOSTPORT" --leeway 0
finish
