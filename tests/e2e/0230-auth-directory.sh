#!/usr/bin/env bash
# The directory: OIDC discovery and JWKS, directory tokens for users
# (password, refresh_token) and service principals (client_credentials), the
# exchange of a directory token for a registry refresh token, and that
# refresh token used as docker does (null GUID) and revoked when the user's
# password changes.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
LS=default.localhost
reason() { jq -r '.errors[0].detail.reason // empty' "$BODY" 2>/dev/null; }
expect_reason() {
    local want=$1 desc=$2 got
    got=$(reason)
    if [ "$got" = "$want" ]; then ok "$desc"; else fail "$desc" "expected reason $want" "got ${got:-<none>}: $(cat "$BODY")"; fi
}

req GET /api/v1/tenant -u "owner:$PW"
expect_status 200 "the tenant is readable"
T=$(jq -r .tenantId "$BODY")
check "the tenant id is a GUID" bash -c "[[ '$T' =~ ^[0-9a-f-]{36}$ ]]"
req GET "/directory/$T/v2.0/.well-known/openid-configuration"
expect_status 200 "OIDC discovery answers"
check "discovery names the token endpoint and the keys" \
    jq -e '(.token_endpoint|endswith("/oauth2/v2.0/token")) and (.jwks_uri|endswith("/discovery/v2.0/keys")) and (.issuer|length>0)' "$BODY"
req GET "/directory/$T/discovery/v2.0/keys"
expect_status 200 "the JWKS answers"
check "the JWKS holds a P-256 key with a kid" jq -e '.keys[0].kty=="EC" and .keys[0].crv=="P-256" and (.keys[0].kid|length>0)' "$BODY"
req GET "/directory/00000000-0000-0000-0000-000000000001/discovery/v2.0/keys"
expect_status 404 "another tenant's keys are 404"

TE="/directory/$T/oauth2/v2.0/token"
req POST "$TE" --data-urlencode grant_type=password --data-urlencode username=owner --data-urlencode "password=$PW"
expect_status 200 "a directory token for the owner (password grant)"
DAT=$(jq -r .access_token "$BODY"); DRT=$(jq -r .refresh_token "$BODY")
check "it is a Bearer token with a refresh token" jq -e '.token_type=="Bearer" and (.refresh_token|length>0) and (.expires_in>0)' "$BODY"
req POST "$TE" --data-urlencode grant_type=password --data-urlencode username=owner --data-urlencode password=wrong
expect_error 401 UNAUTHORIZED "a wrong password gets no directory token"
req POST "$TE" --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$DRT"
expect_status 200 "the directory refresh token gives a new access token"
req GET /api/v1/registries -H "Authorization: Bearer $DAT"
expect_status 200 "the management API takes the directory token"

# exchange it for a registry refresh token, use it as docker would
req POST /oauth2/exchange --data-urlencode grant_type=access_token --data-urlencode "service=$LS" \
    --data-urlencode "tenant=$T" --data-urlencode "access_token=$DAT"
expect_status 200 "POST /oauth2/exchange gives a registry refresh token"
RRT=$(jq -r .refresh_token "$BODY")
req GET /oauth2/exchange
expect_status "404|405" "GET /oauth2/exchange is not a thing"
req POST /oauth2/exchange --data-urlencode grant_type=access_token --data-urlencode "service=$LS" \
    --data-urlencode "access_token=$RRT"
expect_error 401 UNAUTHORIZED "a registry token is not a directory token"
req POST /oauth2/exchange --data-urlencode grant_type=access_token --data-urlencode "service=$LS" \
    --data-urlencode "tenant=00000000-0000-0000-0000-000000000001" --data-urlencode "access_token=$DAT"
expect_error 401 UNAUTHORIZED "another tenant is refused"
req POST /oauth2/token --data-urlencode grant_type=refresh_token --data-urlencode "service=$LS" \
    --data-urlencode "scope=repository:team/x:pull,push" --data-urlencode "refresh_token=$RRT"
expect_status 200 "the exchanged refresh token gets an access token"
req GET /v2/ -u "00000000-0000-0000-0000-000000000000:$RRT"
expect_status 200 "and works as the null-GUID password"

# a service principal's client credentials
req POST /api/v1/servicePrincipals -u "owner:$PW" -H 'Content-Type: application/json' --data-binary '{"displayName":"ci"}'
APP=$(jq -r .appId "$BODY"); SEC=$(jq -r .secret.value "$BODY")
req POST "$TE" --data-urlencode grant_type=client_credentials --data-urlencode "client_id=$APP" --data-urlencode "client_secret=$SEC"
expect_status 200 "client_credentials for a service principal"
check "client_credentials gives no refresh token" jq -e '.refresh_token == null' "$BODY"

# changing the user's password revokes what came from the old one
req POST /api/v1/users/owner/password -u "owner:$PW" -H 'Content-Type: application/json' --data-binary '{"password":"a-new-password-1"}'
expect_status 200 "the owner changes their password"
req GET /v2/ -u "00000000-0000-0000-0000-000000000000:$RRT"
expect_error 401 UNAUTHORIZED "the registry refresh token from the old password is revoked at once"
expect_reason REFRESH_REVOKED "that says REFRESH_REVOKED"
req GET /api/v1/registries -H "Authorization: Bearer $DAT"
expect_error 401 UNAUTHORIZED "so is the directory token"
req GET /v2/ -u "owner:a-new-password-1"
expect_status 200 "the new password works"

# nobody can remove the last Owner of the server
NPW=a-new-password-1
req GET "/api/v1/roleAssignments?principal=owner" -u "owner:$NPW"
OID=$(jq -r '.value[] | select(.roleDefinitionName=="Owner" and .scope=="/") | .id' "$BODY" | head -n 1)
req DELETE "/api/v1/roleAssignments/$OID" -u "owner:$NPW"
expect_error 409 CONFLICT "removing the last Owner on / is refused"
req DELETE /api/v1/users/owner -u "owner:$NPW"
expect_error 409 CONFLICT "deleting the last Owner is refused"
req POST /api/v1/users -u "owner:$NPW" -H 'Content-Type: application/json' --data-binary '{"name":"second-admin"}'
req POST /api/v1/roleAssignments -u "owner:$NPW" -H 'Content-Type: application/json' \
    --data-binary '{"principal":"second-admin","role":"Owner","scope":"/"}'
expect_status 201 "a second Owner on /"
req DELETE "/api/v1/roleAssignments/$OID" -u "owner:$NPW"
expect_status 204 "now the first Owner's assignment can go"
finish
