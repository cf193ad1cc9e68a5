#!/usr/bin/env bash
# berth check-health, the client side: a clean run passes (text, --json, exit
# codes, usage errors); a docker client older than 18.03; docker without a
# daemon when nothing else can log in; docker's config.json
# and podman's auth.json that do not parse; credsStore / credHelpers naming a
# helper that is not installed; the registry's name (uppercase, a resource
# name given as a login server and the reverse, an unknown registry); a proxy
# that applies to the server; --report holds no secret. For each failure the
# printed fix is run as printed and check-health passes afterwards. Every
# code is documented in docs/check-health.md.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/health-lib.sh"
BERTH_AUTH=1 berth_start
hc_env
owner_session
CFG=$DOCKER_CONFIG/config.json

# ---- a clean run
expect_hc_pass "check-health on the server's own login server passes with the owner's session" "$HOSTPORT"
check "  ... --json has checks with name, status, code, message, fix, and ok" jqq \
    '.ok == true and (.checks | length) >= 15 and all(.checks[]; has("name") and has("status") and has("code") and has("message") and has("fix"))' \
    <<<"$HC_OUT"
check "  ... the credential used is the session, and it says so" jqq \
    '.checks[] | select(.name == "credentials") | .message | test("berth session")' <<<"$HC_OUT"
OUT=$("$BERTH_BIN" check-health --client berth "$HOSTPORT" 2>&1)
RC=$?
expect_eq "the text form exits 0 too" 0 "$RC"
expect_match "  ... one line per check, 'OK' first" '^OK +clients ' "$OUT"
expect_match "  ... and a closing count" '[0-9]+ checks: 0 errors' "$(tail -n 1 <<<"$OUT")"
expect_hc_pass "-n default (a resource name) passes" -n default
expect_hc_pass "no registry at all: the current session's server" --yes
"$BERTH_BIN" check-health -n default "$HOSTPORT" >/dev/null 2>&1
expect_eq "-n and LOGINSERVER together are a usage error (exit 2)" 2 "$?"
expect_hc_warn PERMISSION_NOT_CHECKED "--action push without --repository: permissions were not checked" "$HOSTPORT" \
    --action push
expect_fix_re "check-health $HOSTPORT .*--action push --repository REPO$"
"$BERTH_BIN" check-health "$HOSTPORT" --client lynx >/dev/null 2>&1
expect_eq "--client lynx is a usage error (exit 2)" 2 "$?"
"$BERTH_BIN" check-health "$HOSTPORT" --repository a/b --action sing >/dev/null 2>&1
expect_eq "--action sing is a usage error (exit 2)" 2 "$?"

# ---- a docker client older than 18.03 (a stand-in that prints an old version)
HC_CLIENT=docker
owner_pw
printf '#!/bin/sh\necho "Docker version 17.09.1-ce, build 19e2cf6"\n' >"$WORK/bin/docker"
chmod +x "$WORK/bin/docker"
expect_hc DOCKER_VERSION_TOO_OLD "docker 17.09 on PATH" "$HOSTPORT" -u owner --password-stdin
expect_match "  ... naming the version" "17.09.1" "$HC_MSG"
# the fix is an instruction (install a newer docker): the test removes the old one
hc_docker_standin
expect_hc_pass "with a current docker it passes" "$HOSTPORT" -u owner --password-stdin

# ---- docker without a daemon, and nothing else that could log in (PATH holds only a stand-in docker)
mkdir -p "$WORK/minbin"
cat >"$WORK/minbin/docker" <<EOF
#!/bin/sh
case "\$1" in
--version) echo "Docker version 28.2.2, build e6534b4" ;;
version) [ -e "$WORK/daemon-hangs" ] && exec $(command -v sleep) 60
    if [ -e "$WORK/daemon-up" ]; then echo 28.2.2; else
    echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
    exit 1; fi ;;
esac
EOF
chmod +x "$WORK/minbin/docker"
HC_PATH=$WORK/minbin
HC_CLIENT=""
expect_hc DOCKER_DAEMON_UNREACHABLE "docker without a daemon, and no podman or skopeo" "$HOSTPORT"
expect_match "  ... with docker's own words" "Cannot connect to the Docker daemon" "$HC_MSG"
expect_fix_re "^systemctl start docker$"
touch "$WORK/daemon-hangs"
expect_hc DOCKER_DAEMON_UNREACHABLE "a docker whose daemon never answers is given up after 10 s" "$HOSTPORT"
expect_match "  ... saying so" "did not finish within 10 s" "$HC_MSG"
rm "$WORK/daemon-hangs"
# an instruction here (no systemd in the test): the stand-in's daemon comes up
touch "$WORK/daemon-up"
expect_hc_pass "with the daemon up check-health passes" "$HOSTPORT" -u owner --password-stdin
check "  ... and names the engine's version" jqq '.checks[] | select(.name == "docker-daemon") | .message | test("engine 28.2.2")' \
    <<<"$HC_OUT"
rm "$WORK/minbin/docker"
HC_CLIENT=podman expect_hc CLIENT_NOT_FOUND "--client podman with no podman on PATH" "$HOSTPORT"
expect_fix_re "^apt-get install podman$"
expect_hc_warn NO_CLIENT "no docker, podman, skopeo, helm or oras on PATH" "$HOSTPORT"
check "  ... and berth's own commands are judged" jqq '.checks[] | select(.name == "credentials") | .message | test("berth session")' <<<"$HC_OUT"
# the fix (apt-get install podman skopeo) is not run here: the test puts PATH back
HC_PATH=""
HC_CLIENT=podman
expect_hc_pass "podman needs no daemon" "$HOSTPORT" -u owner --password-stdin
check "  ... which the daemon check says" jqq '.checks[] | select(.name == "docker-daemon") | .status == "OK"' <<<"$HC_OUT"

# ---- config.json and auth.json that do not parse (every installed client judged, a password given)
HC_CLIENT=""
printf '{"auths": {"x": ' >"$CFG"
expect_hc DOCKER_CONFIG_INVALID "a truncated docker config.json" "$HOSTPORT" -u owner --password-stdin
expect_match "  ... naming the file" "$CFG" "$HC_MSG"
run_fix
expect_hc_pass "after the fix check-health passes" "$HOSTPORT" -u owner --password-stdin
check "  ... the broken file was kept beside it" test -e "$CFG.broken"
echo '[1, 2]' >"$REGISTRY_AUTH_FILE"
expect_hc DOCKER_CONFIG_INVALID "podman's auth.json that is not an object" "$HOSTPORT" -u owner --password-stdin
expect_match "  ... naming the file" "$REGISTRY_AUTH_FILE" "$HC_MSG"
run_fix
expect_hc_pass "after the fix check-health passes" "$HOSTPORT" -u owner --password-stdin

# ---- credential helpers that are not installed
echo '{"credsStore": "nosuch", "auths": {}}' >"$CFG"
expect_hc CREDENTIAL_HELPER_MISSING "docker credsStore names docker-credential-nosuch" "$HOSTPORT" \
    -u owner --password-stdin
expect_match "  ... naming the program and the file" "docker-credential-nosuch.*|$CFG" "$HC_MSG"
run_fix
expect_hc_pass "after the fix check-health passes" "$HOSTPORT" -u owner --password-stdin
check "  ... and the file's other keys are still there" jqq '.auths == {}' "$CFG"
echo "{\"credHelpers\": {\"$HOSTPORT\": \"gone\", \"other.example\": \"alsogone\"}}" >"$REGISTRY_AUTH_FILE"
expect_hc CREDENTIAL_HELPER_MISSING "podman credHelpers naming two missing helpers" "$HOSTPORT" \
    -u owner --password-stdin
expect_match "  ... both named" "docker-credential-gone.*docker-credential-alsogone" "$HC_MSG"
run_fix
expect_hc_pass "after the fix check-health passes" "$HOSTPORT" -u owner --password-stdin
rm -f "$REGISTRY_AUTH_FILE"
HC_STDIN=""

# ---- the registry's name (berth's own commands, with the owner's session)
HC_CLIENT=berth

# ---- the registry's name
expect_hc_warn REGISTRY_NAME_UPPERCASE "-n Default" -n Default
expect_fix_re "check-health -n default"
run_fix
expect_hc_pass "the fix (the lowercase name) passes" -n default
expect_hc_warn REGISTRY_NAME_UPPERCASE "a login server with uppercase letters" "DEFAULT.localhost:$PORT" --server "$URL"
run_fix
expect_hc REGISTRY_NAME_IS_LOGIN_SERVER "-n default.localhost:$PORT (a login server after -n)" -n "default.localhost:$PORT"
expect_fix_re "check-health default.localhost:$PORT"
run_fix
expect_hc LOGIN_SERVER_IS_RESOURCE_NAME "'default' where a login server belongs" default
expect_match "  ... naming its concrete login server" "its login server is default.localhost:$PORT" "$HC_MSG"
expect_fix_re "check-health -n default"
run_fix
expect_hc REGISTRY_NAME_INVALID "-n 'bad_name!'" -n 'bad_name!'
expect_hc REGISTRY_NOT_FOUND "-n nosuchreg: a registry the server does not have" -n nosuchreg
expect_match "  ... saying the server does not know it" "nosuchreg" "$HC_MSG"
expect_fix_re "^berth registry create -n nosuchreg$"
run_fix
expect_hc_pass "after 'berth registry create' check-health -n nosuchreg passes" -n nosuchreg
expect_hc REGISTRY_NOT_FOUND "a login server of an unknown registry" "another.localhost:$PORT"
run_fix
expect_hc_pass "after the fix it passes" "another.localhost:$PORT"

# ---- no credential at all (no session, nothing stored) and anonymous pull off: the clients judged
HC_CLIENT=""
BERTH_CONFIG_DIR=$WORK/no-session expect_hc CREDENTIALS_MISSING "no -u, no session, nothing stored" "$HOSTPORT"
expect_fix_re "^docker login $HOSTPORT$"
# docker login asks for a password: the test logs in with berth instead, which writes the same entry
"$BERTH_BIN" login "$HOSTPORT" >/dev/null 2>&1
BERTH_CONFIG_DIR=$WORK/no-session expect_hc_pass "with what 'berth login' stored, and no session, it passes" "$HOSTPORT"
"$BERTH_BIN" logout "$HOSTPORT" >/dev/null 2>&1

# ---- a proxy that applies to the server (and does not answer): berth's commands use libcurl's rules
HC_CLIENT=berth
export HTTP_PROXY=http://user:proxysecret@127.0.0.1:9 http_proxy=http://user:proxysecret@127.0.0.1:9
expect_hc PROXY_FAILED "http_proxy names a dead proxy and NO_PROXY is empty" "$HOSTPORT"
check "  ... the proxy check warns PROXY_IN_USE first" \
    jqq '.checks[] | select(.name == "proxy") | .status == "WARNING" and .code == "PROXY_IN_USE"' <<<"$HC_OUT"
if [[ $HC_OUT == *proxysecret* ]]; then fail "  ... the proxy's password is not shown"; else ok "  ... the proxy's password is not shown"; fi
echo "# fix: $HC_FIX"
eval "$HC_FIX"
expect_hc_pass "after '$HC_FIX' check-health passes" "$HOSTPORT"
unset HTTP_PROXY http_proxy NO_PROXY

# ---- --report: everything, and no secret
"$BERTH_BIN" user create carol --password-stdin <<<"carol-password-1234" >/dev/null 2>&1
REPORT=$WORK/report.txt
"$BERTH_BIN" check-health "$HOSTPORT" -u carol -p carol-password-1234 --repository team/app --action push \
    --report "$REPORT" >/dev/null 2>&1
check "--report writes the file, mode 0600" test "$(stat -c %a "$REPORT" 2>/dev/null)" = 600
check "  ... with the environment, the versions, every check and the server's answers" grep -q 'server answers:' "$REPORT"
check "  ... the client versions" grep -Eq 'podman [0-9]' "$REPORT"
check "  ... the password given with -p does not appear" bash -c "! grep -q carol-password-1234 '$REPORT'"
check "  ... no token (JWT) appears" bash -c "! grep -Eq 'eyJ[A-Za-z0-9_-]+\.' '$REPORT'"
check "  ... no Authorization value appears" bash -c "! grep -Ei 'authorization: *(basic|bearer)' '$REPORT'"
check "  ... nor the session's refresh token" bash -c "! grep -qF \"\$(jq -r '.servers[].refreshToken' '$BERTH_CONFIG_DIR/sessions.json')\" '$REPORT'"
"$BERTH_BIN" login "$HOSTPORT" >/dev/null 2>&1
IT=$(jq -r --arg s "$HOSTPORT" '.auths[$s].identitytoken' "$CFG")
"$BERTH_BIN" check-health "$HOSTPORT" --report "$REPORT" >/dev/null 2>&1
check "  ... nor the identitytoken stored in config.json" bash -c "! grep -qF '$IT' '$REPORT'"
"$BERTH_BIN" logout "$HOSTPORT" >/dev/null 2>&1

# ---- every code check-health can print is documented
missing=""
# (the quoted names read with getenv are environment variables, not codes)
envs=" $(grep -ohE '(getenv|env_set)\("[A-Z_]+"\)' "$REPO"/src/client/health_*.c | grep -oE '[A-Z_]{3,}' | tr '\n' ' ') "
for c in $(grep -ohE '"[A-Z][A-Z0-9]*_[A-Z0-9_]+"' "$REPO"/src/client/health_*.c | tr -d '"' | sort -u); do
    [[ $envs == *" $c "* ]] && continue
    grep -q "\`$c\`" "$REPO/docs/check-health.md" || missing="$missing $c"
done
codes=$(grep -ohE '"[A-Z][A-Z0-9]*_[A-Z0-9_]+"' "$REPO"/src/client/health_*.c | sort -u | wc -l)
check "  ... (the codes were read: $codes)" test "$codes" -gt 40
expect_eq "every code in src/client/health_*.c has a row in docs/check-health.md" "" "$missing"
finish
