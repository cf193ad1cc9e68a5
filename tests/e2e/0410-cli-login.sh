#!/usr/bin/env bash
# berth login / logout and docker-credential-berth with real clients:
# skopeo and podman push and pull with nothing but what 'berth login' wrote;
# foreign entries and keys of config.json survive and logout restores the
# file exactly; --expose-token feeds 'podman login'; the helper protocol on
# stdin/stdout; refresh tokens that live 5 s: a stored identity token
# expires, the credential helper keeps working; bad input and a server that
# is down.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
GUID=00000000-0000-0000-0000-000000000000

export BERTH_CONFIG_DIR=$WORK/cfg DOCKER_CONFIG=$WORK/docker REGISTRY_AUTH_FILE=$WORK/auth.json
unset XDG_RUNTIME_DIR XDG_CONFIG_HOME
mkdir -p "$WORK/bin" "$DOCKER_CONFIG"
ln -s "$BERTH_BIN" "$WORK/bin/docker-credential-berth"
export PATH=$WORK/bin:$PATH
# Sanitizer reports of the CLI (a sanitizer build) land in files checked at the end.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$WORK/sanitizer UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$WORK/sanitizer
CFG=$DOCKER_CONFIG/config.json
berth() { "$BERTH_BIN" "$@"; }
# quiet COMMAND...: COMMAND with its stdout dropped (for checks).
quiet() { "$@" >/dev/null; }
# only_authjson / only_config COMMAND...: a client that sees podman's auth.json, or docker's config.json, alone.
mkdir -p "$WORK/empty"
echo '{}' >"$WORK/empty/auth.json"
only_authjson() { DOCKER_CONFIG=$WORK/empty "$@"; }
only_config() { REGISTRY_AUTH_FILE=$WORK/empty/auth.json "$@"; }

# session_login: 'berth auth login' as the owner, against the current server.
session_login() {
    if berth auth login --server "$URL" -u owner --password-stdin <<<"$PW" >"$WORK/auth-login.out" 2>&1; then
        ok "berth auth login as the owner (--password-stdin) on $HOSTPORT"
    else
        bail "berth auth login as the owner (--password-stdin) on $HOSTPORT" "$(cat "$WORK/auth-login.out")"
    fi
}

# run_out DESC WANT_RC COMMAND...: runs COMMAND, output in $OUT; one check of its exit status.
run_out() {
    local desc=$1 want=$2 rc
    shift 2
    OUT=$("$@" 2>&1)
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$desc"; else fail "$desc" "exit status $rc, wanted $want" "$OUT"; fi
}

# fails_with DESC REGEX COMMAND...: COMMAND fails and says REGEX.
fails_with() {
    local desc=$1 re=$2 out
    shift 2
    if out=$("$@" 2>&1); then
        fail "$desc" "the command succeeded: $out"
    elif [[ $out =~ $re ]]; then
        ok "$desc"
    else
        fail "$desc" "expected the error to match: $re" "got: $(echo "$out" | tail -n 3)"
    fi
}

session_login

# ---- a config.json that already holds someone else's login and a key berth does not know
cat >"$CFG" <<'EOF'
{
	"auths": {
		"registry.example.com": {"auth": "dXNlcjpwYXNz", "email": "me@example.com"}
	},
	"credHelpers": {"gcr.io": "notinstalled"},
	"psFormat": "table {{.ID}}",
	"proxies": {"default": {"httpProxy": "http://proxy:3128"}}
}
EOF
cp "$CFG" "$WORK/config.orig"

run_out "berth login 127.0.0.1:$PORT" 0 berth login "$HOSTPORT"
expect_match "it says Login Succeeded" '^Login Succeeded$' "$(echo "$OUT" | tail -n 1)"
expect_match "it warns that config.json's credHelpers names docker-credential-notinstalled, which is not installed" \
    'warning: .*credHelpers\["gcr.io"\] names docker-credential-notinstalled, which is not on PATH' "$OUT"
want_auth=$(printf '%s:' "$GUID" | base64 -w0)
expect_eq "config.json: auth is base64 of the null GUID and a colon" "$want_auth" \
    "$(jq -r --arg s "$HOSTPORT" '.auths[$s].auth' "$CFG")"
RT=$(jq -r --arg s "$HOSTPORT" '.auths[$s].identitytoken' "$CFG")
expect_match "config.json: identitytoken is a registry refresh token (a JWT)" '^ey[^.]+\.[^.]+\.[^.]+$' "$RT"
expect_eq "config.json is mode 0600" 600 "$(stat -c %a "$CFG")"
expect_eq "auth.json holds the same entry" "$(jq -c --arg s "$HOSTPORT" '.auths[$s]' "$CFG")" \
    "$(jq -c --arg s "$HOSTPORT" '.auths[$s]' "$REGISTRY_AUTH_FILE" 2>/dev/null)"
expect_eq "the other login and the unknown keys are kept" "$(jq -S . "$WORK/config.orig")" \
    "$(jq -S --arg s "$HOSTPORT" 'del(.auths[$s])' "$CFG")"
expect_eq "no temp files are left beside config.json" "config.json" "$(ls -A "$DOCKER_CONFIG" | tr '\n' ' ' | sed 's/ $//')"

# ---- skopeo and podman with what berth login wrote
make_oci_layout "$WORK/layout" 2 >/dev/null
check "skopeo pushes with the identity token in auth.json alone" \
    only_authjson skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/app:v1"
check "skopeo pulls it back with config.json alone (docker's file)" \
    only_config skopeo copy -q --src-tls-verify=false "docker://$HOSTPORT/team/app:v1" "oci:$WORK/pulled:v1"
PODMAN_OK=0
PR=/tmp/berth-pr.$$
if podman --version >/dev/null 2>&1 && podman --storage-driver vfs --root "$WORK/pr" --runroot "$PR" info >/dev/null 2>&1; then
    PODMAN_OK=1
    P=(podman --storage-driver vfs --root "$WORK/pr" --runroot "$PR")
    CLEAN_DIRS+=("$PR")
    check "podman pulls with the stored identity token" quiet "${P[@]}" pull -q --tls-verify=false "$HOSTPORT/team/app:v1"
    check "podman pushes with it" quiet "${P[@]}" push -q --tls-verify=false "$HOSTPORT/team/app:v1" "$HOSTPORT/team/copy:v1"
else
    skip "podman cannot run here"
fi

# ---- --expose-token
cp "$CFG" "$WORK/config.before-expose"
run_out "berth login --expose-token" 0 berth login "$HOSTPORT" --expose-token
check "it prints loginServer, accessToken, username (null GUID) and expiresOn" quiet jq -e --arg s "$HOSTPORT" --arg g "$GUID" \
    '.loginServer == $s and (.accessToken|test("^ey")) and .username == $g and (.expiresOn|test("^[0-9-]+T[0-9:]+Z$"))' \
    <<<"$OUT"
check "--expose-token writes nothing" cmp -s "$CFG" "$WORK/config.before-expose"
jq -r .accessToken <<<"$OUT" >"$WORK/exposed.token" 2>/dev/null
if [ "$PODMAN_OK" = 1 ]; then
    LOGIN=("${P[@]}" login)
else
    LOGIN=(skopeo login)
fi
# (podman login refuses to run while another file it reads holds an identity token for the server)
check "${LOGIN[0]} login -u <null GUID> --password-stdin with the exposed token" \
    quiet env DOCKER_CONFIG="$WORK/empty" REGISTRY_AUTH_FILE="$WORK/exposed.json" "${LOGIN[@]}" --authfile "$WORK/exposed.json" --tls-verify=false -u "$GUID" --password-stdin "$HOSTPORT" \
    <"$WORK/exposed.token"
check "skopeo pulls with that login only" quiet env DOCKER_CONFIG="$WORK/empty" REGISTRY_AUTH_FILE="$WORK/exposed.json" skopeo copy -q --src-tls-verify=false --authfile "$WORK/exposed.json" \
    "docker://$HOSTPORT/team/app:v1" "oci:$WORK/pulled-exposed:v1"

# ---- the credential helper protocol
run_out "docker-credential-berth get for the server's host:port" 0 bash -c "echo $HOSTPORT | docker-credential-berth get"
check "get answers ServerURL, the null GUID and a fresh refresh token" quiet jq -e --arg s "$HOSTPORT" --arg g "$GUID" \
    '.ServerURL == $s and .Username == $g and (.Secret|test("^ey[^.]+\\.[^.]+\\.[^.]+$"))' <<<"$OUT"
SECRET1=$(jq -r .Secret <<<"$OUT" 2>/dev/null)
check "get with a scheme and a trailing slash finds the same server" \
    quiet bash -c "echo 'http://$HOSTPORT/' | docker-credential-berth get | jq -e '.ServerURL == \"$HOSTPORT\"'"
sleep 1
check "every get mints a new token" quiet bash -c "test \"\$(echo $HOSTPORT | docker-credential-berth get | jq -r .Secret)\" != '$SECRET1'"
req GET "/oauth2/token?service=$HOSTPORT&scope=repository:team/app:pull" -u "$GUID:$SECRET1"
expect_status 200 "the helper's token gets an access token with the null GUID"
run_out "get for an unknown server exits 1" 1 bash -c "echo unknown.example:5000 | docker-credential-berth get"
expect_eq "and says exactly what docker expects on stdout" "credentials not found in native keychain" "$OUT"
check "store keeps a credential for another server" \
    quiet bash -c "echo '{\"ServerURL\":\"https://other.example:5000\",\"Username\":\"bob\",\"Secret\":\"s3cret\"}' | docker-credential-berth store"
check "get returns it" quiet bash -c "echo other.example:5000 | docker-credential-berth get | jq -e '.Username == \"bob\" and .Secret == \"s3cret\"'"
check "the helper store is mode 0600" test "$(stat -c %a "$BERTH_CONFIG_DIR/helper-store.json")" = 600
check "list names it with its user" quiet bash -c "docker-credential-berth list | jq -e '.[\"other.example:5000\"] == \"bob\"'"
check "berth credential-helper is the same helper" \
    quiet bash -c "echo other.example:5000 | '$BERTH_BIN' credential-helper get | jq -e '.Secret == \"s3cret\"'"
check "erase removes it" quiet bash -c "echo other.example:5000 | docker-credential-berth erase && ! (echo other.example:5000 | docker-credential-berth get)"
fails_with "store with a payload lacking Secret is refused" 'Secret' \
    bash -c "echo '{\"ServerURL\":\"x\",\"Username\":\"u\"}' | docker-credential-berth store"

# ---- logout
run_out "berth logout 127.0.0.1:$PORT" 0 berth logout "$HOSTPORT"
expect_eq "config.json is what it was before berth login (jq -S)" "$(jq -S . "$WORK/config.orig")" "$(jq -S . "$CFG")"
check "auth.json no longer has the server" quiet bash -c "! test -e '$REGISTRY_AUTH_FILE' || ! jq -e --arg s '$HOSTPORT' '.auths[\$s]' '$REGISTRY_AUTH_FILE'"
if skopeo inspect --tls-verify=false "docker://$HOSTPORT/team/app:v1" >/dev/null 2>&1; then
    fail "after logout skopeo is refused"
else
    ok "after logout skopeo is refused"
fi
run_out "a second logout says it is not logged in, exit 0" 0 berth logout "$HOSTPORT"
expect_match "  ... naming the server" "Not logged in to $HOSTPORT" "$OUT"

# ---- -u/-p: the credential is checked, then stored as user:password
fails_with "berth login -u owner -p <wrong> fails, saying why" 'failed.*(invalid username or password|BAD_SECRET)' \
    berth login "$HOSTPORT" -u owner -p wrong
check "and writes nothing" test "$(jq -S . "$WORK/config.orig")" = "$(jq -S . "$CFG")"
run_out "berth login -u owner --password-stdin" 0 bash -c "'$BERTH_BIN' login $HOSTPORT -u owner --password-stdin <<<'$PW'"
expect_eq "config.json: auth is base64 of owner:password" "$(printf 'owner:%s' "$PW" | base64 -w0)" \
    "$(jq -r --arg s "$HOSTPORT" '.auths[$s].auth' "$CFG")"
check "skopeo pushes with it" skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/app:v2"
run_out "logout after a -u login" 0 berth logout "$HOSTPORT"
expect_eq "restores config.json again" "$(jq -S . "$WORK/config.orig")" "$(jq -S . "$CFG")"

# ---- another registry by its resource name, and its admin user
quiet berth registry create -n teamreg1 --admin-enabled true
APW=$(berth credential renew -n teamreg1 --json 2>/dev/null | jq -r '.passwords[0].value')
run_out "berth login -n teamreg1 --expose-token" 0 berth login -n teamreg1 --expose-token
expect_eq "  ... names the login server teamreg1.localhost:$PORT" "teamreg1.localhost:$PORT" "$(jq -r .loginServer <<<"$OUT" 2>/dev/null)"
req GET "http://teamreg1.localhost:$PORT/v2/" --connect-to "teamreg1.localhost:$PORT:$HOSTPORT" \
    -u "$GUID:$(jq -r .accessToken <<<"$OUT" 2>/dev/null)"
expect_status 200 "  ... and its token opens teamreg1's /v2/"
fails_with "berth login with teamreg1's admin user and a wrong password fails" "login to teamreg1.localhost:$PORT as 'teamreg1' failed" \
    berth login teamreg1.localhost -u teamreg1 -p wrong
run_out "berth login teamreg1.localhost -u teamreg1 -p <admin password> (the port is the server's)" 0 \
    berth login teamreg1.localhost -u teamreg1 -p "$APW" --docker-only
expect_eq "  ... stores teamreg1:<password> under teamreg1.localhost:$PORT" "$(printf 'teamreg1:%s' "$APW" | base64 -w0)" \
    "$(jq -r --arg s "teamreg1.localhost:$PORT" '.auths[$s].auth' "$CFG")"
run_out "berth login -n teamreg1 -u teamreg1 (the session finds the login server)" 0 \
    berth login -n teamreg1 -u teamreg1 -p "$APW" --docker-only
run_out "berth logout -n teamreg1" 0 berth logout -n teamreg1
expect_eq "  ... restores config.json" "$(jq -S . "$WORK/config.orig")" "$(jq -S . "$CFG")"

# ---- bad input
fails_with "a registry name where a login server belongs says to use -n" "not the registry name 'default'" berth login default
fails_with "a login server after -n says to give the name" "takes a registry name like 'default'" berth login -n default.localhost
fails_with "uppercase letters say to use lowercase" "use 'default'" berth login -n Default
run_out "  ... and these are usage errors (exit 2)" 2 berth login default
printf '{"auths": {"x": ' >"$CFG"
cp "$CFG" "$WORK/bad.copy"
run_out "a malformed config.json fails the login (exit 1)" 1 berth login "$HOSTPORT"
expect_match "  ... with an error naming the file" "'$CFG' is not valid JSON" "$OUT"
check "  ... and the file is untouched" cmp -s "$CFG" "$WORK/bad.copy"
check "  ... and auth.json was not written either" quiet bash -c "! test -e '$REGISTRY_AUTH_FILE' || ! jq -e --arg s '$HOSTPORT' '.auths[\$s]' '$REGISTRY_AUTH_FILE'"
echo '{"credsStore": "nosuch"}' >"$CFG"
fails_with "credsStore naming a helper that is not installed fails, naming docker-credential-nosuch" \
    "docker-credential-nosuch, which is not on PATH" berth login "$HOSTPORT"
check "  ... and config.json holds no secret" test "$(jq -c . "$CFG")" = '{"credsStore":"nosuch"}'

# ---- credsStore naming an installed helper: the secret goes to it, not into config.json
cat >"$WORK/bin/docker-credential-fake" <<EOF
#!/bin/sh
echo "\$1 \$(cat)" >>"$WORK/fake-helper.log"
EOF
chmod +x "$WORK/bin/docker-credential-fake"
echo '{"credsStore": "fake"}' >"$CFG"
run_out "with credsStore set, berth login pipes the token to that helper" 0 berth login "$HOSTPORT" --docker-only
check "  ... which got store with ServerURL, Username <token> and the secret" \
    quiet bash -c "grep '^store ' '$WORK/fake-helper.log' | cut -d' ' -f2- | jq -e --arg s '$HOSTPORT' '.ServerURL == \$s and .Username == \"<token>\" and (.Secret|test(\"^ey\"))'"
check "  ... and config.json holds no secret" test "$(jq -c . "$CFG")" = '{"credsStore":"fake"}'
run_out "logout erases it from that helper" 0 berth logout "$HOSTPORT"
check "  ... with erase and the server" grep -qx "erase $HOSTPORT" "$WORK/fake-helper.log"
cp "$WORK/config.orig" "$CFG"

# ---- refresh tokens that live 5 s
berth_stop
BERTH_AUTH=1 berth_start --refresh-ttl 5 --access-ttl 5 --leeway 0
session_login
run_out "berth login (a stored identity token) on the 5 s server" 0 berth login "$HOSTPORT"
check "skopeo pushes at once" skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/short:v1"
sleep 7
fails_with "7 s later the stored identity token is refused: the refresh token expired" "refresh token expired" \
    skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/short:v2"
run_out "berth login --helper" 0 berth login "$HOSTPORT" --helper
check "config.json: credHelpers names berth for the server" quiet jq -e --arg s "$HOSTPORT" '.credHelpers[$s] == "berth"' "$CFG"
check "auth.json: credHelpers names berth for the server" quiet jq -e --arg s "$HOSTPORT" '.credHelpers[$s] == "berth"' "$REGISTRY_AUTH_FILE"
check "the helper is on PATH, so no warning about it" quiet bash -c "! grep -q 'docker-credential-berth' <<<'$OUT'"
check "skopeo pushes through the helper (auth.json alone)" \
    only_authjson skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/short:v3"
sleep 7
check "7 s later skopeo still pushes: the helper minted a fresh token (auth.json alone)" \
    only_authjson skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/short:v4"
check "  ... and pulls through config.json's credHelpers alone" only_config skopeo copy -q --src-tls-verify=false "docker://$HOSTPORT/team/short:v4" "oci:$WORK/pulled:v4"
if [ "$PODMAN_OK" = 1 ]; then
    check "podman pulls through the helper after the lifetime" \
        quiet "${P[@]}" pull -q --tls-verify=false "$HOSTPORT/team/short:v4"
    sleep 6
    check "podman pushes through the helper after the lifetime" \
        quiet "${P[@]}" push -q --tls-verify=false "$HOSTPORT/team/short:v4" "$HOSTPORT/team/short:v5"
fi
fails_with "--helper without docker-credential-berth on PATH warns with the fix: a link to this binary" \
    "ln -s $(readlink -f "$BERTH_BIN") /usr/local/bin/docker-credential-berth" \
    bash -c "PATH=/usr/bin:/bin '$BERTH_BIN' login '$HOSTPORT' --helper --docker-only && false"
run_out "berth logout after --helper" 0 berth logout "$HOSTPORT"
expect_eq "config.json is what it was before any berth login (jq -S)" "$(jq -S . "$WORK/config.orig")" "$(jq -S . "$CFG")"
check "auth.json has neither an entry nor a credHelpers entry left" \
    quiet bash -c "! test -e '$REGISTRY_AUTH_FILE' || ! jq -e --arg s '$HOSTPORT' '.auths[\$s] or .credHelpers[\$s]' '$REGISTRY_AUTH_FILE'"

# ---- the server is down
berth_stop
fails_with "berth login with the server down: one line saying it cannot connect" '^berth: cannot connect to [^
]*$' berth login "$HOSTPORT"
run_out "docker-credential-berth get with the server down exits 1" 1 bash -c "echo $HOSTPORT | docker-credential-berth get"
expect_match "  ... saying it cannot connect" "cannot connect" "$OUT"
reports=$(cat "$WORK"/sanitizer.* 2>/dev/null | grep -E 'Sanitizer|runtime error' | head -n 3)
expect_eq "no sanitizer reports from berth, berth login or the helper" "" "$reports"
finish
