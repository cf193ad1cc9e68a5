#!/usr/bin/env bash
# 0400-cli-manage: the management CLI end to end, driven only through
# `berth`: auth login as the owner, registries and their flags, admin
# credentials, users, a service principal (and a session as it), scope maps,
# tokens, role assignments, network rules, the error messages and exit
# codes, repositories after a skopeo push, and the event log (with --follow).
. "$(dirname "$0")/lib.sh"

BERTH_AUTH=1 berth_start
export BERTH_CONFIG_DIR=$WORK/cfg
PW=$(cat "$DATA/initial-owner-password")
CLI_ERRS=$WORK/cli-stderr.all
: >"$CLI_ERRS"

# cli ARGS...: runs berth with stdin from $CLI_IN (empty by default); sets RC, OUT, ERR.
CLI_IN=""
cli() {
    "$BERTH_BIN" "$@" >"$WORK/cli.out" 2>"$WORK/cli.err" <<<"$CLI_IN"
    RC=$?
    OUT=$(cat "$WORK/cli.out")
    ERR=$(cat "$WORK/cli.err")
    cat "$WORK/cli.err" >>"$CLI_ERRS"
    CLI_IN=""
}

# jqf ARGS...: jq -e, quietly (for check).
jqf() { jq -e "$@" >/dev/null; }

# expect_json JQ-OPT DESC RC JQ-FILTER: the last command exited RC and its output passes the filter
# (JQ-OPT -e for one JSON document, -se for JSON lines slurped into an array).
expect_json() {
    local opt=$1 desc=$2 want=$3 filter=$4
    if [ "$RC" != "$want" ]; then
        fail "$desc" "exit status $RC, expected $want" "stderr: $ERR" "stdout: $(echo "$OUT" | head -c 300)"
    elif [ -n "$filter" ] && ! echo "$OUT" | jq "$opt" "$filter" >/dev/null 2>&1; then
        fail "$desc" "jq $opt filter failed: $filter" "stdout: $(echo "$OUT" | head -c 400)"
    else
        ok "$desc"
    fi
}
expect_cli() { expect_json -e "$@"; }
expect_cli_lines() { expect_json -se "$@"; }

# expect_cli_err DESC RC REGEX: the last command exited RC and stderr matches.
expect_cli_err() {
    local desc=$1 want=$2 re=$3
    if [ "$RC" != "$want" ]; then
        fail "$desc" "exit status $RC, expected $want" "stderr: $ERR"
    elif ! [[ $ERR =~ $re ]]; then
        fail "$desc" "stderr does not match: $re" "stderr: $ERR"
    else
        ok "$desc"
    fi
}

# ---- auth
CLI_IN=$PW
cli auth login --server "$URL" -u owner --password-stdin
expect_eq "auth login as the owner with --password-stdin" "0:Logged in to $URL as owner" "$RC:$OUT"
SESS=$BERTH_CONFIG_DIR/sessions.json
expect_eq "sessions.json is mode 0600 in a 0700 folder" "600 700" \
    "$(stat -c %a "$SESS" 2>/dev/null) $(stat -c %a "$BERTH_CONFIG_DIR" 2>/dev/null)"
if grep -qF "$PW" "$SESS"; then fail "the session file never holds the password"; else ok "the session file never holds the password"; fi
check "the session holds a directory refresh token" jqf --arg u "$URL" '.servers[$u].refreshToken | length > 20' "$SESS"
cli auth show --json
expect_cli "auth show --json: current server, owner, no tokens" 0 \
    ".current == \"$URL\" and .servers[0].name == \"owner\" and .servers[0].kind == \"user\" and (.servers[0] | has(\"refreshToken\") | not)"

# ---- registries
cli registry create -n teamreg1 --admin-enabled true --json
expect_cli "registry create with --admin-enabled true" 0 '.name == "teamreg1" and .adminUserEnabled == true'
expect_cli "enabling the admin user on create makes both passwords and shows them once" 0 \
    '.credentials.username == "teamreg1" and ([.credentials.passwords[].name] == ["password","password2"])
     and all(.credentials.passwords[]; .value | length > 10)'
expect_match "with the shown-once warning" "will not be shown again" "$ERR"
FIRST_ADMIN_PW=$(echo "$OUT" | jq -r '.credentials.passwords[1].value')
req GET "/oauth2/token?service=teamreg1.localhost:$PORT" -H "Host: teamreg1.localhost:$PORT" -u "teamreg1:$FIRST_ADMIN_PW"
expect_status 200 "password2 from the create logs in as the admin user"
cli registry create -n teamreg2 --admin-enabled true
expect_match "without --json the passwords follow the registry as a table" \
    "log in as 'teamreg2' with one of these passwords.*PASSWORD NAME +PASSWORD.*password2 +[A-Za-z0-9_-]{20,}" "$(tr '\n' ' ' <<<"$OUT")"
SECOND_ADMIN_PW=$(awk '$1 == "password" {print $2}' <<<"$OUT")
cli registry create -n teamreg3 --default-action Deny --admin-enabled true --json
expect_cli "with a network flag too (create, then update) the passwords are still shown" 0 \
    '.networkRuleSet.defaultAction == "Deny" and (.credentials.passwords | length) == 2'
cli registry update -n teamreg2 --admin-enabled true --json
expect_cli "enabling it again while enabled changes no password" 0 '.adminUserEnabled == true and (has("credentials") | not)'
cli registry update -n teamreg2 --admin-enabled false --json
expect_cli "disabling the admin user shows no password" 0 '.adminUserEnabled == false and (has("credentials") | not)'
cli registry update -n teamreg2 --admin-enabled true --json
expect_cli "enabling it again keeps its passwords, as ACR does: none is shown" 0 \
    '.adminUserEnabled == true and (has("credentials") | not)'
req GET "/oauth2/token?service=teamreg2.localhost:$PORT" -H "Host: teamreg2.localhost:$PORT" -u "teamreg2:$SECOND_ADMIN_PW"
expect_status 200 "the password from before it was disabled logs in again"
cli credential show -n teamreg2
expect_match "credential show: one row per password with its date" \
    '^USERNAME +teamreg2 ADMIN +true +PASSWORD NAME +CREATED password +20[0-9-]+T[0-9:]+Z password2 +20[0-9-]+T' \
    "$(tr -s '\n' ' ' <<<"$OUT")"
for r in teamreg2 teamreg3; do cli registry delete -n "$r" --yes; done
cli registry list --json
expect_cli "registry list shows default and teamreg1" 0 '[.value[].name] | index("teamreg1") and index("default")'
cli registry list
expect_match "registry list prints a table with headers" '^NAME +LOGIN SERVER' "$OUT"
cli registry update -n teamreg1 --anonymous-pull-enabled true --access-token-lifetime 600 \
    --refresh-token-lifetime 7200 --public-network-enabled false --json
expect_cli "registry update maps every flag" 0 \
    '.anonymousPullEnabled == true and .accessTokenLifetimeSeconds == 600 and .refreshTokenLifetimeSeconds == 7200 and .publicNetworkAccess == "Disabled"'
cli registry update -n teamreg1 --public-network-enabled true --anonymous-pull-enabled false --json
expect_cli "registry update turns them back" 0 '.publicNetworkAccess == "Enabled" and .anonymousPullEnabled == false'
cli registry show -n teamreg1 --json
expect_cli "registry show" 0 '.loginServer == "teamreg1.localhost"'

cli registry create -n tmpreg1 --default-action Deny --json
expect_cli "registry create with a network flag sets it too" 0 '.name == "tmpreg1" and .networkRuleSet.defaultAction == "Deny"'
cli registry delete -n tmpreg1 --yes
expect_eq "registry delete --yes" "0:Deleted registry 'tmpreg1'" "$RC:$OUT"
cli registry show -n tmpreg1
expect_cli_err "the deleted registry is gone" 1 "tmpreg1.*404"
cli registry delete -n default --yes
expect_cli_err "the default registry cannot be deleted: the server says why" 1 "409 CONFLICT"

# ---- admin credentials
cli credential renew -n teamreg1 --json
expect_cli "credential renew prints the new admin password" 0 '.passwords[0].name == "password" and (.passwords[0].value | length > 10)'
ADMIN_PW=$(echo "$OUT" | jq -r '.passwords[0].value')
expect_match "a new secret comes with a shown-once warning" "will not be shown again" "$ERR"
req GET "/oauth2/token?service=teamreg1.localhost:$PORT" -H "Host: teamreg1.localhost:$PORT" -u "teamreg1:$ADMIN_PW"
expect_status 200 "the renewed admin password logs in"
cli credential show -n teamreg1 --json
expect_cli "credential show: admin enabled, password made, no values" 0 \
    '.adminUserEnabled == true and .passwords[0].createdAt != null and (tostring | contains("value") | not)'
cli credential renew -n teamreg1 --password-name password3
expect_cli_err "credential renew refuses an unknown password name" 2 "password or password2"

# ---- users
cli user create bob --json
expect_cli "user create generates a password" 0 '.name == "bob" and (.password | length >= 12)'
CAROL_PW=carol-password-123
CLI_IN=$CAROL_PW
cli user create carol --password-stdin --json
expect_cli "user create --password-stdin" 0 '.name == "carol" and (has("password") | not)'
req GET /api/v1/tenant -u "carol:$CAROL_PW"
expect_status 200 "carol logs in with the password given on stdin"
cli user delete bob
expect_eq "user delete" "0:Deleted user 'bob'" "$RC:$OUT"
cli user list --json
expect_cli "user list has carol and owner, not bob" 0 '[.value[].name] | (index("carol") and index("owner") and (index("bob") | not))'

# ---- service principals
cli sp create --display-name ci-pipeline --years 1 --json
expect_cli "sp create shows the app id and the secret" 0 '(.appId | length == 36) and (.secret.value | length > 10)'
APPID=$(echo "$OUT" | jq -r .appId)
SP_SECRET=$(echo "$OUT" | jq -r .secret.value)
cli sp credential add "$APPID" --description rotation --json
expect_cli "sp credential add" 0 '.description == "rotation" and (.value | length > 10)'
cli sp show "$APPID" --json
expect_cli "sp show lists two secrets, no values" 0 '(.secrets | length == 2) and (tostring | contains("value") | not)'
cli sp credential reset "$APPID" --json
expect_cli "sp credential reset makes a new secret" 0 '.value | length > 10'
SP_SECRET=$(echo "$OUT" | jq -r .value)
cli sp show "$APPID" --json
expect_cli "sp credential reset leaves one secret" 0 '.secrets | length == 1'
BERTH_CONFIG_DIR=$WORK/cfg-sp cli auth login --server "$URL" --service-principal -u "$APPID" -p "$SP_SECRET"
expect_cli "auth login --service-principal" 0 ''
check "an SP session keeps its secret to renew itself" jqf --arg u "$URL" '.servers[$u].kind == "sp" and .servers[$u].secret != null' "$WORK/cfg-sp/sessions.json"
BERTH_CONFIG_DIR=$WORK/cfg-sp cli registry list --json
expect_cli "the SP session works (no roles: an empty list)" 0 '.value == []'

# ---- scope maps
cli scope-map create -n teamreg1 --name team-pull --repository 'team/*' content/read metadata/read \
    --description "pull team" --json
expect_cli "scope-map create builds repositories/<repo>/<action>" 0 \
    '.actions == ["repositories/team/*/content/read","repositories/team/*/metadata/read"] and .description == "pull team"'
cli scope-map update -n teamreg1 --name team-pull --add-repository app content/read content/write --json
expect_cli "scope-map update --add-repository" 0 '.actions | length == 4 and index("repositories/app/content/write")'
cli scope-map update -n teamreg1 --name team-pull --remove-repository app content/write --json
expect_cli "scope-map update --remove-repository" 0 '.actions | length == 3 and (index("repositories/app/content/write") | not)'
cli scope-map list -n teamreg1 --json
expect_cli "scope-map list: five system maps and ours" 0 '.value | length == 6'

# ---- tokens
cli token create -n teamreg1 --name ci-token --scope-map team-pull --json
expect_cli "token create prints both passwords" 0 \
    '.scopeMapId == "team-pull" and (.credentials.passwords | length == 2) and (.credentials.passwords[0].value | length > 10)'
TOK_PW=$(echo "$OUT" | jq -r '.credentials.passwords[0].value')
req GET "/oauth2/token?service=teamreg1.localhost:$PORT&scope=repository:team/x:pull" \
    -H "Host: teamreg1.localhost:$PORT" -u "ci-token:$TOK_PW"
expect_status 200 "the token's password logs in"
cli token create -n teamreg1 --name app-token --repository app content/read --expiration-in-days 30 --json
expect_cli "token create --repository makes <token>-scope-map" 0 '.scopeMapId == "app-token-scope-map"'
cli scope-map show -n teamreg1 --name app-token-scope-map --json
expect_cli "that scope map has the actions" 0 '.actions == ["repositories/app/content/read"]'
cli token update -n teamreg1 --name ci-token --status disabled --json
expect_cli "token update --status disabled" 0 '.status == "disabled"'
req GET "/oauth2/token?service=teamreg1.localhost:$PORT" -H "Host: teamreg1.localhost:$PORT" -u "ci-token:$TOK_PW"
expect_status 401 "a disabled token is refused"
cli token update -n teamreg1 --name ci-token --status enabled
cli token credential generate -n teamreg1 --name ci-token --password2 --expiration-in-days 7 --json
expect_cli "token credential generate --password2" 0 '.passwords[0].name == "password2" and (.passwords[0].value | length > 10)'
TOK_PW2=$(echo "$OUT" | jq -r '.passwords[0].value')
req GET "/oauth2/token?service=teamreg1.localhost:$PORT" -H "Host: teamreg1.localhost:$PORT" -u "ci-token:$TOK_PW2"
expect_status 200 "the generated password2 logs in"
cli token list -n teamreg1 --json
expect_cli "token list" 0 '[.value[].name] | index("ci-token") and index("app-token")'
cli token delete -n teamreg1 --name app-token
expect_cli "token delete" 0 ''
cli token create -n teamreg1 --name x --scope-map team-pull --repository a content/read
expect_cli_err "token create with both --scope-map and --repository is a usage error" 2 "not both"

# ---- role assignments
cli role assignment create --assignee carol --role Reader --registry teamreg1 --json
expect_cli "role assignment create with --registry" 0 '.roleDefinitionName == "Reader" and .scope == "/registries/teamreg1"'
cli registry show -n teamreg1 -u carol -p "$CAROL_PW" --json
expect_cli "carol (Basic -u/-p, no session) reads the registry" 0 '.name == "teamreg1"'
cli registry update -n teamreg1 --admin-enabled false -u carol -p "$CAROL_PW"
expect_cli_err "a Reader cannot change it: the server's message" 1 "needs Contributor.*403 DENIED"
cli role assignment create --assignee carol --role AcrPull --scope /registries/teamreg1/repositories/team --json
expect_cli "role assignment create with --scope" 0 '.roleDefinitionName == "AcrPull"'
cli role assignment list --assignee carol --json
expect_cli "role assignment list --assignee" 0 '.value | length == 2'
cli role assignment delete --assignee carol --role reader --registry teamreg1
expect_cli "role assignment delete by assignee, role and scope" 0 ''
RA_ID=$("$BERTH_BIN" role assignment list --assignee carol --json 2>/dev/null | jq -r '.value[0].id')
cli role assignment delete --id "$RA_ID"
expect_cli "role assignment delete --id" 0 ''
cli role assignment list --assignee carol --json
expect_cli "carol has no assignments left" 0 '.value == []'

# ---- network rules
cli network-rule add -n teamreg1 --ip-address 10.0.0.0/8 --json
expect_cli "network-rule add" 0 '.ipRules[0].value == "10.0.0.0/8"'
cli network-rule add -n teamreg1 --ip-address 127.0.0.1/32 --json
expect_cli "network-rule add keeps the canonical form" 0 '[.ipRules[].value] == ["10.0.0.0/8","127.0.0.1"]'
cli network-rule remove -n teamreg1 --ip-address 10.0.0.0/8 --json
expect_cli "network-rule remove" 0 '[.ipRules[].value] == ["127.0.0.1"]'
cli network-rule list -n teamreg1
expect_match "network-rule list prints the rules" '127\.0\.0\.1' "$OUT"
cli network-rule add -n teamreg1 --ip-address 10.1.2.3/8
expect_cli_err "a range with host bits is refused with the reason" 1 "10.1.2.3/8.*400 INVALID_REQUEST"
cli network-rule add -n teamreg1 --ip-address 0.0.0.0/0
expect_cli_err "network-rule add 0.0.0.0/0 is accepted and warns that it matches everyone" 0 \
    "^berth: warning: ip rule '0\.0\.0\.0/0' matches every IPv4 client: the network rules let everyone in over IPv4"
expect_match "the table shows the rule" 'IP RULES +127\.0\.0\.1,0\.0\.0\.0/0' "$OUT"
cli network-rule add -n teamreg1 --ip-address ::/0 --json
expect_cli "with --json the output stays the answer, warnings included" 0 '(.warnings | length) == 2'
expect_match "and the warnings are on stderr too" "matches every IPv6 client" "$ERR"
cli network-rule remove -n teamreg1 --ip-address 0.0.0.0/0
cli network-rule remove -n teamreg1 --ip-address ::/0
expect_eq "removing both leaves no warning" "0:" "$RC:$ERR"
cli registry update -n teamreg1 --default-action Deny --json
expect_cli "registry update --default-action Deny" 0 '.networkRuleSet.defaultAction == "Deny"'
cli registry update -n teamreg1 --default-action Maybe
expect_cli_err "--default-action takes Allow or Deny" 2 "Allow or Deny"

# ---- errors and exit codes
cli registry list --colour
expect_eq "an unknown option: exit 2 and git's voice" \
    "2:berth registry list: unknown option '--colour'; see 'berth registry list --help'" "$RC:$ERR"
cli registry show
expect_cli_err "a missing -n: exit 2" 2 "-n REGISTRY is required"
cli registry show -n TeamReg1
expect_eq "an uppercase registry name says which to use" \
    "2:berth: 'TeamReg1' has uppercase letters: registry names are lowercase, use 'teamreg1'" "$RC:$ERR"
cli registry show -n "teamreg1.localhost:$PORT"
expect_cli_err "a login server where a name is wanted" 2 "-n takes a registry name like 'teamreg1', not the login server"
cli registry show -n nosuchreg
expect_cli_err "an unknown registry: exit 1 with the server's message" 1 "^berth: .*nosuchreg.*404"
cli registry nosuchverb
expect_cli_err "an unknown verb: exit 2 with the verbs" 2 "not a verb.*create"
cli registry delete -n teamreg1
expect_cli_err "registry delete without --yes: exit 2" 2 "--yes"
cli registry list --help
expect_match "--help prints the usage from the table" "usage: berth registry list" "$OUT"
DOWN=$(free_port)
cli registry list --server "http://127.0.0.1:$DOWN" -u owner -p x
expect_eq "a server that is down: exit 1, cause and fix" \
    "1:berth: cannot connect to http://127.0.0.1:$DOWN: connection refused; is 'berth serve' running there?" "$RC:$ERR"
cli registry list -u owner -p wrong-password
expect_cli_err "a wrong password: exit 1 with the reason" 1 "401 UNAUTHORIZED"

cli registry list --server http://no-such-host.invalid:5000 -u owner -p x
expect_cli_err "a host name that does not resolve" 1 "does not resolve \(DNS\)"

# ---- HTTPS: an untrusted certificate, --ca-file, the session's CA file, another host name
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1,DNS:default.localhost -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
        >/dev/null 2>&1
    TPORT=$(free_port)
    BERTH_META= "$BERTH_BIN" serve --listen "127.0.0.1:$TPORT" --data "$WORK/tls" --tls-cert "$WORK/cert.pem" \
        --tls-key "$WORK/key.pem" >>"$SRV_LOG" 2>&1 &
    SERVER_PIDS+=("$!")
    for _ in $(seq 100); do
        curl -s -o /dev/null --cacert "$WORK/cert.pem" "https://127.0.0.1:$TPORT/v2/" && break
        sleep 0.1
    done
    TPW=$(cat "$WORK/tls/initial-owner-password" 2>/dev/null)
    cli registry list --server "https://127.0.0.1:$TPORT" -u owner -p "$TPW"
    expect_cli_err "an untrusted certificate says to pass --ca-file" 1 \
        "certificate is not trusted: pass --ca-file FILE with the CA that signed it"
    cli registry list --server "https://127.0.0.1:$TPORT" --ca-file "$WORK/cert.pem" -u owner -p "$TPW" --json
    expect_cli "--ca-file trusts it" 0 '.value[0].name == "default"'
    cli registry list --server "https://localhost:$TPORT" --ca-file "$WORK/cert.pem" -u owner -p "$TPW"
    expect_cli_err "a certificate for another host name says so" 1 "certificate is for another host name"
    CLI_IN=$TPW
    BERTH_CONFIG_DIR=$WORK/cfg-tls cli auth login --server "https://127.0.0.1:$TPORT" --ca-file "$WORK/cert.pem" \
        -u owner --password-stdin
    expect_cli "auth login over HTTPS with --ca-file" 0 ''
    BERTH_CONFIG_DIR=$WORK/cfg-tls cli repository list -n default --json
    expect_cli "the session's CA file serves later commands, registry tokens included" 0 '.repositories == []'
else
    skip "openssl not installed: HTTPS errors not tested"
fi

# ---- repositories through the Distribution API (default registry at 127.0.0.1:PORT)
if ! command -v skopeo >/dev/null; then
    skip "skopeo not installed: repository commands not tested"
else
    make_oci_layout "$WORK/layout" 1 >/dev/null
    for t in v1 v2; do
        skopeo copy -q --dest-tls-verify=false --dest-creds "owner:$PW" "oci:$WORK/layout:latest" \
            "docker://$HOSTPORT/team/app:$t" >"$WORK/sk.out" 2>&1 || fail "skopeo pushes team/app:$t" "$(cat "$WORK/sk.out")"
    done
    cli repository list -n default --json
    expect_cli "repository list" 0 '.repositories == ["team/app"]'
    cli repository show-tags -n default --repository team/app --json
    expect_cli "repository show-tags" 0 '.tags | sort == ["v1","v2"]'
    cli repository show-manifests -n default --repository team/app --json
    expect_cli "repository show-manifests: the one manifest with both tags and its size" 0 \
        'length == 1 and (.[0].digest | startswith("sha256:")) and .[0].tags == ["v1","v2"] and .[0].imageSize > 0'
    cli repository show-manifests -n default --repository team/app
    check "repository show-manifests' table has the image's platform from its config" \
        sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -Eq "^sha256:[0-9a-f]+ +[0-9.]+ (B|KiB) +linux/amd64 "' _ "$RC" "$OUT"
    cli repository show-tags -n default --repository team/app --detail --orderby time_desc --top 1 --json
    expect_cli "repository show-tags --detail --orderby time_desc --top 1: the newest tag with its digest" 0 \
        'length == 1 and .[0].name == "v2" and (.[0].digest | startswith("sha256:")) and (.[0].createdTime | length > 0)'
    cli repository show -n default --repository team/app --json
    expect_cli "repository show: counts" 0 '.imageName == "team/app" and .manifestCount == 1 and .tagCount == 2'
    cli repository show -n default --image team/app:v1
    check "repository show --image REPO:TAG prints the tag's row with its digest" \
        sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -q "^v1 .*sha256:"' _ "$RC" "$OUT"
    cli registry show-usage -n default --json
    expect_cli "registry show-usage: one repository, one manifest, two tags, its bytes" 0 \
        '(.value | map({(.name): .currentValue}) | add) as $u | $u.Repositories == 1 and $u.Manifests == 1 and $u.Tags == 2 and $u.Size > 1000'
    cli registry show-usage -n default
    check "show-usage's table gives the size in human units" \
        sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -Eq "^Size +[0-9.]+ (B|KiB|MiB) +Bytes"' _ "$RC" "$OUT"
    cli repository update -n default --image team/app:v2 --delete-enabled false
    expect_eq "repository update locks a tag against deletion" "0:team/app:v2: writeEnabled true, deleteEnabled false, readEnabled true, listEnabled true" "$RC:$OUT"
    cli repository untag -n default --image team/app:v2
    expect_cli_err "untagging the locked tag is refused, naming the lock" 1 "locked: its deleteEnabled is false"
    cli repository update -n default --image team/app:v2 --delete-enabled true --json
    expect_cli "repository update --json gives the tag's attributes" 0 '.name == "v2" and .changeableAttributes.deleteEnabled'
    cli repository update -n default --repository team/app
    expect_cli_err "update wants a lock to change" 2 "--write-enabled, --delete-enabled, --read-enabled or --list-enabled"
    cli repository untag -n default --image team/app:v2
    expect_eq "repository untag" "0:Untagged team/app:v2" "$RC:$OUT"
    cli repository show-tags -n default --repository team/app --json
    expect_cli "the tag is gone" 0 '.tags == ["v1"]'
    cli repository delete -n default --image team/app:v1
    expect_cli_err "repository delete wants --yes" 2 "--yes"
    cli repository delete -n default --image team/app:v1 --yes
    expect_match "repository delete by tag deletes the manifest" "^Deleted team/app@sha256:" "$OUT"
    if skopeo inspect --tls-verify=false --creds "owner:$PW" "docker://$HOSTPORT/team/app:v1" >/dev/null 2>&1; then
        fail "the deleted manifest is gone"
    else
        ok "the deleted manifest is gone"
    fi
    # a whole repository: tagged manifests and one pushed by digest only, which no tag names
    make_oci_layout "$WORK/layout2" 2 >/dev/null
    for t in v1 latest; do
        skopeo copy -q --dest-tls-verify=false --dest-creds "owner:$PW" "oci:$WORK/layout:latest" \
            "docker://$HOSTPORT/team/old:$t" >"$WORK/sk.out" 2>&1 || fail "skopeo pushes team/old:$t" "$(cat "$WORK/sk.out")"
    done
    skopeo copy -q --dest-tls-verify=false --dest-creds "owner:$PW" "oci:$WORK/layout2:latest" \
        "docker://$HOSTPORT/team/old:tmp" >"$WORK/sk.out" 2>&1 || fail "skopeo pushes team/old:tmp" "$(cat "$WORK/sk.out")"
    UNTAGGED=$(skopeo inspect --tls-verify=false --creds "owner:$PW" "docker://$HOSTPORT/team/old:tmp" | jq -r .Digest)
    cli repository untag -n default --image team/old:tmp
    cli repository delete -n default --repository team/old
    expect_cli_err "repository delete --repository wants --yes" 2 "--yes"
    cli repository delete -n default --repository team/old --yes
    expect_eq "repository delete --repository says what it deleted" \
        "0:Deleted repository team/old: 2 manifests, 2 tags (latest, v1)" "$RC:$OUT"
    cli repository list -n default --json
    expect_cli "the repository is gone from the catalog" 0 '.repositories | index("team/old") | not'
    req GET "/v2/team/old/manifests/$UNTAGGED" -u "owner:$PW" -H "$ACCEPT_MANIFESTS"
    expect_error 404 NAME_UNKNOWN "its untagged manifest is gone too"
    cli repository delete -n default --repository team/old --yes
    expect_cli_err "deleting a repository that does not exist is an error" 1 "repository 'team/old' not known.*404 NAME_UNKNOWN"
    skopeo copy -q --dest-tls-verify=false --dest-creds "owner:$PW" "oci:$WORK/layout:latest" \
        "docker://$HOSTPORT/team/old:v1" >"$WORK/sk.out" 2>&1 || fail "skopeo pushes team/old:v1 again"
    cli repository delete -n default --repository team/old --yes --json
    expect_cli "--json gives the repository and what was deleted" 0 \
        '.repository == "team/old" and .tagsDeleted == ["v1"] and (.manifestsDeleted | length) == 1'
    sleep 1
    cli logs repository -n default --operation repository_delete --json
    expect_cli_lines "the repository log has the two deletes and the refused one" 0 \
        'all(.repository == "team/old" and .identity == "owner")
         and ([.[].status] | sort) == [202, 202, 404]'
fi

# ---- event logs
curl -s -o /dev/null -u "mallory:not-the-password" "$URL/oauth2/token?service=$HOSTPORT"
sleep 1
cli logs login -n default --failed --json
expect_cli_lines "logs login --failed shows the failed login, only failures, as JSON lines" 0 \
    'any(.identity == "mallory" and .reason == "UNKNOWN_PRINCIPAL") and all(.result == "failure")'
cli logs login -n default --failed --identity mallory
expect_match "the table names time, identity, ip, status and reason" "mallory +127\.0\.0\.1 +token_get +401" "$OUT"
expect_match "and the message and the user agent" \
    "^TIME .* REASON +MESSAGE +USER AGENT.*UNKNOWN_PRINCIPAL +invalid username or password +curl/" "$(tr '\n' ' ' <<<"$OUT")"
curl -s -o /dev/null "$URL/v2/"
sleep 1
cli logs login -n default --failed --json
expect_cli_lines "--failed leaves out the NO_CREDENTIALS challenge of every login" 0 \
    'length > 0 and all(.reason != "NO_CREDENTIALS")'
cli logs login -n default --failed --challenges --json
expect_cli_lines "--failed --challenges shows them too" 0 'any(.reason == "NO_CREDENTIALS")'
cli logs login -n default --challenges
expect_cli_err "--challenges without --failed is a usage error" 2 "goes with --failed"
for when in yesterday today "$(date -u +%F)"; do
    cli logs login -n default --failed --since "$when" --identity mallory --json
    expect_cli_lines "--since $when is taken" 0 'any(.identity == "mallory")'
done
cli logs login -n default --since someday
expect_cli_err "--since of no known form says which forms it takes" 1 "a day \(2026-12-05, today, yesterday\)"
cli logs repository -n default --operation push --json
expect_cli_lines "logs repository shows the pushes" 0 'any(.tag == "v1" and .repository == "team/app") and all(.operation == "push")'
"$BERTH_BIN" logs login -n default --failed --json --follow >"$WORK/follow.out" 2>>"$CLI_ERRS" &
FOLLOW=$!
EXTRA_PIDS+=("$FOLLOW")
sleep 1.5
curl -s -o /dev/null -u "trudy:not-the-password" "$URL/oauth2/token?service=$HOSTPORT"
for _ in $(seq 40); do
    grep -q '"trudy"' "$WORK/follow.out" && break
    sleep 0.25
done
kill -INT "$FOLLOW"
wait "$FOLLOW"
expect_eq "logs --follow prints new events and exits 0 on SIGINT" "0:1" \
    "$?:$(grep -c '"identity":"trudy"' "$WORK/follow.out")"
# --all: every registry's events and the directory's logins
TENANT=$(curl -s -u "owner:$PW" "$URL/api/v1/tenant" | jq -r .tenantId)
curl -s -o /dev/null "$URL/directory/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=password \
    --data-urlencode username=eve --data-urlencode password=nope
sleep 0.5
cli logs login --all --failed --identity eve --json
expect_cli_lines "logs login --all shows a directory login, which belongs to no registry" 0 \
    'any(.identity == "eve" and .operation == "directory_token" and .registry == "")'
cli logs login --all --failed --identity eve
expect_match "the --all table has a registry column" "REGISTRY" "$OUT"
cli logs login --all -n default
expect_cli_err "-n with --all is a usage error" 2 "not both"

# ---- switching and logging out
cli auth use http://127.0.0.1:1
expect_cli_err "auth use of a server without a session" 1 "not logged in to http://127.0.0.1:1"
cli auth use "$URL/"
expect_eq "auth use" "0:Now using $URL" "$RC:$OUT"
cli auth logout
expect_eq "auth logout" "0:Logged out of $URL" "$RC:$OUT"
cli registry list
expect_cli_err "after logout a command says how to log in" 1 "berth auth login --server URL"
cli repository show-tags -n default --repository team/app --server "$URL" -u owner -p "$PW" --json
expect_cli "-u/-p need no session, registry tokens included" 0 '.name == "team/app"'
printf '{"current": ' >"$SESS"
cli auth show
expect_cli_err "a malformed session file: fix or delete it" 1 "cannot read '.*sessions.json': .*fix or delete it"

if grep -Eq 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$CLI_ERRS"; then
    fail "no sanitizer reports from the CLI" "$(grep -Em 3 'Sanitizer|runtime error:' "$CLI_ERRS")"
else
    ok "no sanitizer reports from the CLI"
fi
finish
