#!/usr/bin/env bash
# The Azure CLI logged in to berth: a custom cloud whose activeDirectory is
# berth's ADFS-shaped directory (/adfs) and whose resourceManager is berth's
# ARM face. `az login` (a user, a service principal), then `az acr` without
# -u/-p: show, list, update, credential, scope-map, token, show-usage, login
# (--expose-token, and through docker's command line, played by podman as
# Debian's podman-docker does), and check-health.
#
# az's check-health resolves the login server as a host name, so a login
# server with a port fails its DNS check: the server listens on 127.0.0.1:443
# when that port is free (the registry's login server is then "localhost"),
# else on a free port, and check-health is skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/health-lib.sh"
. "$(dirname "$0")/az-lib.sh"

az_begin
on443=0
if [ "$(id -u)" = 0 ] && ! (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null; then
    on443=1
    export BERTH_PORT=443
fi
SCHEME=https BERTH_AUTH=1 berth_start_on 127.0.0.1 --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
unset BERTH_PORT
[ "$PORT" = 443 ] || on443=0 # another test took it meanwhile
PW=$(cat "$DATA/initial-owner-password")
BASE=https://localhost:$PORT
[ "$PORT" = 443 ] && BASE=https://localhost
LS=${BASE#https://}
cat >"$WORK/cloud.json" <<JSON
{"endpoints": {"resourceManager": "$BASE/", "activeDirectory": "$BASE/adfs",
  "activeDirectoryResourceId": "$BASE/", "activeDirectoryGraphResourceId": "$BASE/", "management": "$BASE/"},
 "suffixes": {"acrLoginServerEndpoint": ".localhost"}}
JSON
az_cloud "$WORK/cloud.json"
TENANT=$(curl -s --cacert "$T/ca.pem" "$BASE/adfs/.well-known/openid-configuration" | jq -r .tenant_id)
check "the ADFS face names the tenant" test "${#TENANT}" = 36

# ---------------------------------------------------------------- az login
azr login -u owner -p not-the-password
az_fails "az login with a wrong password is refused in OAuth's words, with berth's reason" "INVALID_CREDENTIALS"
azr login -u owner -p "$PW"
az_json "az login -u owner: berth's one subscription, in the tenant" \
    ".[0].id == \"$TENANT\" and .[0].tenantId == \"$TENANT\" and .[0].user.name == \"owner\" and .[0].state == \"Enabled\""
azr account get-access-token
az_json "az account get-access-token: a directory token from /adfs" '.accessToken | length > 100'

# ---------------------------------------------------------------- registries
azr acr list
az_json "az acr list: the default registry as an ARM resource" \
    '.[0].name == "default" and .[0].resourceGroup == "berth" and .[0].type == "Microsoft.ContainerRegistry/registries"'
azr acr show -n default
az_json "az acr show: the login server a client reaches it at, admin user off" \
    ".loginServer == \"$LS\" and .adminUserEnabled == false and .publicNetworkAccess == \"Enabled\" and .provisioningState == \"Succeeded\""
azr acr show -n nosuchreg
az_fails "az acr show of a registry that does not exist" "could not be found"
azr acr update -n default --admin-enabled true
az_json "az acr update --admin-enabled true" '.adminUserEnabled == true'
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" -u "owner:$PW" "$BASE/api/v1/registries/default")
check "the management API sees the same registry" test "$code" = 200
azr acr credential show -n default
az_fails "az acr credential show says berth keeps only hashes, and what to run" "az acr credential renew"
azr acr credential renew -n default --password-name password
az_json "az acr credential renew shows the new password once" \
    '.username == "default" and (.passwords[0].value | length > 20)'
APW=$(jq -r '.passwords[0].value' "$WORK/az.out")
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" -u "default:$APW" \
    "$BASE/oauth2/token?service=default.localhost&scope=repository:a/b:pull")
check "the renewed admin password logs in" test "$code" = 200
azr acr update -n default --data-endpoint-enabled true
az_fails "az acr update --data-endpoint-enabled true is refused with berth's reason" "no dedicated data endpoints"

# ---------------------------------------------------------------- az acr login
azr acr login -n default --expose-token
az_json "az acr login --expose-token: a registry refresh token for the login server" \
    ".loginServer == \"$LS\" and (.accessToken | length > 100)"
RT=$(jq -r .accessToken "$WORK/az.out")
code=$(curl -s -o "$WORK/tok.json" -w '%{http_code}' --cacert "$T/ca.pem" \
    -u "00000000-0000-0000-0000-000000000000:$RT" "$BASE/oauth2/token?service=default.localhost&scope=repository:app:push,pull")
check "the exposed token logs in with the null GUID user" test "$code" = 200
check "and grants the owner push" jq -e '.access_token | length > 100' "$WORK/tok.json"

# docker's command line, played by podman (as Debian's podman-docker installs it), trusting the test CA
mkdir -p "$WORK/shim" "$WORK/certs/$LS"
cp "$T/ca.pem" "$WORK/certs/$LS/ca.crt"
cat >"$WORK/shim/docker" <<SH
#!/bin/sh
p="podman --storage-driver vfs --root $WORK/pod/root --runroot $WORK/pod/run"
if [ "\$1" = login ]; then shift; exec \$p login --cert-dir "$WORK/certs/$LS" "\$@"; fi
exec \$p "\$@"
SH
chmod +x "$WORK/shim/docker"
if command -v podman >/dev/null 2>&1; then
    PATH=$WORK/shim:$PATH REGISTRY_AUTH_FILE=$WORK/auth.json azr acr login -n default
    az_says "az acr login -n default logs docker's command line in" "Login Succeeded"
    check "with the null GUID user and a registry refresh token" \
        jq -e ".auths[\"$LS\"].auth | @base64d | startswith(\"00000000-0000-0000-0000-000000000000:ey\")" "$WORK/auth.json"
else
    skip "az acr login through docker's command line: podman is not installed"
fi

# ---------------------------------------------------------------- scope maps and tokens
azr acr scope-map create -r default -n app-pullers --repository app content/read metadata/read --description "pull app"
az_json "az acr scope-map create" \
    '.name == "app-pullers" and .actions == ["repositories/app/content/read","repositories/app/metadata/read"]'
azr acr scope-map show -r default -n app-pullers
az_json "az acr scope-map show" '.description == "pull app" and .typePropertiesType == "UserDefined"'
azr acr scope-map list -r default
az_json "az acr scope-map list has the system maps and the new one" \
    'map(.name) | index("app-pullers") != null and index("_repositories_pull") != null'
azr acr token create -r default -n ci-pull --scope-map app-pullers
az_json "az acr token create: two passwords from generateCredentials" \
    '.credentials.username == "ci-pull" and (.credentials.passwords | length == 2) and (.credentials.passwords[0].value | length > 20) and (.scopeMapId | endswith("/scopeMaps/app-pullers"))'
TPW=$(jq -r '.credentials.passwords[0].value' "$WORK/az.out")
tok=$(curl -s --cacert "$T/ca.pem" -u "ci-pull:$TPW" \
    "$BASE/oauth2/token?service=default.localhost&scope=repository:app:pull,push" | jq -r .access_token)
access=$(python3 -c 'import sys,json,base64; p=sys.argv[1].split(".")[1]; print(json.dumps(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["access"],separators=(",",":")))' "$tok" 2>&1)
check "the token's password gets pull on app and not push" \
    test "$access" = '[{"type":"repository","name":"app","actions":["pull"]}]'
azr acr scope-map update -r default -n app-pullers --add-repository other content/read
az_json "az acr scope-map update --add-repository" '.actions | index("repositories/other/content/read") != null'
azr acr token show -r default -n ci-pull
az_json "az acr token show: no password values" \
    '.status == "enabled" and (.credentials.passwords | length == 2) and all(.credentials.passwords[]; .value == null)'
azr acr token credential generate -r default -n ci-pull --password2 --expiration-in-days 30
az_json "az acr token credential generate --password2 --expiration-in-days 30" \
    '(.passwords | length == 1) and .passwords[0].name == "password2" and (.passwords[0].expiry | length > 0)'
azr acr config retention update -r default --status enabled --days 7 --type UntaggedManifests
az_fails "az acr config retention update is refused: berth has no retention policy" "does not have registry policies"
azr acr token create -r default -n ci-push --repository app content/write content/read
az_json "az acr token create --repository makes its own scope map" \
    '(.scopeMapId | endswith("/scopeMaps/ci-push-scope-map")) and (.credentials.passwords | length == 2)'
azr acr token update -r default -n ci-pull --status disabled
az_json "az acr token update --status disabled" '.status == "disabled"'
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" -u "ci-pull:$TPW" \
    "$BASE/oauth2/token?service=default.localhost&scope=repository:app:pull")
check "a disabled token no longer logs in" test "$code" = 401
azr acr token delete -r default -n ci-pull --yes
check "az acr token delete" test "$AZ_RC" = 0
azr acr token list -r default
az_json "az acr token list: the other token only" 'map(.name) == ["ci-push"]'
azr acr scope-map delete -r default -n app-pullers --yes
check "az acr scope-map delete" test "$AZ_RC" = 0

# ---------------------------------------------------------------- usage
cfg=$WORK/cfg.json
printf '{"architecture":"amd64","os":"linux"}' >"$cfg"
curl -s -o /dev/null --cacert "$T/ca.pem" -u "owner:$PW" -X POST \
    "$BASE/v2/app/blobs/uploads/?digest=$(digest_of "$cfg")" --data-binary @"$cfg"
printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[]}' "$MT_OCI_MANIFEST" \
    "$(desc_json "$MT_OCI_CONFIG" "$cfg")" >"$WORK/m.json"
curl -s -o /dev/null --cacert "$T/ca.pem" -u "owner:$PW" -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
    "$BASE/v2/app/manifests/v1" --data-binary @"$WORK/m.json"
azr acr show-usage -n default
az_json "az acr show-usage counts what was pushed" \
    '(.value[] | select(.name == "Repositories") | .currentValue) == 1 and (.value[] | select(.name == "Size") | .currentValue) > 0'

# ---------------------------------------------------------------- check-health
if [ "$on443" = 1 ]; then
    # no docker daemon for it to inspect (with one, --yes would pull from an outside registry)
    DOCKER_HOST=unix://$WORK/no-docker.sock azr acr check-health -n default --yes --ignore-errors
    for line in "DNS lookup to localhost at IP 127.0.0.1 : OK" "Challenge endpoint https://localhost/v2/ : OK" \
        "Fetch refresh token for registry 'localhost' : OK" "Fetch access token for registry 'localhost' : OK"; do
        if grep -qF "$line" "$WORK/az.err" "$WORK/az.out"; then ok "az acr check-health: $line"; else
            fail "az acr check-health: $line" "$(head -c 1500 "$WORK/az.err")"; fi
    done
    # the article's cause: public access off, the client outside every rule
    azr acr update -n default --public-network-enabled false
    DOCKER_HOST=unix://$WORK/no-docker.sock azr acr check-health -n default --yes --ignore-errors
    if grep -qF "CONNECTIVITY_FORBIDDEN_ERROR" "$WORK/az.err"; then
        ok "az acr check-health names a registry that refuses this network"
    else
        fail "az acr check-health names a registry that refuses this network" "$(head -c 1500 "$WORK/az.err")"
    fi
    # disabling public access also set the default action to Deny, as az does with ACR
    azr acr update -n default --public-network-enabled true --default-action Allow
    az_json "az acr update --public-network-enabled true --default-action Allow" \
        '.publicNetworkAccess == "Enabled" and .networkRuleSet.defaultAction == "Allow"'
else
    skip "az acr check-health: 127.0.0.1:443 is not free (az resolves the login server as a host name)"
fi

# ---------------------------------------------------------------- a service principal
owner_session "https://127.0.0.1:$PORT" "$T/ca.pem"
SP=$("$BERTH_BIN" sp create --display-name az-ci --json 2>"$WORK/sp.err")
APP=$(jq -r .appId <<<"$SP")
SEC=$(jq -r .secret.value <<<"$SP")
# Reader: az finds the registry through ARM (with AcrPull alone it falls back to <name><suffix>, as with ACR)
"$BERTH_BIN" role assignment create --assignee "$APP" --role Reader --registry default >/dev/null 2>>"$WORK/sp.err"
check "berth sp create and role assignment create (Reader)" test "${#APP}" = 36
azr logout
azr login --service-principal -u "$APP" -p "$SEC" --tenant "$TENANT"
az_json "az login --service-principal" ".[0].user.type == \"servicePrincipal\" and .[0].user.name == \"$APP\""
azr acr login -n default --expose-token
az_json "a service principal with Reader: az acr login --expose-token" '.accessToken | length > 100'
azr acr update -n default --admin-enabled false
az_fails "Reader cannot change the registry: refused with berth's reason" "needs"
azr logout
azr acr show -n default
az_fails "after az logout, az acr show asks for az login" "az login"
finish
