#!/bin/bash
# GET /oauth2/explain: a caller learns what it may do on a repository, which
# of its own grants give it, and for what is missing the cause and the
# command that would grant it; it never learns about other principals.
source "$(dirname "$0")/lib.sh"

BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
LS=default.localhost
api() { curl -s "${OWN[@]}" -H 'Content-Type: application/json' "$@"; }
jqe() { jq -e "$@" >/dev/null; }
explain() { # explain SCOPE... (credentials in CRED, an array)
    local q="service=$LS" s
    for s in "$@"; do q="$q&scope=$s"; done
    req GET "/oauth2/explain?$q" "${CRED[@]}"
}

api -X POST "$URL/api/v1/users" -d '{"name":"bob","password":"Bob-password-12345"}' >/dev/null
api -X POST "$URL/api/v1/users" -d '{"name":"carol","password":"Carol-password-12345"}' >/dev/null
api -X POST "$URL/api/v1/roleAssignments" -d '{"principal":"bob","role":"AcrPull","scope":"/registries/default"}' >/dev/null
api -X POST "$URL/api/v1/roleAssignments" \
    -d '{"principal":"carol","role":"AcrPush","scope":"/registries/default/repositories/team"}' >/dev/null

CRED=(-u "bob:Bob-password-12345")
explain repository:team/app:pull,push
expect_status 200 "a user asks what it may do on team/app"
check "pull is granted, push is missing" jqe '.access[0] | .granted==["pull"] and .missing==["push"]' "$BODY"
check "the source is its own AcrPull on the registry" \
    jqe '.access[0].sources == [{"kind":"roleAssignment","role":"AcrPull","scope":"/registries/default"}]' "$BODY"
check "nothing about carol's or the owner's assignments" bash -c "! grep -q -e carol -e Owner '$BODY'"
check "the identity is bob, a user" jqe '.identity.type=="user" and .identity.name=="bob"' "$BODY"
CMD=$(jq -r '.access[0].fix.command' "$BODY")
expect_eq "the fix is the AcrPush assignment on the repository" \
    "berth role assignment create --assignee bob --role AcrPush --scope /registries/default/repositories/team/app" "$CMD"
check "the cause names the user, the action and the repository" \
    jqe '.access[0].fix.cause | test("bob") and test("content/write") and test("team/app")' "$BODY"
# apply what the fix says through the API, then ask again
SCOPE=${CMD##*--scope }
api -X POST "$URL/api/v1/roleAssignments" -d "{\"principal\":\"bob\",\"role\":\"AcrPush\",\"scope\":\"$SCOPE\"}" >/dev/null
explain repository:team/app:pull,push
check "after the fix nothing is missing" jqe '.access[0].missing==[] and (.access[0] | has("fix") | not)' "$BODY"
check "and both assignments are named" jqe '.access[0].sources | length==2' "$BODY"

CRED=(-u "carol:Carol-password-12345")
explain repository:team/app:push repository:other/app:pull
check "a prefix assignment covers team/app" jqe '.access[0].granted==["push"]' "$BODY"
check "but not other/app" jqe '.access[1].missing==["pull"] and .access[1].sources==[]' "$BODY"
expect_eq "with AcrPull as the fix" "AcrPull" "$(jq -r '.access[1].fix.command | capture("--role (?<r>[A-Za-z]+)").r' "$BODY")"

# a repository token and its scope map
api -X POST "$URL/api/v1/registries/default/scopeMaps" \
    -d '{"name":"team-pull","actions":["repositories/team/*/content/read"]}' >/dev/null
TP=$(api -X POST "$URL/api/v1/registries/default/tokens" -d '{"name":"team-puller","scopeMapId":"team-pull"}' |
    jq -r '.credentials.passwords[0].value')
CRED=(-u "team-puller:$TP")
explain repository:team/app:pull,push,delete
check "a token sees the scope-map rule that grants pull" \
    jqe '.access[0].sources[0] | .kind=="scopeMap" and .scopeMap=="team-pull" and .rule=="repositories/team/*/content/read"' "$BODY"
expect_eq "and the scope-map update that adds the rest" \
    "berth scope-map update -n default --name team-pull --add-repository team/app content/write content/delete" \
    "$(jq -r '.access[0].fix.command' "$BODY")"
api -X POST "$URL/api/v1/registries/default/tokens" -d '{"name":"sys-puller","scopeMapId":"_repositories_pull"}' >"$WORK/sys.json"
SP=$(jq -r '.credentials.passwords[0].value' "$WORK/sys.json")
CRED=(-u "sys-puller:$SP")
explain repository:any/app:push
check "a token on a system scope map is told to move to its own map" \
    jqe '.access[0].fix.cause | test("system scope map")' "$BODY"

# refresh tokens (the null GUID), the admin user, anonymous
RT=$(curl -s -u "bob:Bob-password-12345" "$URL/oauth2/token?service=$LS&offline_token=true" | jq -r .refresh_token)
CRED=(-u "00000000-0000-0000-0000-000000000000:$RT")
explain repository:team/app:pull
check "a refresh token explains as the user it was issued to" \
    jqe '.identity.name=="bob" and .access[0].granted==["pull"]' "$BODY"
api -X PATCH "$URL/api/v1/registries/default" -d '{"adminUserEnabled":true,"anonymousPullEnabled":true}' >/dev/null
AP=$(api -X POST "$URL/api/v1/registries/default/credentials/regenerate" -d '{"name":"password"}' | jq -r '.passwords[0].value')
CRED=(-u "default:$AP")
explain repository:x/y:pull,push,delete
check "the admin user may do everything, and says why" \
    jqe '.identity.type=="admin" and .access[0].missing==[] and .access[0].sources==[{"kind":"adminUser"}]' "$BODY"
CRED=()
explain repository:x/y:pull,push
check "anonymous: pull by anonymous pull, push missing with a login as the fix" \
    jqe '.identity.type=="anonymous" and .access[0].granted==["pull"] and .access[0].sources==[{"kind":"anonymousPull"}] and (.access[0].fix.command|test("berth login"))' "$BODY"

# refusals are the token service's
CRED=(-u "bob:wrong")
explain repository:team/app:pull
expect_error 401 UNAUTHORIZED "a wrong password is refused like the token endpoint"
check "with the reason the token endpoint gives" jqe '.errors[0].detail.reason=="INVALID_CREDENTIALS"' "$BODY"
CRED=(-u "bob:Bob-password-12345")
explain 'repository:Bad%20Name:pull'
expect_status 400 "an invalid repository name is refused"
req GET "/oauth2/explain?service=$LS&scope=repository:team/app:pull" -u "bob:Bob-password-12345" -H "Host: nosuchreg.localhost:$PORT"
expect_error 404 NAME_UNKNOWN "an unknown registry is named"
finish
