#!/usr/bin/env bash
# Lockouts are per registry: failed logins under registry A's name on
# registry B (or on the directory) do not lock A's admin user out of A, and a
# lockout on A stays on A.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start --login-failures 3 --login-window 60 --login-lockout 60
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")

owner_api POST /api/v1/registries '{"name":"alpha1","adminUserEnabled":true}'
expect_status 201 "registry alpha1 with its admin user"
owner_api POST /api/v1/registries/alpha1/credentials/regenerate '{"name":"password"}'
APW=$(jq -r '.passwords[] | select(.name=="password") | .value' "$BODY")
owner_api POST /api/v1/registries '{"name":"beta1"}'
expect_status 201 "registry beta1"
HA="alpha1.localhost:$PORT"
HB="beta1.localhost:$PORT"

for i in 1 2 3 4; do req GET /v2/ -H "Host: $HB" -u "alpha1:guess-$i"; done
expect_status 429 "four wrong guesses for 'alpha1' on beta1 are locked out there"
req GET /v2/ -H "Host: $HA" -u "alpha1:$APW"
expect_status 200 "alpha1's admin still logs in to alpha1"
for i in 1 2 3 4; do req GET "/oauth2/token?service=alpha1.localhost" -H "Host: $HA" -u "alpha1:guess-$i"; done
expect_status 429 "four wrong guesses on alpha1 lock alpha1's admin out of alpha1"
req GET /v2/ -H "Host: $HB" -u "owner:$PW"
expect_status 200 "another name on beta1 is not affected"

finish
