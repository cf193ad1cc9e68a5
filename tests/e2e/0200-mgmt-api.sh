#!/usr/bin/env bash
# The management API under /api/v1 with credentials required: who may call
# it (Basic and directory Bearer tokens; 401 otherwise), registries and
# their admin credentials, users, service principals and their secrets,
# scope maps, tokens and role assignments; the rights each call needs
# (Reader reads, Contributor changes, Owner assigns: 403 DENIED otherwise);
# validation errors (400 INVALID_REQUEST naming the field, 409 on
# conflicts); changes that apply to the next data-plane request; and no GET
# ever showing a secret.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { work_init; skip "jq is not installed"; finish; }
BERTH_AUTH=1 berth_start

OWNER_PW=$(cat "$DATA/initial-owner-password" 2>/dev/null)
[ -n "$OWNER_PW" ] || bail "the first start writes the owner's password" "no $DATA/initial-owner-password"
OWNER="owner:$OWNER_PW"
GETS=$WORK/get-bodies
SECRETS=$WORK/secrets
: >"$GETS"
: >"$SECRETS"

# call CRED METHOD PATH [JSON]: CRED is user:password, bearer:TOKEN or none.
# Every GET body is kept, to check later that none shows a secret.
call() {
    local cred=$1 method=$2 path=$3 args=()
    case $cred in
        none) ;;
        bearer:*) args=(-H "Authorization: Bearer ${cred#bearer:}") ;;
        *) args=(-u "$cred") ;;
    esac
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    req "$method" "/api/v1$path" "${args[@]}"
    if [ "$method" = GET ]; then
        cat "$BODY" >>"$GETS"
        echo >>"$GETS"
    fi
}

j() {
    jq -r "$1" "$BODY" 2>/dev/null
}

msg() {
    j '.errors[0].message'
}

keep_secret() {
    [ -n "$1" ] && [ "$1" != null ] && echo "$1" >>"$SECRETS"
}

# dir_token USER PASSWORD: a directory access token (empty on failure).
dir_token() {
    req POST "/directory/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=password \
        --data-urlencode "username=$1" --data-urlencode "password=$2"
    j '.access_token // empty'
}

# reg_login REGISTRY USER PASSWORD: the data plane's token endpoint for REGISTRY.
reg_login() {
    req GET "/oauth2/token?service=$1.localhost&scope=repository:team/app:pull" -H "Host: $1.localhost:$PORT" \
        -u "$2:$3"
}

# ---------------------------------------------------------------- authentication

call none GET /tenant
expect_error 401 UNAUTHORIZED "no credentials: 401"
expect_header_re WWW-Authenticate '^Bearer ' "the 401 carries a Bearer challenge"
call "owner:wrong-password" GET /tenant
expect_error 401 UNAUTHORIZED "a wrong password: 401"
expect_eq "the refusal says no more than a stranger may know" INVALID_CREDENTIALS "$(j '.errors[0].detail.reason')"
call "bearer:not.a.token" GET /tenant
expect_error 401 UNAUTHORIZED "a malformed Bearer token: 401"
req GET /api/v1/tenant -H 'Authorization: Digest x'
expect_error 401 UNAUTHORIZED "an unknown Authorization scheme: 401"

call "$OWNER" GET /tenant
expect_status 200 "owner with Basic credentials reads the tenant"
TENANT=$(j .tenantId)
expect_match "tenantId is a GUID" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' "$TENANT"
expect_eq "tokenEndpoint names the tenant" "/directory/$TENANT/oauth2/v2.0/token" "$(j .tokenEndpoint)"

OWNER_TOKEN=$(dir_token owner "$OWNER_PW")
check "owner gets a directory access token" test -n "$OWNER_TOKEN"
call "bearer:$OWNER_TOKEN" GET /registries
expect_status 200 "owner with a Bearer directory token lists registries"
expect_eq "the default registry is listed" default "$(j '[.value[].name] | index("default") | if . == null then "" else "default" end')"
BEARER="bearer:$OWNER_TOKEN"

req GET /api/v1/nothing-here -u "$OWNER"
expect_error 404 NOT_FOUND "an unknown endpoint: 404"
req PUT /api/v1/registries -u "$OWNER"
expect_error 405 UNSUPPORTED "a wrong method: 405"
expect_header_re Allow 'GET, POST' "the 405 lists GET and POST"

# ---------------------------------------------------------------- registries

call "$BEARER" POST /registries '{"name":"teamreg1"}'
expect_status 201 "create a registry"
expect_eq "its name" teamreg1 "$(j .name)"
expect_eq "its id" /registries/teamreg1 "$(j .id)"
expect_eq "its login server" teamreg1.localhost "$(j .loginServer)"
expect_match "its creation date is RFC 3339 UTC" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "$(j .creationDate)"
expect_eq "the admin user starts disabled" false "$(j .adminUserEnabled)"
expect_eq "lifetime 0 reports the server's refresh TTL" 10800 "$(j .refreshTokenLifetimeSeconds)"
expect_eq "lifetime 0 reports the server's access TTL" 3600 "$(j .accessTokenLifetimeSeconds)"
expect_header Location /api/v1/registries/teamreg1 "Location names the new registry"

call "$BEARER" POST /registries '{"name":"TeamReg2"}'
expect_error 400 INVALID_REQUEST "an uppercase registry name: 400"
expect_eq "the message offers the lowercase name" "registry names are lowercase: use 'teamreg2'" "$(msg)"
call "$BEARER" POST /registries '{"name":"abc"}'
expect_error 400 INVALID_REQUEST "a 3-character registry name: 400"
expect_match "the message gives the length rule" '5 to 50' "$(msg)"
call "$BEARER" POST /registries '{"name":"team-reg"}'
expect_error 400 INVALID_REQUEST "a registry name with a hyphen: 400"
call "$BEARER" POST /registries '{"name":"teamreg1"}'
expect_error 409 CONFLICT "a registry name taken: 409"
call "$BEARER" POST /registries '{"name":"teamreg3","color":"red"}'
expect_error 400 INVALID_REQUEST "an unknown field: 400"
expect_match "the message names the field" "color" "$(msg)"
call "$BEARER" POST /registries '{"name":"teamreg3","adminUserEnabled":"yes"}'
expect_error 400 INVALID_REQUEST "a string where a boolean belongs: 400"
expect_match "the message names the field and the type" "adminUserEnabled.*true or false" "$(msg)"
call "$BEARER" POST /registries '{"name":"teamreg3",'
expect_error 400 INVALID_REQUEST "malformed JSON: 400"
call "$BEARER" POST /registries '{"name":"teamreg3","name":"teamreg4"}'
expect_error 400 INVALID_REQUEST "a duplicate key: 400"
call "$BEARER" POST /registries '["teamreg3"]'
expect_error 400 INVALID_REQUEST "a JSON array body: 400"
call "$BEARER" POST /registries '{}'
expect_error 400 INVALID_REQUEST "no name: 400"
expect_match "the message names the missing field" "'name' is required" "$(msg)"
head -c 70000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
req POST /api/v1/registries -u "$OWNER" -H 'Content-Type: application/json' --data-binary @"$WORK/big.json"
expect_error 413 SIZE_INVALID "a body over 64 KiB: 413"

call "$BEARER" POST /registries '{"name":"otherreg2","anonymousPullEnabled":true,"accessTokenLifetimeSeconds":600}'
expect_status 201 "create a registry with settings"
expect_eq "anonymous pull as asked" true "$(j .anonymousPullEnabled)"
expect_eq "access lifetime as asked" 600 "$(j .accessTokenLifetimeSeconds)"

call "$BEARER" GET /registries/teamreg1
expect_status 200 "read one registry"
expect_eq "by its name" teamreg1 "$(j .name)"
call "$BEARER" GET /registries/nosuchreg
expect_error 404 NOT_FOUND "an unknown registry: 404"
call "$BEARER" PATCH /registries/teamreg1 '{"adminUserEnabled":true,"refreshTokenLifetimeSeconds":7200}'
expect_status 200 "patch a registry"
expect_eq "admin user now enabled" true "$(j .adminUserEnabled)"
expect_eq "refresh lifetime changed" 7200 "$(j .refreshTokenLifetimeSeconds)"
expect_eq "enabling the admin user makes both passwords, shown in this answer" \
    "teamreg1 password:43 password2:43" \
    "$(j '"\(.credentials.username) " + ([.credentials.passwords[] | "\(.name):\(.value | length)"] | join(" "))')"
expect_header Cache-Control no-store "an answer with admin passwords is not cached"
FIRST_ADMIN_PW=$(j '.credentials.passwords[0].value')
keep_secret "$FIRST_ADMIN_PW"
keep_secret "$(j '.credentials.passwords[1].value')"
reg_login teamreg1 teamreg1 "$FIRST_ADMIN_PW"
expect_status 200 "the password made by enabling the admin user logs in"
call "$BEARER" PATCH /registries/teamreg1 '{"adminUserEnabled":true}'
expect_eq "enabling it again while enabled makes no password" false "$(j 'has("credentials")')"
call "$BEARER" GET /registries/teamreg1
expect_eq "a read of the registry shows no password" false "$(j 'has("credentials")')"
call "$BEARER" PATCH /registries/otherreg2 '{"accessTokenLifetimeSeconds":0}'
expect_eq "lifetime back to 0 reports the server default" 3600 "$(j .accessTokenLifetimeSeconds)"
call "$BEARER" PATCH /registries/teamreg1 '{"accessTokenLifetimeSeconds":5}'
expect_error 400 INVALID_REQUEST "a 5 s access lifetime: 400"
call "$BEARER" PATCH /registries/teamreg1 '{"name":"renamed1"}'
expect_error 400 INVALID_REQUEST "a registry cannot be renamed"
call "$BEARER" GET /registries
expect_eq "the list holds three registries" "default otherreg2 teamreg1" "$(j '[.value[].name] | sort | join(" ")')"

# ---------------------------------------------------------------- admin credentials

call "$BEARER" GET /registries/teamreg1/credentials
expect_status 200 "read the admin credentials"
expect_eq "the username is the registry name" teamreg1 "$(j .username)"
expect_eq "two password slots, both set when the admin user was enabled" "password:true password2:true" \
    "$(j '[.passwords[] | "\(.name):\(.createdAt | type == "string")"] | join(" ")')"
call "$BEARER" POST /registries/teamreg1/credentials/regenerate '{"name":"password"}'
expect_status 200 "regenerate the admin password"
ADMIN_PW=$(j '.passwords[0].value')
keep_secret "$ADMIN_PW"
expect_match "the new value is shown once" '^[A-Za-z0-9_-]{43}$' "$ADMIN_PW"
expect_header Cache-Control no-store "a shown secret is not cached"
call "$BEARER" POST /registries/teamreg1/credentials/regenerate '{"name":"password3"}'
expect_error 400 INVALID_REQUEST "regenerate an unknown slot: 400"
call "$BEARER" GET /registries/teamreg1/credentials
expect_match "the admin password now has a creation time" '^[0-9]{4}-' "$(j '.passwords[0].createdAt')"
expect_eq "no value is shown" 0 "$(j '[.passwords[] | select(has("value"))] | length')"
reg_login teamreg1 teamreg1 "$ADMIN_PW"
expect_status 200 "the admin user logs in on the next request"
call "$BEARER" POST /registries/teamreg1/credentials/regenerate '{"name":"password"}'
keep_secret "$(j '.passwords[0].value')"
reg_login teamreg1 teamreg1 "$ADMIN_PW"
expect_error 401 UNAUTHORIZED "the replaced admin password no longer works"

# ---------------------------------------------------------------- users

call "$BEARER" POST /users '{"name":"alice"}'
expect_status 201 "create a user without a password"
ALICE_PW=$(j .password)
keep_secret "$ALICE_PW"
expect_match "a password is generated and shown once" '^[A-Za-z0-9_-]{43}$' "$ALICE_PW"
expect_match "the user has a GUID id" '^[0-9a-f-]{36}$' "$(j .id)"
BOB_PW=bob-password-0123
call "$BEARER" POST /users "{\"name\":\"bob\",\"password\":\"$BOB_PW\"}"
expect_status 201 "create a user with a password"
expect_eq "a given password is not echoed" false "$(j 'has("password")')"
call "$BEARER" POST /users '{"name":"carol","password":"carol-password-01"}'
expect_status 201 "create a third user"
call "$BEARER" POST /users '{"name":"bob"}'
expect_error 409 CONFLICT "a user name taken: 409"
call "$BEARER" POST /users '{"name":"Dave"}'
expect_error 400 INVALID_REQUEST "an uppercase user name: 400"
expect_eq "the message offers the lowercase name" "user names are lowercase: use 'dave'" "$(msg)"
call "$BEARER" POST /users '{"name":"-dave"}'
expect_error 400 INVALID_REQUEST "a user name starting with '-': 400"
call "$BEARER" POST /users '{"name":"0c6b2b1e-8f3a-4d2e-9c1b-2f4e5d6a7b8c"}'
expect_error 400 INVALID_REQUEST "a GUID as user name: 400"
expect_match "the message says why" GUID "$(msg)"
call "$BEARER" POST /users '{"name":"dave","password":"short"}'
expect_error 400 INVALID_REQUEST "a short password: 400"
call "$BEARER" POST /users '{"name":"dave","password":12345678901234}'
expect_error 400 INVALID_REQUEST "a number as password: 400"
call "$BEARER" GET /users
expect_status 200 "list users"
expect_eq "the list names every user" "alice bob carol owner" "$(j '[.value[].name] | sort | join(" ")')"
expect_eq "no password or hash in the list" 0 "$(j '[.value[] | select(has("password") or has("hash"))] | length')"
call "$BEARER" GET /users/alice
expect_status 200 "read one user"
call "$BEARER" GET /users/nobody
expect_error 404 NOT_FOUND "an unknown user: 404"

call "alice:$ALICE_PW" GET /tenant
expect_status 200 "alice logs in with the generated password"
call "$BEARER" POST /users/alice/password '{}'
expect_status 200 "reset alice's password"
OLD_ALICE=$ALICE_PW
ALICE_PW=$(j .password)
keep_secret "$ALICE_PW"
check "a new password is generated" test -n "$ALICE_PW" -a "$ALICE_PW" != null -a "$ALICE_PW" != "$OLD_ALICE"
call "alice:$OLD_ALICE" GET /tenant
expect_error 401 UNAUTHORIZED "the old password no longer works"
call "alice:$ALICE_PW" GET /tenant
expect_status 200 "the new password works"
call "alice:$ALICE_PW" POST /users/alice/password '{"password":"alice-own-password-1"}'
expect_status 200 "a user without roles sets their own password"
ALICE_PW=alice-own-password-1
call "alice:$ALICE_PW" POST /users/bob/password '{}'
expect_error 403 DENIED "but not somebody else's"

# ---------------------------------------------------------------- role assignments and rights

call "$BEARER" POST /roleAssignments '{"principal":"bob","role":"Reader","scope":"/registries/teamreg1"}'
expect_status 201 "assign bob Reader on teamreg1"
BOB_READER=$(j .id)
expect_eq "principalType" User "$(j .principalType)"
expect_eq "principalName" bob "$(j .principalName)"
expect_eq "roleDefinitionName" Reader "$(j .roleDefinitionName)"
expect_eq "scope" /registries/teamreg1 "$(j .scope)"
call "$BEARER" POST /roleAssignments '{"principal":"bob","role":"Reader","scope":"/registries/teamreg1"}'
expect_error 409 CONFLICT "the same assignment twice: 409"
call "$BEARER" POST /roleAssignments '{"principal":"bob","role":"Janitor","scope":"/"}'
expect_error 400 INVALID_REQUEST "an unknown role: 400"
expect_match "the message lists the roles" "AcrPull" "$(msg)"
call "$BEARER" POST /roleAssignments '{"principal":"bob","role":"AcrPull","scope":"/repos/x"}'
expect_error 400 INVALID_REQUEST "a malformed scope: 400"
call "$BEARER" POST /roleAssignments '{"principal":"nobody","role":"AcrPull","scope":"/"}'
expect_error 400 INVALID_REQUEST "an unknown principal: 400"
call "$BEARER" POST /roleAssignments '{"principal":"bob","role":"AcrPull","scope":"/registries/nosuchreg"}'
expect_error 400 INVALID_REQUEST "a scope naming an unknown registry: 400"
call "$BEARER" POST /roleAssignments '{"principal":"carol","role":"AcrPull","scope":"/registries/teamreg1/repositories/team"}'
expect_status 201 "assign carol AcrPull on a repository prefix"
CAROL_PULL=$(j .id)

call "bob:$BOB_PW" GET /registries
expect_eq "a Reader lists only the registry it may read" teamreg1 "$(j '[.value[].name] | join(" ")')"
call "bob:$BOB_PW" GET /registries/teamreg1
expect_status 200 "a Reader reads its registry"
call "bob:$BOB_PW" GET /registries/teamreg1/scopeMaps
expect_status 200 "a Reader reads its scope maps"
call "bob:$BOB_PW" POST /registries/teamreg1/tokens '{"name":"bobs-token","scopeMapId":"_repositories_pull"}'
expect_error 403 DENIED "a Reader cannot create a token"
expect_eq "the message names the right and the scope" \
    "user 'bob' needs Contributor on registry 'teamreg1' to change its tokens" "$(msg)"
call "bob:$BOB_PW" PATCH /registries/teamreg1 '{"anonymousPullEnabled":true}'
expect_error 403 DENIED "a Reader cannot change the registry"
call "bob:$BOB_PW" GET /registries/otherreg2
expect_error 403 DENIED "a Reader of one registry cannot read another"
call "bob:$BOB_PW" GET /users
expect_error 403 DENIED "a registry Reader cannot list users"
expect_match "the message names the server scope" "needs Reader on the server" "$(msg)"
call "bob:$BOB_PW" POST /roleAssignments '{"principal":"bob","role":"Owner","scope":"/registries/teamreg1"}'
expect_error 403 DENIED "a Reader cannot assign roles"
BOB_TOKEN=$(dir_token bob "$BOB_PW")
call "bearer:$BOB_TOKEN" GET /registries/teamreg1/tokens
expect_status 200 "a Reader's Bearer token reads too"
call "bob:$BOB_PW" GET /roleAssignments
expect_eq "a Reader sees the assignments on its registry only" "$BOB_READER $CAROL_PULL" \
    "$(j '[.value[].id] | join(" ")')"
call "$BEARER" GET "/roleAssignments?principal=bob"
expect_eq "filtering by principal" "$BOB_READER" "$(j '[.value[].id] | join(" ")')"
call "$BEARER" GET "/roleAssignments?principal=nobody"
expect_error 404 NOT_FOUND "filtering by an unknown principal: 404"
call "$BEARER" GET /roleAssignments
expect_eq "the owner sees every assignment (its own on / too)" 3 "$(j '.value | length')"

call "carol:carol-password-01" GET /registries
expect_eq "a user with only a repository role lists no registry" 0 "$(j '.value | length')"
call "carol:carol-password-01" GET /registries/teamreg1
expect_error 403 DENIED "a repository role gives no management right"
call "alice:$ALICE_PW" GET /registries/default
expect_error 403 DENIED "a user without roles: 403"
call "alice:$ALICE_PW" POST /registries '{"name":"alicereg"}'
expect_error 403 DENIED "a user without roles cannot create registries"
expect_eq "the message names the right" \
    "user 'alice' needs Contributor on the server (scope '/') to create registries" "$(msg)"
call "alice:$ALICE_PW" GET /roleAssignments
expect_eq "a user without roles sees no assignment" 0 "$(j '.value | length')"

call "bob:$BOB_PW" DELETE "/roleAssignments/$BOB_READER"
expect_error 403 DENIED "a Reader cannot remove its own assignment"
call "$BEARER" DELETE "/roleAssignments/$BOB_READER"
expect_status 204 "remove an assignment"
call "bob:$BOB_PW" GET /registries/teamreg1
expect_error 403 DENIED "the removal applies to the next request"
call "$BEARER" DELETE "/roleAssignments/$BOB_READER"
expect_error 404 NOT_FOUND "remove it again: 404"

call "$BEARER" POST /roleAssignments '{"principal":"alice","role":"Contributor","scope":"/registries/teamreg1"}'
expect_status 201 "assign alice Contributor on teamreg1"
call "alice:$ALICE_PW" POST /registries/teamreg1/credentials/regenerate '{"name":"password2"}'
expect_status 200 "a Contributor regenerates the admin password"
keep_secret "$(j '.passwords[0].value')"
call "alice:$ALICE_PW" POST /roleAssignments '{"principal":"bob","role":"Reader","scope":"/registries/teamreg1"}'
expect_error 403 DENIED "a Contributor cannot assign roles"
expect_match "assigning needs Owner" "needs Owner on registry 'teamreg1'" "$(msg)"
call "alice:$ALICE_PW" DELETE /registries/otherreg2
expect_error 403 DENIED "a Contributor of one registry cannot delete another"

# ---------------------------------------------------------------- service principals

call "$BEARER" POST /servicePrincipals '{"displayName":"ci pipeline"}'
expect_status 201 "create a service principal"
APP=$(j .appId)
SP_SECRET=$(j .secret.value)
keep_secret "$SP_SECRET"
expect_match "appId is a GUID" '^[0-9a-f-]{36}$' "$APP"
expect_match "the first secret is shown once" '^[A-Za-z0-9_-]{43}$' "$SP_SECRET"
exp_year=$(j .secret.expiresAt | cut -c1-4)
expect_eq "the first secret expires in a year by default" "$(date -u -d '+365 days' +%Y)" "$exp_year"
call "$BEARER" POST /servicePrincipals '{}'
expect_error 400 INVALID_REQUEST "no displayName: 400"
call "$BEARER" POST /servicePrincipals '{"displayName":"x","expiresAt":"2001-01-01T00:00:00Z"}'
expect_error 400 INVALID_REQUEST "an expiry in the past: 400"
call "$BEARER" POST /servicePrincipals '{"displayName":"x","expiresAt":"tomorrow"}'
expect_error 400 INVALID_REQUEST "an expiry that is no RFC 3339 time: 400"
call "$BEARER" POST /servicePrincipals '{"displayName":"x","expiresInDays":5,"expiresAt":"2099-01-01T00:00:00Z"}'
expect_error 400 INVALID_REQUEST "expiresInDays and expiresAt together: 400"
call "$BEARER" GET /servicePrincipals
expect_eq "the list holds the principal" "ci pipeline" "$(j '[.value[].displayName] | join(",")')"

call "$APP:$SP_SECRET" GET /tenant
expect_status 200 "the service principal calls with Basic credentials"
req POST "/directory/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$APP" --data-urlencode "client_secret=$SP_SECRET"
SP_TOKEN=$(j '.access_token // empty')
check "client_credentials gives the principal a directory token" test -n "$SP_TOKEN"
call "bearer:$SP_TOKEN" GET /users
expect_error 403 DENIED "a principal without roles cannot list users"
expect_match "the message names the service principal" "service principal '$APP'" "$(msg)"

at=$(date -u -d '+10 days' +%Y-%m-%dT%H:%M:%SZ)
call "$BEARER" POST "/servicePrincipals/$APP/secrets" "{\"description\":\"second\",\"expiresAt\":\"$at\"}"
expect_status 201 "add a secret with an expiry time"
SECRET2=$(j .id)
keep_secret "$(j .value)"
expect_eq "its expiry as asked" "$at" "$(j .expiresAt)"
for i in 3 4 5 6 7 8 9 10; do
    call "$BEARER" POST "/servicePrincipals/$APP/secrets" "{\"description\":\"s$i\",\"expiresInDays\":30}"
    [ "$STATUS" = 201 ] || break
    keep_secret "$(j .value)"
done
expect_status 201 "ten secrets in all"
call "$BEARER" POST "/servicePrincipals/$APP/secrets" '{"description":"eleventh"}'
expect_error 409 CONFLICT "an eleventh secret: 409"
call "$BEARER" POST "/servicePrincipals/$APP/secrets" '{"expiresInDays":0}'
expect_error 400 INVALID_REQUEST "expiresInDays 0: 400"
call "$BEARER" GET "/servicePrincipals/$APP"
expect_status 200 "read the service principal"
expect_eq "it lists its ten secrets" 10 "$(j '.secrets | length')"
expect_eq "without values" 0 "$(j '[.secrets[] | select(has("value"))] | length')"
call "$BEARER" DELETE "/servicePrincipals/$APP/secrets/$SECRET2"
expect_status 204 "remove a secret"
call "$BEARER" DELETE "/servicePrincipals/$APP/secrets/$SECRET2"
expect_error 404 NOT_FOUND "remove it again: 404"
call "$BEARER" GET /servicePrincipals/not-a-guid
expect_error 404 NOT_FOUND "an app id that is no GUID: 404"

call "$BEARER" POST /roleAssignments "{\"principal\":\"$APP\",\"role\":\"Contributor\",\"scope\":\"/registries/otherreg2\"}"
expect_status 201 "assign the principal Contributor on otherreg2"
expect_eq "principalType" ServicePrincipal "$(j .principalType)"
expect_eq "principalId is the app id" "$APP" "$(j .principalId)"
call "bearer:$SP_TOKEN" POST /registries/otherreg2/tokens '{"name":"sp-made","scopeMapId":"_repositories_push","noPasswords":true}'
expect_status 201 "the principal makes a token in otherreg2 with its Bearer token"

# ---------------------------------------------------------------- scope maps

call "$BEARER" GET /registries/teamreg1/scopeMaps
expect_status 200 "list scope maps"
expect_eq "the five system maps are listed" 5 "$(j '[.value[] | select(.type == "SystemDefined")] | length')"
expect_eq "with their actions" "repositories/*/content/read" \
    "$(j '.value[] | select(.name == "_repositories_pull") | .actions | join(",")')"
call "$BEARER" POST /registries/teamreg1/scopeMaps \
    '{"name":"team-pull","description":"pull team/*","actions":["repositories/team/*/content/read","repositories/team/*/metadata/read"]}'
expect_status 201 "create a scope map"
expect_eq "it is user-defined" UserDefined "$(j .type)"
expect_eq "with its actions" 2 "$(j '.actions | length')"
call "$BEARER" POST /registries/teamreg1/scopeMaps '{"name":"team-pull","actions":["repositories/x/content/read"]}'
expect_error 409 CONFLICT "a scope map name taken: 409"
call "$BEARER" POST /registries/teamreg1/scopeMaps \
    '{"name":"bad-rule","actions":["repositories/team/*/content/read","repositories/team/content/fly"]}'
expect_error 400 INVALID_REQUEST "a bad rule: 400"
expect_match "the message points at the rule" '^actions\[1\]: ' "$(msg)"
call "$BEARER" POST /registries/teamreg1/scopeMaps '{"name":"no-rules","actions":[]}'
expect_error 400 INVALID_REQUEST "no rules: 400"
call "$BEARER" POST /registries/teamreg1/scopeMaps '{"name":"_mine","actions":["repositories/x/content/read"]}'
expect_error 400 INVALID_REQUEST "a name starting with '_': 400"
call "$BEARER" POST /registries/teamreg1/scopeMaps '{"name":"abc","actions":["repositories/x/content/read"]}'
expect_error 400 INVALID_REQUEST "a 3-character scope map name: 400"
call "$BEARER" POST /registries/teamreg1/scopeMaps '{"name":"x-map","actions":["repositories/x/content/read",7]}'
expect_error 400 INVALID_REQUEST "a number among the actions: 400"
call "$BEARER" GET /registries/teamreg1/scopeMaps/team-pull
expect_status 200 "read a scope map"
call "$BEARER" GET /registries/teamreg1/scopeMaps/_repositories_admin
expect_eq "read a system map" SystemDefined "$(j .type)"
call "$BEARER" GET /registries/teamreg1/scopeMaps/nosuchmap
expect_error 404 NOT_FOUND "an unknown scope map: 404"
call "$BEARER" PATCH /registries/teamreg1/scopeMaps/team-pull '{"description":"read team"}'
expect_status 200 "patch a scope map"
expect_eq "new description" "read team" "$(j .description)"
expect_eq "actions kept" 2 "$(j '.actions | length')"
call "$BEARER" PATCH /registries/teamreg1/scopeMaps/_repositories_pull '{"description":"x"}'
expect_error 409 CONFLICT "a system map cannot be changed"
call "$BEARER" DELETE /registries/teamreg1/scopeMaps/_repositories_pull
expect_error 409 CONFLICT "a system map cannot be deleted"

# ---------------------------------------------------------------- tokens

call "$BEARER" POST /registries/teamreg1/tokens '{"name":"ci-token","scopeMapId":"team-pull"}'
expect_status 201 "create a token"
expect_eq "its scope map" team-pull "$(j .scopeMapId)"
expect_eq "enabled" enabled "$(j .status)"
expect_eq "two passwords" "password1 password2" "$(j '[.credentials.passwords[].name] | join(" ")')"
TOK_PW1=$(j '.credentials.passwords[0].value')
TOK_PW2=$(j '.credentials.passwords[1].value')
keep_secret "$TOK_PW1"
keep_secret "$TOK_PW2"
expect_match "password1 shown once" '^[A-Za-z0-9_-]{43}$' "$TOK_PW1"
expect_eq "the username is the token name" ci-token "$(j .credentials.username)"
call "$BEARER" POST /registries/teamreg1/tokens '{"name":"ci-token","scopeMapId":"team-pull"}'
expect_error 409 CONFLICT "a token name taken: 409"
call "$BEARER" POST /registries/teamreg1/tokens '{"name":"other-token","scopeMapId":"no-such-map"}'
expect_error 400 INVALID_REQUEST "an unknown scope map: 400"
expect_match "the message names the scope map" "no-such-map" "$(msg)"
call "$BEARER" POST /registries/teamreg1/tokens '{"name":"teamreg1","scopeMapId":"_repositories_pull"}'
expect_error 400 INVALID_REQUEST "a token named like its registry: 400"
call "$BEARER" POST /registries/teamreg1/tokens '{"name":"tok","scopeMapId":"_repositories_pull"}'
expect_error 400 INVALID_REQUEST "a 3-character token name: 400"
call "$BEARER" POST /registries/teamreg1/tokens '{"name":"tok_en1","scopeMapId":"_repositories_pull"}'
expect_error 400 INVALID_REQUEST "an underscore in a token name: 400"
call "$BEARER" POST /registries/teamreg1/tokens '{"name":"other-token","scopeMapId":"_repositories_pull","status":"paused"}'
expect_error 400 INVALID_REQUEST "an unknown status: 400"
call "$BEARER" POST /registries/teamreg1/tokens '{"name":"quiet-token","scopeMapId":"/registries/teamreg1/scopeMaps/_repositories_pull","noPasswords":true,"status":"disabled"}'
expect_status 201 "a token without passwords, by scope map id"
expect_eq "no passwords" 0 "$(j '.credentials.passwords | length')"
expect_eq "disabled" disabled "$(j .status)"

reg_login teamreg1 ci-token "$TOK_PW1"
expect_status 200 "the token logs in to its registry"
call "$BEARER" PATCH /registries/teamreg1/tokens/ci-token '{"status":"disabled"}'
expect_status 200 "disable the token"
expect_eq "now disabled" disabled "$(j .status)"
reg_login teamreg1 ci-token "$TOK_PW1"
expect_error 401 UNAUTHORIZED "a disabled token is refused on the next request"
call "$BEARER" PATCH /registries/teamreg1/tokens/ci-token '{"status":"enabled","scopeMapId":"_repositories_pull"}'
expect_eq "enabled again with another scope map" "enabled _repositories_pull" "$(j '"\(.status) \(.scopeMapId)"')"
call "$BEARER" PATCH /registries/teamreg1/tokens/ci-token '{"scopeMapId":"gone-map"}'
expect_error 400 INVALID_REQUEST "patch to an unknown scope map: 400"
call "$BEARER" POST /registries/teamreg1/tokens/ci-token/generateCredentials '{"name":"password1","expiresInDays":30}'
expect_status 200 "generate password1"
NEW_PW1=$(j '.passwords[0].value')
keep_secret "$NEW_PW1"
expect_eq "only password1 is generated" password1 "$(j '[.passwords[].name] | join(" ")')"
expect_eq "it expires in 30 days" "$(date -u -d '+30 days' +%Y-%m-%d)" "$(j '.passwords[0].expiry' | cut -c1-10)"
reg_login teamreg1 ci-token "$TOK_PW1"
expect_error 401 UNAUTHORIZED "the old password1 no longer works"
reg_login teamreg1 ci-token "$NEW_PW1"
expect_status 200 "the new password1 works"
reg_login teamreg1 ci-token "$TOK_PW2"
expect_status 200 "password2 is untouched"
call "$BEARER" POST /registries/teamreg1/tokens/ci-token/generateCredentials '{"name":"password3"}'
expect_error 400 INVALID_REQUEST "generate an unknown slot: 400"
call "$BEARER" POST /registries/teamreg1/tokens/ci-token/generateCredentials \
    '{"expiresInDays":3,"expiry":"2099-01-01T00:00:00Z"}'
expect_error 400 INVALID_REQUEST "expiresInDays and expiry together: 400"
call "$BEARER" POST /registries/teamreg1/tokens/quiet-token/generateCredentials '{"expiry":"2099-01-01T00:00:00+01:00"}'
expect_status 200 "generate both passwords of a token with an expiry time"
keep_secret "$(j '.passwords[0].value')"
keep_secret "$(j '.passwords[1].value')"
expect_eq "both, with the expiry in UTC" "password1 2098-12-31T23:00:00Z password2 2098-12-31T23:00:00Z" \
    "$(j '[.passwords[] | "\(.name) \(.expiry)"] | join(" ")')"

call "$BEARER" GET /registries/teamreg1/tokens
expect_status 200 "list tokens"
expect_eq "both tokens" "ci-token quiet-token" "$(j '[.value[].name] | sort | join(" ")')"
expect_eq "no password values in the list" 0 "$(j '[.value[].credentials.passwords[] | select(has("value"))] | length')"
call "$BEARER" GET /registries/teamreg1/tokens/ci-token
expect_status 200 "read a token"
expect_match "its password1 has a creation time" '^[0-9]{4}-' "$(j '.credentials.passwords[0].creationTime')"
call "$BEARER" GET /registries/teamreg1/tokens/nosuchtoken
expect_error 404 NOT_FOUND "an unknown token: 404"

call "$BEARER" PATCH /registries/teamreg1/tokens/quiet-token '{"scopeMapId":"team-pull"}'
call "$BEARER" DELETE /registries/teamreg1/scopeMaps/team-pull
expect_error 409 CONFLICT "a scope map a token uses cannot be deleted"
expect_match "the message names the token" "quiet-token" "$(msg)"
call "$BEARER" DELETE /registries/teamreg1/tokens/quiet-token
expect_status 204 "delete a token"
call "$BEARER" DELETE /registries/teamreg1/tokens/quiet-token
expect_error 404 NOT_FOUND "delete it again: 404"
call "$BEARER" DELETE /registries/teamreg1/scopeMaps/team-pull
expect_status 204 "then the scope map can go"

# ---------------------------------------------------------------- deleting

call "$BEARER" DELETE /registries/default
expect_error 409 CONFLICT "the default registry cannot be deleted"
call "$BEARER" DELETE /registries/teamreg1
expect_status 204 "delete a registry"
call "$BEARER" GET /registries/teamreg1/tokens
expect_error 404 NOT_FOUND "its tokens are gone with it"
reg_login teamreg1 ci-token "$NEW_PW1"
check "its token no longer logs in" test "$STATUS" != 200
call "$BEARER" GET "/roleAssignments?principal=alice"
expect_eq "role assignments on it are gone too" 0 "$(j '.value | length')"
call "$BEARER" POST /registries '{"name":"teamreg1"}'
expect_status 201 "the name can be used again"
call "$BEARER" GET /registries/teamreg1/tokens
expect_eq "the new registry has no tokens" 0 "$(j '.value | length')"

call "$BEARER" DELETE "/servicePrincipals/$APP"
expect_status 204 "delete the service principal"
call "$APP:$SP_SECRET" GET /tenant
expect_error 401 UNAUTHORIZED "its secret no longer works"
call "bearer:$SP_TOKEN" GET /tenant
expect_error 401 UNAUTHORIZED "nor its directory token"
call "$BEARER" DELETE /users/carol
expect_status 204 "delete a user"
call "carol:carol-password-01" GET /tenant
expect_error 401 UNAUTHORIZED "the deleted user cannot log in"
call "$BEARER" DELETE /users/carol
expect_error 404 NOT_FOUND "delete the user again: 404"

# ---------------------------------------------------------------- no secret in any GET

n=0
while IFS= read -r s; do
    [ -n "$s" ] || continue
    if grep -qF -- "$s" "$GETS"; then n=$((n + 1)); fi
done <"$SECRETS"
check "the test saw the secrets it made" test "$(wc -l <"$SECRETS")" -ge 20
expect_eq "no secret or password shown by a GET" 0 "$n"
check "no GET body carries a \"value\" or \"password\" member" bash -c "! grep -Eq '\"(value|password)\":\"' '$GETS'"
check "no GET body carries a hash" bash -c "! grep -q 'argon2' '$GETS'"
check "the server log shows no secret" bash -c "! grep -qF -f '$SECRETS' '$SRV_LOG'"
check "the owner's password is not in the log" bash -c "! grep -qF -- '$OWNER_PW' '$SRV_LOG'"

# ---- concurrent creates of one name: exactly one wins, the others get 409 and change nothing
for kind in tokens scopeMaps; do
    rm -f "$WORK"/race.*
    pids=()
    for i in $(seq 12); do
        if [ $kind = tokens ]; then body='{"name":"race-token","scopeMapId":"_repositories_pull"}'
        else body="{\"name\":\"race-map\",\"actions\":[\"repositories/r$i/content/read\"]}"; fi
        curl -s -o "$WORK/race.$i" -w '%{http_code}\n' -u "$OWNER" -H 'Content-Type: application/json' \
            -X POST -d "$body" "$URL/api/v1/registries/default/$kind" >"$WORK/race.$i.code" &
        pids+=($!)
    done
    wait "${pids[@]}"
    codes=$(cat "$WORK"/race.*.code | sort | uniq -c | tr -s ' ' | tr '\n' ';')
    expect_eq "12 concurrent creates of one $kind name: one 201, eleven 409" " 1 201; 11 409;" "$codes"
    if [ $kind = tokens ]; then
        winner=$(grep -l '"value"' "$WORK"/race.[0-9]* | head -n 1)
        pw=$(jq -r '.credentials.passwords[0].value' "$winner")
        code=$(curl -s -o /dev/null -w '%{http_code}' -u "race-token:$pw" "$URL/oauth2/token?service=default.localhost")
        expect_eq "the winner's password is the one that works" 200 "$code"
    else
        winner=$(grep -l '"actions"' "$WORK"/race.[0-9]* | head -n 1)
        want=$(jq -c .actions "$winner")
        got=$(curl -s -u "$OWNER" "$URL/api/v1/registries/default/scopeMaps/race-map" | jq -c .actions)
        expect_eq "the stored scope map is the winner's" "$want" "$got"
    fi
done

finish
