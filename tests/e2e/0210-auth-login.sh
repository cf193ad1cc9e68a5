#!/usr/bin/env bash
# The registry token service with the owner's directory credentials: the
# /v2/ challenge, the Docker token flow (GET with Basic, offline refresh
# tokens, POST refresh_token and password grants), the null-GUID login,
# Basic straight on /v2/, insufficient scope, tampered tokens, unknown
# registries, refusal reasons, brute-force 429 and recovery, and skopeo and
# podman logging in for real.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start --login-failures 3 --login-window 60 --login-lockout 3
PW=$(cat "$DATA/initial-owner-password")
check "the first start wrote the owner's password, mode 0600" test "$(stat -c %a "$DATA/initial-owner-password")" = 600
check "the password is not in the server log" bash -c "! grep -qF -- '$PW' '$SRV_LOG'"
LS=default.localhost

reason() { jq -r '.errors[0].detail.reason // empty' "$BODY" 2>/dev/null; }
expect_reason() {
    local want=$1 desc=$2 got
    got=$(reason)
    if [ "$got" = "$want" ]; then ok "$desc"; else fail "$desc" "expected reason $want" "got ${got:-<none>}: $(cat "$BODY")"; fi
}

# ---- the challenge
req GET /v2/
expect_error 401 UNAUTHORIZED "GET /v2/ without credentials is 401"
expect_header WWW-Authenticate "Bearer realm=\"http://$HOSTPORT/oauth2/token\",service=\"$LS\"" \
    "the /v2/ challenge is exactly realm and service"
expect_reason NO_CREDENTIALS "the refusal says NO_CREDENTIALS"
req GET /v2/team/app/tags/list
expect_status 401 "a repository request without credentials is 401"
expect_header_re WWW-Authenticate 'scope="repository:team/app:pull"' "its challenge names the scope"

# ---- Basic straight on /v2/
req GET /v2/ -u "owner:$PW"
expect_status 200 "Basic credentials on /v2/ are accepted"
req GET /v2/ -u "owner:wrong"
expect_error 401 UNAUTHORIZED "a wrong password on /v2/ is 401"
expect_reason INVALID_CREDENTIALS "a wrong password says INVALID_CREDENTIALS"
check "the log says BAD_SECRET" grep -q 'path="/v2/".*status=401.*reason=BAD_SECRET' "$SRV_LOG"
req GET /v2/ -u "nobody:wrong"
expect_reason INVALID_CREDENTIALS "an unknown user says INVALID_CREDENTIALS too"
check "the log says UNKNOWN_PRINCIPAL" grep -q 'path="/v2/".*status=401.*reason=UNKNOWN_PRINCIPAL' "$SRV_LOG"
check "unknown and wrong read alike to the client" bash -c "jq -r '.errors[0].message' '$BODY' | grep -qx 'invalid username or password'"

# ---- GET /oauth2/token with Basic
req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull,push&offline_token=true&client_id=docker" -u "owner:$PW"
expect_status 200 "GET /oauth2/token with the owner's password"
AT=$(jq -r .access_token "$BODY"); RT=$(jq -r .refresh_token "$BODY")
check "the answer has access_token, token, expires_in, issued_at and refresh_token" \
    jq -e '(.access_token|length)>0 and .token==.access_token and (.expires_in|type)=="number" and (.issued_at|type)=="string" and (.refresh_token|length)>0' "$BODY"
check "the access token is under 2 KB" test ${#AT} -lt 2048
claims=$(echo "$AT" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null)
[ -z "$claims" ] && claims=$(echo "$AT" | cut -d. -f2 | tr '_-' '/+' | sed 's/$/=/' | base64 -d 2>/dev/null)
[ -z "$claims" ] && claims=$(echo "$AT" | cut -d. -f2 | tr '_-' '/+' | sed 's/$/==/' | base64 -d 2>/dev/null)
check "the token's audience is the login server" test "$(echo "$claims" | jq -r .aud)" = "$LS"
check "the token grants exactly pull and push on team/app" \
    test "$(echo "$claims" | jq -c '.access')" = '[{"type":"repository","name":"team/app","actions":["pull","push"]}]'
header=$(echo "$AT" | cut -d. -f1 | tr '_-' '/+' | sed 's/$/==/' | base64 -d 2>/dev/null)
check "the token is ES256 with a kid" bash -c "echo '$header' | grep -q '\"alg\":\"ES256\"' && echo '$header' | grep -q '\"kid\"'"

req GET /v2/ -H "Authorization: Bearer $AT"
expect_status 200 "the access token opens /v2/"
rand_file "$WORK/b1" 1000
d1=$(digest_of "$WORK/b1")
req POST "/v2/team/app/blobs/uploads/?digest=$d1" -H "Authorization: Bearer $AT" --data-binary @"$WORK/b1" \
    -H 'Content-Type: application/octet-stream'
expect_status 201 "the token pushes to team/app"
req POST "/v2/other/app/blobs/uploads/?digest=$d1" -H "Authorization: Bearer $AT" --data-binary @"$WORK/b1"
expect_error 401 UNAUTHORIZED "the same token cannot push to other/app"
expect_reason INSUFFICIENT_SCOPE "that says INSUFFICIENT_SCOPE"
expect_header_re WWW-Authenticate 'error="insufficient_scope"' "the challenge says insufficient_scope"
expect_header_re WWW-Authenticate 'scope="repository:other/app:pull,push"' "and names the scope needed"

# tampered tokens
# flip one character in the middle of the signature (keeps valid base64url)
sig=${AT##*.}
mid=$(( ${#sig} / 2 ))
c=${sig:$mid:1}; r=A; [ "$c" = A ] && r=B
bad=${AT%.*}.${sig:0:$mid}$r${sig:$((mid + 1))}
req GET /v2/ -H "Authorization: Bearer $bad"
expect_error 401 UNAUTHORIZED "a token with a changed signature is refused"
expect_reason BAD_SIGNATURE "that says BAD_SIGNATURE"
none_hdr=$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d =)
req GET /v2/ -H "Authorization: Bearer $none_hdr.$(echo "$AT" | cut -d. -f2)."
expect_reason ALG_MISMATCH "alg none is ALG_MISMATCH"
req GET /v2/ -H "Authorization: Bearer $RT"
expect_reason WRONG_GRANT "a refresh token used as an access token is WRONG_GRANT"

# ---- POST /oauth2/token
req POST /oauth2/token --data-urlencode grant_type=refresh_token --data-urlencode "service=$LS" \
    --data-urlencode "scope=repository:team/app:pull" --data-urlencode "refresh_token=$RT" --data-urlencode client_id=docker
expect_status 200 "POST grant_type=refresh_token gives an access token"
req POST /oauth2/token --data-urlencode grant_type=refresh_token --data-urlencode "service=$LS" \
    --data-urlencode "scope=registry:None:*" --data-urlencode "refresh_token=$RT"
expect_status 200 "the odd scope registry:None:* does not fail"
req POST /oauth2/token --data-urlencode grant_type=password --data-urlencode "service=$LS" \
    --data-urlencode username=owner --data-urlencode "password=$PW" --data-urlencode access_type=offline \
    --data-urlencode "scope=repository:team/app:pull"
expect_status 200 "POST grant_type=password works"
check "access_type=offline returns a refresh token" jq -e '(.refresh_token|length)>0' "$BODY"
req POST /oauth2/token --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=garbage"
expect_error 401 UNAUTHORIZED "a garbage refresh token is refused"
expect_reason MALFORMED_TOKEN "that says MALFORMED_TOKEN"

# ---- the null GUID: the password is a refresh token
req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull" -u "00000000-0000-0000-0000-000000000000:$RT"
expect_status 200 "the null-GUID username with a refresh token gets an access token"
req GET /v2/team/app/tags/list -u "00000000-0000-0000-0000-000000000000:$RT"
expect_status "200|404" "the null-GUID login works with Basic on /v2/ too"

# ---- registries that do not exist
req GET /v2/ -H "Host: nosuchreg.localhost:$PORT" -u "owner:$PW"
expect_error 404 NAME_UNKNOWN "a Host naming an unknown registry is 404"
check "the message names the registry" grep -q "nosuchreg" "$BODY"
expect_reason UNKNOWN_REGISTRY "that says UNKNOWN_REGISTRY"
req GET "/oauth2/token?service=$LS" -H "Host: nosuchreg.localhost:$PORT" -u "owner:$PW"
expect_status 404 "the token endpoint of an unknown registry is 404"

# ---- anonymous: off by default
req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull"
expect_error 401 UNAUTHORIZED "no anonymous token while anonymous pull is off"
expect_reason ANONYMOUS_DISABLED "that says ANONYMOUS_DISABLED"

# ---- brute force: 3 failures, then 429 for that user from this IP only
for i in 1 2 3; do req GET "/oauth2/token?service=$LS" -u "owner:wrong$i"; done
req GET "/oauth2/token?service=$LS" -u "owner:$PW"
expect_error 429 TOOMANYREQUESTS "after 3 failures even the right password gets 429"
expect_header_re Retry-After '^[0-9]+$' "429 carries Retry-After"
expect_reason TOO_MANY_FAILURES "that says TOO_MANY_FAILURES"
if [ -n "${BERTH_E2E_PAIR:-}" ]; then
    skip "behind the pair's proxy every client has the proxy's address"
elif curl -s -o /dev/null --interface 127.0.0.2 "http://127.0.0.1:$PORT/v2/" 2>/dev/null; then
    req GET "/oauth2/token?service=$LS" -u "owner:$PW" --interface 127.0.0.2
    expect_status 200 "another client IP is not blocked"
else
    skip "cannot send from 127.0.0.2 here"
fi
sleep 4
req GET "/oauth2/token?service=$LS" -u "owner:$PW"
expect_status 200 "after the lockout the right password works again"

# ---- real clients
export REGISTRY_AUTH_FILE=$WORK/auth.json
make_oci_layout "$WORK/layout" 2 >/dev/null
if skopeo login --tls-verify=false -u owner -p wrong "$HOSTPORT" >"$WORK/sk.out" 2>&1; then
    fail "skopeo login with a wrong password fails"
else
    ok "skopeo login with a wrong password fails"
fi
check "skopeo login with the owner's password" skopeo login --tls-verify=false -u owner -p "$PW" "$HOSTPORT"
check "skopeo copy into the registry with the stored login" \
    skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/img:v1"
check "skopeo inspect with the stored login" skopeo inspect --tls-verify=false "docker://$HOSTPORT/team/img:v1"
skopeo logout "$HOSTPORT" >/dev/null 2>&1
if skopeo inspect --tls-verify=false "docker://$HOSTPORT/team/img:v1" >"$WORK/sk.out" 2>&1; then
    fail "skopeo inspect without a login is refused"
else
    check "skopeo inspect without a login is refused, saying anonymous pull is off" grep -q "anonymous pull is disabled" "$WORK/sk.out"
fi
if podman --version >/dev/null 2>&1 && podman --storage-driver vfs --root "$WORK/pr" --runroot "/tmp/bp.$$" info >/dev/null 2>&1; then
    P=(podman --storage-driver vfs --root "$WORK/pr" --runroot "/tmp/bp.$$")
    check "podman login" "${P[@]}" login --tls-verify=false -u owner -p "$PW" "$HOSTPORT"
    check "podman pull with the login" "${P[@]}" pull -q --tls-verify=false "$HOSTPORT/team/img:v1"
    check "podman push with the login" "${P[@]}" push -q --tls-verify=false "$HOSTPORT/team/img:v1" "$HOSTPORT/team/img2:v1"
    "${P[@]}" logout "$HOSTPORT" >/dev/null 2>&1
    rm -rf "/tmp/bp.$$"
else
    skip "podman cannot run here"
fi
finish
