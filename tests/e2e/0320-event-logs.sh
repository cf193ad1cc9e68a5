#!/usr/bin/env bash
# The login and repository event logs: every refusal reason that can be
# produced cheaply shows in the login log with the identity it claimed and
# the client IP; push, pull and delete show in the repository log; the
# query filters, paging and the JSON-lines stream; and a burst of 10,000
# logins is either fully recorded or the dropped count makes up the rest.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start --login-failures 3 --login-window 60 --login-lockout 30
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
LS=default.localhost
api() { # api METHOD PATH [JSON]
    if [ $# -ge 3 ]; then
        req "$1" "$2" "${OWN[@]}" -H 'Content-Type: application/json' --data-binary "$3"
    else
        req "$1" "$2" "${OWN[@]}"
    fi
}
LOGS=/api/v1/registries/default/logs
jqe() { jq -e "$@" >/dev/null; }

# wait_event LOG QUERY JQFILTER: polls the log (up to 5 s) until an event matches JQFILTER; leaves it in $EV
wait_event() {
    local log=$1 q=$2 f=$3 i
    EV=""
    for i in $(seq 50); do
        curl -s "${OWN[@]}" "$URL$LOGS/$log?limit=1000&$q" >"$WORK/log.json"
        EV=$(jq -c "[.value[] | select($f)][0] // empty" "$WORK/log.json" 2>/dev/null)
        [ -n "$EV" ] && return 0
        sleep 0.1
    done
    return 1
}
# expect_login DESC REASON IDENTITY [IP] [QUERY]: the newest login event with that reason names IDENTITY and IP
expect_login() {
    local desc=$1 reason=$2 who=$3 ip=${4:-127.0.0.1} q=${5:-}
    if wait_event login "reason=$reason&$q" "true"; then
        if [ "$(jq -r .identity <<<"$EV")" = "$who" ] && [ "$(jq -r .clientIp <<<"$EV")" = "$ip" ]; then
            ok "$desc"
        else
            fail "$desc" "expected identity $who from $ip" "got $EV"
        fi
    else
        fail "$desc" "no login event with reason $reason" "$(head -c 600 "$WORK/log.json")"
    fi
}

# ---- refusals by reason
req GET "/oauth2/token?service=$LS" -u "owner:wrong-password" -A "evtest/1"
expect_error 401 UNAUTHORIZED "a wrong password is refused"
expect_login "BAD_SECRET is logged with the user's name and IP" BAD_SECRET owner
check "it names the identity type, the operation and the user agent" \
    jqe '.identityType=="user" and .operation=="token_get" and .userAgent=="evtest/1" and .status==401 and .result=="failure"' <<<"$EV"
check "the event carries the request id and registry" \
    jqe '(.requestId|length)==16 and .registry=="default" and (.loginServer|startswith("default."))' <<<"$EV"
check "no secret is in the log" bash -c "! grep -q wrong-password '$WORK/log.json'"

req GET /v2/ -u "nobody-here:whatever"
expect_login "UNKNOWN_PRINCIPAL is logged with the name tried" UNKNOWN_PRINCIPAL nobody-here

req GET "/v2/"
expect_status 401 "no credentials is refused"
expect_login "NO_CREDENTIALS is logged as anonymous" NO_CREDENTIALS ""
check "its identity type is anonymous" jqe '.identityType=="anonymous"' <<<"$EV"

req GET "/oauth2/token?service=$LS" -u "default:whatever"
expect_login "a wrong password of the disabled admin user is logged as BAD_SECRET" BAD_SECRET default 127.0.0.1 identity=default
check "as identity type admin" jqe '.identityType=="admin"' <<<"$EV"
api PATCH /api/v1/registries/default '{"adminUserEnabled":true}'
api POST /api/v1/registries/default/credentials/regenerate '{"name":"password"}'
APW=$(jq -r '.passwords[] | select(.name=="password") | .value' "$BODY")
api PATCH /api/v1/registries/default '{"adminUserEnabled":false}'
req GET "/oauth2/token?service=$LS" -u "default:$APW"
expect_login "ADMIN_DISABLED is logged for the admin user with its password" ADMIN_DISABLED default

api POST /api/v1/registries/default/tokens '{"name":"ev-tok","scopeMapId":"_repositories_pull"}'
TPW=$(jq -r '.credentials.passwords[] | select(.name=="password1") | .value' "$BODY")
api PATCH /api/v1/registries/default/tokens/ev-tok '{"status":"disabled"}'
req GET /v2/ -u "ev-tok:$TPW"
expect_login "TOKEN_DISABLED is logged for the token" TOKEN_DISABLED ev-tok
check "as identity type token" jqe '.identityType=="token"' <<<"$EV"
api PATCH /api/v1/registries/default/tokens/ev-tok '{"status":"enabled"}'

req POST "/v2/ev/app/blobs/uploads/" -u "ev-tok:$TPW"
expect_login "INSUFFICIENT_SCOPE is logged for the token" INSUFFICIENT_SCOPE ev-tok

api POST /api/v1/registries '{"name":"evsecond"}'
AT=$(curl -s -u "owner:$PW" "$URL/oauth2/token?service=$LS&scope=repository:ev/app:pull" | jq -r '.access_token // empty')
req GET /v2/ -H "Host: evsecond.localhost:$PORT" -H "Authorization: Bearer $AT"
expect_error 401 UNAUTHORIZED "a token of another registry is refused"
LOGS=/api/v1/registries/evsecond/logs
expect_login "WRONG_AUDIENCE is logged in the log of the registry that refused" WRONG_AUDIENCE ""
LOGS=/api/v1/registries/default/logs

for i in 1 2 3; do req GET "/oauth2/token?service=$LS" -u "lockme:wrong$i"; done
req GET "/oauth2/token?service=$LS" -u "lockme:wrong4"
expect_status 429 "a fourth failure in a row is 429"
expect_login "TOO_MANY_FAILURES is logged with the name tried" TOO_MANY_FAILURES lockme

req GET "/oauth2/token?service=$LS" "${OWN[@]}"
expect_status 200 "the owner gets a token"
if wait_event login "identity=owner" '.status==200 and .operation=="token_get"'; then
    ok "a successful login is logged"
    check "with the user's id and no reason" jqe '(.identityId|length)>0 and (has("reason")|not)' <<<"$EV"
else
    fail "a successful login is logged" "$(head -c 600 "$WORK/log.json")"
fi

if [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' --interface 127.0.0.2 "$URL/v2/")" = 000 ]; then
    skip "cannot send from 127.0.0.2 (no loopback aliases here): NETWORK_IP_DENIED"
else
    api PATCH /api/v1/registries/default \
        '{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"127.0.0.1"}]}}'
    expect_status 200 "a deny-by-default rule set that lets in 127.0.0.1 only"
    req GET /v2/ -u "owner:$PW" --interface 127.0.0.2
    expect_status 403 "127.0.0.2 is refused by the network rules"
    expect_login "NETWORK_IP_DENIED is logged with the refused client's IP" NETWORK_IP_DENIED "" 127.0.0.2
    api PATCH /api/v1/registries/default '{"networkRuleSet":{"defaultAction":"Allow","ipRules":[]}}'
fi

# ---- filters and paging
curl -s "${OWN[@]}" "$URL$LOGS/login?failed=true&limit=1000" >"$WORK/f.json"
check "failed=true returns only failures" jqe '(.value|length)>5 and all(.value[]; .status>=400)' "$WORK/f.json"
check "failed=true leaves out the NO_CREDENTIALS challenges every login starts with" \
    jqe 'all(.value[]; .reason != "NO_CREDENTIALS")' "$WORK/f.json"
check "each failure carries the message of its reason and the user agent" \
    jqe 'all(.value[]; (.message | length) > 0 and has("userAgent"))
         and any(.value[]; .reason == "BAD_SECRET" and .message == "invalid username or password")' "$WORK/f.json"
curl -s "${OWN[@]}" "$URL$LOGS/login?failed=true&challenges=true&limit=1000" >"$WORK/f.json"
check "challenges=true brings them back" \
    jqe 'any(.value[]; .reason == "NO_CREDENTIALS" and .message == "authentication required")' "$WORK/f.json"
curl -s "${OWN[@]}" "$URL$LOGS/login?failed=true&reason=NO_CREDENTIALS&limit=1000" >"$WORK/f.json"
check "so does asking for the reason" jqe '(.value|length) > 0 and all(.value[]; .reason == "NO_CREDENTIALS")' "$WORK/f.json"
req GET "$LOGS/login?failed=true&challenges=maybe" "${OWN[@]}"
expect_error 400 INVALID_REQUEST "challenges takes true or false"
curl -s "${OWN[@]}" "$URL$LOGS/login?ip=127.0.0.1&identity=owner&limit=1000" >"$WORK/f.json"
check "identity and ip filter" jqe '(.value|length)>0 and all(.value[]; .identity=="owner" and .clientIp=="127.0.0.1")' "$WORK/f.json"
curl -s "${OWN[@]}" "$URL$LOGS/login?limit=2" >"$WORK/p1.json"
NEXT=$(jq -r .next "$WORK/p1.json")
curl -s "${OWN[@]}" "$URL$LOGS/login?limit=2&next=$NEXT" >"$WORK/p2.json"
check "pages are newest first and do not overlap" \
    jqe --slurpfile b "$WORK/p2.json" '(.value[0].id > .value[1].id) and (.value[1].id > $b[0].value[0].id)' "$WORK/p1.json"
curl -s "${OWN[@]}" "$URL$LOGS/login?since=1h&until=2000-01-01T00:00:00Z" >"$WORK/f.json"
check "since and until bound the time" jqe '(.value|length)==0' "$WORK/f.json"
TODAY=$(date -u +%F)
for when in "$TODAY" today yesterday 2026-01-01 "$(date -u -d '+1 day' +%F)"; do
    curl -s "${OWN[@]}" "$URL$LOGS/login?since=$when&limit=1000" >"$WORK/f-$when.json"
done
check "since takes a day: today's events are from 00:00 UTC on" \
    jqe --arg d "$TODAY" '(.value|length) > 0 and all(.value[]; .time >= $d)' "$WORK/f-$TODAY.json"
check "since=today is the same day" cmp -s <(jq -c '[.value[].id]' "$WORK/f-$TODAY.json") <(jq -c '[.value[].id]' "$WORK/f-today.json")
check "since=yesterday and an older day hold those events too" \
    jqe --slurpfile t "$WORK/f-today.json" '(.value|length) >= ($t[0].value|length)' "$WORK/f-yesterday.json"
check "since tomorrow finds nothing" jqe '(.value|length) == 0' "$WORK/f-$(date -u -d '+1 day' +%F).json"
curl -s "${OWN[@]}" "$URL$LOGS/login?until=$TODAY" >"$WORK/f.json"
check "until a day is exclusive: nothing from before today" jqe '(.value|length) == 0' "$WORK/f.json"
for bad in someday 2026-13-01 2026-1-1; do
    req GET "$LOGS/login?since=$bad" "${OWN[@]}"
    expect_error 400 INVALID_REQUEST "since=$bad is refused"
done
check "naming the forms it takes" grep -q "a day (2026-12-05, today, yesterday)" "$BODY"
req GET "$LOGS/login?limit=1001" "${OWN[@]}"
expect_status 400 "a limit over 1000 is refused"
req GET "$LOGS/login" -u "ev-tok:$TPW"
expect_status "401|403" "a repository token cannot read the logs"

# ---- repository events
printf '{}' >"$WORK/cfg.json"
CFG=$(digest_of "$WORK/cfg.json")
req POST "/v2/ev/app/blobs/uploads/?digest=$CFG" "${OWN[@]}" --data-binary @"$WORK/cfg.json"
expect_status 201 "a blob is pushed"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[]}' "$CFG" >"$WORK/m.json"
MD=$(digest_of "$WORK/m.json")
req PUT /v2/ev/app/manifests/v1 "${OWN[@]}" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$WORK/m.json"
expect_status 201 "a manifest is pushed as ev/app:v1"
req GET /v2/ev/app/manifests/v1 "${OWN[@]}" -A "puller/2"
expect_status 200 "it is pulled"
req DELETE "/v2/ev/app/manifests/$MD" "${OWN[@]}"
expect_status 202 "it is deleted"
if wait_event repository "repository=ev/app" '.operation=="delete"'; then ok "the delete is in the repository log"
else fail "the delete is in the repository log" "$(head -c 800 "$WORK/log.json")"; fi
check "the digest of the delete" jqe --arg d "$MD" '.digest==$d and .status==202 and .identity=="owner"' <<<"$EV"
wait_event repository "repository=ev/app&operation=push" 'true'
check "the push names tag, digest, media type and size" jqe --arg d "$MD" --argjson n "$(file_size "$WORK/m.json")" \
    '.tag=="v1" and .digest==$d and .mediaType=="application/vnd.oci.image.manifest.v1+json" and .size==$n and .clientIp=="127.0.0.1"' <<<"$EV"
wait_event repository "repository=ev/app&operation=pull" 'true'
check "the pull names tag, digest and user agent" jqe --arg d "$MD" '.tag=="v1" and .digest==$d and .userAgent=="puller/2"' <<<"$EV"
wait_event repository "repository=ev/app&operation=blob_push" 'true'
check "the blob push names its digest and size" jqe --arg d "$CFG" '.digest==$d and .size==2' <<<"$EV"

# ---- the JSON-lines stream
req GET "$LOGS/stream?limit=20" "${OWN[@]}"
expect_status 200 "the stream answers"
expect_header_re Content-Type '^application/x-ndjson' "as application/x-ndjson"
check "every line is one event of either log, oldest first" \
    bash -c "jq -e -s '(length==20) and all(.[]; .log==\"login\" or .log==\"repository\") and ([.[].id] == ([.[].id]|sort))' '$BODY' >/dev/null"
check "both logs are in it" bash -c "jq -e -s 'any(.[]; .log==\"repository\")' '$BODY' >/dev/null"
LAST=$(tail -n 1 "$BODY" | jq -r .id)
req GET /v2/ -u "owner:$PW"
# on PostgreSQL (a store servers may share) after= gives events once they are 2 s old
if [ -n "${BERTH_E2E_PG:-}" ]; then sleep 2.5; else sleep 0.5; fi
req GET "$LOGS/stream?after=$LAST" "${OWN[@]}"
check "after= returns only newer events" bash -c "jq -e -s --argjson l $LAST 'length>=1 and all(.[]; .id>\$l)' '$BODY' >/dev/null"
req GET "$LOGS/stream?follow=maybe" "${OWN[@]}"
expect_error 400 INVALID_REQUEST "follow must be true or false"

# ---- a burst of 10,000 logins (cached Basic credentials on keep-alive connections)
python3 - "$HOSTPORT" "$PW" <<'PY' >"$WORK/burst.out"
import base64, http.client, sys, threading
host, port = sys.argv[1].rsplit(":", 1)
auth = "Basic " + base64.b64encode(("owner:" + sys.argv[2]).encode()).decode()
codes = {}
lock = threading.Lock()
def run(n):
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    mine = {}
    for _ in range(n):
        c.request("GET", "/v2/", headers={"Authorization": auth, "User-Agent": "burst"})
        r = c.getresponse(); r.read()
        mine[r.status] = mine.get(r.status, 0) + 1
    with lock:
        for k, v in mine.items(): codes[k] = codes.get(k, 0) + v
ts = [threading.Thread(target=run, args=(1250,)) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(codes.values()), codes.get(200, 0))
PY
read -r SENT GOOD <"$WORK/burst.out"
expect_eq "10,000 logins were sent and answered 200" "10000 10000" "$SENT $GOOD"
count_burst() {
    local n=0 next="" page
    while :; do
        page=$(curl -s "${OWN[@]}" "$URL$LOGS/login?limit=1000&operation=base&identity=owner${next:+&next=$next}")
        n=$((n + $(jq '[.value[] | select(.userAgent=="burst")] | length' <<<"$page")))
        next=$(jq -r '.next // empty' <<<"$page")
        [ -n "$next" ] || break
    done
    echo "$n"
}
dropped() { curl -s "$URL/metrics" | awk '/^berth_events_dropped_total /{print $2}'; }
for i in $(seq 20); do
    REC=$(count_burst)
    DROP=$(dropped)
    [ $((REC + ${DROP%.*})) -ge 10000 ] && break
    sleep 0.25
done
if [ $((REC + ${DROP%.*})) -eq 10000 ]; then
    ok "the burst is accounted for exactly: $REC recorded + ${DROP%.*} dropped = 10000"
else
    fail "the burst is accounted for exactly" "recorded $REC, dropped ${DROP:-?}"
fi

# ---- events queued at shutdown are written before the database closes
req GET /v2/ -u "owner:shutdown-probe-wrong"
berth_stop
BERTH_AUTH=1 berth_start
req GET "$LOGS/login?reason=BAD_SECRET&limit=1000" "${OWN[@]}"
check "an event made just before shutdown was written" \
    jqe '[.value[] | select(.operation=="base" and .identity=="owner")] | length >= 1' "$BODY"
finish
