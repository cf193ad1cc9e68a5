#!/usr/bin/env bash
# The login tells a stranger nothing: before a secret is proven, /v2/,
# /oauth2/token and the directory answer an unknown name and a wrong
# password of a user, a repository token, a service principal and a disabled
# admin user with the same body (the log keeps BAD_SECRET or
# UNKNOWN_PRINCIPAL), and each costs one argon2 run (medians compared);
# reasons only a correct secret reaches are named.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start --login-failures 100 --login-window 1 --login-lockout 1
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
LS=default.localhost

jqe() { jq -e "$@" >/dev/null; }

owner_api POST /api/v1/users '{"name":"alice","password":"alice-password-1234"}'
expect_status 201 "a user alice"
owner_api POST /api/v1/registries/default/tokens '{"name":"ci-two","scopeMapId":"_repositories_pull"}'
expect_status 201 "a repository token with two passwords"
TPW1=$(jq -r '.credentials.passwords[] | select(.name=="password1") | .value' "$BODY")
owner_api POST /api/v1/servicePrincipals '{"displayName":"many"}'
expect_status 201 "a service principal"
APP=$(jq -r .appId "$BODY")
for i in 1 2 3; do owner_api POST "/api/v1/servicePrincipals/$APP/secrets" '{}'; done
expect_status "200|201" "with three more secrets (four in all)"
SEC4=$(jq -r .value "$BODY")

# ---- one body for every failure before a secret is proven
declare -A SEEN
for who in nobody-here alice ci-two "$APP" default 11111111-2222-3333-4444-555555555555; do
    req GET /v2/ -u "$who:not-the-password"
    SEEN[v2:$who]="$STATUS $(body_json)"
    req GET "/oauth2/token?service=$LS&scope=repository:a/b:pull" -u "$who:not-the-password"
    SEEN[tok:$who]="$STATUS $(body_json)"
done
want_v2=${SEEN[v2:nobody-here]}
want_tok=${SEEN[tok:nobody-here]}
check "an unknown name gets INVALID_CREDENTIALS" bash -c "grep -q '\"reason\":\"INVALID_CREDENTIALS\"' <<<\"\$1\"" _ "$want_tok"
for who in alice ci-two "$APP" default 11111111-2222-3333-4444-555555555555; do
    expect_eq "/v2/: a wrong password of '$who' reads like an unknown name" "$want_v2" "${SEEN[v2:$who]}"
    expect_eq "/oauth2/token: a wrong password of '$who' reads like an unknown name" "$want_tok" "${SEEN[tok:$who]}"
done
req POST "/directory/$(curl -s "${OWN[@]}" "$URL/api/v1/tenant" | jq -r .tenantId)/oauth2/v2.0/token" \
    --data "grant_type=password&username=alice&password=wrong-one"
D1="$STATUS $(body_json)"
req POST "/directory/$(curl -s "${OWN[@]}" "$URL/api/v1/tenant" | jq -r .tenantId)/oauth2/v2.0/token" \
    --data "grant_type=password&username=nobody-here&password=wrong-one"
expect_eq "the directory answers a wrong password like an unknown name" "$D1" "$STATUS $(body_json)"
check "the log keeps BAD_SECRET" grep -q 'reason=BAD_SECRET' "$SRV_LOG"
check "the log keeps UNKNOWN_PRINCIPAL" grep -q 'reason=UNKNOWN_PRINCIPAL' "$SRV_LOG"

# ---- a reason only the right secret reaches is named
owner_api PATCH /api/v1/registries/default '{"adminUserEnabled":true}'
owner_api POST /api/v1/registries/default/credentials/regenerate '{"name":"password"}'
APW=$(jq -r '.passwords[] | select(.name=="password") | .value' "$BODY")
owner_api PATCH /api/v1/registries/default '{"adminUserEnabled":false}'
req GET "/oauth2/token?service=$LS" -u "default:$APW"
expect_error 401 UNAUTHORIZED "the disabled admin user with its password"
check "is told ADMIN_DISABLED" jqe '.errors[0].detail.reason=="ADMIN_DISABLED"' "$BODY"
check "in a message docker prints" grep -q "admin user is disabled for registry 'default'" "$BODY"
req GET "/oauth2/token?service=$LS" -u "default:wrong-admin-password"
expect_eq "with a wrong password it reads like an unknown name" "$want_tok" "$STATUS $(body_json)"

# ---- the same cost whatever the name: the least time to refuse each, over interleaved rounds
# (a busy machine only ever adds time, so the least is the cost itself; make test runs two lanes)
for round in $(seq 12); do
    for who in nobody-at-all alice ci-two "$APP"; do
        curl -s -o /dev/null -w "$who %{time_total}\n" -u "$who:not-the-password" "$URL/oauth2/token?service=$LS"
    done
done >"$WORK/times"
least_time() { awk -v w="$1" '$1 == w { print $2 }' "$WORK/times" | sort -n | sed -n 1p; }
T_NONE=$(least_time nobody-at-all)
T_USER=$(least_time alice)
T_TOK=$(least_time ci-two)
T_SP=$(least_time "$APP")
echo "# least refusal time: unknown ${T_NONE}s, user ${T_USER}s, token with 2 passwords ${T_TOK}s, sp with 4 secrets ${T_SP}s"
# what the check guards against is an argon2 run more or less for some names (each one doubles the
# cost or takes all of it); on a shared machine the least times still differ by a third
within() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; exit !(r < 1.6 && r > 0.62) }'; }
check "a token with two passwords costs what an unknown name costs ($T_TOK s vs $T_NONE s)" within "$T_TOK" "$T_NONE"
check "a service principal with four secrets costs the same ($T_SP s vs $T_NONE s)" within "$T_SP" "$T_NONE"
check "a user costs the same ($T_USER s vs $T_NONE s)" within "$T_USER" "$T_NONE"
req GET "/oauth2/token?service=$LS" -u "ci-two:$TPW1"
expect_status 200 "the token's first password still logs in"
req GET "/oauth2/token?service=$LS" -u "$APP:$SEC4"
expect_status 200 "the newest secret of the service principal logs in"

finish
