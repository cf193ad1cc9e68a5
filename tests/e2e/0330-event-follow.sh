#!/bin/bash
# The live side of the event logs: a followed stream (logs/stream?follow=true)
# sends each new event as it is stored and ends at its timeout or when the
# server stops; the file sink (event-file) gets every event as a JSON line
# and rotates by size; login events carry the jti of the token issued or
# presented; the server-wide logs show directory logins, which belong to no
# registry.
source "$(dirname "$0")/lib.sh"

work_init
BERTH_AUTH=1 berth_start --event-file "$WORK/ev/events.jsonl" --event-file-max 64K --event-file-keep 2 \
    --event-followers 2
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
LS=default.localhost
LOGS=/api/v1/registries/default/logs
jqe() { jq -e "$@" >/dev/null; }

# ---- following
F1=$WORK/follow1.out
curl -sN "${OWN[@]}" "$URL$LOGS/stream?follow=true&limit=1&timeout=20" >"$F1" 2>"$WORK/follow1.err" &
FPID=$!
EXTRA_PIDS+=("$FPID")
sleep 0.5
for i in 1 2 3; do curl -s -o /dev/null -u "follow-probe-$i:wrong" "$URL/v2/"; done
got=$(wait_lines "$F1" follow-probe- 3)
expect_eq "a followed stream delivers three new refusals while it stays open" 3 "$got"
check "each followed line is a login event naming the identity and the reason" \
    bash -c "grep 'follow-probe-' '$F1' | jq -e -s 'length==3 and all(.[]; .log==\"login\" and .reason==\"UNKNOWN_PRINCIPAL\" and .clientIp==\"127.0.0.1\")' >/dev/null"
check "the stream is still open" kill -0 "$FPID"
check "lines arrive in id order" bash -c "grep . '$F1' | jq -e -s '[.[].id] == ([.[].id]|sort)' >/dev/null"

# a filtered follower sees only what matches
F2=$WORK/follow2.out
# (6 s: the three logins take up to a second under load, and the event must still reach the follower)
curl -sN "${OWN[@]}" "$URL$LOGS/stream?follow=true&since=0s&failed=true&identity=only-me&timeout=6" >"$F2" &
F2PID=$!
EXTRA_PIDS+=("$F2PID")
sleep 0.3
curl -s -o /dev/null -u "someone-else:wrong" "$URL/v2/"
curl -s -o /dev/null -u "only-me:wrong" "$URL/v2/"
curl -s -o /dev/null -u "owner:$PW" "$URL/v2/"
T0=$(date +%s%N)
wait "$F2PID"
RC=$?
T1=$(date +%s%N)
expect_eq "a followed stream with a timeout ends cleanly" 0 "$RC"
check "it ended near its 6 s timeout" test $(((T1 - T0) / 1000000)) -lt 7000
check "the filtered follower got only the matching event" \
    bash -c "grep . '$F2' | jq -e -s 'length==1 and .[0].identity==\"only-me\"' >/dev/null"

# the follower limit
curl -sN "${OWN[@]}" "$URL$LOGS/stream?follow=true&since=0s&timeout=5" >/dev/null &
EXTRA_PIDS+=("$!")
sleep 0.3
req GET "$LOGS/stream?follow=true&timeout=5" "${OWN[@]}"
expect_error 503 UNAVAILABLE "past event-followers a follower is refused with the reason"
req GET "$LOGS/stream?follow=true&timeout=0" "${OWN[@]}"
expect_error 400 INVALID_REQUEST "timeout=0 is refused"

# ---- the token id (jti) in login events
TOKEN=$(curl -s "${OWN[@]}" "$URL/oauth2/token?service=$LS&scope=repository:jti/app:pull" | jq -r .access_token)
JTI=$(cut -d. -f2 <<<"$TOKEN" | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .jti 2>/dev/null)
[ -n "$JTI" ] && [ "$JTI" != null ] || JTI=$(cut -d. -f2 <<<"$TOKEN==" | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .jti)
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -A jti-probe "$URL/v2/jti/app/tags/list"
EV=""
for i in $(seq 50); do
    EV=$(curl -s "${OWN[@]}" "$URL$LOGS/login?operation=token_get&identity=owner&limit=1" | jq -c '.value[0] // empty')
    EV2=$(curl -s "${OWN[@]}" "$URL$LOGS/login?operation=tags&limit=20" | jq -c '[.value[] | select(.userAgent=="jti-probe")][0] // empty')
    [ -n "$EV" ] && [ -n "$EV2" ] && break
    sleep 0.1
done
expect_eq "the token endpoint's login event names the jti of the token it issued" "$JTI" "$(jq -r .tokenId <<<"$EV")"
expect_eq "a Bearer request's login event names the jti of the token presented" "$JTI" "$(jq -r .tokenId <<<"$EV2")"
req GET "$LOGS/login?reason=UNKNOWN_PRINCIPAL&limit=1" "${OWN[@]}"
check "a refused login names no token" jqe '.value[0] | has("tokenId") | not' "$BODY"

# ---- directory logins in the server-wide logs
TENANT=$(curl -s "${OWN[@]}" "$URL/api/v1/tenant" | jq -r .tenantId)
curl -s -o /dev/null "$URL/directory/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=password \
    --data-urlencode username=owner --data-urlencode "password=not-it" -A dir-probe
DT=$(curl -s "$URL/directory/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=password \
    --data-urlencode username=owner --data-urlencode "password=$PW" -A dir-probe | jq -r .access_token)
EV=""
for i in $(seq 50); do
    curl -s "${OWN[@]}" "$URL/api/v1/logs/login?limit=50" >"$WORK/server.json"
    EV=$(jq -c '[.value[] | select(.userAgent=="dir-probe")]' "$WORK/server.json")
    [ "$(jq length <<<"$EV")" = 2 ] && break
    sleep 0.1
done
expect_eq "the server-wide login log has both directory logins" 2 "$(jq length <<<"$EV")"
check "the failed one names BAD_SECRET, the good one a token id" \
    jqe '(map(select(.status==401 and .reason=="BAD_SECRET")) | length==1) and (map(select(.status==200 and (.tokenId|length)==36)) | length==1)' <<<"$EV"
check "the server-wide log also has registry events" \
    jqe '[.value[] | select(.registry=="default")] | length >= 1' "$WORK/server.json"
req GET "/api/v1/logs/stream?limit=5" "${OWN[@]}"
expect_status 200 "the server-wide stream answers"
check "with five JSON lines" bash -c "jq -e -s 'length==5' '$BODY' >/dev/null"
curl -s "${OWN[@]}" -X POST -H 'Content-Type: application/json' -d '{"name":"lowreader","password":"Lowreader-pass-1234"}' \
    "$URL/api/v1/users" >/dev/null
curl -s "${OWN[@]}" -X POST -H 'Content-Type: application/json' \
    -d '{"principal":"lowreader","role":"Reader","scope":"/registries/default"}' "$URL/api/v1/roleAssignments" >/dev/null
req GET "$LOGS/login?limit=1" -u "lowreader:Lowreader-pass-1234"
expect_status 200 "Reader on a registry reads its log"
req GET "/api/v1/logs/login?limit=1" -u "lowreader:Lowreader-pass-1234"
expect_error 403 DENIED "but not the server-wide log"
req GET "/api/v1/logs/login?limit=1" -H "Authorization: Bearer $DT"
expect_status 200 "a directory token of the owner reads the server-wide log"

# ---- the file sink
for i in $(seq 600); do echo "url = \"$URL/v2/\"" ; echo "user = \"sink-$i:wrong\""; echo "output = /dev/null"; done >"$WORK/curl.cfg"
curl -s -K "$WORK/curl.cfg"
for i in $(seq 50); do
    n=$(cat "$WORK/ev/events.jsonl" "$WORK/ev/events.jsonl".[12] 2>/dev/null | grep -c '"sink-')
    [ "$n" -ge 600 ] && break
    sleep 0.1
done
check "the event file was rotated" test -s "$WORK/ev/events.jsonl.1"
check "no more than event-file-keep rotated files" test ! -e "$WORK/ev/events.jsonl.3"
check "no file is much larger than event-file-max" \
    bash -c "for f in '$WORK'/ev/events.jsonl*; do [ \$(stat -c %s \"\$f\") -le 66000 ] || exit 1; done"
check "every line of every file is one JSON event" \
    bash -c "cat '$WORK'/ev/events.jsonl* | jq -e -s 'all(.[]; has(\"id\") and has(\"log\") and has(\"time\"))' >/dev/null"
check "the files are private (0600)" bash -c "[ \$(stat -c %a '$WORK/ev/events.jsonl') = 600 ]"
# the writer may still be working through the rate-limited logins: take the
# file's last event once it holds still, and keep a copy of every file then
# (the request below logs a login of its own, which may rotate them)
LASTF=
for i in $(seq 50); do
    now=$(tail -n 1 "$WORK/ev/events.jsonl" | jq -r .id)
    [ -n "$now" ] && [ "$now" = "$LASTF" ] && break
    LASTF=$now
    sleep 0.2
done
cat "$WORK"/ev/events.jsonl* >"$WORK/events.copy"
req GET "/api/v1/logs/stream?after=$((LASTF - 1))&limit=1" "${OWN[@]}"
expect_eq "the file's last event is the store's event of the same id" \
    "$(grep "^{\"id\":$LASTF," "$WORK/events.copy" | jq -c 'del(.durationMs)')" \
    "$(jq -c 'del(.durationMs)' "$BODY")"

# ---- a stop ends followed streams at once
curl -sN "${OWN[@]}" "$URL$LOGS/stream?follow=true&since=0s" >/dev/null &
F3PID=$!
EXTRA_PIDS+=("$F3PID")
sleep 0.3
T0=$(date +%s%N)
berth_stop
T1=$(date +%s%N)
check "the server stops within 3 s while a stream is followed" test $(((T1 - T0) / 1000000)) -lt 3000
for i in $(seq 30); do kill -0 "$F3PID" 2>/dev/null || break; sleep 0.1; done
check "the follower's stream ended" bash -c "! kill -0 $F3PID 2>/dev/null"
kill "$FPID" 2>/dev/null

# a bad event-file stops start-up with the key named
: >"$WORK/a-file"
OUT=$("$BERTH_BIN" serve --listen 127.0.0.1:0 --data "$WORK/d2" --event-file "$WORK/a-file/x.jsonl" 2>&1)
expect_match "an unwritable event-file stops serve naming the key" "event-file" "$OUT"
finish
