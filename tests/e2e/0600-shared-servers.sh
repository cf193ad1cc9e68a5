#!/usr/bin/env bash
# Two servers on one PostgreSQL database (each with its own data folder and
# port) answer alike after any change: both start at the same moment on a
# fresh database; a token either issues is accepted by the other; after a
# key rotation on one, tokens from both still verify on both; a password
# changed or a token disabled through one is refused by the other at the
# very next request; failed logins alternating between them lock the pair
# out on both. Needs BERTH_E2E_PG (a PostgreSQL socket folder).
. "$(dirname "$0")/lib.sh"
if [ -z "${BERTH_E2E_PG:-}" ]; then
    skip "needs a PostgreSQL server shared by two servers (BERTH_E2E_PG, a socket folder; scripts/pg.sh starts one)"
    exit 0
fi
if [ ! -x "$BERTH_BIN" ]; then
    skip "berth binary not found at $BERTH_BIN"
    exit 0
fi
work_init
LIMITS=(--login-failures 3 --login-window 60 --login-lockout 60)

# fresh_db: a new database for this test; sets META.
N_DB=0
fresh_db() {
    N_DB=$((N_DB + 1))
    local db
    db=t_$(basename "$WORK" | tr -c 'a-zA-Z0-9_\n' '_')_$N_DB
    psql -h "$BERTH_E2E_PG" -U postgres -qc "CREATE DATABASE \"$db\"" postgres >/dev/null 2>&1 || bail "create database $db"
    META="postgresql://postgres@/$db?host=$BERTH_E2E_PG"
}

# spawn NAME [prefix command...] -- [serve flags...]: starts `berth serve` with data in $WORK/NAME on a free
# port and the test's database, without waiting; sets PORT_<NAME>, PID_<NAME>.
spawn() {
    local name=$1 port
    shift
    local pre=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do pre+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    port=$(free_port)
    mkdir -p "$WORK/$name"
    echo "=== ${pre[*]} berth serve --listen 127.0.0.1:$port --data $WORK/$name $*" >>"$WORK/$name.log"
    BERTH_META=$META "${pre[@]}" "$BERTH_BIN" serve --listen "127.0.0.1:$port" --data "$WORK/$name" "$@" \
        >>"$WORK/$name.log" 2>&1 &
    SERVER_PIDS+=("$!")
    printf -v "PID_$name" '%s' "$!"
    printf -v "PORT_$name" '%s' "$port"
}

# up NAME: waits until NAME answers GET /v2/ (10 s at most).
up() {
    local pid port i
    pid=PID_$1 port=PORT_$1
    for i in $(seq 100); do
        kill -0 "${!pid}" 2>/dev/null || return 1
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:${!port}/v2/")" != 000 ] && return 0
        sleep 0.1
    done
    return 1
}

# stop NAME: SIGTERM and wait; it must exit 0.
stop() {
    local pid=PID_$1
    BERTH_PID=${!pid}
    berth_stop
}

# on NAME: the requests that follow go to NAME.
on() {
    local port=PORT_$1
    HOSTPORT=127.0.0.1:${!port}
    URL=http://$HOSTPORT
    SRV_LOG=$WORK/$1.log
}

reason() { jq -r '.errors[0].detail.reason // empty' "$BODY" 2>/dev/null; }
expect_reason() {
    local want=$1 desc=$2 got
    got=$(reason)
    if [ "$got" = "$want" ]; then ok "$desc"; else fail "$desc" "expected reason $want" "got ${got:-<none>}: $(cat "$BODY")"; fi
}
# kid_of TOKEN: the kid in a JWT's header.
kid_of() {
    local h
    h=$(echo "$1" | cut -d. -f1 | tr '_-' '/+')
    while [ $((${#h} % 4)) != 0 ]; do h="$h="; done
    echo "$h" | base64 -d 2>/dev/null | jq -r .kid
}
LS=default.localhost

# ---- both started at the same moment on a fresh database
fresh_db
spawn a -- "${LIMITS[@]}"
spawn b -- "${LIMITS[@]}"
up a && ok "server a comes up beside b on a fresh database" || bail "server a comes up" "$(tail -n 5 "$WORK/a.log")"
up b && ok "server b comes up beside a on a fresh database" || bail "server b comes up" "$(tail -n 5 "$WORK/b.log")"
META_AB=$META
# more pairs at once on fresh databases: the start-up race has more than one outcome
for round in 2 3; do
    fresh_db
    spawn "r${round}x" -- "${LIMITS[@]}"
    spawn "r${round}y" -- "${LIMITS[@]}"
    if up "r${round}x" && up "r${round}y"; then
        ok "round $round: two more servers start at once on a fresh database"
    else
        fail "round $round: two more servers start at once on a fresh database" \
            "$(tail -n 3 "$WORK/r${round}x.log")" "$(tail -n 3 "$WORK/r${round}y.log")"
    fi
    stop "r${round}x"
    stop "r${round}y"
done
META=$META_AB
n=$(ls "$WORK"/a/initial-owner-password "$WORK"/b/initial-owner-password 2>/dev/null | wc -l)
expect_eq "exactly one of the two wrote the owner's password file" 1 "$n"
PW=$(cat "$WORK"/a/initial-owner-password "$WORK"/b/initial-owner-password 2>/dev/null)
OWN=(-u "owner:$PW")
if [ -f "$WORK/a/initial-owner-password" ]; then maker=a other=b; else maker=b other=a; fi
check "the server that made the owner logs where its password file is" \
    grep -q "created user 'owner'.*password_file=$WORK/$maker/initial-owner-password host=" "$WORK/$maker.log"
if grep -q "created user 'owner'" "$WORK/$other.log"; then
    fail "only one server made the owner" "$(grep "owner" "$WORK/$other.log" | tail -n 2)"
else
    ok "the other server did not make a second owner"
fi
check "neither keeps a key folder: the keys are in the database" test ! -e "$WORK/a/keys" -a ! -e "$WORK/b/keys"

# ---- tokens of either are accepted by the other
on a
req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull,push&offline_token=true" "${OWN[@]}"
expect_status 200 "a issues a token to the owner"
AT_A=$(jq -r .access_token "$BODY")
RT_A=$(jq -r .refresh_token "$BODY")
on b
req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull,push&offline_token=true" "${OWN[@]}"
expect_status 200 "b issues a token to the owner"
AT_B=$(jq -r .access_token "$BODY")
RT_B=$(jq -r .refresh_token "$BODY")
req GET /v2/ -H "Authorization: Bearer $AT_A"
expect_status 200 "b accepts a's access token"
rand_file "$WORK/blob1" 1500
B1=$(digest_of "$WORK/blob1")
req POST "/v2/team/app/blobs/uploads/?digest=$B1" -H "Authorization: Bearer $AT_A" --data-binary @"$WORK/blob1" \
    -H 'Content-Type: application/octet-stream'
expect_status 201 "a's token pushes through b"
req POST /oauth2/token --data-urlencode grant_type=refresh_token --data-urlencode "service=$LS" \
    --data-urlencode "refresh_token=$RT_A" --data-urlencode "scope=repository:team/app:pull"
expect_status 200 "b accepts a's refresh token"
on a
req GET /v2/ -H "Authorization: Bearer $AT_B"
expect_status 200 "a accepts b's access token"
req GET "/v2/team/app/tags/list" -H "Authorization: Bearer $AT_B"
expect_status "200|404" "b's token reads team/app through a"
req POST /oauth2/token --data-urlencode grant_type=refresh_token --data-urlencode "service=$LS" \
    --data-urlencode "refresh_token=$RT_B" --data-urlencode "scope=repository:team/app:pull"
expect_status 200 "a accepts b's refresh token"
KID0=$(kid_of "$AT_A")

# ---- a key rotation on a (restarted with key-rotation-days 1 and a clock two days ahead, then normally)
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
if [ -n "$FAKETIME_LIB" ]; then
    stop a
    # preloaded into berth itself (not under faketime(1), which would take the SIGTERM); an ASan build
    # must be told that its runtime need not come first
    spawn a env LD_PRELOAD="$FAKETIME_LIB" FAKETIME=+2d ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
        -- "${LIMITS[@]}" --key-rotation-days 1
    up a && ok "a restarts two days ahead with key-rotation-days 1" || bail "a restarts ahead" "$(tail -n 5 "$WORK/a.log")"
    check "a rotated the signing key, in the database" grep -q 'rotated the token signing key.*storage=metadata' "$WORK/a.log"
    stop a
    spawn a -- "${LIMITS[@]}"
    up a && ok "a restarts on the real clock" || bail "a restarts" "$(tail -n 5 "$WORK/a.log")"
    check "the key folder stays absent" test ! -e "$WORK/a/keys"
    on a
    req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull&offline_token=true" "${OWN[@]}"
    expect_status 200 "a issues a token after the rotation"
    AT_A2=$(jq -r .access_token "$BODY")
    RT_A2=$(jq -r .refresh_token "$BODY")
    KID1=$(kid_of "$AT_A2")
    check "a signs with the new key" test -n "$KID1" -a "$KID1" != "$KID0"
    on b
    req GET /v2/ -H "Authorization: Bearer $AT_A2"
    expect_status 200 "b accepts a's token signed with the new key at once"
    req POST /oauth2/token --data-urlencode grant_type=refresh_token --data-urlencode "service=$LS" \
        --data-urlencode "refresh_token=$RT_A2" --data-urlencode "scope=repository:team/app:pull"
    expect_status 200 "and its refresh token"
    AT_B2=$(jq -r .access_token "$BODY")
    expect_eq "b signs with the newest key from then on" "$KID1" "$(kid_of "$AT_B2")"
    req GET /v2/ -H "Authorization: Bearer $AT_A"
    expect_status 200 "b still accepts a's token from before the rotation"
    req GET /v2/ -H "Authorization: Bearer $AT_B"
    expect_status 200 "b still accepts its own token from before the rotation"
    on a
    for t in "$AT_A" "$AT_B" "$AT_B2"; do
        req GET /v2/ -H "Authorization: Bearer $t"
        [ "$STATUS" = 200 ] || break
    done
    expect_status 200 "a accepts every token: its own and b's, from before and after the rotation"
    req GET "/api/v1/tenant" "${OWN[@]}"
    TENANT=$(jq -r .tenantId "$BODY")
    on b
    req GET "/directory/$TENANT/discovery/v2.0/keys"
    check "b's JWKS lists the new key and the one before" \
        jq -e --arg k1 "$KID1" --arg k0 "$KID0" '[.keys[].kid] | index($k1) != null and index($k0) != null' "$BODY"
else
    skip "libfaketime is not installed: no key rotation between the servers (sh scripts/deps.sh test)"
fi

# ---- changes through one apply on the other at the very next request
on a
req POST /api/v1/users "${OWN[@]}" -H 'Content-Type: application/json' --data-binary '{"name":"alice","password":"alice-pass-1"}'
expect_status 201 "a creates user alice"
req POST /api/v1/roleAssignments "${OWN[@]}" -H 'Content-Type: application/json' \
    --data-binary '{"principal":"alice","role":"AcrPull","scope":"/registries/default"}'
expect_status 201 "AcrPull on the registry for alice"
on b
req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull&offline_token=true" -u "alice:alice-pass-1"
expect_status 200 "alice logs in on b"
ALICE_RT=$(jq -r .refresh_token "$BODY")
req GET /v2/ -u "alice:alice-pass-1"
expect_status 200 "alice's password opens /v2/ on b (and b has it cached)"
on a
req POST /api/v1/users/alice/password "${OWN[@]}" -H 'Content-Type: application/json' --data-binary '{"password":"alice-pass-2"}'
expect_status 200 "a changes alice's password"
on b
req GET /v2/ -u "alice:alice-pass-1"
expect_error 401 UNAUTHORIZED "b refuses alice's old password at once"
req GET "/oauth2/token?service=$LS" -u "00000000-0000-0000-0000-000000000000:$ALICE_RT"
expect_error 401 UNAUTHORIZED "b refuses alice's refresh token from the old password at once"
expect_reason REFRESH_REVOKED "that says REFRESH_REVOKED"
req GET /v2/ -u "alice:alice-pass-2"
expect_status 200 "alice's new password works on b"

on a
req POST /api/v1/registries/default/tokens "${OWN[@]}" -H 'Content-Type: application/json' \
    --data-binary '{"name":"ci-pull","scopeMapId":"_repositories_pull"}'
expect_status 201 "a creates a repository token"
TPW=$(jq -r '.credentials.passwords[] | select(.name=="password1") | .value' "$BODY")
on b
req HEAD "/v2/team/app/blobs/$B1" -u "ci-pull:$TPW"
expect_status 200 "the token pulls through b"
req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull" -u "ci-pull:$TPW"
CI_AT=$(jq -r .access_token "$BODY")
req HEAD "/v2/team/app/blobs/$B1" -H "Authorization: Bearer $CI_AT"
expect_status 200 "an access token b issued for it pulls"
on a
req PATCH /api/v1/registries/default/tokens/ci-pull "${OWN[@]}" -H 'Content-Type: application/json' --data-binary '{"status":"disabled"}'
expect_status 200 "a disables the token"
on b
req HEAD "/v2/team/app/blobs/$B1" -u "ci-pull:$TPW"
expect_status 401 "b refuses the disabled token's password at once"
req GET "/v2/team/app/blobs/$B1" -u "ci-pull:$TPW"
expect_reason TOKEN_DISABLED "that says TOKEN_DISABLED"
req HEAD "/v2/team/app/blobs/$B1" -H "Authorization: Bearer $CI_AT"
expect_status 401 "b refuses the access token it issued for the disabled token at once"

# ---- a stream followed on b shows what a stores
F=$WORK/follow.out
on b
curl -sN "${OWN[@]}" "$URL/api/v1/registries/default/logs/stream?follow=true&limit=1&timeout=20" >"$F" 2>/dev/null &
EXTRA_PIDS+=("$!")
sleep 0.5
on a
for i in 1 2; do curl -s -o /dev/null -u "shared-probe-$i:wrong" "$URL/v2/"; done
expect_eq "a stream followed on b delivers the refusals a stored, within seconds" 2 "$(wait_lines "$F" shared-probe- 2)"

# ---- failed logins alternating between a and b lock the pair out on both
on a; req GET /v2/ -u "owner:wrong-1"; expect_status 401 "a wrong password on a"
on b; req GET /v2/ -u "owner:wrong-2"; expect_status 401 "a wrong password on b"
on a; req GET /v2/ -u "owner:wrong-3"; expect_status 401 "a third wrong password, on a again"
on b
req GET /v2/ "${OWN[@]}"
expect_error 429 TOOMANYREQUESTS "b now refuses even the right password"
expect_reason TOO_MANY_FAILURES "that says TOO_MANY_FAILURES"
check "with a Retry-After" has_hdr Retry-After
on a
req GET /v2/ "${OWN[@]}"
expect_error 429 TOOMANYREQUESTS "and so does a"
req GET /v2/ -u "alice:alice-pass-2"
expect_status 200 "another name from the same address is not affected"

# ---- b's log has no sanitizer reports (finish looks at the last server's log only)
for s in a b; do
    if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$WORK/$s.log"; then
        fail "no sanitizer reports in $s.log" "$(grep -Em 3 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$WORK/$s.log")"
    fi
done
check "no private key in either log" bash -c "! grep -q 'PRIVATE KEY' '$WORK/a.log' '$WORK/b.log'"
finish
