#!/usr/bin/env bash
# Network access per registry, from several source addresses (the loopback
# aliases 127.0.0.2, 127.0.0.3, 127.0.1.5 need no set-up on Linux): public
# access off refuses /v2 and /oauth2 before any credential is checked; a
# default Deny with an allow rule for one address and one CIDR lets those in
# and refuses another source by name; a rule added or removed through the
# management API applies on the next request; invalid rules are refused with
# the reason; 0.0.0.0/0 and ::/0 are accepted with a warning; X-Forwarded-For is believed only from a trusted proxy; the
# management networks; IPv6 on [::1] when the machine has it.
. "$(dirname "$0")/lib.sh"
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password")
OWN=(-u "owner:$PW")
LS=default.localhost

reason() { jq -r '.errors[0].detail.reason // empty' "$BODY" 2>/dev/null; }
message() { jq -r '.errors[0].message // empty' "$BODY" 2>/dev/null; }
expect_refusal() { # expect_refusal REASON MESSAGE DESC
    local r m
    r=$(reason)
    m=$(message)
    if [ "$STATUS" = 403 ] && [ "$(err_code)" = DENIED ] && [ "$r" = "$1" ] && [ "$m" = "$2" ]; then
        ok "$3"
    else
        fail "$3" "expected 403 DENIED $1: $2" "got $STATUS $(err_code) ${r:-<no reason>}: $m"
    fi
}
api() { # api METHOD PATH [JSON]
    local m=$1 p=$2
    if [ $# -ge 3 ]; then
        req "$m" "$p" "${OWN[@]}" -H 'Content-Type: application/json' --data-binary "$3"
    else
        req "$m" "$p" "${OWN[@]}"
    fi
}
rules_now() { jq -c '[.ipRules[].value]' "$BODY" 2>/dev/null; }

if [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' --interface 127.0.0.2 "$URL/v2/")" = 000 ]; then
    skip "cannot send from 127.0.0.2 (no loopback aliases here)"
    finish
fi

# ---- the registry object shows the defaults
api GET /api/v1/registries/default
expect_status 200 "the owner reads the registry"
expect_eq "publicNetworkAccess is Enabled by default" Enabled "$(jq -r .publicNetworkAccess "$BODY")"
expect_eq "networkRuleSet is Allow with no rules by default" '{"defaultAction":"Allow","ipRules":[]}' \
    "$(jq -c .networkRuleSet "$BODY")"

# ---- public access off: refused on /v2 and /oauth2, before the (wrong) password is looked at
api PATCH /api/v1/registries/default '{"publicNetworkAccess":"Disabled"}'
expect_status 200 "the owner turns public network access off"
expect_eq "the answer shows it" Disabled "$(jq -r .publicNetworkAccess "$BODY")"
req GET /v2/ -u "owner:wrong-password"
expect_refusal NETWORK_PUBLIC_DISABLED "public network access is disabled for registry 'default'" \
    "GET /v2/ is refused with the cause and the registry"
req GET "/oauth2/token?service=$LS&scope=repository:a/b:pull" -u "owner:wrong-password"
expect_refusal NETWORK_PUBLIC_DISABLED "public network access is disabled for registry 'default'" \
    "GET /oauth2/token is refused the same way"
req POST /oauth2/token --data-urlencode grant_type=password --data-urlencode "service=$LS" \
    --data-urlencode username=owner --data-urlencode password=wrong-password
expect_refusal NETWORK_PUBLIC_DISABLED "public network access is disabled for registry 'default'" \
    "POST /oauth2/token is refused the same way"
req POST /oauth2/exchange --data-urlencode grant_type=access_token --data-urlencode "service=$LS" \
    --data-urlencode access_token=x
expect_refusal NETWORK_PUBLIC_DISABLED "public network access is disabled for registry 'default'" \
    "POST /oauth2/exchange is refused the same way"
req GET /v2/ "${OWN[@]}"
expect_status 403 "a right password is refused too"
check "no credential was checked: the log has no BAD_SECRET" bash -c "! grep -q 'reason=BAD_SECRET' '$SRV_LOG'"
check "the access log carries reason=NETWORK_PUBLIC_DISABLED" grep -q 'reason=NETWORK_PUBLIC_DISABLED' "$SRV_LOG"
api GET /api/v1/registries/default
expect_status 200 "the management API is not subject to the registry's network rules"
api PATCH /api/v1/registries/default '{"publicNetworkAccess":"Enabled"}'
req GET /v2/ "${OWN[@]}"
expect_status 200 "public access back on applies on the next request"

# ---- default Deny, one address and one CIDR allowed
api PATCH /api/v1/registries/default \
    '{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"127.0.0.2"},{"value":"127.0.1.0/24"}]}}'
expect_status 200 "the owner sets default Deny with two allow rules"
expect_eq "the answer shows them" '{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"127.0.0.2"},{"action":"Allow","value":"127.0.1.0/24"}]}' \
    "$(jq -c .networkRuleSet "$BODY")"
req GET /v2/ "${OWN[@]}" --interface 127.0.0.2
expect_status 200 "127.0.0.2 (an address rule) gets in"
req GET /v2/ "${OWN[@]}" --interface 127.0.1.5
expect_status 200 "127.0.1.5 (inside the CIDR rule) gets in"
req GET /v2/ "${OWN[@]}" --interface 127.0.0.3
expect_refusal NETWORK_IP_DENIED "client IP 127.0.0.3 is not allowed by the network rules of registry 'default' (default action Deny, no rule matches)" \
    "127.0.0.3 is refused, named in the message"
req GET "/oauth2/token?service=$LS&scope=repository:a/b:pull" -u "owner:wrong-password" --interface 127.0.0.3
expect_refusal NETWORK_IP_DENIED "client IP 127.0.0.3 is not allowed by the network rules of registry 'default' (default action Deny, no rule matches)" \
    "the token endpoint refuses 127.0.0.3 too"
check "still no credential checked for refused sources" bash -c "! grep -q 'reason=BAD_SECRET' '$SRV_LOG'"
req GET "/oauth2/token?service=$LS&scope=repository:a/b:pull" "${OWN[@]}" --interface 127.0.0.2
expect_status 200 "the token endpoint serves 127.0.0.2"
req GET /v2/ -u "owner:wrong-password" --interface 127.0.0.2
expect_status 401 "an allowed source with a wrong password gets 401 (credentials checked after the network)"
check "and that one is logged as BAD_SECRET" grep -q 'reason=BAD_SECRET' "$SRV_LOG"
api POST /api/v1/registries '{"name":"othernet"}'
expect_status 201 "a second registry"
req GET /v2/ -H "Host: othernet.localhost:$PORT" --interface 127.0.0.3
expect_status 401 "another registry's rules are its own: 127.0.0.3 reaches it (401, not 403)"

# ---- a rule change through the API applies on the next request
api GET /api/v1/registries/default/networkRuleSet
expect_status 200 "GET networkRuleSet"
expect_eq "it lists the rules in order" '["127.0.0.2","127.0.1.0/24"]' "$(rules_now)"
api POST /api/v1/registries/default/networkRuleSet/ipRules '{"value":"127.0.0.3/32"}'
expect_status 200 "the owner adds 127.0.0.3/32"
expect_eq "it is stored in canonical form" '["127.0.0.2","127.0.1.0/24","127.0.0.3"]' "$(rules_now)"
api POST /api/v1/registries/default/networkRuleSet/ipRules '{"value":"127.0.0.3"}'
expect_eq "adding it again changes nothing" '["127.0.0.2","127.0.1.0/24","127.0.0.3"]' "$(rules_now)"
req GET /v2/ "${OWN[@]}" --interface 127.0.0.3
expect_status 200 "127.0.0.3 gets in on the next request"
api DELETE "/api/v1/registries/default/networkRuleSet/ipRules?value=127.0.0.3"
expect_status 200 "the owner removes it"
expect_eq "the rule is gone" '["127.0.0.2","127.0.1.0/24"]' "$(rules_now)"
req GET /v2/ "${OWN[@]}" --interface 127.0.0.3
expect_status 403 "127.0.0.3 is refused again on the next request"
api DELETE "/api/v1/registries/default/networkRuleSet/ipRules?value=127.0.0.9"
expect_error 404 NOT_FOUND "removing a rule that is not there is 404"

# ---- invalid rules are refused with the reason, and change nothing
api PATCH /api/v1/registries/default '{"networkRuleSet":{"ipRules":[{"value":"10.0.0.0/8"},{"value":"10.0.0.0/33"}]}}'
expect_error 400 INVALID_REQUEST "a prefix of 33 is refused"
expect_eq "naming the rule and why" "networkRuleSet.ipRules[1] '10.0.0.0/33': prefix length 33 is more than 32" "$(message)"
api POST /api/v1/registries/default/networkRuleSet/ipRules '{"value":"10.1.2.3/8"}'
expect_error 400 INVALID_REQUEST "host bits set are refused"
expect_eq "with the network it would have been" "ip rule '10.1.2.3/8': '10.1.2.3/8' has host bits set (the network is 10.0.0.0/8)" "$(message)"
api POST /api/v1/registries/default/networkRuleSet/ipRules '{"value":"not-an-ip"}'
expect_error 400 INVALID_REQUEST "a name that is no address is refused"
api PATCH /api/v1/registries/default '{"networkRuleSet":{"defaultAction":"Maybe"}}'
expect_error 400 INVALID_REQUEST "an unknown default action is refused"
api PATCH /api/v1/registries/default '{"publicNetworkAccess":"Sometimes"}'
expect_error 400 INVALID_REQUEST "an unknown publicNetworkAccess is refused"
many=$(python3 -c 'import json; print(json.dumps({"networkRuleSet":{"ipRules":[{"value":"10.%d.%d.0/24" % (i // 256, i % 256)} for i in range(201)]}}))')
api PATCH /api/v1/registries/default "$many"
expect_error 400 INVALID_REQUEST "201 rules are refused"
expect_eq "saying the limit" "networkRuleSet.ipRules has 201 rules; at most 200 are allowed" "$(message)"
api GET /api/v1/registries/default/networkRuleSet
expect_eq "the refused changes changed nothing" '{"defaultAction":"Deny","ipRules":["127.0.0.2","127.0.1.0/24"]}' \
    "$(jq -c '.ipRules = [.ipRules[].value]' "$BODY")"

# ---- a rule that matches every client is valid, and the answer says what it does
api GET /api/v1/registries/default/networkRuleSet
check "a rule set without such a rule carries no warning" jq -e 'has("warnings") | not' "$BODY"
api POST /api/v1/registries/default/networkRuleSet/ipRules '{"value":"0.0.0.0/0"}'
expect_status 200 "0.0.0.0/0 is accepted"
expect_eq "with a warning in the answer" \
    '["ip rule '"'"'0.0.0.0/0'"'"' matches every IPv4 client: the network rules let everyone in over IPv4, whatever defaultAction says"]' \
    "$(jq -c .warnings "$BODY")"
expect_header_re Warning '^299 - "ip rule .0\.0\.0\.0/0. matches every IPv4 client' "and in a Warning header (299)"
req GET /v2/ --interface 127.0.0.3
expect_status 401 "it lets a source no other rule names reach the login challenge"
api PATCH /api/v1/registries/default \
    '{"networkRuleSet":{"ipRules":[{"value":"127.0.0.2"},{"value":"127.0.1.0/24"},{"value":"::/0"}]}}'
expect_status 200 "::/0 in a PATCH is accepted"
check "the registry's answer warns about ::/0 only" \
    jq -e '.warnings == ["ip rule '"'"'::/0'"'"' matches every IPv6 client: the network rules let everyone in over IPv6, whatever defaultAction says"]' "$BODY"
api DELETE "/api/v1/registries/default/networkRuleSet/ipRules?value=::/0"
expect_eq "removing it leaves the rules as they were, without a warning" '["127.0.0.2","127.0.1.0/24"] null' \
    "$(rules_now) $(jq -c .warnings "$BODY")"

# ---- X-Forwarded-For: ignored from an untrusted peer
req GET /v2/ "${OWN[@]}" -H 'X-Forwarded-For: 127.0.0.2'
expect_refusal NETWORK_IP_DENIED "client IP 127.0.0.1 is not allowed by the network rules of registry 'default' (default action Deny, no rule matches)" \
    "X-Forwarded-For from an untrusted peer is ignored"

# ---- a bad trusted-proxies setting stops start-up with the reason
out=$(timeout 20 "$BERTH_BIN" serve --listen 127.0.0.1:0 --data "$WORK/bad" --trusted-proxies 10.0.0.0/33 2>&1)
expect_match "serve refuses trusted-proxies 10.0.0.0/33 with the reason" \
    "config 'trusted-proxies': prefix length 33 is more than 32" "$out"

# ---- restart behind a trusted proxy (127.0.0.1), management API limited to 127.0.0.1 and 127.0.0.2
berth_stop
BERTH_AUTH=1 berth_start --trusted-proxies 127.0.0.1 --management-networks 127.0.0.1,127.0.0.2 \
    --management-networks-only true
LS=default.localhost
req GET /v2/ "${OWN[@]}" -H 'X-Forwarded-For: 127.0.0.2'
expect_status 200 "the rules survive a restart, and the trusted proxy's X-Forwarded-For 127.0.0.2 is believed"
req GET /v2/ "${OWN[@]}" -H 'X-Forwarded-For: 127.0.0.3'
expect_refusal NETWORK_IP_DENIED "client IP 127.0.0.3 is not allowed by the network rules of registry 'default' (default action Deny, no rule matches)" \
    "the trusted proxy's X-Forwarded-For 127.0.0.3 is refused by name"
req GET /v2/ "${OWN[@]}" -H 'X-Forwarded-For: 127.0.0.2, 127.0.0.3'
expect_status 403 "the right-most address that is not a proxy counts (127.0.0.3)"
req GET /v2/ "${OWN[@]}" -H 'X-Forwarded-For: 127.0.0.3, 127.0.0.2'
expect_status 200 "a forged left-most entry does not count (127.0.0.2 is right-most)"
req GET /v2/ "${OWN[@]}" -H 'X-Forwarded-For: 127.0.0.2' --interface 127.0.0.3
expect_refusal NETWORK_IP_DENIED "client IP 127.0.0.3 is not allowed by the network rules of registry 'default' (default action Deny, no rule matches)" \
    "X-Forwarded-For from a peer that is not a trusted proxy is ignored"
req GET /api/v1/tenant "${OWN[@]}" --interface 127.0.0.2
expect_status 200 "the management API answers a management network (127.0.0.2)"
req GET /api/v1/tenant "${OWN[@]}" --interface 127.0.0.3
expect_error 403 DENIED "with management-networks-only, 127.0.0.3 is refused on /api/v1"
expect_eq "naming the IP and the setting" \
    "client IP 127.0.0.3 is not in the management networks of this server (setting management-networks)" "$(message)"
req GET /api/v1/tenant "${OWN[@]}" -H 'X-Forwarded-For: 203.0.113.9'
expect_eq "a client behind the trusted proxy is refused by its own IP" \
    "client IP 203.0.113.9 is not in the management networks of this server (setting management-networks)" "$(message)"

# ---- IPv6: a second server on [::1]
P6=$(free_port)
D6=$WORK/data6
# (another data folder is another deployment: its own SQLite, whatever store the first server uses)
BERTH_META= "$BERTH_BIN" serve --listen "[::1]:$P6" --data "$D6" >>"$WORK/server6.log" 2>&1 &
PID6=$!
SERVER_PIDS+=("$PID6")
U6="http://[::1]:$P6"
up=0
for _ in $(seq 100); do
    kill -0 "$PID6" 2>/dev/null || break
    if [ "$(curl -g -s -o /dev/null -m 2 -w '%{http_code}' "$U6/v2/")" != 000 ]; then
        up=1
        break
    fi
    sleep 0.1
done
if [ "$up" = 0 ]; then
    skip "IPv6: berth cannot listen on [::1] here ($(tail -n 1 "$WORK/server6.log" 2>/dev/null))"
else
    PW6=$(cat "$D6/initial-owner-password")
    req PATCH "$U6/api/v1/registries/default" -g -u "owner:$PW6" -H 'Content-Type: application/json' \
        --data-binary '{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"value":"::1"}]}}'
    expect_status 200 "IPv6: default Deny with an allow rule for ::1"
    req GET "$U6/v2/" -g -u "owner:$PW6"
    expect_status 200 "IPv6: ::1 gets in"
    req PATCH "$U6/api/v1/registries/default" -g -u "owner:$PW6" -H 'Content-Type: application/json' \
        --data-binary '{"networkRuleSet":{"ipRules":[{"value":"2001:db8::/32"}]}}'
    expect_status 200 "IPv6: the rule becomes 2001:db8::/32"
    req GET "$U6/v2/" -g -u "owner:$PW6"
    expect_refusal NETWORK_IP_DENIED "client IP ::1 is not allowed by the network rules of registry 'default' (default action Deny, no rule matches)" \
        "IPv6: ::1 is refused by name"
    req PATCH "$U6/api/v1/registries/default" -g -u "owner:$PW6" -H 'Content-Type: application/json' \
        --data-binary '{"networkRuleSet":{"ipRules":[{"value":"2001:db8::1/32"}]}}'
    expect_error 400 INVALID_REQUEST "IPv6: host bits set are refused"
    expect_eq "IPv6: with the reason" \
        "networkRuleSet.ipRules[0] '2001:db8::1/32': '2001:db8::1/32' has host bits set (the network is 2001:db8::/32)" \
        "$(message)"
fi
# ---- concurrent rule changes never undo each other (another registry, so the rules above stay as they are)
api POST /api/v1/registries '{"name":"racereg"}'
expect_status 201 "a registry for the concurrent rule changes"
# add_rule_bg N / remove_rule_bg N: 192.0.2.N added to or removed from racereg in the background (pid in pids)
add_rule_bg() {
    curl -s -o /dev/null -u "owner:$PW" -H 'Content-Type: application/json' -X POST \
        -d "{\"value\":\"192.0.2.$1\"}" "$URL/api/v1/registries/racereg/networkRuleSet/ipRules" &
    pids+=($!)
}
remove_rule_bg() {
    curl -s -o /dev/null -u "owner:$PW" -X DELETE "$URL/api/v1/registries/racereg/networkRuleSet/ipRules?value=192.0.2.$1" &
    pids+=($!)
}
pids=()
for i in $(seq 20); do add_rule_bg "$i"; done
wait "${pids[@]}"
api GET /api/v1/registries/racereg/networkRuleSet
expect_eq "20 concurrent adds of different rules: all 20 are kept" 20 "$(jq '.ipRules | length' "$BODY")"
pids=()
for i in $(seq 10); do remove_rule_bg "$i"; done
for i in $(seq 21 30); do add_rule_bg "$i"; done
wait "${pids[@]}"
api GET /api/v1/registries/racereg/networkRuleSet
expect_eq "10 removes and 10 adds at once: exactly 11..30 remain" "$(seq 11 30 | sed 's/^/192.0.2./' | sort | tr '\n' ' ')" \
    "$(jq -r '.ipRules[].value' "$BODY" | sort | tr '\n' ' ')"
finish
