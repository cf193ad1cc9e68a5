#!/usr/bin/env bash
# What skopeo and podman print for a refused login: the same words for a
# wrong password and a name that does not exist (nothing tells which names
# exist), and the exact cause when the secret was right but the credential
# cannot be used (a disabled admin user or token, an expired token password).
. "$(dirname "$0")/lib.sh"
command -v skopeo >/dev/null || { skip "skopeo is not installed"; exit 0; }
BERTH_AUTH=1 berth_start --login-failures 100
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
export REGISTRY_AUTH_FILE=$WORK/auth.json

owner_api POST /api/v1/users '{"name":"alice","password":"alice-password-1234"}'
expect_status 201 "a user alice"
owner_api PATCH /api/v1/registries/default '{"adminUserEnabled":true}'
expect_status 200 "enable the admin user"
ADMIN_PW=$(jq -r '.credentials.passwords[0].value' "$BODY")
owner_api PATCH /api/v1/registries/default '{"adminUserEnabled":false}'
expect_status 200 "disable it again"
owner_api POST /api/v1/registries/default/tokens '{"name":"ci-off","scopeMapId":"_repositories_pull"}'
expect_status 201 "a repository token"
TOK_PW=$(jq -r '.credentials.passwords[] | select(.name=="password1") | .value' "$BODY")
owner_api PATCH /api/v1/registries/default/tokens/ci-off '{"status":"disabled"}'
expect_status 200 "disable the token"

owner_api POST /api/v1/roleAssignments '{"principal":"alice","role":"AcrPull","scope":"/registries/default"}'
expect_status 201 "alice may pull"
echo '{}' >"$REGISTRY_AUTH_FILE"
make_oci_layout "$WORK/layout" 1 >/dev/null
check "the owner pushes an image to pull" skopeo copy -q --dest-tls-verify=false --dest-creds "owner:$PW" \
    "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/app:v1"

# client_login CLIENT USER PASS: pull with these credentials (skopeo inspect, podman pull; their
# login commands print one fixed "invalid username/password" for any 401 and show no server words);
# the client's output, names and times replaced, goes to $WORK/out, as printed to $WORK/out.raw.
client_login() {
    local c=$1 u=$2 p=$3 rc
    if [ "$c" = skopeo ]; then
        skopeo inspect --tls-verify=false --creds "$u:$p" "docker://$HOSTPORT/team/app:v1" >"$WORK/out.raw" 2>&1
    else
        timeout 180 podman --storage-driver vfs --root "$PR/root" --runroot "$PR/run" --tmpdir "$PR/tmp" \
            --events-backend file --cgroup-manager cgroupfs \
            pull -q --tls-verify=false --creds "$u:$p" "$HOSTPORT/team/app:v1" >"$WORK/out.raw" 2>&1
    fi
    rc=$?
    sed -e "s/$u/NAME/g" -e 's/time="[^"]*"//' "$WORK/out.raw" | grep -v '^Trying to pull\|^Getting image' >"$WORK/out"
    return $rc
}

# podman refuses a runroot longer than 50 characters; it makes /run/containers even with a private
# root, which is removed afterwards when this test made it and it is still empty.
PR=$(mktemp -d /tmp/bp.XXXXXX)
CLEAN_DIRS+=("$PR")
mkdir -p "$PR/root" "$PR/run" "$PR/tmp"
had_run_containers=0
[ -e /run/containers ] && had_run_containers=1

for c in skopeo podman; do
    if [ "$c" = podman ] && ! command -v podman >/dev/null; then
        skip "podman is not installed"
        continue
    fi
    declare -A SAID=()
    for who in alice nobody-here ci-off default 11111111-2222-3333-4444-555555555555; do
        if client_login "$c" "$who" wrong-password-123; then
            fail "$c login as $who with a wrong password fails"
            continue
        fi
        SAID[$(cat "$WORK/out")]+="$who "
    done
    expect_eq "$c prints the same for a wrong password of a user, a token, the admin user, and unknown names" \
        1 "${#SAID[@]}"
    check "$c prints the server's words: invalid username or password" grep -qi "invalid username or password" "$WORK/out"
    if client_login "$c" default "$ADMIN_PW"; then
        fail "$c login as the disabled admin user with its password fails"
    else
        check "$c names the disabled admin user once its password was right" grep -q "admin user is disabled" "$WORK/out.raw"
    fi
    if client_login "$c" ci-off "$TOK_PW"; then
        fail "$c login with a disabled token's password fails"
    else
        check "$c names the disabled token once its password was right" grep -qi "token .*disabled\|disabled.*token" "$WORK/out.raw"
    fi
    check "$c pulls as alice with her password" client_login "$c" alice alice-password-1234
done
if [ "$had_run_containers" = 0 ]; then rmdir /run/containers/networks /run/containers 2>/dev/null; fi
finish
