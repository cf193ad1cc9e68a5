#!/usr/bin/env bash
# Setting one's own password with only a directory token needs the current
# password, so a stolen token cannot take the account for good; Basic with
# the password itself needs nothing more; `berth user password
# --current-password-stdin` sends it.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
LS=default.localhost
owner_api POST /api/v1/users '{"name":"alice","password":"alice-password-1234"}'
expect_status 201 "a user alice"

# ---- own password with a directory token needs the current one
TENANT=$(curl -s "${OWN[@]}" "$URL/api/v1/tenant" | jq -r .tenantId)
DT=$(curl -s --data "grant_type=password&username=alice&password=alice-password-1234" \
    "$URL/directory/$TENANT/oauth2/v2.0/token" | jq -r .access_token)
pwreq() { req POST /api/v1/users/alice/password -H "Authorization: Bearer $DT" -H 'Content-Type: application/json' \
    --data-binary "$1"; }
pwreq '{"password":"stolen-token-password-1"}'
expect_status 403 "alice's token alone cannot set her password"
pwreq '{"password":"stolen-token-password-1","currentPassword":"not-alices-password"}'
expect_status 403 "nor with a wrong current password"
req GET "/oauth2/token?service=$LS" -u "alice:alice-password-1234"
expect_status 200 "her password is unchanged"
pwreq '{"password":"alice-password-5678","currentPassword":"alice-password-1234"}'
expect_status 200 "with the current password she sets a new one"
req GET "/oauth2/token?service=$LS" -u "alice:alice-password-5678"
expect_status 200 "which logs in"
req POST /api/v1/users/alice/password -u "alice:alice-password-5678" -H 'Content-Type: application/json' \
    --data-binary '{"password":"alice-password-9999"}'
expect_status 200 "Basic with the password itself needs no current password"

# ---- the CLI: a session of alice's sets her password with --current-password-stdin
export BERTH_CONFIG_DIR=$WORK/cfg-alice
"$BERTH_BIN" auth login --server "$URL" -u alice -p alice-password-9999 >/dev/null 2>&1
OUT=$("$BERTH_BIN" user password alice --password-stdin <<<"alice-password-0000" 2>&1)
check "berth user password with only a session is refused, saying why" \
    bash -c "grep -q currentPassword <<<\"\$1\"" _ "$OUT"
OUT=$(printf 'alice-password-9999\nalice-password-0000\n' |
    "$BERTH_BIN" user password alice --current-password-stdin --password-stdin 2>&1)
RC=$?
check "with --current-password-stdin it is set ($OUT)" test "$RC" -eq 0
req GET "/oauth2/token?service=$LS" -u "alice:alice-password-0000"
expect_status 200 "the new password logs in"

finish
