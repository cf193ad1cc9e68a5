#!/usr/bin/env bash
# Every credential kind against the data plane, created through the
# management API: the admin user on and off (and its regenerated password
# revoking an older refresh token at once), a repository token limited to
# team/* (push to team/a, refused on other/b, catalog shows team/* only), a
# service principal with AcrPull refused on push, an expired secret named
# with its date, a token for one registry refused by another, anonymous pull
# on and off, a disabled token, and a removed role taking effect at once.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")

reason() { jq -r '.errors[0].detail.reason // empty' "$BODY" 2>/dev/null; }
expect_reason() {
    local want=$1 desc=$2 got
    got=$(reason)
    if [ "$got" = "$want" ]; then ok "$desc"; else fail "$desc" "expected reason $want" "got ${got:-<none>}: $(cat "$BODY")"; fi
}
api() { # api METHOD PATH [JSON]
    local m=$1 p=$2
    if [ $# -ge 3 ]; then
        req "$m" "$p" "${OWN[@]}" -H 'Content-Type: application/json' --data-binary "$3"
    else
        req "$m" "$p" "${OWN[@]}"
    fi
}
token_for() { # token_for USER PASS SCOPE [HOST] -> prints the access token or nothing
    local host=${4:-$HOSTPORT}
    curl -s -H "Host: $host" -u "$1:$2" "$URL/oauth2/token?scope=$3" | jq -r '.access_token // empty'
}
LS=default.localhost

# a small image in team/a to pull
rand_file "$WORK/l1" 2000
L1=$(digest_of "$WORK/l1")
req POST "/v2/team/a/blobs/uploads/?digest=$L1" "${OWN[@]}" --data-binary @"$WORK/l1"
expect_status 201 "the owner pushes a blob to team/a"

# ---- admin user: off by default
req GET "/oauth2/token?service=$LS" -u "default:whatever"
expect_error 401 UNAUTHORIZED "the admin user is refused while disabled"
expect_reason INVALID_CREDENTIALS "without its password that says only INVALID_CREDENTIALS"
api PATCH /api/v1/registries/default '{"adminUserEnabled":true}'
expect_status 200 "the owner enables the admin user"
api POST /api/v1/registries/default/credentials/regenerate '{"name":"password"}'
expect_status 200 "the owner generates admin password 1"
APW=$(jq -r '.passwords[] | select(.name=="password") | .value' "$BODY")
req GET "/oauth2/token?service=$LS&scope=repository:team/a:pull&offline_token=true" -u "default:$APW"
expect_status 200 "the admin user gets a token"
ART=$(jq -r .refresh_token "$BODY")
req HEAD "/v2/team/a/blobs/$L1" -u "default:$APW"
expect_status 200 "the admin user pulls with Basic"
api POST /api/v1/registries/default/credentials/regenerate '{"name":"password"}'
APW2=$(jq -r '.passwords[] | select(.name=="password") | .value' "$BODY")
req GET "/oauth2/token?service=$LS" -u "00000000-0000-0000-0000-000000000000:$ART"
expect_error 401 UNAUTHORIZED "a refresh token from the old admin password stops working at once"
expect_reason REFRESH_REVOKED "that says REFRESH_REVOKED"
req HEAD "/v2/team/a/blobs/$L1" -u "default:$APW2"
expect_status 200 "the new admin password works"
api PATCH /api/v1/registries/default '{"adminUserEnabled":false}'
req HEAD "/v2/team/a/blobs/$L1" -u "default:$APW2"
expect_error 401 UNAUTHORIZED "disabling the admin user applies on the next request"
req GET "/oauth2/token?service=$LS" -u "default:$APW2"
expect_reason ADMIN_DISABLED "with its password that says ADMIN_DISABLED"
check "the message names the registry" grep -q "admin user is disabled for registry 'default'" "$BODY"

# ---- repository token limited to team/*
api POST /api/v1/registries/default/scopeMaps \
    '{"name":"teamwrite","actions":["repositories/team/*/content/read","repositories/team/*/content/write","repositories/team/*/metadata/read"]}'
expect_status 201 "a scope map for team/*"
api POST /api/v1/registries/default/tokens '{"name":"ci-team","scopeMapId":"teamwrite"}'
expect_status 201 "a token bound to it"
TPW=$(jq -r '.credentials.passwords[] | select(.name=="password1") | .value' "$BODY")
check "the token's password is shown once at creation" test -n "$TPW"
api GET /api/v1/registries/default/tokens/ci-team
check "a later GET never shows the password" bash -c "! grep -qF -- '$TPW' '$BODY'"
rand_file "$WORK/t1" 1500
T1=$(digest_of "$WORK/t1")
req POST "/v2/team/b/blobs/uploads/?digest=$T1" -u "ci-team:$TPW" --data-binary @"$WORK/t1"
expect_status 201 "the token pushes to team/b"
req POST "/v2/other/b/blobs/uploads/?digest=$T1" -u "ci-team:$TPW" --data-binary @"$WORK/t1"
expect_error 401 UNAUTHORIZED "the token is refused on other/b"
expect_reason INSUFFICIENT_SCOPE "that says INSUFFICIENT_SCOPE"
req POST "/v2/other/b/blobs/uploads/?digest=$T1" "${OWN[@]}" --data-binary @"$WORK/t1"
AT=$(token_for ci-team "$TPW" "registry:catalog:*")
req GET /v2/_catalog -H "Authorization: Bearer $AT"
expect_status 200 "the token lists the catalog"
check "the catalog shows only team/* repositories" \
    test "$(jq -c '.repositories' "$BODY")" = '["team/a","team/b"]'
req GET /v2/_catalog "${OWN[@]}"
check "the owner sees every repository" jq -e '.repositories | index("other/b")' "$BODY"
api PATCH /api/v1/registries/default/tokens/ci-team '{"status":"disabled"}'
req GET "/v2/team/a/blobs/$L1" -u "ci-team:$TPW"
expect_error 401 UNAUTHORIZED "a disabled token is refused"
expect_reason TOKEN_DISABLED "that says TOKEN_DISABLED"
api PATCH /api/v1/registries/default/tokens/ci-team '{"status":"enabled"}'
api POST /api/v1/registries/default/tokens '{"name":"pull-only","scopeMapId":"_repositories_pull"}'
PPW=$(jq -r '.credentials.passwords[] | select(.name=="password1") | .value' "$BODY")
req HEAD "/v2/other/b/blobs/$T1" -u "pull-only:$PPW"
expect_status 200 "a token with the system map _repositories_pull pulls anything"
req DELETE "/v2/other/b/blobs/$T1" -u "pull-only:$PPW"
expect_error 401 UNAUTHORIZED "but cannot delete"

# ---- service principal with AcrPull
api POST /api/v1/servicePrincipals '{"displayName":"puller"}'
expect_status 201 "a service principal"
APP=$(jq -r .appId "$BODY"); SEC=$(jq -r .secret.value "$BODY")
api POST /api/v1/roleAssignments "{\"principal\":\"$APP\",\"role\":\"AcrPull\",\"scope\":\"/registries/default\"}"
expect_status 201 "AcrPull on the registry for it"
RID=$(jq -r .id "$BODY")
req HEAD "/v2/team/a/blobs/$L1" -u "$APP:$SEC"
expect_status 200 "the service principal pulls"
req POST "/v2/team/a/blobs/uploads/" -u "$APP:$SEC"
expect_error 401 UNAUTHORIZED "the service principal with AcrPull is refused on push"
expect_reason INSUFFICIENT_SCOPE "that says INSUFFICIENT_SCOPE"
AT=$(token_for "$APP" "$SEC" "repository:team/a:pull")
req HEAD "/v2/team/a/blobs/$L1" -H "Authorization: Bearer $AT"
expect_status 200 "its access token pulls"
api DELETE "/api/v1/roleAssignments/$RID"
req HEAD "/v2/team/a/blobs/$L1" -H "Authorization: Bearer $AT"
expect_error 401 UNAUTHORIZED "removing the role makes its token useless at once"
exp=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
api POST "/api/v1/servicePrincipals/$APP/secrets" "{\"expiresAt\":\"$exp\"}"
expect_status "200|201" "a secret that expires in 2 seconds"
SEC2=$(jq -r .value "$BODY")
sleep 3
req GET "/oauth2/token?service=$LS" -u "$APP:$SEC2"
expect_error 401 UNAUTHORIZED "the expired secret is refused"
expect_reason SECRET_EXPIRED "that says SECRET_EXPIRED"
check "the message names the expiry date" grep -q "expired at $exp" "$BODY"

# ---- a second registry: tokens do not cross
api POST /api/v1/registries '{"name":"second"}'
expect_status 201 "a second registry"
H2="second.localhost:$PORT"
AT=$(token_for owner "$PW" "repository:team/a:pull")
req GET /v2/ -H "Host: $H2" -H "Authorization: Bearer $AT"
expect_error 401 UNAUTHORIZED "a token for registry default is refused by registry second"
expect_reason WRONG_AUDIENCE "that says WRONG_AUDIENCE"
check "the message names both registries" grep -q "token for registry 'default' used on registry 'second'" "$BODY"
req HEAD "/v2/team/a/blobs/$L1" -H "Host: $H2" "${OWN[@]}"
expect_error 404 BLOB_UNKNOWN "the second registry does not see the first one's blobs"

# ---- anonymous pull
req HEAD "/v2/team/a/blobs/$L1"
expect_status 401 "no anonymous pull by default"
api PATCH /api/v1/registries/default '{"anonymousPullEnabled":true}'
req GET "/oauth2/token?service=$LS&scope=repository:team/a:pull,push"
expect_status 200 "an anonymous token once anonymous pull is on"
check "it grants pull only" test "$(jq -r .access_token "$BODY" | cut -d. -f2 | tr '_-' '/+' | sed 's/$/==/' | base64 -d 2>/dev/null | jq -c '.access[0].actions')" = '["pull"]'
req HEAD "/v2/team/a/blobs/$L1"
expect_status 200 "anonymous pull works"
req POST "/v2/team/a/blobs/uploads/"
expect_status 401 "anonymous push does not"
api PATCH /api/v1/registries/default '{"anonymousPullEnabled":false}'
req HEAD "/v2/team/a/blobs/$L1"
expect_status 401 "turning anonymous pull off applies on the next request"
finish
